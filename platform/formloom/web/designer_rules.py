"""The rule designer (app admins only): a workflow's rules listed with enable/disable
switches, the rule editor, the dry-run, and each rule's run history.

Every edit lands in the app's draft (design/rule_edits.py), carries the draft
revision its page showed and the CSRF token, and is validated with the whole
draft exactly as `formloom validate` would; problems are shown by the setting
they concern. The trigger and action pickers and their settings forms are made
from the engine's registries (design/rule_form.py): this module names no
trigger or action type.
"""
from __future__ import annotations

import re
from datetime import datetime, timezone
from typing import Any

from flask import Blueprint, current_app, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import login_required
from sqlalchemy import select

from ..automation import ACTIONS, TRIGGERS, run_log
from ..automation.dry_run import EVENT_TYPES as CHANGES, DryRun, dry_run_db
from ..automation.recipients import RECIPIENTS
from ..automation.settings import Settings
from ..definitions.compile import compile_app
from ..definitions.workflow_checks import via_fields
from ..design import condition_builder as cb, drafts, rule_edits, rule_form
from ..design.edits import EditError
from ..errors import FormloomError, NotFoundError
from ..store.tables import notifications, users
from .designer import State, doc_label, edit_documents, load_design, load_state, worded
from .helpers import Place, db, lang, local_time, role_name
from .params import int_arg

bp = Blueprint("designer_rules", __name__)

_KEY = re.compile(r"^[a-z][a-z0-9_]{0,62}$")
#: The condition builder's inputs on the rule editor start with this.
CONDITION = "rule-if"


@bp.before_request
@login_required
def _require_login():
    return None


# -- reading the draft ---------------------------------------------------------------------------

def _workflow(state: State, workflow_key: str) -> dict:
    try:
        return rule_edits.workflow_of(state.documents, workflow_key)
    except NotFoundError:
        raise NotFoundError(_("There is no workflow %(key)s here.", key=workflow_key)) from None


def _rule(workflow: dict, rule_key: str) -> dict:
    try:
        return rule_edits.find_rule(workflow, rule_key)
    except (NotFoundError, KeyError):
        raise NotFoundError(_("There is no rule %(key)s here.", key=rule_key)) from None


def _entity(state: State, workflow: dict) -> dict:
    for e in state.app.get("entities", []):
        if e.get("key") == workflow.get("entity"):
            return e
    return {"key": workflow.get("entity"), "fields": []}


def _edit(place: Place, workflow_key: str, change) -> drafts.Draft:
    return edit_documents(place, lambda docs: rule_edits.with_workflow(docs, workflow_key, change))


def _rules_url(app_key: str, workflow_key: str, anchor: str = ""):
    return redirect(url_for("designer_rules.rules", app_key=app_key, workflow_key=workflow_key) + anchor, code=303)


def _text(mapping: Any) -> str:
    code = lang()
    return (mapping.get(code) or mapping.get("en") or "") if isinstance(mapping, dict) else str(mapping or "")


def _type_text(registry, name: str) -> str:
    entry = registry.get(name)
    return _text(entry.label) if entry is not None and entry.label else name


# -- the list ------------------------------------------------------------------------------------

@bp.get("/apps/<app_key>/design/workflows/<workflow_key>/rules")
def rules(app_key: str, workflow_key: str):
    place = load_design(app_key)
    state = load_state(app_key)
    workflow = _workflow(state, workflow_key)
    located = _problems_by_rule(state, workflow_key, workflow)
    return render_template("designer/rules.html", place=place, state=state, workflow=workflow,
                           workflow_key=workflow_key, located=located,
                           trigger_text=lambda name: _type_text(TRIGGERS, name),
                           action_text=lambda name: _type_text(ACTIONS, name))


def _problems_by_rule(state: State, workflow_key: str, workflow: dict) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    rule_list = workflow.get("rules") or []
    for problem in state.problems:
        match = re.match(r"^\$\.rules\[(\d+)\]", problem.json_path)
        if problem.source == f"workflows/{workflow_key}.json" and match and int(match.group(1)) < len(rule_list):
            out.setdefault(rule_list[int(match.group(1))].get("key"), []).append(problem.message)
    return out


