"""How an API write uses the database: on PostgreSQL a token-authenticated write checks its
token in the transaction that writes (one BEGIN and one COMMIT fewer), a write refused
before it writes leaves no transaction open and stores nothing, and writes go on after the
server ended the pool's connections. On SQLite the token check keeps its own transaction."""
from __future__ import annotations

import threading
import uuid

import pytest
from sqlalchemy import event, func, select, text
from sqlalchemy.engine import make_url

from formloom.store.db import make_engine
from formloom.store.tables import records

from .api_client import Api, api_as, token_for  # noqa: F401

CASES = "/api/v1/desk/case"


class Transactions:
    def __init__(self, engine):
        self.engine, self.begins = engine, 0

    def _begin(self, _conn):
        self.begins += 1

    def __enter__(self):
        event.listen(self.engine, "begin", self._begin)
        return self

    def __exit__(self, *exc):
        event.remove(self.engine, "begin", self._begin)


def stored(app) -> int:
    with app.extensions["formloom.db"].read() as conn:
        return conn.execute(select(func.count()).select_from(records)).scalar_one()


def test_a_token_write_is_one_transaction_on_postgresql(app, api_as, make_record):
    db = app.extensions["formloom.db"]
    api, admin = api_as("agent"), api_as("admin")
    case = make_record("case", {"subject": "Old"})
    api.get(CASES), admin.get(CASES)                    # a token's first use is noted (its own write)
    with Transactions(db.engine) as created:
        assert api.post(CASES, {"data": {"subject": "New"}}).status_code == 201
    with Transactions(db.engine) as changed:
        assert api.patch(f"{CASES}/{case.id}", {"version": 1, "data": {"subject": "B"}}).status_code == 200
    with Transactions(db.engine) as removed:
        assert admin.delete(f"{CASES}/{case.id}").status_code == 204
    expected = 1 if db.is_postgres else 2
    assert (created.begins, changed.begins, removed.begins) == (expected, expected, expected)


@pytest.mark.parametrize("path, body, status", [
    (f"{CASES}", {"data": {"subject": "x", "no_such_field": 1}}, 422),     # refused in the transaction
    ("/api/v1/desk/no_such_entity", {"data": {"subject": "x"}}, 404),      # refused before it
    (f"{CASES}", {"data": "not an object"}, 422),
])
def test_a_refused_write_stores_nothing_and_leaves_no_connection_out(app, api_as, path, body, status):
    db = app.extensions["formloom.db"]
    before = stored(app)
    assert api_as("agent").post(path, body).status_code == status
    assert stored(app) == before
    assert db.engine.pool.checkedout() == 0


def test_a_stale_patch_changes_nothing(app, api_as, make_record):
    case = make_record("case", {"subject": "Old"})
    api = api_as("agent")
    assert api.patch(f"{CASES}/{case.id}", {"version": 1, "data": {"subject": "A"}}).status_code == 200
    assert api.patch(f"{CASES}/{case.id}", {"version": 1, "data": {"subject": "B"}}).status_code == 409
    assert api.get(f"{CASES}/{case.id}").get_json()["data"]["subject"] == "A"
    assert app.extensions["formloom.db"].engine.pool.checkedout() == 0


def test_api_writes_go_on_after_the_server_ended_the_pools_connections(app, api_as):
    db = app.extensions["formloom.db"]
    if not db.is_postgres:
        pytest.skip("the server ending connections is a PostgreSQL scenario; SQLite has no server")
    name = f"formloom-api-{uuid.uuid4().hex[:8]}"                # only this app's connections are ended
    db.engine.dispose()
    db.engine = make_engine(make_url(db.url).update_query_dict({"application_name": name})
                            .render_as_string(hide_password=False))
    api = api_as("agent")
    first = api.post(CASES, {"data": {"subject": "Before"}})
    assert first.status_code == 201
    admin = make_engine(db.url)
    try:
        with admin.connect() as conn:
            ended = conn.execute(text("SELECT count(pg_terminate_backend(pid, 5000)) FROM pg_stat_activity "
                                      "WHERE application_name = :name"), {"name": name}).scalar_one()
            conn.commit()
    finally:
        admin.dispose()
    assert ended >= 1
    assert api.post(CASES, {"data": {"subject": "After"}}).status_code == 201
    changed = api.patch(f"{CASES}/{first.get_json()['id']}", {"version": 1, "data": {"subject": "Again"}})
    assert changed.status_code == 200


