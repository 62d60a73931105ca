"""The workflow designer's stage and gate screens through the Flask test client:
app admins only, CSRF on writes; a stage added, set up and given a gate lands in
the draft and reaches the kanban once published; bad input is shown by the
control that caused it (en and zh) with nothing saved, never a 500; a stage
holding records asks where they go and the publish moves them with the reason
in their history."""
from __future__ import annotations

import re

from hypothesis import HealthCheck, given, settings, strategies as st
from sqlalchemy import select

from formloom.store.tables import app_drafts

from .test_designer import post, publish, revision

BASE = "/apps/desk/design"
FLOWS = f"{BASE}/workflows"
FLOW = f"{FLOWS}/case_flow"


def draft_flow(app) -> dict:
    with app.extensions["formloom.db"].read() as conn:
        documents = conn.execute(select(app_drafts.c.documents)).scalar_one()
    return documents["workflows"]["case_flow"]


def add_stage(browser, key="review", en="Review", zh="复核"):
    return post(browser, f"{FLOW}/stages", {"label-en": en, "label-zh": zh, "key": key}, page=FLOW)


STAGE_FORM = {"label-en": "Review", "label-zh": "复核", "probability": "60", "color": "#7048e8",
              "terminal": "", "rot_amount": "3", "rot_unit": "days", "required": ["due"], "readonly": ["code"]}


def test_only_app_admins_reach_the_workflow_designer(app, browser):
    browser.login("agent@example.com")
    for path in (FLOWS, FLOW, f"{FLOW}/stages/open"):
        assert browser.get(path).status_code == 403
    assert browser.post(f"{FLOW}/stages", {"label-en": "X", "revision": "0"}).status_code == 403
    browser.logout()
    browser.login("outsider@example.com")
    assert browser.get(FLOW).status_code == 404


def test_writes_need_the_csrf_token(as_admin):
    answer = as_admin.client.post(f"{FLOW}/stages", data={"label-en": "Review", "revision": "0"})
    assert answer.status_code == 400


def test_the_designer_lists_workflows_and_links_the_rules(as_admin):
    page = as_admin.get(FLOWS).get_data(as_text=True)
    assert f'href="{FLOW}"' in page and ">Workflows<" in page
    page = as_admin.get(FLOW).get_data(as_text=True)
    assert f'href="{FLOW}/rules"' in page and 'class="path-bar design-path"' in page
    assert re.search(r'data-stage="open".*data-stage="closed"', page, re.S)


def test_an_admin_adds_a_stage_sets_it_up_and_it_goes_live_on_publish(app, as_admin, make_record):
    make_record("case", {"subject": "Waiting"})
    answer = add_stage(as_admin)
    assert answer.status_code == 303 and answer.headers["Location"].endswith(f"{FLOW}/stages/review")
    assert [s["key"] for s in draft_flow(app)["stages"]] == ["open", "review", "closed"]
    stage_page = f"{FLOW}/stages/review"
    answer = post(as_admin, stage_page, STAGE_FORM, page=stage_page)
    assert answer.status_code == 303, answer.get_data(as_text=True)
    review = draft_flow(app)["stages"][1]
    assert review == {"key": "review", "label": {"en": "Review", "zh": "复核"}, "probability": 60,
                      "color": "#7048e8", "rot_after": "P3D", "required": ["due"], "readonly": ["code"]}
    page = as_admin.get(stage_page).get_data(as_text=True)
    assert 'name="rot_amount" inputmode="numeric" value="3"' in page

    answer = post(as_admin, f"{FLOW}/gates/review", {"g-require": ["budget"], "g-related-rows": "1",
                                                      "g-roles": ["admin"]}, page=stage_page)
    assert answer.status_code == 303, answer.get_data(as_text=True)
    assert draft_flow(app)["stages"][1]["gate"] == {"require": ["budget"], "roles": ["admin"]}
    page = as_admin.get(stage_page).get_data(as_text=True)
    assert "1 record now in earlier stages would be blocked by this gate." in page
    assert "Waiting" in page

    overview = as_admin.get(BASE).get_data(as_text=True)
    assert "gets stricter" in overview
    assert publish(as_admin).status_code == 303
    board = as_admin.get("/apps/desk/case/board").get_data(as_text=True)
    assert "Review" in board


