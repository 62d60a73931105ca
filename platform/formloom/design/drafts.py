"""Drafts: the copy of an app's documents the designer edits.

Every designer edit lands in the app's draft (one row in `app_drafts`), never in
the live app. The draft is checked with the same validation as `formloom
validate` after every change; publishing hands it to `install_documents`, the
path `formloom install` takes, so the browser and the CLI cannot disagree.
Each save names the revision it was made on: the later of two admins' saves
on the same revision is refused with a conflict instead of overwriting.
"""
from __future__ import annotations

import copy
import threading
from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Callable

from sqlalchemy import Connection, delete, insert, select, update

from ..definitions.problems import DocumentError, Problem, json_path, sorted_problems
from ..definitions.validate import validate_app, validate_workflow
from ..errors import ConflictError, InstallError, NotFoundError
from ..store.apps import InstalledVersion, current_version
from ..store.db import Database
from ..store.install import InstallResult, install_documents
from ..store.tables import app_drafts

DRAFT_SOURCE = "designer"


class DraftConflict(ConflictError):
    """The draft was saved by someone else since this edit's page was loaded."""


class PublishRefused(InstallError):
    """The draft has problems (listed), or the live app changed since the draft began."""

    def __init__(self, message: str, problems: list[Problem] | None = None, hint: str | None = None):
        super().__init__(message, hint=hint)
        self.problems = list(problems or [])


@dataclass(frozen=True)
class Draft:
    app_key: str
    documents: dict          # {"app": {...}, "workflows": {key: {...}}, "dashboards": {key: {...}}}
    revision: int
    base_version_id: int | None
    updated_by: int | None
    updated_at: datetime

    @property
    def app(self) -> dict:
        return self.documents["app"]

    @property
    def workflows(self) -> dict:
        return self.documents.get("workflows") or {}

    @property
    def dashboards(self) -> dict | None:
        """None for a draft begun before dashboards were drafted: publishing keeps the live ones."""
        return self.documents.get("dashboards")


def _now() -> datetime:
    return datetime.now(timezone.utc)


def _live(conn: Connection, app_key: str) -> InstalledVersion:
    live = current_version(conn, app_key)
    if live is None:
        raise NotFoundError(f"There is no app {app_key!r}.")
    return live


def load_draft(conn: Connection, app_key: str) -> Draft | None:
    row = conn.execute(select(app_drafts).where(app_drafts.c.app_key == app_key)).first()
    if row is None:
        return None
    return Draft(row.app_key, row.documents, row.revision, row.base_version_id, row.updated_by, row.updated_at)


def open_draft(conn: Connection, app_key: str, user_id: int | None) -> Draft:
    """The app's draft; started as a copy of the live version when there is none."""
    found = load_draft(conn, app_key)
    if found is not None:
        return found
    live = _live(conn, app_key)
    documents = {"app": copy.deepcopy(live.documents["app"]),
                 "workflows": copy.deepcopy(live.documents.get("workflows") or {}),
                 "dashboards": copy.deepcopy(live.documents.get("dashboards") or {})}
    now = _now()
    conn.execute(insert(app_drafts).values(app_key=app_key, documents=documents, revision=1,
                                           base_version_id=live.id, updated_by=user_id, updated_at=now))
    return Draft(app_key, documents, 1, live.id, user_id, now)


def save_draft(conn: Connection, app_key: str, documents: dict, revision: int, user_id: int | None) -> Draft:
    """Store `documents` as the draft made on `revision`; DraftConflict when it moved on."""
    now = _now()
    result = conn.execute(update(app_drafts)
                          .where(app_drafts.c.app_key == app_key, app_drafts.c.revision == revision)
                          .values(documents=documents, revision=revision + 1, updated_by=user_id, updated_at=now))
    if result.rowcount != 1:
        raise DraftConflict("Someone else changed this draft since you opened it.",
                            hint="Reload the page to see their change, then make yours again.")
    base = conn.execute(select(app_drafts.c.base_version_id).where(app_drafts.c.app_key == app_key)).scalar()
    return Draft(app_key, documents, revision + 1, base, user_id, now)


