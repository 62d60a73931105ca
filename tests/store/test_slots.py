"""Typed slot columns (store.slots): assigned at install to the fields dashboards
aggregate, equal to the JSON documents after any sequence of writes, freed when no
dashboard needs them, and rebuilt from the documents by one command."""
from __future__ import annotations

import random
from datetime import date, timedelta

from click.testing import CliRunner
from sqlalchemy import select, text

from formloom.cli import main
from formloom.store.apps import AppCatalog
from formloom.store.install import install_documents
from formloom.store.records import NewRecord, create_record, create_records, delete_record, update_record
from formloom.store.slots import mapping, mismatches, rebuild
from formloom.store.tables import records

from ..dashboards import shop

#: groups by a select, sums a number, bounds by a date: one number and two text slots
BOARD = {
    "key": "board", "label": "Board", "roles": ["lead"],
    "widgets": [
        {"key": "by_channel", "type": "bar", "entity": "deal", "label": "By channel", "group": {"by": "channel"},
         "date": "closed_on", "measures": [{"agg": "sum", "field": "amount"}, {"agg": "count"}]},
    ],
}


def install(db, dashboards):
    app_doc = shop.shop_app()
    amount = next(f for e in app_doc["entities"] for f in e["fields"] if f["key"] == "amount")
    amount["precision"] = 2                      # money: values with cents, as the JSON holds them
    install_documents(db, app_doc, {"deal_flow": shop.deal_flow()}, dashboard_docs=dashboards)
    return AppCatalog(db).get("shop")


def random_values(rng: random.Random) -> dict:
    amount = rng.choice([None, rng.randint(-5, 10**9), round(rng.uniform(0, 10**6), 2),
                         round(rng.uniform(-1, 1), 2), 123456789.12, 0.1])
    out = {"name": f"deal {rng.randint(1, 10**6)}",
           "amount": amount,
           "channel": rng.choice([None, "web", "shop", "phone", "mail"]),
           "closed_on": rng.choice([None, (date(2026, 1, 1) + timedelta(days=rng.randint(0, 400))).isoformat()])}
    return {k: v for k, v in out.items() if v is not None or rng.random() < 0.5}


def test_install_gives_the_aggregated_fields_slots_of_their_family(db):
    install(db, {"board": BOARD})
    with db.read() as conn:
        held = mapping(conn, "shop")
    assert set(held) == {"deal"}
    assert held["deal"]["amount"].startswith("num_")
    assert held["deal"]["channel"].startswith("txt_") and held["deal"]["closed_on"].startswith("txt_")
    assert len(set(held["deal"].values())) == 3


def test_slots_equal_the_json_after_random_creates_updates_and_batches(db):
    app, version_id = install(db, {"board": BOARD})
    deal = app.entity("deal")
    rng = random.Random(14)
    ids: list[int] = []
    with db.write() as conn:
        for _ in range(40):
            ids.append(create_record(conn, app, deal, random_values(rng), actor_id=None,
                                     version_id=version_id).id)
        made = create_records(conn, app, deal, [NewRecord(random_values(rng)) for _ in range(40)], actor_id=None,
                              version_id=version_id)
        ids += [r.id for r in made]
        for record_id in rng.sample(ids, 50):
            current = conn.execute(select(records.c.version).where(records.c.id == record_id)).scalar_one()
            change = random_values(rng)
            change.pop("name", None)
            change.update({k: None for k in ("amount", "channel", "closed_on") if rng.random() < 0.2})
            update_record(conn, app, deal, record_id, change, actor_id=None, expected_version=current)
        delete_record(conn, app, deal, ids[0], actor_id=None)
    with db.read() as conn:
        assert mismatches(conn, app) == 0
        held = mapping(conn, "shop")["deal"]
        rows = conn.execute(select(records.c.data, *[records.c[s] for s in held.values()])
                            .where(records.c.entity_key == "deal")).all()
    assert len(rows) == 80
    for row in rows:                   # the same check in Python: each slot holds the document's value
        for (field_key, _slot), held_value in zip(held.items(), row[1:]):
            value = row.data.get(field_key)
            if field_key == "amount":
                assert (held_value is None) == (value is None)
                assert value is None or abs(float(held_value) - value) <= 1e-9 * max(1, abs(value))
            else:
                assert held_value == value


