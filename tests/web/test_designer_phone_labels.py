"""On a phone the designer's tables stack into cards (static/css/formloom.css: `.compare td::before`
shows each cell's data-label), so every cell of the stage's field rules, the select options, the
rule dry-run, the run history and the publish preview's reminders names its column, in the
admin's language — a column of bare checkboxes or inputs says nothing at 375 px."""
from __future__ import annotations

import html
import re
from datetime import datetime, timezone

import time_machine

from formloom.automation import Settings, run_worker_once

from .test_designer_rules import BASE, NOTIFY_OWNER, post, publish


def table(page: str, opening: str) -> str:
    match = re.search(re.escape(opening) + r".*?</table>", page, re.S)
    assert match, opening
    return match.group(0)


def column_names(table_html: str) -> list[str]:
    heads = re.findall(r'<th scope="col">(.*?)</th>', table_html, re.S)
    return [html.unescape(re.sub(r"<[^>]+>", "", h)).strip() for h in heads]


def cell_labels(table_html: str) -> list[str | None]:
    """Each <td>'s data-label (None when it has none)."""
    return [html.unescape(m.group(1)) if m else None
            for m in (re.search(r'data-label="([^"]*)"', td) for td in re.findall(r"<td\b[^>]*>", table_html))]


def assert_every_cell_named(table_html: str) -> set[str]:
    labels = cell_labels(table_html)
    assert labels and None not in labels and "" not in labels, labels
    names = set(column_names(table_html))
    assert set(labels) <= names | {"Order", "排序"}, (set(labels) - names)
    return set(labels)


def test_the_stage_field_rules_name_their_column_in_english_and_chinese(app, as_admin, browser):
    page = as_admin.get("/apps/desk/design/workflows/case_flow/stages/open").get_data(as_text=True)
    assert assert_every_cell_named(table(page, '<table class="compare">')) == {"Required", "Read-only", "Hidden"}
    with app.extensions["formloom.db"].write() as conn:
        from formloom.auth.users import create_user
        create_user(conn, "zhadmin@example.com", "correct-horse-9", name="管理员", language="zh",
                    roles=[("desk", "admin")])
    browser.logout()
    browser.login("zhadmin@example.com", password="correct-horse-9")
    page = browser.get("/apps/desk/design/workflows/case_flow/stages/open").get_data(as_text=True)
    assert assert_every_cell_named(table(page, '<table class="compare">')) == {"必填", "只读", "隐藏"}


def test_the_select_options_name_their_column(as_admin):
    page = as_admin.get("/apps/desk/design/e/case/new/select").get_data(as_text=True)
    labels = assert_every_cell_named(table(page, '<table class="compare options-table">'))
    assert {"Value", "English label", "Chinese label", "Colour"} <= labels


def test_the_dry_run_history_and_publish_preview_name_their_columns(app, browser, make_record):
    with time_machine.travel(datetime(2026, 3, 2, 0, 0, tzinfo=timezone.utc), tick=False) as clock:
        browser.login("admin@example.com")
        make_record("case", {"subject": "Printer", "due": "2026-03-10"})
        make_record("case", {"subject": "No date"})
        post(browser, f"{BASE}/new", NOTIFY_OWNER)
        preview = browser.get("/apps/desk/design").get_data(as_text=True)
        assert assert_every_cell_named(table(preview.split('id="reminder-impact"')[1], "<table"))
        dry = browser.get(f"{BASE}/due_soon/dry-run").get_data(as_text=True)
        assert assert_every_cell_named(table(dry, '<table class="compare dry-run">')) == {"When", "Record", "What happens"}
        skipped = dry.split('id="dry-run-skipped"')[1]
        assert assert_every_cell_named(table(skipped, "<table")) == {"Record", "Why not"}
        assert publish(browser).status_code == 303
        clock.move_to(datetime(2026, 3, 7, 1, 0, tzinfo=timezone.utc))
        run_worker_once(app.extensions["formloom.db"], app.extensions["formloom.catalog"],
                        settings=Settings.from_mapping(app.config))
        browser.login("admin@example.com")
        runs = table(browser.get(f"{BASE}/due_soon/history").get_data(as_text=True), '<table class="compare" id="runs">')
    assert assert_every_cell_named(runs) == {"When", "Record", "Outcome", "What it did"}
