"""Text-like field types: text, textarea, email, phone, url.

Values are stored exactly as given (no stripping, no escaping: HTML and SQL in a
value are just characters, escaped by templates and bound by the store), except
that email addresses are stored in email_validator's normalized form. Control
characters and lone surrogates are refused: they cannot be typed, and
PostgreSQL's JSONB cannot store NUL.
"""
from __future__ import annotations

import ipaddress
import re
from typing import Any
from urllib.parse import urlsplit

from email_validator import EmailNotValidError, validate_email

from ..definitions.model import FieldDef
from ..i18n import N_
from .base import CleanContext, FieldType, register
from .formfields import string_field, textarea_field
from .settings import DEFAULT, MAX_LENGTH, PATTERN, UNIQUE

#: Characters a one-line value may not contain (tab is allowed), as a JSON Schema pattern too.
SINGLE_LINE_FORBIDDEN = "[\\x00-\\x08\\x0a-\\x1f\\x7f\\ud800-\\udfff]"
#: Characters a multi-line value may not contain (tab, LF and CR are allowed).
MULTI_LINE_FORBIDDEN = "[\\x00-\\x08\\x0b\\x0c\\x0e-\\x1f\\x7f\\ud800-\\udfff]"
_SINGLE_LINE_FORBIDDEN = re.compile(SINGLE_LINE_FORBIDDEN)
_MULTI_LINE_FORBIDDEN = re.compile(MULTI_LINE_FORBIDDEN)

TEXT_MAX_LENGTH = 200
TEXTAREA_MAX_LENGTH = 10_000
EMAIL_MAX_LENGTH = 254
URL_MAX_LENGTH = 2000
PHONE_MAX_LENGTH = 30
PHONE_PATTERN = "^[+\\-() ]*(?:[0-9][+\\-() ]*){5,20}$"
_PHONE = re.compile(r"[0-9+\-() ]+")
URL_PREFIX_PATTERN = "^[Hh][Tt][Tt][Pp][Ss]?://"
_HOST_LABEL = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?")

TEXT_OPERATORS = ("eq", "ne", "in", "contains", "is_empty")


class _StringType(FieldType):
    """Shared checks: a string, no forbidden characters, not longer than max_length."""

    sql_kind = "text"
    operators = TEXT_OPERATORS
    searchable = True
    default_max_length = TEXT_MAX_LENGTH
    forbidden = SINGLE_LINE_FORBIDDEN
    _forbidden = _SINGLE_LINE_FORBIDDEN
    input_type = "text"
    phrases = {
        "invalid_type": "must be text, not {kind}",
        "invalid_characters": "contains control characters (such as line breaks), which the field does not allow",
        "too_long": "is longer than the field's max_length of {max}",
    }

    def max_length(self, f: FieldDef) -> int:
        return f.max_length or self.default_max_length

    def check_string(self, f: FieldDef, raw: Any, ctx: CleanContext) -> str:
        if not isinstance(raw, str):
            self.fail(ctx, "invalid_type", "Enter text.")
        if self._forbidden.search(raw):
            self.fail(ctx, "invalid_characters", self.forbidden_message)
        limit = self.max_length(f)
        if len(raw) > limit:
            self.fail(ctx, "too_long", "Enter at most %(max)s characters (this has %(length)s).",
                      max=limit, length=len(raw))
        return raw

    forbidden_message = N_("Remove the control characters (such as line breaks) from this text.")

    def clean(self, f: FieldDef, raw: Any, ctx: CleanContext) -> Any:
        return self.check_string(f, raw, ctx)

    def json_schema(self, f: FieldDef) -> dict:
        return {"type": "string", "maxLength": self.max_length(f), "not": {"pattern": self.forbidden}}

    def form_field(self, f: FieldDef, lang: str) -> Any:
        return string_field(self, f, lang, self.input_type, maxlength=self.max_length(f))


@register
class TextType(_StringType):
    name = "text"
    order = 10
    label = {"en": "Text", "zh": "单行文本"}
    help = {"en": "One line of text, such as a name.", "zh": "一行文字，例如名称。"}
    settings = (DEFAULT, UNIQUE, MAX_LENGTH.but(default=TEXT_MAX_LENGTH), PATTERN)
    phrases = {"pattern_mismatch": "is {value}, which does not match the field's pattern"}

    def clean(self, f: FieldDef, raw: Any, ctx: CleanContext) -> Any:
        value = self.check_string(f, raw, ctx)
        if f.pattern:
            from ..patterns import compile_pattern
            if compile_pattern(f.pattern).fullmatch(value) is None:
                self.fail(ctx, "pattern_mismatch", "This text does not have the expected format.")
        return value

    def json_schema(self, f: FieldDef) -> dict:
        schema = super().json_schema(f)
        if f.pattern and schema_pattern_compatible(f.pattern):
            # Anchored here; `$` cannot match before a final newline because line breaks are refused.
            schema["pattern"] = f"^(?:{f.pattern})$"
        return schema


def schema_pattern_compatible(pattern: str) -> bool:
    """True when an RE2 pattern means the same in Python's `re` and ECMA-262 (plain ASCII
    syntax without Unicode classes), so it can be published in the JSON Schema. Others are
    checked by the server only."""
    if not pattern.isascii() or re.search(r"\\[pPdDwWsSbBzZAQEC]|\(\?[a-zA-Z]|\[\[:", pattern):
        return False
    try:
        re.compile(pattern)
    except re.error:
        return False
    return True


