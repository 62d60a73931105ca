import pytest

from formloom.fields import CleanContext, field_type
from formloom.fields.text import is_phone, is_web_url, schema_pattern_compatible

HOSTILE = [
    "<script>alert(1)</script>",
    "'; DROP TABLE records; --",
    "{{ 7*7 }} ${7*7} %(x)s",
    "=HYPERLINK(\"http://evil\")",
    "Robert'); DELETE FROM users;--",
    "\u202eevil",
    "emoji 😀 and 中文",
]


@pytest.mark.parametrize("value", HOSTILE)
def test_hostile_text_is_stored_literally(clean, value):
    assert clean("text", value) == value
    assert clean("textarea", value) == value


def test_text_refuses_non_strings(refuse):
    for raw in (5, 1.5, True, ["a"], {"a": 1}):
        assert refuse("text", raw).code == "invalid_type"


def test_text_default_max_length_is_200(clean, refuse):
    assert clean("text", "x" * 200) == "x" * 200
    error = refuse("text", "x" * 201)
    assert error.code == "too_long"
    assert "200" in error.message and "201" in error.message


def test_text_max_length_counts_characters_not_bytes(clean, refuse):
    assert clean("text", "中" * 5, max_length=5) == "中" * 5
    assert refuse("text", "中" * 6, max_length=5).code == "too_long"


def test_textarea_default_max_length_is_10000(clean, refuse):
    assert clean("textarea", "x" * 10_000)
    assert refuse("textarea", "x" * 10_001).code == "too_long"


def test_text_refuses_line_breaks_and_control_characters(refuse, clean):
    assert clean("text", "tab\tok") == "tab\tok"
    for raw in ("a\nb", "a\x00b", "a\rb", "\x7f", "a\ud800"):
        assert refuse("text", raw).code == "invalid_characters"


def test_textarea_keeps_line_breaks_but_refuses_nul(clean, refuse):
    assert clean("textarea", "line 1\r\nline 2\n") == "line 1\r\nline 2\n"
    assert refuse("textarea", "a\x00b").code == "invalid_characters"


def test_text_pattern_must_match_whole_value(clean, refuse):
    assert clean("text", "AB-123", pattern="[A-Z]{2}-[0-9]{3}") == "AB-123"
    for raw in ("AB-1234", "xAB-123", "ab-123"):
        assert refuse("text", raw, pattern="[A-Z]{2}-[0-9]{3}").code == "pattern_mismatch"


def test_text_pattern_runs_on_re2(refuse):
    # a pattern that backtracks catastrophically in `re` is linear in RE2
    assert refuse("text", "a" * 100 + "!", pattern="(a+)+$").code == "pattern_mismatch"


def test_schema_publishes_only_portable_patterns(make_field):
    assert schema_pattern_compatible("[A-Z]{2}-[0-9]{3}")
    assert not schema_pattern_compatible(r"\d+")          # Unicode digits in `re`, ASCII in RE2
    assert not schema_pattern_compatible(r"\p{Han}+")
    text = field_type("text")
    assert text.json_schema(make_field("text", pattern="[a-z]+"))["pattern"] == "^(?:[a-z]+)$"
    assert "pattern" not in text.json_schema(make_field("text", pattern=r"\w+"))


@pytest.mark.parametrize("raw", ["a@example.com", "first.last+tag@sub.example.org", "用户@例子.广告"])
def test_email_accepts_addresses(clean, raw):
    assert "@" in clean("email", raw)


def test_email_is_stored_normalized(clean):
    assert clean("email", "Someone@EXAMPLE.COM") == "Someone@example.com"


@pytest.mark.parametrize("raw", ["plain", "a@", "@b.com", "a@b", "a b@c.com", "a@b..com", "<a@b.com>"])
def test_email_refuses_non_addresses(refuse, raw):
    assert refuse("email", raw).code in ("invalid_email", "invalid_characters")


@pytest.mark.parametrize("raw", ["+86 138 0000 0000", "(010) 1234-5678", "12345", "+1-202-555-0143"])
def test_phone_accepts_numbers(clean, raw):
    assert clean("phone", raw) == raw


@pytest.mark.parametrize("raw", ["1234", "1" * 21, "138-0000-000x", "tel:12345", "１２３４５", "12345\n"])
def test_phone_refuses_bad_numbers(refuse, raw):
    assert refuse("phone", raw).code in ("invalid_phone", "invalid_characters")


def test_phone_digit_count():
    assert is_phone("1 2 3 4 5") and not is_phone("1 2 3 4")


@pytest.mark.parametrize("raw", ["https://example.com", "http://example.com:8080/a?b=c#d",
                                 "HTTPS://Example.COM/path", "http://127.0.0.1/", "http://[::1]:80/",
                                 "https://例子.广告/页面"])
def test_url_accepts_web_addresses(clean, raw):
    assert clean("url", raw) == raw


@pytest.mark.parametrize("raw", ["example.com", "ftp://example.com", "javascript:alert(1)", "http://",
                                 "https://exa mple.com", "http://example.com:99999", "http://-bad-.com",
                                 "http:///path", "https://[not-ip]/"])
def test_url_refuses_others(refuse, raw):
    assert refuse("url", raw).code in ("invalid_url", "invalid_characters")
    assert not is_web_url(raw)


def test_messages_are_translated(make_field):
    error = None
    try:
        field_type("email").clean(make_field("email"), "nope", CleanContext(lang="zh"))
    except ValueError as caught:
        error = caught
    assert error is not None and error.message == "请输入有效的电子邮件地址。"


def test_text_form_field_sets_maxlength(make_field):
    unbound = field_type("text").form_field(make_field("text", max_length=12), "en")
    assert unbound.kwargs["render_kw"]["maxlength"] == 12


def test_text_types_are_text_in_sql():
    for name in ("text", "textarea", "email", "phone", "url"):
        assert field_type(name).sql_kind == "text"
    assert "contains" in field_type("text").operators
