"""Importing rows: each row goes through the same path as a form.

Every row is cleaned by the field types (after convert.py read the cells), checked
by the policy with the importer as reader (references only to records they may
read, only fields they may write), written by `create_record`/`update_record` with
an audit row marked `via="import: <file> row <n>"`, and a stage column moves the
record through `move_to_stage` (the gate applies; an admin may override with a
reason, which goes to the stage history). Events are written as for a form; unless
`run_rules` is asked, they are marked handled in the same transaction, so a
migration does not notify everyone.

Modes:
- dry run: everything is done in one transaction that is rolled back, so the report
  is exactly what a real run would find (uniqueness within the file, gates, the
  references a row before created);
- all-or-nothing: one transaction, each row in a savepoint; committed only when no
  row failed;
- skip bad rows: a transaction per batch; bad rows are left out and kept (with their
  reasons) for a file the person can fix and import again.

With `upsert_by` (a unique field) a row whose value matches a record updates it, so
re-running a file (after a crash or a cancel) never creates duplicates; a row that
changes nothing counts as skipped.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Callable, Mapping

from sqlalchemy import Connection, func, select, update

from ..auth import policy
from ..auth.users import Actor
from ..definitions.model import AppDef, EntityDef
from ..errors import FormloomError, RecordInvalid
from ..i18n import translate
from ..bulk_write import BulkWriter, Refused, WriteItem
from ..store.statistics import refresh_if_moved
from ..store.tables import events
from ..workflow.gates import GateBlocked
from .convert import CellError, Converter, cell_text, is_blank
from .files import Table
from .mapping import OWNER, STAGE
from .subtables import ChildSheet, Group, Origin, convert_rows, group_rows, key_text, locate, split_target

MODES = ("all-or-nothing", "skip-bad-rows")
MAX_KEPT_ERRORS = 10_000        # errors (and bad rows) kept for the report; counts go on
VIA_MAX = 200


@dataclass(frozen=True)
class ImportOptions:
    mode: str = "all-or-nothing"
    dry_run: bool = False
    upsert_by: str | None = None
    run_rules: bool = False
    override_reason: str | None = None
    batch_size: int = 500
    child_sheets: Mapping[str, str] | None = None      # subtable field key -> the sheet holding its rows


@dataclass(frozen=True)
class RowError:
    row: int
    column: str
    value: str
    message: str
    sheet: str = ""         # set for a row of another sheet than the main one (a child sheet)

    def as_dict(self) -> dict:
        out = {"row": self.row, "column": self.column, "value": self.value, "message": self.message}
        if self.sheet:
            out["sheet"] = self.sheet
        return out


@dataclass
class ImportResult:
    total: int = 0
    done: int = 0
    created: int = 0
    updated: int = 0
    skipped: int = 0
    failed: int = 0
    errors: list[RowError] = field(default_factory=list)
    bad_rows: list[tuple[int, list[Any], str]] = field(default_factory=list)
    committed: bool = False
    cancelled: bool = False

    def as_json(self) -> dict:
        """The `formloom import --json` object."""
        return {"created": self.created, "updated": self.updated, "skipped": self.skipped, "failed": self.failed,
                "errors": [e.as_dict() for e in self.errors]}

    def progress(self) -> dict:
        return {"total": self.total, "done": self.done, "created": self.created, "updated": self.updated,
                "skipped": self.skipped, "failed": self.failed, "committed": self.committed,
                "cancelled": self.cancelled}


class ImportRefused(FormloomError):
    """The import cannot start as asked (mapping, upsert field, mode)."""

    code = "import_refused"


class _RowFailed(Exception):
    def __init__(self, errors: list[RowError]):
        super().__init__(errors[0].message if errors else "")
        self.errors = errors


class _Rollback(Exception):
    """Leave the transaction without committing (dry run, or a failed all-or-nothing run)."""


def system_actor() -> Actor:
    """Who imports from the command line without --as: the operator, with every right."""
    return Actor(id=None, email="", name="import", is_superuser=True)    # type: ignore[arg-type]


class Importer:
    def __init__(self, db, app: AppDef, version_id: int | None, entity: EntityDef, actor: Actor, table: Table,
                 mapping: dict[int, str], filename: str, options: ImportOptions, lang: str = "en", *,
                 on_progress: Callable[[Connection | None, ImportResult, int], None] | None = None,
                 cancelled: Callable[[], bool] | None = None):
        self.db, self.app, self.version_id, self.entity, self.actor = db, app, version_id, entity, actor
        self.table, self.mapping, self.filename, self.options, self.lang = table, dict(mapping), filename, options, lang
        self.on_progress, self.cancelled = on_progress, cancelled or (lambda: False)
        self.workflow = app.workflow_for(entity.key)
        self._converter: Converter | None = None
        self._check()
        self.writer = BulkWriter(app, version_id, entity, actor, lang, upsert_by=options.upsert_by,
                                 override_reason=options.override_reason)

    def _refuse(self, msgid: str, **params: Any):
        raise ImportRefused(translate(self.lang, msgid, **params))

    def _check(self) -> None:
        if self.options.mode not in MODES:
            self._refuse("Unknown mode %(mode)s; use all-or-nothing or skip-bad-rows.", mode=repr(self.options.mode))
        if not policy.can(self.actor, "create", self.app, self.entity) and not self.options.upsert_by:
            self._refuse("You may not create %(entity)s records.", entity=self.entity.label.get(self.lang))
        writable = {f.key for f in policy.writable_fields(self.actor, self.app, self.entity)}
        self.sub_columns: dict[str, dict[int, Any]] = {}
        for i, target in self.mapping.items():
            if i >= len(self.table.headers):
                self._refuse("The mapping names column %(n)s, which the file does not have.", n=i + 1)
            if split := split_target(target):
                self.sub_columns.setdefault(split[0], {})[i] = self._subtable_column(target, *split, writable)
                continue
            if target in (STAGE, OWNER):
                if target == STAGE and not (self.workflow and self.workflow.stages):
                    self._refuse("%(entity)s has no stages.", entity=self.entity.label.get(self.lang))
                continue
            if target not in writable:
                self._refuse("Column %(column)s cannot be imported into %(field)s: there is no such field you may "
                             "write.", column=repr(self.table.headers[i]), field=repr(target))
        if self.options.override_reason is not None:
            if not policy.is_app_admin(self.actor, self.app):
                self._refuse("Only app admins may override a stage gate.")
            if not self.options.override_reason.strip():
                self._refuse("Say why you are overriding the stage gate.")
        if len(set(self.mapping.values())) != len(self.mapping):
            self._refuse("Two columns are mapped to the same field.")
        if not self.mapping:
            self._refuse("No column is mapped to a field.")
        key = self.options.upsert_by
        if key:
            f = self.entity.field(key)
            if f is None or not f.unique:
                unique = ", ".join(x.key for x in self.entity.fields if x.unique) or "-"
                self._refuse("Upsert by %(field)s is not possible: it is not a unique field (unique fields: "
                             "%(unique)s).", field=repr(key), unique=unique)
            if key not in self.mapping.values():
                self._refuse("Upsert by %(field)s needs a column mapped to it.", field=repr(key))
        self.column_of = {target: self.table.headers[i] for i, target in self.mapping.items()}
        key = self.options.upsert_by or self.entity.title
        self.key_index = next((i for i, t in self.mapping.items() if t == key), None)
        self.record_indexes = [i for i, t in self.mapping.items() if not split_target(t)]
        self.children = {f: self._child_sheet(f, sheet, writable)
                         for f, sheet in (self.options.child_sheets or {}).items()}

    def _subtable_column(self, target: str, field_key: str, column_key: str, writable: set[str]):
        f = self.entity.field(field_key)
        column = next((c for c in f.columns if c.key == column_key), None) if f is not None else None
        if f is None or f.type != "subtable" or f.key not in writable or column is None:
            self._refuse("Column %(column)s cannot be imported into %(field)s: there is no such field you may "
                         "write.", column=repr(self.table.headers[next(i for i, t in self.mapping.items()
                                                                       if t == target)]), field=repr(target))
        return column

    def _child_sheet(self, field_key: str, sheet: str, writable: set[str]) -> ChildSheet:
        f = self.entity.field(field_key)
        if f is None or f.type != "subtable" or f.key not in writable:
            self._refuse("%(field)s is not a table field you may write.", field=repr(field_key))
        if field_key in self.sub_columns:
            self._refuse("%(field)s gets its rows from columns of this sheet and from sheet %(sheet)s; choose one.",
                         field=f.label.get(self.lang), sheet=repr(sheet))
        if sheet not in self.table.sheets or sheet == self.table.sheet:
            self._refuse("There is no sheet %(sheet)s. Sheets: %(sheets)s.", sheet=repr(sheet[:60]),
                         sheets=", ".join(s for s in self.table.sheets if s != self.table.sheet) or "-")
        key = self.entity.field(self.options.upsert_by or self.entity.title)
        if self.key_index is None or key is None:
            self._refuse("Rows of sheet %(sheet)s are matched to records by %(field)s: map a column to it.",
                         sheet=repr(sheet), field=(key.label.get(self.lang) if key else "-"))
        names = [self.table.headers[self.key_index], key.key, *key.label.texts.values()]
        try:
            return ChildSheet.open(self.table, sheet, f, names, self.lang)
        except CellError as error:
            raise ImportRefused(error.message) from None

    def groups(self, start_after: int = 0):
        """The main sheet's rows after `start_after`, one Group per record (see subtables.py)."""
        rows = ((n, cells) for n, cells in self.table.rows() if n > start_after)
        if not self.sub_columns:
            return (Group(n, cells) for n, cells in rows)
        return group_rows(rows, self.key_index, self.record_indexes)

    # -- the run ---------------------------------------------------------------------------
    def run(self, start_after: int = 0) -> ImportResult:
        """Import every row numbered above `start_after` (a resumed job passes where it stopped)."""
        result = ImportResult(total=self.table.count())
        rows = self.groups(start_after)
        if self.children and not start_after:
            self._orphans(result)
        if self.options.dry_run or self.options.mode == "all-or-nothing":
            try:
                with self.db.write() as conn:
                    self._batch(conn, rows, result, limit=None)
                    if self.options.dry_run or result.failed or result.cancelled:
                        raise _Rollback()
                    result.committed = True
                    self._report(conn, result, None)
            except _Rollback:
                pass
            self._refresh_statistics(result)
            self._report(None, result, None)
            return result
        last = start_after
        while not result.cancelled:
            batch = []
            for item in rows:
                batch.append(item)
                if len(batch) >= self.options.batch_size:
                    break
            if not batch:
                break
            with self.db.write() as conn:
                self._batch(conn, iter(batch), result, limit=None)
                last = batch[-1].last
                result.committed = True
                self._report(conn, result, last)
            result.cancelled = result.cancelled or self.cancelled()
        self._refresh_statistics(result)
        self._report(None, result, last)
        return result

    def _refresh_statistics(self, result: ImportResult) -> None:
        """An import that grew an entity by a large share refreshes the planner's statistics at
        once (store/statistics.py decides, as the worker's loop does): a plan made for the empty
        table would sort every match where an index walk reads one page."""
        if result.committed and result.created + result.updated:
            refresh_if_moved(self.db)

    def _orphans(self, result: ImportResult) -> None:
        """Child-sheet rows naming no record of the main sheet fail, each where it is."""
        parents = {key_text(g.cells[self.key_index]) for g in self.groups()}
        for child in self.children.values():
            header = child.table.headers[child.key_index]
            for number, cells in child.orphans(parents):
                result.failed += 1
                if len(result.errors) < MAX_KEPT_ERRORS:
                    result.errors.append(RowError(number, header, cell_text(cells[child.key_index])[:200], translate(
                        self.lang, "No row of the main sheet has this value, so this row belongs to no record."),
                        child.sheet))

    def _report(self, conn: Connection | None, result: ImportResult, last_row: int | None) -> None:
        if self.on_progress is not None:
            self.on_progress(conn, result, last_row or 0)

    def _batch(self, conn: Connection, rows, result: ImportResult, limit: int | None) -> None:
        first_event = conn.execute(select(func.max(events.c.id))).scalar() or 0
        touched: list[int] = []
        converter = self._converter
        if converter is None:           # one per run: its look-ups are cached across batches
            converter = self._converter = Converter(conn, self.app, self.actor, self.lang)
        converter.conn = conn
        if self._creates_only():
            self._created_in_batches(conn, converter, rows, result, touched)
        else:
            self._row_by_row(conn, converter, rows, result, touched)
        if touched and not self.options.run_rules:
            conn.execute(update(events).where(events.c.id > first_event, events.c.processed_at.is_(None),
                                              events.c.record_id.in_(sorted(set(touched))))
                         .values(processed_at=datetime.now(timezone.utc)))

    def _creates_only(self) -> bool:
        """Every row is a plain create (no upsert, no stage column, creating allowed, no mapped
        reference to this same entity, which a later row could name by an earlier row's title):
        rows are then written through store.records.create_records, many per statement."""
        targets = [self.entity.field(t) for t in self.mapping.values() if t not in (STAGE, OWNER)]
        return (not self.options.upsert_by and STAGE not in self.mapping.values()
                and not any(f is not None and f.type == "reference" and f.entity == self.entity.key for f in targets)
                and policy.can(self.actor, "create", self.app, self.entity))

    def _failed(self, result: ImportResult, group: Group, failure: _RowFailed) -> None:
        result.failed += 1
        if len(result.errors) < MAX_KEPT_ERRORS:
            result.errors.extend(failure.errors)
            message = "; ".join(f"{e.column}: {e.message}" if e.column else e.message for e in failure.errors)
            for number, cells in group.all():
                result.bad_rows.append((number, [cell_text(c) for c in cells], message))

    def _created_in_batches(self, conn: Connection, converter: Converter, rows, result: ImportResult,
                            touched: list[int]) -> None:
        """The same outcome, row for row, as _row_by_row when every row is a create: rows that
        do not convert fail as there; the others are cleaned and written by create_records
        (chunks of 200, between which a cancel is noticed)."""
        rows = iter(rows)
        while True:
            chunk = []
            for item in rows:
                chunk.append(item)
                if len(chunk) >= 200:
                    break
            if not chunk:
                return
            converted: list[tuple[Group, Any]] = []
            items: list[WriteItem] = []
            for group in chunk:
                try:
                    incoming, _stage, owner, raw_of, origins = self._incoming(converter, group)
                except _RowFailed as failure:
                    converted.append((group, failure))
                    continue
                converted.append((group, (len(items), raw_of, origins)))
                items.append(WriteItem(incoming, owner_id=owner, via=self._via(group)))
            written = self.writer.write(conn, items)
            for group, outcome in converted:
                result.done += group.size
                if isinstance(outcome, _RowFailed):
                    self._failed(result, group, outcome)
                    continue
                index, raw_of, origins = outcome
                done = written[index]
                if not done.ok:
                    self._failed(result, group, _RowFailed(self._failure(group.number, done.error, raw_of, origins)))
                    continue
                touched.append(done.record.id)
                result.created += 1
            if self.cancelled():
                result.cancelled = True
                return
            if self.options.mode == "all-or-nothing" or self.options.dry_run:
                self._report(None, result, 0)

    def _row_by_row(self, conn: Connection, converter: Converter, rows, result: ImportResult,
                    touched: list[int]) -> None:
        for count, group in enumerate(rows, start=1):
            try:
                with conn.begin_nested():
                    outcome, record_id = self._row(conn, converter, group)
                touched.append(record_id)
                setattr(result, outcome, getattr(result, outcome) + 1)
            except _RowFailed as failure:
                self._failed(result, group, failure)
            result.done += group.size
            if count % 200 == 0:
                if self.cancelled():
                    result.cancelled = True
                    break
                if self.options.mode == "all-or-nothing" or self.options.dry_run:
                    self._report(None, result, 0)

    # -- one row ----------------------------------------------------------------------------
    def _cell_error(self, number: int, target: str, raw: Any, message: str) -> RowError:
        return RowError(number, self.column_of.get(target, ""), cell_text(raw)[:200], message)

    def _via(self, group: Group) -> str:
        rows = f"{group.number}-{group.last}" if group.more else f"{group.number}"
        return f"import: {self.filename} row {rows}"[:VIA_MAX]

    def _problem_errors(self, number: int, problems, raw_of: dict, origins: dict[str, list[Origin]]) -> list[RowError]:
        """Field problems as located errors; a subtable row's at its own sheet, row and column."""
        out = []
        for p in problems:
            if p.field in origins:
                origin, header, raw, message = locate(self.entity, p.path, p.message, origins[p.field], self.lang)
                if origin is not None:
                    out.append(self._origin_error(origin, header, raw, message))
                    continue
            out.append(self._cell_error(number, p.field, raw_of.get(p.field), p.message))
        return out

    def _subtable_values(self, conv: Converter, group: Group, incoming: dict, errors: list[RowError]
                         ) -> dict[str, list[Origin]]:
        origins: dict[str, list[Origin]] = {}
        failures: list[tuple[Origin, str, str]] = []
        sources = [(key, self.table.sheet or "", group.all(), columns, self.table.headers)
                   for key, columns in self.sub_columns.items()]
        sources += [(key, child.sheet, child.rows_for(key_text(group.cells[self.key_index])), child.columns,
                     child.table.headers) for key, child in self.children.items()]
        for key, sheet, rows, columns, headers in sources:
            values, where = convert_rows(conv, sheet, rows, columns, headers, failures)
            if values:          # no rows in the file: the field is left as it is (an upsert keeps its rows)
                incoming[key], origins[key] = values, where
        for origin, column_key, message in failures:
            errors.append(self._origin_error(origin, *origin.cells[column_key], message))
        return origins

    def _origin_error(self, origin: Origin, header: str, raw: Any, message: str) -> RowError:
        """An error at a subtable row's own place (the sheet named only when it is not the main one)."""
        sheet = "" if origin.sheet == (self.table.sheet or "") else origin.sheet
        return RowError(origin.row, header, cell_text(raw)[:200], message, sheet)

    def _incoming(self, conv: Converter, group: Group):
        """The group's cells converted: (values, stage key, owner id, raw cell of each target,
        the origin of each subtable row)."""
        number, cells = group.number, group.cells
        incoming: dict[str, Any] = {}
        errors: list[RowError] = []
        stage = owner = None
        raw_of: dict[str, Any] = {}
        for i, target in self.mapping.items():
            if split_target(target):
                continue          # subtable columns: _subtable_values
            raw = cells[i]
            raw_of[target] = raw
            try:
                if target == STAGE:
                    stage = None if is_blank(raw) else self._stage_key(cell_text(raw))
                elif target == OWNER:
                    owner = None if is_blank(raw) else conv.user_id(cell_text(raw))
                else:
                    incoming[target] = conv.convert(self.entity.field(target), raw)
            except CellError as error:
                errors.append(self._cell_error(number, target, raw, error.message))
        origins = self._subtable_values(conv, group, incoming, errors)
        if errors:
            raise _RowFailed(errors)
        return incoming, stage, owner, raw_of, origins

    def _row(self, conn: Connection, conv: Converter, group: Group) -> tuple[str, int]:
        number = group.number
        incoming, stage, owner, raw_of, origins = self._incoming(conv, group)
        try:
            outcome = self.writer.write_one(conn, WriteItem(incoming, owner_id=owner, stage=stage,
                                                            via=self._via(group)))
        except Exception as error:          # noqa: BLE001 - _failure re-raises what it does not know
            raise _RowFailed(self._failure(number, error, raw_of, origins)) from None
        return ("skipped" if outcome.status == "unchanged" else outcome.status), outcome.record.id

    def _failure(self, number: int, error: Exception, raw_of: dict, origins: dict) -> list[RowError]:
        """What refused a row (bulk_write's Outcome.error), as errors located in the file."""
        if isinstance(error, RecordInvalid):
            return self._problem_errors(number, error.problems, raw_of, origins)
        if isinstance(error, GateBlocked):
            return ([self._cell_error(number, STAGE, raw_of.get(STAGE), f"{error.message} {f.message}")
                     for f in error.failures] or [self._cell_error(number, STAGE, raw_of.get(STAGE), error.message)])
        if isinstance(error, Refused) and error.field:
            message = error.message
            if error.code == "upsert_key_missing":
                message = translate(self.lang, "This column is needed to find the record to update; it is empty.")
            return [self._cell_error(number, error.field, raw_of.get(error.field), message)]
        if isinstance(error, FormloomError):
            return [RowError(number, "", "", error.message)]
        raise error

    def _stage_key(self, text: str) -> str:
        folded = text.casefold()
        for stage in self.workflow.stages:
            if stage.key == text or stage.key.casefold() == folded or any(
                    t.casefold() == folded for t in stage.label.texts.values()):
                return stage.key
        names = ", ".join(s.label.get(self.lang) or s.key for s in self.workflow.stages)
        raise CellError(translate(self.lang, "%(value)s is not a stage here. Choose one of: %(stages)s.",
                                  value=repr(text[:50]), stages=names))


def prepare(db, catalog, app_key: str, entity_key: str, path, filename: str, *, actor: Actor, lang: str = "en",
            sheet: str | None = None, mapping: dict[int, str] | None = None,
            options: ImportOptions = ImportOptions(), **hooks: Any) -> Importer:
    """An Importer for a file on disk: the app and entity looked up, the mapping proposed
    (saved mapping first) unless one is given."""
    from ..errors import NotFoundError
    from .files import read_table
    from .mapping import importable_fields, load_saved, propose
    app, version_id = catalog.get(app_key)
    entity = app.entity(entity_key)
    if entity is None or policy.scope(actor, "read", app, entity) == "none":
        raise NotFoundError(translate(lang, "There is no %(key)s here.", key=entity_key))
    table = read_table(path, filename, sheet=sheet, lang=lang)
    if mapping is None:
        writable = [f.key for f in policy.writable_fields(actor, app, entity)]
        with db.read() as conn:
            saved = load_saved(conn, app.key, entity.key)
        mapping = propose(app, entity, table.headers, importable_fields(entity, writable), saved)
    return Importer(db, app, version_id, entity, actor, table, mapping, filename, options, lang, **hooks)
