"""The record page's path bar, stage history, related lists and activity section are written
in Python (web/record_html.py); the templates they replace stay as the reference. Every page
here is fetched twice, once as written and once with the templates put back, and the two must
be the same to the byte: for each reader (admin, agent, a viewer a field is hidden from), in
English and Chinese, with and without related rows, comments, stage moves, approvals, a pager
and a chosen kind of activity."""
from __future__ import annotations

import copy
import dataclasses
import re

import pytest
from markupsafe import Markup

from formloom.definitions.model import Label, SectionDef, StageDef
from formloom.layout import Group
from formloom.store.install import install_documents
from formloom.web.helpers import local_time
from formloom.web.record_html import page_head_html, record_meta_html, sections_html, stage_badge_html
from formloom.store.records import update_record

from .desk import CASE_FLOW, desk_app

WRITERS = ("related_html", "path_bar_html", "history_html", "activity_html", "stage_badge_html", "sections_html",
           "page_head_html", "record_meta_html")
#: What records/detail.html wrote before its head and meta line were written in Python.
PAGE_HEAD = """<div class="page-head">
  <div>
    <p class="crumbs"><a href="{{ url_for('records.app_home', app_key=app.key) }}">{{ app.label|label }}</a> /
      <a href="{{ url_for('records.list_view', app_key=app.key, entity_key=entity.key) }}">{{ (entity.plural or entity.label)|label }}</a></p>
    <h1>{{ record.title or ('#' ~ record.id) }} {{ stage_badge_html(stage) }}</h1>
  </div>
  {% if can_update and not (appr and appr.locked) %}
  <a class="button primary" href="{{ url_for('records.edit', app_key=app.key, entity_key=entity.key, record_id=record.id) }}">{{ _('Edit') }}</a>
  {% endif %}
</div>"""
META_LINE = """<p class="meta muted">
    {% if owner %}{{ _('Owner: %(name)s', name=owner) }} · {% endif %}
    {{ _('Created %(when)s', when=local_time(record.created_at, app)) }} ·
    {{ _('Updated %(when)s', when=local_time(record.updated_at, app)) }} ·
    {{ _('Version %(n)s', n=record.version) }}
  </p>"""
_TOKEN = re.compile(r'(name="csrf_token" value="|"X-CSRFToken": ")[^"]+')


def _templates(flask_app) -> dict:
    """The writers' reference: each part rendered by its template, as the page did before."""
    env = flask_app.jinja_env

    def include(name: str, **context) -> Markup:
        return Markup(env.get_template(name).render(**context))

    def snippet(text: str, **context) -> Markup:
        return Markup(env.from_string(text).render(local_time=local_time, **context))

    def macro(name: str, call: str):
        return lambda **context: Markup(env.from_string(f'{{% from "{name}" import {call.split("(")[0]} %}}'
                                                        f'{{{{ {call} }}}}').render(**context))

    return {
        "stage_badge_html": lambda stage: macro("records/_macros.html", "stage_badge(stage)")(stage=stage),
        "sections_html": lambda groups, tag, cls: macro(
            "records/_sections.html", "sections(groups, tag=tag, cls=cls, written=true)")(groups=groups, tag=tag, cls=cls),
        "page_head_html": lambda app, entity, record, stage, can_update, appr: snippet(
            PAGE_HEAD, app=app, entity=entity, record=record, stage=stage, can_update=can_update, appr=appr),
        "record_meta_html": lambda owner, record, app: snippet(META_LINE, owner=owner, record=record, app=app),
        "related_html": lambda related: include("records/_related.html", related=related),
        "path_bar_html": lambda pipe, record, app, appr: include("pipeline/_path_bar.html", pipe=pipe,
                                                                 record=record, app=app, appr=appr),
        "history_html": lambda pipe: include("pipeline/_history.html", pipe=pipe),
        "activity_html": lambda activity, app: include("records/_activity.html", activity=activity, app=app),
    }


def written_and_reference(flask_app, browser, path: str) -> tuple[str, str]:
    written = browser.get(path)
    kept = {name: flask_app.jinja_env.globals[name] for name in WRITERS}
    flask_app.jinja_env.globals.update(_templates(flask_app))
    try:
        reference = browser.get(path)
    finally:
        flask_app.jinja_env.globals.update(kept)
    assert written.status_code == reference.status_code == 200
    return tuple(_TOKEN.sub(r"\1TOKEN", r.get_data(as_text=True)) for r in (written, reference))


