"""Actions: one small function per action type, registered by name.

`fire_rule` runs a rule's actions for one firing, inside the caller's transaction:
the condition is evaluated first (a rule whose condition no longer holds is
skipped), each action runs in a savepoint so one failing action neither undoes
nor stops the others, and the outcome is written to the run log. Effects on the
database (set_field, create_record, assign, move_stage, in-app notifications)
commit with the firing; email and webhooks become jobs, so no channel is ever
called while a record is being saved.
"""
from __future__ import annotations

import json
import logging
import time as _time
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any, Callable, Iterator, Mapping

from sqlalchemy import Connection, bindparam, func, insert, select, update

from ..auth import policy
from ..auth.users import Actor, load_actor, members_of, reports_of
from ..conditions import truthy
from ..ids import MAX_ID, parse_int
from ..definitions.model import AppDef, EntityDef, Label, RuleDef, WorkflowDef, thaw
from ..errors import FormloomError, NotFoundError
from ..i18n import translate
from ..store.records import Record, create_record, emit_event, get_record, update_record
from ..store.tables import audit, events, records, users
from ..templating import TemplateError, lookup_paths, render
from .channels.inapp import notify_user
from .batch import current as current_batch, remembered
from .jobs import enqueue, insert_ignore
from .recipients import manager_of, resolve_ids  # noqa: F401 -- manager_of kept importable from here
from ..definitions import rule_checks
from ..fields.settings import Setting
from .rule_settings import DURATION, ENTITY, KEY, MESSAGE, RECIPIENTS, STAGE, SUBJECT, setting
from ..registry import Registry
from .settings import Settings
from .tables import automation_state, rule_runs
from .timing import add_duration, zone

log = logging.getLogger("formloom.automation")

#: Rules changing records trigger rules; a chain this deep is stopped and logged as a loop.
MAX_DEPTH = 5

#: The actor automation acts as: may read and update every record; gates still apply.
SYSTEM_ACTOR = Actor(id=None, email="automation@formloom.invalid", name="Automation",  # type: ignore[arg-type]
                     is_superuser=True)


@dataclass
class RuleContext:
    """One firing of one rule (for one record, or for none: a schedule)."""

    conn: Connection
    app: AppDef
    rule: RuleDef
    workflow: WorkflowDef | None
    entity: EntityDef | None
    record: Record | None
    key: str                          # idempotency base of this firing
    now: datetime
    settings: Settings
    depth: int = 0                    # depth of the event that caused it (0 for time triggers)
    trigger: str = ""
    late: bool = False
    job_id: int | None = None
    notes: list[str] = field(default_factory=list)
    event_at: datetime | None = None      # when the triggering change was saved (event triggers)
    #: an action other than a message completed: records may have changed (a worker's batch of
    #: events then reads records afresh instead of what it read ahead)
    wrote: bool = False
    #: the running action has written something (an unguarded action failing after that takes
    #: its whole batch back: see UNGUARDED_ACTIONS)
    writing: bool = False
    #: the running action left in `record` exactly the row it wrote: no need to read it back
    exact: bool = False


ActionFn = Callable[[RuleContext, Mapping[str, Any], int], None]


@dataclass(frozen=True)
class ActionType:
    """Everything about one action type: its behaviour (`run`), its label and help (en/zh),
    its settings (workflow.schema.json's `action_<name>` is generated from them, with
    `schema_extra` for rules between settings) and its own meaning check."""

    name: str
    run: ActionFn
    label: Mapping[str, str] = field(default_factory=dict)
    help: Mapping[str, str] = field(default_factory=dict)
    settings: tuple[Setting, ...] = ()
    schema_extra: Mapping[str, Any] = field(default_factory=dict)
    check: Callable[..., Iterator] | None = None      # (subject, spec, path, what, env) -> problems


ACTIONS: Registry[ActionType] = Registry("action type")


def register_action(entry: ActionType) -> ActionType:
    return ACTIONS.add(entry)


def action(name: str, **about: Any):
    """Register `fn(ctx, spec, index)` as the action type `name`; `about` gives the entry's
    label, help, settings, schema_extra and check (see ActionType)."""
    def register(fn: ActionFn) -> ActionFn:
        register_action(ActionType(name, fn, **about))
        return fn
    return register


def unregister_action(name: str) -> None:
    """Remove an action type (tests that register one of their own clean up with this)."""
    ACTIONS.remove(name)


class ActionError(FormloomError):
    """An action could not be carried out; the message says why (logged in the run log)."""


# -- firing ----------------------------------------------------------------------------------

