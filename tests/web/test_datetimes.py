"""Every date and time a person reads is formatted for their language and shown in their
own timezone (profile, else the app's), with the zone written where it could be ambiguous;
never raw ISO text (web/datetimes.py, the `when` filters)."""
from __future__ import annotations

import copy
import re
from datetime import date, datetime, timezone
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import update

from formloom.auth.tokens import create_token
from formloom.store.install import install_documents
from formloom.store.tables import api_tokens, users
from formloom.web.datetimes import format_day, format_moment, zone_label

from .desk import CASE_FLOW, desk_app

RAW_ISO = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}")
MOMENT = "2026-11-20T05:30:00Z"          # 13:30 in Shanghai, 06:30 in Berlin


def test_format_for_each_language_and_zone():
    moment = datetime(2026, 11, 20, 5, 30, tzinfo=timezone.utc)
    shanghai = ZoneInfo("Asia/Shanghai")
    assert format_moment(moment, "en", shanghai) == "20 Nov 2026, 13:30"
    assert format_moment(moment, "zh", shanghai) == "2026年11月20日 13:30"
    assert format_moment(moment, "en", shanghai, show_zone=True) == "20 Nov 2026, 13:30 UTC+8"
    assert format_moment(moment, "en", ZoneInfo("Asia/Kolkata"), show_zone=True) == "20 Nov 2026, 11:00 UTC+5:30"
    assert format_moment(moment, "en", ZoneInfo("UTC"), show_zone=True) == "20 Nov 2026, 05:30 UTC"
    assert format_day(date(2026, 2, 3), "zh") == "2026年2月3日" and format_day(date(2026, 2, 3), "en") == "3 Feb 2026"
    assert zone_label(moment.astimezone(ZoneInfo("America/St_Johns"))) == "UTC-3:30"


def _with_datetime_field(app):
    doc = desk_app()
    case = next(e for e in doc["entities"] if e["key"] == "case")
    case["fields"].append({"key": "last_contact", "type": "datetime", "label": {"en": "Last contact", "zh": "最近联系"}})
    case["list_columns"] = [*case["list_columns"], "last_contact"]
    doc["version"] = 2
    install_documents(app.extensions["formloom.db"], doc, {"case_flow": copy.deepcopy(CASE_FLOW)})


def _set(app, user_id, **values):
    with app.extensions["formloom.db"].write() as conn:
        conn.execute(update(users).where(users.c.id == user_id).values(**values))


def test_detail_and_list_show_local_times_in_the_app_zone(app, people, as_agent, make_record):
    _with_datetime_field(app)
    record = make_record("case", {"subject": "Timed", "last_contact": MOMENT, "due": "2026-12-01"})
    detail = as_agent.get(f"/apps/desk/case/{record.id}").get_data(as_text=True)
    listing = as_agent.get("/apps/desk/case/").get_data(as_text=True)
    for page in (detail, listing):
        assert "20 Nov 2026, 13:30" in page and "1 Dec 2026" in page
        assert not RAW_ISO.search(_visible(page)), RAW_ISO.search(_visible(page))
    # the record's own times (created, updated, the audit) say which zone they are in
    assert re.search(r"Created \d+ \w{3} \d{4}, \d\d:\d\d UTC\+8", detail)


def test_profile_timezone_and_language_win(app, people, as_agent, make_record):
    _with_datetime_field(app)
    record = make_record("case", {"subject": "Timed", "last_contact": MOMENT})
    _set(app, people.agent, timezone="Europe/Berlin", language="zh")
    as_agent.post("/language", data={"lang": "zh", "next": "/"})
    detail = as_agent.get(f"/apps/desk/case/{record.id}").get_data(as_text=True)
    assert "2026年11月20日 06:30" in detail
    # the reader chose this zone: no label needed on their own times
    assert not re.search(r"\d\d:\d\d UTC", _visible(detail))