def test_bad_settings_are_shown_by_their_control_and_nothing_is_saved(app, as_admin):
    stage_page = f"{FLOW}/stages/open"
    answer = post(as_admin, stage_page, {**STAGE_FORM, "probability": "lots", "rot_amount": "soon"}, page=stage_page)
    assert answer.status_code == 422
    page = answer.get_data(as_text=True)
    assert re.search(r'id="control-probability".*?Enter a whole number from 0 to 100', page, re.S)
    assert re.search(r'id="control-rot_after".*?Enter a whole number of hours', page, re.S)
    answer = post(as_admin, stage_page, {**STAGE_FORM, "color": "red"}, page=stage_page)
    assert answer.status_code == 422
    assert re.search(r'id="control-color".*?error-text', answer.get_data(as_text=True), re.S)
    answer = post(as_admin, f"{FLOW}/gates/open", {"g-conditions-rows": "1", "g-conditions-0-rule-source": "json",
                                                   "g-conditions-0-rule-json": "{oops",
                                                   "g-conditions-0-message-en": "Hm"}, page=stage_page)
    assert answer.status_code == 422
    assert re.search(r'id="cb-g-conditions-0-rule".*?not valid JSON', answer.get_data(as_text=True), re.S)
    with app.extensions["formloom.db"].read() as conn:
        assert conn.execute(select(app_drafts.c.documents)).first() is None


def test_a_gate_condition_is_built_with_the_condition_builder(app, as_admin):
    stage_page = f"{FLOW}/stages/closed"
    page = as_admin.get(stage_page).get_data(as_text=True)
    assert 'id="cb-g-conditions-0-rule"' in page
    answer = post(as_admin, f"{FLOW}/gates/closed", {
        "g-conditions-rows": "1", "g-conditions-0-rule-mode": "all", "g-conditions-0-rule-item": "1",
        "g-conditions-0-rule-1-field": "budget", "g-conditions-0-rule-1-op": "gt",
        "g-conditions-0-rule-1-value": "100", "g-conditions-0-message-en": "Budget above 100",
        "g-conditions-0-message-zh": "预算需高于100"}, page=stage_page)
    assert answer.status_code == 303, answer.get_data(as_text=True)
    condition = draft_flow(app)["stages"][1]["gate"]["conditions"][0]
    assert condition["message"] == {"en": "Budget above 100", "zh": "预算需高于100"}
    assert condition["rule"] in ({">": [{"var": "budget"}, 100]}, {"and": [{">": [{"var": "budget"}, 100]}]})


def test_problems_are_in_chinese_for_a_chinese_admin(app, as_admin, people):
    from formloom.auth.users import set_language
    with app.extensions["formloom.db"].write() as conn:
        set_language(conn, people.admin, "zh")
    stage_page = f"{FLOW}/stages/open"
    answer = post(as_admin, stage_page, {**STAGE_FORM, "probability": "lots"}, page=stage_page)
    assert answer.status_code == 422
    page = answer.get_data(as_text=True)
    assert "阶段设置" in page and "请输入 0 到 100 的整数" in page


def test_a_stage_holding_records_asks_where_they_go_and_publish_moves_them(app, as_admin, make_record, people):
    record = make_record("case", {"subject": "Stuck"})
    add_stage(as_admin)
    assert publish(as_admin).status_code == 303
    from formloom.store.apps import AppCatalog
    from formloom.workflow.moves import move_to_stage
    from formloom.auth.users import load_actor
    db = app.extensions["formloom.db"]
    desk = AppCatalog(db).app("desk")
    with db.write() as conn:
        admin = load_actor(conn, people.admin)
        move_to_stage(conn, desk, desk.entity("case"), record.id, "review", admin, override_reason="set up")
    stage_page = f"{FLOW}/stages/review"
    page = as_admin.get(stage_page).get_data(as_text=True)
    assert "1 record is in this stage now." in page
    answer = post(as_admin, f"{stage_page}/remove", {"move_to": ""}, page=stage_page)
    assert answer.status_code == 422
    assert "choose the stage it goes to" in answer.get_data(as_text=True)
    answer = post(as_admin, f"{stage_page}/remove", {"move_to": "closed"}, page=stage_page)
    assert answer.status_code == 303
    overview = as_admin.get(BASE).get_data(as_text=True)
    assert "its 1 records move to Closed" in overview
    assert publish(as_admin).status_code == 303
    detail = as_admin.get(f"/apps/desk/case/{record.id}").get_data(as_text=True)
    assert "Review (review) was removed from the pipeline; the record was moved to Closed (closed)." in detail
    assert "Review → <strong>Closed</strong>" in detail          # the removed stage keeps its label
    assert "<strong>Review</strong>" in detail