#: Actions that only send messages: they change no record and write no event.
MESSAGE_ACTIONS = frozenset({"notify", "email", "webhook"})
#: Actions whose every write is queued in a worker's batch (automation.batch) when one runs.
QUEUED_ACTIONS = frozenset({"notify"})
#: Actions that write their records' events one level deeper than the firing themselves
#: (`set_owner`): a rule whose only writes are these needs no deepening UPDATE afterwards.
SELF_DEEPENING_ACTIONS = frozenset({"assign"})
_DEEPENED = MESSAGE_ACTIONS | SELF_DEEPENING_ACTIONS
#: Actions run without a savepoint of their own in a worker's batch of events (two of the eight
#: statements an assignment took): what they refuse (ActionError), they refuse before writing
#: anything, so a refusal has nothing to take back but what the batch queued. Any other failure,
#: or one after they wrote (`RuleContext.writing`), is raised as UnguardedActionFailed: the batch
#: is taken back and handled again event by event, each action in its savepoint, as before.
UNGUARDED_ACTIONS = frozenset({"assign"})


class UnguardedActionFailed(Exception):
    """An action running without a savepoint failed after it wrote: only the whole batch can be taken back."""


def condition_vars(ctx: RuleContext, record: Record | None = None) -> dict:
    record = record or ctx.record
    today = ctx.now.astimezone(zone(ctx.app.timezone)).date().isoformat()
    base = {"$now": ctx.now.astimezone(timezone.utc).isoformat(), "$today": today}
    if record is None:
        return base | {"$stage": None, "$terminal": None, "$owner": None}
    stage = ctx.workflow.stage(record.stage) if ctx.workflow and record.stage else None
    return {**record.data, **base, "$stage": record.stage, "$terminal": stage.terminal if stage else None,
            "$owner": record.owner_id}


def fire_rule(ctx: RuleContext) -> str:
    """Run the rule's actions for this firing; returns the outcome: fired | skipped | failed."""
    started = _time.monotonic()
    if ctx.record is not None and ctx.record.deleted_at is not None:
        return log_run(ctx, "skipped", "the record was deleted", started)
    if ctx.rule.condition is not None and not truthy(ctx.rule.condition, condition_vars(ctx)):
        return log_run(ctx, "skipped", "the condition does not hold", started)
    # messages change no record and write no event: nothing to re-read or to deepen after them
    # ... nor after actions writing their events one level deeper themselves
    deepened = all(spec.get("type") in _DEEPENED for spec in ctx.rule.actions)
    batch = current_batch()
    last_event = 0 if deepened else _last_event_id(ctx.conn, batch)
    events_batch = batch is not None and batch.reminders is not None
    failures = []
    for index, spec in enumerate(ctx.rule.actions):
        kind = spec.get("type")
        fn = ACTIONS[kind].run if kind in ACTIONS else None
        mark = batch.mark() if batch is not None else None
        ctx.writing = ctx.exact = False
        try:
            if fn is None:
                raise ActionError(f"there is no action type {kind!r}")
            if batch is not None and kind in QUEUED_ACTIONS:    # all it writes is queued: dropped on failure
                fn(ctx, spec, index)
            elif events_batch and kind in UNGUARDED_ACTIONS:
                try:
                    fn(ctx, spec, index)
                except ActionError:
                    if ctx.writing:
                        raise UnguardedActionFailed(kind)
                    raise
                except Exception as exc:
                    raise UnguardedActionFailed(kind) from exc
            else:
                with ctx.conn.begin_nested():
                    fn(ctx, spec, index)
            if kind not in MESSAGE_ACTIONS:
                ctx.wrote = True
        except UnguardedActionFailed:
            raise
        except Exception as exc:   # one broken action never stops the others
            if batch is not None:
                batch.drop_since(mark)
            failures.append(f"{kind}: {describe_error(exc)}")
            if not isinstance(exc, (FormloomError, TemplateError)):
                log.exception("rule %s action %s failed for record %s", ctx.rule.key, kind,
                              ctx.record.id if ctx.record else None)
        if ctx.record is not None and ctx.entity is not None and kind not in MESSAGE_ACTIONS and not ctx.exact:
            # later actions see earlier changes
            ctx.record = get_record(ctx.conn, ctx.app, ctx.entity, ctx.record.id, include_deleted=True)
    if not deepened:
        _deepen_new_events(ctx, last_event, batch)
    if failures:
        return log_run(ctx, "failed", "; ".join(ctx.notes + failures), started)
    return log_run(ctx, "fired", "; ".join(ctx.notes), started)


def describe_error(exc: Exception) -> str:
    failures = getattr(exc, "failures", None)
    if failures:   # GateBlocked: every unmet requirement
        reasons = "; ".join(getattr(f, "message", str(f)) for f in failures)
        return f"{getattr(exc, 'message', exc)} ({reasons})"
    problems = getattr(exc, "problems", None)
    if problems:   # RecordInvalid
        return "; ".join(f"{getattr(p, 'field', '')}: {getattr(p, 'message', p)}" for p in problems)
    return getattr(exc, "message", None) or str(exc) or type(exc).__name__


_LAST_EVENT = ("last_event_id",)


