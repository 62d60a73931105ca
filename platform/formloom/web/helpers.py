"""Small things every blueprint needs: who is asking, in which language, which
app and entity the URL names, and how to answer htmx with a fragment."""
from __future__ import annotations

import sys
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Iterator, Mapping
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from flask import Flask, current_app, g, has_request_context, render_template, request, url_for
try:        # the context variables Flask's own proxies read (Flask 2.3 and later)
    from flask.globals import _cv_app, _cv_request
except ImportError:     # pragma: no cover - a Flask that renamed them: the public proxies, slower
    _cv_app = _cv_request = None
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import Connection

from ..auth import policy
from ..auth.users import Actor
from ..definitions.model import LANGUAGES, AppDef, EntityDef, Label
from ..errors import ForbiddenError, NotFoundError
from ..fields import field_type
from ..store.apps import AppCatalog
from ..store.db import Database


def request_g() -> Any:
    """The request's `g`, or None outside a request: what `has_request_context()` and the `g`
    proxy answer, read from Flask's context variables directly. A record page asks a few
    hundred times (the language, the actor, cached links), and each proxy access costs
    more than what those callers do with the answer."""
    if _cv_request is None:                 # pragma: no cover - see the import
        return g._get_current_object() if has_request_context() else None
    if _cv_request.get(None) is None:
        return None
    return _cv_app.get().g


def current_actor() -> Actor | None:
    """The Actor of this request (loaded fresh by Flask-Login's user loader), or None.
    None too once the request met a database outage: its error page must not load the user.
    A page asks dozens of times: once Flask-Login has loaded the user, it is read from `g`
    directly rather than through the `current_user` proxy."""
    store = request_g()
    if store is None:
        return None
    if getattr(store, "_formloom_db_down", False):
        return None
    user = getattr(store, "_login_user", None)
    if user is None:
        user = current_user._get_current_object()
    if user is not None and user.is_authenticated:
        return user.actor
    return None


@contextmanager
def page_read() -> Iterator[Connection]:
    """One read transaction for the pieces a page's templates ask for on their own (the menu's
    dashboards, the approvals count, the bell, saved views): opened by the first of them and
    closed when the request ends, instead of one transaction each. A failure inside closes it
    (the next piece opens a fresh one)."""
    if not has_request_context():
        with db().read() as conn:
            yield conn
        return
    held = g.get("_formloom_page_read")
    if held is None:
        manager = db().read()
        held = g._formloom_page_read = (manager, manager.__enter__())
    try:
        yield held[1]
    except BaseException:
        g.pop("_formloom_page_read", None)
        held[0].__exit__(*sys.exc_info())
        raise


def _close_page_read(_exc: BaseException | None = None) -> None:
    held = g.pop("_formloom_page_read", None)
    if held is not None:
        held[0].__exit__(None, None, None)


def db() -> Database:
    return current_app.extensions["formloom.db"]


class RequestCatalog:
    """The app catalog as one request sees it: each app's current version is looked up
    once per request (the top bar, the menu and the view all ask), not once per call."""

    def __init__(self, catalog: AppCatalog):
        self._catalog = catalog
        self._got: dict[str, tuple[AppDef, int]] = {}
        self._installed: list[AppDef] | None = None

    def get(self, app_key: str, conn=None) -> tuple[AppDef, int]:
        if self._installed is None:
            self.installed(conn)          # one query answers this and the top bar's menu
        found = self._got.get(app_key)
        if found is None:
            found = self._got[app_key] = self._catalog.get(app_key, conn)
        return found

    def app(self, app_key: str, conn=None) -> AppDef:
        return self.get(app_key, conn)[0]

    def installed(self, conn=None, rows: list[tuple[str, int]] | None = None) -> list[AppDef]:
        """The installed apps, in key order; `rows`: their (key, current version id), read
        by the caller in `conn`'s transaction (see `AppCatalog.installed_versions`)."""
        if self._installed is None:
            pairs = self._catalog.installed_versions(conn, rows)
            for app, version_id in pairs:
                self._got.setdefault(app.key, (app, version_id))
            self._installed = [app for app, _version in pairs]
        return list(self._installed)

    def __getattr__(self, name: str):
        return getattr(self._catalog, name)


def catalog() -> AppCatalog:
    shared = current_app.extensions["formloom.catalog"]
    if not has_request_context():
        return shared
    scoped = g.get("_formloom_catalog")
    if scoped is None or scoped._catalog is not shared:
        scoped = g._formloom_catalog = RequestCatalog(shared)
    return scoped


def _lang_of_locale() -> str:
    locale = get_locale()
    code = locale.language if locale is not None else "en"
    return code if code in LANGUAGES else "en"


