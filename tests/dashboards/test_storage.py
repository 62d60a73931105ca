"""The dashboard index (dashboards.storage) on SQLite: made at install from the
documents, rebuilt when they change, and never changes an answer (the same numbers
with and without it)."""
from __future__ import annotations

from datetime import date

from sqlalchemy import text

from formloom.dashboards.measures import Viewer, run_widget
from formloom.dashboards.model import compile_widget
from formloom.dashboards.periods import resolve_period
from formloom.dashboards.storage import aggregated_fields, index_name
from formloom.store.install import install_documents
from formloom.store.slots import mapping

from . import shop
from .conftest import ZONE, actor_of

WIDGETS = [
    {"key": "a", "type": "bar", "entity": "deal", "group": {"by": "channel"},
     "measures": [{"agg": "count"}, {"agg": "sum", "field": "amount"}, {"agg": "median", "field": "amount"}]},
    {"key": "b", "type": "number", "entity": "deal", "filter": {">=": [{"var": "amount"}, 100]},
     "measures": [{"agg": "avg", "field": "amount"}]},
    {"key": "c", "type": "line", "entity": "deal", "group": {"by": "$created", "bucket": "month"}, "date": "$created",
     "measures": [{"agg": "count"}]},
]


def answers(db, app, people, who):
    with db.read() as conn:
        v = Viewer(conn, app, actor_of(conn, people, who), resolve_period("this_year", date(2026, 4, 15), ZONE),
                   date(2026, 4, 15))
        return [[(r.key, r.values) for r in run_widget(v, compile_widget(w)).rows] for w in WIDGETS]


def test_the_index_holds_the_aggregated_fields_and_changes_no_answer(shop_db):
    db, app, _vid, people, _ids = shop_db
    if db.engine.dialect.name != "sqlite":          # PostgreSQL plans on its own: the index, no hint
        from formloom.dashboards.storage import hint_for
        with db.read() as conn:
            assert hint_for(conn, "shop", "deal") is None
            slot = mapping(conn, "shop")["deal"]["amount"]
            ddl = conn.execute(text("SELECT indexdef FROM pg_indexes WHERE indexname = :n AND schemaname = "
                                    "current_schema()"), {"n": index_name("shop", "deal")}).scalar()
        assert slot in ddl and "->>" not in ddl
        return
    assert aggregated_fields(app, {"board": shop.board()}) == {"deal": ["amount"]}
    with db.read() as conn:
        ddl = conn.execute(text("SELECT sql FROM sqlite_master WHERE name = :n"),
                           {"n": index_name("shop", "deal")}).scalar()
    with db.read() as conn:
        slot = mapping(conn, "shop")["deal"]["amount"]
    # the typed slot column that holds the amount (store.slots), not the JSON expression
    assert f", {slot})" in ddl and "json_extract" not in ddl and "entity_key = 'deal'" in ddl
    with_index = {who: answers(db, app, people, who) for who in ("admin", "a", "lead")}
    with db.write() as conn:
        conn.exec_driver_sql(f"DROP INDEX {index_name('shop', 'deal')}")
    from formloom.dashboards import storage
    storage._known.clear()
    assert {who: answers(db, app, people, who) for who in ("admin", "a", "lead")} == with_index


def test_reinstalling_without_dashboards_drops_the_index(shop_db):
    db, _app, _vid, _people, _ids = shop_db
    install_documents(db, shop.shop_app(), {"deal_flow": shop.deal_flow()}, dashboard_docs={})
    found = ("SELECT 1 FROM sqlite_master WHERE name = :n" if db.engine.dialect.name == "sqlite" else
             "SELECT 1 FROM pg_indexes WHERE indexname = :n AND schemaname = current_schema()")
    with db.read() as conn:
        assert conn.execute(text(found), {"n": index_name("shop", "deal")}).first() is None


def test_reading_the_typed_slots_changes_no_answer(shop_db):
    """Every widget kind that reads a slotted field (group by a select, sum, median, a filter
    on the number) answers the same from the slots as from the JSON documents."""
    db, app, _vid, people, _ids = shop_db
    doc = {"key": "slotted", "label": "Slotted", "roles": ["lead"],
           "widgets": [{**w, "label": w["key"]} for w in WIDGETS]}
    install_documents(db, shop.shop_app(), {"deal_flow": shop.deal_flow()},
                      dashboard_docs={"board": shop.board(), "slotted": doc})
    with db.read() as conn:
        assert set(mapping(conn, "shop")["deal"]) == {"amount", "channel"}
    from_slots = {who: answers(db, app, people, who) for who in ("admin", "a", "lead")}
    with db.write() as conn:
        conn.exec_driver_sql("DELETE FROM record_slots")
    from formloom.dashboards import storage
    storage._known.clear()
    assert {who: answers(db, app, people, who) for who in ("admin", "a", "lead")} == from_slots
    assert from_slots["admin"][0]          # not empty: there are groups to compare