def edit_documents(conn: Connection, app_key: str, revision: int, user_id: int | None,
                   change: Callable[[dict], dict]) -> Draft:
    """Apply `change` (documents -> documents) to the draft made on `revision`: the one revision
    check every designer screen's save goes through. Revision 0 means the page showed the live
    app (no draft yet): the draft starts now."""
    draft = load_draft(conn, app_key)
    if draft is None:
        if revision != 0:
            raise DraftConflict("The draft you were editing was published or discarded meanwhile.",
                                hint="Reload the page and make your change again.")
        draft = open_draft(conn, app_key, user_id)
    elif draft.revision != revision:
        raise DraftConflict("Someone else changed this draft since you opened it.",
                            hint="Reload the page to see their change, then make yours again.")
    documents = copy.deepcopy(draft.documents)
    if documents.get("dashboards") is None:          # a draft begun before dashboards were drafted
        live = _live(conn, app_key)
        documents["dashboards"] = copy.deepcopy(live.documents.get("dashboards") or {})
    return save_draft(conn, app_key, change(documents), draft.revision, user_id)


def edit_draft(conn: Connection, app_key: str, revision: int, user_id: int | None,
               change: Callable[[dict], dict]) -> Draft:
    """`edit_documents` for a change of the app document alone (app document -> app document)."""
    return edit_documents(conn, app_key, revision, user_id, lambda docs: {**docs, "app": change(docs["app"])})


def discard_draft(conn: Connection, app_key: str) -> None:
    conn.execute(delete(app_drafts).where(app_drafts.c.app_key == app_key))


# -- what publishing would archive ---------------------------------------------------------------------

def archived_fields(live_documents: dict, draft_app: dict) -> dict[str, list[dict]]:
    """entity key -> field documents that are archived once the draft is published: those
    archived already and not brought back, and live fields the draft no longer has."""
    in_draft = {e["key"]: {f["key"] for f in e.get("fields", [])} for e in draft_app.get("entities", [])
                if isinstance(e, dict) and "key" in e}
    out: dict[str, list[dict]] = {}

    def add(entity_key: str, f: dict) -> None:
        if entity_key in in_draft and f["key"] not in in_draft[entity_key]:
            bucket = out.setdefault(entity_key, [])
            if all(a["key"] != f["key"] for a in bucket):
                bucket.append(f)

    for entity_key, bucket in (live_documents.get("archived") or {}).items():
        for f in bucket:
            add(entity_key, f)
    for entity in live_documents["app"]["entities"]:
        for f in entity["fields"]:
            add(entity["key"], f)
    return out


# -- checks ----------------------------------------------------------------------------------------------

_CHECKED: "OrderedDict[tuple, list[Problem]]" = OrderedDict()
_CHECKED_LOCK = threading.Lock()
CHECKED_CACHE_SIZE = 32


def draft_problems(documents: dict, archived: dict[str, list[dict]] | None = None) -> list[Problem]:
    """`check_draft`, remembered per content: validating a large app takes about a second, and
    every designer page shows the problems of a draft that changes only when it is saved.
    The key includes the registries' signature, so registering a type checks afresh."""
    from ..meta_schemas import signature
    from ..store.install import content_hash
    key = (content_hash({"documents": documents, "archived": archived or {}}), signature())
    with _CHECKED_LOCK:
        found = _CHECKED.get(key)
        if found is not None:
            _CHECKED.move_to_end(key)
            return list(found)
    problems = check_draft(documents, archived)
    with _CHECKED_LOCK:
        _CHECKED[key] = problems
        while len(_CHECKED) > CHECKED_CACHE_SIZE:
            _CHECKED.popitem(last=False)
    return list(problems)


def check_draft(documents: dict, archived: dict[str, list[dict]] | None = None) -> list[Problem]:
    """Everything `formloom validate` would say about the draft, plus what only the designer
    knows: a new field may not take the key of an archived one (its values are still stored)."""
    app_doc, workflows = documents["app"], documents.get("workflows") or {}
    problems = validate_app(app_doc, workflows, "app.json")
    for key, workflow in workflows.items():
        problems += validate_workflow(workflow, app_doc, f"workflows/{key}.json")
    if documents.get("dashboards") and not problems:     # dashboards are checked against a sound app
        from ..dashboards.checks import validate_dashboards
        problems += validate_dashboards({k: (f"dashboards/{k}.json", d) for k, d in documents["dashboards"].items()},
                                        app_doc, workflows)
    for i, entity in enumerate(app_doc.get("entities", []) if isinstance(app_doc, dict) else []):
        if not isinstance(entity, dict):
            continue
        gone = {a["key"]: a for a in (archived or {}).get(entity.get("key"), [])}
        for j, f in enumerate(entity.get("fields") or []):
            if isinstance(f, dict) and f.get("key") in gone and gone[f["key"]].get("type") != f.get("type"):
                problems.append(Problem("app.json", json_path("entities", i, "fields", j, "key"),
                                        f"The key {f['key']!r} belongs to an archived field whose values are kept; "
                                        "restore that field, or give this one another key."))
    return sorted_problems(problems)


