"""Every date and time a person reads, in one place: formatted for their language and
shown in their own timezone (the profile's, else the app's, else UTC).

Stored values stay ISO 8601 in UTC; this module is the only one that turns them into
text for a screen, so details, lists, cards, notifications, tokens, the audit and the
admin pages agree. The zone is written out (as "UTC+8") wherever the reader could not
otherwise know it: whenever the time is not in a timezone the reader chose in their
profile. Lists and cards leave it to the `title` (hover) to stay compact.

Templates use the filters: `{{ moment|when }}` (a datetime), `{{ moment|when_html }}`
(the same in a <time> element with the exact instant), `{{ day|day }}` (a date).
"""
from __future__ import annotations

from datetime import date, datetime, timezone
from typing import Any
from zoneinfo import ZoneInfo

from markupsafe import Markup, escape

from ..fields.dates import parse_date, parse_datetime
from ..timefmt import format_day, format_local, format_moment, format_value, zone_label, zone_title  # noqa: F401  (re-exported)


def as_moment(value: Any) -> datetime | None:
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=timezone.utc)
    if isinstance(value, str):
        return parse_datetime(value)
    return None


# -- in a request: the reader's language and zone ---------------------------------------

def reader_zone(app=None) -> ZoneInfo:
    from .helpers import zone_for
    return zone_for(app)


def zone_is_chosen(zone: ZoneInfo | timezone) -> bool:
    """True when the reader set this very zone in their profile (then no label is needed)."""
    from .helpers import current_actor
    actor = current_actor()
    return bool(actor is not None and actor.timezone and getattr(zone, "key", None) == actor.timezone)


def when(value: Any, app=None, *, show_zone: bool | None = None) -> str:
    """A moment for the current reader; '' for nothing. `show_zone=None` writes the zone
    unless the reader chose it in their profile."""
    from .helpers import lang
    moment = as_moment(value)
    if moment is None:
        return "" if value in (None, "") else str(value)
    zone = reader_zone(app)
    if show_zone is None:
        show_zone = not zone_is_chosen(zone)
    return format_moment(moment, lang(), zone, show_zone=show_zone)


def when_html(value: Any, app=None, *, show_zone: bool | None = None) -> Markup:
    """`when` inside <time datetime="…UTC…" title="zone">, for templates."""
    moment = as_moment(value)
    if moment is None:
        return Markup('<span class="muted">—</span>') if value in (None, "") else Markup(escape(str(value)))
    from .helpers import lang
    zone, name, chosen = _page_zone(app)
    iso = moment.astimezone(timezone.utc).replace(microsecond=0).isoformat().replace("+00:00", "Z")
    # `zone_title` and `when` in one conversion to the reader's zone (a timeline writes one per entry)
    local = moment.astimezone(zone)
    label = _offset_label(local)
    if show_zone is None:
        show_zone = not chosen
    return Markup(f'<time datetime="{escape(iso)}" title="{escape(name if name == label else f"{name}, {label}")}">'
                  f'{escape(format_local(local, lang(), label if show_zone else None))}</time>')


def _page_zone(app) -> tuple[ZoneInfo | timezone, str, bool]:
    """The reader's zone for `app`, its name and whether the reader chose it: the same for
    every moment of a request, so worked out once per request and app (a timeline asks per
    entry). Outside a request: worked out each time."""
    from .helpers import request_g
    store = request_g()
    kept = store.__dict__.setdefault("_formloom_page_zones", {}) if store is not None else {}
    key = app.key if app is not None else None
    found = kept.get(key)
    if found is None:
        zone = reader_zone(app)
        found = kept[key] = (zone, getattr(zone, "key", None) or "UTC", zone_is_chosen(zone))
    return found


_LABELS: dict = {}      # utcoffset -> zone_label: a handful of offsets ever


def _offset_label(local: datetime) -> str:
    """`zone_label(local)`, kept per offset."""
    offset = local.utcoffset()
    found = _LABELS.get(offset)
    if found is None:
        found = zone_label(local)
        if len(_LABELS) < 1000:
            _LABELS[offset] = found
    return found


def day(value: Any) -> str:
    from .helpers import lang
    parsed = value if isinstance(value, date) and not isinstance(value, datetime) else parse_date(value)
    return format_day(parsed, lang()) if parsed is not None else ("" if value in (None, "") else str(value))


def init_filters(app) -> None:
    app.jinja_env.filters.update(when=when, when_html=when_html, day=day)
