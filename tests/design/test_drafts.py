"""Drafts and publishing, below the web layer: a draft is private until published;
two saves on one revision conflict; publishing is `install_documents`, so the
designer and `formloom install` give the same version for the same documents;
and any sequence of designer edits either publishes or is refused with
problems, never an invalid version."""
from __future__ import annotations

import copy
import random

import pytest
from sqlalchemy import select

from formloom.design import drafts, edits
from formloom.store.apps import AppCatalog, current_version
from formloom.store.db import Database
from formloom.store.install import install_documents
from formloom.store.migrate import upgrade
from formloom.store.tables import definition_versions

from ..web.desk import CASE_FLOW, desk_app


@pytest.fixture
def desk(db):
    install_documents(db, desk_app(), {"case_flow": copy.deepcopy(CASE_FLOW)})
    return db


def edit(db, revision, change):
    with db.write() as conn:
        return drafts.edit_draft(conn, "desk", revision, None, change)


NEW_FIELD = {"key": "channel", "type": "select", "label": {"en": "Channel", "zh": "渠道"}, "options": ["web", "phone"]}


def test_a_draft_is_private_until_published(desk):
    draft = edit(desk, 0, lambda doc: edits.add_field(doc, "case", NEW_FIELD))
    assert draft.revision == 2
    assert AppCatalog(desk).app("desk").entity("case").field("channel") is None
    result = drafts.publish_draft(desk, "desk", revision=draft.revision, user_id=None, comment="why")
    assert result.version.number == 2
    assert AppCatalog(desk).app("desk").entity("case").field("channel") is not None
    with desk.read() as conn:
        assert drafts.load_draft(conn, "desk") is None
        assert conn.execute(select(definition_versions.c.comment).where(
            definition_versions.c.number == 2)).scalar() == "why"


def test_two_saves_on_one_revision_conflict(desk):
    first = edit(desk, 0, lambda doc: edits.move_field(doc, "case", "due", -1))
    with pytest.raises(drafts.DraftConflict):
        edit(desk, 0, lambda doc: edits.archive_field(doc, "case", "due"))
    with pytest.raises(drafts.DraftConflict):
        drafts.publish_draft(desk, "desk", revision=first.revision - 1, user_id=None, comment=None)
    assert edit(desk, first.revision, lambda doc: doc).revision == first.revision + 1


def test_a_draft_begun_before_another_publish_is_refused(desk):
    draft = edit(desk, 0, lambda doc: edits.add_field(doc, "case", NEW_FIELD))
    changed = desk_app()
    changed["label"] = {"en": "Desk two"}
    install_documents(desk, changed, {"case_flow": copy.deepcopy(CASE_FLOW)})     # the CLI, meanwhile
    with pytest.raises(drafts.PublishRefused, match="live app changed"):
        drafts.publish_draft(desk, "desk", revision=draft.revision, user_id=None, comment=None)


def test_publishing_from_the_designer_and_installing_the_same_documents_agree(desk, tmp_path):
    draft = edit(desk, 0, lambda doc: edits.add_field(doc, "case", NEW_FIELD))
    published = drafts.publish_draft(desk, "desk", revision=draft.revision, user_id=None, comment=None)
    url = f"sqlite:///{tmp_path / 'fresh.db'}"
    upgrade(url)
    fresh = Database(url)
    try:
        installed = install_documents(fresh, copy.deepcopy(draft.app), copy.deepcopy(draft.workflows))
    finally:
        fresh.dispose()
    assert installed.version.content_hash == published.version.content_hash


OPERATIONS = ("move_field", "archive_field", "restore_field", "add_field", "move_entity", "relabel")


def test_any_sequence_of_edits_publishes_or_is_refused_with_problems(desk):
    rng = random.Random(20261130)
    outcomes = {"published": 0, "refused": 0}
    for round_ in range(8):
        revision = 0
        for _step in range(8):
            with desk.read() as conn:
                live = current_version(conn, "desk")
                draft = drafts.load_draft(conn, "desk")
            doc = drafts.documents_of(draft, live)["app"]
            entity = rng.choice(doc["entities"])
            keys = [f["key"] for f in entity["fields"]]
            op = rng.choice(OPERATIONS)
            if op == "move_field":
                change = lambda d, k=rng.choice(keys): edits.move_field(d, entity["key"], k, rng.choice((-1, 1)))
            elif op == "archive_field" and len(keys) > 1:
                change = lambda d, k=rng.choice(keys): edits.archive_field(d, entity["key"], k)
            elif op == "restore_field":
                gone = drafts.archived_fields(live.documents, doc).get(entity["key"]) or [None]
                change = (lambda d, f=gone[0]: edits.restore_field(d, entity["key"], f)) if gone[0] else (lambda d: d)
            elif op == "add_field":
                key = f"extra_{round_}_{_step}"
                change = lambda d, k=key: edits.add_field(d, entity["key"], {"key": k, "type": "text", "label": k})
            elif op == "move_entity":
                change = lambda d: edits.move_entity(d, entity["key"], rng.choice((-1, 1)))
            else:
                change = lambda d: edits.update_entity(d, entity["key"], {"label": {"en": "Renamed", "zh": "改名"}})
            revision = edit(desk, revision, change).revision
        with desk.read() as conn:
            draft = drafts.load_draft(conn, "desk")
        problems = drafts.draft_problems(draft.documents, drafts.archived_fields(live.documents, draft.app))
        if problems:
            with pytest.raises(drafts.PublishRefused):
                drafts.publish_draft(desk, "desk", revision=draft.revision, user_id=None, comment=None)
            with desk.write() as conn:
                drafts.discard_draft(conn, "desk")
            outcomes["refused"] += 1
        else:
            drafts.publish_draft(desk, "desk", revision=draft.revision, user_id=None, comment=None)
            outcomes["published"] += 1
        with desk.read() as conn:
            live = current_version(conn, "desk")
        assert drafts.draft_problems({"app": live.documents["app"], "workflows": live.documents["workflows"]}) == []
    assert outcomes["published"] and outcomes["refused"]          # both ways were taken
