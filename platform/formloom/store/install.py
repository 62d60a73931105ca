"""Installing and upgrading an app from its documents, without losing data.

An upgrade publishes a new immutable definition version. Fields dropped from
the document are archived with their values (restorable by putting them back);
a changed label keeps the key and the data; a type or option change is checked
against every stored value first and refused, with the count and examples, if
any value would not survive. Nothing here runs DDL on user data: the only DDL
is creating and dropping expression indexes (store/index_policy.py decides which), which
never changes a value.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator, Mapping

from sqlalchemy import Connection, select, text, update

from ..definitions.compile import compile_app
from ..definitions.load import load_document
from ..definitions.model import AppDef, EntityDef, FieldDef
from ..definitions.problems import DocumentError, Problem
from ..definitions.validate import validate_app, validate_workflow
from ..errors import InstallError
from ..fields import CleanContext, FieldValueError, field_type
from ..resources import workflows_dir
from .apps import InstalledVersion, current_version, publish_version
from .db import Database
from .expressions import create_index_sql, create_statistics_sql, index_name
from .index_catalog import field_indexes
from .index_policy import wanted_indexes
from . import rollups, search_index
from .statistics import refresh_statistics
from .tables import records

MAX_EXAMPLES = 3


@dataclass
class InstallResult:
    app_key: str
    version: InstalledVersion
    changed: bool
    archived: list[str] = field(default_factory=list)     # "entity.field"
    restored: list[str] = field(default_factory=list)
    converted: int = 0


def find_workflow_documents(app_doc: Mapping[str, Any], app_dir: Path,
                            search_dirs: tuple[Path, ...] | None = None) -> dict[str, tuple[Path, dict]]:
    """The workflow documents an app names: its own workflows/ folder first, then the shared one."""
    dirs = search_dirs if search_dirs is not None else (app_dir / "workflows", workflows_dir())
    wanted = {e.get("workflow") for e in app_doc.get("entities", []) if isinstance(e, dict) and e.get("workflow")}
    found: dict[str, tuple[Path, dict]] = {}
    for key in sorted(k for k in wanted if isinstance(k, str)):
        for folder in dirs:
            path = folder / f"{key}.json"
            if path.is_file():
                found[key] = (path, load_document(path))
                break
    return found


def read_template(path: Path) -> tuple[dict, dict[str, dict], str]:
    """Load an app folder (or app.json) and its workflows; raise DocumentError listing every problem."""
    app_path = path / "app.json" if path.is_dir() else path
    if not app_path.is_file():
        raise InstallError(f"No app document at {app_path}.", hint="Give a template folder containing app.json.")
    app_doc = load_document(app_path)
    found = find_workflow_documents(app_doc, app_path.parent)
    workflows = {key: doc for key, (_p, doc) in found.items()}
    problems = document_problems(app_doc, {key: (str(p), doc) for key, (p, doc) in found.items()}, str(app_path))
    if problems:
        raise DocumentError(problems)
    return app_doc, workflows, str(app_path)


def document_problems(app_doc: dict, workflows: Mapping[str, tuple[str, dict]], source: str,
                      *, validate_workflows: bool = True) -> list[Problem]:
    """Every problem of an app and its workflows (key -> (source, document)), each located
    in its own document; a workflow is checked against the app it belongs to."""
    problems = validate_app(app_doc, {key: doc for key, (_s, doc) in workflows.items()}, source)
    if validate_workflows:
        for _key, (where, doc) in sorted(workflows.items()):
            problems += validate_workflow(doc, app_doc, where)
    return problems


def content_hash(documents: Mapping[str, Any]) -> str:
    canonical = json.dumps(documents, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


def read_dashboards(path: Path, app_doc: dict, workflows: Mapping[str, dict]) -> dict[str, dict]:
    """The dashboards/*.json of an app folder, by key; raise DocumentError listing every problem."""
    from ..dashboards.checks import validate_dashboards
    folder = (path if path.is_dir() else path.parent) / "dashboards"
    found: dict[str, tuple[str, dict]] = {}
    problems: list[Problem] = []
    for file in sorted(folder.glob("*.json")) if folder.is_dir() else []:
        try:
            found[file.stem] = (str(file), load_document(file))
        except DocumentError as exc:
            problems += exc.problems
    problems += validate_dashboards(found, app_doc, dict(workflows))
    if problems:
        raise DocumentError(problems)
    return {key: doc for key, (_source, doc) in found.items()}


def install_path(db: Database, path: Path, *, user_id: int | None = None) -> InstallResult:
    app_doc, workflows, source = read_template(path)
    dashboards = read_dashboards(path, app_doc, workflows)
    result = install_documents(db, app_doc, workflows, source=source, user_id=user_id, dashboard_docs=dashboards)
    if not result.changed:      # the same documents under a newer engine: its index policy applies
        documents = result.version.documents
        create_indexes(db, compile_app(documents["app"], documents.get("workflows", {}),
                                       archived=documents.get("archived") or None))
    return result


def install_documents(db: Database, app_doc: dict, workflow_docs: Mapping[str, dict], *, source: str | None = None,
                      user_id: int | None = None, dashboard_docs: Mapping[str, dict] | None = None,
                      comment: str | None = None, validate_workflows: bool = True) -> InstallResult:
    """Install or upgrade; validate the app and its workflows first (documents given directly
    are not trusted either). The CLI (`formloom install`) and the designer's "Publish" both
    come through here. `dashboard_docs` (key -> dashboard document) replaces the app's
    dashboards; None keeps those of the current version (a caller that edits only the app
    does not drop them). `validate_workflows=False` is for tests that install a deliberately
    broken workflow to see what the engine does at run time with it."""
    problems = document_problems(app_doc, {key: (f"workflows/{key}.json", doc) for key, doc in workflow_docs.items()},
                                 source or "app.json", validate_workflows=validate_workflows)
    if problems:
        raise DocumentError(problems)
    with db.write() as conn:
        previous = current_version(conn, app_doc["key"])
        if dashboard_docs is None and previous is not None:
            dashboard_docs = previous.documents.get("dashboards") or {}
        if dashboard_docs:
            from ..dashboards.checks import validate_dashboards
            problems = validate_dashboards({k: (f"dashboards/{k}.json", d) for k, d in dashboard_docs.items()},
                                           app_doc, dict(workflow_docs))
            if problems:
                raise DocumentError(problems)
        archived, archived_names, restored = _archive(previous, app_doc)
        documents = {"app": app_doc, "workflows": dict(workflow_docs), "archived": archived}
        if dashboard_docs:          # only when there are some: an app without keeps its content hash
            documents["dashboards"] = dict(dashboard_docs)
        digest = content_hash(documents)
        new_app = compile_app(app_doc, documents["workflows"], archived=archived or None)
        converted = 0
        stale_search: set[str] = set()
        old_app = None
        if previous is not None:
            if previous.content_hash == digest:
                return InstallResult(app_doc["key"], previous, changed=False)
            _refuse_lost_entities(conn, previous, app_doc)
            old_app = compile_app(previous.documents["app"], previous.documents.get("workflows", {}))
            converted = _convert_changed_fields(conn, old_app, new_app)
            stale_search = set(search_index.stale_entities(old_app, new_app))
            stale_search |= {entity.key for entity, _prior, _f in _changed_fields(old_app, new_app)}
        version = publish_version(conn, app_doc["key"], documents, digest, source, user_id, comment)
        fresh = new_rollups(old_app, new_app)
        if fresh or converted:      # a new or changed rollup starts from its related records; converted values recount
            rollups.rebuild(conn, new_app, only=None if converted else fresh)
        from ..dashboards.storage import aggregated_fields
        from .slots import assign as assign_slots
        # in the publish's transaction: no reader sees the new mapping before its backfill
        assign_slots(conn, new_app, aggregated_fields(new_app, documents.get("dashboards") or {}))
        if stale_search:        # what global search indexes changed: those entities' entries again
            search_index.rebuild(conn, new_app, stale_search)
    create_indexes(db, new_app)
    from ..dashboards.storage import rebuild_indexes
    with db.write() as conn:
        rebuild_indexes(conn, new_app, documents.get("dashboards") or {})
    refresh_statistics(db)      # new indexes are only picked well with fresh statistics (if rows exist)
    return InstallResult(app_doc["key"], version, changed=True, archived=archived_names, restored=restored,
                         converted=converted)


def new_rollups(old: AppDef | None, new: AppDef) -> set[str]:
    """"entity.field" of each rollup of `new` that `old` does not have with the same settings."""
    out = set()
    for entity in new.entities:
        before = old.entity(entity.key) if old is not None else None
        for f in entity.fields:
            prior = before.field(f.key) if before is not None else None
            if f.type == "rollup" and (prior is None or prior.type != f.type or prior.extra != f.extra):
                out.add(f"{entity.key}.{f.key}")
    return out


def _archive(previous: InstalledVersion | None, app_doc: dict) -> tuple[dict, list[str], list[str]]:
    """Carry archived fields forward, archive fields that disappeared, restore ones that came back."""
    if previous is None:
        return {}, [], []
    archived: dict[str, list[dict]] = {k: list(v) for k, v in (previous.documents.get("archived") or {}).items()}
    new_fields = {e["key"]: {f["key"] for f in e["fields"]} for e in app_doc["entities"]}
    archived_names, restored = [], []
    for entity in previous.documents["app"]["entities"]:
        for f in entity["fields"]:
            if entity["key"] in new_fields and f["key"] not in new_fields[entity["key"]]:
                bucket = archived.setdefault(entity["key"], [])
                if all(a["key"] != f["key"] for a in bucket):
                    bucket.append(f)
                    archived_names.append(f"{entity['key']}.{f['key']}")
    for entity_key, bucket in list(archived.items()):
        back = [a for a in bucket if a["key"] in new_fields.get(entity_key, set())]
        restored += [f"{entity_key}.{a['key']}" for a in back]
        archived[entity_key] = [a for a in bucket if a not in back]
        if not archived[entity_key]:
            del archived[entity_key]
    return archived, archived_names, restored


def _refuse_lost_entities(conn: Connection, previous: InstalledVersion, app_doc: dict) -> None:
    kept = {e["key"] for e in app_doc["entities"]}
    for entity in previous.documents["app"]["entities"]:
        if entity["key"] not in kept:
            n = conn.execute(select(text("count(*)")).select_from(records).where(
                records.c.app_key == app_doc["key"], records.c.entity_key == entity["key"])).scalar()
            if n:
                raise InstallError(
                    f"Entity {entity['key']!r} was removed from the document but has {n} records.",
                    hint="Keep the entity in the document (you can hide it from roles) or delete its records first.")


def _changed_fields(old: AppDef, new: AppDef) -> Iterator[tuple[EntityDef, FieldDef, FieldDef]]:
    for entity in new.entities:
        before = old.entity(entity.key)
        if before is None:
            continue
        for f in entity.fields:
            prior = before.field(f.key)
            if prior is not None and not f.is_computed and _value_rules(prior) != _value_rules(f):
                yield entity, prior, f


def _value_rules(f: FieldDef) -> tuple:
    return (f.type, f.option_values, f.max_length, f.min, f.max, f.precision, f.entity, f.multiple, f.pattern,
            tuple(_value_rules(c) for c in f.columns), f.scale)


def convert_value(old: FieldDef, new: FieldDef, value: Any) -> Any:
    """The stored value under the new definition, or FieldValueError if it would not survive."""
    target = field_type(new.type)
    ctx = CleanContext()
    try:
        return target.clean(new, value, ctx)
    except FieldValueError:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return target.clean(new, str(value), ctx)
        if isinstance(value, str) and new.type in ("number", "percent", "rating"):
            return target.clean(new, float(value) if "." in value else int(value), ctx)
        raise


def _convert_changed_fields(conn: Connection, old: AppDef, new: AppDef) -> int:
    converted = 0
    for entity, prior, f in _changed_fields(old, new):
        rows = conn.execute(select(records.c.id, records.c.data).where(
            records.c.app_key == new.key, records.c.entity_key == entity.key)).all()
        failures, updates = [], []
        for row in rows:
            value = (row.data or {}).get(f.key)
            if value in (None, "", []):
                continue
            try:
                new_value = convert_value(prior, f, value)
            except (FieldValueError, ValueError, TypeError):
                failures.append((row.id, value))
                continue
            if new_value != value:
                updates.append((row.id, {**row.data, f.key: new_value}))
        if failures:
            examples = ", ".join(f"record {rid}: {str(v)[:40]!r}" for rid, v in failures[:MAX_EXAMPLES])
            raise InstallError(
                f"Changing field {entity.key}.{f.key} ({prior.type} -> {f.type}) would not keep "
                f"{len(failures)} existing value(s), e.g. {examples}.",
                hint="Keep the old definition, fix those records first, or add a new field instead.")
        for record_id, data in updates:
            conn.execute(update(records).where(records.c.id == record_id)
                         .values(data=data, version=records.c.version + 1))
        converted += len(updates)
    return converted


def fields_to_index(app: AppDef) -> Iterator[tuple[EntityDef, FieldDef]]:
    """The fields the app queries records by (store/index_policy.py says why, per field)."""
    for wanted in wanted_indexes(app):
        yield wanted.entity, wanted.field


def create_indexes(db: Database, app: AppDef) -> int:
    """Make the field indexes the app's policy wants and drop the app's others (a field no
    longer queried by, an index of an earlier version or policy): every index costs each
    write. Runs at install and publish only, never while records are written."""
    dialect = db.engine.dialect.name
    n = 0
    with db.write() as conn:
        statistics = dialect == "postgresql" and (conn.dialect.server_version_info or (0,)) >= (14,)
        search_index.create_entity_indexes(conn, app)
        keep = set()
        for entity, f in fields_to_index(app):
            keep.add(index_name(app.key, entity.key, f.key))
            conn.exec_driver_sql(create_index_sql(dialect, app.key, entity.key, f))
            if statistics:
                conn.exec_driver_sql(create_statistics_sql(dialect, app.key, entity.key, f))
            n += 1
        for existing in field_indexes(conn, app.key):
            if existing.name not in keep:
                conn.exec_driver_sql(f"DROP INDEX IF EXISTS {existing.name}")
                if statistics:
                    conn.exec_driver_sql(f"DROP STATISTICS IF EXISTS stx{existing.name[3:]}")
    return n
