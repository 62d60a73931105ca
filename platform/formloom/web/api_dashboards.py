"""Dashboards in the JSON API: /api/v1/<app>/dashboards/<key> (every widget) and
/api/v1/<app>/dashboards/<key>/<widget> (one), the numbers the page shows, computed
as the token's user (their roles pick the dashboards, their data scope the rows).

The filters are the page's (`period`, `from`, `to`, `owner`); where the page shows
the defaults and says why, the API refuses with 422 `bad_filter`, so a script never
mistakes default numbers for the ones it asked for.
"""
from __future__ import annotations

from flask import jsonify
from flask_babel import gettext as _

from ..errors import FormloomError
from .api import bp
from .dashboards import _compute, dashboard_json, widget_json


class FilterRefused(FormloomError):
    """The period or owner asked for cannot be used (the page would show its defaults)."""

    status = 422
    code = "bad_filter"


def _answer(app_key: str, key: str, only: str | None = None):
    _place, dashboard, filters, period, _choices, views = _compute(app_key, key, only)
    if filters.errors:
        raise FilterRefused(" ".join(filters.errors), hint=_("Correct the address or the form and try again."))
    return dashboard, filters, period, views


@bp.get("/<app_key>/dashboards/<key>")
def dashboard(app_key: str, key: str):
    return jsonify(dashboard_json(*_answer(app_key, key)))


@bp.get("/<app_key>/dashboards/<key>/<widget_key>")
def widget(app_key: str, key: str, widget_key: str):
    _dashboard, _filters, _period, views = _answer(app_key, key, widget_key)
    return jsonify(widget_json(views[0]))
