"""Importing rows through the same validation, policy, stage guard, audit and events
as a form: every kind of bad row, the modes, dry runs, upsert and value conversion."""
from __future__ import annotations

from datetime import datetime, timezone

import pytest
from sqlalchemy import func, select

from formloom.store.tables import audit, events, records, stage_history
from formloom.transfer.importer import ImportOptions, ImportRefused, prepare

from .conftest import write_csv, write_xlsx

HEADER = ["Reference", "Supplier", "Priority", "Tags", "Amount", "Quantity", "Placed on", "Call at", "Paid",
          "Buyer", "Note", "Stage"]


def run(db, shop, path, actor, lang="en", mapping=None, **options):
    return prepare(db, shop, "shop", "purchase", path, path.name, actor=actor, lang=lang, mapping=mapping,
                   options=ImportOptions(**options)).run()


def purchases(db) -> dict[str, dict]:
    with db.read() as conn:
        rows = conn.execute(select(records).where(records.c.entity_key == "purchase",
                                                  records.c.deleted_at.is_(None))).all()
    return {r.data["ref"]: {**r.data, "$stage": r.stage, "$owner": r.owner_id, "$id": r.id} for r in rows}


@pytest.fixture
def suppliers(add, people):
    acme = add("supplier", {"name": "Acme", "code": "AC-1"}, people["clerk"])
    twin_a = add("supplier", {"name": "Twin", "code": "TW-1"}, people["clerk"])
    twin_b = add("supplier", {"name": "Twin", "code": "TW-2"}, people["clerk"])
    hidden = add("supplier", {"name": "Private", "code": "PR-1"}, people["other"])
    return {"acme": acme.id, "twin_a": twin_a.id, "twin_b": twin_b.id, "hidden": hidden.id}


def test_values_are_read_as_people_write_them(db, shop, people, suppliers, tmp_path):
    path = write_xlsx(tmp_path / "orders.xlsx", [HEADER,
        ["P-1", "Acme", "高", "加急, Bulk", "¥1,234.50", "1,200", datetime(2026, 11, 23), "2026-11-23 09:30",
         "是", "clerk@example.com", "=HYPERLINK(\"x\")", "Approved"],
        ["P-2", "tw-2", "low", "", "USD 99", 3, "2026/1/5", datetime(2026, 1, 5, 8, 0), "no", "Carl Clerk",
         "'=kept as text", "草稿"],
    ])
    result = run(db, shop, path, people["admin"])
    assert result.as_json() == {"created": 2, "updated": 0, "skipped": 0, "failed": 0, "errors": []}
    got = purchases(db)
    p1, p2 = got["P-1"], got["P-2"]
    assert (p1["supplier"], p1["priority"], p1["tags"], p1["amount"], p1["qty"]) == (
        suppliers["acme"], "high", ["urgent", "bulk"], "1234.50", 1200)
    assert (p1["placed"], p1["call_at"], p1["paid"], p1["buyer"]) == (
        "2026-11-23", "2026-11-23T01:30:00Z", True, people["clerk"].id)        # read in Asia/Shanghai
    assert p1.get("note") is None and p1["$stage"] == "approved"   # a formula without a cached value: never run
    assert (p2["supplier"], p2["amount"], p2["placed"], p2["call_at"], p2["paid"]) == (
        suppliers["twin_b"], "99.00", "2026-01-05", "2026-01-05T00:00:00Z", False)  # by its unique code
    assert p2["note"] == "=kept as text" and p2["$stage"] == "draft"