def _last_event_id(conn: Connection, batch) -> int:
    """The newest event's id before a firing's actions write theirs. In a worker's batch it is
    asked once, then kept up to date from the ids `_deepen_new_events` deepens: the batch
    holds the write lock (SQLite), and the events other transactions write meanwhile
    (PostgreSQL) are not written at the batch's moment, so the deepening never matches them."""
    if batch is not None and _LAST_EVENT in batch.memo:
        return batch.memo[_LAST_EVENT]
    last = conn.execute(select(func.max(events.c.id))).scalar() or 0
    if batch is not None:
        batch.memo[_LAST_EVENT] = last
    return last


def _deepen_new_events(ctx: RuleContext, after_id: int, batch=None) -> None:
    """Events written by this firing's actions are one level deeper than its cause."""
    deepen = (update(events).where(events.c.id > after_id, events.c.processed_at.is_(None),
                                   events.c.depth == 0, events.c.created_at == ctx.now)
              .values(depth=ctx.depth + 1))
    if batch is None:
        ctx.conn.execute(deepen)
        return
    written = ctx.conn.execute(deepen.returning(events.c.id)).scalars().all()
    if written:
        before = batch.memo.get(_LAST_EVENT)
        batch.memo[_LAST_EVENT] = max(written)
        # should the firing's savepoint be rolled back, its ids may be given out again
        batch.undo.append(lambda: batch.memo.__setitem__(_LAST_EVENT, before) if before is not None
                          else batch.memo.pop(_LAST_EVENT, None))


def log_run(ctx: RuleContext, outcome: str, message: str, started: float | None = None) -> str:
    duration = int((_time.monotonic() - started) * 1000) if started is not None else 0
    if ctx.late:
        message = ("late; " + message) if message else "late"
    row = dict(app_key=ctx.app.key, rule_key=ctx.rule.key, record_id=ctx.record.id if ctx.record else None,
               trigger=ctx.trigger or ctx.rule.trigger.get("type", ""), outcome=outcome, late=ctx.late,
               duration_ms=duration, message=message[:4000], job_id=ctx.job_id, at=ctx.now)
    batch = current_batch()
    if batch is not None:            # a worker's batch of reminders writes its run logs together
        batch.rule_runs.append(row)
    else:
        ctx.conn.execute(insert(rule_runs).values(**row))
    if outcome == "failed":
        log.warning("rule %s for record %s failed: %s", ctx.rule.key, ctx.record.id if ctx.record else None, message)
    return outcome


# -- recipients and messages ---------------------------------------------------------------------

@dataclass(frozen=True)
class Recipient:
    id: int
    email: str
    name: str
    language: str


def resolve_recipients(ctx: RuleContext, to: Any) -> list[Recipient]:
    """The recipients written in `to` (see automation/recipients.py), active users, each once, in order."""
    wanted = resolve_ids(ctx, to)
    if not wanted:
        return []
    rows = remembered(("active_users", tuple(wanted)), lambda: {
        r.id: r for r in ctx.conn.execute(select(users).where(users.c.id.in_(wanted), users.c.active.is_(True)))})
    found = [Recipient(r.id, r.email, r.name or r.email, r.language or "en") for i in wanted if (r := rows.get(i))]
    return readers_only(ctx, found)


def readers_only(ctx: RuleContext, people: list[Recipient]) -> list[Recipient]:
    """A message about a record carries its title and values: only people the policy lets
    read the record get it (the others are noted in the run log)."""
    if ctx.record is None or ctx.entity is None or not people:
        return people
    team = {}

    def team_of(user_id: int) -> set[int]:
        if user_id not in team:
            team[user_id] = remembered(("reports_of", user_id), lambda: reports_of(ctx.conn, user_id))
        return team[user_id]

    kept = [p for p in people
            if policy.can(remembered(("actor", p.id), lambda: load_actor(ctx.conn, p.id)), "read", ctx.app,
                          ctx.entity, ctx.record, team_of=team_of)]
    if len(kept) < len(people):
        ctx.notes.append(f"not sent to {len(people) - len(kept)} recipient(s) who may not read this record")
    return kept


def record_link(ctx: RuleContext, record: Record | None = None) -> str:
    record = record or ctx.record
    if record is None:
        return f"{ctx.settings.base_url}/apps/{ctx.app.key}/"
    return f"{ctx.settings.base_url}/apps/{ctx.app.key}/{record.entity_key}/{record.id}"


def record_view(ctx: RuleContext, record: Record | None, lang: str, *, labels: bool = True) -> dict:
    """The record as templates see it: its values by field key, plus id, title, stage,
    owner, created_at, and `labels` (each value as shown to people, in `lang`; `labels=False`
    leaves them out for templates known not to read them: formatting every field was the
    larger part of a reminder's context)."""
    if record is None:
        return {}
    key = ("record_view", ctx.app.key, record.id, record.version, record.updated_at, record.stage, lang, labels)
    return remembered(key, lambda: _record_view(ctx, record, lang, labels))


