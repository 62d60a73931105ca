"""The top bar's two counts are read in one statement (web/bar_counts.py) and count what
`approvals_waiting` and `unread_notifications` count: the pending requests of the reader's
apps whose step waits on the reader (a superuser's: also those waiting on nobody), and the
unread notifications up to the bell's cap."""
from __future__ import annotations

import copy
from datetime import datetime, timezone

import pytest
from sqlalchemy import insert

from types import SimpleNamespace

from sqlalchemy import event

from formloom.auth.users import create_user, load_actor, load_actor_and_apps
from formloom.automation.channels.inapp import notify_user
from formloom.store.install import install_documents
from formloom.store.tables import approval_requests, notifications
from formloom.web.approvals import approvals_waiting
from formloom.web.bar_counts import bar_counts, read_session
from formloom.web.notifications import BELL_CAP, unread_notifications

from .desk import CASE_FLOW, desk_app

NOW = datetime(2026, 12, 1, tzinfo=timezone.utc)


@pytest.fixture
def requests_and_notes(app, people, make_record):
    """Pending requests waiting on the agent (two in desk, one in another app), on the admin,
    on nobody, on a member of both apps (one in each); a decided request waiting on the agent;
    four notes for the agent, one of them read, and one for the admin."""
    case = make_record("case", {"subject": "Needs a yes"})
    db = app.extensions["formloom.db"]
    other = desk_app()
    other["key"] = "other"
    install_documents(db, other, {"case_flow": copy.deepcopy(CASE_FLOW)})
    with db.write() as conn:
        boss = create_user(conn, "boss@example.com", "a long enough password", name="Boss", is_superuser=True)
        both = create_user(conn, "both@example.com", "a long enough password", name="Both",
                           roles=[("desk", "agent"), ("other", "agent")])

        def ask(app_key: str, waiting: list[int], status: str = "pending") -> None:
            conn.execute(insert(approval_requests).values(
                app_key=app_key, entity_key="case", record_id=case.id, to_stage="closed", requested_at=NOW,
                status=status, spec={}, step_index=0, step_started_at=NOW, waiting_on=waiting))
        ask("desk", [people.agent]), ask("desk", [people.agent, people.admin]), ask("other", [people.agent])
        ask("desk", [people.admin]), ask("desk", []), ask("desk", [people.agent], status="approved")
        ask("desk", [both]), ask("other", [both]), ask("third", [both])
        for i in range(4):
            notify_user(conn, people.agent, f"Note {i}", "", f"bar-counts:{i}", NOW)
        notify_user(conn, people.admin, "For the admin", "", "bar-counts:admin", NOW)
        first = conn.execute(notifications.select().where(notifications.c.user_id == people.agent)
                             .order_by(notifications.c.id)).first()
        conn.execute(notifications.update().where(notifications.c.id == first.id).values(read_at=NOW))
    return {"boss": boss, "both": both, "nowhere": people.outsider}


def _counts(app, user_id: int) -> tuple[int, int]:
    db = app.extensions["formloom.db"]
    with db.read() as conn:
        return bar_counts(conn, load_actor(conn, user_id))


def _with_the_user(app, user_id: int) -> tuple[int, int]:
    """The counts read with the session's user (`read_session`, one statement) and counted
    from the rows it kept, without a statement of their own."""
    db = app.extensions["formloom.db"]
    store, seen = SimpleNamespace(), []

    def on_execute(conn, cursor, statement, *args):
        seen.append(statement)

    with db.read() as conn:
        event.listen(db.engine, "before_cursor_execute", on_execute)
        try:
            actor, versions = read_session(conn, user_id, store)
            assert len(seen) == 1
            counted = bar_counts(conn, actor, store)
            assert len(seen) == 1 and store._formloom_bar_rows is None     # counted from the kept rows, once
            assert bar_counts(conn, actor, store) == counted and len(seen) == 2      # then read again
        finally:
            event.remove(db.engine, "before_cursor_execute", on_execute)
        assert (actor, versions) == load_actor_and_apps(conn, user_id)
    return counted


def _as_before(app, user_id: int) -> tuple[int, int]:
    """What the two template globals counted, one statement each, for the same reader."""
    db = app.extensions["formloom.db"]
    with db.read() as conn:
        actor = load_actor(conn, user_id)
    with app.test_request_context("/"):
        from flask import g
        g._login_user = type("User", (), {"is_authenticated": True, "actor": actor})()
        return approvals_waiting(), unread_notifications()


def test_the_reader_counts_the_requests_of_their_apps_waiting_on_them_and_their_unread_notes(
        app, people, requests_and_notes):
    assert _counts(app, people.agent) == (2, 3)         # not the other app's, the decided one, the admin's
    assert _counts(app, people.admin) == (2, 1)         # two waiting on them; a desk admin is no superuser: not the one on nobody


def test_a_superuser_counts_every_app_and_the_requests_waiting_on_nobody(app, requests_and_notes):
    assert _counts(app, requests_and_notes["boss"]) == (1, 0)      # the one on nobody; it waits on no one else


def test_a_member_of_several_apps_and_of_none(app, requests_and_notes):
    assert _counts(app, requests_and_notes["both"]) == (2, 0)      # desk and other, not the third app
    assert _counts(app, requests_and_notes["nowhere"]) == (0, 0)


def test_the_counts_equal_the_two_reads_they_replace(app, people, requests_and_notes):
    for user_id in (people.agent, people.admin, people.viewer, *requests_and_notes.values()):
        assert _counts(app, user_id) == _as_before(app, user_id), user_id


def test_the_counts_read_with_the_session_user_equal_the_counts_read_alone(app, people, requests_and_notes):
    for user_id in (people.agent, people.admin, people.viewer, *requests_and_notes.values()):
        assert _with_the_user(app, user_id) == _counts(app, user_id), user_id


def test_rows_kept_for_another_reader_are_not_counted(app, people, requests_and_notes):
    db = app.extensions["formloom.db"]
    store = SimpleNamespace()
    with db.read() as conn:
        read_session(conn, people.agent, store)
        admin = load_actor(conn, people.admin)
        assert bar_counts(conn, admin, store) == _counts(app, people.admin)


def test_the_bell_stops_at_its_cap(app, people):
    with app.extensions["formloom.db"].write() as conn:
        for i in range(BELL_CAP + 5):
            notify_user(conn, people.viewer, f"Note {i}", "", f"bar-cap:{i}", NOW)
    assert _counts(app, people.viewer) == (0, BELL_CAP)
    assert _with_the_user(app, people.viewer) == (0, BELL_CAP)
