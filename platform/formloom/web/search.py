"""The top bar's search: /search?find= lists matches across every app and entity the
reader may read, grouped by entity (collab/search.py does the scoped query)."""
from __future__ import annotations

from flask import Blueprint, render_template, request
from flask_login import login_required

from ..collab.search import MAX_QUERY, global_search
from .helpers import catalog, current_actor, db

bp = Blueprint("search", __name__)


@bp.get("/search")
@login_required
def results():
    q = " ".join(request.args.get("find", "").split())[:MAX_QUERY]
    groups = []
    if q:
        with db().read() as conn:
            groups = global_search(conn, catalog().installed(), current_actor(), q)
    return render_template("search/results.html", q=q, groups=groups)