def _record_view(ctx: RuleContext, record: Record, lang: str, with_labels: bool = True) -> dict:
    from ..fields import field_type   # fields register on import; keep module import light

    entity = ctx.app.entity(record.entity_key)
    from ..timefmt import format_value

    labels = {}
    for f in (entity.fields if entity and with_labels else ()):
        try:
            if f.type in ("date", "datetime"):      # dates as the reader reads them, in the app's zone
                text = format_value(f.type, record.data.get(f.key), lang, zone(ctx.app.timezone),
                                    show_zone=f.type == "datetime")
                if text is not None:
                    labels[f.key] = text
                    continue
            labels[f.key] = field_type(f.type).display(f, record.data.get(f.key), lang)
        except Exception:   # a value a type cannot show must not stop a reminder
            labels[f.key] = str(record.data.get(f.key) or "")
    workflow = ctx.app.workflow_for(record.entity_key)
    stage = workflow.stage(record.stage) if workflow and record.stage else None
    owner = remembered(("owner_name", record.owner_id), lambda: ctx.conn.execute(
        select(users.c.name, users.c.email).where(users.c.id == record.owner_id)).first()) \
        if record.owner_id else None
    return {**record.data, "id": record.id, "title": record.title, "stage": record.stage,
            "stage_label": stage.label.get(lang) if stage else "", "owner_id": record.owner_id,
            "owner": (owner.name or owner.email) if owner else "", "created_at": record.created_at.isoformat(),
            "updated_at": record.updated_at.isoformat(), **({"labels": labels} if with_labels else {})}


def template_context(ctx: RuleContext, lang: str, *, labels: bool = True, **extra: Any) -> dict:
    entity = ctx.entity
    rule_label = ctx.rule.label.get(lang) if ctx.rule.label else ctx.rule.key
    return {"record": record_view(ctx, ctx.record, lang, labels=labels),
            "app": {"key": ctx.app.key, "label": ctx.app.label.get(lang), "timezone": ctx.app.timezone},
            "entity": {"key": entity.key, "label": entity.label.get(lang)} if entity else {},
            "rule": {"key": ctx.rule.key, "label": rule_label},
            "link": record_link(ctx), "late": ctx.late, **extra}


def render_label(raw: Any, lang: str, context: Mapping[str, Any], default: str, *, thawed: bool = False) -> str:
    if raw is None or raw == "" or raw == {}:
        return default
    label = remembered(("label", id(raw)), lambda: (raw, Label.of(thaw(raw))))[1]   # raw held: its id stays its own
    return render(label.get(lang), context, thawed=thawed)


def _reads_labels(raw: Any, lang: str) -> bool:
    """Whether the message template `raw` may read `record.labels` (anything but plain
    lookups may; printing the whole record does)."""
    if raw is None or raw == "" or raw == {}:
        return False
    source = remembered(("label", id(raw)), lambda: (raw, Label.of(thaw(raw))))[1].get(lang)
    paths = remembered(("lookup_paths", source), lambda: lookup_paths(source))
    return paths is None or any(p[0] == "record" and (len(p) == 1 or p[1] == "labels") for p in paths)


def message_for(ctx: RuleContext, spec: Mapping[str, Any], lang: str, default_body: str | None = None) -> tuple[str, str]:
    """(subject, body) of a notify/email/escalate action, rendered in `lang`."""
    record = ctx.record
    labels = _reads_labels(spec.get("subject"), lang) or _reads_labels(spec.get("message"), lang)
    # made plain once for the subject and the body, and in a worker's batch once per record,
    # version, rule and language (the sandbox cannot change it)
    key = ("template_context", ctx.app.key, ctx.rule.key, record.id if record else None,
           record.version if record else None, record.updated_at if record else None, lang, ctx.late, labels)
    context = remembered(key, lambda: thaw(template_context(ctx, lang, labels=labels)))
    rule_label = context["rule"]["label"]
    title = ctx.record.title if ctx.record else ""
    subject = render_label(spec.get("subject"), lang, context, f"{rule_label}: {title}" if title else rule_label,
                           thawed=True)
    body = render_label(spec.get("message"), lang, context, default_body or subject, thawed=True)
    return subject, body


# -- actions -------------------------------------------------------------------------------------------

@action("notify", label={"en": "Notify in the app", "zh": "站内通知"},
        help={"en": "A notification in the bell of each recipient.", "zh": "给每位接收人发一条站内通知。"},
        settings=(RECIPIENTS, SUBJECT, MESSAGE))
def notify(ctx: RuleContext, spec: Mapping[str, Any], index: int) -> None:
    """In-app notification to each recipient, exactly once per firing."""
    recipients = resolve_recipients(ctx, spec.get("to"))
    if not recipients:
        ctx.notes.append("notify: nobody to notify")
    for person in recipients:
        subject, body = message_for(ctx, spec, person.language)
        notify_user(ctx.conn, person.id, subject, body, f"{ctx.key}:a{index}:u{person.id}", ctx.now,
                    app_key=ctx.app.key, record_id=ctx.record.id if ctx.record else None)