def test_stages_are_reordered_by_dragging_and_by_the_arrow_buttons(app, as_admin):
    add_stage(as_admin)
    answer = post(as_admin, f"{FLOW}/stages/order", {"keys": ["review", "open", "closed"]}, page=FLOW)
    assert answer.status_code == 303
    assert [s["key"] for s in draft_flow(app)["stages"]] == ["review", "open", "closed"]
    answer = post(as_admin, f"{FLOW}/stages/closed/move", {"direction": "up"}, page=FLOW)
    assert answer.status_code == 303 and answer.headers["Location"].endswith("#stage-closed")
    assert [s["key"] for s in draft_flow(app)["stages"]] == ["review", "closed", "open"]


def test_a_stale_page_conflicts_instead_of_overwriting(app, as_admin):
    page = as_admin.get(FLOW).get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    first = as_admin.client.post(f"{FLOW}/stages", data={"label-en": "A", "key": "a", "revision": revision(page),
                                                          "csrf_token": token})
    assert first.status_code == 303
    second = as_admin.client.post(f"{FLOW}/stages", data={"label-en": "B", "key": "b", "revision": revision(page),
                                                           "csrf_token": token})
    assert second.status_code == 409
    assert [s["key"] for s in draft_flow(app)["stages"]] == ["open", "a", "closed"]


TEXT = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=12)
POSTS = st.one_of(
    st.builds(lambda k, en: ("stages", {"key": k, "label-en": en}), st.sampled_from(["review", "Bad Key", "", "open"]),
              TEXT),
    st.builds(lambda p, c, a, u, r: ("stages/open", {"label-en": "Open", "probability": p, "color": c, "rot_amount": a,
                                                     "rot_unit": u, "required": r}),
              st.sampled_from(["", "5", "101", "-1", "x"]), st.sampled_from(["", "#abc", "red", "#12345g"]),
              st.sampled_from(["", "0", "3", "99999", "x"]), st.sampled_from(["days", "hours", "years", ""]),
              st.lists(st.sampled_from(["due", "ghost", "subject"]), max_size=2)),
    st.builds(lambda req, rows, ent, via, mn: ("gates/closed", {"g-require": req, "g-related-rows": rows,
                                                               "g-related-0-entity": ent, "g-related-0-via": via,
                                                               "g-related-0-min": mn}),
              st.lists(st.sampled_from(["due", "ghost"]), max_size=2), st.sampled_from(["0", "1", "x", "999999"]),
              st.sampled_from(["", "visit", "case", "nope"]), TEXT, st.sampled_from(["", "1", "0", "x"])),
    st.builds(lambda to: ("stages/open/remove", {"move_to": to}), st.sampled_from(["", "closed", "open", "ghost"])),
    st.builds(lambda keys: ("stages/order", {"keys": keys}), st.lists(TEXT, max_size=3)),
)


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(POSTS, min_size=1, max_size=4))
def test_any_sequence_of_designer_posts_is_saved_or_refused_never_a_500(app, as_admin, posts):
    for path, data in posts:
        answer = post(as_admin, f"{FLOW}/{path}", data, page=FLOW)
        assert answer.status_code in (303, 400, 404, 409, 422), (path, data, answer.status_code)
        if answer.status_code == 422:
            assert 'role="alert"' in answer.get_data(as_text=True) or "error" in answer.get_data(as_text=True)
    with app.extensions["formloom.db"].write() as conn:
        conn.execute(app_drafts.delete())