def test_token_and_notification_times_are_local_with_their_zone(app, people, as_agent):
    with app.extensions["formloom.db"].write() as conn:
        token, _ = create_token(conn, people.agent, "laptop")
        conn.execute(update(api_tokens).where(api_tokens.c.id == token.id)
                     .values(created_at=datetime(2026, 11, 20, 5, 30, tzinfo=timezone.utc)))
    page = as_agent.get("/profile/").get_data(as_text=True)
    assert "20 Nov 2026, 13:30 UTC+8" in page          # outside the app: the app's zone, and it says so
    _set(app, people.agent, timezone="Europe/Berlin")
    page = as_agent.get("/profile/").get_data(as_text=True)
    assert "20 Nov 2026, 06:30<" in page and 'datetime="2026-11-20T05:30:00Z"' in page
    assert not RAW_ISO.search(_visible(page))
    _set(app, people.outsider, timezone=None)
    with app.extensions["formloom.db"].write() as conn:
        token, _ = create_token(conn, people.outsider, "no app")
        conn.execute(update(api_tokens).where(api_tokens.c.id == token.id)
                     .values(created_at=datetime(2026, 11, 20, 5, 30, tzinfo=timezone.utc)))
    as_agent.logout()
    as_agent.login("outsider@example.com")
    assert "20 Nov 2026, 05:30 UTC<" in as_agent.get("/profile/").get_data(as_text=True)   # no app: UTC, said


def _visible(html: str) -> str:
    """The text a person reads (attributes such as datetime="…" are for machines)."""
    return re.sub(r"<[^>]*>", " ", html)


@pytest.mark.parametrize("zone", ["UTC", "Asia/Shanghai", "Asia/Kolkata", "America/New_York"])
@pytest.mark.parametrize("language", ["en", "zh"])
def test_a_time_element_converts_once_and_reads_as_its_title_and_text_did(app, monkeypatch, zone, language):
    """`when_html` writes the zone's title and the text from one conversion: the same as
    `zone_title` and `format_moment` wrote them, with the zone shown or not, in and out of
    daylight saving time."""
    from formloom.web import datetimes
    monkeypatch.setattr(datetimes, "reader_zone", lambda app=None: ZoneInfo(zone))
    for chosen in (True, False):
        monkeypatch.setattr(datetimes, "zone_is_chosen", lambda z, chosen=chosen: chosen)
        with app.test_request_context("/", headers={"Accept-Language": language}):
            for moment in (datetime(2026, 1, 20, 5, 30, 7, 120, tzinfo=timezone.utc),
                           datetime(2026, 7, 1, 23, 59, tzinfo=timezone.utc), "2026-03-08T07:00:00Z"):
                parsed = datetimes.as_moment(moment)
                for show_zone in (None, True, False):
                    shown = (not chosen) if show_zone is None else show_zone
                    text = datetimes.format_moment(parsed, language, ZoneInfo(zone), show_zone=shown)
                    iso = parsed.astimezone(timezone.utc).replace(microsecond=0).isoformat().replace("+00:00", "Z")
                    assert str(datetimes.when_html(moment, show_zone=show_zone)) == (
                        f'<time datetime="{iso}" title="{datetimes.zone_title(parsed, ZoneInfo(zone))}">{text}</time>')


def test_a_time_element_keeps_each_apps_zone_within_one_request(app, monkeypatch):
    """The zone is worked out once per request and app (web.datetimes._page_zone): two apps of
    different zones on one page keep theirs, and a moment outside any app has its own."""
    from types import SimpleNamespace

    from formloom.web import datetimes
    zones = {"east": "Asia/Shanghai", "west": "America/New_York", None: "UTC"}
    monkeypatch.setattr(datetimes, "reader_zone", lambda app=None: ZoneInfo(zones[app.key if app else None]))
    moment = datetime(2026, 7, 1, 12, 0, tzinfo=timezone.utc)
    with app.test_request_context("/", headers={"Accept-Language": "en"}):
        for _round in range(2):
            for key, label in (("east", "UTC+8"), ("west", "UTC-4"), (None, "UTC")):
                html = str(datetimes.when_html(moment, SimpleNamespace(key=key) if key else None))
                assert html.endswith(f" {label}</time>") and f'title="{zones[key]}' in html, html
