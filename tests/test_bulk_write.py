"""bulk_write: the one path that writes records in bulk, for the import and the bulk API.
Each item as a single write: the policy, the stage guard, audit rows; a refused item
leaves nothing behind; one outcome per item, in order."""
from __future__ import annotations

import copy

import pytest
from sqlalchemy import func, select

from formloom.auth.users import create_user, load_actor
from formloom.bulk_write import BulkWriter, Refused, WriteItem
from formloom.store.apps import AppCatalog
from formloom.store.install import install_documents
from formloom.store.records import create_record
from formloom.store.tables import audit, records, stage_history
from formloom.workflow.gates import GateBlocked

from .transfer.conftest import PURCHASE_FLOW, SHOP_APP, write_csv


@pytest.fixture
def shop(db):
    install_documents(db, copy.deepcopy(SHOP_APP), {"purchase_flow": copy.deepcopy(PURCHASE_FLOW)})
    return AppCatalog(db)


@pytest.fixture
def people(db, shop):
    with db.write() as conn:
        ids = {who: create_user(conn, f"{who}@example.com", "password123", name=who.title(),
                                roles=[("shop", role)])
               for who, role in (("admin", "admin"), ("clerk", "clerk"), ("other", "clerk"))}
        return {who: load_actor(conn, uid) for who, uid in ids.items()}


def writer(shop, actor, **options) -> BulkWriter:
    app, version_id = shop.get("shop")
    return BulkWriter(app, version_id, app.entity("purchase"), actor, **options)


def test_a_stage_asked_for_goes_through_the_gate_and_a_refusal_leaves_nothing(db, shop, people):
    with db.write() as conn:
        outcomes = writer(shop, people["clerk"]).write(conn, [
            WriteItem({"ref": "P1"}, stage="approved"),                      # the gate needs an amount
            WriteItem({"ref": "P2", "amount": "10"}, stage="approved"),
            WriteItem({"ref": "P3"})])
    assert [o.status for o in outcomes] == ["failed", "created", "created"]
    assert isinstance(outcomes[0].error, GateBlocked)
    assert outcomes[1].record.stage == "approved" and outcomes[2].record.stage == "draft"
    with db.read() as conn:
        assert sorted(conn.execute(select(records.c.title)).scalars()) == ["P2", "P3"]
        assert conn.execute(select(func.count()).select_from(stage_history)
                            .where(stage_history.c.to_stage == "approved")).scalar() == 1


def test_upsert_outcomes_follow_the_items_order(db, shop, people):
    with db.write() as conn:
        outcomes = writer(shop, people["clerk"], upsert_by="ref").write(conn, [
            WriteItem({"ref": "U1", "note": "a"}), WriteItem({"ref": "U2"}), WriteItem({"ref": "u1", "note": "b"}),
            WriteItem({"note": "no key"})])
    assert [o.status for o in outcomes] == ["created", "created", "updated", "failed"]
    assert outcomes[0].record.id == outcomes[2].record.id and outcomes[2].record.data["note"] == "b"
    assert isinstance(outcomes[3].error, Refused) and outcomes[3].error.code == "upsert_key_missing"


def test_an_upsert_key_never_reaches_a_record_the_writer_may_not_read(db, shop, people):
    app, version_id = shop.get("shop")
    with db.write() as conn:
        theirs = create_record(conn, app, app.entity("purchase"), {"ref": "T1", "note": "theirs"},
                               actor_id=people["other"].id)
        [outcome] = writer(shop, people["clerk"], upsert_by="ref").write(conn, [WriteItem({"ref": "T1", "note": "x"})])
    assert outcome.status == "failed" and outcome.error.code == "unique" and outcome.record is None
    with db.read() as conn:
        assert conn.execute(select(records.c.data).where(records.c.id == theirs.id)).scalar()["note"] == "theirs"
        assert conn.execute(select(func.count()).select_from(audit).where(audit.c.record_id == theirs.id)).scalar() == 1


def test_the_import_writes_through_the_bulk_writer(db, shop, people, tmp_path, monkeypatch):
    from formloom.transfer.importer import ImportOptions, prepare
    calls = []
    original = BulkWriter.write

    def spy(self, conn, items, **kw):
        calls.append(len(items))
        return original(self, conn, items, **kw)
    monkeypatch.setattr(BulkWriter, "write", spy)
    path = write_csv(tmp_path / "p.csv", [["Reference", "Amount"], ["I1", "5"], ["I2", "6"]])
    result = prepare(db, shop, "shop", "purchase", path, "p.csv", actor=people["clerk"],
                     options=ImportOptions(mode="skip-bad-rows")).run()
    assert result.created == 2 and calls == [2]
