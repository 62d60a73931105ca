"""An entity's pool and calendar fields are validated: the pool names roles of the app
that read the entity and stages of its workflow; calendar fields are its date fields."""
from __future__ import annotations

from formloom.definitions.compile import compile_entity
from formloom.definitions.model import PoolDef


def at(problems, path: str) -> list[str]:
    return [p.message for p in problems if p.json_path == path]


def with_deal(make_app, **settings):
    app = make_app()
    app["entities"][0].update(settings)
    return app


def test_a_valid_pool_and_calendar_compile(make_app, problems_of):
    app = with_deal(make_app, pool={"roles": ["sales"], "limit": 20, "claim_stage": "proposal",
                                    "return_stage": "new"}, calendar_fields=["close_date"])
    assert problems_of(app) == []
    entity = compile_entity(app["entities"][0])
    assert entity.pool == PoolDef(("sales",), 20, "proposal", "new")
    assert entity.calendar_fields == ("close_date",)
    assert compile_entity(make_app()["entities"][0]).pool is None


def test_a_pool_role_must_exist_and_read_the_entity(make_app, problems_of):
    problems = problems_of(with_deal(make_app, pool={"roles": ["salse", "manager"]}))
    [unknown] = at(problems, "$.entities[0].pool.roles[0]")
    assert "'salse'" in unknown and "did you mean 'sales'" in unknown
    [blind] = at(problems, "$.entities[0].pool.roles[1]")
    assert "reads none of its records" in blind


def test_pool_stages_must_be_stages_of_the_workflow(make_app, problems_of):
    problems = problems_of(with_deal(make_app, pool={"roles": ["sales"], "claim_stage": "wonn"}))
    [message] = at(problems, "$.entities[0].pool.claim_stage")
    assert "'wonn' is not a stage" in message and "did you mean 'won'" in message


def test_pool_shape_is_checked_by_the_schema(make_app, problems_of):
    problems = problems_of(with_deal(make_app, pool={"roles": [], "limit": 0, "colour": "red"}))
    assert at(problems, "$.entities[0].pool.limit") and at(problems, "$.entities[0].pool.roles")
    assert at(problems, "$.entities[0].pool.colour")


def test_calendar_fields_are_date_fields_of_the_entity(make_app, problems_of):
    problems = problems_of(with_deal(make_app, calendar_fields=["amount", "closedate"]))
    [kind] = at(problems, "$.entities[0].calendar_fields[0]")
    assert "is a money" in kind and "only date and date-time fields" in kind
    [missing] = at(problems, "$.entities[0].calendar_fields[1]")
    assert "did you mean 'close_date'" in missing