def lang() -> str:
    """The request's language code; worked out once per request (templates ask per cell).
    Kept with the locale it came from: flask_babel's `force_locale` or `refresh` change
    the locale within a request, and the code follows. Read without Flask's proxies
    (`request_g`): a record page asks about a hundred times."""
    store = request_g()
    if store is None:
        return _lang_of_locale()
    held = store.__dict__
    locale = getattr(held.get("_flask_babel"), "babel_locale", None)
    cached = held.get("_formloom_lang")
    if cached is not None and locale is not None and cached[0] is locale:
        return cached[1]
    code = _lang_of_locale()
    store._formloom_lang = (getattr(getattr(store, "_flask_babel", None), "babel_locale", None), code)
    return code


def label(value: Label | str | None, code: str | None = None) -> str:
    """A label in the reader's language; `code`: that language, when the caller has it
    already (a record page asks for dozens of labels)."""
    if value is None:
        return ""
    if isinstance(value, Label):
        return value.get(code or lang())
    return str(value)


def role_name(role: str, app: Any) -> str:
    """What people read for a role of a live app (an AppDef) or of a draft (its app document):
    the label in the reader's language, else the key."""
    if isinstance(app, Mapping):
        raw = (app.get("role_labels") or {}).get(role)
        if isinstance(raw, Mapping):
            return raw.get(lang()) or raw.get("en") or next(iter(raw.values()), "") or role
        return raw or role
    return label(app.role_label(role)) if app is not None else role


def is_fragment_request() -> bool:
    """An htmx request that wants a piece of a page (not a boosted navigation or a history restore)."""
    hx = getattr(request, "htmx", None)
    return bool(hx) and not hx.boosted and not hx.history_restore_request


def render_page_or_fragment(page: str, fragment: str, /, status: int = 200, **context: Any):
    template = fragment if is_fragment_request() else page
    return render_template(template, **context), status


def safe_next(target: str | None, default: str) -> str:
    """Only same-site paths: never an open redirect to another host."""
    if not target:
        return default
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return default
    return target


@dataclass(frozen=True)
class Place:
    """The app and entity a URL names, with the version of the app's definition."""

    app: AppDef
    version_id: int
    entity: EntityDef | None = None


def load_app(app_key: str, conn: Connection | None = None) -> Place:
    """The app if it exists and the actor belongs to it; 404 otherwise (never reveal other apps).
    `conn`: the page's read transaction, when it has opened one already."""
    actor = current_actor()
    app, version_id = catalog().get(app_key, conn)
    if not policy.is_member(actor, app):
        raise NotFoundError(_("There is no app %(key)s.", key=app_key))
    return Place(app, version_id)


def load_entity(app_key: str, entity_key: str, action: policy.Action = "read",
                conn: Connection | None = None) -> Place:
    place = load_app(app_key, conn)
    entity = place.app.entity(entity_key)
    if entity is None:
        raise NotFoundError(_("There is no %(key)s here.", key=entity_key),
                            hint=_("Pick one of the entities in the menu."))
    if policy.scope(current_actor(), "read", place.app, entity) == "none":
        raise NotFoundError(_("There is no %(key)s here.", key=entity_key))
    if action != "read" and not policy.can(current_actor(), action, place.app, entity):
        raise ForbiddenError(_("You may not do this here."),
                             hint=_("Ask an administrator of this app for access."))
    return Place(place.app, place.version_id, entity)


def nav_apps() -> list[dict]:
    """Installed apps the actor belongs to, each with the entities the actor may read."""
    actor = current_actor()
    if actor is None:
        return []
    cached = g.get("_formloom_nav")
    if cached is not None and cached[0] is actor:
        return list(cached[1])
    out = []
    for app in catalog().installed():
        if not policy.is_member(actor, app):
            continue
        entities = [e for e in app.entities if policy.scope(actor, "read", app, e) != "none"]
        out.append({"app": app, "entities": entities})
    g._formloom_nav = (actor, out)
    return list(out)


def zone_for(app: AppDef | None = None) -> ZoneInfo:
    """The reader's timezone: their profile's, else the app's, else UTC (once per request)."""
    store = request_g()
    cache = store.setdefault("_formloom_zones", {}) if store is not None else {}
    key = app.key if app is not None else None
    if key in cache:
        return cache[key]
    actor = current_actor()
    found = ZoneInfo("UTC")
    app_zone = app.timezone if app else _members_zone()
    for name in ((actor.timezone if actor else None), app_zone, "UTC"):
        if name:
            try:
                found = ZoneInfo(name)
                break
            except (ZoneInfoNotFoundError, ValueError):
                continue
    cache[key] = found
    return found


