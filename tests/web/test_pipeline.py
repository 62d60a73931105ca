"""The kanban board, the move endpoint and the gate dialog, on a generic pipeline
(tests/web/pipeline_app.py: a support desk, not the CRM)."""
from __future__ import annotations

import re
from datetime import timedelta

import pytest
from sqlalchemy import select, update

from formloom.app import create_app
from formloom.store.install import install_documents
from formloom.store.records import create_record, utcnow
from formloom.store.tables import records, stage_history

from .pipeline_app import pipeline_app, pipeline_flow

BOARD = "/apps/desk/case/board"


@pytest.fixture
def app(database_url, tmp_path):
    """Overrides conftest's app: the desk with the gated case pipeline."""
    flask_app = create_app({
        "DATABASE_URL": database_url, "SECRET_KEY": "test-secret", "INSTANCE": str(tmp_path / "instance"),
        "WTF_CSRF_ENABLED": True, "MAX_CONTENT_LENGTH": 64_000,
    })
    install_documents(flask_app.extensions["formloom.db"], pipeline_app(), {"case_flow": pipeline_flow()})
    yield flask_app
    flask_app.extensions["formloom.db"].dispose()


@pytest.fixture
def db(app):
    return app.extensions["formloom.db"]


@pytest.fixture
def make(app, people):
    """Store a record as `actor` (default the agent), optionally placed in `stage`."""
    def create(data: dict, actor: int | None = None, entity: str = "case", stage: str | None = None):
        desk, version_id = app.extensions["formloom.catalog"].get("desk")
        with app.extensions["formloom.db"].write() as conn:
            return create_record(conn, desk, desk.entity(entity), data, actor_id=actor or people.agent,
                                 version_id=version_id, stage=stage)
    return create


def stored(db, record_id: int):
    with db.read() as conn:
        return conn.execute(select(records).where(records.c.id == record_id)).one()


def history(db, record_id: int):
    with db.read() as conn:
        return conn.execute(select(stage_history).where(stage_history.c.record_id == record_id)
                            .order_by(stage_history.c.id)).all()


def move(client, record_id: int, to: str, htmx: bool = True, **data):
    headers = {"HX-Request": "true"} if htmx else {}
    return client.post(f"/apps/desk/case/{record_id}/stage", data={"to": to, **data}, headers=headers)


def column_head(html: str, stage: str) -> str:
    match = re.search(rf'<div class="kanban-col-stats" id="colstats-{stage}".*?</div>', html, re.S)
    assert match, f"no column {stage}"
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", match.group(0)))


# -- the board -----------------------------------------------------------------------------

def test_board_counts_and_sums_per_column_scoped_to_what_the_actor_reads(as_agent, make, people):
    make({"subject": "Mine A", "budget": 100})
    make({"subject": "Mine B", "budget": 50.5})
    make({"subject": "Mine C", "budget": 200, "priority": "high", "due": "2030-01-01"}, stage="triage")
    make({"subject": "Theirs", "budget": 9999}, actor=people.other_agent)
    page = as_agent.get(BOARD)
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    new = column_head(html, "new")
    assert "2" in new.split() and "150.50" in new and "15.05" in new          # 10% weighted
    triage = column_head(html, "triage")
    assert "1" in triage.split() and "200.00" in triage and "60.00" in triage
    assert "9,999" not in html and "Theirs" not in html
    assert column_head(html, "solved").split()[1] == "0"


def test_admin_board_counts_every_record(as_admin, make, people):
    make({"subject": "Mine A", "budget": 100})
    make({"subject": "Theirs", "budget": 9999}, actor=people.other_agent)
    html = as_admin.get(BOARD).get_data(as_text=True)
    assert "10,099.00" in column_head(html, "new")


def test_board_columns_load_their_cards_lazily(as_agent, make):
    make({"subject": "A case"})
    html = as_agent.get(BOARD).get_data(as_text=True)
    assert "A case" not in html                               # cards come from the column endpoint
    urls = re.findall(r'hx-get="([^"]+/board/cards\?[^"]+)"', html)
    assert len(urls) == 5 and any("stage=new" in u for u in urls)
    cards = as_agent.get(next(u for u in urls if "stage=new" in u).replace("&amp;", "&"))
    assert cards.status_code == 200 and "A case" in cards.get_data(as_text=True)


