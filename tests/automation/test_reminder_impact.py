"""The publish preview's reminder impact is what publishing then does: it is computed
by running the install's own rescheduling (resync_app) over the draft in a
transaction that is rolled back, so its counts per rule match the reminder rows
publishing creates, moves and cancels, and the preview itself leaves none."""
from __future__ import annotations

from formloom.definitions.compile import compile_app
from formloom.design import drafts, rule_edits
from formloom.design.impact import reminder_changes

from .conftest import rule
from .test_dry_run import NO_NOTE


def draft_app(desk, change):
    with desk.db.write() as conn:
        draft = drafts.load_draft(conn, "support")
        rule_edits.edit_workflow(conn, "support", draft.revision if draft else 0, None, "ticket_flow", change)
        draft = drafts.load_draft(conn, "support")
    return draft, compile_app(draft.app, draft.workflows)


def pending(desk) -> dict:
    return {j.id: (j.rule_key, j.record_id, j.due_at) for j in desk.pending()}


def test_the_preview_counts_what_publishing_then_does(desk_factory):
    desk = desk_factory([rule("due_soon", {"type": "date_field", "field": "due", "offset": "-P1D", "at": "09:00"}),
                         rule("stuck", {"type": "stage_idle", "stage": "new", "after": "P2D"})])
    first = desk.create(subject="One", due="2026-03-10")
    second = desk.create(subject="Two", due="2026-03-12")
    desk.process()
    moved_offset = rule("due_soon", {"type": "date_field", "field": "due", "offset": "-P2D", "at": "09:00"})

    def change(wf):
        wf = rule_edits.replace_rule(wf, "due_soon", moved_offset)
        wf = rule_edits.set_rule_enabled(wf, "stuck", False)
        return rule_edits.add_rule(wf, NO_NOTE)

    draft, new_app = draft_app(desk, change)
    before = pending(desk)
    changes = reminder_changes(desk.db, new_app, desk.now())
    assert pending(desk) == before                                   # the preview left nothing behind
    counted = {c.rule: (c.created, c.moved, c.cancelled) for c in changes}
    assert counted == {"due_soon": (0, 2, 0), "stuck": (0, 0, 2), "no_note_3d": (2, 0, 0)}
    due_soon = next(c for c in changes if c.rule == "due_soon")
    assert {e[1] for e in due_soon.examples} == {first.id, second.id}

    drafts.publish_draft(desk.db, "support", revision=draft.revision, user_id=None, comment=None,
                         catalog=desk.catalog)
    after = pending(desk)
    created = [v for k, v in after.items() if k not in before]
    cancelled = [v for k, v in before.items() if k not in after]
    moved = [v for k, v in after.items() if k in before and before[k][2] != v[2]]
    assert (len(created), len(moved), len(cancelled)) == (2, 2, 2)
    assert {v[0] for v in created} == {"no_note_3d"} and {v[0] for v in cancelled} == {"stuck"}
