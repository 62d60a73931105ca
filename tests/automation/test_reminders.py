"""Time triggers as durable reminder rows: created, moved, cancelled, fired once."""
from datetime import timedelta

from formloom.automation import due_reminders, resync_app
from formloom.store.tables import jobs

from .conftest import at, rule


def due_times(desk, rule_key=None):
    return [j.due_at.replace(tzinfo=None).isoformat() for j in desk.pending(rule_key)]


def test_date_field_reminder_moves_with_the_date_and_fires_once(desk_factory):
    desk = desk_factory([rule("due_soon", {"type": "date_field", "field": "due", "offset": "-P1D", "at": "09:00"})])
    ticket = desk.create(due="2026-03-10")
    desk.process()
    assert due_times(desk) == ["2026-03-09T08:00:00"]         # 09:00 Berlin (CET)
    desk.update(ticket, due="2026-03-12")
    desk.process()
    assert due_times(desk) == ["2026-03-11T08:00:00"]
    cancelled = desk.rows(jobs, jobs.c.status == "cancelled")
    assert len(cancelled) == 1
    desk.travel("2026-03-11T07:59:00Z")
    assert desk.work() == 0
    desk.travel("2026-03-11T08:00:00Z")
    assert desk.work() == 1
    assert desk.work() == 0
    assert len(desk.notes_for("ann")) == 1
    assert [r.outcome for r in desk.runs("due_soon")] == ["fired"]


def test_stage_idle_reminder_is_cancelled_when_the_stage_changes(desk_factory):
    desk = desk_factory([rule("stuck", {"type": "stage_idle", "stage": "new", "after": "PT48H"})])
    ticket = desk.create()
    other = desk.create(subject="Other")
    desk.process()
    assert due_times(desk) == ["2026-03-04T08:00:00", "2026-03-04T08:00:00"]
    desk.move(ticket, "open")
    desk.process()
    assert [j.record_id for j in desk.pending()] == [other.id]
    desk.travel("2026-03-04T08:00:00Z")
    desk.work()
    assert [r.record_id for r in desk.runs("stuck")] == [other.id]


def test_condition_no_longer_holding_skips_the_reminder_and_logs_it(desk_factory):
    desk = desk_factory([rule("due_soon", {"type": "date_field", "field": "due"},
                              condition={"!": {"var": "$terminal"}})])
    ticket = desk.create(due="2026-03-05")
    desk.process()
    desk.move(ticket, "dropped")
    desk.travel("2026-03-05T00:00:00Z")
    desk.work()
    assert [r.outcome for r in desk.runs("due_soon")] == ["skipped"]
    assert desk.notes_for("ann") == []


def test_business_days_skip_weekends_and_holidays(desk_factory):
    desk = desk_factory([rule("prep", {"type": "date_field", "field": "due", "offset": "-P3D", "at": "09:00",
                                       "business_days": True})], holidays=["2026-03-06"])
    desk.create(due="2026-03-09")           # a Monday; Friday the 6th is a holiday
    desk.process()
    assert due_times(desk) == ["2026-03-03T08:00:00"]


def test_datetime_field_with_an_hour_offset(desk_factory):
    desk = desk_factory([rule("call", {"type": "date_field", "field": "callback_at", "offset": "-PT2H"})])
    desk.create(callback_at="2026-03-05T10:30:00Z")
    desk.process()
    assert due_times(desk) == ["2026-03-05T08:30:00"]


def test_no_related_clock_restarts_with_each_new_related_record(desk_factory):
    desk = desk_factory([rule("quiet", {"type": "no_related", "entity": "note", "via": "ticket", "for": "P7D"})])
    ticket = desk.create()
    desk.process()
    assert due_times(desk) == ["2026-03-09T08:00:00"]
    desk.travel("2026-03-05T08:00:00Z")
    desk.create("note", text="called", ticket=ticket.id)
    desk.process()
    assert due_times(desk) == ["2026-03-12T08:00:00"]
    desk.travel("2026-03-09T08:00:00Z")
    assert desk.work() == 0
    desk.travel("2026-03-12T08:00:00Z")
    desk.work()
    assert len(desk.runs("quiet")) == 1