@action("email", label={"en": "Send email", "zh": "发送邮件"},
        help={"en": "An email to each recipient, with a link to the record.", "zh": "给每位接收人发一封带记录链接的邮件。"},
        settings=(RECIPIENTS, SUBJECT, MESSAGE))
def email(ctx: RuleContext, spec: Mapping[str, Any], index: int) -> None:
    """One email job per recipient; the job's key is the message's Message-ID."""
    recipients = [p for p in resolve_recipients(ctx, spec.get("to")) if p.email]
    if not recipients:
        ctx.notes.append("email: nobody to email")
    for person in recipients:
        subject, body = message_for(ctx, spec, person.language)
        link = record_link(ctx)
        if ctx.record is not None and link not in body:
            body = f"{body}\n\n{link}"
        enqueue(ctx.conn, "email", f"{ctx.key}:a{index}:u{person.id}",
                {"to": person.email, "subject": subject, "body": body, "user_id": person.id},
                ctx.now, ctx.now, app_key=ctx.app.key, rule_key=ctx.rule.key,
                record_id=ctx.record.id if ctx.record else None)


@action("webhook", label={"en": "Call a webhook", "zh": "调用 Webhook"},
        help={"en": "A signed POST of the record to another system, retried until it succeeds.",
              "zh": "把记录签名后 POST 给另一个系统，失败会重试。"},
        settings=(setting("url", {"type": "string", "maxLength": 2000, "pattern": "^https?://[^\\s]+$",
                                  "x-message": "must be an http:// or https:// address"},
                          "URL", "地址", "Where to POST.", "POST 的目标地址。", required=True),
                  setting("secret_ref", {"type": "string", "minLength": 1, "maxLength": 200}, "Secret", "密钥",
                          "The name of the signing secret (kept outside the document).", "签名密钥的名称（不写在文档里）。")))
def webhook(ctx: RuleContext, spec: Mapping[str, Any], index: int) -> None:
    """A signed POST of the record and the event, as a job (retried, then dead-lettered)."""
    key = f"{ctx.key}:a{index}"
    body = json.dumps({
        "app": ctx.app.key, "entity": ctx.entity.key if ctx.entity else None, "rule": ctx.rule.key,
        "trigger": ctx.trigger or ctx.rule.trigger.get("type"), "idempotency_key": key,
        "fired_at": ctx.now.astimezone(timezone.utc).isoformat(), "late": ctx.late,
        "record": _record_json(ctx.record), "link": record_link(ctx),
    }, ensure_ascii=False, sort_keys=True, default=str)
    enqueue(ctx.conn, "webhook", key, {"url": spec["url"], "body": body, "secret_ref": spec.get("secret_ref")},
            ctx.now, ctx.now, app_key=ctx.app.key, rule_key=ctx.rule.key,
            record_id=ctx.record.id if ctx.record else None)


def _record_json(record: Record | None) -> dict | None:
    if record is None:
        return None
    return {"id": record.id, "entity": record.entity_key, "title": record.title, "stage": record.stage,
            "owner_id": record.owner_id, "version": record.version, "data": record.data,
            "created_at": record.created_at.isoformat(), "updated_at": record.updated_at.isoformat()}


def _need_record(ctx: RuleContext, kind: str) -> Record:
    if ctx.record is None or ctx.entity is None:
        raise ActionError(f"{kind} needs a record; this rule fired without one")
    return ctx.record


@action("set_field", label={"en": "Set a field", "zh": "设置字段"},
        help={"en": "Set a field of the record (or of the records a reference points to) to a value or a formula.",
              "zh": "把记录（或关联字段指向的记录）的某个字段设为一个值或公式结果。"},
        settings=(setting("on", KEY, "On", "作用于", "A reference field: set the field on the record(s) it points to.",
                          "一个关联字段：改为设置它指向的记录。"),
                  setting("field", KEY, "Field", "字段", "The field to set.", "要设置的字段。", required=True),
                  setting("value", True, "Value", "值", "The value: JSON, a {{ template }}, $now or $today.",
                          "值：JSON、{{ 模板 }}、$now 或 $today。"),
                  setting("formula", {"type": "string", "minLength": 1, "maxLength": 2000}, "Formula", "公式",
                          "A formula over the record, instead of a value.", "基于记录计算的公式（代替值）。")),
        check=rule_checks.check_set_field)
