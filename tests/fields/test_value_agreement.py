"""A document's default, a value a rule sets and a posted value are judged by one check.

The meta checks (`validate_app`) and the field types' `clean` must agree for every
type: a value is a valid default exactly when the record layer would accept it
as posted. The table covers every registered type (a type without a row fails
the test), and hypothesis throws arbitrary JSON at each of them."""
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from formloom.definitions.compile import compile_field
from formloom.definitions.validate import validate_app
from formloom.fields import FIELD_TYPES, CleanContext, FieldValueError

#: type -> (extra settings of the field document, values to try)
CASES = {
    "text": ({"max_length": 5, "pattern": "[A-Z]+"}, ["ABC", "abc", "ABCDEF", 3, "A\nB", ""]),
    "textarea": ({}, ["two\nlines", "x" * 10001, "\x00", ["a"]]),
    "email": ({}, ["ann@example.com", "x@y..com", "ANN@EXAMPLE.COM", "no-at", "a@b", 5]),
    "phone": ({}, ["+86 138 0000 0000", "12", "phone", "(010) 1234-5678"]),
    "url": ({}, ["https://example.com", "HTTP://example.com", "https://x:99999/", "ftp://x.com",
                 "https://exa mple.com", "http://[::1]/", "https://-bad-.com"]),
    "number": ({"min": 0, "max": 10}, [3, 3.0, 3.5, -1, 11, "3", True, 1e309]),
    "money": ({"min": 0}, ["12.50", 12.5, "12.505", -1, "abc", 12.345, 10**14]),
    "percent": ({"precision": 1}, [50, 50.5, 50.55, 101, -0.1]),
    "rating": ({}, [0, 5, 6, 2.5, -1, "3"]),
    "date": ({"min": "2026-01-01"}, ["2026-02-28", "2026-02-30", "2025-12-31", "tomorrow", "2026-1-1"]),
    "datetime": ({}, ["2026-11-23T09:00:00+08:00", "2026-11-23T09:00:00Z", "2026-11-23T09:00:00",
                      "2026-11-23", "2026-13-01T00:00:00Z"]),
    "select": ({"options": ["a", "b"]}, ["a", "c", ["a"], 1]),
    "multiselect": ({"options": ["a", "b"], "max": 1}, [["a"], ["a", "b"], ["a", "a"], ["z"], "a"]),
    "checkbox": ({}, [True, False, "yes", 1]),
    "reference": ({"entity": "thing"}, [1, 0, -3, 2.5, "1", [1]]),
    "user": ({"multiple": True}, [[1, 2], [1, 1], 1, ["x"]]),
    "formula": ({"formula": "1 + 1"}, [2, "x"]),
    "auto_number": ({}, ["T-0001", 1]),
    "rollup": ({"function": "count", "source": "thing", "via": "name"}, [2, "x"]),
    "subtable": ({"columns": [{"key": "qty", "type": "number", "label": "Qty"}], "max_rows": 1},
                 [[{"qty": 1}], [{"qty": "x"}], [{"qty": 1}, {"qty": 2}], [1], "rows"]),
    "file": ({"multiple": True}, [[{"id": "a" * 32, "name": "a.pdf", "size": 1, "type": "application/pdf"}],
                                  ["../x"], "a.pdf"]),
    "image": ({}, [[{"id": "b" * 32, "name": "a.png", "size": 1, "type": "image/png"}], [{"id": "nope"}]]),
}


def field_doc(kind: str, extra: dict, value) -> dict:
    return {"key": "probe", "type": kind, "label": "Probe", **extra, "default": value}


def app_with(doc: dict) -> dict:
    return {"key": "probe_app", "label": "Probe", "version": 1, "timezone": "UTC", "roles": ["admin"],
            "entities": [
                {"key": "thing", "label": "Thing", "title": "name",
                 "fields": [{"key": "name", "type": "text", "label": "Name"}, doc]}]}


def default_refused(doc: dict) -> bool:
    problems = validate_app(app_with(doc), {}, "probe.json")
    return any(p.json_path == "$.entities[0].fields[1].default" for p in problems)


def clean_refuses(doc: dict, value) -> bool:
    f = compile_field(doc)
    ftype = FIELD_TYPES[f.type]
    if "default" not in {s.name for s in ftype.all_settings()}:
        return True           # the type takes no default (computed values, subtables): the schema refuses it
    if ftype.is_empty(value):
        return False          # an empty value is "no default", never refused by type
    try:
        ftype.clean(f, value, CleanContext(lang="en"))
    except FieldValueError:
        return True
    return False


def test_every_type_has_cases():
    assert set(CASES) >= set(FIELD_TYPES)


@pytest.mark.parametrize(("kind", "extra", "value"),
                         [(k, extra, v) for k, (extra, values) in CASES.items() for v in values])
def test_default_and_posted_value_are_judged_alike(kind, extra, value):
    doc = field_doc(kind, extra, value)
    assert default_refused(doc) == clean_refuses(doc, value)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-10**6, 10**6) | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=30),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=5), children, max_size=3),
    max_leaves=6)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(kind=st.sampled_from(sorted(CASES)), value=json_values)
def test_any_json_value_is_judged_alike(kind, value):
    if kind not in FIELD_TYPES or value is None:
        return
    doc = field_doc(kind, CASES[kind][0], value)
    assert default_refused(doc) == clean_refuses(doc, value)


@pytest.mark.parametrize(("kind", "value", "refused"), [
    ("email", "x@y..com", True),
    ("url", "https://x:99999/", True),
    ("url", "HTTP://example.com", False),
])
def test_the_measured_disagreements_follow_the_field_class(kind, value, refused):
    assert default_refused(field_doc(kind, {}, value)) is refused


def test_a_rule_sets_a_value_by_the_same_check():
    from formloom.fields import document_value_problem
    assert document_value_problem({"key": "site", "type": "url", "label": "Site"}, "HTTP://example.com") is None
    assert "not an email address" in document_value_problem({"key": "m", "type": "email", "label": "M"}, "x@y..com")