@bp.post("/apps/<app_key>/design/workflows/<workflow_key>/rules/<rule_key>/enabled")
def set_enabled(app_key: str, workflow_key: str, rule_key: str):
    place = load_design(app_key)
    enabled = request.form.get("enabled") == "1"
    try:
        _edit(place, workflow_key, lambda wf: rule_edits.set_rule_enabled(wf, rule_key, enabled))
    except NotFoundError:
        raise NotFoundError(_("There is no rule %(key)s here.", key=rule_key)) from None
    return _rules_url(app_key, workflow_key, f"#rule-{rule_key}")


@bp.post("/apps/<app_key>/design/workflows/<workflow_key>/rules/<rule_key>/delete")
def delete(app_key: str, workflow_key: str, rule_key: str):
    place = load_design(app_key)
    try:
        _edit(place, workflow_key, lambda wf: rule_edits.remove_rule(wf, rule_key))
    except NotFoundError:
        raise NotFoundError(_("There is no rule %(key)s here.", key=rule_key)) from None
    return _rules_url(app_key, workflow_key)


# -- the editor ------------------------------------------------------------------------------------

def _choices(state: State, workflow: dict) -> rule_form.Choices:
    entity = _entity(state, workflow)
    fields = [(f["key"], doc_label(f.get("label")) or f["key"]) for f in entity.get("fields", [])
              if isinstance(f, dict) and "key" in f]
    user_fields = [(f["key"], doc_label(f.get("label")) or f["key"]) for f in entity.get("fields", [])
                   if isinstance(f, dict) and f.get("type") == "user"]
    return rule_form.Choices(
        stages=[(s["key"], doc_label(s.get("label")) or s["key"]) for s in workflow.get("stages", [])
                if isinstance(s, dict) and "key" in s],
        fields=fields,
        entities=[(e["key"], doc_label(e.get("label")) or e["key"]) for e in state.app.get("entities", [])
                  if isinstance(e, dict) and "key" in e],
        vias={e["key"]: [(f["key"], doc_label(f.get("label")) or f["key"])
                         for f in via_fields(state.app, e["key"], workflow.get("entity"))]
              for e in state.app.get("entities", []) if isinstance(e, dict) and "key" in e},
        recipients=rule_form.recipient_choices(RECIPIENTS, [(r, role_name(r, state.app)) for r in state.app.get("roles", [])],
                                               user_fields, lang()))


def _condition_fields(state: State, workflow: dict) -> list:
    """What a rule's condition may test: the entity's fields, its stage, and whether that stage
    is a terminal one (the variables `actions.condition_vars` gives a firing)."""
    return (cb.builder_fields(_entity(state, workflow), lang()) + cb.stage_field(workflow, lang(), _("Stage"))
            + [cb.BuilderField("$terminal", _("Won or lost"), "choice", (("won", _("won")), ("lost", _("lost"))))])


def _picker(registry) -> list[dict]:
    return [{"name": entry.name, "label": _text(entry.label) or entry.name, "help": _text(entry.help)}
            for entry in registry.values()]


