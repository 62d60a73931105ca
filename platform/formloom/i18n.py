"""Translated messages that must work outside a request (cleaning runs in the
API, the CLI and the reminder worker too).

Messages are plain English sentences used as msgids, with `%(name)s`
placeholders; `translate(lang, msgid, **params)` looks the msgid up in the
language's compiled catalogue (falling back to the English msgid) and then
fills in the placeholders. The catalogue is the one Flask-Babel serves
(translations/<lang>/LC_MESSAGES/messages.mo, compiled from messages.po), so a
string is translated in one place whether a request, the CLI or the worker
shows it. This module imports nothing else of ours.
"""
from __future__ import annotations

from functools import lru_cache
from gettext import NullTranslations
from pathlib import Path
from typing import Any

from babel.support import Translations

TRANSLATIONS = Path(__file__).resolve().parent / "translations"


def N_(msgid: str) -> str:
    """Mark a msgid kept for later (a class attribute, a table of hints) so that
    extraction finds it; `translate` translates it where it is shown."""
    return msgid


def normalize_language(lang: str | None) -> str:
    """"zh_CN", "zh-Hans" -> "zh"; None or "" -> "en"."""
    if not lang:
        return "en"
    return lang.replace("-", "_").split("_", 1)[0].lower()


@lru_cache(maxsize=8)      # keyed by the normalized tag; a few languages at most
def catalogue(lang: str | None) -> NullTranslations:
    """The compiled catalogue of `lang`, read once (English, and a language without one, translate nothing)."""
    lang = normalize_language(lang)
    if lang == "en":
        return NullTranslations()
    return Translations.load(str(TRANSLATIONS), locales=[lang])


def translate(lang: str | None, msgid: str, **params: Any) -> str:
    """`msgid` in `lang` (English when there is no translation), with `%(name)s` filled from params."""
    text = catalogue(normalize_language(lang)).gettext(msgid)
    if not params:
        return text
    try:
        return text % params
    except (KeyError, ValueError, TypeError):   # a broken translation must not hide the message
        return msgid % params
