"""Attachment rows: which upload belongs to which field and record, and who may reuse it.

An upload is stored before its record is saved (the form or the API sends the file
first), so a row starts without a record and only its uploader may put it on a record;
saving the record claims it. A file already on a record stays acceptable on that
record. Deleting the record marks its files deleted (kept until the record is purged);
files no record holds are orphans, listed and removed by `formloom files orphans`.

A comment's free attachments are stored with the record already known (field key
"$comment") and belong to the comment (`comment_id`): they are held while the comment
exists, and hidden when it is deleted. An image's thumbnail is more bytes in the
storage (`thumb_id`), held and removed with its file.
"""
from __future__ import annotations

from datetime import datetime, timezone
from typing import Any, Callable, Collection, Iterable, Mapping

from sqlalchemy import Connection, and_, delete, insert, or_, select, update

from ..definitions.model import AppDef, EntityDef
from ..fields import has_flag
from .tables import comments, files, records

#: the `kept` marker clean_context gets for a file already on the record (see stored_references)
KEPT = "$file"


def file_ids(entity: EntityDef, data: Mapping[str, Any]) -> set[str]:
    """The ids of every file the record's values hold."""
    out = set()
    for f in entity.fields:
        if has_flag(f.type, "holds_files"):
            for item in data.get(f.key) or ():
                if isinstance(item, dict) and isinstance(item.get("id"), str):
                    out.add(item["id"])
    return out


def add_upload(conn: Connection, *, file_id: str, app_key: str, entity_key: str, field_key: str, name: str,
               size: int, content_type: str, user_id: int | None, now: datetime | None = None,
               thumb_id: str | None = None, record_id: int | None = None) -> dict:
    conn.execute(insert(files).values(id=file_id, app_key=app_key, entity_key=entity_key, field_key=field_key,
                                      name=name, size=size, content_type=content_type, created_by=user_id,
                                      created_at=now or datetime.now(timezone.utc), thumb_id=thumb_id,
                                      record_id=record_id))
    return {"id": file_id, "name": name, "size": size, "type": content_type}


def value_of(row) -> dict:
    return {"id": row.id, "name": row.name, "size": row.size, "type": row.content_type}


def file_lookup(conn: Connection, app: AppDef, reader: Any, kept: Collection[tuple[str, Any]]
                ) -> Callable[[str, str], dict | None]:
    """A function (file id, field key) -> the stored value of that file, or None when the
    writer may not put it in that field: it is another field's, another app's, deleted,
    or an upload of someone else not yet on this record (ids cannot be borrowed)."""
    def lookup(file_id: str, field_key: str) -> dict | None:
        row = conn.execute(select(files).where(files.c.id == file_id, files.c.app_key == app.key,
                                               files.c.field_key == field_key, files.c.deleted_at.is_(None))).first()
        if row is None:
            return None
        if reader is None or (KEPT, file_id) in kept:
            return value_of(row)
        if row.record_id is None and row.created_by == getattr(reader, "id", None):
            return value_of(row)
        return None
    return lookup


def attach(conn: Connection, entity: EntityDef, record_id: int, data: Mapping[str, Any]) -> None:
    """Claim the uploads a saved record now holds."""
    ids = file_ids(entity, data)
    if ids:
        conn.execute(update(files).where(files.c.id.in_(sorted(ids)), files.c.entity_key == entity.key,
                                         files.c.record_id.is_(None))
                     .values(record_id=record_id))


def mark_deleted(conn: Connection, record_id: int, when: datetime | None) -> None:
    """A record deleted (`when`) or restored (None): its files follow it, except the
    attachments of a deleted comment, which stay hidden."""
    deleted_comments = select(comments.c.id).where(comments.c.record_id == record_id,
                                                   comments.c.deleted_at.is_not(None))
    conn.execute(update(files).where(files.c.record_id == record_id,
                                     or_(files.c.comment_id.is_(None), files.c.comment_id.not_in(deleted_comments)))
                 .values(deleted_at=when))


def attach_to_comment(conn: Connection, record_id: int, comment_id: int, ids: Collection[str]) -> None:
    """The uploads taken for a comment now belong to it."""
    if ids:
        conn.execute(update(files).where(files.c.id.in_(sorted(ids)), files.c.record_id == record_id,
                                         files.c.comment_id.is_(None))
                     .values(comment_id=comment_id))


def hide_comment_files(conn: Connection, comment_id: int, when: datetime) -> list[str]:
    """A comment was deleted: its attachments are served to nobody. Their names, for the trace."""
    names = [r.name for r in conn.execute(select(files.c.name).where(files.c.comment_id == comment_id)
                                          .order_by(files.c.created_at, files.c.id))]
    conn.execute(update(files).where(files.c.comment_id == comment_id).values(deleted_at=when))
    return names


def comment_files(conn: Connection, comment_ids: Collection[int]) -> dict[int, list[dict]]:
    """The visible attachments of each comment, as stored values (plus "thumb": whether
    a thumbnail exists), in the order they were attached."""
    out: dict[int, list[dict]] = {}
    if not comment_ids:
        return out
    rows = conn.execute(select(files).where(files.c.comment_id.in_(sorted(set(comment_ids))),
                                            files.c.deleted_at.is_(None))
                        .order_by(files.c.created_at, files.c.id))
    for r in rows:
        out.setdefault(r.comment_id, []).append({**value_of(r), "thumb": r.thumb_id is not None})
    return out


def storage_ids(conn: Connection, ids: Collection[str]) -> list[str]:
    """Every stored object of these files: the files and their thumbnails."""
    if not ids:
        return []
    rows = conn.execute(select(files.c.id, files.c.thumb_id).where(files.c.id.in_(sorted(ids)))).all()
    return sorted({r.id for r in rows} | {r.thumb_id for r in rows if r.thumb_id} | set(ids))


def get_file(conn: Connection, app_key: str, file_id: str):
    return conn.execute(select(files).where(files.c.id == file_id, files.c.app_key == app_key)).first()


def orphans(conn: Connection, apps: Mapping[str, AppDef], stored_ids: Iterable[str],
            older_than: datetime) -> list[str]:
    """Ids of files no record holds: uploads never saved on a record (older than
    `older_than`, so an upload in progress is not taken), files a record no longer
    holds or whose record is gone, and stored bytes without a row."""
    held: set[str] = set()
    for row in conn.execute(select(records.c.app_key, records.c.entity_key, records.c.data)):
        entity = apps[row.app_key].entity(row.entity_key) if row.app_key in apps else None
        if entity is not None:
            held |= file_ids(entity, row.data or {})
    held |= set(conn.execute(select(files.c.id).select_from(files.join(comments, and_(
        comments.c.id == files.c.comment_id, comments.c.record_id == files.c.record_id)))).scalars())
    rows = conn.execute(select(files.c.id, files.c.record_id, files.c.created_at, files.c.thumb_id)).all()
    known = {r.id for r in rows} | {r.thumb_id for r in rows if r.thumb_id}
    gone = [r for r in rows if r.id not in held and (r.record_id is not None or _aware(r.created_at) < older_than)]
    out = {r.id for r in gone} | {r.thumb_id for r in gone if r.thumb_id}
    out |= {i for i in stored_ids if i not in known}
    return sorted(out)


def forget(conn: Connection, ids: Collection[str]) -> None:
    if ids:
        conn.execute(delete(files).where(files.c.id.in_(sorted(ids))))


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo is not None else value.replace(tzinfo=timezone.utc)