def test_every_kind_of_bad_row_is_reported_and_a_dry_run_writes_nothing(db, shop, people, suppliers, tmp_path):
    path = write_csv(tmp_path / "bad.csv", [HEADER,
        ["B-1", "Acme", "urgent!", "", "", "", "", "", "", "", "", ""],          # unknown option
        ["B-2", "Nobody Inc", "", "", "", "", "", "", "", "", "", ""],           # missing reference
        ["B-3", "Twin", "", "", "", "", "", "", "", "", "", ""],                 # ambiguous reference
        ["B-4", "Private", "", "", "", "", "", "", "", "", "", ""],              # a record the clerk may not read
        ["B-5", "", "", "", "12.345", "", "", "", "", "", "", ""],                # three decimal places
        ["B-6", "", "", "", "abc", "lots", "31/31/2026", "soon", "maybe", "", "", ""],
        ["B-7", "", "", "", "", "", "", "", "", "Lee", "", ""],                  # a name two users share
        ["B-8", "", "", "", "", "", "", "", "", "ghost@example.com", "", ""],
        ["", "", "", "", "5", "", "", "", "", "", "", ""],                       # required reference missing
        ["B-9", "", "", "", "", "", "", "", "", "", "", "Approved"],             # the gate needs an amount
        ["B-10", "", "", "", "", "", "", "", "", "", "", "Shipped"],             # no such stage
        ["B-11", "", "", "", "-5", "", "", "", "", "", "", ""],                  # below the minimum
        ["G-1", "Acme", "High", "", "10", "", "", "", "", "", "", ""],           # good
        ["G-1", "", "", "", "", "", "", "", "", "", "", ""],                     # unique within the file
    ])
    with db.read() as conn:
        before = conn.execute(select(func.count()).select_from(records)).scalar()
    result = run(db, shop, path, people["clerk"], dry_run=True)
    by_row = {}
    for e in result.errors:
        by_row.setdefault(e.row, []).append(e)
    assert result.created == 1 and result.failed == 13
    assert by_row[2][0].column == "Priority" and "not one of the options: Low, High" in by_row[2][0].message
    assert "no Supplier called 'Nobody Inc'" in by_row[3][0].message
    assert "matches several Supplier records: Twin (#" in by_row[4][0].message and "Write #id" in by_row[4][0].message
    assert "no Supplier called 'Private'" in by_row[5][0].message            # unreadable looks the same as missing
    assert by_row[6][0].column == "Amount" and "2 decimal places" in by_row[6][0].message
    assert {e.column for e in by_row[7]} == {"Amount", "Quantity", "Placed on", "Call at", "Paid"}
    assert "names several users: Lee <lee1@example.com>, Lee <lee2@example.com>" in by_row[8][0].message
    assert "no user with the email or name 'ghost@example.com'" in by_row[9][0].message
    assert by_row[10][0].column == "Reference" and by_row[10][0].message == "This field is required."
    assert by_row[11][0].column == "Stage" and "Amount" in by_row[11][0].message
    assert by_row[12][0].column == "Stage" and "not a stage here" in by_row[12][0].message
    assert "at least 0.00" in by_row[13][0].message
    assert by_row[15][0].column == "Reference" and "already has this value" in by_row[15][0].message
    assert all(e.value is not None for e in result.errors) and by_row[6][0].value == "12.345"
    with db.read() as conn:
        assert conn.execute(select(func.count()).select_from(records)).scalar() == before   # nothing written
    assert not result.committed


def test_messages_are_in_the_importers_language(db, shop, people, suppliers, tmp_path):
    path = write_csv(tmp_path / "zh.csv", [["单号", "优先级", "金额"], ["Z-1", "中", "1"], ["Z-2", "高", "x"]],
                     encoding="gb18030")
    result = run(db, shop, path, people["clerk"], lang="zh", dry_run=True)
    assert [e.column for e in result.errors] == ["优先级", "金额"]
    assert "低, 高" in result.errors[0].message


def test_all_or_nothing_writes_nothing_when_a_row_fails(db, shop, people, tmp_path):
    path = write_csv(tmp_path / "a.csv", [["Reference", "Amount"], ["A-1", "1"], ["A-2", "oops"], ["A-3", "3"]])
    result = run(db, shop, path, people["clerk"])
    assert (result.created, result.failed, result.committed) == (2, 1, False)
    assert purchases(db) == {}


def test_skip_bad_rows_imports_the_rest_and_keeps_the_bad_ones(db, shop, people, tmp_path):
    path = write_csv(tmp_path / "s.csv", [["Reference", "Amount"], ["S-1", "1"], ["S-2", "oops"], ["S-3", "3"]])
    result = run(db, shop, path, people["clerk"], mode="skip-bad-rows", batch_size=2)
    assert (result.created, result.failed, result.committed) == (2, 1, True)
    assert sorted(purchases(db)) == ["S-1", "S-3"]
    assert result.bad_rows == [(3, ["S-2", "oops"], "Amount: 'oops' is not an amount of money.")]


def test_audit_marks_the_file_and_row_and_rules_wait_unless_asked(db, shop, people, tmp_path):
    path = write_csv(tmp_path / "audit me.csv", [["Reference", "Amount", "Stage"], ["U-1", "5", "Approved"]])
    run(db, shop, path, people["clerk"])
    record_id = purchases(db)["U-1"]["$id"]
    with db.read() as conn:
        vias = conn.execute(select(audit.c.action, audit.c.via, audit.c.user_id)
                            .where(audit.c.record_id == record_id).order_by(audit.c.id)).all()
        moves = conn.execute(select(stage_history.c.to_stage).where(stage_history.c.record_id == record_id)
                             .order_by(stage_history.c.id)).scalars().all()
        pending = conn.execute(select(func.count()).select_from(events)
                               .where(events.c.processed_at.is_(None))).scalar()
        written = conn.execute(select(func.count()).select_from(events).where(events.c.record_id == record_id)).scalar()
    assert vias[0] == ("create", "import: audit me.csv row 2", people["clerk"].id)
    assert [v.action for v in vias] == ["create", "stage"] and moves == ["draft", "approved"]
    assert written >= 2 and pending == 0           # events written, handled without running rules

    path2 = write_csv(tmp_path / "rules.csv", [["Reference"], ["U-2"]])
    run(db, shop, path2, people["clerk"], run_rules=True)
    with db.read() as conn:
        assert conn.execute(select(func.count()).select_from(events).where(events.c.processed_at.is_(None))).scalar() == 1


