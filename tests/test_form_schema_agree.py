"""The JSON Schema (API) and the WTForms form (browser) accept and refuse the same values.

For every field of a sample entity that uses every writable field type:

1. a JSON value of the field's natural kind is accepted by the record validator
   exactly when the form accepts the same value posted as form text;
2. whatever text is posted, the form accepts it exactly when the schema accepts
   what the form makes of it (`form_to_data`); this is where the browser's one
   deliberate difference lives: a datetime-local input posts a local time
   without an offset, and the form attaches its timezone;
3. any JSON value is accepted by the schema exactly when `clean_record_data`
   (what the API runs) finds no problem with it.

Valid values come from the schema itself (hypothesis-jsonschema), invalid ones
from junk strategies plus a list of known bad inputs.
"""
import json
import math
from functools import lru_cache

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis_jsonschema import from_schema
from werkzeug.datastructures import MultiDict

from formloom.definitions.model import EntityDef, FieldDef, Label, OptionDef
from formloom.fields import CleanContext
from formloom.fields.base import always_required, property_schema
from formloom.fields.dates import is_naive_datetime
from formloom.forms import build_form_class, form_to_data
from formloom.record_data import clean_record_data
from formloom.record_schema import record_validator


def field(key, type_, **kw):
    if "options" in kw:
        kw["options"] = tuple(OptionDef(o, Label.of(o.upper())) for o in kw["options"])
    return FieldDef(key=key, type=type_, label=Label.of(key.title()), **kw)


SAMPLE = (
    field("title", "text", required=True, max_length=12),
    field("code", "text", pattern="[A-Z]{2}-[0-9]{3}"),
    field("notes", "textarea", max_length=40),
    field("email", "email"),
    field("phone", "phone"),
    field("site", "url"),
    field("qty", "number", min=0, max=1000),
    field("price", "number", precision=2, min=-50, max=50),
    field("amount", "money", min=0, max=5000),
    field("share", "percent", precision=1),
    field("close", "date", min="2020-01-01", max="2030-12-31"),
    field("meet", "datetime"),
    field("source", "select", required=True, options=["a", "b", "c"]),
    field("tags", "multiselect", options=["x", "y", "z"], min=1, max=2),
    field("agreed", "checkbox"),
    field("consent", "checkbox", required=True),
    field("stars", "rating"),
    field("customer", "reference", entity="customer"),
    field("watchers", "user", multiple=True),
    field("lines", "subtable", max_rows=3, columns=(
        field("q", "number", required=True, min=1), field("note", "text", max_length=5))),
)
FIELDS = {f.key: f for f in SAMPLE}
KEYS = list(FIELDS)
CTX = CleanContext(lang="en")
SETTINGS = settings(max_examples=60, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])

BAD_STRINGS = ["", " ", "true", "false", "NaN", "Infinity", "1e309", "2024-02-30", "2024-02-29",
               "2026-11-23T09:00:00", "2026-11-23T09:00:00+08:00", "2026-11-23T09:00", "x" * 13, "x" * 300,
               "<script>alert(1)</script>", "'; DROP TABLE records; --", "a\x00b", "a\nb", "not-an-email",
               "a@b.co", "12345", "1234", "+86 (10) 1234-5678", "ftp://example.com", "https://example.com",
               "http://", "AB-123", "AB-1234", "a", "x", "expo", "1.005", "12.50", "-1", "0", "3", "3.0",
               "12, 12", "1, 2", "[]", "[{\"q\": 1}]", "[{\"q\": 0}]", "{}", "y"]
BAD_NUMBERS = [float("nan"), float("inf"), float("-inf"), 1e309, 2**63, -(2**63), 10**15 + 1, 0.07, 0.001,
               0.1 + 0.2, 1e-7, 3.0, 3.5, -0.0, 0, 1, 5, 6, 100, 101, 1000, 1001, 5000, 5000.01, 12.345]
JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20) | st.sampled_from(BAD_STRINGS)
    | st.sampled_from(BAD_NUMBERS),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.sampled_from(["q", "note", "x"]) | st.text(max_size=4),
                                                               inner, max_size=3),
    max_leaves=8)


@lru_cache(maxsize=None)
def one_field_entity(key):
    return EntityDef("sample", Label.of("Sample"), key, (FIELDS[key],))


@lru_cache(maxsize=None)
def form_class(key):
    return build_form_class(one_field_entity(key), "en")


def schema_accepts(key, value):
    return record_validator(one_field_entity(key)).is_valid({key: value})


def form_accepts(key, pairs):
    form = form_class(key)(MultiDict(pairs))
    return form.validate(), form


def api_accepts(key, value):
    _, problems = clean_record_data(one_field_entity(key), {key: value}, CTX)
    return problems == []


# -- strategies ------------------------------------------------------------------------

CUSTOM_FORMATS = {"decimal": st.decimals(min_value=-10**14, max_value=10**14, places=2,
                                          allow_nan=False, allow_infinity=False).map(str)}


def valid_values(key):
    f = FIELDS[key]
    if f.type == "subtable":
        return valid_rows(f)
    return from_schema(property_schema(f, always_required(f)), custom_formats=CUSTOM_FORMATS)


