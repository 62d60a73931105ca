"""A widget of series compares measures of different entities over the same time buckets
(orders placed vs money received by month), each series under the viewer's scope, its own
filter and date, the buckets edged in the app's timezone; each bar drills into its own
series' records, as many (and adding up to as much) as the bar shows.

Worked out by hand from ledger.py, January to April 2026 in Shanghai:

    month   lead (team): ordered  received    Ann: ordered  received    Bob: ordered  received
    Jan                  100        0              100        0               0         0
    Feb                    0       80                0       80               0         0
    Mar                  600       20              200       20             400         0
    Apr                   50      300                0        0              50       300

February has no order (an empty month of one series); r2 at 23:59 on 31 March and r3 at
00:00 on 1 April (Shanghai) sit either side of a month's edge; r4 is pending (filtered out).
"""
from __future__ import annotations

import csv
import io
from datetime import date
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
import time_machine

from formloom.app import create_app
from formloom.auth.users import load_actor
from formloom.dashboards.drill import Cell, drill
from formloom.dashboards.measures import Viewer, run_widget
from formloom.dashboards.model import compile_widget
from formloom.dashboards.periods import resolve_period

from . import ledger

TODAY = date(2026, 4, 15)
NOW = "2026-04-15T04:00:00+00:00"
ZONE = ZoneInfo("Asia/Shanghai")
MONTHS = ["2026-01-01", "2026-02-01", "2026-03-01", "2026-04-01"]
EXPECTED = {"lead": [[100, 0, 600, 50], [0, 80, 20, 300]],
            "a": [[100, 0, 200, 0], [0, 80, 20, 0]],
            "b": [[0, 0, 400, 50], [0, 0, 0, 300]]}


@pytest.fixture
def ledger_db(db):
    return (db, *ledger.install(db))


def viewer(conn, app, people, who):
    period = resolve_period("custom", TODAY, ZONE, "2026-01-01", "2026-04-30")
    return Viewer(conn, app, load_actor(conn, people[who]), period, TODAY)


def columns(data) -> list[list[float]]:
    return [[row.values[i] for row in data.rows] for i in range(len(data.series))]


@pytest.mark.parametrize("who", ["lead", "a", "b"])
def test_each_series_is_summed_by_month_under_the_viewers_scope(ledger_db, who):
    db, app, _version, people, _ids = ledger_db
    widget = compile_widget(ledger.VERSUS)
    with db.read() as conn:
        data = run_widget(viewer(conn, app, people, who), widget)
    assert [row.key for row in data.rows] == MONTHS
    assert [row.label for row in data.rows] == ["2026-01", "2026-02", "2026-03", "2026-04"]
    assert data.series == ["Ordered", "Received"] and data.series_keys == ["ordered", "received"]
    assert columns(data) == EXPECTED[who]


@pytest.mark.parametrize("who", ["lead", "a", "b"])
def test_a_bar_drills_into_its_own_series_records_adding_up_to_the_bar(ledger_db, who):
    db, app, _version, people, ids = ledger_db
    widget = compile_widget(ledger.VERSUS)
    with db.read() as conn:
        v = viewer(conn, app, people, who)
        data = run_widget(v, widget)
        for i, key in enumerate(data.series_keys):
            for row in data.rows:
                page = drill(v, widget, Cell(str(row.key), series=key))
                assert sum(Decimal(str(r.data["amount"])) for r in page.records) == Decimal(str(row.values[i]))
                assert {r.entity_key for r in page.records} <= {"order" if key == "ordered" else "receipt"}
        april_received = drill(v, widget, Cell("2026-04-01", series="received"))
    assert [r.id for r in april_received.records] == ([ids["r3"]] if who != "a" else [])
    assert april_received.row_label == "2026-04"


def test_a_line_compares_the_same_series(ledger_db):
    db, app, _version, people, _ids = ledger_db
    with db.read() as conn:
        data = run_widget(viewer(conn, app, people, "lead"), compile_widget({**ledger.VERSUS, "type": "line"}))
    assert columns(data) == EXPECTED["lead"]


def test_all_time_spans_the_buckets_any_series_has(ledger_db):
    """With no period bounds each series reaches back to its own first record; the chart has
    the months of either, an empty month of one series included."""
    db, app, _version, people, _ids = ledger_db
    with db.read() as conn:
        v = Viewer(conn, app, load_actor(conn, people["lead"]), resolve_period("all", TODAY, ZONE), TODAY)
        data = run_widget(v, compile_widget(ledger.VERSUS))
    assert [row.key for row in data.rows] == MONTHS and columns(data) == EXPECTED["lead"]


def test_a_count_series_drills_into_exactly_as_many_records(ledger_db):
    db, app, _version, people, _ids = ledger_db
    doc = {**ledger.VERSUS, "format": "number",
           "series": [{**s, "measures": [{"agg": "count"}]} for s in ledger.VERSUS["series"]]}
    widget = compile_widget(doc)
    with db.read() as conn:
        v = viewer(conn, app, people, "lead")
        data = run_widget(v, widget)
        assert columns(data) == [[1, 0, 2, 1], [0, 1, 1, 1]]
        for i, key in enumerate(data.series_keys):
            for row in data.rows:
                assert drill(v, widget, Cell(str(row.key), series=key)).total == row.values[i]


