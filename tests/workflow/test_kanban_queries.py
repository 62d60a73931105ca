"""Kanban queries: per-stage counts and sums in one grouped query, scoped by the
policy and the list filters; cards paged per column and marked stale."""
from datetime import datetime, timedelta, timezone
from decimal import Decimal

import pytest
from sqlalchemy import event

from formloom.store.query import Filter, ListQuery, QueryError
from formloom.workflow import UnknownStage, kanban_cards, kanban_columns

T0 = datetime(2026, 3, 2, 9, tzinfo=timezone.utc)


@pytest.fixture
def board(pipeline, recruiter, manager):
    """Three applied (two of the recruiter's), one screened and one hired candidate."""
    pipeline.candidate(recruiter, name="A1", salary="1000.50", source="referral")
    pipeline.candidate(recruiter, name="A2", salary="2000", source="job_board")
    pipeline.candidate(manager, name="A3", salary="0.25")
    pipeline.candidate(manager, name="S1", stage="screened", salary="300", cv_link="https://x.example.com")
    pipeline.candidate(manager, name="H1", stage="hired", salary="5000")
    return pipeline


def by_key(columns):
    return {c.key: c for c in columns}


def test_one_column_per_stage_in_order_with_counts_and_sums(board, manager):
    with board.db.read() as conn:
        columns = kanban_columns(conn, board.app, board.candidates, manager)
    assert [c.key for c in columns] == ["applied", "screened", "interviewed", "offer", "hired", "rejected"]
    cols = by_key(columns)
    assert [cols[k].count for k in ("applied", "screened", "interviewed", "hired")] == [3, 1, 0, 1]
    assert cols["applied"].total == Decimal("3000.75")           # the workflow's kanban.sum: salary
    assert cols["applied"].weighted_total == Decimal("300.08")   # x 10 %
    assert cols["screened"].weighted_total == Decimal("60.00")
    assert cols["interviewed"].total == Decimal("0.00")
    assert cols["hired"].collapsible and not cols["applied"].collapsible


def test_counts_are_scoped_by_the_policy(board, recruiter):
    with board.db.read() as conn:
        cols = by_key(kanban_columns(conn, board.app, board.candidates, recruiter))
    assert cols["applied"].count == 2 and cols["screened"].count == 0
    assert cols["applied"].total == Decimal("3000.50")


def test_counts_follow_list_filters_and_owner(board, manager, recruiter):
    with board.db.read() as conn:
        filtered = by_key(kanban_columns(conn, board.app, board.candidates, manager,
                                         [Filter("source", "eq", "referral")]))
        owned = by_key(kanban_columns(conn, board.app, board.candidates, manager, ListQuery(owner_id=manager.id)))
    assert filtered["applied"].count == 1 and filtered["applied"].total == Decimal("1000.50")
    assert owned["applied"].count == 1 and owned["hired"].count == 1


def test_another_sum_field_or_none(board, manager):
    with board.db.read() as conn:
        with pytest.raises(QueryError):
            kanban_columns(conn, board.app, board.candidates, manager, sum_field="name")
        cols = by_key(kanban_columns(conn, board.app, board.candidates, manager, sum_field="score"))
    assert cols["applied"].total == Decimal("0")


def test_columns_use_one_query(board, manager):
    statements = []
    with board.db.read() as conn:
        event.listen(conn, "before_cursor_execute", lambda *a: statements.append(a[2]))
        kanban_columns(conn, board.app, board.candidates, manager)
    grouped = [s for s in statements if "GROUP BY" in s.upper()]
    assert len(grouped) == 1 and "LIMIT" not in grouped[0].upper()


def test_cards_are_paged_per_column_without_counting(board, manager):
    with board.db.read() as conn:
        first = kanban_cards(conn, board.app, board.candidates, manager, "applied", limit=2)
        rest = kanban_cards(conn, board.app, board.candidates, manager, "applied", limit=2, offset=2)
    assert len(first.cards) == 2 and first.has_more and first.next_offset == 2
    assert len(rest.cards) == 1 and not rest.has_more
    names = {c.record.title for c in first.cards + rest.cards}
    assert names == {"A1", "A2", "A3"}


def test_cards_are_scoped_and_filtered(board, recruiter):
    with board.db.read() as conn:
        page = kanban_cards(conn, board.app, board.candidates, recruiter, "applied",
                            filters=[Filter("source", "eq", "job_board")])
    assert [c.record.title for c in page.cards] == ["A2"]


def test_stale_cards_are_marked(board, manager):
    with board.db.read() as conn:
        fresh = kanban_cards(conn, board.app, board.candidates, manager, "applied")
        entered = fresh.cards[0].record.stage_entered_at
        later = kanban_cards(conn, board.app, board.candidates, manager, "applied", now=entered + timedelta(days=4))
    assert not any(c.stale for c in fresh.cards)
    assert all(c.stale for c in later.cards)


def test_cards_of_an_unknown_stage_are_refused(board, manager):
    with pytest.raises(UnknownStage), board.db.read() as conn:
        kanban_cards(conn, board.app, board.candidates, manager, "nowhere")
