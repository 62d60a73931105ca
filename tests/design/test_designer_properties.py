"""Any sequence of designer operations ends in one of two places: a draft that the
validator accepts and that publishes, or a draft whose problems the designer shows
and whose publishing is refused. Never a server error, never a published version
the validator would refuse.

Two layers, each driven by hypothesis: the edit functions (design/edits.py) on a
draft, with types, keys and settings drawn freely (mistakes included); and the
designer's own routes through the Flask test client, posting what a person could
type into its forms."""
from __future__ import annotations

import copy
import re

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st
from sqlalchemy import func, select

from formloom.definitions.problems import DocumentError
from formloom.design import drafts, edits
from formloom.errors import FormloomError
from formloom.fields import FIELD_TYPES
from formloom.store.apps import current_version
from formloom.store.install import install_documents
from formloom.store.tables import definition_versions

from ..web.conftest import app, browser, people  # noqa: F401  (the web layer's fixtures)
from ..web.desk import CASE_FLOW, desk_app

pytestmark = pytest.mark.slow

KEYS = ("name", "subject", "company", "due", "extra", "notes", "Bad Key", "")
TYPES = sorted(FIELD_TYPES) + ["nonsense"]
SCOPES = ("none", "own", "team", "all", "everyone")
LABELS = st.one_of(st.just(""), st.text(max_size=8), st.fixed_dictionaries({"en": st.text(max_size=8)}))
SETTINGS = st.fixed_dictionaries({}, optional={
    "required": st.booleans(),
    "options": st.lists(st.sampled_from(["a", "b", "", "a"]), max_size=3),
    "entity": st.sampled_from(["company", "case", "nowhere"]),
    "max_length": st.integers(-5, 300),
    "visible_if": st.sampled_from([{"==": [{"var": "escalated"}, True]}, {"var": "missing"}, {"nope": []}]),
})

OPERATIONS = st.one_of(
    st.tuples(st.just("add_field"), st.integers(0, 2), st.sampled_from(KEYS), st.sampled_from(TYPES), LABELS,
              SETTINGS),
    st.tuples(st.just("archive_field"), st.integers(0, 2), st.integers(0, 12)),
    st.tuples(st.just("restore_field"), st.integers(0, 2)),
    st.tuples(st.just("change_type"), st.integers(0, 2), st.integers(0, 12), st.sampled_from(TYPES)),
    st.tuples(st.just("move_field"), st.integers(0, 2), st.integers(0, 12), st.sampled_from((-1, 1, 5))),
    st.tuples(st.just("update_entity"), st.integers(0, 2), st.sampled_from(KEYS), st.lists(st.sampled_from(KEYS),
                                                                                        max_size=3)),
    st.tuples(st.just("set_permissions"), st.integers(0, 2), st.sampled_from(("agent", "viewer", "ghost")),
              st.booleans(), st.sampled_from(SCOPES)),
    st.tuples(st.just("set_entity_archived"), st.integers(0, 2), st.booleans()),
    st.tuples(st.just("add_entity"), st.sampled_from(("topic", "case", "Bad")), LABELS),
    st.tuples(st.just("move_entity"), st.integers(0, 2), st.sampled_from((-1, 1))),
)


def _pick(items: list, i: int):
    return items[i % len(items)] if items else None


def change_for(op: tuple, doc: dict, archived: dict):
    """The edit an operation makes on `doc`, as the designer would ask for it."""
    entity = _pick(doc.get("entities", []), op[1]) if isinstance(op[1], int) else None
    ekey = entity["key"] if entity else "nowhere"
    fkeys = [f["key"] for f in entity.get("fields", [])] if entity else []
    kind = op[0]
    if kind == "add_field":
        _k, _e, key, type_name, label, extra = op
        return lambda d: edits.add_field(d, ekey, {"key": key, "type": type_name, "label": label, **extra})
    if kind == "archive_field":
        return lambda d: edits.archive_field(d, ekey, _pick(fkeys, op[2]) or "none")
    if kind == "restore_field":
        gone = archived.get(ekey) or []
        return lambda d: edits.restore_field(d, ekey, gone[0]) if gone else d
    if kind == "change_type":
        ftype = FIELD_TYPES.get(op[3])
        allowed = {s.name for s in ftype.all_settings()} if ftype else {"key", "label"}
        return lambda d: edits.change_type(d, ekey, _pick(fkeys, op[2]) or "none", op[3], allowed)
    if kind == "move_field":
        return lambda d: edits.move_field(d, ekey, _pick(fkeys, op[2]) or "none", op[3])
    if kind == "update_entity":
        return lambda d: edits.update_entity(d, ekey, {"title": op[2], "list_columns": op[3]})
    if kind == "set_permissions":
        return lambda d: edits.set_permissions(d, ekey, {op[2]: {"create": op[3], "read": op[4], "update": op[4]}})
    if kind == "set_entity_archived":
        return lambda d: edits.set_entity_archived(d, ekey, op[2])
    if kind == "add_entity":
        return lambda d: edits.add_entity(d, op[1], op[2] or {"en": "Topic"}, {"en": "Name"})
    return lambda d: edits.move_entity(d, ekey, op[2])