def assert_same_pages(flask_app, browser, paths) -> None:
    for path in paths:
        written, reference = written_and_reference(flask_app, browser, path)
        assert written == reference, path


def _update(flask_app, entity_key: str, record, data: dict, actor: int):
    desk, version_id = flask_app.extensions["formloom.catalog"].get("desk")
    with flask_app.extensions["formloom.db"].write() as conn:
        return update_record(conn, desk, desk.entity(entity_key), record.id, data, actor_id=actor,
                             expected_version=record.version, version_id=version_id)


@pytest.fixture
def desk_pages(app, browser, people, make_record):
    """A company with cases and one without; a case with a comment, changes (one to a field the
    viewer may not see) and a stage move; the pages' paths."""
    acme = make_record("company", {"name": "Acme <b>&</b>", "city": "Oslo"})
    empty = make_record("company", {"name": "Nobody Ltd"})
    case = make_record("case", {"subject": "Printer 'on' fire", "company": acme.id, "priority": "high",
                                "budget": "12.50", "notes": "secret <i>"})
    make_record("case", {"subject": "Second", "company": acme.id})
    case = _update(app, "case", case, {"notes": "still secret", "priority": "low"}, people.agent)
    browser.login("agent@example.com")
    page = f"/apps/desk/case/{case.id}"
    assert browser.post(f"{page}/comments", {"body": "Call <them> & @Ada Admin"}, token_from=page).status_code == 302
    assert browser.post(f"{page}/stage", {"to": "closed", "version": str(case.version + 0)},
                        token_from=page).status_code in (302, 303)
    browser.logout()
    return [page, f"{page}?limit=2", f"{page}?kind=comment", f"{page}?kind=change&kind=stage",
            f"/apps/desk/company/{acme.id}", f"/apps/desk/company/{empty.id}"]


@pytest.mark.parametrize("email", ["admin@example.com", "agent@example.com", "viewer@example.com"])
def test_the_written_parts_equal_the_templates_for_each_reader_in_both_languages(app, browser, desk_pages, email):
    browser.login(email)
    assert_same_pages(app, browser, desk_pages)
    browser.post("/language", {"lang": "en" if email.startswith("viewer") else "zh", "next": "/"})
    assert_same_pages(app, browser, desk_pages)


def test_the_pages_compared_show_every_part(app, browser, desk_pages):
    """The comparison above means something: the parts it compares are on the pages."""
    browser.login("agent@example.com")
    case_page = browser.get(desk_pages[0]).get_data(as_text=True)
    for part in ('class="path-step', 'class="card stage-history"', "moved it from", 'class="comment-body"',
                 "Call &lt;them&gt; &amp;", 'class="comment-form"', "Edit or delete"):
        assert part in case_page, part
    assert 'class="pager"' in browser.get(desk_pages[1]).get_data(as_text=True)
    assert 'class="chip chosen"' in browser.get(desk_pages[2]).get_data(as_text=True)
    company = browser.get(desk_pages[4]).get_data(as_text=True)
    assert 'class="title-link"' in company and "Printer &#39;on&#39; fire" in company
    assert '<p class="empty">' in browser.get(desk_pages[5]).get_data(as_text=True)


def test_a_record_waiting_on_an_approval_and_its_decision_read_the_same(app, browser, people, make_record):
    flow = copy.deepcopy(CASE_FLOW)
    flow["stages"][1]["gate"] = {"approval": {"steps": [{"key": "lead", "label": {"en": "Lead", "zh": "组长"},
                                                          "approvers": ["role:admin"]}]}}
    install_documents(app.extensions["formloom.db"], desk_app(), {"case_flow": flow})
    waiting = make_record("case", {"subject": "Needs a yes"})
    decided = make_record("case", {"subject": "Got a yes"})
    browser.login("agent@example.com")
    for case in (waiting, decided):
        page = f"/apps/desk/case/{case.id}"
        assert browser.post(f"{page}/stage", {"to": "closed"}, token_from=page).status_code == 303
    assert_same_pages(app, browser, [f"/apps/desk/case/{waiting.id}"])
    assert 'class="move-form"' not in browser.get(f"/apps/desk/case/{waiting.id}").get_data(as_text=True)
    browser.logout()
    browser.login("admin@example.com")
    inbox = browser.get("/approvals").get_data(as_text=True)
    action = re.search(rf'action="(/apps/desk/case/{decided.id}/approvals/\d+/approve)"', inbox).group(1)
    assert browser.post(action, {"next": "/approvals"}, token_from="/approvals").status_code == 303
    assert 'data-kind="approval"' in browser.get(f"/apps/desk/case/{decided.id}").get_data(as_text=True)
    assert_same_pages(app, browser, [f"/apps/desk/case/{waiting.id}", f"/apps/desk/case/{decided.id}"])


