"""The edits the dashboard builder makes to a draft's dashboards, as small pure functions.

Each takes the draft's documents and returns a changed deep copy; none checks
meaning (the whole draft, dashboards included, is validated after every edit,
as `formloom validate` would). Keys never change: renaming is relabelling.
"""
from __future__ import annotations

import copy

from ..errors import NotFoundError
from .edits import EditError, _move

WIDTHS = (1, 2, 3)


def _dashboards(documents: dict) -> dict:
    return documents.setdefault("dashboards", {})


def dashboard(documents: dict, key: str) -> dict:
    found = (documents.get("dashboards") or {}).get(key)
    if found is None:
        raise NotFoundError(f"There is no dashboard {key!r} in this app.")
    return found


def widget_index(board: dict, widget_key: str) -> int:
    for i, w in enumerate(board.get("widgets", [])):
        if w.get("key") == widget_key:
            return i
    raise NotFoundError(f"There is no widget {widget_key!r} on this dashboard.")


def add_dashboard(documents: dict, key: str, label: dict, roles: list[str]) -> dict:
    out = copy.deepcopy(documents)
    if key in _dashboards(out):
        raise EditError(f"The app already has a dashboard with the key {key!r}.")
    _dashboards(out)[key] = {"key": key, "label": label, "roles": list(roles), "period": "this_month", "widgets": []}
    return out


def set_settings(documents: dict, key: str, label: dict, roles: list[str], period: str,
                 owner: str | None = None) -> dict:
    """Who sees the dashboard, and the period and owner filter it opens on."""
    out = copy.deepcopy(documents)
    board = dashboard(out, key)
    board.update({"label": label, "roles": list(roles), "period": period})
    board.pop("owner", None)
    if owner:
        board["owner"] = owner
    return out


def remove_dashboard(documents: dict, key: str) -> dict:
    out = copy.deepcopy(documents)
    dashboard(out, key)
    del out["dashboards"][key]
    return out


def put_widget(documents: dict, key: str, widget: dict, replacing: str | None = None) -> dict:
    """Add `widget` at the end, or put it in the place of the widget `replacing`."""
    out = copy.deepcopy(documents)
    widgets = dashboard(out, key).setdefault("widgets", [])
    if replacing is None:
        if any(w.get("key") == widget.get("key") for w in widgets):
            raise EditError(f"This dashboard already has a widget with the key {widget.get('key')!r}.")
        widgets.append(copy.deepcopy(widget))
    else:
        widgets[widget_index(dashboard(out, key), replacing)] = copy.deepcopy({**widget, "key": replacing})
    return out


def move_widget(documents: dict, key: str, widget_key: str, delta: int) -> dict:
    out = copy.deepcopy(documents)
    board = dashboard(out, key)
    _move(board["widgets"], widget_index(board, widget_key), delta)
    return out


def resize_widget(documents: dict, key: str, widget_key: str, width: int) -> dict:
    if width not in WIDTHS:
        raise EditError(f"A widget is 1, 2 or 3 columns wide, not {width}.")
    out = copy.deepcopy(documents)
    board = dashboard(out, key)
    board["widgets"][widget_index(board, widget_key)]["width"] = width
    return out


def remove_widget(documents: dict, key: str, widget_key: str) -> dict:
    out = copy.deepcopy(documents)
    board = dashboard(out, key)
    del board["widgets"][widget_index(board, widget_key)]
    return out
