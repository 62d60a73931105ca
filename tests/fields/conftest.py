"""Helpers for the field type tests: a FieldDef factory and a cleaning context."""
import pytest

from formloom.definitions.model import FieldDef, Label, OptionDef
from formloom.fields import CleanContext, FieldValueError, field_type


def build_field(type_: str, key: str = "f", **overrides) -> FieldDef:
    if "options" in overrides:
        overrides["options"] = tuple(
            o if isinstance(o, OptionDef) else OptionDef(o, Label.of(o)) for o in overrides["options"])
    return FieldDef(key=key, type=type_, label=Label.of(overrides.pop("label", key.title())), **overrides)


@pytest.fixture
def make_field():
    """make_field(type, key="f", **FieldDef overrides); options may be plain strings."""
    return build_field


@pytest.fixture
def ctx():
    return CleanContext(lang="en")


@pytest.fixture
def clean(ctx):
    """clean(type, raw, **field_overrides) -> stored value; raises FieldValueError."""
    def run(type_: str, raw, **overrides):
        f = build_field(type_, **overrides)
        return field_type(type_).clean(f, raw, ctx)
    return run


@pytest.fixture
def refuse(clean):
    """refuse(type, raw, **field_overrides) -> the FieldValueError (fails if the value is accepted)."""
    def run(type_: str, raw, **overrides):
        with pytest.raises(FieldValueError) as caught:
            clean(type_, raw, **overrides)
        return caught.value
    return run
