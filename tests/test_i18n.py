import ast
import re
from pathlib import Path

import pytest

import formloom
from formloom.i18n import CATALOGUES, normalize_language, translate

PACKAGE = Path(formloom.__file__).parent
SOURCES = sorted((PACKAGE / "fields").glob("*.py")) + [PACKAGE / "record_data.py"]
#: where each call takes its msgid: fail(ctx, code, MSGID), translate(lang, MSGID), _error(ctx, code, suffix, MSGID)
MSGID_ARGUMENT = {"fail": 2, "translate": 1, "_error": 3}
#: class attributes that hold msgids
MSGID_ATTRIBUTES = {"bad_id", "bad_list", "duplicate", "forbidden_message"}


def used_msgids():
    found = set()
    for path in SOURCES:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Call):
                name = getattr(node.func, "attr", getattr(node.func, "id", None))
                index = MSGID_ARGUMENT.get(name)
                if index is not None and len(node.args) > index and isinstance(node.args[index], ast.Constant):
                    found.add(node.args[index].value)
            elif isinstance(node, ast.Assign) and isinstance(node.value, ast.Constant):
                if any(getattr(t, "id", None) in MSGID_ATTRIBUTES for t in node.targets):
                    found.add(node.value.value)
    return found


def test_scan_finds_the_messages():
    assert {"This field is required.", "Enter a number.", "Enter a list of user ids."} <= used_msgids()


@pytest.mark.parametrize("msgid", sorted(used_msgids()))
def test_every_message_has_a_chinese_translation(msgid):
    assert msgid in CATALOGUES["zh"]


@pytest.mark.parametrize("msgid, text", sorted(CATALOGUES["zh"].items()))
def test_translations_keep_the_placeholders(msgid, text):
    assert set(re.findall(r"%\((\w+)\)s", msgid)) == set(re.findall(r"%\((\w+)\)s", text))


def test_translate_fills_placeholders_after_lookup():
    assert translate("zh", "Choose at least %(min)s options.", min=2) == "请至少选择 2 项。"
    assert translate("en", "Choose at least %(min)s options.", min=2) == "Choose at least 2 options."


def test_unknown_language_or_message_falls_back_to_english():
    assert translate("fr", "This field is required.") == "This field is required."
    assert translate("zh", "Something new %(x)s", x=1) == "Something new 1"
    assert translate(None, "Yes") == "Yes"


def test_language_tags_are_normalized():
    assert normalize_language("zh_CN") == normalize_language("zh-Hans") == "zh"
    assert translate("zh-CN", "Yes") == "是"