def _editor(place: Place, state: State, workflow_key: str, rule_doc: dict, *, editing: bool, status: int = 200,
            errors: dict | None = None, previews: list | None = None, preview_record: int | None = None):
    workflow = _workflow(state, workflow_key)
    errors = errors or {}
    choices = _choices(state, workflow)
    trigger = rule_doc.get("trigger") or {}
    trigger_type = TRIGGERS.get(trigger.get("type"))
    trigger_controls = rule_form.controls(trigger_type.settings, trigger, lang(), choices,
                                          errors.get("trigger")) if trigger_type else []
    actions = []
    for i, spec in enumerate(rule_doc.get("actions") or []):
        entry = ACTIONS.get(spec.get("type"))
        actions.append({"index": i, "type": spec.get("type"), "label": _type_text(ACTIONS, spec.get("type", "")),
                        "controls": rule_form.controls(entry.settings, spec, lang(), choices,
                                                       errors.get(f"action{i}")) if entry else [],
                        "error": (errors.get(f"action{i}") or {}).get("")})
    cron = trigger.get("cron") if isinstance(trigger.get("cron"), str) else None
    now = datetime.now(timezone.utc)
    runs = [local_time(t, place.app) for t in rule_form.next_runs(cron, place.app.timezone, now)] if cron else []
    entity = _entity(state, workflow)
    variables = ["record.title", "record.owner", "record.stage_label", "link"] + \
        [f"record.{f['key']}" for f in entity.get("fields", []) if isinstance(f, dict) and "key" in f]
    return render_template("designer/rule.html", place=place, state=state, workflow=workflow,
                           workflow_key=workflow_key, rule=rule_doc, editing=editing,
                           triggers=_picker(TRIGGERS), action_types=_picker(ACTIONS),
                           trigger_controls=trigger_controls, actions=actions, errors=errors,
                           cron_text=rule_form.cron_reading(cron, lang()) if cron else "", cron_runs=runs,
                           variables=variables, condition_fields=_condition_fields(state, workflow),
                           condition=rule_doc.get("condition"), condition_prefix=CONDITION,
                           condition_problems=errors.get("condition_rows") or (),
                           posted=request.form if request.method == "POST" else None, previews=previews,
                           preview_record=preview_record, records=_some_records(place, workflow)), status


def _some_records(place: Place, workflow: dict) -> list[tuple[int, str]]:
    """Records to preview messages over (the newest hundred)."""
    from ..store.records import record_from_row
    from ..store.tables import records
    with db().read() as conn:
        rows = conn.execute(select(records).where(records.c.app_key == place.app.key,
                                                  records.c.entity_key == workflow.get("entity"),
                                                  records.c.deleted_at.is_(None))
                            .order_by(records.c.id.desc()).limit(100)).all()
    return [(r.id, record_from_row(r).title or f"#{r.id}") for r in rows]


@bp.get("/apps/<app_key>/design/workflows/<workflow_key>/rules/new")
def new_rule(app_key: str, workflow_key: str):
    place = load_design(app_key)
    state = load_state(app_key)
    _workflow(state, workflow_key)
    trigger_type = request.args.get("trigger") or next(iter(TRIGGERS))
    if trigger_type not in TRIGGERS:
        raise NotFoundError(_("There is no trigger type %(name)s.", name=trigger_type))
    first_action = next(iter(ACTIONS))
    return _editor(place, state, workflow_key, {"trigger": {"type": trigger_type},
                                                "actions": [{"type": first_action}]}, editing=False)


@bp.get("/apps/<app_key>/design/workflows/<workflow_key>/rules/<rule_key>")
def edit_rule(app_key: str, workflow_key: str, rule_key: str):
    place = load_design(app_key)
    state = load_state(app_key)
    workflow = _workflow(state, workflow_key)
    rule_doc = _rule(workflow, rule_key)
    errors = _located(state, workflow_key, rule_edits.rule_index(workflow, rule_key))
    return _editor(place, state, workflow_key, rule_doc, editing=True, errors=errors)


