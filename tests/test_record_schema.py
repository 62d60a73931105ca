from jsonschema import Draft202012Validator

from formloom.definitions.model import EntityDef, FieldDef, Label, OptionDef, freeze
from formloom.record_schema import record_json_schema, record_validator


def field(key, type_, **kw):
    return FieldDef(key=key, type=type_, label=Label.of(kw.pop("label", {"en": key.title(), "zh": "中" + key})), **kw)


ENTITY = EntityDef("deal", Label.of({"en": "Deal", "zh": "商机"}), "name", (
    field("name", "text", required=True, max_length=10),
    field("amount", "money", min=0, max=1000),
    field("qty", "number", precision=2, min=0),
    field("close", "date", min="2020-01-01"),
    field("at", "datetime"),
    field("source", "select", options=(OptionDef("expo", Label.of("Expo")),)),
    field("signed", "checkbox"),
    field("lost_reason", "text", required=True, visible_if=freeze({"==": [{"var": "$stage"}, "lost"]})),
    field("score", "formula", formula="qty"),
    field("code", "auto_number"),
))


def test_schema_is_valid_2020_12():
    schema = record_json_schema(ENTITY)
    Draft202012Validator.check_schema(schema)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert schema["additionalProperties"] is False


def test_computed_fields_are_not_writable():
    assert {"score", "code"}.isdisjoint(record_json_schema(ENTITY)["properties"])


def test_only_unconditional_required_fields_are_required():
    assert record_json_schema(ENTITY)["required"] == ["name"]
    assert record_json_schema(ENTITY, for_update=True)["required"] == []


def test_titles_in_language():
    schema = record_json_schema(ENTITY, lang="zh")
    assert schema["title"] == "商机" and schema["properties"]["name"]["title"] == "中name"


def valid(data, **kw):
    return record_validator(ENTITY, **kw).is_valid(data)


def test_validator_accepts_a_good_record():
    assert valid({"name": "Deal", "amount": "12.50", "qty": 0.07, "close": "2024-02-29",
                  "at": "2026-11-23T09:00:00+08:00", "source": "expo", "signed": True, "lost_reason": None})


def test_non_required_fields_accept_empty_values():
    assert valid({"name": "x", "amount": None, "qty": "", "close": None, "source": "", "signed": None})


def test_validator_refuses_bad_values():
    base = {"name": "x"}
    for key, value in [("name", ""), ("name", "x" * 11), ("name", None), ("amount", "1.005"), ("amount", 2000),
                       ("amount", "-1"), ("qty", float("nan")), ("qty", float("inf")), ("qty", 1e309),
                       ("qty", 0.001), ("qty", True), ("close", "2024-02-30"), ("close", "2019-12-31"),
                       ("at", "2026-11-23T09:00:00"), ("source", "other"), ("signed", "true"),
                       ("score", 5), ("unknown", 1)]:
        assert not valid({**base, key: value}), (key, value)


def test_update_schema_does_not_require_but_refuses_clearing_required():
    assert valid({}, for_update=True)
    assert not valid({"name": None}, for_update=True)


def test_decimal_multiple_of_is_exact():
    assert valid({"name": "x", "qty": 0.07})
    assert valid({"name": "x", "amount": 0.07})
    assert not valid({"name": "x", "qty": 0.1 + 0.2})


def test_large_integer_is_refused():
    entity = EntityDef("e", Label.of("E"), "n", (field("n", "number"),))
    assert not record_validator(entity).is_valid({"n": 2**63})
