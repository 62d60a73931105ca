"""A trigger or action type's settings form, generated from its registry entry.

The trigger and action registries (automation/rules.py, automation/actions.py)
list each type's `Setting`s, the same ones workflow.schema.json is built from.
Each setting's JSON Schema picks its control, as design/settings_form.py does
for field types, with a few controls only rules need, still chosen from the
schema and never from a type's name: a duration is "[3] [days] [before]", a
HH:MM pattern is a time input, a recipient list is a set of checkboxes made from
the recipient-kinds registry, and a setting naming a stage, field or entity
(the shared settings of automation/rule_settings.py) is a list of the
workflow's stages, the entity's fields or the app's entities. A type registered
by an extension gets its form with no change here.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass, field as dc_field
from datetime import datetime
from typing import Any, Mapping

from ..automation.rule_settings import DURATION, ENTITY, FIELD, STAGE, VIA
from ..fields.settings import Setting
from ..i18n import translate
from .settings_form import _parse_one, _Refused, _shown, widget_for

#: duration unit -> (ISO designator, time part?)
UNITS = {"minutes": ("M", True), "hours": ("H", True), "days": ("D", False), "weeks": ("W", False),
         "months": ("M", False)}
_SIMPLE_DURATION = re.compile(r"^(-)?P(?:(\d+)([DWMY])|T(\d+)([HM]))$")
_CHOICE_SETTINGS = {STAGE.name: "stage", FIELD.name: "field", ENTITY.name: "entity", VIA.name: "via"}


@dataclass(frozen=True)
class RuleControl:
    """One control of a trigger's or an action's settings form."""

    name: str
    widget: str           # duration, time, recipients, choice, or a settings_form widget
    label: str
    help: str
    required: bool
    value: Any = None
    choices: tuple = ()   # (value, text)
    error: str | None = None
    refresh: bool = False  # changing it changes what other controls offer (the form reloads)


def _text(mapping: Mapping[str, str], lang: str) -> str:
    return mapping.get(lang) or mapping.get("en") or next(iter(mapping.values()), "")


def rule_widget(setting: Setting) -> str:
    """Which control edits a rule setting, read from its schema (and the shared settings)."""
    schema = setting.schema
    if schema == DURATION:
        return "duration"
    if isinstance(schema, dict):
        items = schema.get("items")
        if schema.get("type") == "array" and isinstance(items, dict) and str(items.get("$ref", "")).endswith("/recipient"):
            return "recipients"
        if "[0-5][0-9]$" in str(schema.get("pattern", "")):
            return "time"
        if schema.get("$ref", "").endswith("/key") and setting.name in _CHOICE_SETTINGS:
            return "choice"
    return widget_for(setting)


def split_duration(text: Any) -> dict:
    """"-P3D" -> {"n": "3", "unit": "days", "before": True}; anything else stays text."""
    match = _SIMPLE_DURATION.match(text) if isinstance(text, str) else None
    if not match:
        return {"n": "", "unit": "days", "before": False, "text": text or ""}
    minus, n_date, designator, n_time, time_designator = match.groups()
    if n_date:
        if designator == "Y":
            return {"n": str(int(n_date) * 12), "unit": "months", "before": bool(minus), "text": ""}
        unit = {"D": "days", "W": "weeks", "M": "months"}[designator]
        return {"n": n_date, "unit": unit, "before": bool(minus), "text": ""}
    return {"n": n_time, "unit": "hours" if time_designator == "H" else "minutes", "before": bool(minus), "text": ""}


def join_duration(n: str, unit: str, before: bool) -> str | None:
    if not n.strip():
        return None
    if not re.fullmatch(r"\d{1,6}", n.strip()) or unit not in UNITS:
        raise ValueError(n)
    designator, is_time = UNITS[unit]
    return f"{'-' if before else ''}P{'T' if is_time else ''}{int(n.strip())}{designator}"


@dataclass
class Choices:
    """What the app offers for choice and recipient controls."""

    stages: list = dc_field(default_factory=list)       # (key, text)
    fields: list = dc_field(default_factory=list)
    entities: list = dc_field(default_factory=list)
    recipients: list = dc_field(default_factory=list)   # (written, text)
    vias: Mapping[str, list] = dc_field(default_factory=dict)   # entity key -> its fields linking here

    def of(self, setting: Setting, spec: Mapping[str, Any]) -> tuple:
        """The choices of `setting`; a `via` offers the reference fields of the entity `spec` names."""
        kind = _CHOICE_SETTINGS[setting.name]
        if kind == "via":
            return tuple(self.vias.get(spec.get(ENTITY.name), ()))
        return tuple({"stage": self.stages, "field": self.fields, "entity": self.entities}[kind])


def recipient_choices(kinds: Mapping[str, Any], roles: list[tuple[str, str]], user_fields: list[tuple[str, str]],
                      lang: str) -> list[tuple[str, str]]:
    """Every way to name a recipient in this app, from the recipient-kinds registry: kinds that
    take nothing as they are, ROLE kinds once per role, FIELD kinds once per user field."""
    out = []
    for kind in kinds.values():
        label = _text(kind.label, lang) if kind.label else kind.name
        if kind.argument is None:
            out.append((kind.name, label))
        elif kind.argument == "ROLE":
            out += [(f"{kind.name}:{role}", f"{label}: {text}") for role, text in roles]
        elif kind.argument == "FIELD":
            out += [(f"{kind.name}:{key}", f"{label}: {text}") for key, text in user_fields]
    return out


def controls(settings: tuple[Setting, ...], spec: Mapping[str, Any], lang: str, choices: Choices,
             errors: Mapping[str, str] | None = None) -> list[RuleControl]:
    errors = errors or {}
    out = []
    for setting in settings:
        widget = rule_widget(setting)
        raw = spec.get(setting.name)
        offered: tuple = ()
        if widget == "duration":
            value: Any = split_duration(raw)
        elif widget == "recipients":
            written = list(raw or []) if isinstance(raw, list) else []
            offered = tuple(choices.recipients)
            known = {v for v, _ in offered}
            value = {"checked": [w for w in written if w in known],
                     "other": ", ".join(str(w) for w in written if w not in known)}
        elif widget == "choice":
            offered = choices.of(setting, spec)
            value = raw or ""
            if value and all(v != value for v, _ in offered):
                offered += ((value, value),)            # kept, so a save does not drop it unseen
            elif not value and len(offered) == 1 and setting.name == VIA.name:
                value = offered[0][0]                   # the only way the entity links here
        elif widget == "time":
            value = raw or ""
        else:
            value = _shown(widget, raw)
            if widget == "enum":
                offered = tuple((v if isinstance(v, str) else json.dumps(v), str(v)) for v in setting.schema["enum"])
                value = "" if raw is None else (raw if isinstance(raw, str) else json.dumps(raw))
        out.append(RuleControl(setting.name, widget, _text(setting.label, lang), _text(setting.help, lang),
                               setting.required, value, offered, errors.get(setting.name),
                               refresh=setting.name == ENTITY.name))
    return out


class Prefixed:
    """A view of a posted form under a prefix, shaped as settings_form's parser reads it."""

    def __init__(self, form: Any, prefix: str):
        self.form, self.prefix = form, prefix

    def _name(self, name: str) -> str:
        return self.prefix + (name[2:] if name.startswith("s-") else name)

    def get(self, name: str, default: Any = None) -> Any:
        return self.form.get(self._name(name), default)

    def getlist(self, name: str) -> list:
        return self.form.getlist(self._name(name))


