"""Global search's index: written with every record write, in its transaction; equal to a
rebuild from the records' JSON; served by FTS5 trigrams (SQLite) or pg_trgm (PostgreSQL)."""
from __future__ import annotations

import pytest
from sqlalchemy import select, text, update

from formloom.definitions.validate import validate_app
from formloom.store import search_index
from formloom.store.install import install_documents
from formloom.store.apps import AppCatalog
from formloom.store.records import (NewRecord, create_record, create_records, delete_record, restore_record,
                                    update_record)
from formloom.store.tables import records, search_entries

from ..conftest import helpdesk_app


def entries(db, record_id=None):
    query = select(search_entries.c.record_id, search_entries.c.field_key, search_entries.c.text)
    if record_id is not None:
        query = query.where(search_entries.c.record_id == record_id)
    with db.read() as conn:
        return sorted(tuple(r) for r in conn.execute(query))


def client(db, app, name="Acme", **data):
    with db.write() as conn:
        return create_record(conn, app, app.entity("client"), {"name": name, **data}, actor_id=None)


def ticket(db, app, client_id, **data):
    with db.write() as conn:
        return create_record(conn, app, app.entity("ticket"), {"subject": "Printer", "client": client_id, **data},
                             actor_id=None)


def test_a_new_record_is_indexed_by_title_and_text_fields_casefolded(db, installed):
    app, _ = installed
    acme = client(db, app, "ACME  上海\u3000浦东", email="Info@Acme.example", tier="gold")
    assert entries(db, acme.id) == [(acme.id, "$title", "acme 上海 浦东"), (acme.id, "email", "info@acme.example")]


def test_an_update_rewrites_the_entries_only_when_indexed_text_changes(db, installed):
    app, _ = installed
    acme = client(db, app, email="a@example.com")
    with db.read() as conn:
        ids_before = conn.execute(select(search_entries.c.id).where(search_entries.c.record_id == acme.id)).scalars().all()
    with db.write() as conn:
        update_record(conn, app, app.entity("client"), acme.id, {"tier": "silver"}, actor_id=None, expected_version=1)
    with db.read() as conn:
        assert conn.execute(select(search_entries.c.id).where(
            search_entries.c.record_id == acme.id)).scalars().all() == ids_before
    with db.write() as conn:
        update_record(conn, app, app.entity("client"), acme.id, {"name": "Zenith", "email": None}, actor_id=None,
                      expected_version=2)
    assert entries(db, acme.id) == [(acme.id, "$title", "zenith")]


def test_a_deleted_record_leaves_the_index_and_a_restored_one_comes_back(db, installed):
    app, _ = installed
    acme = client(db, app, email="a@example.com")
    before = entries(db, acme.id)
    with db.write() as conn:
        delete_record(conn, app, app.entity("client"), acme.id, actor_id=None)
    assert entries(db, acme.id) == []
    with db.write() as conn:
        restore_record(conn, app, app.entity("client"), acme.id, actor_id=None)
    assert entries(db, acme.id) == before


def test_a_failed_write_leaves_no_entries(db, installed):
    app, _ = installed
    client(db, app, "Acme")
    with pytest.raises(Exception), db.write() as conn:
        create_record(conn, app, app.entity("client"), {"name": "Acme"}, actor_id=None)    # unique name
    assert [e[2] for e in entries(db)] == ["acme"]


def test_batched_creates_are_indexed_like_single_ones(db, installed):
    app, _ = installed
    with db.write() as conn:
        made = create_records(conn, app, app.entity("client"),
                              [NewRecord({"name": f"Batch {n}", "email": f"b{n}@example.com"}) for n in range(3)],
                              actor_id=None)
    assert entries(db) == sorted([(r.id, "$title", f"batch {n}") for n, r in enumerate(made)]
                                 + [(r.id, "email", f"b{n}@example.com") for n, r in enumerate(made)])


