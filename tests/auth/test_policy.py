"""The one policy: scopes (none/own/team/all, teams transitive), the app admin,
hidden and readonly fields, and the SQL form of the same rule."""
from __future__ import annotations

from dataclasses import dataclass

import pytest
from sqlalchemy import insert, select
from datetime import datetime, timezone

from formloom.auth import policy
from formloom.auth.users import Actor, create_user, reports_of
from formloom.definitions.compile import compile_app
from formloom.store.tables import apps, records



APP = {
    "key": "shop", "label": "Shop", "version": 1, "timezone": "UTC", "roles": ["admin", "clerk", "lead", "auditor", "guest"],
    "entities": [{
        "key": "order", "label": "Order", "title": "name",
        "permissions": {
            "clerk": {"create": True, "read": "own", "update": "own"},
            "lead": {"create": True, "read": "team", "update": "team", "delete": "team"},
            "auditor": {"read": "all"},
            "guest": {"read": "none"},
        },
        "fields": [
            {"key": "name", "type": "text", "label": "Name"},
            {"key": "margin", "type": "number", "label": "Margin", "hidden_for": ["clerk", "guest"]},
            {"key": "approved", "type": "checkbox", "label": "Approved", "readonly_for": ["clerk"]},
            {"key": "both", "type": "text", "label": "Both", "hidden_for": ["auditor"], "readonly_for": ["auditor"]},
            {"key": "total", "type": "formula", "label": "Total", "formula": "margin * 2"},
        ],
    }],
}


@pytest.fixture(scope="module")
def shop():
    app = compile_app(APP, {})
    return app, app.entity("order")


def actor(uid: int, *roles: str, superuser: bool = False) -> Actor:
    return Actor(id=uid, email=f"u{uid}@x", name="", is_superuser=superuser,
                 roles={"shop": frozenset(roles)} if roles else {})


@dataclass
class Rec:
    owner_id: int | None
    created_by: int | None


@pytest.mark.parametrize("roles,action,expected", [
    (("clerk",), "read", "own"), (("clerk",), "update", "own"), (("clerk",), "delete", "none"),
    (("clerk",), "create", "all"), (("lead",), "read", "team"), (("auditor",), "read", "all"),
    (("auditor",), "update", "none"), (("auditor",), "create", "none"), (("guest",), "read", "none"),
    (("clerk", "auditor"), "read", "all"), (("clerk", "lead"), "update", "team"), ((), "read", "none"),
    (("admin",), "delete", "all"), (("nonsense",), "read", "none"),
])
def test_scope_is_the_widest_any_role_grants(shop, roles, action, expected):
    app, order = shop
    assert policy.scope(actor(1, *roles), action, app, order) == expected


def test_nobody_gets_nothing(shop):
    app, order = shop
    assert policy.scope(None, "read", app, order) == "none"
    assert not policy.can(None, "read", app, order)


def test_a_superuser_is_admin_of_every_app(shop):
    app, order = shop
    root = actor(1, superuser=True)
    assert policy.is_app_admin(root, app) and policy.scope(root, "delete", app, order) == "all"


def test_own_means_owner_or_creator(shop):
    app, order = shop
    clerk = actor(7, "clerk")
    assert policy.can(clerk, "read", app, order, Rec(owner_id=7, created_by=1))
    assert policy.can(clerk, "read", app, order, Rec(owner_id=1, created_by=7))
    assert not policy.can(clerk, "read", app, order, Rec(owner_id=1, created_by=1))
    assert not policy.can(clerk, "delete", app, order, Rec(owner_id=7, created_by=7))


def test_team_means_own_plus_reports(shop):
    app, order = shop
    lead = actor(1, "lead")
    team = {2, 3}
    assert policy.can(lead, "read", app, order, Rec(3, 9), team_of=lambda uid: team)
    assert policy.can(lead, "read", app, order, Rec(1, 9), team_of=lambda uid: team)
    assert not policy.can(lead, "read", app, order, Rec(4, 9), team_of=lambda uid: team)
    assert not policy.can(lead, "read", app, order, Rec(3, 9))          # no team known: own only


def test_reports_are_found_transitively_and_cycles_end(db):
    with db.write() as conn:
        boss = create_user(conn, "boss@x.com", "long-enough-1")
        mid = create_user(conn, "mid@x.com", "long-enough-1", manager_id=boss)
        low = create_user(conn, "low@x.com", "long-enough-1", manager_id=mid)
        create_user(conn, "else@x.com", "long-enough-1")
        assert reports_of(conn, boss) == {mid, low}
        assert reports_of(conn, mid) == {low}
        assert reports_of(conn, low) == set()


def _insert(conn, owner, creator):
    now = datetime.now(timezone.utc)
    return conn.execute(insert(records).values(app_key="shop", entity_key="order", data={}, title="", owner_id=owner,
                                               created_by=creator, created_at=now, updated_at=now, version=1)
                        ).inserted_primary_key[0]


@pytest.mark.parametrize("roles,team,visible", [
    (("clerk",), set(), {"mine", "made"}), (("lead",), {2}, {"mine", "made", "report"}),
    (("auditor",), set(), {"mine", "made", "report", "stranger"}), (("guest",), set(), set()),
    ((), set(), set()), (("admin",), set(), {"mine", "made", "report", "stranger"}),
])
def test_the_sql_clause_agrees_with_can(db, shop, roles, team, visible):
    app, order = shop
    with db.write() as conn:
        conn.execute(insert(apps).values(
            key="shop", installed_at=datetime.now(timezone.utc), updated_at=datetime.now(timezone.utc)))
        for email in ("a@x.com", "b@x.com", "c@x.com"):
            create_user(conn, email, "long-enough-1")
        ids = {"mine": _insert(conn, 1, 3), "made": _insert(conn, 3, 1), "report": _insert(conn, 2, 2),
               "stranger": _insert(conn, 3, 3)}
        who = actor(1, *roles)
        clause = policy.record_scope_clause(who, "read", app, order, team_of=lambda uid: team)
        found = set(conn.execute(select(records.c.id).where(clause)).scalars())
        rows = {name: Rec(*conn.execute(select(records.c.owner_id, records.c.created_by)
                                        .where(records.c.id == rid)).one()) for name, rid in ids.items()}
    assert found == {ids[name] for name in visible}
    assert {n for n, r in rows.items() if policy.can(who, "read", app, order, r, team_of=lambda uid: team)} == visible