def _members_zone() -> str | None:
    """Outside an app (home, notifications, profile): the timezone of the actor's apps when
    they all share one, so a person without a profile zone still reads the app's time."""
    zones = {entry["app"].timezone for entry in nav_apps() if entry["app"].timezone}
    return zones.pop() if len(zones) == 1 else None


def local_time(value: datetime | None, app: AppDef | None = None) -> str:
    """A moment as the reader reads it (web/datetimes.py: their language, their zone)."""
    from .datetimes import when
    if value is None:
        return ""
    return when(value, app)


def url_with(**changes: Any) -> str:
    """The current URL with some query arguments replaced (None removes one). Kept with
    cached_url_for's links, keyed by what the answer is made of (the request's endpoint, path
    and query string, and the changes): a list page asks for the same sort headers and pager
    links on every request, and copying the arguments costs more than building the link."""
    try:
        key = ("url_with", request.script_root, request.scheme, request.endpoint, request.path,
               request.query_string, tuple(sorted((k, _url_key_part(v)) for k, v in changes.items())))
    except TypeError:
        return _url_with(changes)
    cache = current_app.extensions.setdefault("formloom.url_cache", {})
    found = cache.get(key)
    if found is None:
        found = _url_with(changes)
        if len(cache) >= URL_CACHE_SIZE:
            cache.clear()
        cache[key] = found
    return found


def _url_with(changes: Mapping[str, Any]) -> str:
    args = request.args.copy()
    for key, value in changes.items():
        args.pop(key, None)
        if value not in (None, ""):
            args[key] = value
    query = {k: v for k, v in args.to_dict(flat=False).items() if not k.startswith("_")}
    return cached_url_for(request.endpoint, **(request.view_args or {}), **query)


URL_CACHE_SIZE = 20_000


def _url_key_part(value: Any) -> Any:
    if isinstance(value, list):
        return ("list", tuple(_url_key_part(v) for v in value))
    hash(value)                                # TypeError: not memoizable
    return (type(value), value)


def cached_url_for(endpoint: str, **values: Any) -> str:
    """`url_for` memoized per process: a page builds the same links (static files, menus,
    headers) on every request, and werkzeug's URL building is a noticeable part of
    rendering. The key holds everything a build depends on here (no url_defaults,
    subdomains or host matching are used)."""
    if _cv_request is None:                 # pragma: no cover - see the import
        return url_for(endpoint, **values)
    ctx = _cv_request.get(None)              # Flask's proxies cost more than the rest of a cache hit
    if ctx is None:
        return url_for(endpoint, **values)
    req = ctx.request
    try:
        key = (req.script_root, req.scheme,        # relative URLs: the Host header plays no part
               req.blueprint if endpoint.startswith(".") else None, endpoint,
               tuple(sorted((k, _url_key_part(v)) for k, v in values.items())))
    except TypeError:
        return url_for(endpoint, **values)
    cache = _cv_app.get().app.extensions.setdefault("formloom.url_cache", {})
    found = cache.get(key)
    if found is None:
        found = url_for(endpoint, **values)
        if len(cache) >= URL_CACHE_SIZE:
            cache.clear()
        cache[key] = found
    return found


def public_url(path: str) -> str:
    """An absolute URL for `path` when FORMLOOM_BASE_URL says where the site lives, else
    `path` itself: the Host header is the client's to choose, so it is never put into a
    link the server hands out."""
    import os

    base = str(current_app.config.get("FORMLOOM_BASE_URL") or os.environ.get("FORMLOOM_BASE_URL") or "").rstrip("/")
    return f"{base}{path}" if base else path


def init_templates(app: Flask) -> None:
    from .datetimes import init_filters
    from .list_panels import hidden_inputs
    from .nav_menu import nav_menu
    from .rows_head import sort_link
    from .top_bar import top_bar
    app.teardown_request(_close_page_read)
    app.jinja_env.globals["nav_menu"] = nav_menu
    app.jinja_env.globals["top_bar"] = top_bar
    app.jinja_env.globals["hidden_inputs"] = hidden_inputs      # the `hidden_args` macro without an import
    app.jinja_env.globals["sort_link"] = sort_link              # a list table's sort links
    app.jinja_env.filters["label"] = label
    app.jinja_env.filters["role_name"] = role_name
    app.jinja_env.filters["field_type"] = lambda f: field_type(f.type)     # its widget_template, validates_live
    init_filters(app)
    app.jinja_env.globals.update(current_actor=current_actor, nav_apps=nav_apps, current_lang=lang,
                                 url_with=url_with, languages=LANGUAGES, url_for=cached_url_for)
