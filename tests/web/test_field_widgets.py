"""Each field type names its own widget template, so a new type brings its widget:
records/_field.html includes `widget_template` and branches on no type name."""
from __future__ import annotations

import copy
import re

import pytest
from jinja2 import ChoiceLoader, DictLoader

from formloom.app import create_app
from formloom.fields import FIELD_TYPES, register, unregister
from formloom.fields.text import TextType
from formloom.store.install import install_documents

from .desk import CASE_FLOW, desk_app


class SwatchType(TextType):
    """A text holding a colour, shown as a colour picker with the swatch's name."""

    name = "swatch"
    label = {"en": "Swatch", "zh": "色块"}
    help = {"en": "A colour shown as a swatch.", "zh": "以色块显示的颜色。"}
    widget_template = "fields/swatch.html"
    validates_live = False


SWATCH_WIDGET = ('<label for="{{ field.id }}">{{ f.label|label }}</label>'
                 '<input type="color" class="swatch" id="{{ field.id }}" name="{{ field.name }}"'
                 ' value="{{ field.data or \'#000000\' }}">')


@pytest.fixture
def app(database_url, tmp_path):
    register(SwatchType)
    flask_app = create_app({"DATABASE_URL": database_url, "SECRET_KEY": "test-secret",
                            "INSTANCE": str(tmp_path / "instance"), "WTF_CSRF_ENABLED": True})
    # the extension's template, where its package would put it
    flask_app.jinja_env.loader = ChoiceLoader([DictLoader({"fields/swatch.html": SWATCH_WIDGET}),
                                               flask_app.jinja_env.loader])
    doc = desk_app()
    case = next(e for e in doc["entities"] if e["key"] == "case")
    case["fields"].append({"key": "shade", "type": "swatch", "label": {"en": "Shade", "zh": "色调"}})
    try:
        install_documents(flask_app.extensions["formloom.db"], doc, {"case_flow": copy.deepcopy(CASE_FLOW)})
        yield flask_app
    finally:
        flask_app.extensions["formloom.db"].dispose()
        unregister("swatch")


def test_a_new_type_brings_its_widget(as_agent):
    page = as_agent.get("/apps/desk/case/new").get_data(as_text=True)
    block = re.search(r'<div class="field field-swatch"[^>]*>(.*?)</div>', page, re.S)
    assert block, "the swatch field is on the form"
    assert 'hx-post' not in page.split('id="field-shade"')[1].split(">")[0]     # validates_live = False
    assert '<input type="color" class="swatch"' in block.group(1) and 'name="shade"' in block.group(1)


def test_every_registered_widget_template_exists(app):
    for ftype in FIELD_TYPES.values():
        app.jinja_env.get_template(ftype.widget_template)