def test_column_pages_have_a_more_button_and_no_count(as_agent, make):
    for i in range(23):
        make({"subject": f"Case {i:02d}"})
    first = as_agent.get(f"{BOARD}/cards?stage=new").get_data(as_text=True)
    assert first.count('<article class="kanban-card') == 20
    more = re.search(r'<button type="button" class="kanban-more" hx-get="([^"]+)"', first).group(1).replace("&amp;", "&")
    assert "offset=20" in more
    second = as_agent.get(more).get_data(as_text=True)
    assert second.count('<article class="kanban-card') == 3 and "kanban-more" not in second


def test_cards_show_title_card_fields_owner_and_stale_mark(as_agent, make, db):
    company = make({"name": "Acme"}, entity="company")
    fresh = make({"subject": "Fresh", "company": company.id, "priority": "high", "budget": 12})
    old = make({"subject": "Old one"})
    with db.write() as conn:
        conn.execute(update(records).where(records.c.id == old.id)
                     .values(stage_entered_at=utcnow() - timedelta(days=4)))
    html = as_agent.get(f"{BOARD}/cards?stage=new").get_data(as_text=True)
    card = re.search(rf'<article class="kanban-card" id="card-{fresh.id}".*?</article>', html, re.S).group(0)
    assert "Acme" in card and "High" in card and "12.00" in card and "Alex Agent" in card
    assert "Move to" in card and 'data-movable' in card
    assert re.search(rf'<article class="kanban-card is-stale" id="card-{old.id}"', html)


def test_board_filters_like_the_list(as_admin, make, people):
    make({"subject": "High one", "priority": "high", "budget": 10})
    make({"subject": "Low one", "priority": "low", "budget": 1}, actor=people.other_agent)
    html = as_admin.get(f"{BOARD}?priority=high").get_data(as_text=True)
    assert "10.00" in column_head(html, "new") and "11.00" not in html
    assert "priority=high" in as_admin.get(f"{BOARD}?priority=high").get_data(as_text=True)
    cards = as_admin.get(f"{BOARD}/cards?stage=new&priority=high").get_data(as_text=True)
    assert "High one" in cards and "Low one" not in cards
    mine = as_admin.get(f"{BOARD}/cards?stage=new&owner={people.other_agent}").get_data(as_text=True)
    assert "Low one" in mine and "High one" not in mine
    assert as_admin.get(f"{BOARD}?nosuchfield=1").status_code == 400
    redirect = as_admin.get(f"{BOARD}?ff=priority&fo=eq&fv=high")
    assert redirect.status_code == 302 and redirect.headers["Location"].endswith("/board?priority=high")


def test_board_needs_a_pipeline_and_membership(as_agent, browser):
    assert as_agent.get("/apps/desk/company/board").status_code == 404
    assert as_agent.get("/apps/desk/nothing/board").status_code == 404
    assert as_agent.get(f"{BOARD}/cards?stage=nope").status_code == 400
    assert as_agent.get(f"{BOARD}/cards?stage=new&offset=x").status_code == 400
    browser.logout()
    assert browser.login("outsider@example.com").status_code == 302
    assert browser.get(BOARD).status_code == 404


def test_board_escapes_titles(as_agent, make):
    make({"subject": "<script>alert(1)</script>"})
    html = as_agent.get(f"{BOARD}/cards?stage=new").get_data(as_text=True)
    assert "<script>alert" not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html


# -- moving --------------------------------------------------------------------------------

