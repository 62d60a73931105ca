"""Every registry entry is documented, in the manner of Datasette's test_docs: the test
reads docs/extension-points.md as a reader would (its headings and setting rows) and
asks for every field type, trigger, action, recipient, gate requirement and approver
kind, and every one of their settings, with its en/zh label and help there.

test_meta_schemas.py holds the page equal to what `formloom schemas` renders; this
test holds the rendering to covering everything, so an entry that the renderer
skipped (a new kind of registry, a setting kept elsewhere) is caught by name."""
from __future__ import annotations

import re

import pytest

from formloom.definitions.model import LANGUAGES
from formloom.extension_docs import DOCS_PATH
from formloom.fields.settings import COMMON_SETTINGS
from formloom.meta_schemas import registries

PAGE = DOCS_PATH.read_text(encoding="utf-8")
SECTIONS = {"field type": "Field types", "trigger": "Triggers", "action": "Actions", "recipient": "Recipients",
            "gate requirement": "Gate requirements", "approver": "Approvers"}


def section(title: str) -> str:
    match = re.search(rf"^## {re.escape(title)}\n(.*?)(?=^## |\Z)", PAGE, re.S | re.M)
    assert match, f"docs/extension-points.md has no section {title!r}"
    return match.group(1)


def entry_block(text: str, syntax: str) -> str:
    match = re.search(rf"^### `{re.escape(syntax)}` — (.*?)(?=^### |\Z)", text, re.S | re.M)
    assert match, f"no heading for `{syntax}`"
    return match.group(0)


def settings_of(entry) -> tuple:
    return tuple(entry.all_settings() if hasattr(entry, "all_settings") else getattr(entry, "settings", ()))


ENTRIES = [(kind, entry) for kind, entries in registries().items() for entry in entries]


def test_every_registry_has_a_section():
    assert set(registries()) == set(SECTIONS)


@pytest.mark.parametrize(("kind", "entry"), ENTRIES, ids=[f"{k}:{e.name}" for k, e in ENTRIES])
def test_every_entry_and_setting_is_documented_with_labels_and_help(kind, entry):
    block = entry_block(section(SECTIONS[kind]), getattr(entry, "syntax", entry.name))
    heading = block.splitlines()[0]
    for lang in LANGUAGES:
        assert entry.label.get(lang) and entry.label[lang] in heading, f"{lang} label of {entry.name!r}"
        assert entry.help.get(lang) and entry.help[lang] in block, f"{lang} help of {entry.name!r}"
    common = {s.name for s in COMMON_SETTINGS}
    for setting in settings_of(entry):
        if kind == "field type" and setting.name in common:
            continue        # documented once, under the common keys
        row = next((line for line in block.splitlines() if line.startswith(f"| `{setting.name}` |")), None)
        assert row, f"setting {setting.name!r} of {kind} {entry.name!r} is not in the docs"
        for lang in LANGUAGES:
            assert setting.label.get(lang) and setting.label[lang] in row, f"{lang} label of {setting.name!r}"
            assert setting.help.get(lang), f"{lang} help of setting {setting.name!r} of {entry.name!r}"
        assert setting.help["en"].replace("|", "\\|").replace("\n", " ") in row


def test_common_field_keys_are_documented():
    common = section("Field types").split("### ")[0]
    for setting in COMMON_SETTINGS:
        assert f"| `{setting.name}` | {setting.label['en']} / {setting.label['zh']} |" in common


def _keys(schema: dict) -> set[str]:
    """The object keys a gate kind's value takes (of each item, for a list of objects)."""
    if schema.get("type") == "array":
        schema = schema.get("items", {})
    return set(schema.get("properties", {})) if schema.get("type") == "object" else set()


@pytest.mark.parametrize("entry", registries()["gate requirement"], ids=lambda e: e.name)
def test_gate_requirement_settings_are_the_schemas_keys(entry):
    """A gate kind's labelled settings name exactly the keys its schema takes, so the docs
    and a designer's form cannot leave one out or invent one."""
    assert {s.name for s in entry.settings} == _keys(entry.schema)