def _posted_rule(rule_key: str | None, condition_fields: list) -> tuple[dict, dict]:
    """The rule the editor posted, and the errors found reading it (by part)."""
    form = request.form
    errors: dict[str, Any] = {}
    doc: dict[str, Any] = {}
    key = rule_key or form.get("key", "").strip()
    if not _KEY.match(key):
        errors["key"] = _("Give the rule a key: lower-case letters, digits and _, starting with a letter.")
    doc["key"] = key
    label = {code: form.get(f"label-{code}", "").strip() for code in ("en", "zh")}
    label = {k: v for k, v in label.items() if v}
    if label:
        doc["label"] = label
    if form.get("enabled") != "1":
        doc["enabled"] = False
    trigger_name = form.get("trigger-type", "")
    trigger_type = TRIGGERS.get(trigger_name)
    if trigger_type is None:
        errors["trigger"] = {"": _("Choose a trigger.")}
        doc["trigger"] = {}
    else:
        settings, problems = rule_form.parse(trigger_type.settings, form, "t-", lang())
        doc["trigger"] = {"type": trigger_name, **settings}
        if problems:
            errors["trigger"] = problems
    logic, problems = cb.from_form(form, CONDITION, condition_fields, gettext=worded)
    if problems:
        errors["condition_rows"] = problems
    elif logic is not None:
        doc["condition"] = logic
    actions = []
    count = _count(form.get("actions"))
    for i in range(count):
        if form.get(f"a{i}-remove") == "1":
            continue
        entry = ACTIONS.get(form.get(f"a{i}-type", ""))
        if entry is None:
            continue
        settings, problems = rule_form.parse(entry.settings, form, f"a{i}-", lang())
        if problems:
            errors[f"action{len(actions)}"] = problems
        actions.append({"type": entry.name, **settings})
    added = ACTIONS.get(form.get("add-action", ""))
    if added is not None and form.get("do") == "add-action":
        actions.append({"type": added.name})
    doc["actions"] = actions
    return doc, errors


def _count(raw: str | None) -> int:
    return min(int(raw), 50) if raw and raw.isdigit() else 0


def _located(state_or_problems, workflow_key: str, index: int) -> dict:
    """Problems of the rule at `index`, by the part and setting they concern."""
    problems = state_or_problems.problems if isinstance(state_or_problems, State) else state_or_problems
    base = f"$.rules[{index}]"
    out: dict[str, Any] = {}
    for problem in problems:
        path = problem.json_path
        if problem.source != f"workflows/{workflow_key}.json" or not (path == base or path.startswith(base + ".")
                                                                       or path.startswith(base + "[")):
            continue
        rest = path[len(base):]
        trigger = re.match(r"^\.trigger(?:\.([A-Za-z_]\w*))?", rest)
        action = re.match(r"^\.actions\[(\d+)\](?:\.([A-Za-z_]\w*))?", rest)
        if trigger:
            part, name = "trigger", trigger.group(1) or ""
        elif action:
            part, name = f"action{action.group(1)}", action.group(2) or ""
        elif rest.startswith(".condition"):
            out["condition"] = f"{out.get('condition', '')} {problem.message}".strip()
            continue
        else:
            out.setdefault("general", []).append(problem.message)
            continue
        bucket = out.setdefault(part, {})
        bucket[name] = f"{bucket[name]} {problem.message}".strip() if name in bucket else problem.message
    return out


def _webhook_refusals(rule_doc: dict) -> dict:
    """The SSRF guard webhooks use when sending, asked when the address is saved."""
    from urllib.parse import urlsplit

    from ..automation.channels import DeliveryError, TemporaryError
    from ..automation.channels.webhook import AddressRefused, resolve
    settings = Settings.from_mapping(current_app.config)
    out = {}
    for i, spec in enumerate(rule_doc.get("actions") or []):
        entry = ACTIONS.get(spec.get("type"))
        if entry is None or not any(s.name == "url" for s in entry.settings) or not isinstance(spec.get("url"), str):
            continue
        try:
            resolve(spec["url"], allow_private=settings.webhook_allow_private, allow=settings.webhook_allow)
        except TemporaryError:
            continue                      # not resolvable now: the guard asks again when sending
        except AddressRefused:
            out[f"action{i}"] = {"url": _("Webhooks may not call %(host)s: it is a private, loopback or internal "
                                          "address.", host=urlsplit(spec["url"]).hostname or "")}
        except (DeliveryError, ValueError) as refused:
            out[f"action{i}"] = {"url": _("This address cannot be called: %(why)s", why=str(refused))}
    return out


