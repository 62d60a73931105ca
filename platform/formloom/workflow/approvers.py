"""Who approves: the approver kinds of a gate's `approval`, one registry entry each,
and the settings of an approval (its schema, its meaning check, which steps apply).

An approver is written like an automation recipient: `manager` (the record
owner's manager), `manager_manager` (that manager's manager), `role:lead`
(every member of a role), `field:reviewer` (the people a user field names) or
`user:gm@example.com` (one named person). Each entry carries its syntax,
label/help (en/zh), its meaning check and its resolution to user ids; the
schema's pattern is generated from the entries.

An approval, as written in a gate:
    {"steps": [{"key": "sales_manager", "label": {...}, "approvers": ["role:manager"],
                "rule": "any", "when": {">": [{"var": "amount"}, 500000]}, "editable": ["discount"],
                "timeout": "P2D", "on_timeout": "escalate"}],
     "allow_self_approval": false, "notify": ["role:finance"]}
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Iterator, Mapping

from sqlalchemy import Connection, select

from ..auth.users import members_of, user_id_by_email
from ..conditions import truthy
from ..definitions.model import Label
from ..definitions.problems import Problem, json_path
from ..definitions.wording import cap, unknown
from ..i18n import translate
from ..person_kinds import parse_written, people_in, role_check, user_field_check, written_pattern
from ..registry import Registry
from ..store.tables import users

_F = "field.schema.json#/$defs/"


@dataclass(frozen=True)
class ApproverKind:
    name: str
    resolve: Callable[[Connection, Any, Any, str | None], list]     # (conn, app, record, argument) -> ids
    argument: str | None = None                                     # ROLE | FIELD | EMAIL | None
    label: Mapping[str, str] = field(default_factory=dict)
    help: Mapping[str, str] = field(default_factory=dict)
    check: Callable[..., Iterator] | None = None                    # (subject, argument, path, what, env)

    @property
    def syntax(self) -> str:
        return self.name if self.argument is None else f"{self.name}:{self.argument}"


APPROVER_KINDS: Registry[ApproverKind] = Registry("approver kind")


def approver_kind(name: str, argument: str | None = None, **about: Any):
    def register(fn):
        APPROVER_KINDS.add(ApproverKind(name, fn, argument, **about))
        return fn
    return register


def approver_pattern() -> str:
    return written_pattern(APPROVER_KINDS)


def parse_approver(text: str) -> tuple[ApproverKind, str | None] | None:
    return parse_written(APPROVER_KINDS, text)


def _manager_of(conn: Connection, user_id: int | None) -> int | None:
    if user_id is None:
        return None
    return conn.execute(select(users.c.manager_id).where(users.c.id == user_id)).scalar()


@approver_kind("manager", label={"en": "Owner's manager", "zh": "负责人的上级"},
               help={"en": "The manager of the record's owner.", "zh": "记录负责人的上级。"})
def _manager(conn, app, record, argument) -> list:
    return [_manager_of(conn, record.owner_id)]


@approver_kind("manager_manager", label={"en": "Manager's manager", "zh": "上级的上级"},
               help={"en": "The manager of the owner's manager.", "zh": "记录负责人上级的上级。"})
def _manager_manager(conn, app, record, argument) -> list:
    return [_manager_of(conn, _manager_of(conn, record.owner_id))]


@approver_kind("role", "ROLE", label={"en": "Anyone with a role", "zh": "某角色的成员"},
               help={"en": "The members of a role of this app, such as role:manager.",
                     "zh": "本应用某角色的成员，例如 role:manager。"}, check=role_check("names {} as approver"))
def _role(conn, app, record, argument) -> list:
    return [uid for uid, _ in members_of(conn, app.key, argument)]


@approver_kind("field", "FIELD", label={"en": "People in a user field", "zh": "用户字段中的人"},
               help={"en": "The people a user field of the record names, such as field:reviewer.",
                     "zh": "记录某个用户字段所指的人，例如 field:reviewer。"}, check=user_field_check("names {} as approvers"))
def _field(conn, app, record, argument) -> list:
    return people_in(record, argument)


def _check_user(s: Any, email: str, path: tuple, what: str, env: Any) -> Iterator:
    if env.users is not None and email.lower() not in env.users:
        yield s.problem(*path, message=f"{cap(what)} names the user {email!r} as approver, who has no "
                                       "active account here; until they do, the app's admins decide this step.")


@approver_kind("user", "EMAIL", label={"en": "A named person", "zh": "指定人员"},
               help={"en": "One person by e-mail address, such as user:gm@example.com.",
                     "zh": "按邮箱指定的一个人，例如 user:gm@example.com。"}, check=_check_user)
def _user(conn, app, record, argument) -> list:
    return [user_id_by_email(conn, argument)]


def resolve_approvers(conn: Connection, app: Any, record: Any, approvers) -> list[int]:
    """The user ids the approver strings name for `record` (unknown, empty and repeated left out)."""
    ids: list[int] = []
    for text in approvers:
        parsed = parse_approver(text)
        if parsed is not None:
            ids += parsed[0].resolve(conn, app, record, parsed[1])
    return list(dict.fromkeys(i for i in ids if isinstance(i, int) and not isinstance(i, bool)))


# -- the settings --------------------------------------------------------------------------------------

def approval_schema() -> dict:
    step = {"type": "object", "required": ["key", "approvers"],
            "properties": {
                "key": {"$ref": _F + "key"}, "label": {"$ref": _F + "label"},
                "approvers": {"type": "array", "minItems": 1, "uniqueItems": True,
                              "items": {"type": "string", "pattern": approver_pattern(),
                                        "x-message": "must be one of: " + ", ".join(
                                            k.syntax for k in APPROVER_KINDS.values())}},
                "rule": {"enum": ["any", "all"]},
                "when": {"$ref": _F + "logic"},
                "editable": {"$ref": _F + "key_list"},
                "timeout": {"$ref": _F + "duration"},
                "business_days": {"type": "boolean"},
                "on_timeout": {"enum": ["escalate", "reject"]}},
            "additionalProperties": False}
    return {"type": "object", "required": ["steps"],
            "properties": {"steps": {"type": "array", "minItems": 1, "items": step},
                           "allow_self_approval": {"type": "boolean"},
                           "notify": {"type": "array", "items": {"$ref": "#/$defs/recipient"}}},
            "additionalProperties": False}


def applicable_steps(spec: Mapping[str, Any], variables: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    """The steps whose `when` holds for the record (all steps without one)."""
    steps = spec.get("steps") if isinstance(spec, Mapping) else None
    return [s for s in (steps if isinstance(steps, (list, tuple)) else ())
            if isinstance(s, Mapping) and (s.get("when") is None or truthy(s["when"], variables))]


def step_label(step: Mapping[str, Any], lang: str) -> str:
    return Label.of(step.get("label"), str(step.get("key", ""))).get(lang)


@dataclass(frozen=True)
class ApprovalEnv:
    roles: set[str] | None
    fields: dict[str, dict] | None
    users: set[str] | None = None       # known e-mail addresses, when the checker knows them


def approval_problems(s: Any, spec: Any, path: tuple, what: str) -> Iterator:
    """Approvers, editable fields, conditions and durations of an approval name what exists."""
    from ..definitions.document_parts import roles_of
    from ..definitions.expression_checks import logic_problems
    from ..definitions.subject import workflow_fields
    from ..definitions.time_values import duration_problem
    if not isinstance(spec, Mapping):
        return
    fields = workflow_fields(s)
    env = ApprovalEnv(roles_of(s.app) if s.app is not None else None, fields)
    steps = spec.get("steps") if isinstance(spec.get("steps"), list) else []
    seen: set[str] = set()
    for i, step in enumerate(steps):
        if not isinstance(step, Mapping):
            continue
        where = (*path, "steps", i)
        step_what = f"approval step {i + 1} of {what}"
        if step.get("key") in seen:
            yield s.problem(*where, "key", message=f"{cap(step_what)} repeats the step key {step.get('key')!r}.")
        seen.add(step.get("key"))
        for ai, text in enumerate(step.get("approvers") or ()):
            parsed = parse_approver(text) if isinstance(text, str) else None
            if parsed is not None and parsed[0].check is not None:
                yield from parsed[0].check(s, parsed[1], (*where, "approvers", ai), step_what, env)
        for fi, key in enumerate(step.get("editable") or ()):
            if fields is not None and key not in fields:
                yield s.problem(*where, "editable", fi,
                                message=f"{cap(step_what)} lets the approver edit "
                                        f"{unknown('the field', key, fields)}, which the entity does not have.")
        if fields is not None and step.get("when") is not None:
            yield from logic_problems(s, step["when"], fields, (*where, "when"), f"the 'when' of {step_what}")
        if isinstance(step.get("timeout"), str):
            problem = duration_problem(step["timeout"])
            if problem:
                yield s.problem(*where, "timeout", message=f"{cap(step_what)}: {problem}")
        if step.get("on_timeout") and not step.get("timeout"):
            yield s.problem(*where, "on_timeout", message=f"{cap(step_what)} says what happens on a timeout "
                                                          "but has no 'timeout'; add one, such as \"P2D\".")


# -- named people: known only where there is a database --------------------------------------------

@dataclass(frozen=True)
class _Located:
    """Just enough of a document subject for an approver kind's check to say where."""
    source: str

    def problem(self, *parts: str | int, message: str) -> Problem:
        return Problem(self.source, json_path(*parts), message)


