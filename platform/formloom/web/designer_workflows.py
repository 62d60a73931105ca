"""The workflow designer's stage and gate screens (app admins only): an app's
pipelines, their stages (order, labels, probability, colour, won/lost, `from`,
staleness, per-stage field rules) and each stage's gate, edited on the draft.

Every write carries the draft revision its page showed and the CSRF token;
every route asks `policy.is_app_admin` first (designer.load_design). The gate
form is generated from the gate requirement kinds' registry (design.gate_form),
so this module names no requirement kind. The rules of a workflow have their
own screens (…/workflows/<wf>/rules); this page links to them.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Callable

from flask import Blueprint, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import login_required

from ..definitions.compile import compile_app
from ..definitions.workflow_checks import via_fields
from ..design import condition_builder as cb, drafts, workflow_edits as wfe
from ..design.gate_form import gate_sections, read_gate
from ..design.gate_preview import MAX_SCAN, blocked_by_gate
from ..design.settings_form import LANGS, suggested_key
from ..design.stage_moves import records_per_stage
from ..errors import NotFoundError
from .designer import State, _label_from_form, doc_label, edit_documents as _edit, load_design, load_state, worded
from .helpers import Place, current_actor, db, lang, role_name

bp = Blueprint("designer_workflows", __name__)

_KEY = re.compile(r"^[a-z][a-z0-9_]{0,62}$")
_COLOR = re.compile(r"#(?:[0-9a-fA-F]{3}|[0-9a-fA-F]{6})")
_STAGE_PATH = re.compile(r"^\$\.stages\[(\d+)\](?:\.([a-z_]+))?(?:\[(\d+)\])?(?:\.([a-z_]+))?")
#: "stale after [n] [unit]" <-> ISO 8601: unit -> (prefix, suffix)
ROT_UNITS = {"hours": ("PT", "H"), "days": ("P", "D"), "weeks": ("P", "W"), "months": ("P", "M")}


@bp.before_request
@login_required
def _require_login():
    return None


# -- the draft, seen from one workflow ---------------------------------------------------------------

@dataclass
class Flow:
    """One workflow of the draft with its problems sorted to the stage (and setting) they concern."""

    state: State
    key: str
    doc: dict
    held: dict[str, int]                                     # live records per stage key
    by_stage: dict = field(default_factory=dict)             # stage key -> {setting or "": [messages]}
    general: list = field(default_factory=list)

    @property
    def stages(self) -> list[dict]:
        return [s for s in self.doc.get("stages") or [] if isinstance(s, dict)]

    @property
    def moves(self) -> dict[str, str]:
        return wfe.stage_moves(self.state.documents, self.key)

    def entity(self) -> dict:
        return self.state.entity(self.doc.get("entity"))

    @staticmethod
    def color(stage: dict) -> str | None:
        """The stage's colour when it is one (it is put in a style attribute)."""
        value = stage.get("color")
        return value if isinstance(value, str) and _COLOR.fullmatch(value) else None

    def messages(self, stage_key: str) -> list[str]:
        return [m for ms in self.by_stage.get(stage_key, {}).values() for m in ms]


def _flow(app_key: str, workflow_key: str) -> Flow:
    state = load_state(app_key)
    doc = (state.documents.get("workflows") or {}).get(workflow_key)
    if not isinstance(doc, dict):
        raise NotFoundError(_("There is no workflow %(key)s here.", key=workflow_key))
    with db().read() as conn:
        held = records_per_stage(conn, app_key, doc.get("entity", ""))
    flow = Flow(state, workflow_key, doc, held)
    stages = flow.stages
    for problem in state.problems:
        if problem.source != f"workflows/{workflow_key}.json":
            continue
        match = _STAGE_PATH.match(problem.json_path)
        if match and int(match.group(1)) < len(stages):
            setting = match.group(2) or ""
            if setting == "gate":
                setting = _gate_control(problem.json_path[match.end(1) + 1:])
            flow.by_stage.setdefault(stages[int(match.group(1))].get("key"), {}).setdefault(setting, []).append(
                problem.message)
        else:
            flow.general.append(problem)
    return flow