def parse(settings: tuple[Setting, ...], form: Any, prefix: str, lang: str) -> tuple[dict, dict[str, str]]:
    """What a settings form posted under `prefix`, as the settings of a trigger or action
    (its "type" not included), and the errors by setting name."""
    view = Prefixed(form, prefix)
    doc: dict[str, Any] = {}
    errors: dict[str, str] = {}

    def get(name: str) -> str:
        return str(view.get(f"s-{name}", "") or "")

    for setting in settings:
        name, widget = setting.name, rule_widget(setting)
        try:
            if widget == "duration":
                value: Any = join_duration(get(f"{name}-n"), get(f"{name}-unit"), get(f"{name}-dir") == "before")
                if value is None and get(f"{name}-text").strip():
                    value = get(f"{name}-text").strip()
            elif widget == "recipients":
                others = [p for p in re.split(r"[\s,，]+", get(f"{name}-other")) if p]
                value = list(dict.fromkeys([w for w in view.getlist(f"s-{name}") if w] + others)) or None
            elif widget in ("time", "choice"):
                value = get(name).strip() or None
            else:
                value = _parse_one(setting, widget, name, get, view, lang)
        except ValueError:
            errors[name] = translate(lang, "Enter a whole number.")
            continue
        except _Refused as refused:
            errors[name] = refused.message
            continue
        if value is not None:
            doc[name] = value
    return doc, errors


# -- cron, in words ---------------------------------------------------------------------------------

_DAYS = {"en": ["Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"],
         "zh": ["周日", "周一", "周二", "周三", "周四", "周五", "周六", "周日"]}


def _days(part: str, lang: str) -> str | None:
    names = _DAYS["zh" if lang == "zh" else "en"]
    words = []
    for piece in part.split(","):
        if re.fullmatch(r"[0-7]", piece):
            words.append(names[int(piece)])
        elif re.fullmatch(r"[0-7]-[0-7]", piece):
            a, b = piece.split("-")
            words.append(f"{names[int(a)]}–{names[int(b)]}")
        else:
            return None
    return ", ".join(words) if lang != "zh" else "、".join(words)


def cron_reading(expr: str, lang: str) -> str:
    """A cron line in plain words ("Every Monday–Friday at 09:00"); the line itself when it is
    too unusual to read out."""
    parts = expr.split()
    if len(parts) != 5:
        return expr
    minute, hour, dom, month, dow = parts
    zh = lang == "zh"
    if re.fullmatch(r"\d{1,2}", minute) and re.fullmatch(r"\d{1,2}", hour):
        clock = f"{int(hour):02d}:{int(minute):02d}"
        when = clock if zh else f"at {clock}"
    elif re.fullmatch(r"\d{1,2}", minute) and hour == "*":
        when = f"每小时第 {int(minute)} 分" if zh else f"at minute {int(minute)} of every hour"
    elif re.fullmatch(r"\*/\d{1,2}", minute) and hour == "*":
        when = f"每 {minute[2:]} 分钟" if zh else f"every {minute[2:]} minutes"
    else:
        return expr
    if month != "*":
        return expr
    if dom == "*" and dow == "*":
        return f"每天 {when}" if zh else f"Every day {when}"
    if dom == "*":
        days = _days(dow, lang)
        return expr if days is None else (f"每{days} {when}" if zh else f"Every {days} {when}")
    if dow == "*" and re.fullmatch(r"\d{1,2}(,\d{1,2})*", dom):
        return f"每月 {dom} 日 {when}" if zh else f"On day {dom} of every month {when}"
    return expr


def next_runs(expr: str, tz_name: str, now: datetime, count: int = 5) -> list[datetime]:
    """The next `count` moments a cron line fires, by the engine's own reading (timing.py)."""
    from ..automation.timing import cron_occurrences, valid_cron

    if not valid_cron(expr):
        return []
    out = []
    for instant in cron_occurrences(expr, tz_name, now):
        out.append(instant)
        if len(out) >= count:
            break
    return out

