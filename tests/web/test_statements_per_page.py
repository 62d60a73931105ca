"""Statements per page: the everyday pages ask the database a fixed, small number of
questions, however many rows they show, so their cost cannot creep back up unnoticed.

Counted with a listener on the engine: SQL statements (transaction control such as BEGIN,
SAVEPOINT and RELEASE aside, which PostgreSQL's driver does not send as statements) and
transactions begun. The top bar's pieces (menu dashboards, approvals count, bell, saved
views) share one read transaction; a stage move writes without a savepoint or a re-read.
Raising a limit here needs a reason in the commit that does it."""
from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass

import pytest
from sqlalchemy import event

CONTROL = ("BEGIN", "SAVEPOINT", "RELEASE", "ROLLBACK", "COMMIT")

#: page -> (statements, transactions) at most
LIMITS = {
    "list": (7, 1),           # before issue 16: 11 statements in 8 transactions; 10 in 2 with the user and its roles in one statement, read in the page's transaction (detail4); in 1 with the installed apps read in the user's transaction (write5) and the app in the page's transaction as the record page does (list5); 9 with the top bar's two counts in one (detail5); 8 with the installed apps read in the user's statement, 7 with the top bar's counts in it too (detail7)
    "detail": (6, 1),        # 15 in 8; 13 with one title look-up for the whole page (branch detailpage); in 2 with the app read in the page's transaction (detailfast); 11 in 1 with the user in the page's transaction and one statement, and an admin's related lists in one (detail4); 10 with the top bar's two counts in one (detail5); 8 with the stage history, the audit rows and the comments in one (detail6); 7 with the installed apps read in the user's statement, 6 with the top bar's counts in it too (detail7)
    "form": (3, 1),           # 7 in 7; 6 in 2 (detail4, as the list); in 1 (write5, as the list); 5 with the top bar's two counts in one (detail5); 4 with the installed apps read in the user's statement, 3 with the top bar's counts in it too (detail7)
    "create": (6, 2),         # 7, + the slot mapping (store.slots) + global search: the next entry id (SQLite hands them out downwards, store/search_index.py) and the entry; 9 with the user and its roles in one statement (detail4); 7-8 on SQLite (8 when this process reads the slot mapping it then keeps per app version) with the approval check in the UPDATE, 4 on PostgreSQL with the log in the write's statement (pgwrite4); 7 in 2 with the installed apps read in the user's transaction and the search entries' ids found by their INSERT (write5); 6 with the installed apps read in the user's statement (detail7)
    "stage_move": (6, 2),     # 11 (two event inserts and a re-read) and a savepoint; 8 (detail4, as create); 7 in 2 with the pending approval read with the record and the installed apps in the user's transaction (write5); 6 with the installed apps read in the user's statement (detail7)
}


@dataclass
class Count:
    statements: int = 0
    transactions: int = 0


@contextmanager
def counting(app):
    engine = app.extensions["formloom.db"].engine
    seen = Count()

    def on_execute(conn, cursor, statement, parameters, context, executemany):
        if not statement.lstrip().upper().startswith(CONTROL):
            seen.statements += 1

    def on_begin(conn):
        seen.transactions += 1

    event.listen(engine, "before_cursor_execute", on_execute)
    event.listen(engine, "begin", on_begin)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", on_execute)
        event.remove(engine, "begin", on_begin)


@pytest.fixture
def desk(app, as_agent, make_record):
    """Twenty cases of one company, so a page of many rows is counted, not a page of one."""
    company = make_record("company", {"name": "Acme"})
    cases = [make_record("case", {"subject": f"Case {i:02d}", "company": company.id, "priority": "high",
                                  "budget": f"{100 + i}.00", "due": "2026-12-01"}) for i in range(20)]
    return as_agent, cases


def within(page: str, seen: Count) -> None:
    statements, transactions = LIMITS[page]
    assert seen.statements <= statements, f"{page}: {seen.statements} statements (at most {statements})"
    assert seen.transactions <= transactions, f"{page}: {seen.transactions} transactions (at most {transactions})"


def test_a_filtered_list_of_twenty_rows_asks_a_fixed_number_of_questions(app, desk):
    browser, _cases = desk
    with counting(app) as seen:
        page = browser.get("/apps/desk/case/?priority=high&sort=-budget")
    assert page.status_code == 200 and page.get_data(as_text=True).count('class="title-link"') == 20
    within("list", seen)


def test_a_record_page_with_its_history_and_related_lists(app, desk):
    browser, cases = desk
    with counting(app) as seen:
        page = browser.get(f"/apps/desk/case/{cases[0].id}")
    assert page.status_code == 200 and "Case 00" in page.get_data(as_text=True)
    within("detail", seen)


def test_the_new_record_form(app, desk):
    browser, _cases = desk
    with counting(app) as seen:
        page = browser.get("/apps/desk/case/new")
    assert page.status_code == 200 and 'name="subject"' in page.get_data(as_text=True)
    within("form", seen)


def test_creating_a_record(app, desk):
    browser, _cases = desk
    token = browser.csrf_token("/apps/desk/case/new")
    with counting(app) as seen:
        done = browser.client.post("/apps/desk/case/new", data={"subject": "Fresh", "csrf_token": token})
    assert done.status_code in (302, 303)
    within("create", seen)


def test_a_stage_move(app, desk):
    browser, cases = desk
    token = browser.csrf_token(f"/apps/desk/case/{cases[1].id}")
    with counting(app) as seen:
        done = browser.client.post(f"/apps/desk/case/{cases[1].id}/stage",
                                   data={"to": "closed", "version": "1", "csrf_token": token})
    assert done.status_code in (302, 303)
    within("stage_move", seen)
    page = browser.get(f"/apps/desk/case/{cases[1].id}").get_data(as_text=True)
    assert "Closed" in page
