"""The top bar's two counts, the approvals waiting on the reader and the unread
notifications (the bell), read in one statement.

Every page with a top bar asks both, and a statement costs some 0.05-0.1 ms through
SQLAlchemy whatever it reads: one UNION ALL of the two reads the same rows as
`approvals_waiting` and `unread_notifications` (web/approvals.py, web/notifications.py)
did one after the other, and the counting stays theirs: a pending request counts when its
step waits on the reader (or, for a superuser, on nobody), the bell stops at BELL_CAP.
"""
from __future__ import annotations

from sqlalchemy import Connection, bindparam, literal_column, null, select, union_all

from ..store.tables import approval_requests, notifications
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


def bar_counts(conn: Connection, actor) -> tuple[int, int]:
    """(approvals waiting on `actor`, unread notifications up to BELL_CAP). Only the apps the
    actor belongs to are read (a superuser: all), as `approvals_waiting` reads them."""
    params = {"user_id": actor.id, "cap": BELL_CAP}
    if actor.is_superuser:
        statement = _STATEMENTS["all"]
    else:
        keys = list(actor.roles)
        if len(keys) == 1:
            statement, params["app_key"] = _STATEMENTS["one"], keys[0]
        else:
            statement, params["app_keys"] = _STATEMENTS["apps"], keys
    approvals = unread = 0
    for kind, waiting in conn.execute(statement, params).all():
        if kind == _UNREAD:
            unread += 1
        elif actor.id in (waiting or ()) or (not waiting and actor.is_superuser):
            approvals += 1
    return approvals, unread