def test_a_slot_no_dashboard_needs_is_freed_and_emptied(db):
    app, version_id = install(db, {"board": BOARD})
    with db.write() as conn:
        create_record(conn, app, app.entity("deal"), {"name": "x", "amount": 5, "channel": "web"}, actor_id=None,
                      version_id=version_id)
    app, _vid = install(db, {})
    with db.read() as conn:
        assert mapping(conn, "shop") == {}
        assert mismatches(conn, app) == 0           # every slot column of the entity is empty again
        assert conn.execute(text("SELECT count(*) FROM records WHERE num_1 IS NOT NULL")).scalar() == 0


def test_a_reinstall_keeps_a_field_in_its_slot_and_backfills_a_new_one(db):
    only_amount = {"key": "board", "label": "Board", "roles": ["lead"], "widgets": [
        {"key": "total", "type": "number", "entity": "deal", "label": "Total", "measures": [{"agg": "sum", "field": "amount"}]}]}
    app, version_id = install(db, {"board": only_amount})
    with db.write() as conn:
        create_record(conn, app, app.entity("deal"), {"name": "x", "amount": 7, "channel": "mail"}, actor_id=None,
                      version_id=version_id)
        before = mapping(conn, "shop")["deal"]["amount"]
    app, _vid = install(db, {"board": BOARD})
    with db.read() as conn:
        held = mapping(conn, "shop")["deal"]
        assert held["amount"] == before
        assert conn.execute(text(f"SELECT {held['channel']} FROM records WHERE entity_key = 'deal'")).scalar() == "mail"
        assert mismatches(conn, app) == 0


def test_rebuild_repairs_slots_written_around_the_engine(db, monkeypatch, database_url):
    app, version_id = install(db, {"board": BOARD})
    with db.write() as conn:
        for n in range(3):
            create_record(conn, app, app.entity("deal"), {"name": f"d{n}", "amount": n, "channel": "web"},
                          actor_id=None, version_id=version_id)
        slot = mapping(conn, "shop")["deal"]["amount"]
        conn.execute(text(f"UPDATE records SET {slot} = 99, txt_8 = 'stray' WHERE entity_key = 'deal'"))
    with db.read() as conn:
        assert mismatches(conn, app) == 3
    monkeypatch.setenv("DATABASE_URL", database_url)
    runner = CliRunner()
    found = runner.invoke(main, ["slots", "check", "shop"])
    assert found.exit_code == 1 and "shop: 3 record(s) differ" in found.output
    fixed = runner.invoke(main, ["slots", "rebuild", "shop"])
    assert fixed.exit_code == 0 and "rebuilt the slots of" in fixed.output
    again = runner.invoke(main, ["slots", "check"])
    assert again.exit_code == 0 and "shop: 0 record(s) differ" in again.output
    assert runner.invoke(main, ["slots", "check", "nope"]).exit_code == 1


def test_rebuild_since_an_id_leaves_older_rows_alone(db):
    app, version_id = install(db, {"board": BOARD})
    with db.write() as conn:
        first = create_record(conn, app, app.entity("deal"), {"name": "a", "amount": 1}, actor_id=None,
                              version_id=version_id).id
        second = create_record(conn, app, app.entity("deal"), {"name": "b", "amount": 2}, actor_id=None,
                               version_id=version_id).id
        slot = mapping(conn, "shop")["deal"]["amount"]
        conn.execute(text(f"UPDATE records SET {slot} = NULL"))
        assert rebuild(conn, app, since_id=second) >= 1
        got = dict(conn.execute(select(records.c.id, records.c[slot]).where(records.c.id.in_([first, second]))).all())
    assert got[first] is None and float(got[second]) == 2


def test_a_write_with_a_replaced_version_writes_the_slots_of_the_current_one(db):
    """A single write's slots are kept per app version; an install that frees or assigns slots
    publishes another version, and writes then follow the new mapping."""
    app, version_id = install(db, {"board": BOARD})
    deal = app.entity("deal")
    with db.write() as conn:           # the writes learn the first version's slots
        first = create_record(conn, app, deal, {"name": "a", "amount": 1, "channel": "web"}, actor_id=None,
                              version_id=version_id)
        update_record(conn, app, deal, first.id, {"amount": 2}, actor_id=None, expected_version=1)
    for dashboards in ({}, {"board": BOARD}):
        app, version_id = install(db, dashboards)
        deal = app.entity("deal")
        with db.write() as conn:
            current = conn.execute(select(records.c.version).where(records.c.id == first.id)).scalar_one()
            update_record(conn, app, deal, first.id, {"amount": current * 10, "channel": ["mail", "phone"][current % 2]},
                          actor_id=None, expected_version=current)
            create_record(conn, app, deal, {"name": f"n{current}", "amount": current, "channel": "shop"},
                          actor_id=None, version_id=version_id)
        with db.read() as conn:
            assert mismatches(conn, app) == 0
