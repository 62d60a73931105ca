"""A rollup's document is checked for meaning: what it reads exists, points at this entity and fits
its function; each problem is located on the setting concerned, and said in Chinese to a Chinese reader."""
from __future__ import annotations

import pytest
from flask import Flask
from flask_babel import Babel

from formloom.definitions.validate import validate_app
from formloom.web.problem_text import problem_message

from tests.conftest import helpdesk_app


def problems_with(rollup: dict) -> list:
    doc = helpdesk_app()
    doc["entities"][0]["fields"].append({"key": "r", "type": "rollup", "label": "R", **rollup})
    return [(p.json_path, p.message) for p in validate_app(doc, {}, "app.json")]


AT = "$.entities[0].fields[3]"


def test_a_well_formed_rollup_has_no_problems():
    assert problems_with({"function": "sum", "source": "ticket", "via": "client", "field": "cost",
                          "where": {"==": [{"var": "priority"}, "high"]},
                          "window": {"field": "due", "last": "P30D"}}) == []


@pytest.mark.parametrize(("rollup", "path", "message"), [
    ({"function": "count", "source": "tickets", "via": "client"}, f"{AT}.source",
     "Rollup 'r' reads the entity 'tickets' (did you mean 'ticket'?), which this app does not have."),
    ({"function": "count", "source": "ticket", "via": "clients"}, f"{AT}.via",
     "Rollup 'r' goes through 'clients', which is not a field of entity 'ticket' (did you mean 'client'?)."),
    ({"function": "count", "source": "ticket", "via": "subject"}, f"{AT}.via",
     "Rollup 'r' goes through ticket.subject, which is not a single reference to entity 'client'; choose a "
     "reference field of 'ticket' that points at 'client'."),
    ({"function": "sum", "source": "ticket", "via": "client"}, AT,
     "Rollup 'r' needs a 'field' of entity 'ticket' to sum."),
    ({"function": "sum", "source": "ticket", "via": "client", "field": "subject"}, f"{AT}.field",
     "Rollup 'r' cannot sum 'subject', a text field; it works on number, money, percent, rating, formula fields."),
    ({"function": "max", "source": "ticket", "via": "client", "field": "cots"}, f"{AT}.field",
     "Rollup 'r' reads 'cots', which is not a field of entity 'ticket' (did you mean 'cost'?)."),
    ({"function": "count", "source": "ticket", "via": "client", "where": {"==": [{"var": "$stage"}, "x"]}},
     f"{AT}.where", "The condition of rollup 'r' uses '$stage'; a rollup's condition can only use the related "
                    "entity's fields."),
    ({"function": "count", "source": "ticket", "via": "client", "window": {"field": "hours", "last": "P7D"}},
     f"{AT}.window.field", "The window of rollup 'r' is measured on 'hours', a number field; choose a date or "
                           "date-time field."),
])
def test_each_problem_is_located_on_its_setting(rollup, path, message):
    assert (path, message) in problems_with(rollup)


def test_a_window_in_months_is_refused_by_the_schema():
    found = problems_with({"function": "count", "source": "ticket", "via": "client",
                           "window": {"field": "due", "last": "P1M"}})
    assert [path for path, _ in found] == [f"{AT}.window.last"]


def test_a_condition_the_database_cannot_answer_is_refused():
    found = problems_with({"function": "count", "source": "ticket", "via": "client",
                           "where": {">": [{"var": "hours"}, 3]}})
    assert found == [(f"{AT}.where", "The condition of rollup 'r' uses '>', which a rollup's condition cannot use; "
                                     "use ==, !=, in, and, or, ! comparing a field of the related entity with fixed "
                                     "values.")]


def test_the_problems_are_said_in_chinese():
    app = Flask(__name__)
    app.config["BABEL_TRANSLATION_DIRECTORIES"] = str(
        __import__("formloom").__path__[0] + "/translations")
    Babel(app, locale_selector=lambda: "zh")
    sentences = [message for _path, message in problems_with(
        {"function": "sum", "source": "ticket", "via": "client", "field": "subject",
         "window": {"field": "hours", "last": "P7D"}})]
    with app.test_request_context():
        said = [problem_message(s) for s in sentences]
    assert "汇总字段 'r' 无法对 text 类型的字段 'subject' 合计；此汇总方式只适用于 number, money, percent, rating, formula 字段。" in said
    assert "汇总字段 'r' 的时间范围基于 number 类型的字段 'hours'；请选择日期或日期时间字段。" in said