def set_field(ctx: RuleContext, spec: Mapping[str, Any], index: int) -> None:
    """Set one field to `value` (a "{{ template }}" is rendered; "$now" / "$today" are the
    moment / day of the firing, for an event trigger when the triggering change was saved)
    or to a `formula`'s result. With `on` (a reference field of the firing record) the
    field is set on the record(s) it refers to instead; an empty reference or a referenced
    record that is gone is skipped (noted in the run log)."""
    record = _need_record(ctx, "set_field")
    if not spec.get("on"):
        value = _set_value(ctx, spec, ctx.entity, record)
        ctx.record = update_record(ctx.conn, ctx.app, ctx.entity, record.id, {spec["field"]: value}, actor_id=None,
                                   expected_version=None, now=ctx.now, via=rule_via(ctx))
        return
    reference = ctx.entity.field(spec["on"])
    target = ctx.app.entity(reference.entity) if reference is not None and reference.type == "reference" else None
    if target is None:
        raise ActionError(f"{spec['on']!r} is not a reference field of {ctx.entity.key!r}")
    raw = record.data.get(spec["on"])
    ids = [i for i in (raw if isinstance(raw, (list, tuple)) else [raw]) if isinstance(i, int)]
    if not ids:
        _skip(ctx, f"set_field on {spec['on']}: the reference is empty")
    for target_id in ids:
        try:
            other = get_record(ctx.conn, ctx.app, target, target_id)
        except NotFoundError:
            _skip(ctx, f"set_field on {spec['on']}: {target.key} #{target_id} is gone")
            continue
        value = _set_value(ctx, spec, target, other)
        update_record(ctx.conn, ctx.app, target, other.id, {spec["field"]: value}, actor_id=None,
                      expected_version=None, now=ctx.now, via=rule_via(ctx))


#: The prefix of audit.via for changes written by an automation rule.
RULE_VIA = "rule: "


def rule_via(ctx: RuleContext) -> str:
    """What the audit records as the writer of a rule's change: the system actor (no user)
    acting for this rule, shown in a record's history as "Automation: <rule>"."""
    label = ctx.rule.label.get("en") if ctx.rule.label else ""
    return f"{RULE_VIA}{label or ctx.rule.key}"[:200]


def _skip(ctx: RuleContext, note: str) -> None:
    ctx.notes.append(note)
    log.info("rule %s for record %s: %s", ctx.rule.key, ctx.record.id if ctx.record else None, note)


def _set_value(ctx: RuleContext, spec: Mapping[str, Any], entity: EntityDef, record: Record) -> Any:
    """The value a set_field action gives `record`'s field: a formula is computed over
    `record` (the one being changed); templates render over the firing record."""
    today = ctx.now.astimezone(zone(ctx.app.timezone)).date()
    if spec.get("formula"):
        from ..formulas import parse

        return _json_value(parse(spec["formula"]).evaluate(record.data, today=today))
    value = thaw(spec.get("value"))
    if value in MOMENT_VALUES:
        moment = (ctx.event_at or ctx.now).astimezone(timezone.utc).replace(microsecond=0)
        f = entity.field(spec["field"])
        if value == "$now" and f is not None and f.type == "datetime":
            return moment.isoformat().replace("+00:00", "Z")
        return moment.astimezone(zone(ctx.app.timezone)).date().isoformat()
    return _templated(ctx, value)


#: Special values of set_field: the moment of the firing (for an event trigger, when the
#: change that triggered it was saved) as a datetime, or its day in the app's timezone.
MOMENT_VALUES = ("$now", "$today")


def _json_value(value: Any) -> Any:
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, (date, datetime)):
        return value.isoformat()
    return value


def _templated(ctx: RuleContext, value: Any, **extra: Any) -> Any:
    if isinstance(value, str) and "{{" in value:
        return render(value, template_context(ctx, "en", **extra))
    return value


_DUE_FIELD_KEYS = rule_checks.DUE_FIELD_KEYS


@action("create_record", label={"en": "Create a record", "zh": "创建记录"},
        help={"en": "Create a record (such as a task to call back) linked back to this one.",
              "zh": "创建一条关联回本记录的记录（例如回电任务）。"},
        settings=(ENTITY.but(required=True),
                  setting("values", {"type": "object", "propertyNames": KEY}, "Values", "值",
                          "Field values of the new record; may be {{ templates }}.", "新记录的字段值；可使用 {{ 模板 }}。",
                          required=True),
                  setting("due_in", DURATION, "Due in", "期限", "Fills its due date field this long from now.",
                          "以此时长后的日期填写其到期日字段。")),
        check=rule_checks.check_create_record)
def create_record_action(ctx: RuleContext, spec: Mapping[str, Any], index: int) -> None:
    """Create a record of `entity` (e.g. a task to call back): `values` may be templates; a
    reference back to the firing record is filled in; `due_in` fills its due date field
    (due / due_date / due_at / due_on) and is available to templates as {{ due }}."""
    target = ctx.app.entity(spec["entity"])
    if target is None:
        raise ActionError(f"there is no entity {spec['entity']!r}")
    extra: dict[str, Any] = {}
    due_field = next((f for f in target.fields if f.key in _DUE_FIELD_KEYS and f.type in ("date", "datetime")), None)
    if spec.get("due_in"):
        due_at = add_duration(ctx.now, spec["due_in"])
        extra = {"due": due_at.astimezone(zone(ctx.app.timezone)).date().isoformat(),
                 "due_at": due_at.astimezone(timezone.utc).isoformat().replace("+00:00", "Z")}
    values = {k: _typed(target, k, _templated(ctx, v, **extra)) for k, v in thaw(spec.get("values") or {}).items()}
    if due_field is not None and extra and due_field.key not in values:
        values[due_field.key] = extra["due"] if due_field.type == "date" else extra["due_at"]
    if ctx.record is not None:
        for f in target.fields:
            if f.type == "reference" and f.entity == ctx.record.entity_key and f.key not in values:
                values[f.key] = [ctx.record.id] if f.multiple else ctx.record.id
                break
    owner = ctx.record.owner_id if ctx.record else None
    created = create_record(ctx.conn, ctx.app, target, values, actor_id=None, owner_id=owner, now=ctx.now,
                            via=rule_via(ctx))
    ctx.notes.append(f"created {target.key} #{created.id}")


