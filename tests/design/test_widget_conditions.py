"""The dashboard builder's conditions (design/widget_form.read_conditions): the condition
builder's rows become the widget's JSON Logic, and a row a dashboard cannot count in SQL is
refused at its own input, never silently dropped."""
from __future__ import annotations

from werkzeug.datastructures import MultiDict

from formloom.design import condition_builder as cb
from formloom.design.widget_form import read_conditions

ENTITY = {"key": "deal", "fields": [{"key": "name", "type": "text", "label": "Name"},
                                    {"key": "amount", "type": "number", "label": "Amount"}]}
FIELDS = cb.builder_fields(ENTITY, "en") + [cb.BuilderField("$created", "Created", "date")]


def posted(*rows, prefix="filter"):
    form = MultiDict([(f"{prefix}-mode", "all")])
    for i, (field, op, value) in enumerate(rows, start=1):
        form.add(f"{prefix}-item", str(i))
        form.add(f"{prefix}-{i}-field", field)
        form.add(f"{prefix}-{i}-op", op)
        form.add(f"{prefix}-{i}-value", value)
    return form


def test_rows_become_json_logic_for_each_condition():
    conditions, problems = read_conditions(posted(("amount", "gt", "100"), ("$created", "gte", "2026-03-01")),
                                           FIELDS, ENTITY)
    assert problems == []
    assert conditions == {"filter": {"and": [{">": [{"var": "amount"}, 100]},
                                             {">=": [{"var": "$created"}, "2026-03-01"]}]},
                          "of_filter": None, "per_filter": None}


def test_what_sql_cannot_count_is_refused_at_its_row():
    _c, problems = read_conditions(posted(("amount", "gt", "1"), ("name", "contains", "x"), ("amount", "empty", "")),
                                   FIELDS, ENTITY)
    assert [p.where for p in problems] == ["filter-2-op", "filter-3-op"]
    assert "“contains”" in problems[0].message and "“is empty”" in problems[1].message


def test_a_moment_is_not_equal_to_a_day():
    _c, problems = read_conditions(posted(("$created", "eq", "2026-03-01")), FIELDS, ENTITY)
    assert [p.where for p in problems] == ["filter-1-op"] and "more or less than" in problems[0].message


def test_json_the_builder_cannot_show_is_checked_too():
    form = MultiDict([("filter-source", "json"), ("filter-json", '{"in": ["x", {"var": "name"}]}')])
    _c, problems = read_conditions(form, FIELDS, ENTITY)
    assert [p.where for p in problems] == ["filter-json"]              # where the admin typed it
    assert problems[0].message.startswith("A dashboard cannot count with this condition: it must compare a field")
