import pytest
from werkzeug.datastructures import MultiDict

from formloom.definitions.model import EntityDef, Label
from formloom.fields import field_type
from formloom.fields.dates import parse_datetime
from formloom.forms import build_form_class, form_to_data


def test_date_accepts_iso_dates(clean):
    assert clean("date", "2024-02-29") == "2024-02-29"


@pytest.mark.parametrize("raw", ["2024-02-30", "2023-02-29", "2024-13-01", "2024-00-10"])
def test_date_refuses_days_not_in_calendar(refuse, raw):
    error = refuse("date", raw)
    assert error.code == "invalid_date" and raw in error.message


@pytest.mark.parametrize("raw", ["2024-2-3", "20240203", "2024/02/03", "03.02.2024", "2024-02-03T00:00",
                                 " 2024-02-03", "2024-02-03\n", "２０２４-02-03", 20240203, None])
def test_date_is_strict_yyyy_mm_dd(refuse, raw):
    assert refuse("date", raw).code == "invalid_date"


def test_date_bounds(refuse, clean):
    assert clean("date", "2025-01-01", min="2025-01-01", max="2025-12-31")
    assert refuse("date", "2024-12-31", min="2025-01-01").code == "too_early"
    assert refuse("date", "2026-01-01", max="2025-12-31").code == "too_late"


@pytest.mark.parametrize("raw, stored", [
    ("2026-11-23T09:00:00+08:00", "2026-11-23T01:00:00Z"),
    ("2026-11-23T09:00:00Z", "2026-11-23T09:00:00Z"),
    ("2026-11-23T09:00Z", "2026-11-23T09:00:00Z"),
    ("2026-11-23t09:00:00.123456-05:30", "2026-11-23T14:30:00Z"),
    ("2026-01-01T02:00:00+08:00", "2025-12-31T18:00:00Z"),
])
def test_datetime_is_stored_in_utc(clean, raw, stored):
    assert clean("datetime", raw) == stored


def test_naive_datetime_is_refused_asking_for_a_timezone(refuse):
    error = refuse("datetime", "2026-11-23T09:00:00")
    assert error.code == "timezone_required"
    assert "timezone" in error.message


@pytest.mark.parametrize("raw", ["2026-02-30T09:00:00Z", "2026-11-23T25:00:00Z", "2026-11-23T09:00:00+25:00",
                                 "2026-11-23", "tomorrow", 1700000000, "0001-01-01T00:00:00+01:00"])
def test_datetime_refuses_invalid(refuse, raw):
    assert refuse("datetime", raw).code == "invalid_datetime"


def test_datetime_display_in_iso_minutes(make_field):
    assert field_type("datetime").display(make_field("datetime"), "2026-11-23T09:00:00Z", "en") == "2026-11-23T09:00Z"


def test_parse_datetime_needs_offset():
    assert parse_datetime("2026-11-23T09:00:00") is None
    assert parse_datetime("2026-11-23T09:00:00+00:00").tzinfo is not None


def test_form_reads_local_time_in_form_timezone(make_field):
    entity = EntityDef("e", Label.of("E"), "at", (make_field("datetime", key="at"),))
    form_class = build_form_class(entity, "en", timezone="Asia/Shanghai")
    form = form_class(MultiDict({"at": "2026-11-23T09:00"}))
    assert form.validate()
    assert form.at.cleaned == "2026-11-23T01:00:00Z"
    assert form_to_data(form, entity)["at"] == "2026-11-23T09:00:00+08:00"


def test_edit_form_shows_local_time(make_field):
    entity = EntityDef("e", Label.of("E"), "at", (make_field("datetime", key="at"),))
    form = build_form_class(entity, "en", timezone="Asia/Shanghai").for_record({"at": "2026-11-23T01:00:00Z"})
    assert 'value="2026-11-23T09:00"' in form.at()


def test_date_types_sql_kind():
    assert field_type("date").sql_kind == "date" and field_type("datetime").sql_kind == "datetime"
