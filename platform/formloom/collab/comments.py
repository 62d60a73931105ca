"""Comments on a record, with @mentions.

A comment is plain text (shown escaped, never as Markdown or HTML). `@Name` or
`@email` of someone who may read the record mentions them: they get a bell
notification and an email with a link. Nobody else is ever named as mentionable
or told anything. The author may edit or delete a comment for `EDIT_WINDOW`;
both leave a trace in the audit table (the old text), a deleted comment stays in
the timeline as "deleted".

A comment may carry files (free attachments, taken by store/uploads.py with the same
checks as a file field, before the comment is written): they are served to exactly
the record's readers, show in the timeline under "attachment" too, and are hidden
when the comment is deleted (the trace keeps their names).
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Iterable, Sequence

from sqlalchemy import bindparam, exists, func, insert, select, update
from sqlalchemy.engine import Connection

from ..auth import policy
from ..auth.users import Actor, load_actor, members_of, reports_of
from ..automation.channels.inapp import notify_user
from ..automation.jobs import enqueue
from ..definitions.model import AppDef, EntityDef
from ..errors import FormloomError, ForbiddenError, NotFoundError
from ..i18n import translate
from ..store import files as stored_files
from ..store.records import Record
from ..store.tables import audit, comments, files, users
from .activity import Activity, TimelineQuery, register_source

MAX_LENGTH = 4000
EDIT_WINDOW = timedelta(minutes=15)
MAX_MENTIONABLE = 500
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ud800-\udfff]")


@dataclass(frozen=True)
class Comment:
    id: int
    record_id: int
    author_id: int | None
    body: str
    mentions: list[int]
    created_at: datetime
    edited_at: datetime | None
    deleted_at: datetime | None


class MentionRefused(FormloomError):
    """Someone named as mentioned may not read the record: they are never told about it."""

    status = 422
    code = "mention_refused"

    def __init__(self, message: str, user_ids: Sequence[int]):
        super().__init__(message)
        self.user_ids = list(user_ids)


class CommentInvalid(FormloomError):
    """The text cannot be a comment: empty, too long, or with characters no database stores."""

    status = 422
    code = "comment_invalid"


def _aware(value: datetime | None) -> datetime | None:
    return value.replace(tzinfo=timezone.utc) if value is not None and value.tzinfo is None else value


def _team_of(conn: Connection):
    return lambda user_id: reports_of(conn, user_id)


def clean_body(text: str | None, lang: str, *, may_be_empty: bool = False) -> str:
    """The text as stored; empty only when the comment carries files (`may_be_empty`)."""
    body = _CONTROL.sub("", (text or "").replace("\r\n", "\n")).strip()
    if not body and not may_be_empty:
        raise CommentInvalid(translate(lang, "Write something before sending the comment."))
    if len(body) > MAX_LENGTH:
        raise CommentInvalid(translate(lang, "A comment can be at most %(max)s characters (this one has %(n)s).",
                                       max=MAX_LENGTH, n=len(body)))
    return body


def mentionable(conn: Connection, app: AppDef, entity: EntityDef, record: Record,
                q: str = "", limit: int = 10) -> list[Actor]:
    """Members of the app who may read the record (through the policy), matching `q` by name or email."""
    q = (q or "").strip().casefold()
    out = []
    team_of = _team_of(conn)
    for user_id, _name in members_of(conn, app.key)[:MAX_MENTIONABLE]:
        person = load_actor(conn, user_id)
        if person is None or not policy.can_comment(person, app, entity, record, team_of=team_of):
            continue
        if q and q not in (person.name or "").casefold() and q not in person.email.casefold():
            continue
        out.append(person)
        if len(out) >= limit:
            break
    return out


def mentions_in(body: str, people: Iterable[Actor]) -> list[int]:
    """Who `@Name` or `@email` in the text names, longest names first so "@Ann Lee" is not "@Ann"."""
    found, text = [], body.casefold()
    for person in sorted(people, key=lambda p: -len(p.name or "")):
        for handle in filter(None, (person.name, person.email)):
            token = "@" + handle.casefold()
            at = text.find(token)
            if at >= 0:
                end = at + len(token)
                if end == len(text) or not (text[end].isalnum() or text[end] in "@._-"):
                    found.append(person.id)
                    text = text[:at] + " " * len(token) + text[end:]
                    break
    return found


def add_comment(conn: Connection, app: AppDef, entity: EntityDef, record: Record, actor: Actor, text: str,
                now: datetime, *, base_url: str = "", lang: str = "en", attached: Sequence[dict] = (),
                also_mention: Sequence[int] = ()) -> Comment:
    """Write the comment, give it the `attached` uploads (stored values taken for this
    record), and tell the people it mentions: those its text names, and `also_mention`
    (user ids an API caller lists), who must all be readers or nothing is written."""
    if not policy.can_comment(actor, app, entity, record, team_of=_team_of(conn)):
        raise NotFoundError(translate(lang, "There is no such record."))
    body = clean_body(text, lang, may_be_empty=bool(attached))
    readers = mentionable(conn, app, entity, record, limit=MAX_MENTIONABLE)
    mentioned = [i for i in mentions_in(body, readers) if i != actor.id]
    reader_ids = {p.id for p in readers}
    refused = sorted({i for i in also_mention if i not in reader_ids})
    if refused:
        raise MentionRefused(translate(lang, "These users cannot be mentioned here (they may not read this record, "
                                             "or do not exist): %(ids)s.", ids=", ".join(map(str, refused))), refused)
    mentioned += [i for i in dict.fromkeys(also_mention) if i != actor.id and i not in mentioned]
    comment_id = conn.execute(insert(comments).values(
        app_key=app.key, entity_key=entity.key, record_id=record.id, author_id=actor.id, body=body,
        mentions=mentioned, created_at=now).returning(comments.c.id)).scalar_one()
    stored_files.attach_to_comment(conn, record.id, comment_id, [v["id"] for v in attached])
    names = "".join(f"\n📎 {v['name']}" for v in attached)
    by_id = {p.id: p for p in readers}
    link = f"{base_url.rstrip('/')}/apps/{app.key}/{entity.key}/{record.id}#comment-{comment_id}"
    for user_id in mentioned:
        person = by_id[user_id]
        title = record.title or f"#{record.id}"
        subject = translate(person.language, "%(name)s mentioned you on %(title)s", name=actor.name or actor.email,
                            title=title)
        key = f"comment:{comment_id}:mention:u{user_id}"
        notify_user(conn, user_id, subject, (body[:1000] + names)[:1200], key, now, app_key=app.key,
                    record_id=record.id)
        if person.email:
            enqueue(conn, "email", key, {"to": person.email, "subject": subject,
                                         "body": f"{body}{names}\n\n{link}", "user_id": user_id},
                    now, now, app_key=app.key, record_id=record.id)
    return get_comment(conn, record.id, comment_id)


def get_comment(conn: Connection, record_id: int, comment_id: int) -> Comment:
    row = conn.execute(select(comments).where(comments.c.id == comment_id,
                                              comments.c.record_id == record_id)).first()
    if row is None:
        raise NotFoundError("There is no such comment.")  # translated by the callers
    return Comment(row.id, row.record_id, row.author_id, row.body, list(row.mentions or []),
                   _aware(row.created_at), _aware(row.edited_at), _aware(row.deleted_at))


def _changeable(conn: Connection, app: AppDef, entity: EntityDef, record: Record, actor: Actor,
                comment_id: int, now: datetime, lang: str) -> Comment:
    if not policy.can_comment(actor, app, entity, record, team_of=_team_of(conn)):
        raise NotFoundError(translate(lang, "There is no such record."))
    try:
        comment = get_comment(conn, record.id, comment_id)
    except NotFoundError:
        raise NotFoundError(translate(lang, "There is no such comment.")) from None
    if comment.deleted_at is not None:
        raise NotFoundError(translate(lang, "There is no such comment."))
    if not policy.can_change_comment(actor, comment.author_id, comment.created_at, now, EDIT_WINDOW):
        raise ForbiddenError(translate(lang, "Only its author can change a comment, within %(minutes)s minutes "
                                             "of writing it.", minutes=int(EDIT_WINDOW.total_seconds() // 60)))
    return comment


def _trace(conn, app, entity, record, actor, action, old, new, now) -> None:
    conn.execute(insert(audit).values(record_id=record.id, app_key=app.key, entity_key=entity.key, action=action,
                                      changes={"$comment": [old, new]}, user_id=actor.id, at=now,
                                      record_version=record.version))


def edit_comment(conn: Connection, app: AppDef, entity: EntityDef, record: Record, actor: Actor, comment_id: int,
                 text: str, now: datetime, *, lang: str = "en") -> Comment:
    comment = _changeable(conn, app, entity, record, actor, comment_id, now, lang)
    body = clean_body(text, lang)
    if body != comment.body:
        conn.execute(update(comments).where(comments.c.id == comment.id).values(body=body, edited_at=now))
        _trace(conn, app, entity, record, actor, "comment_edit", {"id": comment.id, "body": comment.body},
               {"id": comment.id, "body": body}, now)
    return get_comment(conn, record.id, comment.id)


def delete_comment(conn: Connection, app: AppDef, entity: EntityDef, record: Record, actor: Actor, comment_id: int,
                   now: datetime, *, lang: str = "en") -> None:
    """Hide the comment (its trace keeps the text): its author, within the edit window, on the
    web and the API alike."""
    comment = _changeable(conn, app, entity, record, actor, comment_id, now, lang)
    conn.execute(update(comments).where(comments.c.id == comment.id).values(deleted_at=now))
    names = stored_files.hide_comment_files(conn, comment.id, now)
    old = {"id": comment.id, "body": comment.body, **({"files": names} if names else {})}
    _trace(conn, app, entity, record, actor, "comment_delete", old, None, now)


def comment_count(conn: Connection, record_id: int) -> int:
    return conn.execute(select(func.count()).select_from(comments).where(
        comments.c.record_id == record_id, comments.c.deleted_at.is_(None))).scalar_one()


#: Built once (every record page asks): the record's newest comments, or only those carrying files.
_COMMENTS = (select(comments, users.c.name.label("user_name"), users.c.email.label("user_email"))
             .select_from(comments.outerjoin(users, users.c.id == comments.c.author_id))
             .where(comments.c.record_id == bindparam("record_id"))
             .order_by(comments.c.created_at.desc(), comments.c.id.desc()).limit(bindparam("want")))
_ATTACHING = _COMMENTS.where(exists().where(files.c.comment_id == comments.c.id, files.c.deleted_at.is_(None)))


def _comment_source(conn: Connection, q: TimelineQuery, want: int) -> Iterable[Activity]:
    """Comments, with the files they carry; only those carrying files when only
    attachments are asked for."""
    known = q.known.get("comments") if "comment" in q.kinds else None    # (want, rows) read with the history
    if known is not None and known[0] >= want:
        rows = known[1][:want]
    else:
        rows = conn.execute(_COMMENTS if "comment" in q.kinds else _ATTACHING,
                            {"record_id": q.record_id, "want": want}).all()
    attached = stored_files.comment_files(conn, [r.id for r in rows if r.deleted_at is None])
    for r in rows:
        deleted = r.deleted_at is not None
        carried = [] if deleted else [{"id": v["id"], "name": v["name"], "size": v["size"], "type": v["type"],
                                       "thumbnail": v["thumb"]} for v in attached.get(r.id, ())]
        yield Activity("comment", at=_aware(r.created_at), user_id=r.author_id, user_name=r.user_name or r.user_email,
                       sort_id=r.id, also=frozenset({"attachment"}) if carried else frozenset(),
                       detail={"id": r.id, "body": None if deleted else r.body, "deleted": deleted,
                               "edited_at": _aware(r.edited_at).isoformat() if r.edited_at else None,
                               "mentions": [] if deleted else list(r.mentions or []), "files": carried})


register_source("comments", ("comment", "attachment"), _comment_source)