def test_upsert_updates_matches_skips_unchanged_rows_and_is_safe_to_rerun(db, shop, people, tmp_path):
    path = write_csv(tmp_path / "u.csv", [["Reference", "Amount"], ["R-1", "1"], ["R-2", "2"]])
    first = run(db, shop, path, people["clerk"], upsert_by="ref")
    again = run(db, shop, path, people["clerk"], upsert_by="ref")
    assert (first.created, again.created, again.skipped, again.updated) == (2, 0, 2, 0)
    write_csv(path, [["Reference", "Amount"], ["r-1", "10"], ["R-3", "3"]])
    third = run(db, shop, path, people["clerk"], upsert_by="ref")
    assert (third.created, third.updated, third.skipped) == (1, 1, 0)
    got = purchases(db)
    assert sorted(got) == ["R-2", "R-3", "r-1"] and got["r-1"]["amount"] == "10.00"   # unique values match ignoring case


def test_upsert_never_touches_a_record_the_importer_may_not_read(db, shop, people, add, tmp_path):
    add("purchase", {"ref": "THEIRS", "amount": "1"}, people["other"])
    path = write_csv(tmp_path / "u.csv", [["Reference", "Amount"], ["THEIRS", "999"]])
    result = run(db, shop, path, people["clerk"], upsert_by="ref")
    assert result.failed == 1 and "already has this value" in result.errors[0].message
    assert purchases(db)["THEIRS"]["amount"] == "1.00"


def test_an_admin_may_move_past_a_gate_with_a_reason(db, shop, people, tmp_path):
    path = write_csv(tmp_path / "g.csv", [["Reference", "Stage"], ["O-1", "approved"]])
    assert run(db, shop, path, people["clerk"]).failed == 1
    result = run(db, shop, path, people["admin"], override_reason="migrated from the old system")
    assert result.created == 1
    with db.read() as conn:
        reason = conn.execute(select(stage_history.c.override_reason).where(stage_history.c.to_stage == "approved")
                              ).scalar()
    assert reason == "migrated from the old system"


def test_owner_column_assigns_by_email(db, shop, people, tmp_path):
    path = write_csv(tmp_path / "o.csv", [["Reference", "Owner"], ["W-1", "other@example.com"]])
    assert run(db, shop, path, people["admin"]).created == 1
    assert purchases(db)["W-1"]["$owner"] == people["other"].id


def test_refusals_before_any_row(db, shop, people, tmp_path):
    path = write_csv(tmp_path / "r.csv", [["Reference", "Internal"], ["X-1", "s"]])
    with pytest.raises(ImportRefused, match="no such field you may write"):
        run(db, shop, path, people["clerk"], mapping={0: "ref", 1: "secret"})
    with pytest.raises(ImportRefused, match="not a unique field"):
        run(db, shop, path, people["admin"], upsert_by="note")
    with pytest.raises(ImportRefused, match="Unknown mode"):
        run(db, shop, path, people["admin"], mode="sometimes")


def test_cancelling_an_all_or_nothing_import_writes_nothing(db, shop, people, tmp_path):
    rows = [["Reference"]] + [[f"C-{i}"] for i in range(450)]
    path = write_csv(tmp_path / "c.csv", rows)
    importer = prepare(db, shop, "shop", "purchase", path, path.name, actor=people["clerk"],
                       options=ImportOptions(), cancelled=lambda: True)
    result = importer.run()
    assert result.cancelled and not result.committed and result.done == 200
    assert purchases(db) == {}


def _planner_row_count(db) -> float:
    """How many rows of `records` the planner's statistics know of (0 before any ANALYZE saw them)."""
    from sqlalchemy import text
    with db.read() as conn:
        if conn.dialect.name == "postgresql":
            return max(float(conn.execute(text("SELECT reltuples FROM pg_class WHERE oid = 'records'::regclass"))
                             .scalar()), 0)
        stats = conn.execute(text("SELECT stat FROM sqlite_stat1 WHERE tbl = 'records'")).scalars().all()
    return max((int(s.split()[0]) for s in stats if s), default=0)


def test_a_large_import_refreshes_the_planners_statistics(db, shop, people, tmp_path):
    """Statistics gathered while the table was empty make the planner sort every match
    instead of walking the sort field's index; an import that grows an entity by a large
    share analyzes `records` itself, with no operator."""
    rows = [["Reference", "Amount"]] + [[f"B-{n}", str(n)] for n in range(600)]
    result = run(db, shop, write_csv(tmp_path / "big.csv", rows), people["clerk"], mode="skip-bad-rows")
    assert result.created == 600
    assert _planner_row_count(db) >= 600
