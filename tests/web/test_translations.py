"""The Chinese catalogue covers every message of the web interface, and the
compiled .mo file is the one the .po file says."""
from __future__ import annotations

import gettext
from pathlib import Path

from babel.messages.pofile import read_po

import formloom

TRANSLATIONS = Path(formloom.__file__).parent / "translations"


def test_every_message_has_a_chinese_translation():
    with open(TRANSLATIONS / "zh/LC_MESSAGES/messages.po", "rb") as fh:
        catalog = read_po(fh)
    with open(TRANSLATIONS / "messages.pot", "rb") as fh:
        template = read_po(fh)
    assert {m.id for m in template if m.id} <= {m.id for m in catalog if m.id}
    assert [m.id for m in catalog if m.id and not m.string] == []
    assert [m.id for m in catalog if m.id and m.fuzzy] == []


def test_the_compiled_catalogue_matches_the_po_file():
    with open(TRANSLATIONS / "zh/LC_MESSAGES/messages.po", "rb") as fh:
        catalog = read_po(fh)
    with open(TRANSLATIONS / "zh/LC_MESSAGES/messages.mo", "rb") as fh:
        compiled = gettext.GNUTranslations(fh)
    for message in catalog:
        if message.id and message.pluralizable:     # Chinese has one plural form
            assert compiled.ngettext(message.id[0], message.id[1], 2) == message.string[0], message.id
        elif message.id:
            assert compiled.gettext(message.id) == message.string, message.id
