"""The pipeline screens of any entity whose app names a workflow: the kanban
board (columns load their cards lazily, one page at a time; its view models are
in board_views.py), the move endpoint the board, its keyboard "Move to" menu and
the record page all post to, and the gate dialog that asks for exactly the
missing fields (gate_dialog.py). The record page's path bar and stage history
are stage_panel.py's.

Every view asks the policy first: columns and cards are scoped in SQL, a record
the actor may not read answers 404, and every move goes through
`workflow.move_to_stage`, the one guard, in one transaction.
"""
from __future__ import annotations

from typing import Iterable
from urllib.parse import parse_qsl, urlencode

from flask import Blueprint, make_response, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import login_required
from werkzeug.datastructures import MultiDict

from ..auth import policy
from ..auth.users import members_of
from ..definitions.model import StageDef, WorkflowDef
from ..errors import ConflictError, FormloomError, RecordInvalid
from ..fields import field_type
from ..forms import build_form_class, form_to_data
from ..store.query import QueryError
from ..store.records import Record, clean_context, get_record, utcnow
from ..workflow import (
    GateBlocked, GateFailure, OverrideReasonMissing, UnknownStage, check_move, is_stale, kanban_cards, move_to_stage,
)
from ..workflow.approvals import ApprovalPending, ApprovalStarted
from .board_views import (
    CARDS_PER_PAGE, FILTER_FORM_ARGS, active_filters, board_args, board_query, board_url, card_views, column_views,
    load_pipeline, visible_sum_field,
)
from .display import lookups_for
from .gate_dialog import ConflictView, GateDialog, WebFixPlace, failure_views, fillable_fields, needs_editing
from .helpers import Place, current_actor, db, is_fragment_request, lang, local_time, safe_next, zone_for
from .params import int_arg
from .records import RECORD_FIELD, FormState, _team_of, field_views, op_labels, readable_record
from .stage_panel import pipeline_panel

bp = Blueprint("pipeline", __name__)

VIEWS = ("board", "record")


@bp.before_request
@login_required
def _require_login():
    return None


@bp.record_once
def _template_globals(state) -> None:
    state.app.jinja_env.globals["pipeline_panel"] = pipeline_panel


# -- the board -----------------------------------------------------------------------------

@bp.get("/apps/<app_key>/<entity_key>/board")
def board(app_key: str, entity_key: str):
    place, workflow = load_pipeline(app_key, entity_key)
    actor, app, entity = current_actor(), place.app, place.entity
    if any(k in request.args for k in FILTER_FORM_ARGS):
        return _canonical_filter_redirect(place)
    args = board_args()
    error, status, columns = None, 200, []
    visible = policy.visible_fields(actor, app, entity)
    with db().read() as conn:
        try:
            query = board_query(place, args)
            columns = column_views(conn, place, workflow, query)
        except QueryError as problem:
            error, status = problem, 400
        owners = members_of(conn, app.key) if policy.scope(actor, "read", app, entity) in ("team", "all") else []
    return render_template(
        "pipeline/board.html", place=place, app=app, entity=entity, workflow=workflow, columns=columns,
        error=error, owners=owners, owner=request.args.get("owner", ""), q=request.args.get("q", ""),
        filters=active_filters(place, args), board_query=urlencode(list(args.items(multi=True))),
        filterable=[(f, field_type(f.type).field_operators(f)) for f in visible if f.type != "subtable"],
        op_labels=op_labels(), sum_field=visible_sum_field(place),
        list_url=url_for("records.list_view", app_key=app.key, entity_key=entity.key, **args.to_dict(flat=False)),
        can_create=policy.can(actor, "create", app, entity),
    ), status


def _canonical_filter_redirect(place: Place):
    args = MultiDict(request.args)
    field_key, op, value = (args.get(k, "") for k in FILTER_FORM_ARGS)
    for k in FILTER_FORM_ARGS:
        args.poplist(k)
    if field_key:
        args.add(field_key if op in ("", "eq") else f"{field_key}__{op}", value if op != "is_empty" else "1")
    return redirect(board_url(place, board_args(args)))


def _int_arg(name: str, default: int, low: int, high: int) -> int:
    return int_arg(name, default, low=low, high=high)


