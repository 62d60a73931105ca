"""The meta-schemas are generated from the registries, and every registry entry is documented.

Reviewers read the committed files under definitions/schemas/; these tests hold
them equal to what the registries give (run `formloom schemas` after changing a
field type), and hold every entry to having labels and help in every language."""
import json

import pytest

from formloom import meta_schemas
from formloom.definitions.model import LANGUAGES
from formloom.definitions.schema_check import SCHEMAS_DIR, schema_validator
from formloom.fields import FIELD_TYPES


@pytest.mark.parametrize("name", sorted(meta_schemas.GENERATED))
def test_committed_schema_is_what_the_registries_generate(name):
    committed = (SCHEMAS_DIR / name).read_text(encoding="utf-8")
    assert committed == meta_schemas.render(meta_schemas.GENERATED[name]()), (
        f"{name} is out of date: run `formloom schemas` and commit the result")


def test_field_type_enum_is_the_registry():
    schema = json.loads((SCHEMAS_DIR / "field.schema.json").read_text(encoding="utf-8"))
    assert schema["properties"]["type"]["enum"] == list(FIELD_TYPES)
    assert [rule["if"]["properties"]["type"]["const"] for rule in schema["allOf"]] == list(FIELD_TYPES)
    assert {k[len("type_"):] for k in schema["$defs"] if k.startswith("type_")} == set(FIELD_TYPES)


def test_common_keys_are_written_once():
    source = (SCHEMAS_DIR.parent.parent / "fields" / "settings.py").read_text(encoding="utf-8")
    for key in ("visible_if", "required_if", "hidden_for", "readonly_for", "placeholder"):
        assert source.count(f'"{key}"') == 1


ENTRIES = [(kind, entry) for kind, entries in meta_schemas.registries().items() for entry in entries]


@pytest.mark.parametrize(("kind", "entry"), ENTRIES, ids=[f"{k}:{e.name}" for k, e in ENTRIES])
def test_every_entry_is_labelled_and_helped_in_every_language(kind, entry):
    settings = entry.all_settings() if hasattr(entry, "all_settings") else getattr(entry, "settings", ())
    for lang in LANGUAGES:
        assert entry.label.get(lang), f"{kind} {entry.name!r} has no {lang} label"
        assert entry.help.get(lang), f"{kind} {entry.name!r} has no {lang} help"
        for setting in settings:
            assert setting.label.get(lang), f"setting {setting.name!r} of {kind} {entry.name!r} has no {lang} label"
            assert setting.help.get(lang), f"setting {setting.name!r} of {kind} {entry.name!r} has no {lang} help"


def test_trigger_and_action_enums_are_the_registries():
    from formloom.automation import ACTIONS, TRIGGERS
    defs = json.loads((SCHEMAS_DIR / "workflow.schema.json").read_text(encoding="utf-8"))["$defs"]
    for prefix, registry in (("trigger", TRIGGERS), ("action", ACTIONS)):
        assert defs[prefix]["properties"]["type"]["enum"] == list(registry)
        assert [r["then"]["$ref"] for r in defs[prefix]["allOf"]] == [f"#/$defs/{prefix}_{n}" for n in registry]
        assert {k for k in defs if k.startswith(prefix + "_")} == {f"{prefix}_{n}" for n in registry}


def test_compiled_defaults_come_from_the_settings():
    assert FIELD_TYPES["text"].compiled_defaults() == {"max_length": 200}
    assert FIELD_TYPES["percent"].compiled_defaults() == {"min": 0, "max": 100, "precision": 0}
    assert FIELD_TYPES["money"].compiled_defaults() == {"currency": "CNY", "precision": 2}
    assert FIELD_TYPES["rating"].compiled_defaults() == {"scale": 5}


def test_a_new_setting_is_one_line_in_its_class(monkeypatch):
    from formloom.fields.settings import Setting
    ftype = FIELD_TYPES["user"]
    extra = Setting("team_only", {"type": "boolean"}, {"en": "Team only", "zh": "仅限团队"},
                    {"en": "Only people of the owner's team.", "zh": "仅限负责人所在团队的人。"})
    monkeypatch.setattr(type(ftype), "settings", (*type(ftype).settings, extra))
    generated = meta_schemas.field_schema()["$defs"]["type_user"]["properties"]
    assert generated["team_only"] == {"type": "boolean"}


def test_the_validator_uses_the_generated_schema():
    doc = {"key": "x", "type": "text", "label": "X", "max_length": 0}
    assert not schema_validator("field").is_valid(doc)
    assert schema_validator("field").is_valid({**doc, "max_length": 5})


def test_schemas_command_reports_and_rewrites_stale_files(tmp_path):
    from click.testing import CliRunner
    from formloom.cli import main
    assert CliRunner().invoke(main, ["schemas", "--check"]).exit_code == 0
    everything = [tmp_path / name for name in meta_schemas.GENERATED]
    (tmp_path / "field.schema.json").write_text("{}", encoding="utf-8")
    assert meta_schemas.stale(tmp_path) == everything
    assert meta_schemas.write(tmp_path) == everything
    assert meta_schemas.stale(tmp_path) == []


def test_recipient_pattern_is_the_registry():
    from formloom.automation.recipients import RECIPIENTS, parse
    defs = json.loads((SCHEMAS_DIR / "workflow.schema.json").read_text(encoding="utf-8"))["$defs"]
    written = defs["recipient"]["pattern"][2:-2].split("|")
    assert [w.partition(":")[0] for w in written] == list(RECIPIENTS)
    assert parse("role:lead")[1] == "lead" and parse("owner")[1] is None
    assert parse("owner:x") is None and parse("role") is None and parse("boss") is None and parse(3) is None


def test_docs_page_is_what_the_registries_generate():
    from formloom.extension_docs import DOCS_PATH, render
    assert DOCS_PATH.read_text(encoding="utf-8") == render(), (
        "docs/extension-points.md is out of date: run `formloom schemas` and commit the result")