def _save(app_key: str, workflow_key: str, rule_key: str | None):
    place = load_design(app_key)
    state = load_state(app_key)
    workflow = _workflow(state, workflow_key)
    if rule_key is not None:
        _rule(workflow, rule_key)
    rule_doc, errors = _posted_rule(rule_key, _condition_fields(state, workflow))
    action = request.form.get("do", "save")
    if action in ("refresh", "add-action", "preview"):
        previews = _previews(place, state, workflow_key, rule_doc) if action == "preview" else None
        shown = {} if action == "refresh" else errors     # a picker changed the form: nothing was sent yet
        return _editor(place, state, workflow_key, rule_doc, editing=rule_key is not None, errors=shown,
                       previews=previews, preview_record=_record_choice())
    if not errors:
        errors = _webhook_refusals(rule_doc)
    if not errors:
        try:
            change = (lambda wf: rule_edits.replace_rule(wf, rule_key, rule_doc)) if rule_key else \
                (lambda wf: rule_edits.add_rule(wf, rule_doc))
            candidate = rule_edits.with_workflow(state.documents, workflow_key, change)
        except EditError:
            errors = {"key": _("This workflow already has a rule with the key %(key)s.", key=rule_doc["key"])}
        else:
            index = rule_edits.rule_index(candidate["workflows"][workflow_key], rule_doc["key"])
            errors = _located(drafts.draft_problems(candidate, state.archived), workflow_key, index)
    if errors:
        return _editor(place, state, workflow_key, rule_doc, editing=rule_key is not None, status=422, errors=errors)
    _edit(place, workflow_key, change)
    return _rules_url(app_key, workflow_key, f"#rule-{rule_doc['key']}")


def _record_choice() -> int | None:
    raw = request.form.get("record", "")
    return int(raw) if raw.isdigit() and len(raw) < 16 else None


@bp.post("/apps/<app_key>/design/workflows/<workflow_key>/rules/new")
def create_rule(app_key: str, workflow_key: str):
    return _save(app_key, workflow_key, None)


@bp.post("/apps/<app_key>/design/workflows/<workflow_key>/rules/<rule_key>")
def update_rule(app_key: str, workflow_key: str, rule_key: str):
    return _save(app_key, workflow_key, rule_key)


# -- previews and dry-runs over a compiled app ------------------------------------------------------

def _compiled(place: Place, documents: dict, state: State):
    """The app as these documents would make it (they must be valid), or None."""
    try:
        return compile_app(documents["app"], documents.get("workflows") or {}, archived=state.archived or None)
    except Exception:
        return None


def _previews(place: Place, state: State, workflow_key: str, rule_doc: dict) -> list | dict:
    """Each action's messages rendered over the chosen record, in the sandbox, by the dry-run."""
    record_id = _record_choice()
    if record_id is None:
        return {"error": _("Choose a record to preview the messages over.")}
    key = rule_doc.get("key") if _KEY.match(rule_doc.get("key") or "") else "preview"
    trial = {k: v for k, v in rule_doc.items() if k != "condition"} | {"key": key, "enabled": True}   # the text, whatever the condition
    documents = rule_edits.with_workflow(
        state.documents, workflow_key,
        lambda wf: rule_edits.add_rule({**wf, "rules": [r for r in wf.get("rules") or [] if r.get("key") != key]},
                                       {**trial, "trigger": {"type": "record_created"}}))
    app = _compiled(place, documents, state) if not drafts.draft_problems(documents, state.archived) else None
    if app is None:
        return {"error": _("Fix the problems shown first; then the messages can be previewed.")}
    try:
        run = dry_run_db(db(), app, workflow_key, key, now=datetime.now(timezone.utc),
                         settings=Settings.from_mapping(current_app.config), record_id=record_id,
                         change={"type": "record_created"})
    except NotFoundError:
        return {"error": _("There is no record %(id)s here.", id=record_id)}
    return run.items[0].actions if run.items else []


def _rule_app(place: Place, state: State, workflow_key: str, rule_key: str, source: str):
    """(compiled app, which) to dry-run the rule in: the draft when asked (and valid), else the live app."""
    if source == "draft" and state.revision:
        if state.problems:
            return None, "draft"
        return _compiled(place, state.documents, state), "draft"
    return place.app, "live"