@bp.get("/apps/<app_key>/<entity_key>/board/cards")
def cards(app_key: str, entity_key: str):
    """One page of one column's cards, and a "more" button for the next page (no count)."""
    place, workflow = load_pipeline(app_key, entity_key)
    stage = workflow.stage(request.args.get("stage", ""))
    if stage is None:
        raise UnknownStage(_("There is no stage %(stage)s in this pipeline.", stage=repr(request.args.get("stage", ""))))
    offset = _int_arg("offset", 0, 0, 10_000_000)
    limit = _int_arg("limit", CARDS_PER_PAGE, 1, 100)
    args = board_args()
    with db().read() as conn:
        query = board_query(place, args)
        page = kanban_cards(conn, place.app, place.entity, current_actor(), stage.key, limit=limit, offset=offset,
                            filters=query)
        views = card_views(conn, place, workflow, [(c.record, c.stale) for c in page.cards])
    more_url = None
    if page.has_more:
        more_url = url_for("pipeline.cards", app_key=app_key, entity_key=entity_key, stage=stage.key,
                           offset=page.next_offset, limit=limit, **args.to_dict(flat=False))
    return render_template("pipeline/_column.html", place=place, app=place.app, entity=place.entity,
                           workflow=workflow, stage=stage, cards=views, more_url=more_url, offset=offset)


# -- moving ----------------------------------------------------------------------------------

def _view_arg() -> str:
    view = request.form.get("view", "record")
    return view if view in VIEWS else "record"


def _version_arg() -> int | None:
    return int_arg("version", low=0, source=request.form)


@bp.post("/apps/<app_key>/<entity_key>/<int:record_id>/stage")
def move(app_key: str, entity_key: str, record_id: int):
    """Move a record to the stage `to` (optional `version`). On a gate refusal: 422 with the
    dialog; `fill` names the fields the dialog posts, saved with the move in one transaction;
    `override_reason` (app admins) bypasses the gate and is written to the history."""
    place, workflow = load_pipeline(app_key, entity_key)
    actor, app, entity = current_actor(), place.app, place.entity
    to_key = request.form.get("to", "")
    target = workflow.stage(to_key)
    if target is None:
        raise UnknownStage(_("There is no stage %(stage)s in this pipeline.", stage=repr(to_key)),
                           hint=_("Choose one of: %(stages)s.", stages=", ".join(s.key for s in workflow.stages)))
    view, version = _view_arg(), _version_arg()
    override = request.form.get("override_reason") if "override" in request.form else None
    filled = None
    if request.form.getlist("fill"):          # move_to_stage checks read access itself otherwise
        with db().read() as conn:
            record = readable_record(place, record_id, conn)
            filled = _filled_form(conn, place, target, record)
    values = form_to_data(filled, entity) if filled is not None else None
    try:
        with db().write() as conn:
            try:
                moved = move_to_stage(conn, app, entity, record_id, target.key, actor, expected_version=version,
                                      values=values, override_reason=override, lang=lang(),
                                      request_approval=True)
            except ApprovalStarted:      # the gate asks for sign-off: the request waits, the record stays
                return _requested(place, record_id)
    except ApprovalPending as waiting:   # the dialog says why, like any refusal
        blocked = GateBlocked(target.key, [GateFailure("approval_pending", target.key, None, waiting.message)],
                              waiting.message, waiting.hint)
        return _refused(place, workflow, record_id, target, view, blocked=blocked)
    except GateBlocked as blocked:
        return _refused(place, workflow, record_id, target, view, blocked=blocked, filled=filled)
    except RecordInvalid as invalid:
        return _refused(place, workflow, record_id, target, view, filled=filled, problems=invalid.problems)
    except OverrideReasonMissing as missing:
        return _refused(place, workflow, record_id, target, view, override_error=missing)
    except ConflictError as conflict:
        return _conflict(place, workflow, record_id, target, view, conflict)
    return _moved(place, workflow, moved, target, view)


def _requested(place: Place, record_id: int):
    """An approval request was started: to the record, whose page shows what it waits on."""
    detail = url_for("records.detail", app_key=place.app.key, entity_key=place.entity.key, record_id=record_id)
    if not is_fragment_request():
        return redirect(detail, 303)
    response = make_response("", 200)
    response.headers["HX-Redirect"] = detail
    return response


