"""Cells as people write them, turned into the values a form would post.

A spreadsheet says "展会" for an option whose value is `expo`, "Acme Ltd" for a
reference, "1,234.50 元" for money, "是" for a ticked box and 2026/11/23 for a
date. Each converter takes one cell and returns the JSON value that the field
type's own `clean` then judges, so an import accepts nothing a form would refuse;
what cannot be read raises CellError with a sentence in the person's language.

References are looked up by title, then by a unique field of the target, only
among records the importer may read (the same scope as their lists); a name that
matches several records is an error that names them. Users are found by email or
name. Dates without a time zone are read in the app's time zone.
"""
from __future__ import annotations

import re
from datetime import date, datetime, time, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any, Callable
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import Connection, func, select

from ..auth.users import Actor
from ..definitions.model import AppDef, FieldDef
from ..i18n import translate
from ..store.query import scoped
from ..store.tables import records, unique_values, users

NEUTRALISED = ("=", "+", "-", "@", "\t", "\r")
LIST_SEPARATORS = re.compile(r"\s*[,，;；、|]\s*")
TRUE_WORDS = {"是", "对", "yes", "y", "true", "t", "1", "✓", "✔", "x", "on", "checked"}
FALSE_WORDS = {"否", "不", "no", "n", "false", "f", "0", "off", "unchecked"}
CURRENCY_MARKS = re.compile(r"(?i)^(?:[A-Z]{3}|RMB)\s*|\s*(?:[A-Z]{3}|RMB|元|圆)$|[¥￥$€£]")
EXCEL_EPOCH = datetime(1899, 12, 30)
DATE_FORMATS = ("%Y-%m-%d", "%Y/%m/%d", "%Y.%m.%d", "%Y年%m月%d日", "%Y%m%d", "%d.%m.%Y")
#: a day as the first three DATE_FORMATS write it (year first, one separator, no time)
PLAIN_DAY = re.compile(r"([0-9]{4})([-/.])([0-9]{1,2})\2([0-9]{1,2})")
TIME_FORMATS = ("%H:%M:%S", "%H:%M", "%H时%M分%S秒", "%H时%M分", "%H点%M分", "%H:%M:%S.%f")
SHOWN_CANDIDATES = 5


class CellError(ValueError):
    """One cell cannot be read as a value of its field; `message` is in the person's language."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


def cell_text(raw: Any) -> str:
    """A cell as text: numbers without a trailing ".0", an exporter's "'" guard removed."""
    if raw is None:
        return ""
    if isinstance(raw, bool):
        return "TRUE" if raw else "FALSE"
    if isinstance(raw, float) and raw.is_integer():
        return str(int(raw))
    text = str(raw).strip() if not isinstance(raw, str) else raw.strip()
    if len(text) > 1 and text[0] == "'" and text[1] in NEUTRALISED:
        return text[1:]
    return text


def is_blank(raw: Any) -> bool:
    return raw is None or (isinstance(raw, str) and not raw.strip())