@pytest.mark.parametrize("roles,field,access", [
    (("clerk",), "margin", "hidden"), (("clerk",), "approved", "readonly"), (("clerk",), "name", "write"),
    (("auditor",), "both", "hidden"), (("lead",), "margin", "write"), (("lead",), "total", "readonly"),
    (("clerk", "lead"), "margin", "write"),       # hidden only when every role hides it
    (("clerk", "guest"), "margin", "hidden"), (("admin",), "margin", "write"), (("admin",), "total", "readonly"),
])
def test_field_access(shop, roles, field, access):
    app, order = shop
    assert policy.field_access(actor(1, *roles), app, order.field(field)) == access


def test_visible_and_writable_fields(shop):
    app, order = shop
    clerk = actor(1, "clerk")
    assert [f.key for f in policy.visible_fields(clerk, app, order)] == ["name", "approved", "both", "total"]
    assert [f.key for f in policy.writable_fields(clerk, app, order)] == ["name", "both"]


# -- read_if: a role also reads records matching a condition (a shared pool) ----------------------

POOL_APP = {
    "key": "pool", "label": "Pool", "version": 1, "timezone": "UTC", "roles": ["admin", "rep", "viewer"],
    "entities": [{
        "key": "lead", "label": "Lead", "title": "name",
        "permissions": {
            "rep": {"create": True, "read": "own", "update": "own",
                    "read_if": {"or": [{"==": [{"var": "$stage"}, "open_pool"]},
                                       {"and": [{"==": [{"var": "shared"}, True]},
                                                {"!": {"in": [{"var": "tier"}, ["gold", "vip"]]}}]}]}},
            "viewer": {"read": "own", "read_if": {"!=": [{"var": "tier"}, "vip"]}},
        },
        "fields": [
            {"key": "name", "type": "text", "label": "Name"},
            {"key": "shared", "type": "checkbox", "label": "Shared"},
            {"key": "tier", "type": "select", "label": "Tier", "options": ["basic", "gold", "vip"]},
        ],
    }],
}


@dataclass
class PoolRec:
    owner_id: int | None
    created_by: int | None
    stage: str | None
    data: dict


POOL_ROWS = {   # name: (owner, stage, data)
    "mine": (1, "owned", {"tier": "vip"}),
    "pooled": (3, "open_pool", {"tier": "vip"}),
    "shared_basic": (3, "owned", {"shared": True, "tier": "basic"}),
    "shared_untiered": (3, "owned", {"shared": True}),
    "shared_gold": (3, "owned", {"shared": True, "tier": "gold"}),
    "unshared": (3, "owned", {"shared": False, "tier": "basic"}),
    "bare": (3, None, {}),
}


@pytest.mark.parametrize("roles,visible", [
    (("rep",), {"mine", "pooled", "shared_basic", "shared_untiered"}),
    (("viewer",), {"mine", "shared_basic", "shared_untiered", "shared_gold", "unshared", "bare"}),
    (("admin",), set(POOL_ROWS)),
    ((), set()),
])
def test_read_if_widens_reading_alike_in_python_and_sql(db, roles, visible):
    app = compile_app(POOL_APP, {})
    lead = app.entity("lead")
    now = datetime.now(timezone.utc)
    with db.write() as conn:
        conn.execute(insert(apps).values(key="pool", installed_at=now, updated_at=now))
        for email in ("a@x.com", "b@x.com", "c@x.com"):
            create_user(conn, email, "long-enough-1")
        ids = {name: conn.execute(insert(records).values(
                   app_key="pool", entity_key="lead", data=data, title=name, owner_id=owner, created_by=owner,
                   stage=stage, created_at=now, updated_at=now, version=1)).inserted_primary_key[0]
               for name, (owner, stage, data) in POOL_ROWS.items()}
        who = Actor(id=1, email="a@x.com", name="", is_superuser=False,
                    roles={"pool": frozenset(roles)} if roles else {})
        clause = policy.record_scope_clause(who, "read", app, lead, dialect=conn.dialect.name)
        found = {name for name, rid in ids.items()
                 if conn.execute(select(records.c.id).where(clause, records.c.id == rid)).first()}
    in_python = {name for name, (owner, stage, data) in POOL_ROWS.items()
                 if policy.can(who, "read", app, lead, PoolRec(owner, owner, stage, data))}
    assert found == visible
    assert in_python == visible


def test_read_if_never_widens_writing(db):
    app = compile_app(POOL_APP, {})
    lead = app.entity("lead")
    rep = Actor(id=1, email="a@x.com", name="", is_superuser=False, roles={"pool": frozenset({"rep"})})
    pooled = PoolRec(3, 3, "open_pool", {})
    assert policy.can(rep, "read", app, lead, pooled)
    assert not policy.can(rep, "update", app, lead, pooled)
    assert not policy.can(rep, "delete", app, lead, pooled)
    assert str(policy.record_scope_clause(rep, "update", app, lead)).count("stage") == 0
