"""Local times of day across DST changes, in the app's timezone."""
import pytest

from formloom.automation.timing import cron_occurrences, date_trigger_due, is_nonexistent
from datetime import datetime

from .conftest import at, rule

NEW_YORK = {"timezone": "America/New_York"}


def due(value, tz="America/New_York", at_time="09:00", offset=None):
    return date_trigger_due(value, is_date=True, offset=offset, at=at_time, business_days=False, tz_name=tz)


@pytest.mark.parametrize("day, utc", [
    ("2026-03-07", "2026-03-07T14:00:00Z"),    # EST, before spring forward (March 8)
    ("2026-03-09", "2026-03-09T13:00:00Z"),    # EDT after
    ("2026-10-31", "2026-10-31T13:00:00Z"),    # EDT, before fall back (November 1)
    ("2026-11-02", "2026-11-02T14:00:00Z"),    # EST after
])
def test_nine_oclock_in_new_york_across_both_changes(day, utc):
    assert due(day) == at(utc)


def test_a_nonexistent_local_time_is_shifted_forward():
    assert is_nonexistent(datetime(2026, 3, 8, 2, 30), "America/New_York")
    assert due("2026-03-08", at_time="02:30") == at("2026-03-08T07:30:00Z")      # 03:30 EDT


def test_an_ambiguous_local_time_means_its_first_occurrence():
    assert due("2026-11-01", at_time="01:30") == at("2026-11-01T05:30:00Z")      # 01:30 EDT, not EST


def test_shanghai_has_no_dst():
    assert due("2026-03-10", tz="Asia/Shanghai") == at("2026-03-10T01:00:00Z")
    assert due("2026-07-10", tz="Asia/Shanghai", offset="-P3D") == at("2026-07-07T01:00:00Z")


def test_cron_in_local_time_fires_once_in_the_repeated_hour_and_after_the_gap():
    fall = list(_take(cron_occurrences("30 1 * * *", "America/New_York", at("2026-10-31T12:00:00Z")), 2))
    assert fall == [at("2026-11-01T05:30:00Z"), at("2026-11-02T06:30:00Z")]
    spring = list(_take(cron_occurrences("30 2 * * *", "America/New_York", at("2026-03-07T12:00:00Z")), 3))
    assert spring == [at("2026-03-08T07:30:00Z"), at("2026-03-09T06:30:00Z"), at("2026-03-10T06:30:00Z")]


def _take(iterator, n):
    for _ in range(n):
        yield next(iterator)


def test_reminders_at_nine_fire_at_the_right_instant_across_dst(desk_factory):
    desk = desk_factory([rule("morning", {"type": "date_field", "field": "due", "at": "09:00"})], **NEW_YORK)
    before = desk.create(due="2026-03-07")
    after = desk.create(due="2026-03-09")
    desk.process()
    for instant in ("2026-03-07T13:59:00Z", "2026-03-07T14:00:00Z", "2026-03-09T12:59:00Z", "2026-03-09T13:00:00Z"):
        desk.travel(instant)
        desk.work()
    assert [(r.record_id, r.at.replace(tzinfo=None).isoformat()) for r in desk.runs()] == [
        (before.id, "2026-03-07T14:00:00"), (after.id, "2026-03-09T13:00:00")]


def test_an_ambiguous_reminder_fires_once(desk_factory):
    desk = desk_factory([rule("early", {"type": "date_field", "field": "due", "at": "01:30"})], **NEW_YORK)
    desk.travel("2026-10-30T12:00:00Z")
    desk.create(due="2026-11-01")
    desk.process()
    for instant in ("2026-11-01T05:30:00Z", "2026-11-01T06:30:00Z", "2026-11-01T07:00:00Z"):
        desk.travel(instant)    # 01:30 EDT, then 01:30 EST
        desk.work()
    assert len(desk.runs("early")) == 1


def test_a_nonexistent_reminder_fires_once_after_the_gap(desk_factory):
    desk = desk_factory([rule("early", {"type": "date_field", "field": "due", "at": "02:30"})], **NEW_YORK)
    desk.create(due="2026-03-08")
    desk.process()
    desk.travel("2026-03-08T07:29:00Z")
    assert desk.work() == 0
    desk.travel("2026-03-08T07:30:00Z")
    assert desk.work() == 1
    assert len(desk.runs("early")) == 1


def test_shanghai_app_reminder(desk_factory):
    desk = desk_factory([rule("morning", {"type": "date_field", "field": "due", "offset": "-P1D", "at": "09:00"})],
                        timezone="Asia/Shanghai")
    desk.create(due="2026-03-10")
    desk.process()
    assert [j.due_at.replace(tzinfo=None).isoformat() for j in desk.pending()] == ["2026-03-09T01:00:00"]