class Converter:
    """Converts the cells of one import; caches look-ups (a file names the same target often)."""

    def __init__(self, conn: Connection, app: AppDef, actor: Actor | None, lang: str):
        self.conn, self.app, self.actor, self.lang = conn, app, actor, lang
        try:
            self.zone = ZoneInfo(app.timezone or "UTC")
        except (ZoneInfoNotFoundError, ValueError):
            self.zone = ZoneInfo("UTC")
        self._refs: dict[tuple[str, str], int] = {}
        self._users: dict[str, int] = {}
        self.by_type: dict[str, Callable[[FieldDef, Any], Any]] = {
            "number": self.number, "percent": self.number, "rating": self.number, "money": self.money,
            "select": self.select, "multiselect": self.multiselect, "checkbox": self.checkbox,
            "date": self.date, "datetime": self.datetime, "reference": self.reference, "user": self.user,
        }

    def fail(self, msgid: str, **params: Any):
        raise CellError(translate(self.lang, msgid, **params))

    def convert(self, f: FieldDef, raw: Any) -> Any:
        """The value to send for `f`; None for a blank cell."""
        if is_blank(raw):
            return [] if f.multiple or f.type == "multiselect" else None
        return self.by_type.get(f.type, self.text)(f, raw)

    # -- plain values ------------------------------------------------------------------------
    def text(self, f: FieldDef, raw: Any) -> Any:
        if isinstance(raw, datetime):
            return raw.strftime("%Y-%m-%d %H:%M:%S") if raw.time() != time() else raw.strftime("%Y-%m-%d")
        return cell_text(raw)

    def number(self, f: FieldDef, raw: Any) -> Any:
        if isinstance(raw, (int, float)) and not isinstance(raw, bool):
            return raw
        text = cell_text(raw).replace(",", "").replace("，", "").replace(" ", "").replace("\u00a0", "")
        percent = text.endswith("%")
        try:
            value = Decimal(text.rstrip("%"))
        except InvalidOperation:
            self.fail("%(value)s is not a number.", value=repr(cell_text(raw)[:50]))
        if f.type != "percent" and percent:
            value = value / 100
        return int(value) if value == value.to_integral_value() else float(value)

    def money(self, f: FieldDef, raw: Any) -> Any:
        if isinstance(raw, (int, float)) and not isinstance(raw, bool):
            return format(Decimal(repr(raw)), "f") if isinstance(raw, float) else raw
        text = cell_text(raw)
        negative = text.startswith("(") and text.endswith(")")
        cleaned = CURRENCY_MARKS.sub("", text.strip("()")).replace(",", "").replace("，", "")
        cleaned = cleaned.replace(" ", "").replace("\u00a0", "").replace("'", "")
        try:
            amount = Decimal(cleaned)
        except InvalidOperation:
            self.fail("%(value)s is not an amount of money.", value=repr(text[:50]))
        return format(-amount if negative else amount, "f")

    def checkbox(self, f: FieldDef, raw: Any) -> Any:
        if isinstance(raw, bool):
            return raw
        word = cell_text(raw).casefold()
        if word in TRUE_WORDS:
            return True
        if word in FALSE_WORDS:
            return False
        self.fail("%(value)s is not yes or no (use 是/否, yes/no, true/false or 1/0).", value=repr(cell_text(raw)[:50]))

    # -- options ----------------------------------------------------------------------------
    def option(self, f: FieldDef, text: str) -> str:
        folded = text.casefold()
        for option in f.options:
            if option.value == text:
                return option.value
        for option in f.options:
            if option.value.casefold() == folded or any(t.casefold() == folded for t in option.label.texts.values()):
                return option.value
        shown = ", ".join(o.label.get(self.lang) for o in f.offered_options)
        self.fail("%(value)s is not one of the options: %(options)s.", value=repr(text[:50]), options=shown)

    def select(self, f: FieldDef, raw: Any) -> Any:
        return self.option(f, cell_text(raw))

    def multiselect(self, f: FieldDef, raw: Any) -> Any:
        return [self.option(f, part) for part in LIST_SEPARATORS.split(cell_text(raw)) if part]

    # -- dates ------------------------------------------------------------------------------
    def _moment(self, raw: Any) -> tuple[datetime, bool]:
        """(the moment, whether a time of day was given); naive moments are local."""
        if isinstance(raw, datetime):
            return raw, raw.time() != time()
        if isinstance(raw, date):
            return datetime.combine(raw, time()), False
        if isinstance(raw, (int, float)) and not isinstance(raw, bool) and 0 < raw < 2958466:
            moment = EXCEL_EPOCH + timedelta(days=float(raw))
            return moment.replace(microsecond=0), moment.time() != time()
        text = cell_text(raw)
        try:
            moment = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
            return moment, len(text) > 10
        except ValueError:
            pass
        if plain := PLAIN_DAY.fullmatch(text):      # 2026/11/23: what strptime's loop would find, at once
            try:
                return datetime(int(plain[1]), int(plain[3]), int(plain[4])), False
            except ValueError:
                pass
        parts = re.split(r"\s+|T", text, maxsplit=1)
        day, clock = parts[0], (parts[1].strip() if len(parts) > 1 else "")
        for fmt in DATE_FORMATS:
            try:
                parsed_day = datetime.strptime(day, fmt)
            except ValueError:
                continue
            if not clock:
                return parsed_day, False
            for tfmt in TIME_FORMATS:
                try:
                    parsed_time = datetime.strptime(clock, tfmt).time()
                except ValueError:
                    continue
                return datetime.combine(parsed_day.date(), parsed_time), True
        self.fail("%(value)s is not a date (write it as 2026-11-23 or 2026/11/23).", value=repr(text[:50]))

    def date(self, f: FieldDef, raw: Any) -> Any:
        moment, _timed = self._moment(raw)
        if moment.tzinfo is not None:
            moment = moment.astimezone(self.zone)
        return moment.date().isoformat()

    def datetime(self, f: FieldDef, raw: Any) -> Any:
        moment, _timed = self._moment(raw)
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=self.zone)
        return moment.isoformat()

    # -- references and users ------------------------------------------------------------------
    def reference(self, f: FieldDef, raw: Any) -> Any:
        if f.multiple:
            return [self.one_reference(f, part) for part in LIST_SEPARATORS.split(cell_text(raw)) if part]
        return self.one_reference(f, cell_text(raw))

    def one_reference(self, f: FieldDef, text: str) -> int:
        key = (f.entity or "", text.casefold())
        found = self._refs.get(key)
        if found is None:
            found = self._refs[key] = self._find_record(f, text)
        return found

    def _find_record(self, f: FieldDef, text: str) -> int:
        target = self.app.entity(f.entity or "")
        if target is None:
            self.fail("%(value)s cannot be looked up.", value=repr(text[:50]))
        name = target.label.get(self.lang)
        visible = scoped(self.conn, self.app, target, self.actor)
        if re.fullmatch(r"#[0-9]{1,18}", text):
            hit = self.conn.execute(select(records.c.id).where(visible, records.c.id == int(text[1:]))).first()
            if hit is None:
                self.fail("There is no %(entity)s %(value)s that you may read.", entity=name, value=text)
            return hit.id
        rows = self.conn.execute(select(records.c.id, records.c.title).where(visible, records.c.title == text)
                                 .order_by(records.c.id).limit(SHOWN_CANDIDATES + 1)).all()
        if not rows:
            rows = self.conn.execute(select(records.c.id, records.c.title)
                                     .where(visible, func.lower(records.c.title) == text.lower())
                                     .order_by(records.c.id).limit(SHOWN_CANDIDATES + 1)).all()
        if not rows:
            unique = [u.key for u in target.fields if u.unique]
            if unique:
                ids = select(unique_values.c.record_id).where(
                    unique_values.c.app_key == self.app.key, unique_values.c.entity_key == target.key,
                    unique_values.c.field_key.in_(unique), unique_values.c.value == text.strip().casefold()[:500])
                rows = self.conn.execute(select(records.c.id, records.c.title).where(visible, records.c.id.in_(ids))
                                         .order_by(records.c.id).limit(SHOWN_CANDIDATES + 1)).all()
        if not rows:
            self.fail("There is no %(entity)s called %(value)s that you may read.", entity=name, value=repr(text[:80]))
        if len(rows) > 1:
            shown = ", ".join(f"{r.title} (#{r.id})" for r in rows[:SHOWN_CANDIDATES])
            self.fail("%(value)s matches several %(entity)s records: %(candidates)s. Write #id to choose one.",
                      value=repr(text[:80]), entity=name, candidates=shown)
        return rows[0].id

    def user(self, f: FieldDef, raw: Any) -> Any:
        if f.multiple:
            return [self.user_id(part) for part in LIST_SEPARATORS.split(cell_text(raw)) if part]
        return self.user_id(cell_text(raw))

    def user_id(self, text: str) -> int:
        folded = text.casefold()
        found = self._users.get(folded)
        if found is not None:
            return found
        rows = self.conn.execute(select(users.c.id, users.c.name, users.c.email).where(
            users.c.active.is_(True), (func.lower(users.c.email) == folded) | (func.lower(users.c.name) == folded))
            .order_by(users.c.id).limit(SHOWN_CANDIDATES + 1)).all()
        exact = [r for r in rows if r.email.casefold() == folded]
        rows = exact or rows
        if not rows:
            self.fail("There is no user with the email or name %(value)s.", value=repr(text[:80]))
        if len(rows) > 1:
            shown = ", ".join(f"{r.name} <{r.email}>" for r in rows[:SHOWN_CANDIDATES])
            self.fail("%(value)s names several users: %(candidates)s. Use the email address.",
                      value=repr(text[:80]), candidates=shown)
        self._users[folded] = rows[0].id
        return rows[0].id
