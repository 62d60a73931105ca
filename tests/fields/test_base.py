import json

import pytest

from formloom.definitions.schema_check import SCHEMAS_DIR
from formloom.fields import FIELD_TYPES, FieldType, register
from formloom.fields.base import FieldValueError, FieldValuesError, RegistryError, property_schema


def test_every_documented_type_is_registered():
    """The committed meta-schema (what authors read) lists exactly the registered types."""
    schema = json.loads((SCHEMAS_DIR / "field.schema.json").read_text(encoding="utf-8"))
    assert sorted(FIELD_TYPES) == sorted(schema["properties"]["type"]["enum"])


def test_duplicate_type_name_fails():
    with pytest.raises(RegistryError):
        @register
        class Again(FieldType):
            name = "text"


def test_every_type_has_sql_kind_and_operators():
    for ftype in FIELD_TYPES.values():
        assert ftype.sql_kind in ("text", "number", "date", "datetime", "bool", "json")
        assert set(ftype.operators) <= {"eq", "ne", "lt", "lte", "gt", "gte", "in", "contains", "is_empty"}
        assert "is_empty" in ftype.operators


def test_empty_values():
    text = FIELD_TYPES["text"]
    assert text.is_empty(None) and text.is_empty("") and text.is_empty([])
    assert not text.is_empty(" ") and not text.is_empty(0) and not text.is_empty({})


def test_field_values_error_carries_every_error():
    errors = [FieldValueError("a", "A", "/0/x"), FieldValueError("b", "B", "/1/y")]
    combined = FieldValuesError(errors)
    assert combined.all() == tuple(errors)
    assert combined.code == "a" and combined.path_suffix == "/0/x"
    assert FieldValueError("c", "C").all()[0].code == "c"


def test_optional_property_accepts_empty_values(make_field):
    schema = property_schema(make_field("number"), required=False)
    assert {"enum": [None, "", []]} in schema["anyOf"]


def test_required_property_refuses_empty(make_field):
    assert property_schema(make_field("text"), required=True)["minLength"] == 1
    assert property_schema(make_field("multiselect", options=["a"]), required=True)["minItems"] == 1
    assert property_schema(make_field("checkbox"), required=True)["const"] is True
