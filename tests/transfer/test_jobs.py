"""Import jobs: progress in the jobs table, resumed by the worker after the process that
ran them died (from the row after the last committed batch), cancelled, re-runnable."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

from sqlalchemy import select, update

from formloom.automation.worker import run_once
from formloom.store.tables import jobs, records
from formloom.transfer import jobs as import_jobs
from formloom.transfer.importer import ImportOptions

from .conftest import write_csv


def refs(db) -> list[str]:
    with db.read() as conn:
        return sorted(r["ref"] for r in conn.execute(select(records.c.data).where(
            records.c.entity_key == "purchase")).scalars())


def new_job(db, people, path, **options):
    return import_jobs.create_job(db, user_id=people["clerk"].id, app_key="shop", entity_key="purchase", path=path,
                                  filename=path.name, sheet=None, mapping={0: "ref", 1: "amount"},
                                  options=ImportOptions(**options), lang="en")


def test_a_job_runs_and_records_its_result(db, shop, people, tmp_path):
    path = write_csv(tmp_path / "j.csv", [["Reference", "Amount"], ["J-1", "1"], ["J-2", "x"], ["J-3", "3"]])
    job_id = new_job(db, people, path, mode="skip-bad-rows")
    assert import_jobs.run(db, shop, job_id) == "done"
    seen = import_jobs.view(db, job_id)
    assert seen["status"] == "done"
    assert {k: seen["progress"][k] for k in ("total", "done", "created", "failed")} == {
        "total": 3, "done": 3, "created": 2, "failed": 1}
    assert seen["errors"] == [{"row": 3, "column": "Amount", "value": "x", "message": "'x' is not an amount of money."}]
    bad = seen["payload"]["bad_rows"]
    from pathlib import Path
    assert Path(bad).read_text(encoding="utf-8-sig").splitlines() == [
        "Reference,Amount,error", "J-2,x,Amount: 'x' is not an amount of money."]


def test_the_worker_resumes_a_job_whose_process_died(db, shop, people, tmp_path):
    rows = [["Reference", "Amount"]] + [[f"R-{i}", str(i)] for i in range(1, 7)]
    path = write_csv(tmp_path / "r.csv", rows)
    job_id = new_job(db, people, path, mode="skip-bad-rows", upsert_by="ref")
    # the first process committed rows 2-4 (R-1..R-3) with its progress, then died
    first = write_csv(tmp_path / "first.csv", rows[:4])
    from formloom.transfer.importer import prepare
    prepare(db, shop, "shop", "purchase", first, "r.csv", actor=people["clerk"], mapping={0: "ref", 1: "amount"},
            options=ImportOptions(mode="skip-bad-rows", upsert_by="ref")).run()
    with db.write() as conn:
        payload = conn.execute(select(jobs.c.payload).where(jobs.c.id == job_id)).scalar_one()
        conn.execute(update(jobs).where(jobs.c.id == job_id).values(
            payload={**payload, "next_row": 4, "progress": {"total": 6, "done": 3, "created": 3, "updated": 0,
                                                            "skipped": 0, "failed": 0}},
            lease_until=datetime.now(timezone.utc) - timedelta(seconds=1)))
    assert run_once(db, shop) >= 1                      # the worker claims the expired import and resumes it
    seen = import_jobs.view(db, job_id)
    assert seen["status"] == "done" and seen["progress"]["created"] == 6 and seen["progress"]["done"] == 6
    assert refs(db) == [f"R-{i}" for i in range(1, 7)]  # no duplicates, nothing lost
    again = new_job(db, people, path, mode="skip-bad-rows", upsert_by="ref")
    assert import_jobs.run(db, shop, again) == "done"   # a re-run with upsert changes nothing
    assert import_jobs.view(db, again)["progress"]["skipped"] == 6 and len(refs(db)) == 6


def test_cancelling_a_job_no_process_runs_marks_it_so_no_worker_resumes_it(db, shop, people, tmp_path):
    path = write_csv(tmp_path / "c.csv", [["Reference", "Amount"], ["C-1", "1"]])
    job_id = new_job(db, people, path)
    import_jobs.cancel(db, job_id)
    assert import_jobs.view(db, job_id)["status"] == "cancelled"
    assert import_jobs.run(db, shop, job_id) == "cancelled" and refs(db) == []


def test_a_job_of_a_user_who_left_fails_with_a_reason(db, shop, people, tmp_path):
    from formloom.auth.users import set_active
    path = write_csv(tmp_path / "g.csv", [["Reference"], ["G-1"]])
    job_id = new_job(db, people, path)
    with db.write() as conn:
        set_active(conn, people["clerk"].id, False)
    assert import_jobs.run(db, shop, job_id) == "failed"
    assert "no longer active" in import_jobs.view(db, job_id)["error"] and refs(db) == []
