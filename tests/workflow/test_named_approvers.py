"""A named approver (`user:EMAIL`) is checked where it can be known.

`formloom validate` reads documents, and accounts are data (the same documents go
into many databases, often before the people are invited), so validate checks what
the documents say (syntax, roles) and `formloom install` warns, with the place in
the workflow, about people who have no active account in that database."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

from click.testing import CliRunner
from sqlalchemy import update

from formloom.auth.users import create_user
from formloom.cli import main
from formloom.definitions.validate import validate_workflow
from formloom.store.tables import users
from formloom.workflow.approvers import named_approver_problems

from .test_approvals import approval_app, with_approval

HELPDESK = Path(__file__).resolve().parents[1] / "apps" / "helpdesk"
STEPS = {"steps": [{"key": "lead", "approvers": ["manager"]},
                   {"key": "top", "approvers": ["user:director@example.com", "user:ghost@example.com"]}]}


def offer_index(workflow: dict) -> int:
    return next(i for i, s in enumerate(workflow["stages"]) if s["key"] == "offer")


def test_validate_checks_what_the_documents_say_and_not_who_has_an_account():
    wf = with_approval({"steps": [{"key": "top", "approvers": ["user:ghost@example.com", "role:boss"]}]})
    problems = validate_workflow(wf, approval_app(), "workflows/hiring.json")
    at = f"$.stages[{offer_index(wf)}].gate.approval.steps[0].approvers"
    assert [(p.json_path, "'boss'" in p.message) for p in problems] == [(f"{at}[1]", True)]


def test_install_time_check_names_each_person_without_an_account_and_where(db, install):
    wf = with_approval(STEPS)
    install(wf, approval_app())
    with db.write() as conn:
        create_user(conn, "director@example.com", "password123")
        problems = named_approver_problems(conn, {"hiring": ("workflows/hiring.json", wf)})
    assert [(p.source, p.json_path) for p in problems] == [
        ("workflows/hiring.json", f"$.stages[{offer_index(wf)}].gate.approval.steps[1].approvers[1]")]
    assert "'ghost@example.com'" in problems[0].message and "admins decide" in problems[0].message


def test_a_deactivated_account_counts_as_none(db, install):
    wf = with_approval(STEPS)
    install(wf, approval_app())
    with db.write() as conn:
        for name in ("director", "ghost"):
            create_user(conn, f"{name}@example.com", "password123")
        assert named_approver_problems(conn, {"hiring": ("workflows/hiring.json", wf)}) == []
        conn.execute(update(users).where(users.c.email == "ghost@example.com").values(active=False))
        assert len(named_approver_problems(conn, {"hiring": ("workflows/hiring.json", wf)})) == 1


def test_formloom_install_warns_and_still_installs(database_url, tmp_path, monkeypatch):
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.setenv("FORMLOOM_INSTANCE", str(tmp_path / "instance"))
    folder = tmp_path / "helpdesk"
    shutil.copytree(HELPDESK, folder)
    flow_path = folder / "workflows" / "ticket_flow.json"
    flow = json.loads(flow_path.read_text())
    flow["stages"][4]["gate"] = {"approval": {"steps": [{"key": "lead", "approvers": ["user:lead@example.com"]}]}}
    flow_path.write_text(json.dumps(flow))
    run = CliRunner()
    assert run.invoke(main, ["init"]).exit_code == 0

    first = run.invoke(main, ["install", str(folder)])
    assert first.exit_code == 0 and "version 1" in first.output
    assert ("warning: workflows/ticket_flow.json: $.stages[4].gate.approval.steps[0].approvers[0]: "
            "Approval step 1 of stage 'rejected' names the user 'lead@example.com'") in first.output

    assert run.invoke(main, ["user", "add", "lead@example.com", "--password", "password123"]).exit_code == 0
    again = run.invoke(main, ["install", str(folder)])
    assert again.exit_code == 0 and "nothing to do" in again.output and "warning" not in again.output