def _gate_control(rest: str) -> str:
    """".gate.related[0].via" -> "gate:related-0-via"; ".gate.require[1]" -> "gate:require"."""
    match = re.match(r"^\.gate(?:\.([a-z_]+))?(?:\[(\d+)\])?(?:\.([a-z_]+))?", rest)
    if not match or not match.group(1):
        return "gate:"
    kind, index, prop = match.groups()
    return f"gate:{kind}-{index}-{prop}" if index is not None and prop else f"gate:{kind}"


def _back(place: Place, workflow_key: str, anchor: str = ""):
    return redirect(url_for("designer_workflows.workflow", app_key=place.app.key, workflow_key=workflow_key)
                    + anchor, code=303)


def _stage_url(place: Place, workflow_key: str, stage_key: str, anchor: str = "") -> str:
    return url_for("designer_workflows.stage", app_key=place.app.key, workflow_key=workflow_key,
                   stage_key=stage_key) + anchor


# -- the app's workflows ---------------------------------------------------------------------------------

@bp.get("/apps/<app_key>/design/workflows")
def workflows(app_key: str, status: int = 200, error: str | None = None):
    place = load_design(app_key)
    state = load_state(app_key)
    flows = state.documents.get("workflows") or {}
    listed = [{"key": key, "label": doc.get("label") or key, "entity": doc.get("entity"),
               "stages": len(doc.get("stages") or []),
               "problems": sum(1 for p in state.problems if p.source == f"workflows/{key}.json")}
              for key, doc in flows.items() if isinstance(doc, dict)]
    without = [e for e in state.app.get("entities", []) if not e.get("workflow")]
    return render_template("designer/workflows.html", place=place, state=state, flows=listed, without=without,
                           error=error, tab="workflows"), status


@bp.post("/apps/<app_key>/design/workflows")
def add_workflow(app_key: str):
    place = load_design(app_key)
    entity_key = request.form.get("entity", "")
    label = _label_from_form("label")
    key = request.form.get("key", "").strip() or (suggested_key(label) or "")
    first = _label_from_form("first") or {"en": "New", "zh": "新建"}
    if not label or not _KEY.match(key):
        return workflows(app_key, 422, _("Give the pipeline a name, and a key of lower-case letters, digits and _ "
                                         "starting with a letter."))
    _edit(place, lambda docs: wfe.add_workflow(docs, entity_key, key, label, first))
    return _back(place, key)


# -- one workflow: its stages ------------------------------------------------------------------------------

def _workflow_page(place: Place, flow: Flow, status: int = 200, **extra):
    return render_template("designer/workflow.html", place=place, state=flow.state, flow=flow, tab="workflows",
                           rules_url=f"/apps/{place.app.key}/design/workflows/{flow.key}/rules", **extra), status


@bp.get("/apps/<app_key>/design/workflows/<workflow_key>")
def workflow(app_key: str, workflow_key: str):
    place = load_design(app_key)
    return _workflow_page(place, _flow(app_key, workflow_key))


@bp.post("/apps/<app_key>/design/workflows/<workflow_key>/stages")
def add_stage(app_key: str, workflow_key: str):
    place = load_design(app_key)
    flow = _flow(app_key, workflow_key)
    label = _label_from_form("label")
    key = request.form.get("key", "").strip() or (suggested_key(label) or "")
    if not label or not _KEY.match(key):
        return _workflow_page(place, flow, 422, stage_error=_(
            "Give the stage a name, and a key of lower-case letters, digits and _ starting with a letter."))
    if any(s.get("key") == key for s in flow.stages):
        return _workflow_page(place, flow, 422, stage_error=_("This pipeline already has a stage with the key "
                                                              "%(key)s.", key=key))
    _edit(place, lambda docs: wfe.add_stage(docs, workflow_key, key, label))
    return redirect(_stage_url(place, workflow_key, key), code=303)


@bp.post("/apps/<app_key>/design/workflows/<workflow_key>/stages/order")
def order_stages(app_key: str, workflow_key: str):
    """The whole order at once (what dragging sends); answers 204 for the script."""
    place = load_design(app_key)
    keys = [k for k in request.form.getlist("keys") if k]
    _edit(place, lambda docs: wfe.order_stages(docs, workflow_key, keys))
    if request.headers.get("X-Requested-With") == "fetch":
        return "", 204
    return _back(place, workflow_key, "#stages")