# -- publishing ------------------------------------------------------------------------------------------

def publish_documents(db: Database, app_doc: dict, workflows: dict, *, user_id: int | None,
                      comment: str | None, catalog=None, dashboards: dict | None = None) -> InstallResult:
    """Install documents as the next version (install_documents, like `formloom install`), then
    move reminders to follow the rules as published (as the CLI does after installing).
    `dashboards` None keeps the live app's."""
    try:
        result = install_documents(db, app_doc, workflows, source=DRAFT_SOURCE, user_id=user_id,
                                   comment=(comment or "").strip()[:2000] or None, dashboard_docs=dashboards)
    except DocumentError as error:
        raise PublishRefused("The app has problems; nothing was published.", error.problems) from None
    if result.changed:
        from ..automation.worker import sync_changed_apps
        from ..store.apps import AppCatalog
        sync_changed_apps(db, catalog or AppCatalog(db), _now())
    return result


def publish_draft(db: Database, app_key: str, *, revision: int, user_id: int | None, comment: str | None,
                  catalog=None, move_reason: Callable[[str, str, str], str] | None = None) -> InstallResult:
    """Publish the draft made on `revision`; refuse when it has problems, when it is stale, or
    when the live app changed since the draft began (its changes would be lost), or when a stage
    it removes holds records and the draft does not say where they go. Records of removed stages
    are then moved as the draft says (design.stage_moves), with `move_reason(workflow, from, to)`
    written to their history."""
    with db.read() as conn:
        draft = load_draft(conn, app_key)
        live = _live(conn, app_key)
    if draft is None:
        raise NotFoundError("There is no draft to publish.", hint="Make a change in the designer first.")
    if draft.revision != revision:
        raise DraftConflict("Someone else changed this draft since you opened it.",
                            hint="Reload the page, check their change, then publish again.")
    if draft.base_version_id != live.id:
        raise PublishRefused("The live app changed since this draft began.",
                             hint="Discard the draft and make your changes again on the new version.")
    problems = draft_problems(draft.documents, archived_fields(live.documents, draft.app))
    if problems:
        raise PublishRefused("The draft has problems; fix them before publishing.", problems)
    from .stage_moves import apply_stage_moves, stranded_stages
    with db.read() as conn:
        stranded = stranded_stages(conn, live.documents, draft.documents)
    if stranded:
        raise PublishRefused("A stage this draft removes still holds records; say where they go first.",
                             [Problem(f"workflows/{w}.json", "$.stages", f"Stage {s!r} holds {n} records.")
                              for w, s, n in stranded])
    result = publish_documents(db, draft.app, draft.workflows, user_id=user_id, comment=comment, catalog=catalog,
                               dashboards=draft.dashboards)
    moves = draft.documents.get("stage_moves") or {}
    if moves and result.changed and user_id is not None:
        from ..definitions.compile import compile_app
        apply_stage_moves(db, compile_app(draft.app, draft.workflows), moves, user_id,
                          move_reason or _default_move_reason)
    with db.write() as conn:
        conn.execute(delete(app_drafts).where(app_drafts.c.app_key == app_key,
                                              app_drafts.c.revision == revision))
    return result


def _default_move_reason(workflow_key: str, from_stage: str, to_stage: str) -> str:
    return f"Stage {from_stage!r} was removed from the pipeline; moved to {to_stage!r}."


def restore_version(db: Database, app_key: str, number: int, *, user_id: int | None, catalog=None) -> InstallResult:
    """Publish an old version's documents as a new version (its fields come back with their values;
    fields it did not have are archived, values kept)."""
    from ..store.apps import list_versions
    with db.read() as conn:
        found = [v for v in list_versions(conn, app_key) if v.number == number]
    if not found:
        raise NotFoundError(f"There is no version {number} of this app.")
    docs = found[0].documents
    return publish_documents(db, copy.deepcopy(docs["app"]), copy.deepcopy(docs.get("workflows") or {}),
                             user_id=user_id, comment=f"Restored version {number}", catalog=catalog,
                             dashboards=copy.deepcopy(docs.get("dashboards") or {}))


def documents_of(draft: Draft | None, live: InstalledVersion) -> dict[str, Any]:
    if draft is not None:
        return draft.documents if draft.dashboards is not None else \
            {**draft.documents, "dashboards": live.documents.get("dashboards") or {}}
    return {"app": live.documents["app"], "workflows": live.documents.get("workflows") or {},
            "dashboards": live.documents.get("dashboards") or {}}
