"""Dashboards in the JSON API: /api/v1/<app>/dashboards/<key> (every widget) and
/api/v1/<app>/dashboards/<key>/<widget> (one), the numbers the page shows, computed
as the token's user (their roles pick the dashboards, their data scope the rows).

The filters are the page's (`period`, `from`, `to`, `owner`); where the page shows
the defaults and says why, the API refuses with 422 `bad_filter`, so a script never
mistakes default numbers for the ones it asked for.
"""
from __future__ import annotations

import re

from flask import Blueprint, jsonify, request
from flask_babel import gettext as _

from ..dashboards.periods import PERIODS
from ..errors import FormloomError
from . import api
from .dashboards import _compute, dashboard_json, widget_json
from .params import BadParameter

bp = Blueprint("api_dashboards", __name__, url_prefix="/api/v1")
bp.before_request(api.authenticate)                # the records API's token or session, CSRF and error shapes
bp.register_error_handler(api.Unauthorized, api._unauthorized)

#: the query parameters, as the OpenAPI document publishes them (web/openapi.py)
PARAMETERS = {"period": None, "from": r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$", "to": r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$",
              "owner": r"^(all|me|team|[1-9][0-9]{0,8})$"}


class FilterRefused(FormloomError):
    """The period or owner asked for cannot be used (the page would show its defaults)."""

    status = 422
    code = "bad_filter"


def _check_query() -> None:
    """What the document allows, and nothing else: one value each, of the published shape."""
    for name, pattern in PARAMETERS.items():
        values = request.args.getlist(name)
        if len(values) > 1:
            raise BadParameter(_("Give %(name)s once.", name=name))
        if values and not (values[0] in PERIODS if pattern is None else re.match(pattern, values[0])):
            raise BadParameter(_("%(name)s is not one of the values this address takes.", name=name),
                               hint=_("Correct the address or the form and try again."))


def _answer(app_key: str, key: str, only: str | None = None):
    _check_query()
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