@register
class TextareaType(_StringType):
    name = "textarea"
    order = 20
    label = {"en": "Long text", "zh": "多行文本"}
    help = {"en": "Several lines of text, such as notes.", "zh": "多行文字，例如备注。"}
    settings = (DEFAULT, MAX_LENGTH.but(schema={"type": "integer", "minimum": 1, "maximum": 1000000},
                                        default=TEXTAREA_MAX_LENGTH))
    default_max_length = TEXTAREA_MAX_LENGTH
    forbidden = MULTI_LINE_FORBIDDEN
    _forbidden = _MULTI_LINE_FORBIDDEN
    forbidden_message = N_("Remove the control characters from this text.")
    operators = ("contains", "is_empty")

    def clean(self, f: FieldDef, raw: Any, ctx: CleanContext) -> Any:
        # Browsers submit line breaks as CRLF; the value is kept as posted.
        return self.check_string(f, raw, ctx)

    def form_field(self, f: FieldDef, lang: str) -> Any:
        return textarea_field(self, f, lang, maxlength=self.max_length(f))


@register
class EmailType(_StringType):
    name = "email"
    order = 110
    label = {"en": "Email", "zh": "电子邮件"}
    help = {"en": "An email address, stored in its normalized form.", "zh": "电子邮件地址，以规范形式保存。"}
    settings = (DEFAULT, UNIQUE, MAX_LENGTH)
    phrases = {"invalid_email": "is {value}, which is not an email address"}
    default_max_length = EMAIL_MAX_LENGTH
    input_type = "email"

    def clean(self, f: FieldDef, raw: Any, ctx: CleanContext) -> Any:
        value = self.check_string(f, raw, ctx)
        normalized = normalized_email(value)
        if normalized is None:
            self.fail(ctx, "invalid_email", "Enter a valid email address.")
        return normalized

    def json_schema(self, f: FieldDef) -> dict:
        return {**super().json_schema(f), "format": "email"}


def normalized_email(value: str) -> str | None:
    """email_validator's normalized address, or None when it is not an address."""
    try:
        return validate_email(value, check_deliverability=False).normalized
    except EmailNotValidError:
        return None


@register
class PhoneType(_StringType):
    name = "phone"
    order = 120
    label = {"en": "Phone", "zh": "电话"}
    help = {"en": "A phone number of 5 to 20 digits.", "zh": "5 到 20 位数字的电话号码。"}
    settings = (DEFAULT, UNIQUE)
    phrases = {"invalid_phone": "is {value}, which is not a phone number (5 to 20 digits, spaces and + - ( ) allowed)"}
    default_max_length = PHONE_MAX_LENGTH
    input_type = "tel"

    def max_length(self, f: FieldDef) -> int:
        return PHONE_MAX_LENGTH

    def clean(self, f: FieldDef, raw: Any, ctx: CleanContext) -> Any:
        value = self.check_string(f, raw, ctx)
        if not is_phone(value):
            self.fail(ctx, "invalid_phone",
                      "Enter a phone number of 5 to 20 digits; only digits, spaces, + - ( ) are allowed.")
        return value

    def json_schema(self, f: FieldDef) -> dict:
        return {**super().json_schema(f), "pattern": PHONE_PATTERN}


def is_phone(value: str) -> bool:
    if not _PHONE.fullmatch(value):
        return False
    digits = sum(ch.isdigit() for ch in value)
    return 5 <= digits <= 20


@register
class UrlType(_StringType):
    name = "url"
    order = 130
    label = {"en": "Web address", "zh": "网址"}
    help = {"en": "An http:// or https:// address.", "zh": "以 http:// 或 https:// 开头的网址。"}
    settings = (DEFAULT, UNIQUE, MAX_LENGTH)
    phrases = {"invalid_url": "is {value}, which is not an http(s) address"}
    default_max_length = URL_MAX_LENGTH
    input_type = "url"

    def clean(self, f: FieldDef, raw: Any, ctx: CleanContext) -> Any:
        value = self.check_string(f, raw, ctx)
        if not is_web_url(value):
            self.fail(ctx, "invalid_url",
                      "Enter a web address starting with http:// or https://, such as https://example.com.")
        return value

    def json_schema(self, f: FieldDef) -> dict:
        return {**super().json_schema(f), "format": "uri", "pattern": URL_PREFIX_PATTERN}


def is_web_url(value: str) -> bool:
    """An http(s) URL with a host name or IP address; no whitespace anywhere."""
    if not re.match(URL_PREFIX_PATTERN, value) or re.search(r"\s", value) or _SINGLE_LINE_FORBIDDEN.search(value):
        return False
    try:
        parts = urlsplit(value)
        parts.port   # noqa: B018 -- raises ValueError for a bad port
    except ValueError:
        return False
    host = parts.hostname
    if not parts.netloc or not host:
        return False
    return _valid_host(host, bracketed=parts.netloc.rsplit("@", 1)[-1].startswith("["))


def _valid_host(host: str, bracketed: bool) -> bool:
    if bracketed:
        try:
            return ipaddress.ip_address(host).version == 6
        except ValueError:
            return False
    try:
        ascii_host = host.encode("idna").decode("ascii")
    except UnicodeError:
        return False
    labels = ascii_host.rstrip(".").split(".")
    return len(ascii_host) <= 253 and all(_HOST_LABEL.fullmatch(label) for label in labels)
