"""A field type added by touching only its own module works end to end.

The `color` type below is the whole extension: its class, settings, check,
form field and schema. Registering it makes the meta-schema accept documents
using it (and refuse its own bad settings and defaults), and an app using it
installs and stores records checked by its `clean`. docs/extending.md shows
this code."""
import re

import pytest

from formloom.definitions.problems import DocumentError
from formloom.errors import RecordInvalid
from formloom.fields import CleanContext, FieldType, Setting, register, unregister
from formloom.fields.formfields import string_field
from formloom.store.apps import AppCatalog
from formloom.store.install import install_documents
from formloom.store.records import create_record

from ..conftest import helpdesk_app

HEX = re.compile(r"#[0-9a-f]{6}")


class ColorType(FieldType):
    name = "color"
    label = {"en": "Colour", "zh": "颜色"}
    help = {"en": "A colour written #rrggbb.", "zh": "写作 #rrggbb 的颜色。"}
    settings = (
        Setting("default", True, {"en": "Default value", "zh": "默认值"},
                {"en": "The colour a new record starts with.", "zh": "新记录的初始颜色。"}),
        Setting("palette", {"type": "array", "items": {"type": "string", "pattern": "^#[0-9a-f]{6}$"}},
                {"en": "Palette", "zh": "调色板"}, {"en": "The only colours allowed.", "zh": "仅允许的颜色。"}),
    )
    phrases = {"invalid_color": "is {value}, which is not a colour written #rrggbb"}

    def clean(self, f, raw, ctx: CleanContext):
        if not isinstance(raw, str) or not HEX.fullmatch(raw.lower()):
            self.fail(ctx, "invalid_color", "Enter a colour such as #1a2b3c.")
        palette = f.extra.get("palette")
        if palette and raw.lower() not in palette:
            self.fail(ctx, "not_in_palette", "Choose one of %(colours)s.", colours=", ".join(palette))
        return raw.lower()

    def json_schema(self, f):
        return {"type": "string", "pattern": "^#[0-9a-fA-F]{6}$"}

    def form_field(self, f, lang):
        return string_field(self, f, lang, "color")


@pytest.fixture
def color_type():
    register(ColorType)
    yield
    unregister("color")


def app_with_color(**field):
    doc = helpdesk_app()
    client = next(e for e in doc["entities"] if e["key"] == "client")
    client["fields"].append({"key": "brand", "type": "color", "label": "Brand colour", **field})
    return doc


def test_an_app_using_the_new_type_installs_and_stores_checked_values(db, color_type):
    install_documents(db, app_with_color(default="#00ff00"), {})
    app, version_id = AppCatalog(db).get("helpdesk")
    with db.write() as conn:
        record = create_record(conn, app, app.entity("client"), {"name": "Acme", "brand": "#FF0000"},
                               actor_id=None, version_id=version_id)
        assert record.data["brand"] == "#ff0000"
        with pytest.raises(RecordInvalid) as refused:
            create_record(conn, app, app.entity("client"), {"name": "Beta", "brand": "red"},
                          actor_id=None, version_id=version_id)
    assert [p.code for p in refused.value.problems] == ["invalid_color"]


def test_its_settings_and_default_are_checked_like_any_type(db, color_type):
    with pytest.raises(DocumentError) as bad_default:
        install_documents(db, app_with_color(default="red"), {})
    assert any("is 'red', which is not a colour written #rrggbb" in p.message for p in bad_default.value.problems)
    with pytest.raises(DocumentError) as bad_setting:
        install_documents(db, app_with_color(shade="dark"), {})
    assert any("'shade'" in p.message for p in bad_setting.value.problems)
    with pytest.raises(DocumentError) as off_palette:
        install_documents(db, app_with_color(palette=["#000000"], default="#ffffff"), {})
    assert [p.message for p in off_palette.value.problems] == [
        "The default of field 'brand' is '#ffffff', which the field refuses: Choose one of #000000."]


def test_without_registration_the_type_is_unknown(db):
    with pytest.raises(DocumentError) as unknown:
        install_documents(db, app_with_color(), {})
    assert any("not a known field type" in p.message for p in unknown.value.problems)