def valid_rows(f):
    """hypothesis-jsonschema 0.23 cannot draw objects with this Hypothesis, so rows are built
    from their columns' schemas."""
    def column(c):
        return from_schema(property_schema(c, always_required(c)), custom_formats=CUSTOM_FORMATS)
    row = st.fixed_dictionaries({c.key: column(c) for c in f.columns if always_required(c)},
                                optional={c.key: column(c) for c in f.columns if not always_required(c)})
    return st.lists(row, min_size=f.min_rows or 0, max_size=f.max_rows or 5)


NUMBERS = st.integers() | st.floats() | st.sampled_from(BAD_NUMBERS)
TEXTS = st.text(max_size=60) | st.sampled_from(BAD_STRINGS)
NATURAL = {
    "text": TEXTS, "textarea": TEXTS, "email": TEXTS | st.emails(), "phone": TEXTS, "url": TEXTS,
    "date": TEXTS | st.dates().map(str), "datetime": TEXTS, "select": TEXTS,
    "number": NUMBERS, "percent": NUMBERS, "rating": NUMBERS, "money": NUMBERS | TEXTS,
    "multiselect": st.lists(st.sampled_from(["x", "y", "z", "w", ""]), max_size=4),
    "checkbox": st.booleans(),
    "reference": NUMBERS, "user": st.lists(NUMBERS, max_size=4),
    "subtable": st.lists(st.dictionaries(st.sampled_from(["q", "note", "x"]), JSON, max_size=3) | JSON, max_size=4),
}


def natural_values(key):
    f = FIELDS[key]
    values = valid_values(key) | NATURAL[f.type] | st.sampled_from([None, "", []])
    if f.type == "datetime":
        values = values.filter(lambda v: not is_naive_datetime(v))
    return values


def encode(f, value):
    """A JSON value as the browser would post it."""
    k = f.key
    if value is None or value is False or (isinstance(value, (str, list)) and not value):
        return [(k, "")] if f.type not in ("checkbox", "multiselect") else []
    if f.type == "checkbox":
        return [(k, "y")] if value is True else [(k, str(value))]
    if f.type == "multiselect":
        return [(k, v) for v in value] if isinstance(value, list) else [(k, value)]
    if f.type == "subtable":
        return [(k, json.dumps(value))]
    if isinstance(value, list):
        return [(k, ", ".join(_text(v) for v in value))]
    return [(k, _text(value))]


def _text(value):
    if isinstance(value, float):
        return repr(value) if math.isfinite(value) else str(value)
    return str(value)


# -- the properties --------------------------------------------------------------------------

@pytest.mark.parametrize("key", KEYS)
@SETTINGS
@given(data=st.data())
def test_schema_and_form_agree_on_json_values(key, data):
    value = data.draw(natural_values(key), label="value")
    accepted_by_form, form = form_accepts(key, encode(FIELDS[key], value))
    assert schema_accepts(key, value) == accepted_by_form, form.errors


@pytest.mark.parametrize("key", KEYS)
@SETTINGS
@given(data=st.data())
def test_form_accepts_exactly_what_the_schema_accepts_of_its_data(key, data):
    posted = data.draw(st.lists(TEXTS, max_size=3), label="posted")
    accepted_by_form, form = form_accepts(key, [(key, text) for text in posted])
    decoded = form_to_data(form, one_field_entity(key))[key]
    assert schema_accepts(key, decoded) == accepted_by_form, (decoded, form.errors)


@pytest.mark.parametrize("key", KEYS)
@SETTINGS
@given(data=st.data())
def test_schema_and_api_cleaning_agree(key, data):
    value = data.draw(valid_values(key) | JSON, label="value")
    assert schema_accepts(key, value) == api_accepts(key, value)


# -- the known bad inputs, spelled out ---------------------------------------------------

@pytest.mark.parametrize("key, value", [
    ("qty", float("nan")), ("qty", 1e309), ("qty", 2**63), ("qty", True), ("qty", "5"),
    ("close", "2024-02-30"), ("meet", "2026-11-23T09:00:00"), ("agreed", "true"), ("title", "x" * 13),
    ("email", "not-an-email"), ("phone", "12ab"), ("site", "javascript:alert(1)"), ("source", "d"),
    ("tags", ["x", "x"]), ("tags", "x"), ("stars", 6), ("customer", 0), ("watchers", [1, 1]),
    ("lines", [{"q": 0}]), ("amount", "1.005"), ("price", 0.001),
])
def test_known_bad_inputs_are_refused_by_schema_and_api(key, value):
    assert not schema_accepts(key, value)
    assert not api_accepts(key, value)


@pytest.mark.parametrize("value", ["<script>alert(1)</script>", "'; DROP TABLE x;--", "{{7*7}}"])
def test_hostile_text_is_accepted_and_stored_literally(value):
    assert schema_accepts("notes", value) and api_accepts("notes", value)
    data, _ = clean_record_data(one_field_entity("notes"), {"notes": value}, CTX)
    assert data["notes"] == value