def test_repeat_fires_up_to_max_more_times(desk_factory):
    desk = desk_factory([rule("nag", {"type": "stage_idle", "stage": "new", "after": "P1D"},
                              repeat={"every": "P1D", "max": 2})])
    desk.create()
    desk.process()
    for day in ("03", "04", "05", "06", "07"):
        desk.travel(f"2026-03-{day}T08:00:00Z")
        desk.work()
    assert len(desk.notes_for("ann")) == 3


def test_after_downtime_a_due_reminder_fires_once_marked_late(desk_factory):
    desk = desk_factory([rule("stuck", {"type": "stage_idle", "stage": "new", "after": "PT1H"})])
    desk.create()
    desk.process()
    desk.travel("2026-03-05T12:00:00Z")        # the worker was down for days
    desk.work()
    desk.work()
    [run] = desk.runs("stuck")
    assert run.outcome == "fired" and run.late and "late" in run.message


def test_schedule_fires_once_per_occurrence_in_the_app_timezone(desk_factory):
    desk = desk_factory([rule("digest", {"type": "schedule", "cron": "0 9 * * 1-5"},
                              {"type": "notify", "to": ["role:lead"], "message": "Daily digest"})])
    desk.travel("2026-03-02T07:00:00Z")
    desk.work()                               # first pass: the next occurrence is materialized
    assert due_times(desk, "digest") == ["2026-03-02T08:00:00"]
    desk.travel("2026-03-02T08:00:00Z")       # 09:00 Berlin, Monday
    desk.work()
    desk.work()
    assert len(desk.notes_for("boss")) == 1
    assert due_times(desk, "digest") == ["2026-03-03T08:00:00"]
    desk.travel("2026-03-06T10:00:00Z")       # down Tuesday to Friday: fires once, late
    desk.work()
    assert len(desk.notes_for("boss")) == 2
    assert due_times(desk, "digest") == ["2026-03-09T08:00:00"]


def test_schedule_with_a_condition_fires_for_each_matching_record(desk_factory):
    desk = desk_factory([rule("overdue", {"type": "schedule", "cron": "0 9 * * *"},
                              {"type": "notify", "to": ["owner"], "message": "{{ record.subject }} is overdue"},
                              condition={"<": [{"var": "due"}, {"var": "$today"}]})])
    desk.create(subject="late one", due="2026-03-01")
    desk.create(subject="fine one", due="2026-03-09")
    desk.work()
    desk.travel("2026-03-03T08:00:00Z")
    desk.work()
    assert [n.body for n in desk.notes_for("ann")] == ["late one is overdue"]


def test_resync_app_follows_rule_changes(desk_factory):
    desk = desk_factory([])
    ticket = desk.create(due="2026-03-20")
    desk.work()
    assert desk.pending() == []
    desk.reinstall([rule("due_soon", {"type": "date_field", "field": "due", "offset": "-P1D"})])
    desk.work()                               # the worker notices the new version and resyncs
    assert due_times(desk) == ["2026-03-18T23:00:00"]
    desk.reinstall([rule("due_soon", {"type": "date_field", "field": "due", "offset": "-P2D"})])
    with desk.db.write() as conn:
        assert resync_app(conn, desk.app) == 1
    assert due_times(desk) == ["2026-03-17T23:00:00"]   # moved, same row
    desk.reinstall([rule("due_soon", {"type": "date_field", "field": "due"}, enabled=False)])
    desk.work()
    assert desk.pending() == []
    assert ticket.id


def test_due_reminders_previews_without_firing(desk_factory):
    desk = desk_factory([rule("due_soon", {"type": "date_field", "field": "due", "at": "09:00"}),
                         rule("daily", {"type": "schedule", "cron": "0 12 * * *"},
                              {"type": "notify", "to": ["role:lead"]})])
    first = desk.create(due="2026-03-04")
    desk.create(due="2026-03-30")
    desk.work()
    with desk.db.read() as conn:
        preview = due_reminders(conn, at("2026-03-05T00:00:00Z"), "support", catalog=desk.catalog)
    assert [(r.rule_key, r.record_id) for r in preview] == [
        ("daily", None), ("daily", None), ("due_soon", first.id), ("daily", None)]
    assert preview[2].due_at == at("2026-03-04T08:00:00Z")
    assert preview[0].due_at == at("2026-03-02T11:00:00Z")
    assert desk.runs() == []
    assert all(r.due_at <= at("2026-03-05T00:00:00Z") for r in preview)
    assert timedelta(0) < preview[0].due_at - at("2026-03-02T08:00:00Z")