class Statements:
    def __init__(self, engine):
        self.engine, self.seen = engine, []

    def _note(self, _conn, _cursor, statement, *_rest):
        self.seen.append(statement)

    def __enter__(self):
        event.listen(self.engine, "before_cursor_execute", self._note)
        return self

    def __exit__(self, *exc):
        event.remove(self.engine, "before_cursor_execute", self._note)

    def record_reads(self) -> list[str]:
        return [s for s in self.seen if s.lstrip().upper().startswith("SELECT RECORDS.")]


def test_a_patch_reads_its_record_once_locked_for_its_transaction(app, api_as, make_record):
    """On PostgreSQL with the token's statements (one round trip), elsewhere in the view."""
    db = app.extensions["formloom.db"]
    case = make_record("case", {"subject": "Old"})
    api = api_as("agent")
    api.get(CASES)                                      # a token's first use is noted (its own write)
    with Statements(db.engine) as seen:
        assert api.patch(f"{CASES}/{case.id}", {"version": 1, "data": {"subject": "A"}}).status_code == 200
    reads = seen.record_reads()
    assert len(reads) == 1
    if db.is_postgres:
        assert "FOR UPDATE OF records" in reads[0] and "api_tokens" in reads[0]


@pytest.mark.parametrize("where, status", [
    ("{cases}/{id}", 409),                              # stale: the version read with the token
    ("{cases}/999999", 404),                            # no such record
    ("/api/v1/desk/comment/{id}", 404),                 # the record of another entity
    ("{cases}/9007199254740993", 404),                  # past the ids that exist: not read
])
def test_a_patch_answers_from_the_record_read_with_its_token(app, api_as, make_record, where, status):
    case = make_record("case", {"subject": "Old"})
    api = api_as("agent")
    assert api.patch(f"{CASES}/{case.id}", {"version": 1, "data": {"subject": "A"}}).status_code == 200
    path = where.format(cases=CASES, id=case.id)
    assert api.patch(path, {"version": 1, "data": {"subject": "B"}}).status_code == status
    assert api.get(f"{CASES}/{case.id}").get_json()["data"]["subject"] == "A"
    assert app.extensions["formloom.db"].engine.pool.checkedout() == 0


def test_a_patch_with_an_unknown_token_locks_nothing(app, make_record):
    """The record is read with the token's statements, FOR UPDATE only if the token is one."""
    db = app.extensions["formloom.db"]
    if not db.is_postgres:
        pytest.skip("PostgreSQL: row locks")
    case = make_record("case", {"subject": "Old"})
    answered = []

    def patch():
        answered.append(app.test_client().patch(f"{CASES}/{case.id}", json={"version": 1, "data": {"subject": "B"}},
                                                headers={"Authorization": "Bearer flm_not-a-token"}).status_code)

    with db.write() as holder:                          # holds the row: a PATCH that locks it waits
        holder.execute(select(records.c.id).where(records.c.id == case.id).with_for_update())
        request = threading.Thread(target=patch)
        request.start()
        request.join(10)
        waited = request.is_alive()
    request.join()
    assert not waited and answered == [401]
    assert db.engine.pool.checkedout() == 0


def test_a_patch_with_a_good_token_waits_for_its_record(app, api_as, make_record):
    """The other side: the lock is taken (a concurrent change waits for it, as before)."""
    db = app.extensions["formloom.db"]
    if not db.is_postgres:
        pytest.skip("PostgreSQL: row locks (SQLite's writers queue on the database's one lock)")
    case = make_record("case", {"subject": "Old"})
    api = api_as("agent")
    answered = []
    with db.write() as holder:
        holder.execute(select(records.c.id).where(records.c.id == case.id).with_for_update())
        request = threading.Thread(target=lambda: answered.append(
            api.patch(f"{CASES}/{case.id}", {"version": 1, "data": {"subject": "B"}}).status_code))
        request.start()
        request.join(1)
        waited = request.is_alive()
    request.join()
    assert waited and answered == [200]
