"""One translation catalogue: every msgid the engine uses is found by Babel's extraction
and has a Chinese translation in translations/zh/LC_MESSAGES/messages.po, which the web
layer (Flask-Babel) and `i18n.translate` (CLI, worker, cleaning) both read compiled."""
import re
from pathlib import Path

import pytest
from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_dir, extract_python
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.mofile import read_mo
from babel.messages.pofile import read_po

import formloom
from formloom.i18n import N_, normalize_language, translate

PACKAGE = Path(formloom.__file__).parent
TRANSLATIONS = PACKAGE / "translations"
ZH_PO = TRANSLATIONS / "zh" / "LC_MESSAGES" / "messages.po"
ZH_MO = ZH_PO.with_suffix(".mo")
#: the engine's helpers that take a msgid, and where (0-based positional arguments, the first
#: that is a string literal wins): translate(lang, MSGID), FieldType.fail(ctx, code, MSGID),
#: a transfer row's fail(MSGID), _error(ctx, code, suffix, MSGID), _refuse(MSGID), and the design
#: layer's refusals, whose message the web layer translates (`_(refused.message)`)
HELPERS = {"translate": (1,), "fail": (2, 0), "_error": (3,), "_refuse": (0,),
           "DraftConflict": (0,), "PublishRefused": (0,), "GalleryError": (0,)}
KEYWORDS = {**DEFAULT_KEYWORDS, "lazy_gettext": None, "_l": None, "lazy_ngettext": (1, 2)}
PLACEHOLDER = re.compile(r"%\((\w+)\)s")


def extract_engine_python(fileobj, keywords, comment_tags, options):
    """Babel's Python extractor, taught where the engine's own helpers take their msgid."""
    for lineno, funcname, messages, comments in extract_python(fileobj, [*keywords, *HELPERS], comment_tags, options):
        if funcname not in HELPERS:
            yield lineno, funcname, messages, comments
            continue
        args = messages if isinstance(messages, tuple) else (messages,)
        msgid = next((args[i] for i in HELPERS[funcname] if i < len(args) and isinstance(args[i], str)), None)
        if msgid:
            yield lineno, "_", msgid, comments


def used_msgids() -> dict[str, str]:
    """msgid -> where it is first used, for every message in platform/formloom (babel.cfg's mapping;
    a plural message is known by its singular, as in the .po)."""
    with open(TRANSLATIONS / "babel.cfg", encoding="utf-8") as cfg:
        method_map, options_map = parse_mapping_cfg(cfg)
    method_map = [(pattern, extract_engine_python if method == "python" else method) for pattern, method in method_map]
    found: dict[str, str] = {}
    for filename, lineno, message, _comments, _context in extract_from_dir(
            PACKAGE, method_map, options_map, keywords=KEYWORDS):
        msgid = message[0] if isinstance(message, tuple) else message
        if msgid:
            found.setdefault(msgid, f"{filename}:{lineno}")
    return found


def zh_catalogue():
    with open(ZH_PO, "rb") as po:
        return read_po(po)


def translated(message) -> bool:
    strings = message.string if isinstance(message.string, tuple) else (message.string,)
    return not message.fuzzy and all(strings)


def test_extraction_finds_the_engines_messages():
    used = used_msgids()
    assert {"This field is required.",                      # FieldType.fail
            "Enter a list of user ids.",                    # N_ on a class attribute
            "Enter yes or no.",                             # N_ in a table of hints
            "Row %(row)s: %(message)s",                     # translate(lang, ...)
            "The file is empty.",                           # a transfer helper
            "The zip file holds too much.",                 # a design refusal
            "Saved views"} <= set(used)                     # a template


def test_every_msgid_used_has_a_chinese_translation():
    catalogue = zh_catalogue()
    missing = {}
    for msgid, where in used_msgids().items():
        message = catalogue.get(msgid)
        if message is None or not translated(message):
            missing[msgid] = where
    assert not missing, (
        f"{len(missing)} msgids have no zh translation (fuzzy counts as missing); append them to "
        f"{ZH_PO.relative_to(PACKAGE.parent)} and run pybabel compile:\n"
        + "\n".join(f"  {msgid!r}  ({where})" for msgid, where in sorted(missing.items())))


def test_translations_keep_the_placeholders():
    wrong = [m.id for m in zh_catalogue() if m.id and isinstance(m.id, str) and m.string
             and set(PLACEHOLDER.findall(m.id)) != set(PLACEHOLDER.findall(m.string))]
    assert wrong == []


def test_the_compiled_catalogue_is_the_po_file():
    """The .mo is committed: after changing the .po, `pybabel compile -d platform/formloom/translations`."""
    with open(ZH_MO, "rb") as mo:
        compiled = {_key(m.id): _key(m.string) for m in read_mo(mo) if m.id}
    source = {_key(m.id): _key(m.string) for m in zh_catalogue() if m.id and translated(m)}
    assert {k: v for k, v in source.items() if compiled.get(k) != v} == {}


def _key(value):
    return tuple(value) if isinstance(value, (list, tuple)) else value


def test_translate_reads_the_catalogue_and_fills_placeholders_after_lookup():
    assert translate("zh", "Choose at least %(min)s options.", min=2) == "请至少选择 2 项。"
    assert translate("en", "Choose at least %(min)s options.", min=2) == "Choose at least 2 options."
    assert translate("zh", "Saved views") == "已保存的视图"          # a web string, same catalogue


def test_unknown_language_or_message_falls_back_to_english():
    assert translate("fr", "This field is required.") == "This field is required."
    assert translate("zh", "Something new %(x)s", x=1) == "Something new 1"
    assert translate(None, "Yes") == "Yes"


def test_language_tags_are_normalized():
    assert normalize_language("zh_CN") == normalize_language("zh-Hans") == "zh"
    assert translate("zh-CN", "Yes") == "是"


def test_marking_a_msgid_for_later_changes_nothing():
    assert N_("Enter a number.") == "Enter a number."


@pytest.mark.parametrize("helper, call, msgid", [
    ("translate", 'translate(lang, "A %(x)s", x=1)', "A %(x)s"),
    ("fail", 'self.fail(ctx, "code", "B", "/0", n=1)', "B"),
    ("fail", 'self.fail("C %(value)s", value=repr(v))', "C %(value)s"),
    ("_error", '_error(ctx, "code", "/0", "D")', "D"),
])
def test_the_engines_helpers_are_extracted(helper, call, msgid, tmp_path):
    source = tmp_path / "m.py"
    source.write_text(call + "\n", encoding="utf-8")
    with open(source, "rb") as fileobj:
        assert [m for _, _, m, _ in extract_engine_python(fileobj, list(KEYWORDS), [], {})] == [msgid]
