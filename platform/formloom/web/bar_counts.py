"""The top bar's two counts, the approvals waiting on the reader and the unread
notifications (the bell), read in one statement.

Every page with a top bar asks both, and a statement costs some 0.05-0.1 ms through
SQLAlchemy whatever it reads: one UNION ALL of the two reads the same rows as
`approvals_waiting` and `unread_notifications` (web/approvals.py, web/notifications.py)
did one after the other, and the counting stays theirs: a pending request counts when its
step waits on the reader (or, for a superuser, on nobody), the bell stops at BELL_CAP.

A page that will show the top bar reads them earlier still, in the statement that loads the
session's user and the installed apps (`read_session`, called by web.auth's user loader, in the
page's one read transaction): the reader's apps are then their memberships (a subquery), a
superuser's all of them, as `bar_counts` picks them from the loaded actor. The rows wait on
the request's `g` until the top bar counts them.
"""
from __future__ import annotations

from sqlalchemy import Connection, Integer, bindparam, cast, exists, literal_column, null, or_, select, union_all

from ..auth.users import Actor, actor_and_apps_of, actor_and_apps_parts
from ..store.tables import approval_requests, memberships, notifications, users
from ..workflow.approvals import PENDING
from .notifications import BELL_CAP

_APPROVAL, _UNREAD = 1, 2


def _statement(scope: str):
    """scope: "all" apps (a superuser), "one" app, or "apps" (an expanding list of app keys)."""
    where = [approval_requests.c.status == PENDING]
    if scope == "one":
        where.append(approval_requests.c.app_key == bindparam("app_key"))
    elif scope == "apps":
        where.append(approval_requests.c.app_key.in_(bindparam("app_keys", expanding=True)))
    pending = select(literal_column(str(_APPROVAL)).label("kind"), approval_requests.c.waiting_on).where(*where)
    unread = (select(notifications.c.id).where(notifications.c.user_id == bindparam("user_id"),
                                               notifications.c.read_at.is_(None))
              .limit(bindparam("cap")).subquery())
    return union_all(pending, select(literal_column(str(_UNREAD)), null()).select_from(unread))


#: Built once: every page asks (building a statement costs more than running it).
_STATEMENTS = {scope: _statement(scope) for scope in ("all", "one", "apps")}


def _session_statement():
    """The session's user, its roles and the installed apps (auth.users), then the pending
    requests of the user's apps and its unread notifications: `bar_counts`' rows."""
    waiting = approval_requests.c.waiting_on
    extra = (cast(null(), Integer()).label("bar_kind"), cast(null(), waiting.type).label("waiting_on"))
    parts = actor_and_apps_parts(*extra)
    nulls = [cast(null(), c.type).label(c.key) for c in parts[0].selected_columns][:-len(extra)]
    user = bindparam("user_id")
    theirs = or_(approval_requests.c.app_key.in_(select(memberships.c.app_key).where(memberships.c.user_id == user)),
                 exists().where(users.c.id == user, users.c.is_superuser.is_(True)))
    pending = select(*nulls, literal_column(str(_APPROVAL)).label("bar_kind"), waiting.label("waiting_on")) \
        .where(approval_requests.c.status == PENDING, theirs)
    unread = (select(notifications.c.id).where(notifications.c.user_id == user, notifications.c.read_at.is_(None))
              .limit(bindparam("cap")).subquery())
    return union_all(*parts, pending, select(*nulls, literal_column(str(_UNREAD)), null()).select_from(unread)) \
        .order_by("app_key")


_SESSION = _session_statement()
_KEPT = "_formloom_bar_rows"        # on the request's g: (user id, the counts' rows)


def read_session(conn: Connection, user_id: int, store=None) -> tuple[Actor | None, list[tuple[str, int]]]:
    """`auth.users.load_actor_and_apps` and the top bar's rows in one statement; the rows are
    kept on `store` (the request's g) for `bar_counts`."""
    rows = conn.execute(_SESSION, {"user_id": user_id, "cap": BELL_CAP}).all()
    if store is not None:
        setattr(store, _KEPT, (user_id, [(r.bar_kind, r.waiting_on) for r in rows if r.bar_kind is not None]))
    return actor_and_apps_of(rows)


def _count(actor, rows) -> tuple[int, int]:
    approvals = unread = 0
    for kind, waiting in rows:
        if kind == _UNREAD:
            unread += 1
        elif actor.id in (waiting or ()) or (not waiting and actor.is_superuser):
            approvals += 1
    return approvals, unread


def bar_counts(conn: Connection, actor, store=None) -> tuple[int, int]:
    """(approvals waiting on `actor`, unread notifications up to BELL_CAP). Only the apps the
    actor belongs to are read (a superuser: all), as `approvals_waiting` reads them. The rows
    `read_session` kept on `store` (the request's g) for this actor are counted instead of
    read again, once."""
    kept = getattr(store, _KEPT, None) if store is not None else None
    if kept is not None and kept[0] == actor.id:
        setattr(store, _KEPT, None)
        return _count(actor, kept[1])
    params = {"user_id": actor.id, "cap": BELL_CAP}
    if actor.is_superuser:
        statement = _STATEMENTS["all"]
    else:
        keys = list(actor.roles)
        if len(keys) == 1:
            statement, params["app_key"] = _STATEMENTS["one"], keys[0]
        else:
            statement, params["app_keys"] = _STATEMENTS["apps"], keys
    return _count(actor, conn.execute(statement, params).all())