def versions(db) -> int:
    with db.read() as conn:
        return conn.execute(select(func.count()).select_from(definition_versions)).scalar_one()


def live_problems(db) -> list:
    with db.read() as conn:
        live = current_version(conn, "desk")
    return drafts.check_draft({"app": live.documents["app"], "workflows": live.documents.get("workflows") or {}})


@pytest.fixture(scope="module")
def desk_db(tmp_path_factory, _migrated_sqlite):
    import shutil
    from formloom.store.db import Database
    path = tmp_path_factory.mktemp("props") / "desk.db"
    shutil.copy(_migrated_sqlite, path)
    db = Database(f"sqlite:///{path}")
    install_documents(db, desk_app(), {"case_flow": copy.deepcopy(CASE_FLOW)})
    yield db
    db.dispose()


@settings(max_examples=25, deadline=None, database=None, derandomize=True,
          suppress_health_check=list(HealthCheck))
@given(operations=st.lists(OPERATIONS, min_size=1, max_size=6))
def test_any_sequence_of_edits_validates_and_publishes_or_is_refused(desk_db, operations):
    db = desk_db
    with db.write() as conn:
        drafts.discard_draft(conn, "desk")
    revision = 0
    for op in operations:
        with db.read() as conn:
            live = current_version(conn, "desk")
            documents = drafts.documents_of(drafts.load_draft(conn, "desk"), live)
        archived = drafts.archived_fields(live.documents, documents["app"])
        try:
            with db.write() as conn:
                revision = drafts.edit_draft(conn, "desk", revision, None,
                                             change_for(op, documents["app"], archived)).revision
        except (edits.EditError, FormloomError):
            pass                                   # refused with a message, the draft unchanged
    before = versions(db)
    with db.read() as conn:
        draft = drafts.load_draft(conn, "desk")
        live = current_version(conn, "desk")
    if draft is None:
        return
    problems = drafts.draft_problems(draft.documents, drafts.archived_fields(live.documents, draft.app))
    assert all(p.message and p.json_path.startswith("$") for p in problems)
    if problems:
        with pytest.raises(drafts.PublishRefused):
            drafts.publish_draft(db, "desk", revision=draft.revision, user_id=None, comment=None)
        assert versions(db) == before
    else:
        try:
            drafts.publish_draft(db, "desk", revision=draft.revision, user_id=None, comment=None)
        except DocumentError as error:         # the validator and the install must agree
            raise AssertionError(f"validated, yet the install refused: {error}") from None
    assert live_problems(db) == []


# -- the designer's routes -----------------------------------------------------------------------------

