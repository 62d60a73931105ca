"""Public forms: a chosen subset of an entity's fields that people without an
account may fill in, at an unguessable URL an app admin can turn off or rotate.

A submission is created through `store.records.create_record`, like any other
record (validation, uniqueness, audit with via "public form: <key>", the
record_created event, so rules such as scoring and round-robin routing run),
as nobody: no reader, no actor. Only the form's fields are taken from the post;
defaults fill the rest; the owner is the form's, or none so rules may assign one.

What a public form may offer: fields whose widget needs nothing from the
database. Reference and user fields are never offered: their picker searches
other records' titles and people's names, which an anonymous visitor must never
see, and accepting a typed id would let a visitor probe which records exist.
Subtables are left out too (their rows may hold references); computed fields
are not inputs anyway.
"""
from __future__ import annotations

import json
import re
import secrets
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Iterable, Mapping

from sqlalchemy import Connection, insert, select, update

from .definitions.model import AppDef, EntityDef, FieldDef
from .errors import FormloomError, NotFoundError
from .i18n import translate
from .store.records import Record, create_record, utcnow
from .store.tables import memberships, public_forms, users

#: Field types a public form never offers (see the module docstring).
PRIVATE_TYPES = frozenset({"reference", "user", "subtable"})
KEY = re.compile(r"^[a-z][a-z0-9_]{0,62}$")
TOKEN = re.compile(r"^[A-Za-z0-9_-]{20,64}$")
ORIGIN = re.compile(r"^https?://[A-Za-z0-9.-]+(:\d{1,5})?$")
VIA_PREFIX = "public form: "
TEXTS = ("title", "thank_you")


class PublicFormError(FormloomError):
    """A public form's settings cannot be saved; `problems` lists every reason."""

    status = 422
    code = "public_form_invalid"

    def __init__(self, problems: list[str]):
        super().__init__(problems[0] if problems else "")
        self.problems = problems


@dataclass(frozen=True)
class PublicForm:
    id: int
    app_key: str
    key: str
    entity_key: str
    token: str
    enabled: bool
    fields: tuple[str, ...]
    title: Mapping[str, str]
    thank_you: Mapping[str, str]
    defaults: Mapping[str, Any]
    owner_id: int | None
    frame_origins: tuple[str, ...]
    updated_at: datetime | None = None

    def text(self, which: str, lang: str) -> str:
        texts = getattr(self, which) or {}
        return texts.get(lang) or texts.get("en") or next(iter(texts.values()), "")

    @property
    def via(self) -> str:
        return f"{VIA_PREFIX}{self.key}"


def _from_row(row) -> PublicForm:
    s = dict(row.settings or {})
    return PublicForm(id=row.id, app_key=row.app_key, key=row.key, entity_key=row.entity_key, token=row.token,
                      enabled=row.enabled, fields=tuple(s.get("fields") or ()), title=s.get("title") or {},
                      thank_you=s.get("thank_you") or {}, defaults=s.get("defaults") or {},
                      owner_id=s.get("owner_id"), frame_origins=tuple(s.get("frame_origins") or ()),
                      updated_at=row.updated_at)


def offerable(f: FieldDef) -> bool:
    return not (f.is_computed or f.archived or f.type in PRIVATE_TYPES)


def offerable_fields(entity: EntityDef) -> list[FieldDef]:
    return [f for f in entity.fields if offerable(f)]


def new_token() -> str:
    """32 URL-safe characters, 192 random bits: not guessable, not enumerable."""
    return secrets.token_urlsafe(24)


# -- checking settings -------------------------------------------------------------------------------

def check_settings(app: AppDef, entity: EntityDef | None, key: str, fields: Iterable[str],
                   defaults: Mapping[str, Any], texts: Mapping[str, Mapping[str, str]],
                   frame_origins: Iterable[str], lang: str = "en") -> list[str]:
    """Every reason the settings cannot be published, as sentences."""
    problems = []
    if not KEY.match(key or ""):
        problems.append(translate(lang, "The form's key must start with a letter and use only a-z, 0-9 and _."))
    if entity is None:
        return problems + [translate(lang, "Choose the entity the form creates records of.")]
    fields = list(fields)
    if not fields:
        problems.append(translate(lang, "Choose at least one field for the form."))
    for name in list(fields) + list(defaults):
        f = entity.field(name)
        if f is None:
            problems.append(translate(lang, "There is no field %(field)s.", field=repr(name)))
        elif not offerable(f):
            problems.append(translate(lang, "%(field)s cannot be on a public form: it would show other records or people.",
                                      field=f.label.get(lang)))
    workflow = app.workflow_for(entity.key)
    first = workflow.first_stage if workflow else None
    stage_required = set(first.required) if first else set()
    usable = {k for k in list(fields) + list(defaults) if entity.field(k) is not None and offerable(entity.field(k))}
    covered = {k for k in usable if k in fields or defaults.get(k) not in (None, "", [])}
    for f in entity.fields:
        needed = (f.required and f.visible_if is None) or f.key in stage_required
        if needed and not f.is_computed and f.key not in covered:
            problems.append(translate(lang, "%(field)s is required: put it on the form or give it a default.",
                                      field=f.label.get(lang)))
    if not any((texts.get("title") or {}).values()):
        problems.append(translate(lang, "Give the form a title."))
    for origin in frame_origins:
        if not ORIGIN.match(origin):
            problems.append(translate(lang, "%(origin)s is not a site address such as https://www.example.com.",
                                      origin=repr(origin[:80])))
    return problems


# -- storage ----------------------------------------------------------------------------------------------