def test_on_sqlite_each_write_takes_the_ids_just_below_its_entitys_lowest_in_order(db, installed):
    """FTS5 walks ascending ids: the newest entries come first. A write's entries, in the order
    entries_for gives them (a batch's records one after the other), take the ids just below the
    entity's lowest, the first write the very top of its range."""
    if not db.is_sqlite:
        pytest.skip("PostgreSQL numbers entries with its sequence")
    app, _ = installed
    low, high = search_index.id_range("helpdesk", "client")
    first = client(db, app, "First", email="first@example.com")
    second = client(db, app, "Second", email="second@example.com")
    with db.write() as conn:
        batch = create_records(conn, app, app.entity("client"),
                               [NewRecord({"name": f"Batch {n}", "email": f"b{n}@example.com"}) for n in range(2)],
                               actor_id=None)
    with db.read() as conn:
        ids = conn.execute(select(search_entries.c.id, search_entries.c.record_id, search_entries.c.field_key)
                           .where(search_entries.c.entity_key == "client")
                           .order_by(search_entries.c.id)).all()
    assert all(low <= row.id <= high for row in ids)
    assert [(row.record_id, row.field_key) for row in ids] == [
        (batch[0].id, "$title"), (batch[0].id, "email"), (batch[1].id, "$title"), (batch[1].id, "email"),
        (second.id, "$title"), (second.id, "email"), (first.id, "$title"), (first.id, "email")]
    assert [row.id for row in ids] == list(range(high - 7, high + 1))


def test_a_rebuild_writes_exactly_what_the_writes_maintained(db, installed):
    app, _ = installed
    acme = client(db, app, "Acme 北京", email="x@example.com")
    gone = client(db, app, "Gone")
    t = ticket(db, app, acme.id, escalated=True, reason="客户投诉 urgent")
    with db.write() as conn:
        update_record(conn, app, app.entity("ticket"), t.id, {"subject": "Printer on fire"}, actor_id=None,
                      expected_version=1)
        delete_record(conn, app, app.entity("client"), gone.id, actor_id=None)
    maintained = entries(db)
    with db.read() as conn:
        assert search_index.differences(conn, app) == []
    with db.write() as conn:
        search_index.rebuild(conn, app)
    assert entries(db) == maintained
    with db.read() as conn:
        assert search_index.differences(conn, app) == []


def test_differences_name_records_written_around_the_engine_and_a_rebuild_mends_them(db, installed):
    app, _ = installed
    acme = client(db, app, "Acme")
    with db.write() as conn:
        conn.execute(update(records).where(records.c.id == acme.id).values(title="Renamed", data={"name": "Renamed"}))
    with db.read() as conn:
        assert [line.split(":")[0] for line in search_index.differences(conn, app)] == [f"client {acme.id}"]
    with db.write() as conn:
        search_index.rebuild(conn, app, ["client"])
    with db.read() as conn:
        assert search_index.differences(conn, app) == []
    assert entries(db, acme.id) == [(acme.id, "$title", "renamed")]


def test_publishing_other_search_fields_rebuilds_that_entitys_entries(db, installed):
    app, _ = installed
    acme = client(db, app, "Acme")
    t = ticket(db, app, acme.id, escalated=True, reason="Paper jam")
    assert (t.id, "reason", "paper jam") in entries(db, t.id)
    doc = helpdesk_app()
    doc["entities"][1]["search_fields"] = ["subject"]
    install_documents(db, doc, {})
    app = AppCatalog(db).app("helpdesk")
    assert entries(db, t.id) == [(t.id, "$title", "printer")]
    with db.read() as conn:
        assert search_index.differences(conn, app) == []


def test_search_fields_must_be_text_fields_of_the_entity():
    doc = helpdesk_app()
    doc["entities"][1]["search_fields"] = ["subject", "subjcet", "cost"]
    messages = [p.message for p in validate_app(doc, {}, "app.json")]
    assert any("'subjcet' is not a field of entity 'ticket'" in m and "subject" in m for m in messages)
    assert any("'cost' of entity 'ticket' is a money" in m for m in messages)


def test_the_database_serves_substrings_from_a_trigram_index(db, installed):
    app, _ = installed
    acme = client(db, app, "上海浦东新区贸易公司")
    with db.read() as conn:
        if conn.dialect.name == "sqlite":
            found = conn.execute(text("SELECT e.record_id FROM search_fts JOIN search_entries e "
                                      "ON e.id = search_fts.rowid WHERE search_fts MATCH '\"浦东新\"'")).scalars().all()
            assert found == [acme.id]
        else:
            assert "USING gin (text" in conn.execute(text(
                "SELECT indexdef FROM pg_indexes WHERE indexname = 'ixs_helpdesk_client' "
                "AND schemaname = current_schema()")).scalar()
            conn.exec_driver_sql("SET LOCAL enable_seqscan = off")
            query = ("SELECT record_id FROM search_entries WHERE app_key = 'helpdesk' AND entity_key = 'client' "
                     "AND text LIKE '%浦东新%'")
            assert "ixs_helpdesk_client" in "\n".join(conn.execute(text("EXPLAIN " + query)).scalars())
            assert conn.execute(text(query)).scalars().all() == [acme.id]