@bp.post("/apps/<app_key>/design/workflows/<workflow_key>/stages/<stage_key>/move")
def move_stage(app_key: str, workflow_key: str, stage_key: str):
    place = load_design(app_key)
    delta = -1 if request.form.get("direction") == "up" else 1
    _edit(place, lambda docs: wfe.move_stage(docs, workflow_key, stage_key, delta))
    return _back(place, workflow_key, f"#stage-{stage_key}")


# -- one stage: settings, gate, removal ---------------------------------------------------------------------

def rot_parts(value: Any) -> tuple[str, str]:
    """An ISO duration as the form's [n] [unit]; ("", "days") when there is none."""
    if not isinstance(value, str):
        return "", "days"
    for unit, (prefix, suffix) in ROT_UNITS.items():
        match = re.fullmatch(re.escape(prefix) + r"(\d+)" + suffix, value)
        if match:
            return match.group(1), unit
    return value, "iso"


def _choices(flow: Flow) -> dict[str, tuple]:
    entity = flow.entity()
    fields = tuple((f["key"], doc_label(f.get("label")) or f["key"]) for f in entity.get("fields", []))
    roles = tuple((r, role_name(r, flow.state.app)) for r in flow.state.app.get("roles", []))
    entities = tuple((e["key"], doc_label(e.get("label")) or e["key"]) for e in flow.state.app.get("entities", []))
    return {"fields": fields, "roles": roles, "entities": entities}


def _row_choices(flow: Flow, entities: tuple):
    """A gate row's pickers: the app's entities, and the chosen entity's reference fields that
    point at this workflow's entity (what the validator accepts as `via`)."""
    def offered(item: dict) -> dict[str, tuple]:
        vias = via_fields(flow.state.app, item.get("entity"), flow.doc.get("entity"))
        return {"entity": entities, "via": tuple((f["key"], doc_label(f.get("label")) or f["key"]) for f in vias)}
    return offered


def _logic_fields(flow: Flow):
    """What a gate's conditions test: a row naming an entity (related records) tests that entity's
    fields; any other, the record's own fields and its stage."""
    entities = {e.get("key"): e for e in flow.state.app.get("entities", [])}
    own = cb.builder_fields(flow.entity(), lang()) + cb.stage_field(flow.doc, lang(), _("Stage"))

    def offered(item: dict):
        if "entity" not in item:
            return own
        entity = entities.get(item.get("entity"))
        return cb.builder_fields(entity, lang()) if entity else None
    return offered


def _compiled_draft(flow: Flow):
    """The draft as the engine would run it, or None while it has problems (it may not compile)."""
    if flow.state.problems:
        return None
    return compile_app(flow.state.app, flow.state.documents.get("workflows") or {})


def _stage_page(place: Place, flow: Flow, stage_key: str, status: int = 200, *, stage_doc: dict | None = None,
                errors: dict | None = None, gate_doc: dict | None = None, gate_errors: dict | None = None,
                remove_error: str | None = None, builder_problems: dict | None = None):
    """The stage's page; a posted gate (`gate_doc`) is shown with its own problems only, since the
    saved gate's would name rows of another document."""
    stage = stage_doc if stage_doc is not None else wfe.stage_of(flow.doc, stage_key)
    located = flow.by_stage.get(stage_key, {})
    errors = {**{k: " ".join(v) for k, v in located.items() if not k.startswith("gate:")}, **(errors or {})}
    saved = {k[5:]: " ".join(v) for k, v in located.items() if k.startswith("gate:")} if gate_doc is None else {}
    gate_errors = {**saved, **(gate_errors or {})}
    choices = _choices(flow)
    sections = gate_sections(gate_doc if gate_doc is not None else stage.get("gate"), lang(),
                             fields=choices["fields"], roles=choices["roles"],
                             row_choices=_row_choices(flow, choices["entities"]), errors=gate_errors,
                             builder_problems=builder_problems, logic_fields=_logic_fields(flow))
    blocked = None
    compiled = _compiled_draft(flow) if status == 200 else None
    if compiled is not None and compiled.workflows.get(flow.key) and compiled.workflows[flow.key].stage(stage_key):
        with db().read() as conn:
            blocked = blocked_by_gate(conn, compiled, flow.key, stage_key, actor=current_actor(), lang=lang())
    amount, unit = rot_parts(stage.get("rot_after"))
    others = [s for s in flow.stages if s.get("key") != stage_key]
    return render_template("designer/stage.html", place=place, state=flow.state, flow=flow, stage=stage,
                           stage_key=stage_key, errors=errors, sections=sections, gate_general=gate_errors.get(""),
                           fields=choices["fields"], others=others, rot_amount=amount, rot_unit=unit,
                           rot_units=ROT_UNITS, blocked=blocked, max_scan=MAX_SCAN, held=flow.held.get(stage_key, 0),
                           remove_error=remove_error, tab="workflows", langs=LANGS,
                           posted=request.form if gate_doc is not None else None), status