BASE = "/apps/desk/design"
TEXT = st.text(alphabet=st.characters(codec="utf-8", exclude_characters="\x00"), max_size=12)
FIELD_FORM = st.fixed_dictionaries({"s-label-en": TEXT}, optional={
    "s-label-zh": TEXT, "s-key": st.sampled_from(["subject", "extra", "Bad key", "", "x" * 70]),
    "s-required": st.just("1"), "s-max_length": st.sampled_from(["", "10", "-1", "abc", "9" * 30]),
    "s-options-value": st.lists(st.sampled_from(["a", "b", "", "a"]), max_size=3),
    "s-entity": st.sampled_from(["company", "case", "nowhere", ""]),
    "s-visible_if": st.sampled_from(['{"var": "escalated"}', "{", '{"nope": 1}', ""]),
})
ROUTES = st.one_of(
    st.tuples(st.just("new"), st.sampled_from(["case", "company", "ghost"]), st.sampled_from(TYPES), FIELD_FORM),
    st.tuples(st.just("edit"), st.sampled_from(["case", "company"]), st.integers(0, 12), FIELD_FORM),
    st.tuples(st.just("archive"), st.sampled_from(["case", "company"]), st.integers(0, 12)),
    st.tuples(st.just("type"), st.sampled_from(["case", "company"]), st.integers(0, 12), st.sampled_from(TYPES)),
    st.tuples(st.just("settings"), st.sampled_from(["case", "company"]),
              st.fixed_dictionaries({"label-en": TEXT, "title": st.sampled_from(KEYS),
                                     "list_columns": st.lists(st.sampled_from(KEYS), max_size=3)})),
    st.tuples(st.just("permissions"), st.sampled_from(["case", "company"]),
              st.fixed_dictionaries({"agent-read": st.sampled_from(SCOPES), "agent-create": st.sampled_from(["1", ""]),
                                     "viewer-update": st.sampled_from(SCOPES)})),
    st.tuples(st.just("entity"), st.fixed_dictionaries({"label-en": TEXT, "key": st.sampled_from(
        ["", "topic", "case", "Bad Key"])})),
    st.tuples(st.just("order"), st.sampled_from(["case", "company"]), st.lists(st.sampled_from(KEYS), max_size=4)),
)
_REVISION = re.compile(r'name="revision" value="(\d+)"')
_TOKEN = re.compile(r'name="csrf_token" value="([^"]+)"')


def _form_of(client, page: str) -> dict:
    text = client.get(page).get_data(as_text=True)
    return {"revision": _REVISION.search(text).group(1), "csrf_token": _TOKEN.search(text).group(1)}


def _fields(app, entity_key: str) -> list[str]:
    db = app.extensions["formloom.db"]
    with db.read() as conn:
        live = current_version(conn, "desk")
        documents = drafts.documents_of(drafts.load_draft(conn, "desk"), live)
    entity = next((e for e in documents["app"]["entities"] if e["key"] == entity_key), None)
    return [f["key"] for f in entity["fields"]] if entity else ["none"]


def request_for(app, route: tuple) -> tuple[str, dict]:
    kind, entity = route[0], route[1]
    base = f"{BASE}/e/{entity}"
    if kind == "new":
        return f"{base}/new/{route[2]}", route[3]
    if kind == "entity":
        return f"{BASE}/entities", route[1]
    field = _pick(_fields(app, entity), route[2]) if kind in ("edit", "archive", "type") else None
    if kind == "edit":
        return f"{base}/fields/{field}", route[3]
    if kind == "archive":
        return f"{base}/fields/{field}/archive", {}
    if kind == "type":
        return f"{base}/fields/{field}/type", {"type": route[3]}
    if kind == "settings":
        return f"{base}/settings", route[2]
    if kind == "permissions":
        return f"{base}/permissions", route[2]
    return f"{base}/fields/order", {"keys": route[2]}


@settings(max_examples=15, deadline=None, database=None, derandomize=True,
          suppress_health_check=list(HealthCheck))
@given(routes=st.lists(ROUTES, min_size=1, max_size=5))
def test_any_sequence_of_designer_posts_never_errors_and_never_publishes_an_invalid_app(app, browser, routes):
    if browser.get(BASE).status_code != 200:
        browser.login("admin@example.com")
    db = app.extensions["formloom.db"]
    with db.write() as conn:
        drafts.discard_draft(conn, "desk")
    for route in routes:
        path, data = request_for(app, route)
        response = browser.client.post(path, data={**data, **_form_of(browser.client, BASE)})
        assert response.status_code < 500, (path, data, response.get_data(as_text=True)[:500])
    before = versions(db)
    with db.read() as conn:
        draft = drafts.load_draft(conn, "desk")
        live = current_version(conn, "desk")
    page = browser.get(BASE).get_data(as_text=True)
    response = browser.client.post(f"{BASE}/publish", data={"comment": "", **_form_of(browser.client, BASE)})
    if draft is None:
        assert response.status_code == 404 and versions(db) == before
    elif drafts.draft_problems(draft.documents, drafts.archived_fields(live.documents, draft.app)):
        assert 'id="app-problems"' in page or 'class="badge danger"' in page     # the designer shows them
        assert response.status_code == 422 and versions(db) == before
    else:
        assert response.status_code == 303, response.get_data(as_text=True)[:500]
    assert live_problems(db) == []