@bp.get("/apps/<app_key>/design/workflows/<workflow_key>/rules/<rule_key>/dry-run")
def dry_run(app_key: str, workflow_key: str, rule_key: str):
    place = load_design(app_key)
    state = load_state(app_key)
    workflow = _workflow(state, workflow_key)
    source = request.args.get("source") or ("draft" if state.revision else "live")
    app, used = _rule_app(place, state, workflow_key, rule_key, source)
    record_id = int_arg("record", None)
    change = {"type": request.args.get("change") or "record_updated"}
    if change["type"] not in CHANGES:
        change["type"] = "record_updated"
    fields = [f for f in re.split(r"[\s,，]+", request.args.get("fields", "")) if f]
    for name, value in (("fields", fields), ("to", request.args.get("to")), ("from", request.args.get("from")),
                        ("stage", request.args.get("to")), ("outcome", request.args.get("outcome"))):
        if value:
            change[name] = value
    at_text = request.args.get("at", "").strip()
    now = datetime.now(timezone.utc)
    error = None
    if at_text:
        try:
            parsed = datetime.fromisoformat(at_text.replace("Z", "+00:00"))
            now = parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)
        except ValueError:
            error = _("%(text)s is not a date and time; write it like 2026-03-05T09:00.", text=at_text)
    run: DryRun | None = None
    if app is None:
        error = error or _("The draft has problems; fix them to dry-run it, or dry-run the live version.")
    elif error is None:
        try:
            run = dry_run_db(db(), app, workflow_key, rule_key, now=now, record_id=record_id,
                             settings=Settings.from_mapping(current_app.config),
                             change=change)
        except NotFoundError as missing:
            error = _("There is no rule %(key)s in the %(which)s version.", key=rule_key,
                      which=_("draft") if used == "draft" else _("live")) \
                if "rule" in missing.message else _("There is no record %(id)s here.", id=record_id)
    rule_doc = next((r for r in workflow.get("rules") or [] if r.get("key") == rule_key), {"key": rule_key})
    return render_template("designer/rule_dry_run.html", place=place, state=state, workflow=workflow,
                           workflow_key=workflow_key, rule=rule_doc, run=run, used=used, error=error,
                           record_id=record_id, change=change, changes=CHANGES, at_text=at_text,
                           records=_some_records(place, workflow),
                           when=lambda value: local_time(value, place.app),
                           action_text=lambda name: _type_text(ACTIONS, name)), 200 if error is None else 422


# -- run history ---------------------------------------------------------------------------------------

@bp.get("/apps/<app_key>/design/workflows/<workflow_key>/rules/<rule_key>/history")
def history(app_key: str, workflow_key: str, rule_key: str):
    place = load_design(app_key)
    state = load_state(app_key)
    workflow = _workflow(state, workflow_key)
    with db().read() as conn:
        rows = run_log(conn, place.app.key, rule_key=rule_key, limit=200)
        sent = {}
        for r in rows:
            if r["record_id"] is None or r["outcome"] == "skipped":
                continue
            found = conn.execute(select(notifications.c.subject, notifications.c.body, users.c.name, users.c.email)
                                 .select_from(notifications.join(users, users.c.id == notifications.c.user_id))
                                 .where(notifications.c.app_key == place.app.key,
                                        notifications.c.record_id == r["record_id"],
                                        notifications.c.created_at == r["at"])).all()
            sent[r["id"]] = [{"to": n.name or n.email, "subject": n.subject, "body": n.body} for n in found]
    rule_doc = next((x for x in workflow.get("rules") or [] if x.get("key") == rule_key), {"key": rule_key})
    return render_template("designer/rule_history.html", place=place, state=state, workflow=workflow,
                           workflow_key=workflow_key, rule=rule_doc, rows=rows, sent=sent,
                           when=lambda value: local_time(value, place.app))