@bp.get("/apps/<app_key>/design/workflows/<workflow_key>/stages/<stage_key>")
def stage(app_key: str, workflow_key: str, stage_key: str):
    place = load_design(app_key)
    return _stage_page(place, _flow(app_key, workflow_key), stage_key)


def _stage_changes(flow: Flow, stage_key: str) -> tuple[dict, dict]:
    """What the stage form posted, as stage settings, and errors by setting."""
    form, errors = request.form, {}
    changes: dict[str, Any] = {"label": _label_from_form("label")}
    if changes["label"] is None:
        errors["label"] = _("A stage needs a name in at least one language.")
    probability = form.get("probability", "").strip()
    changes["probability"] = int(probability) if re.fullmatch(r"\d{1,3}", probability) else None
    if probability and changes["probability"] is None:
        errors["probability"] = _("Enter a whole number from 0 to 100.")
    color = form.get("color", "").strip()
    changes["color"] = color or None
    terminal = form.get("terminal", "")
    changes["terminal"] = terminal if terminal in ("won", "lost") else None
    sources = form.getlist("from")
    changes["from"] = ["*"] if "*" in sources else [k for k in sources if k] or None
    amount, unit = form.get("rot_amount", "").strip(), form.get("rot_unit", "days")
    if not amount:
        changes["rot_after"] = None
    elif unit in ROT_UNITS and re.fullmatch(r"\d{1,4}", amount) and int(amount) > 0:
        prefix, suffix = ROT_UNITS[unit]
        changes["rot_after"] = f"{prefix}{int(amount)}{suffix}"
    else:
        errors["rot_after"] = _("Enter a whole number of hours, days, weeks or months, above 0.")
    known = {k for k, _t in _choices(flow)["fields"]}
    for rule in ("required", "readonly", "hidden"):
        changes[rule] = [k for k in form.getlist(rule) if k in known] or None
    return changes, errors


def _stage_problems(documents: dict, flow: Flow, stage_key: str, prefix: str) -> dict[str, str]:
    """Problems of `documents` located under the stage, by setting (or gate control)."""
    problems = drafts.draft_problems(documents, flow.state.archived)
    workflow = documents["workflows"][flow.key]
    index = wfe.stage_index(workflow, stage_key)
    out: dict[str, str] = {}
    for p in problems:
        if p.source != f"workflows/{flow.key}.json":
            continue
        match = _STAGE_PATH.match(p.json_path)
        if not match or int(match.group(1)) != index:
            continue
        name = match.group(2) or ""
        if prefix == "gate:":
            if name != "gate":
                continue
            name = _gate_control(p.json_path[p.json_path.index("]") + 1:])[5:]
        elif name == "gate":
            continue
        out[name] = f"{out[name]} {p.message}".strip() if name in out else p.message
    return out


@bp.post("/apps/<app_key>/design/workflows/<workflow_key>/stages/<stage_key>")
def save_stage(app_key: str, workflow_key: str, stage_key: str):
    place = load_design(app_key)
    flow = _flow(app_key, workflow_key)
    current = wfe.stage_of(flow.doc, stage_key)
    changes, errors = _stage_changes(flow, stage_key)
    shown = {**current, **{k: v for k, v in changes.items() if v is not None}}
    if not errors:
        candidate = wfe.update_stage(flow.state.documents, workflow_key, stage_key, changes)
        errors = _stage_problems(candidate, flow, stage_key, "")
    if errors:
        if "rot_after" in errors:
            shown["rot_after"] = None
        return _stage_page(place, flow, stage_key, 422, stage_doc=shown, errors=errors)
    _edit(place, lambda docs: wfe.update_stage(docs, workflow_key, stage_key, changes))
    return redirect(_stage_url(place, workflow_key, stage_key, "#stage-settings"), code=303)