def _typed(entity: EntityDef, key: str, value: Any) -> Any:
    """A rendered template is text; give id-like fields their integer back."""
    f = entity.field(key)
    if f is not None and f.type in ("reference", "user", "number") and isinstance(value, str):
        text = value.strip()
        number = parse_int(text, low=-MAX_ID, high=MAX_ID, signed=True)
        if number is not None:
            return number
    return value


@action("assign", label={"en": "Assign an owner", "zh": "分配负责人"},
        help={"en": "Give the record an owner among the people with a role (or clear it).",
              "zh": "在某角色的成员中为记录分配负责人（或清空负责人）。"},
        settings=(setting("strategy", {"enum": ["round_robin", "least_loaded", "none"]}, "Strategy", "方式",
                          "round_robin takes turns, least_loaded picks who owns fewest; none clears the owner.",
                          "round_robin 轮流，least_loaded 选负责记录最少的人；none 清空负责人。", required=True),
                  setting("role", KEY, "Role", "角色", "Whose members may be chosen.", "从该角色的成员中选择。")),
        schema_extra={"allOf": [{"if": {"properties": {"strategy": {"enum": ["round_robin", "least_loaded"]}},
                                        "required": ["strategy"]}, "then": {"required": ["role"]}}]},
        check=rule_checks.check_assign)
def assign(ctx: RuleContext, spec: Mapping[str, Any], index: int) -> None:
    """Give the record an owner among the users of `role`: round_robin (a cursor kept in
    automation_state) or least_loaded (fewest live records of this entity owned); or,
    with strategy none, clear the owner (the record is then readable only through an
    "all" scope, or by its creator)."""
    record = _need_record(ctx, "assign")
    if spec.get("strategy") == "none":
        set_owner(ctx, record, None)
        return
    members = remembered(("members_of", ctx.app.key, spec["role"]),     # the key recipients.py uses
                         lambda: members_of(ctx.conn, ctx.app.key, spec["role"]))
    candidates = sorted(uid for uid, _ in members)
    if not candidates:
        raise ActionError(f"nobody has the role {spec['role']!r}")
    if spec.get("strategy") == "least_loaded":
        counts = dict(ctx.conn.execute(
            select(records.c.owner_id, func.count()).where(
                records.c.app_key == ctx.app.key, records.c.entity_key == record.entity_key,
                records.c.deleted_at.is_(None), records.c.owner_id.in_(candidates))
            .group_by(records.c.owner_id)).all())
        chosen = min(candidates, key=lambda uid: (counts.get(uid, 0), uid))
    else:
        chosen = _next_round_robin(ctx, f"rr:{ctx.app.key}:{record.entity_key}:{spec['role']}", candidates)
    set_owner(ctx, record, chosen)


def _next_round_robin(ctx: RuleContext, key: str, candidates: list[int]) -> int:
    """The next of `candidates` after the last one chosen. In a worker's batch the cursor's row
    is created and read (locked, on PostgreSQL) once, then followed in the batch: it stays
    locked (or the database is) until the batch commits, so only the batch moves it."""
    conn = ctx.conn
    batch = current_batch()
    memo_key = ("round_robin", key)
    if batch is not None and memo_key in batch.memo:
        last = batch.memo[memo_key]
    else:
        ctx.writing = True
        insert_ignore(conn, automation_state, {"key": key, "value": {"last": None}, "updated_at": ctx.now}, "key")
        query = select(automation_state.c.value).where(automation_state.c.key == key)
        if conn.dialect.name == "postgresql":
            query = query.with_for_update()
        last = (conn.execute(query).scalar() or {}).get("last")
    chosen = next((uid for uid in candidates if last is None or uid > last), candidates[0])
    if batch is not None and batch.reminders is not None:
        # a batch of events writes the cursor once, where it ended, when the batch is flushed
        moved = batch.deferred.get(memo_key)
        batch.deferred[memo_key] = (_MOVE_CURSOR, {"cursor_key": key, "value": {"last": chosen}, "updated_at": ctx.now})
        batch.undo.append(lambda: batch.deferred.__setitem__(memo_key, moved) if moved is not None
                          else batch.deferred.pop(memo_key, None))
    else:
        conn.execute(_MOVE_CURSOR, {"cursor_key": key, "value": {"last": chosen}, "updated_at": ctx.now})
    if batch is not None:
        had, batch.memo[memo_key] = memo_key in batch.memo, chosen
        # the UPDATE is taken back with a failing action's savepoint: so is what is remembered
        batch.undo.append(lambda: batch.memo.__setitem__(memo_key, last) if had else batch.memo.pop(memo_key, None))
    return chosen