def _section(key: str, **kw) -> SectionDef:
    return SectionDef(key=key, title=Label({"en": f"<{key}> & co", "zh": f"{key} 区"}), fields=(), **kw)


_PAIRS = tuple((key, Markup(f'    <div class="pair" data-key="{key}"><dt>{key}</dt><dd>1 &lt; 2</dd></div>\n'))
               for key in ("a", "b"))
LAYOUTS = {
    "no layout": [Group(None, _PAIRS)],
    "sections and the rest": [
        Group(_section("open", columns=2), _PAIRS),
        Group(_section("folded", collapsed=True, description=Label({"en": "Why <this>", "zh": "说明"})), _PAIRS[:1]),
        Group(_section("described", description=Label({"en": "More", "zh": "更多"}), columns=3), _PAIRS[1:]),
        Group(None, _PAIRS)],
    "sections only": [Group(_section("only"), _PAIRS), Group(_section("last", collapsed=True), _PAIRS)],
    "nothing": [],
}


@pytest.mark.parametrize("language", ["en", "zh"])
@pytest.mark.parametrize("layout", LAYOUTS)
def test_the_fields_card_equals_the_sections_macro(app, language, layout):
    groups = LAYOUTS[layout]
    reference = _templates(app)["sections_html"]
    with app.test_request_context("/", headers={"Accept-Language": language}):
        assert str(sections_html(groups, tag="dl", cls="fields")) == str(reference(groups, "dl", "fields"))
        if layout == "sections and the rest" and language == "zh":
            assert "其他字段" in sections_html(groups, tag="dl", cls="fields")


@pytest.mark.parametrize("language", ["en", "zh"])
@pytest.mark.parametrize("stage", [None, StageDef(key="open", label=Label({"en": "Open <1>", "zh": "打开"})),
                                   StageDef(key="won", label=Label({"en": "Won", "zh": "赢单"}), terminal="won"),
                                   StageDef(key="lost", label=Label({"en": "Lost", "zh": "输单"}), terminal="lost")])
def test_the_stage_badge_equals_its_macro(app, language, stage):
    reference = _templates(app)["stage_badge_html"]
    with app.test_request_context("/", headers={"Accept-Language": language}):
        assert str(stage_badge_html(stage)) == str(reference(stage))


@pytest.mark.parametrize("language", ["en", "zh"])
def test_the_page_head_and_meta_line_equal_the_template_for_every_case(app, language, make_record):
    """Edit shown or not (no update right, an approval that locks, one that does not), a record
    without a title, an owner or none, a name and a title that need escaping."""
    titled = make_record("case", {"subject": "<Printer> & 'fire'"})
    untitled = dataclasses.replace(titled, title=None)
    reference = _templates(app)
    desk = app.extensions["formloom.catalog"].get("desk")[0]
    case = desk.entity("case")
    stage = StageDef(key="open", label=Label({"en": "Open <1>", "zh": "打开"}))
    with app.test_request_context("/", headers={"Accept-Language": language}):
        for record in (titled, untitled):
            for can_update, appr in ((True, None), (False, None), (True, {"locked": True}), (True, {"locked": False})):
                args = (desk, case, record, stage, can_update, appr)
                written = str(page_head_html(*args))
                assert written == str(reference["page_head_html"](*args))
                assert ('class="button primary"' in written) == (can_update and not (appr and appr["locked"]))
            for owner in (None, "Ann <the> & Co"):
                written = str(record_meta_html(owner, record, desk))
                assert written == str(reference["record_meta_html"](owner, record, desk))
                assert ("Ann &lt;the&gt; &amp; Co" in written) == (owner is not None)
        assert "#%d" % titled.id in str(page_head_html(desk, case, untitled, None, True, None))