def _filled_form(conn, place: Place, target: StageDef, record: Record):
    """The dialog's form, bound to the post, over the `fill` fields the actor may write."""
    keys = request.form.getlist("fill")
    if not keys:
        return None
    writable = {f.key for f in policy.writable_fields(current_actor(), place.app, place.entity, stage=target)}
    only = [k for k in dict.fromkeys(keys) if k in writable]
    if not only:
        return None
    form_class = build_form_class(place.entity, lang(), only=only, timezone=zone_for(place.app).key)
    return form_class(request.form, context=clean_context(conn, place.app, lang()))


def _fresh(place: Place, record_id: int) -> Record:
    with db().read() as conn:
        return get_record(conn, place.app, place.entity, record_id)


def _board_extras(place: Place, workflow: WorkflowDef, record: Record, view: str) -> dict:
    """For the board: the card at its real place and the refreshed column headers (htmx oob)."""
    if view != "board" or not is_fragment_request():
        return {"oob_card": None, "oob_columns": []}
    args = board_args(MultiDict(parse_qsl(request.form.get("board_query", ""), keep_blank_values=True)))
    with db().read() as conn:
        card = card_views(conn, place, workflow, [(record, is_stale(workflow.stage(record.stage), record, utcnow()))])[0]
        try:
            columns = column_views(conn, place, workflow, board_query(place, args))
        except QueryError:
            columns = []
    return {"oob_card": card, "oob_columns": columns}


def _fields_of(place: Place, target: StageDef, record: Record, keys: list[str], formdata=None):
    """FieldViews for the dialog: exactly `keys`, as the record's edit form would show them."""
    form_class = build_form_class(place.entity, lang(), only=keys, timezone=zone_for(place.app).key)
    if formdata is None:
        data = {}
        for key, attr in form_class.field_names.items():
            f = place.entity.field(key)
            data[attr] = field_type(f.type).form_value(f, record.data.get(key))
        form = form_class(data=data)
    else:       # what was posted; fields the dialog adds now start from the record
        form = form_class(request.form)
        posted = set(request.form.getlist("fill"))
        for key in form_class.field_names:
            if key not in posted:
                f = place.entity.field(key)
                form.field_for(key).data = field_type(f.type).form_value(f, record.data.get(key))
    visible = [place.entity.field(k) for k in keys if k in form_class.field_names]
    return FormState(place, record, target, visible, set(keys), form)


def _refused(place: Place, workflow: WorkflowDef, record_id: int, target: StageDef, view: str, *,
             blocked: GateBlocked | None = None, filled=None, problems: Iterable = (),
             override_error: FormloomError | None = None):
    """422: the gate dialog, listing every unmet requirement; a form for the missing fields
    when filling them is all it takes; links for the rest; an override for app admins."""
    actor, app, entity = current_actor(), place.app, place.entity
    record = _fresh(place, record_id)
    problems = list(problems)
    with db().read() as conn:
        can_edit = policy.can(actor, "update", app, entity, record, team_of=_team_of(conn))
        failures: list[GateFailure] = []
        if blocked is not None:
            failures = blocked.failures
        elif problems or override_error is not None:
            # values refused, or an override without a reason: ask the gate again for the list
            failures = check_move(conn, app, workflow, record, target, actor, lang=lang())
        writable = {f.key for f in policy.writable_fields(actor, app, entity, stage=target)}
        # what was typed stays in the form: a refused move saved none of it
        posted = [k for k in dict.fromkeys(request.form.getlist("fill")) if k in writable]
        form_keys = posted if (problems or filled is not None) else []
        fillable = fillable_fields(entity, failures, writable)
        if fillable is not None:
            form_keys = list(dict.fromkeys(form_keys + fillable))
        fields = []
        if form_keys:
            state = _fields_of(place, target, record, form_keys, formdata=filled)
            fields = [fv for fv in field_views(state, conn, problems) if fv.f.key in form_keys]
            form_keys = [fv.f.key for fv in fields]
        views = failure_views(failures, form_keys, WebFixPlace(actor, app, entity, record.id, lang()))
        general = [p.message for p in problems if p.field not in form_keys]
        edit_url = None
        if can_edit and needs_editing(views):
            edit_url = url_for("records.edit", app_key=app.key, entity_key=entity.key, record_id=record.id,
                               then_move=target.key, next=_return_url(place, record, view))
    dialog = GateDialog(
        place, workflow, record, target, view,
        message=(blocked.message if blocked else _("This record cannot move to %(stage)s yet.",
                                                     stage=target.label.get(lang()))),
        hint=blocked.hint if blocked else None, failures=views, fields=fields, fill_keys=form_keys,
        general=general, edit_url=edit_url, override_error=override_error,
        can_override=policy.is_app_admin(actor, app),
        validate_url=url_for("records.validate", app_key=app.key, entity_key=entity.key, field_key="__key__"),
        **_dialog_common(place, workflow, record, view))
    return _dialog_response(dialog, 422)