def test_move_succeeds_writes_history_and_answers_the_board(as_agent, make, db):
    case = make({"subject": "Ready", "priority": "high", "due": "2030-01-01", "budget": 10})
    answer = as_agent.post(f"/apps/desk/case/{case.id}/stage", data={
        "to": "triage", "version": case.version, "view": "board", "board_query": "",
        "csrf_token": as_agent.csrf_token(BOARD)}, headers={"HX-Request": "true"})
    assert answer.status_code == 200
    html = answer.get_data(as_text=True)
    assert f'<div id="card-{case.id}" hx-swap-oob="delete">' in html
    assert 'hx-swap-oob="afterbegin:#cards-triage"' in html
    assert re.search(r'id="colstats-triage" hx-swap-oob="true"', html)
    row = stored(db, case.id)
    assert row.stage == "triage" and row.version == case.version + 1
    assert [(h.from_stage, h.to_stage) for h in history(db, case.id)] == [(None, "new"), ("new", "triage")]


def test_move_from_the_record_page_redirects(as_agent, make, db):
    case = make({"subject": "Ready", "priority": "high", "due": "2030-01-01"})
    token = as_agent.csrf_token(f"/apps/desk/case/{case.id}")
    plain = as_agent.client.post(f"/apps/desk/case/{case.id}/stage", data={"to": "triage", "csrf_token": token})
    assert plain.status_code == 303 and plain.headers["Location"].endswith(f"/apps/desk/case/{case.id}")
    back = as_agent.client.post(f"/apps/desk/case/{case.id}/stage", data={"to": "new", "view": "record", "csrf_token": token},
                                headers={"HX-Request": "true"})
    assert back.status_code == 200 and back.headers["HX-Redirect"].endswith(f"/apps/desk/case/{case.id}")
    assert stored(db, case.id).stage == "new"


def test_gate_with_only_missing_fields_asks_for_exactly_those(as_agent, make, db):
    case = make({"subject": "Bare", "budget": 10})
    token = as_agent.csrf_token(BOARD)
    answer = move(as_agent.client, case.id, "triage", view="board", csrf_token=token)
    assert answer.status_code == 422
    html = answer.get_data(as_text=True)
    assert "<dialog" in html and "Fill in Priority to enter Triage." in html and "Fill in Due" in html
    form = re.search(r'<form[^>]*class="gate-form".*?</form>', html, re.S).group(0)
    assert sorted(re.findall(r'name="fill" value="([^"]+)"', form)) == ["due", "priority"]
    shown = set(re.findall(r'data-field="([^"]+)"', form))
    assert shown == {"due", "priority"}
    # the card goes back to its column (oob), and nothing changed
    assert 'hx-swap-oob="afterbegin:#cards-new"' in html
    assert stored(db, case.id).stage == "new"


def test_gate_lists_every_failure_with_links_and_no_form(as_agent, make, db):
    case = make({"subject": "Far", "budget": 5})
    answer = move(as_agent.client, case.id, "working", csrf_token=as_agent.csrf_token(BOARD))
    assert answer.status_code == 422
    html = answer.get_data(as_text=True)
    codes = re.findall(r'class="gate-failure" data-code="([a-z_]+)"', html)
    assert sorted(codes) == ["condition", "related", "required", "required"]
    assert "Budget must be at least 100" in html and "Add at least one task" in html
    assert f'/apps/desk/task/new?case={case.id}' in html                # create the related record, prefilled
    assert f'/apps/desk/case/{case.id}/edit' in html
    assert 'class="gate-form"' not in html
    assert 'name="override_reason"' not in html                          # agents cannot override


def test_role_and_unfillable_fields_are_listed(as_agent, make):
    case = make({"subject": "Skip", "priority": "high", "due": "2030-01-01", "budget": 500})
    make({"summary": "Call", "case": case.id}, entity="task")
    html = move(as_agent.client, case.id, "solved", csrf_token=as_agent.csrf_token(BOARD)).get_data(as_text=True)
    codes = re.findall(r'class="gate-failure" data-code="([a-z_]+)"', html)
    assert sorted(codes) == ["required", "role"]
    assert 'class="gate-form"' not in html          # `code` is read-only for agents: the form cannot fix it