def list_forms(conn: Connection, app_key: str) -> list[PublicForm]:
    rows = conn.execute(select(public_forms).where(public_forms.c.app_key == app_key).order_by(public_forms.c.key))
    return [_from_row(r) for r in rows]


def get_form(conn: Connection, app_key: str, form_id: int) -> PublicForm:
    row = conn.execute(select(public_forms).where(public_forms.c.id == form_id,
                                                  public_forms.c.app_key == app_key)).first()
    if row is None:
        raise NotFoundError("There is no such public form.")
    return _from_row(row)


def form_by_token(conn: Connection, token: str) -> PublicForm | None:
    """The enabled form behind a URL token; None for an unknown, rotated or disabled one alike."""
    if not isinstance(token, str) or not TOKEN.match(token):
        return None
    row = conn.execute(select(public_forms).where(public_forms.c.token == token,
                                                  public_forms.c.enabled.is_(True))).first()
    return _from_row(row) if row is not None else None


def save_form(conn: Connection, app: AppDef, *, key: str, entity_key: str, fields: list[str],
              defaults: Mapping[str, Any], title: Mapping[str, str], thank_you: Mapping[str, str],
              owner_id: int | None, frame_origins: list[str], actor_id: int | None, enabled: bool = True,
              form_id: int | None = None, lang: str = "en", now: datetime | None = None) -> PublicForm:
    """Create (form_id None) or change a form, after `check_settings`; raises PublicFormError."""
    now = now or utcnow()
    entity = app.entity(entity_key)
    problems = check_settings(app, entity, key, fields, defaults, {"title": title, "thank_you": thank_you},
                              frame_origins, lang)
    if owner_id is not None and not _is_member(conn, app.key, owner_id):
        problems.append(translate(lang, "The new owner must be an active member of this app."))
    taken = None
    if KEY.match(key or ""):          # a key that is no key is already refused (and never reaches SQL)
        taken = conn.execute(select(public_forms.c.id).where(public_forms.c.app_key == app.key,
                                                             public_forms.c.key == key)).scalar()
    if taken is not None and taken != form_id:
        problems.append(translate(lang, "Another public form of this app already has the key %(key)s.", key=repr(key)))
    if problems:
        raise PublicFormError(problems)
    ordered = [f.key for f in entity.fields if f.key in set(fields)]
    settings = {"fields": ordered, "title": dict(title), "thank_you": dict(thank_you), "defaults": dict(defaults),
                "owner_id": owner_id, "frame_origins": list(frame_origins)}
    if form_id is None:
        form_id = conn.execute(insert(public_forms).values(
            app_key=app.key, key=key, entity_key=entity.key, token=new_token(), enabled=enabled, settings=settings,
            created_by=actor_id, created_at=now, updated_at=now)).inserted_primary_key[0]
    else:
        conn.execute(update(public_forms).where(public_forms.c.id == form_id, public_forms.c.app_key == app.key)
                     .values(key=key, entity_key=entity.key, settings=settings, enabled=enabled, updated_at=now))
    return get_form(conn, app.key, form_id)


def rotate_token(conn: Connection, app_key: str, form_id: int, now: datetime | None = None) -> PublicForm:
    """A new URL; the old one answers 404 from now on."""
    conn.execute(update(public_forms).where(public_forms.c.id == form_id, public_forms.c.app_key == app_key)
                 .values(token=new_token(), updated_at=now or utcnow()))
    return get_form(conn, app_key, form_id)


def set_enabled(conn: Connection, app_key: str, form_id: int, enabled: bool, now: datetime | None = None) -> PublicForm:
    conn.execute(update(public_forms).where(public_forms.c.id == form_id, public_forms.c.app_key == app_key)
                 .values(enabled=enabled, updated_at=now or utcnow()))
    return get_form(conn, app_key, form_id)


def _is_member(conn: Connection, app_key: str, user_id: int) -> bool:
    return conn.execute(select(users.c.id).join(memberships, memberships.c.user_id == users.c.id).where(
        users.c.id == user_id, users.c.active.is_(True), memberships.c.app_key == app_key)).first() is not None


# -- submitting ---------------------------------------------------------------------------------------------

def submit(conn: Connection, app: AppDef, form: PublicForm, posted: Mapping[str, Any], *, lang: str = "en",
           version_id: int | None = None, now: datetime | None = None) -> Record:
    """Create the record a visitor sent: only the form's fields from `posted`, defaults for
    the rest (and for a form field left empty); raises RecordInvalid like any create."""
    entity = app.entity(form.entity_key)
    if entity is None:
        raise NotFoundError(translate(lang, "There is no such record."))
    incoming = {k: posted.get(k) for k in form.fields if k in posted}
    for key, value in form.defaults.items():
        if incoming.get(key) in (None, "", []):
            incoming[key] = value
    owner = form.owner_id if form.owner_id is not None and _is_member(conn, app.key, form.owner_id) else None
    writable = set(form.fields) | set(form.defaults)
    return create_record(conn, app, entity, incoming, actor_id=None, owner_id=owner, lang=lang,
                         writable=writable, version_id=version_id, now=now, via=form.via)


# -- forms shipped with an app template ---------------------------------------------------------------------

def template_presets(app_key: str) -> list[dict]:
    """Public forms an app template ships (app_templates/<app>/public_forms/*.json), ready to publish."""
    from .resources import template_dir

    folder: Path = template_dir(app_key) / "public_forms"
    if not folder.is_dir():
        return []
    out = []
    for path in sorted(folder.glob("*.json")):
        try:
            doc = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        if isinstance(doc, dict) and KEY.match(str(doc.get("key", ""))):
            out.append(doc)
    return out
