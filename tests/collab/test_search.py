"""Global search finds exactly the records a case-folded substring test finds, at every query
length (1-2 characters by bigram tokens, 3+ by trigrams, the rest by LIKE), in the reader's
scope and the fields they see, on SQLite and, with FORMLOOM_TEST_DATABASE_URL, on PostgreSQL."""
from __future__ import annotations

import itertools

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select, text

from formloom.auth.users import create_user, load_actor
from formloom.collab.search import global_search
from formloom.store import search_index
from formloom.store.apps import AppCatalog
from formloom.store.install import install_documents
from formloom.store.records import create_record, delete_record, update_record
from formloom.store.tables import records

from ..conftest import helpdesk_app

#: CJK and Latin letters, digits, a space and the LIKE wildcards; "~" and "q" only ever
#: appear in the unique suffix of a client's name, never in a query
ALPHABET = "上海浦东新区北京东京aAbBßÉé12 %_-"
QUERY = st.text(ALPHABET.replace(" ", ""), min_size=1, max_size=3) | st.text(ALPHABET, min_size=2, max_size=2)
UNIQUE = itertools.count()


def desk_app() -> dict:
    doc = helpdesk_app()
    doc["entities"][1]["fields"].append({"key": "notes", "type": "textarea", "label": "Notes",
                                         "hidden_for": ["viewer"]})
    return doc


@pytest.fixture
def setting(db):
    install_documents(db, desk_app(), {})
    app = AppCatalog(db).app("helpdesk")
    with db.write() as conn:
        people = {name: load_actor(conn, create_user(conn, f"{name}@example.com", "password123",
                                                     roles=[("helpdesk", role)]))
                  for name, role in (("agent", "agent"), ("other", "agent"), ("viewer", "viewer"))}
    return app, people


def oracle(db, app, actor, role: str, q: str) -> dict[str, set[int]]:
    """What LIKE semantics promise, computed from the records' JSON in Python: the live records
    the reader may read (agents their own tickets) whose title or a field they see contains
    the query, folded as the index folds."""
    needle = search_index.folded(" ".join(q.split())) or ""
    out: dict[str, set[int]] = {}
    with db.read() as conn:
        rows = conn.execute(select(records).where(records.c.app_key == app.key,
                                                  records.c.deleted_at.is_(None))).all()
    for row in rows:
        entity = app.entity(row.entity_key)
        if entity.key == "ticket" and role == "agent" and row.owner_id != actor.id:
            continue
        keys = [f.key for f in search_index.indexed_fields(entity) if not (role == "viewer" and f.key == "notes")]
        texts = [search_index.folded(row.title)] + [search_index.folded((row.data or {}).get(k)) for k in keys]
        if any(needle in t for t in texts if t):
            out.setdefault(entity.key, set()).add(row.id)
    return out


def found(db, app, actor, q: str) -> dict[str, set[int]]:
    with db.read() as conn:
        groups = global_search(conn, [app], actor, q, per_entity=10_000)
    return {g.entity.key: {record_id for record_id, _title in g.hits} for g in groups}


words = st.text(ALPHABET, min_size=0, max_size=12)
operations = st.lists(st.one_of(
    st.tuples(st.just("client"), words),
    st.tuples(st.just("ticket"), st.sampled_from(["agent", "other"]), words.filter(str.strip), words),
    st.tuples(st.just("update"), st.integers(0, 30), words.filter(str.strip), words),
    st.tuples(st.just("delete"), st.integers(0, 30)),
), min_size=1, max_size=10)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(operations=operations, queries=st.lists(QUERY, min_size=1, max_size=6))
def test_search_finds_exactly_what_a_substring_test_finds(db, setting, operations, queries):
    app, people = setting
    with db.write() as conn:
        client_id = create_record(conn, app, app.entity("client"), {"name": f"~q{next(UNIQUE)}"},
                                  actor_id=None).id
    tickets: list[int] = []
    written = [w for op in operations for w in op[1:] if isinstance(w, str)]
    # besides the random queries, every 1-2 character piece of what was written: most of them match
    queries = queries + sorted({w[i:i + n] for w in written for n in (1, 2) for i in range(len(w) - n + 1)})[:30]
    for op in operations:
        with db.write() as conn:
            if op[0] == "client" and op[1].strip():
                create_record(conn, app, app.entity("client"), {"name": f"{op[1]}~q{next(UNIQUE)}"}, actor_id=None)
            elif op[0] == "ticket":
                made = create_record(conn, app, app.entity("ticket"),
                                     {"subject": op[2][:60], "client": client_id, "notes": op[3] or None},
                                     actor_id=people[op[1]].id, owner_id=people[op[1]].id)
                tickets.append(made.id)
            elif op[0] == "update" and tickets:
                record_id = tickets[op[1] % len(tickets)]
                version = conn.execute(select(records.c.version).where(records.c.id == record_id)).scalar()
                update_record(conn, app, app.entity("ticket"), record_id, {"subject": op[2][:60], "notes": op[3] or None},
                              actor_id=None, expected_version=version)
            elif op[0] == "delete" and tickets:
                delete_record(conn, app, app.entity("ticket"), tickets.pop(op[1] % len(tickets)), actor_id=None)
    for q in queries:
        if not q.strip():
            continue
        for role in ("agent", "viewer"):
            actor = people[role]
            assert found(db, app, actor, q) == oracle(db, app, actor, role, q), (role, q)


def test_a_two_character_word_is_looked_up_by_its_bigram_token(db, setting):
    """Not a scan: the candidates come from the bigram index (FTS5 on SQLite, the entity's
    partial GIN index on PostgreSQL)."""
    app, people = setting
    with db.write() as conn:
        acme = create_record(conn, app, app.entity("client"), {"name": "上海浦东新区贸易公司"}, actor_id=None)
        beijing = create_record(conn, app, app.entity("client"), {"name": "北京贸易"}, actor_id=None)
    with db.read() as conn:
        if conn.dialect.name == "sqlite":
            for token in ("浦东", "浦"):
                assert conn.execute(text("SELECT e.record_id FROM search_grams JOIN search_entries e "
                                         "ON e.id = search_grams.rowid WHERE search_grams MATCH :t"),
                                    {"t": f'"{token}"'}).scalars().all() == [acme.id]
        else:
            conn.exec_driver_sql("SET LOCAL enable_seqscan = off")
            query = ("SELECT record_id FROM search_entries WHERE app_key = 'helpdesk' AND entity_key = 'client' "
                     f"AND {search_index.PG_GRAMS} @> ARRAY['浦东']")
            assert "ixg_helpdesk_client" in "\n".join(conn.execute(text("EXPLAIN " + query)).scalars())
            assert conn.execute(text(query)).scalars().all() == [acme.id]
    assert found(db, app, people["viewer"], "浦东") == {"client": {acme.id}}
    assert found(db, app, people["viewer"], "贸易") == {"client": {acme.id, beijing.id}}


def test_which_queries_have_a_token():
    assert [search_index.gram(q) for q in ("浦东", "ab", "7", "浦", "a ", "%", "é")] == \
        ["浦东", "ab", None, "浦", None, None, "é"]