def test_dialog_saves_missing_fields_and_the_move_in_one_commit(as_agent, make, db):
    case = make({"subject": "Bare"})
    answer = move(as_agent.client, case.id, "triage", csrf_token=as_agent.csrf_token(BOARD), version=case.version,
                  view="board", fill=["priority", "due"], priority="high", due="2030-02-03", _record=case.id)
    assert answer.status_code == 200
    row = stored(db, case.id)
    assert row.stage == "triage" and row.data["priority"] == "high" and row.data["due"] == "2030-02-03"
    assert [h.to_stage for h in history(db, case.id)] == ["new", "triage"]


def test_dialog_with_a_field_still_missing_saves_nothing(as_agent, make, db):
    case = make({"subject": "Bare"})
    answer = move(as_agent.client, case.id, "triage", csrf_token=as_agent.csrf_token(BOARD), view="board",
                  fill=["priority", "due"], priority="high", due="")
    assert answer.status_code == 422
    html = answer.get_data(as_text=True)
    assert "Fill in Due" in html and "Fill in Priority" not in html
    row = stored(db, case.id)
    assert row.stage == "new" and row.data.get("priority") in (None, "") and row.version == case.version


def test_dialog_with_an_invalid_value_shows_it_by_the_field(as_agent, make, db):
    case = make({"subject": "Bare", "priority": "high", "due": "2030-01-01"}, stage="triage")
    make({"summary": "Call", "case": case.id}, entity="task")
    answer = move(as_agent.client, case.id, "working", csrf_token=as_agent.csrf_token(BOARD),
                  fill=["budget"], budget="-5")
    assert answer.status_code == 422
    html = answer.get_data(as_text=True)
    assert re.search(r'id="field-budget".*?error-text', html, re.S)
    assert stored(db, case.id).stage == "triage"


def test_stale_version_answers_409_with_the_fresh_state(as_agent, make, db):
    case = make({"subject": "Race", "priority": "high", "due": "2030-01-01"})
    assert move(as_agent.client, case.id, "triage", csrf_token=as_agent.csrf_token(BOARD)).status_code == 200
    answer = move(as_agent.client, case.id, "dropped", csrf_token=as_agent.csrf_token(BOARD),
                  version=case.version, view="board")
    assert answer.status_code == 409
    html = answer.get_data(as_text=True)
    assert "Someone else changed this record" in html and "Triage" in html
    assert f'name="version" value="{case.version + 1}"' in html             # retry with the fresh version
    assert 'hx-swap-oob="afterbegin:#cards-triage"' in html                  # the card goes where it really is
    assert stored(db, case.id).stage == "triage"


def test_move_errors_400_404_403(as_agent, browser, make, people):
    case = make({"subject": "Mine"})
    theirs = make({"subject": "Theirs"}, actor=people.other_agent)
    token = as_agent.csrf_token(BOARD)
    assert move(as_agent.client, case.id, "nowhere", csrf_token=token).status_code == 400
    assert move(as_agent.client, case.id, "triage", csrf_token=token, version="x").status_code == 400
    assert move(as_agent.client, 999999, "triage", csrf_token=token).status_code == 404
    assert move(as_agent.client, theirs.id, "triage", csrf_token=token).status_code == 404
    assert as_agent.client.post(f"/apps/desk/case/{case.id}/stage", data={"to": "triage"}).status_code == 400  # CSRF
    browser.logout()
    assert browser.login("viewer@example.com").status_code == 302
    assert move(browser.client, case.id, "dropped", csrf_token=browser.csrf_token("/")).status_code == 403


