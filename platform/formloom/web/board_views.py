"""Where a kanban board is (its URL state: filters, sort, page) and what it shows: its
columns (count and sum per stage) and its cards (card fields, money, staleness), as view
models the board's templates render. The routes (web/pipeline.py) ask the policy first."""
from __future__ import annotations

from dataclasses import dataclass, field as dc_field
from decimal import Decimal
from typing import Any, Iterable

from flask import request, url_for
from flask_babel import gettext as _
from werkzeug.datastructures import MultiDict

from ..auth import policy
from ..definitions.model import FieldDef, StageDef, WorkflowDef
from ..errors import NotFoundError
from ..fields import field_type
from ..store.query import ListQuery, QueryError, parse_list_args
from ..store.records import Record
from ..workflow import Column, kanban_columns
from ..workflow.kanban import sum_field_of
from .display import Shown, lookups_for, show
from .helpers import Place, current_actor, lang, load_entity
from .records import _team_of, op_labels

CARDS_PER_PAGE = 20
MAX_CARD_FIELDS = 4
#: Query arguments of the board that are not list filters.
NOT_FILTERS = ("stage", "offset", "limit", "cols", "sort", "ff", "fo", "fv")
FILTER_FORM_ARGS = ("ff", "fo", "fv")


# -- where we are ------------------------------------------------------------------------

def load_pipeline(app_key: str, entity_key: str) -> tuple[Place, WorkflowDef]:
    """The entity (readable by the actor) and its workflow; 404 when it has no pipeline."""
    place = load_entity(app_key, entity_key)
    workflow = place.app.workflow_for(place.entity.key)
    if workflow is None or not workflow.stages:
        raise NotFoundError(_("%(entity)s has no pipeline.", entity=place.entity.label.get(lang())),
                            hint=_("Open the list instead."))
    return place, workflow


def board_args(source: MultiDict | None = None) -> MultiDict:
    """The board's own arguments (filters, search, owner) without paging or stage."""
    args = MultiDict(request.args if source is None else source)
    for key in NOT_FILTERS:
        args.poplist(key)
    for key in list(args.keys()):
        if key.startswith("_"):
            args.poplist(key)
    return args


def board_query(place: Place, args: MultiDict) -> ListQuery:
    """The same filters as the list page (store.query.parse_list_args), with `owner=me`."""
    actor = current_actor()
    args = MultiDict(args)
    if args.get("owner") == "me":
        args.setlist("owner", [str(actor.id)])
    visible = policy.visible_fields(actor, place.app, place.entity)
    return parse_list_args(place.entity, args, visible, getlist=args.getlist, lang=lang())


def board_url(place: Place, args: MultiDict | None = None, **changes: Any) -> str:
    args = MultiDict(board_args() if args is None else args)
    for key, value in changes.items():
        args.poplist(key)
        if value not in (None, ""):
            args.add(key, value)
    return url_for("pipeline.board", app_key=place.app.key, entity_key=place.entity.key, **args.to_dict(flat=False))


# -- what a board shows ------------------------------------------------------------------

@dataclass
class ColumnView:
    column: Column
    total: str | None
    weighted: str | None
    cards_url: str | None          # None: a stage the workflow no longer has

    @property
    def stage(self) -> StageDef:
        return self.column.stage


@dataclass
class CardView:
    record: Record
    stage: StageDef | None
    stale: bool
    cells: list[tuple[FieldDef, Shown]]
    owner: str | None
    movable: bool
    targets: list[StageDef] = dc_field(default_factory=list)


def money_text(f: FieldDef | None, amount: Decimal | None) -> str | None:
    if f is None or amount is None:
        return None
    try:
        text = field_type(f.type).display(f, float(amount), lang())
    except Exception:       # a type without a numeric display: plain digits
        text = ""
    if not text:
        places = 2 if f.type == "money" else (f.precision or 0)
        text = f"{amount:,.{places}f}"
    return text


def visible_sum_field(place: Place) -> FieldDef | None:
    """The summed field, unless the actor may not see it (then no sums are shown)."""
    try:
        f = sum_field_of(place.app, place.entity, None)
    except QueryError:
        return None
    if f is None or policy.field_access(current_actor(), place.app, f) == "hidden":
        return None
    return f


def column_views(conn, place: Place, workflow: WorkflowDef, query: ListQuery) -> list[ColumnView]:
    actor = current_actor()
    f = visible_sum_field(place)
    columns = kanban_columns(conn, place.app, place.entity, actor, filters=query)
    args = board_args()
    out = []
    for column in columns:
        known = workflow.stage(column.key) is not None
        cards_url = url_for("pipeline.cards", app_key=place.app.key, entity_key=place.entity.key,
                            stage=column.key, **args.to_dict(flat=False)) if known else None
        out.append(ColumnView(column, money_text(f, column.total) if f else None,
                              money_text(f, column.weighted_total) if f else None, cards_url))
    return out


def card_fields(place: Place, workflow: WorkflowDef, stage: StageDef | None) -> list[FieldDef]:
    entity = place.entity
    visible = {f.key: f for f in policy.visible_fields(current_actor(), place.app, entity, stage)}
    keys = list(workflow.kanban.get("card_fields") or ())
    if not keys:
        keys = [k for k in entity.default_columns if k != entity.title][:MAX_CARD_FIELDS]
    return [visible[k] for k in keys if k in visible and k != entity.title]


def card_views(conn, place: Place, workflow: WorkflowDef, items: Iterable[tuple[Record, bool]]) -> list[CardView]:
    actor, app, entity = current_actor(), place.app, place.entity
    items = list(items)
    by_stage: dict[str | None, list[FieldDef]] = {}
    for record, _stale in items:
        if record.stage not in by_stage:
            by_stage[record.stage] = card_fields(place, workflow, workflow.stage(record.stage) if record.stage else None)
    all_fields = {f.key: f for fields in by_stage.values() for f in fields}.values()
    lookups = lookups_for(conn, app, all_fields, [r.data for r, _s in items], extra_users=[r.owner_id for r, _s in items],
                          actor=actor)
    team_of = _team_of(conn)
    out = []
    for record, stale in items:
        stage = workflow.stage(record.stage) if record.stage else None
        cells = [(f, show(app, f, record.data.get(f.key), lang(), lookups)) for f in by_stage[record.stage]]
        cells = [(f, s) for f, s in cells if not s.empty]
        movable = policy.can(actor, "update", app, entity, record, team_of=team_of)
        targets = [s for s in workflow.stages if s.key != record.stage] if movable else []
        out.append(CardView(record, stage, stale, cells, lookups.names.get(record.owner_id), movable, targets))
    return out


def active_filters(place: Place, args: MultiDict) -> list[dict]:
    labels = op_labels()
    visible = {f.key for f in policy.visible_fields(current_actor(), place.app, place.entity)}
    out = []
    for name, value in args.items(multi=True):
        key, _sep, op = name.partition("__")
        f = place.entity.field(key)
        if f is None or key not in visible:         # a hidden field answers like an unknown one
            continue
        rest = MultiDict(args)
        rest.setlist(name, [v for v in args.getlist(name) if v != value])
        out.append({"field": f, "op": labels.get(op or "eq", op), "value": value, "remove": board_url(place, rest)})
    return out