def named_approver_problems(conn: Connection, workflows: Mapping[str, tuple[str, Mapping]]) -> list[Problem]:
    """Approvers naming a person (`user:EMAIL`) who has no active account in this database.

    `formloom validate` reads documents only, and accounts are data: the same documents
    are installed into many databases, often before the people are invited. So this is
    asked where a database is at hand (`formloom install`, the designer's publish) and
    reported as a warning, not a refusal: until the account exists, resolution finds
    nobody for that approver and the step falls to the app's admins (approvals.py).
    `workflows`: key -> (source, document), as install reads them."""
    emails = {e.lower() for e in conn.execute(select(users.c.email).where(users.c.active.is_(True))).scalars()}
    env = ApprovalEnv(None, None, emails)
    found: list[Problem] = []
    for _key, (source, doc) in sorted(workflows.items()):
        stages = doc.get("stages") if isinstance(doc, Mapping) else None
        for si, stage in enumerate(stages if isinstance(stages, list) else ()):
            approval = (stage.get("gate") or {}).get("approval") if isinstance(stage, Mapping) else None
            steps = approval.get("steps") if isinstance(approval, Mapping) else None
            for ti, step in enumerate(steps if isinstance(steps, list) else ()):
                for ai, text in enumerate(step.get("approvers") or () if isinstance(step, Mapping) else ()):
                    parsed = parse_approver(text) if isinstance(text, str) else None
                    if parsed is not None and parsed[0].name == "user":
                        where = ("stages", si, "gate", "approval", "steps", ti, "approvers", ai)
                        found += parsed[0].check(_Located(source), parsed[1], where,
                                                 f"approval step {ti + 1} of stage {stage.get('key')!r}", env)
    return found


def waiting_text(lang: str, index: int, total: int, label: str) -> str:
    return translate(lang, "awaiting approval (step %(n)s of %(total)s: %(step)s)", n=index + 1, total=total,
                     step=label)
