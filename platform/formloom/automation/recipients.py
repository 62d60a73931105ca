"""Recipients: who a notify or email action reaches, one registry entry per kind.

A recipient is written `owner` (a kind that takes nothing) or `role:lead` (a
kind and its argument). Each entry carries its syntax, label and help (en/zh),
its meaning check (the role or field named exists) and its resolution to user
ids. workflow.schema.json's `recipient` pattern is generated from the entries.
Approvers are written the same way: the syntax and the role and field checks are
person_kinds.py's, shared with workflow/approvers.py.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Iterator, Mapping

from sqlalchemy import Connection, select

from ..auth.users import members_of
from ..person_kinds import parse_written, people_in, role_check, user_field_check, written_pattern
from ..registry import Registry
from ..store.tables import users
from .batch import remembered


@dataclass(frozen=True)
class RecipientKind:
    name: str
    resolve: Callable[[Any, str | None], list]      # (rule context, argument) -> user ids (None skipped)
    argument: str | None = None                      # what the argument names ("ROLE"), None: takes none
    label: Mapping[str, str] = field(default_factory=dict)
    help: Mapping[str, str] = field(default_factory=dict)
    check: Callable[..., Iterator] | None = None     # (subject, argument, path, what, env) -> problems

    @property
    def syntax(self) -> str:
        return self.name if self.argument is None else f"{self.name}:{self.argument}"


RECIPIENTS: Registry[RecipientKind] = Registry("recipient kind")


def register_recipient(kind: RecipientKind) -> RecipientKind:
    return RECIPIENTS.add(kind)


def recipient(name: str, argument: str | None = None, **about: Any):
    """Register `fn(ctx, argument) -> [user ids]` as the recipient kind `name`."""
    def register(fn: Callable[[Any, str | None], list]) -> Callable:
        register_recipient(RecipientKind(name, fn, argument, **about))
        return fn
    return register


def unregister_recipient(name: str) -> None:
    RECIPIENTS.remove(name)


def parse(text: Any) -> tuple[RecipientKind, str | None] | None:
    """("role" kind, "lead") for "role:lead"; None when `text` is no recipient."""
    return parse_written(RECIPIENTS, text)


def pattern() -> str:
    """The JSON Schema pattern of a recipient, from the registered kinds."""
    return written_pattern(RECIPIENTS)


def syntax_hint() -> str:
    written = [k.syntax for k in RECIPIENTS.values()]
    listed = ", ".join(written[:-1]) + f" or {written[-1]}" if len(written) > 1 else "".join(written)
    return f"is not a recipient: use {listed}"


def resolve_ids(ctx: Any, targets: Any) -> list[int]:
    """Distinct user ids for the recipients written in `targets`, in order."""
    ids: list[Any] = []
    for target in (targets or ()):
        parsed = parse(target)
        if parsed is not None:
            kind, argument = parsed
            ids += kind.resolve(ctx, argument)
    return list(dict.fromkeys(i for i in ids if isinstance(i, int) and not isinstance(i, bool)))


def manager_of(conn: Connection, user_id: int | None) -> int | None:
    if user_id is None:
        return None
    return remembered(("manager_of", user_id), lambda: conn.execute(
        select(users.c.manager_id).where(users.c.id == user_id)).scalar())


# -- the built-in kinds ---------------------------------------------------------------------------

@recipient("owner", label={"en": "Owner", "zh": "负责人"},
           help={"en": "The record's owner.", "zh": "记录的负责人。"})
def owner(ctx: Any, argument: str | None) -> list:
    return [ctx.record.owner_id] if ctx.record is not None else []


@recipient("creator", label={"en": "Creator", "zh": "创建人"},
           help={"en": "Who created the record.", "zh": "创建记录的人。"})
def creator(ctx: Any, argument: str | None) -> list:
    return [ctx.record.created_by] if ctx.record is not None else []


@recipient("manager", label={"en": "Owner's manager", "zh": "负责人的上级"},
           help={"en": "The manager of the record's owner.", "zh": "记录负责人的上级。"})
def manager(ctx: Any, argument: str | None) -> list:
    return [manager_of(ctx.conn, ctx.record.owner_id)] if ctx.record is not None else []


@recipient("role", "ROLE", label={"en": "Everyone with a role", "zh": "某角色的所有人"},
           help={"en": "Every member of a role of this app, such as role:lead.", "zh": "本应用某角色的所有成员，例如 role:lead。"},
           check=role_check("notifies {}"))
def role(ctx: Any, argument: str | None) -> list:
    members = remembered(("members_of", ctx.app.key, argument), lambda: members_of(ctx.conn, ctx.app.key, argument))
    return [uid for uid, _ in members]


@recipient("field", "FIELD", label={"en": "People in a user field", "zh": "用户字段中的人"},
           help={"en": "The people a user field of the record names, such as field:watcher.",
                 "zh": "记录某个用户字段所指的人，例如 field:watcher。"},
           check=user_field_check("notifies {}"))
def user_field(ctx: Any, argument: str | None) -> list:
    return people_in(ctx.record, argument) if ctx.record is not None else []


@recipient("approvers", label={"en": "Waiting approvers", "zh": "待审批人"},
           help={"en": "The people the record's pending approval request waits on.",
                 "zh": "记录当前待处理审批申请所等待的人。"})
def approvers(ctx: Any, argument: str | None) -> list:
    from ..workflow.approvals import pending_request      # the workflow layer sits below; imported when used
    req = pending_request(ctx.conn, ctx.record.id) if ctx.record is not None else None
    return list(req.waiting_on) if req is not None else []