# -- bigram tokens for 1-2 character searches (migration 0015) -----------------------------------------------------

def grams_of(db, record_id):
    with db.read() as conn:
        return dict(conn.execute(select(search_entries.c.field_key, search_entries.c.grams)
                                 .where(search_entries.c.record_id == record_id)).all())


def short_match(db, token):
    """Entry record ids the bigram index itself names for `token`."""
    with db.read() as conn:
        if conn.dialect.name == "sqlite":
            query = text("SELECT e.record_id FROM search_grams JOIN search_entries e ON e.id = search_grams.rowid "
                         "WHERE search_grams MATCH :t")
            return sorted(conn.execute(query, {"t": f'"{token}"'}).scalars())
        conn.exec_driver_sql("SET LOCAL enable_seqscan = off")
        query = text(f"SELECT record_id FROM search_entries WHERE app_key = 'helpdesk' AND entity_key = 'client' "
                     f"AND {search_index.PG_GRAMS} @> ARRAY[CAST(:t AS text)]")
        return sorted(conn.execute(query, {"t": token}).scalars())


def test_each_entry_keeps_its_bigrams_and_non_ascii_characters_as_tokens():
    assert search_index.grams("上海浦东 ab-c") == "上海 海浦 浦东 ab 上 海 浦 东"
    assert search_index.grams("abab") == "ab ba"            # each token once
    assert search_index.grams("x") == ""


def test_written_entries_carry_their_tokens_and_the_index_follows_updates_and_deletes(db, installed):
    app, _ = installed
    acme = client(db, app, "上海浦东", email="pd@example.com")
    assert grams_of(db, acme.id) == {"$title": "上海 海浦 浦东 上 海 浦 东", "email": "pd ex xa am mp pl le co om"}
    assert short_match(db, "浦东") == [acme.id]
    with db.write() as conn:
        update_record(conn, app, app.entity("client"), acme.id, {"name": "北京"}, actor_id=None, expected_version=1)
    assert short_match(db, "浦东") == [] and short_match(db, "北京") == [acme.id]
    with db.write() as conn:
        delete_record(conn, app, app.entity("client"), acme.id, actor_id=None)
    assert short_match(db, "北京") == []
    with db.write() as conn:
        restore_record(conn, app, app.entity("client"), acme.id, actor_id=None)
    assert short_match(db, "北京") == [acme.id]


def test_a_rebuild_writes_the_same_tokens_and_the_check_names_wrong_ones(db, installed):
    app, _ = installed
    acme = client(db, app, "Acme 北京")
    before = grams_of(db, acme.id)
    with db.write() as conn:
        conn.execute(update(search_entries).where(search_entries.c.record_id == acme.id).values(grams="x"))
    with db.read() as conn:
        assert [line.split(":")[0] for line in search_index.differences(conn, app)] == [f"client {acme.id}"]
    with db.write() as conn:
        search_index.rebuild(conn, app)
    assert grams_of(db, acme.id) == before
    assert short_match(db, "北京") == [acme.id]
    with db.read() as conn:
        assert search_index.differences(conn, app) == []


def test_the_migration_gives_existing_entries_their_tokens(db, database_url, installed):
    """A database as it was before 0015 (downgraded to 0014, which drops the tokens and
    their index) holding records: upgraded again, its entries have their tokens and a
    two-character search is served by the index at once."""
    from alembic import command
    from formloom.store.migrate import alembic_config, upgrade
    app, _ = installed
    acme = client(db, app, "上海浦东")
    before = grams_of(db, acme.id)
    db.dispose()
    command.downgrade(alembic_config(database_url), "0014_search")
    try:
        with db.read() as conn:
            assert "grams" not in conn.execute(text("SELECT * FROM search_entries")).keys()
    finally:
        db.dispose()
        upgrade(database_url)
    assert grams_of(db, acme.id) == before
    assert short_match(db, "浦东") == [acme.id]
