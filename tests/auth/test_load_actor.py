"""Loading the actor a request acts as: the user and every role it holds, in one statement."""
from __future__ import annotations

import pytest
from sqlalchemy import event, update

from formloom.auth.users import create_user, load_actor, load_actor_and_apps
from formloom.store.apps import AppCatalog
from formloom.store.install import install_documents
from formloom.store.tables import users

from ..conftest import helpdesk_app


@pytest.fixture
def desks(db):
    """Two apps, so roles are told apart by app as well as by name."""
    first, second = helpdesk_app(), helpdesk_app()
    second["key"] = "backoffice"
    install_documents(db, first, {})
    install_documents(db, second, {})
    return db


def statements_of(db, action):
    seen = []

    def on_execute(conn, cursor, statement, parameters, context, executemany):
        seen.append(statement)

    event.listen(db.engine, "before_cursor_execute", on_execute)
    try:
        result = action()
    finally:
        event.remove(db.engine, "before_cursor_execute", on_execute)
    return result, [s for s in seen if not s.lstrip().upper().startswith(("BEGIN", "COMMIT", "ROLLBACK"))]


def test_a_user_with_several_roles_in_several_apps_is_loaded_with_all_of_them_in_one_statement(desks):
    with desks.write() as conn:
        user_id = create_user(conn, "ann@example.com", "long-enough-1", name="Ann", language="zh",
                              timezone_name="Asia/Shanghai",
                              roles=[("helpdesk", "agent"), ("helpdesk", "viewer"), ("backoffice", "admin")])
    with desks.read() as conn:
        actor, statements = statements_of(desks, lambda: load_actor(conn, user_id))
    assert len(statements) == 1
    assert actor.roles == {"helpdesk": frozenset({"agent", "viewer"}), "backoffice": frozenset({"admin"})}
    assert (actor.id, actor.email, actor.name, actor.language, actor.timezone, actor.session_epoch) == \
        (user_id, "ann@example.com", "Ann", "zh", "Asia/Shanghai", 0)
    assert actor.roles_in("helpdesk") == {"agent", "viewer"} and actor.roles_in("elsewhere") == frozenset()


def test_a_user_without_roles_is_loaded_with_none(desks):
    with desks.write() as conn:
        manager = create_user(conn, "boss@example.com", "long-enough-1")
        user_id = create_user(conn, "bob@example.com", "long-enough-1", manager_id=manager, is_superuser=True)
    with desks.read() as conn:
        actor = load_actor(conn, user_id)
    assert actor.roles == {} and actor.manager_id == manager and actor.is_superuser


def test_an_inactive_or_unknown_user_is_no_actor(desks):
    with desks.write() as conn:
        user_id = create_user(conn, "cy@example.com", "long-enough-1", roles=[("helpdesk", "agent")])
        conn.execute(update(users).where(users.c.id == user_id).values(active=False))
    with desks.read() as conn:
        assert load_actor(conn, user_id) is None
        assert load_actor(conn, user_id + 1000) is None


def test_the_actor_and_the_installed_apps_versions_are_read_in_one_statement(desks):
    with desks.write() as conn:
        ann = create_user(conn, "ann@example.com", "long-enough-1",
                          roles=[("helpdesk", "agent"), ("helpdesk", "viewer"), ("backoffice", "admin")])
        bob = create_user(conn, "bob@example.com", "long-enough-1")
        cy = create_user(conn, "cy@example.com", "long-enough-1", roles=[("helpdesk", "agent")])
        conn.execute(update(users).where(users.c.id == cy).values(active=False))
    versions = [(app.key, version_id) for app, version_id in AppCatalog(desks).installed_versions()]
    assert [key for key, _v in versions] == ["backoffice", "helpdesk"]
    with desks.read() as conn:
        for user_id in (ann, bob, cy, cy + 1000):
            (actor, read), statements = statements_of(desks, lambda: load_actor_and_apps(conn, user_id))
            assert len(statements) == 1
            assert actor == load_actor(conn, user_id)
            assert read == versions