@bp.get("/apps/<app_key>/design/workflows/<workflow_key>/gates/<stage_key>")
def gate(app_key: str, workflow_key: str, stage_key: str):
    place = load_design(app_key)
    return redirect(_stage_url(place, workflow_key, stage_key, "#gate"), code=303)


@bp.post("/apps/<app_key>/design/workflows/<workflow_key>/gates/<stage_key>")
def save_gate(app_key: str, workflow_key: str, stage_key: str):
    place = load_design(app_key)
    flow = _flow(app_key, workflow_key)
    wfe.stage_of(flow.doc, stage_key)
    posted = read_gate(request.form, lang(), _logic_fields(flow), worded)
    gate_doc, errors = posted.doc, posted.errors
    if request.form.get("do") == "refresh":     # a picker changed what the row's other pickers offer
        return _stage_page(place, flow, stage_key, gate_doc=posted.shown(), gate_errors={})
    if not errors:
        candidate = wfe.set_gate(flow.state.documents, workflow_key, stage_key, gate_doc)
        errors = posted.as_posted(_stage_problems(candidate, flow, stage_key, "gate:"))
    if errors:
        return _stage_page(place, flow, stage_key, 422, gate_doc=posted.shown(), gate_errors=errors,
                           builder_problems=posted.builder_problems)
    _edit(place, lambda docs: wfe.set_gate(docs, workflow_key, stage_key, gate_doc))
    return redirect(_stage_url(place, workflow_key, stage_key, "#gate"), code=303)


@bp.post("/apps/<app_key>/design/workflows/<workflow_key>/stages/<stage_key>/remove")
def remove_stage(app_key: str, workflow_key: str, stage_key: str):
    """Remove (or merge into another stage): a stage holding records needs a stage to send them to."""
    place = load_design(app_key)
    flow = _flow(app_key, workflow_key)
    wfe.stage_of(flow.doc, stage_key)
    target = request.form.get("move_to", "").strip() or None
    held = flow.held.get(stage_key, 0) + sum(flow.held.get(k, 0) for k, t in flow.moves.items() if t == stage_key)
    if len(flow.stages) < 2:
        return _stage_page(place, flow, stage_key, 422, remove_error=_("A pipeline needs at least one stage."))
    if target is not None and (target == stage_key or all(s.get("key") != target for s in flow.stages)):
        return _stage_page(place, flow, stage_key, 422, remove_error=_("Choose another stage of this pipeline."))
    if held and target is None:
        return _stage_page(place, flow, stage_key, 422, remove_error=ngettext_held(held))
    _edit(place, lambda docs: wfe.remove_stage(docs, workflow_key, stage_key, target))
    return _back(place, workflow_key, "#stages")


def ngettext_held(n: int) -> str:
    from flask_babel import ngettext
    return ngettext("%(num)s record is in this stage: choose the stage it goes to.",
                    "%(num)s records are in this stage: choose the stage they go to.", n)


def publish_move_reason(state: State) -> Callable[[str, str, str], str]:
    """The override reason written to the history of each record a publish moves out of a removed
    stage: it names the removed stage by its label (kept readable once the stage is gone)."""
    def label(workflow_key: str, stage_key: str) -> str:
        for documents in (state.live_documents, state.documents):
            workflow = (documents.get("workflows") or {}).get(workflow_key) or {}
            for s in workflow.get("stages") or []:
                if isinstance(s, dict) and s.get("key") == stage_key:
                    return f"{doc_label(s.get('label'))} ({stage_key})"
        return stage_key

    def reason(workflow_key: str, from_stage: str, to_stage: str) -> str:
        return _("Stage %(stage)s was removed from the pipeline; the record was moved to %(target)s.",
                 stage=label(workflow_key, from_stage), target=label(workflow_key, to_stage))
    return reason