_MOVE_CURSOR = (update(automation_state).where(automation_state.c.key == bindparam("cursor_key"))
                .values(value=bindparam("value"), updated_at=bindparam("updated_at")))


def set_owner(ctx: RuleContext, record: Record, owner_id: int | None) -> None:
    if record.owner_id == owner_id:
        return
    version = record.version + 1
    ctx.writing = True
    result = ctx.conn.execute(_SET_OWNER, {"record_id": record.id, "read_version": record.version,
                                           "owner_id": owner_id, "version": version, "updated_at": ctx.now})
    if result.rowcount != 1:
        raise ActionError("the record changed while it was being assigned")
    ctx.conn.execute(_INSERT_AUDIT, dict(record_id=record.id, app_key=ctx.app.key, entity_key=record.entity_key,
                                         action="update", changes={"$owner": [record.owner_id, owner_id]},
                                         user_id=None, at=ctx.now, record_version=version, via=rule_via(ctx)))
    # one level deeper than the firing's cause, as fire_rule's deepening would make it (SELF_DEEPENING_ACTIONS)
    emit_event(ctx.conn, ctx.app.key, record.entity_key, record.id, "record_updated",
               {"actor": None, "fields": ["$owner"], "stage": record.stage}, ctx.now, depth=ctx.depth + 1)
    # what was written (the UPDATE matched the version read: the row is this), not read back
    ctx.record = replace(record, owner_id=owner_id, version=version, updated_at=ctx.now, updated_by=None)
    ctx.exact = True


_INSERT_AUDIT = insert(audit)
#: Built once: building the statement and its cache key cost more than SQLite takes to run it.
_SET_OWNER = (update(records).where(records.c.id == bindparam("record_id"), records.c.version == bindparam("read_version"))
              .values(owner_id=bindparam("owner_id"), version=bindparam("version"), updated_at=bindparam("updated_at"),
                      updated_by=None))


@action("move_stage", label={"en": "Move to a stage", "zh": "移到阶段"},
        help={"en": "Move the record to a stage; its gate still applies.", "zh": "把记录移到某阶段；阶段门槛照常检查。"},
        settings=(STAGE.but(required=True),
                  setting("values", {"type": "object", "propertyNames": KEY}, "Values", "取值",
                          "Field values saved with the move, judged in the target stage; may be templates.",
                          "随移动一起保存的字段值，按目标阶段校验；可使用模板。")),
        check=rule_checks.check_move_stage)
def move_stage(ctx: RuleContext, spec: Mapping[str, Any], index: int) -> None:
    """Move through `workflow.move_to_stage`, gates and all; a refusal fails the action
    with every reason (written to the run log). `values` (templates allowed) are saved
    with the move, judged in the target stage (a field shown only there is kept)."""
    record = _need_record(ctx, "move_stage")
    from ..workflow.moves import move_to_stage   # the workflow layer is below us; imported when used

    values = {k: _typed(ctx.entity, k, _templated(ctx, v)) for k, v in thaw(spec.get("values") or {}).items()}
    moved = move_to_stage(ctx.conn, ctx.app, ctx.entity, record.id, spec["stage"], SYSTEM_ACTOR, now=ctx.now,
                          values=values or None)
    if moved.version != record.version:     # the move's audit rows name the rule, like every rule write
        ctx.conn.execute(update(audit).where(audit.c.record_id == moved.id, audit.c.record_version > record.version,
                                             audit.c.record_version <= moved.version).values(via=rule_via(ctx)))
    ctx.record = moved


@action("escalate", label={"en": "Escalate", "zh": "升级"},
        help={"en": "Notify the owner's manager in the app.", "zh": "站内通知负责人的上级。"},
        settings=(MESSAGE,))
def escalate(ctx: RuleContext, spec: Mapping[str, Any], index: int) -> None:
    """Notify the owner's manager (in-app)."""
    record = _need_record(ctx, "escalate")
    recipients = resolve_recipients(ctx, ["manager"])
    if not recipients:
        raise ActionError(f"the owner of record {record.id} has no manager to escalate to")
    for person in recipients:
        default = translate(person.language, "Escalation: %(title)s", title=record.title)
        subject, body = message_for(ctx, {"subject": spec.get("subject"), "message": spec.get("message")},
                                    person.language, default_body=default)
        notify_user(ctx.conn, person.id, subject, body, f"{ctx.key}:a{index}:u{person.id}", ctx.now,
                    app_key=ctx.app.key, record_id=record.id)


def action_types() -> Iterator[str]:
    return iter(ACTIONS)
