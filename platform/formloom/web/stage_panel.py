"""The record page's pipeline panel: the path bar of stages and the stage history with the
time spent in each (the labels of stages an app has since removed stay readable)."""
from __future__ import annotations

from dataclasses import dataclass


from ..definitions.model import EntityDef, StageDef, WorkflowDef
from ..store.records import Record, utcnow
from ..workflow import is_stale, stage_history_rows, time_in_stages
from ..workflow.history import retired_stage_labels
from .display import record_url
from .helpers import cached_url_for, lang, local_time, page_read

# -- the record page: path bar and history -------------------------------------------------

@dataclass
class PathStep:
    stage: StageDef
    state: str            # "done" | "current" | "todo"
    spent: str | None     # time spent in the stage, when the record has been there


@dataclass
class HistoryEntry:
    from_label: str | None
    to_label: str
    user: str | None
    at: str
    spent: str | None
    override_reason: str | None


def duration_text(seconds: int | None) -> str | None:
    if seconds is None:
        return None
    minutes = seconds // 60
    days, rest = divmod(minutes, 24 * 60)
    hours, minutes = divmod(rest, 60)
    # the translations kept per language (record_html._t): a record page writes one per stage
    # visited and per move, and flask_babel looks each up anew; `% values` as its gettext does
    from .record_html import _t
    if days:
        return _t("%(d)sd %(h)sh") % {"d": days, "h": hours}
    if hours:
        return _t("%(h)sh %(m)sm") % {"h": hours, "m": minutes}
    if minutes:
        return _t("%(m)sm") % {"m": minutes}
    return _t("under a minute")


def _stage_label(workflow: WorkflowDef, key: str | None, retired: dict | None = None) -> str | None:
    """A stage's label; a removed stage's from the version that had it (`retired`), else its key."""
    if key is None:
        return None
    stage = workflow.stage(key)
    if stage is not None:
        return stage.label.get(lang())
    label = (retired or {}).get(key)
    if isinstance(label, dict):
        return label.get(lang()) or label.get("en") or key
    return label if isinstance(label, str) and label else key


def pipeline_panel(app, entity: EntityDef, record: Record, can_update: bool = False, rows=None) -> dict | None:
    """What the record page's path bar, history and Move-to control show (a template global).
    `rows`: the record's stage history when the page has read it already."""
    workflow = app.workflow_for(entity.key)
    if workflow is None or not workflow.stages:
        return None
    now = utcnow()
    with page_read() as conn:
        if rows is None:
            rows = stage_history_rows(conn, record.id)
        gone = {k for r in rows for k in (r.from_stage, r.to_stage) if k and workflow.stage(k) is None}
        retired = retired_stage_labels(conn, app.key, workflow.key, gone)
    spent = time_in_stages(rows, now)
    visited = {r.to_stage for r in rows}
    current = workflow.stage(record.stage) if record.stage else None
    steps = []
    for stage in workflow.stages:
        if stage.key == record.stage:
            state = "current"
        elif stage.key in visited:
            state = "done"
        else:
            state = "todo"
        steps.append(PathStep(stage, state, duration_text(spent[stage.key]) if stage.key in spent else None))
    history = [HistoryEntry(_stage_label(workflow, r.from_stage, retired),
                            _stage_label(workflow, r.to_stage, retired) or r.to_stage,
                            r.user_name, local_time(r.at, app), duration_text(r.seconds_in_previous),
                            r.override_reason) for r in reversed(rows)]
    return {"workflow": workflow, "steps": steps, "history": history, "current": current,
            "stale": is_stale(current, record, now),
            "targets": [s for s in workflow.stages if s.key != record.stage] if can_update else [],
            "move_url": record_url("pipeline.move", record.id, app_key=app.key, entity_key=entity.key),
            "board_url": cached_url_for("pipeline.board", app_key=app.key, entity_key=entity.key)}