def test_an_unknown_series_drills_into_nothing(ledger_db):
    db, app, _version, people, _ids = ledger_db
    with db.read() as conn:
        assert drill(viewer(conn, app, people, "lead"), compile_widget(ledger.VERSUS),
                     Cell("2026-03-01", series="nope")).total == 0


def test_weeks_start_on_monday_in_the_apps_timezone(ledger_db):
    """r2 (Tuesday 31 March, 23:59) and r3 (Wednesday 1 April, 00:00) share the week of 30 March;
    o2 (31 March) too, o4 (1 April) as well."""
    db, app, _version, people, _ids = ledger_db
    widget = compile_widget({**ledger.VERSUS, "group": {"bucket": "week"}})
    with db.read() as conn:
        v = Viewer(conn, app, load_actor(conn, people["lead"]),
                   resolve_period("custom", TODAY, ZONE, "2026-03-30", "2026-04-05"), TODAY)
        data = run_widget(v, widget)
    assert [(row.key, row.values) for row in data.rows] == [("2026-03-30", [250.0, 320.0])]


# -- the page, its JSON, CSV and table --------------------------------------------------------------------------

@pytest.fixture
def site(database_url, tmp_path, ledger_db):
    flask_app = create_app({"DATABASE_URL": database_url, "SECRET_KEY": "series-test",
                            "INSTANCE": str(tmp_path / "instance"), "WTF_CSRF_ENABLED": False})
    yield flask_app
    flask_app.extensions["formloom.db"].dispose()


def client_for(site, email):
    client = site.test_client()
    assert client.post("/login", data={"email": email, "password": "pw-123456789"}).status_code == 302
    return client


QUERY = "period=custom&from=2026-01-01&to=2026-04-30"


@time_machine.travel(NOW, tick=False)
def test_the_json_api_gives_one_column_per_series(site):
    lead = client_for(site, "lead@example.com")
    answer = lead.get(f"/api/v1/ledger/dashboards/money/versus?{QUERY}")
    assert answer.status_code == 200
    body = answer.get_json()
    assert body["series"] == ["Ordered", "Received"] and body["series_keys"] == ["ordered", "received"]
    assert body["keys"] == MONTHS and body["values"] == EXPECTED["lead"]
    whole = lead.get(f"/api/v1/ledger/dashboards/money?{QUERY}").get_json()
    assert whole["widgets"][0]["values"] == EXPECTED["lead"]
    ann = client_for(site, "a@example.com").get(f"/api/v1/ledger/dashboards/money/versus?{QUERY}").get_json()
    assert ann["values"] == EXPECTED["a"]


@time_machine.travel(NOW, tick=False)
def test_the_csv_has_one_column_per_series_in_the_viewers_language(site):
    text = client_for(site, "zh@example.com").get(f"/apps/ledger/dashboards/money/versus.csv?{QUERY}") \
        .get_data(as_text=True).lstrip("\ufeff")
    rows = list(csv.reader(io.StringIO(text)))
    assert rows[0][1:] == ["订单金额", "已收款"]
    assert rows[1:] == [["2026-01", "100.0", "0.0"], ["2026-02", "0.0", "80.0"], ["2026-03", "600.0", "20.0"],
                        ["2026-04", "50.0", "300.0"]]


@time_machine.travel(NOW, tick=False)
def test_the_page_links_each_bar_and_table_cell_to_its_series_records(site):
    import json
    import re
    lead = client_for(site, "lead@example.com")
    page = lead.get(f"/apps/ledger/dashboards/money?{QUERY}").get_data(as_text=True)
    spec = json.loads(re.search(r'id="chart-data-versus">(.*?)</script>', page, re.S).group(1))
    assert [s["label"] for s in spec["series"]] == ["Ordered", "Received"]
    assert [s["symbol"] for s in spec["series"]] == ["¥", "¥"]
    link = spec["series"][1]["links"][3]
    assert "series=received" in link and "row=2026-04-01" in link
    assert link.replace("&", "&amp;") in page            # the table fallback's cell opens the same records
    drilled = lead.get(link)
    assert drilled.status_code == 200
    html = drilled.get_data(as_text=True)
    assert 'data-count="1"' in html and "r3" in html and "Received" in html
    assert lead.get(link.replace("series=received", "series=nope")).status_code == 404


@time_machine.travel(NOW, tick=False)
def test_a_seller_drills_into_only_their_own_records(site):
    ann = client_for(site, "a@example.com")
    html = ann.get(f"/apps/ledger/dashboards/money/versus/records?{QUERY}&series=received&row=2026-04-01") \
        .get_data(as_text=True)
    assert 'data-count="0"' in html and "r3" not in html