def test_override_needs_an_admin_and_a_reason(as_admin, browser, make, db):
    case = make({"subject": "Stuck"})
    token = as_admin.csrf_token(BOARD)
    dialog = move(as_admin.client, case.id, "working", csrf_token=token).get_data(as_text=True)
    assert 'name="override_reason"' in dialog
    empty = move(as_admin.client, case.id, "working", csrf_token=token, override="1", override_reason="  ")
    assert empty.status_code == 422 and "Say why" in empty.get_data(as_text=True)
    assert stored(db, case.id).stage == "new"
    done = move(as_admin.client, case.id, "working", csrf_token=token, override="1", override_reason="Customer call")
    assert done.status_code == 200
    assert stored(db, case.id).stage == "working"
    assert history(db, case.id)[-1].override_reason == "Customer call"
    # an agent asking for an override is refused
    other = make({"subject": "Mine"})
    as_admin.logout()
    assert browser.login("agent@example.com").status_code == 302
    refused = move(browser.client, other.id, "working", csrf_token=browser.csrf_token(BOARD), override="1",
                   override_reason="Because")
    assert refused.status_code == 403 and stored(db, other.id).stage == "new"


def test_keyboard_menu_lists_the_other_stages(as_agent, make):
    case = make({"subject": "Menu"})
    html = as_agent.get(f"{BOARD}/cards?stage=new").get_data(as_text=True)
    menu = re.search(r'<details class="move-menu">.*?</details>', html, re.S).group(0)
    assert re.findall(r'data-move-to="([a-z_]+)"', menu) == ["triage", "working", "solved", "dropped"]
    assert f'hx-post="/apps/desk/case/{case.id}/stage"' in menu and 'hx-include="#board-state"' in menu


def test_viewer_cards_have_no_move_menu(browser, make):
    make({"subject": "Look only"})
    assert browser.login("viewer@example.com").status_code == 302
    html = browser.get(f"{BOARD}/cards?stage=new").get_data(as_text=True)
    assert "Look only" in html and "move-menu" not in html and "data-movable" not in html


# -- the record page ---------------------------------------------------------------------------

def test_record_page_shows_path_bar_history_and_move_control(as_agent, make):
    case = make({"subject": "Pathy", "priority": "high", "due": "2030-01-01"})
    assert move(as_agent.client, case.id, "triage", csrf_token=as_agent.csrf_token(BOARD)).status_code == 200
    html = as_agent.get(f"/apps/desk/case/{case.id}").get_data(as_text=True)
    bar = re.search(r'<ol class="path-bar"[^>]*>.*?</ol>', html, re.S).group(0)
    assert re.search(r'class="path-step current"[^>]*data-stage="triage"[^>]*aria-current="step"', bar)
    assert re.search(r'class="path-step done"[^>]*data-stage="new"', bar)
    assert "path-time" in bar
    assert "Stage history" in html and re.search(r"New\s*→\s*<strong>Triage</strong>", html)
    assert f'action="/apps/desk/case/{case.id}/stage"' in html and '<select id="move-to" name="to">' in html


def test_record_page_gate_refusal_without_htmx_is_a_page(as_agent, make):
    case = make({"subject": "Bare"})
    answer = move(as_agent.client, case.id, "triage", htmx=False, csrf_token=as_agent.csrf_token(BOARD))
    assert answer.status_code == 422
    html = answer.get_data(as_text=True)
    assert "<!doctype html>" in html and "<dialog" in html and " open" in html and "Fill in Priority" in html


def test_list_and_nav_link_to_the_board(as_agent):
    html = as_agent.get("/apps/desk/case/").get_data(as_text=True)
    assert 'href="/apps/desk/case/board"' in html


@pytest.mark.parametrize("language", ["en", "zh"])
def test_a_duration_reads_as_its_translation_says(app, language):
    """duration_text keeps each translation per language and formats it as gettext does."""
    from flask_babel import gettext

    from formloom.web.stage_panel import duration_text
    with app.test_request_context("/", headers={"Accept-Language": language}):
        assert duration_text(None) is None
        assert duration_text(3 * 86400 + 2 * 3600 + 59) == gettext("%(d)sd %(h)sh", d=3, h=2)
        assert duration_text(5 * 3600 + 7 * 60) == gettext("%(h)sh %(m)sm", h=5, m=7)
        assert duration_text(9 * 60 + 30) == gettext("%(m)sm", m=9)
        assert duration_text(59) == gettext("under a minute")
        if language == "en":
            assert duration_text(3 * 86400 + 2 * 3600) == "3d 2h"