def _conflict(place: Place, workflow: WorkflowDef, record_id: int, target: StageDef, view: str,
              conflict: ConflictError):
    """409: someone changed the record meanwhile; show who won and the fresh state."""
    record = getattr(conflict, "current", None) or _fresh(place, record_id)
    with db().read() as conn:
        names = lookups_for(conn, place.app, (), (), extra_users=[record.updated_by], actor=current_actor()).names
    dialog = GateDialog(
        place, workflow, record, target, view, message=conflict.message, hint=conflict.hint,
        conflict=ConflictView(names.get(record.updated_by), local_time(record.updated_at, place.app), record.version),
        **_dialog_common(place, workflow, record, view))
    return _dialog_response(dialog, 409)


def _dialog_common(place: Place, workflow: WorkflowDef, record: Record, view: str) -> dict:
    """What the refused and the conflict dialogs show alike: where the move goes from and back to."""
    return dict(board_query=request.form.get("board_query", ""), next_url=_next_arg(),
                move_url=_move_url(place, record), record_field=RECORD_FIELD,
                current=workflow.stage(record.stage) if record.stage else None,
                **_board_extras(place, workflow, record, view))


def _dialog_response(dialog: GateDialog, status: int):
    template = "pipeline/_gate_dialog.html" if is_fragment_request() else "pipeline/move.html"
    return render_template(template, **dialog.context()), status


def _moved(place: Place, workflow: WorkflowDef, record: Record, target: StageDef, view: str):
    detail = url_for("records.detail", app_key=place.app.key, entity_key=place.entity.key, record_id=record.id)
    back = _next_arg() or detail
    if not is_fragment_request():
        return redirect(back, 303)
    if view == "record" or _next_arg():
        response = make_response("", 200)
        response.headers["HX-Redirect"] = back
        return response
    return render_template("pipeline/_moved.html", place=place, app=place.app, entity=place.entity,
                           workflow=workflow, record=record, target=target,
                           **_board_extras(place, workflow, record, view)), 200


def _next_arg() -> str | None:
    """Where to go once the move is made (a same-site path), when the form says so."""
    return safe_next(request.form.get("next") or request.form.get("_next"), "") or None


def _return_url(place: Place, record: Record, view: str) -> str:
    """Where "Edit the record" comes back to: the board the move started on, or the record."""
    if _next_arg():
        return _next_arg()
    if view == "board":
        query = MultiDict(parse_qsl(request.form.get("board_query", ""), keep_blank_values=True))
        return board_url(place, board_args(query))
    return url_for("records.detail", app_key=place.app.key, entity_key=place.entity.key, record_id=record.id)


# -- "Edit the record" from a gate, then the move ------------------------------------------

def move_after_edit(place: Place, source) -> dict | None:
    """The move an edit form finishes after saving (`then_move`, a stage of the entity's
    workflow, and `next`, a same-site path), from the query (GET) or the form (POST)."""
    workflow = place.app.workflow_for(place.entity.key)
    key = source.get("then_move") or source.get("_then_move")
    if workflow is None or not isinstance(key, str) or workflow.stage(key) is None:
        return None
    return {"then_move": key, "stage": workflow.stage(key),
            "next": safe_next(source.get("next") or source.get("_next"), "")}


def finish_move(place: Place, record_id: int, follow: dict):
    """After "Edit the record" was saved: make the move the gate refused; back to `next`
    when it passes, the gate dialog (as a page) when it still does not."""
    workflow = place.app.workflow_for(place.entity.key)
    target = workflow.stage(follow["then_move"])
    back = follow["next"] or url_for("records.detail", app_key=place.app.key, entity_key=place.entity.key,
                                     record_id=record_id)
    try:
        with db().write() as conn:
            move_to_stage(conn, place.app, place.entity, record_id, target.key, current_actor(), lang=lang())
    except GateBlocked as blocked:
        return _refused(place, workflow, record_id, target, "record", blocked=blocked)
    return redirect(back, 303)


def _move_url(place: Place, record: Record) -> str:
    return url_for("pipeline.move", app_key=place.app.key, entity_key=place.entity.key, record_id=record.id)
