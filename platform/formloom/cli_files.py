"""`formloom files orphans [--delete]`: attachments no record holds; `formloom files
thumbnails`: make the thumbnails of images stored before thumbnails existed.

A file stays while any record, even a deleted one, holds it (it goes when the record
is purged); an upload never saved on a record is an orphan after a day, as are bytes
in the storage without a row (a crash between storing and recording).
"""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import click

#: how long an upload may wait for its record before it counts as an orphan
UPLOAD_GRACE = timedelta(days=1)


@click.group()
def files() -> None:
    """Attachments of file and image fields."""


@files.command()
@click.option("--delete", "remove", is_flag=True, help="Remove them (bytes and rows); without it, only list.")
def orphans(remove: bool) -> None:
    """List (or remove) the files no record holds."""
    from .cli import _database
    from .config import settings_from_env
    from .files.storage import storage_from_config
    from .store import files as stored_files
    from .store.apps import AppCatalog

    db = _database()
    storage = storage_from_config(settings_from_env())
    apps = {app.key: app for app in AppCatalog(db).installed()}
    with db.write() as conn:
        found = stored_files.orphans(conn, apps, storage.ids(), datetime.now(timezone.utc) - UPLOAD_GRACE)
        for file_id in found:
            click.echo(file_id)
        if remove:
            stored_files.forget(conn, found)
    if remove:
        for file_id in found:
            storage.delete(file_id)
    click.echo(f"{len(found)} orphan file(s){' removed' if remove else ''}.", err=True)


@files.command()
def thumbnails() -> None:
    """Make the missing thumbnails of stored images (those uploaded before thumbnails were
    made at upload). Safe to rerun: an image with a thumbnail, or one that cannot be
    decoded, is left as it is."""
    from sqlalchemy import select, update

    from .cli import _database
    from .config import settings_from_env
    from .files.storage import storage_from_config
    from .files.thumbnails import ImageTooLarge, make_thumbnail
    from .store.tables import files as files_table

    db = _database()
    storage = storage_from_config(settings_from_env())
    with db.read() as conn:
        rows = conn.execute(select(files_table.c.id).where(
            files_table.c.content_type.like("image/%"), files_table.c.thumb_id.is_(None))).scalars().all()
    made = 0
    for file_id in rows:
        try:
            thumbnail = make_thumbnail(storage.open(file_id))
        except (KeyError, ImageTooLarge):
            thumbnail = None
        if thumbnail is None:
            continue
        thumb_id = storage.put(thumbnail.data)
        with db.write() as conn:
            conn.execute(update(files_table).where(files_table.c.id == file_id).values(thumb_id=thumb_id))
        made += 1
    click.echo(f"{made} thumbnail(s) made, {len(rows) - made} image(s) left without one.", err=True)