def add_linking_entity(app) -> None:
    """A `visit` entity (made in the draft) whose `case` field points at the workflow's entity;
    its `firm` field points elsewhere."""
    from formloom.design import drafts, edits

    def change(doc: dict) -> dict:
        doc = edits.add_entity(doc, "visit", {"en": "Visit", "zh": "拜访"}, "Note")
        for field in ({"key": "firm", "type": "reference", "entity": "company", "label": "Firm"},
                      {"key": "case", "type": "reference", "entity": "case", "label": {"en": "Case", "zh": "工单"}}):
            doc = edits.add_field(doc, "visit", field)
        return doc
    with app.extensions["formloom.db"].write() as conn:
        drafts.edit_draft(conn, "desk", 0, None, change)


def test_via_is_picked_from_the_related_entitys_fields_that_point_here(app, as_admin):
    add_linking_entity(app)
    stage_page = f"{FLOW}/stages/closed"
    page = as_admin.get(stage_page).get_data(as_text=True)
    assert re.search(r'<select id="g-related-0-entity" name="g-related-0-entity" data-refresh>', page)
    via = re.search(r'<select id="g-related-0-via".*?</select>', page, re.S).group(0)
    assert re.findall(r'<option value="(\w*)"', via) == [""]                    # no entity chosen yet
    assert 'name="do" value="refresh"' in page                                  # without scripts: press it

    answer = post(as_admin, f"{FLOW}/gates/closed", {"g-related-rows": "1", "g-related-0-entity": "visit",
                                                      "do": "refresh"}, page=stage_page)
    assert answer.status_code == 200
    via = re.search(r'<select id="g-related-0-via".*?</select>', answer.get_data(as_text=True), re.S).group(0)
    assert re.findall(r'<option value="(\w*)"', via) == ["", "case"]              # not `firm`: it points elsewhere
    assert '<option value="case" selected>Case</option>' in via                  # the only one, so chosen
    assert "gate" not in draft_flow(app)["stages"][1]                           # a refresh saves nothing

    answer = post(as_admin, f"{FLOW}/gates/closed", {"g-related-rows": "1", "g-related-0-entity": "visit",
                                                      "g-related-0-via": "case", "g-related-0-min": "1"},
                  page=stage_page)
    assert answer.status_code == 303, answer.get_data(as_text=True)
    assert draft_flow(app)["stages"][1]["gate"]["related"] == [{"entity": "visit", "via": "case", "min": 1}]


def test_a_refused_gate_shows_each_problem_in_the_row_it_concerns_rows_as_posted(app, as_admin):
    stage_page = f"{FLOW}/stages/closed"
    answer = post(as_admin, f"{FLOW}/gates/closed", {
        "g-conditions-rows": "3",                                       # row 0 left empty, rows 1 and 2 filled
        "g-conditions-1-rule-mode": "all", "g-conditions-1-rule-item": "1",
        "g-conditions-1-rule-1-field": "budget", "g-conditions-1-rule-1-op": "gt",
        "g-conditions-1-rule-1-value": "lots", "g-conditions-1-message-en": "Budget above 100",
        "g-conditions-2-rule-mode": "all", "g-conditions-2-rule-item": "1",
        "g-conditions-2-rule-1-field": "subject", "g-conditions-2-rule-1-op": "filled",
        "g-conditions-2-message-en": "Needs a subject"}, page=stage_page)
    assert answer.status_code == 422
    page = answer.get_data(as_text=True)
    builder = re.search(r'id="cb-g-conditions-1-rule".*?</ul>', page, re.S).group(0)   # the rows, not the JSON
    row = re.search(r'<li class="cb-row" data-cb-item="1">.*?</li>', builder, re.S).group(0)
    assert 'value="lots"' in row and 'role="alert"' in row                            # beside its value
    assert re.search(r'name="g-conditions-1-message-en" value="Budget above 100"', page)
    assert re.search(r'name="g-conditions-2-message-en" value="Needs a subject"', page)   # still its own row
    assert re.search(r'name="g-conditions-0-message-en" value=""', page)
    assert 'name="g-conditions-rows" value="4"' in page                             # the three as posted + a spare

    answer = post(as_admin, f"{FLOW}/gates/closed", {                                # the validator's problem too
        "g-related-rows": "2", "g-related-1-entity": "company", "g-related-1-via": "name",
        "g-related-1-min": "1"}, page=stage_page)
    assert answer.status_code == 422
    control = re.search(r'id="control-g-related-1-via".*?</div>', answer.get_data(as_text=True), re.S).group(0)
    assert 'role="alert"' in control and "reference" in control
