"""`formloom rules dry-run`: the same dry-run as the designer's, from the command line;
it lists the reminders a rule would send, with the message, and does nothing."""
from __future__ import annotations

import json

from sqlalchemy import func, select

from formloom.store.tables import jobs, notifications

from .test_cli_automation import DUE_RULE, clock, cli, support, write_template  # noqa: F401 (fixtures)


def test_dry_run_lists_the_reminders_with_their_message_and_does_nothing(cli, support, db):
    with db.read() as conn:
        before = (conn.execute(select(func.count()).select_from(jobs)).scalar(),
                  conn.execute(select(func.count()).select_from(notifications)).scalar())
    result = cli("rules", "dry-run", "support", "due_tomorrow", "--json")
    assert result.exit_code == 0, result.output
    run = json.loads(result.output)
    assert run["timed"] and run["items"]
    first = run["items"][0]
    assert first["acts"] and first["actions"][0]["type"] == "notify"
    assert first["actions"][0]["body"].endswith("is due tomorrow")
    with db.read() as conn:
        after = (conn.execute(select(func.count()).select_from(jobs)).scalar(),
                 conn.execute(select(func.count()).select_from(notifications)).scalar())
    assert before == after
    text = cli("rules", "dry-run", "support", "ticket_flow.due_tomorrow")
    assert text.exit_code == 0 and "Nothing was done." in text.output and "is due tomorrow" in text.output


def test_an_unknown_rule_or_a_bad_moment_is_a_one_line_error(cli, support):
    result = cli("rules", "dry-run", "support", "nope")
    assert result.exit_code == 1 and "no rule 'nope'" in result.stderr
    result = cli("rules", "dry-run", "support", "due_tomorrow", "--at", "tomorrow")
    assert result.exit_code == 1 and "ISO 8601" in result.stderr
