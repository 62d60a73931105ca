"""Validating documents: first against the meta-schemas, then for meaning.

Every check reports all it finds as `Problem`s with a JSON path and a sentence
a non-programmer can act on. The schema pass is jsonschema's (its raw messages
are translated in `schema_check`); the meaning checks are small generators
(in `app_checks`, `workflow_checks` and `rule_checks`) listed in `CROSS_CHECKS`.
A meaning check reads the document defensively only in the sense that, when the
schema pass already found problems, a check that trips over the broken shape is
stopped quietly: the schema problem is the one to fix first.

The names the checks are built from are re-exported here, so callers can keep
importing them from `formloom.definitions.validate`.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Mapping, Sequence

from .app_checks import (AUTO_NUMBER_TOKEN, AUTO_NUMBER_TOKENS, ISO_DATE, app_calendar, entity_references, field_conditions,
                         field_settings, formulas_resolve, permission_conditions, pools_and_calendars, reference_matches,
                         reserved_keys, roles_declared,
                         unique_keys)
from .document_parts import entities_of, entity_named
from .layout_checks import layout_fields
from .load import load_document
from .problems import DocumentError, Problem, json_path, sorted_problems
from .rule_checks import rule_actions, rule_conditions, rule_triggers
from .rollup_checks import rollups_resolve
from .schema_check import KEY_PATTERN, SCHEMAS_DIR, check_schema, schema_validator
from .subject import Check, Subject, for_kind
from .time_values import CRON_NAMES, CRON_RANGES, cron_problem
from .wording import show
from .workflow_checks import (gate_conditions, gate_requirement_settings, rules_only_workflow, stage_references, workflow_entity,
                              workflow_unique_keys)

__all__ = [
    "AUTO_NUMBER_TOKEN", "AUTO_NUMBER_TOKENS", "CRON_NAMES", "CRON_RANGES", "CROSS_CHECKS",
    "Check", "ISO_DATE", "KEY_PATTERN", "SCHEMAS_DIR", "Subject", "app_calendar", "check_meaning", "check_schema", "cron_problem", "entity_references",
    "field_conditions", "field_settings", "for_kind", "layout_fields", "formulas_resolve", "gate_conditions", "reference_matches", "reserved_keys",
    "roles_declared", "rule_actions", "rule_conditions", "rule_triggers", "rules_only_workflow", "schema_validator",
    "stage_references",
    "unique_keys", "validate_app", "validate_paths", "validate_workflow", "workflow_entity",
    "workflow_unique_keys",
]


CROSS_CHECKS: tuple[Check, ...] = (
    # app documents
    unique_keys, reserved_keys, roles_declared, entity_references, field_settings,
    field_conditions, formulas_resolve, app_calendar, permission_conditions, reference_matches,
    layout_fields, pools_and_calendars, rollups_resolve,
    # workflow documents
    workflow_unique_keys, workflow_entity, stage_references, gate_conditions, gate_requirement_settings,
    rules_only_workflow, rule_triggers,
    rule_actions, rule_conditions,
)


def check_meaning(subject: Subject, schema_ok: bool) -> list[Problem]:
    """Run every cross check for the subject's kind and collect what they find."""
    found: list[Problem] = []
    for check in CROSS_CHECKS:
        if getattr(check, "kind", None) != subject.kind:
            continue
        try:
            found.extend(check(subject))
        except (KeyError, TypeError, AttributeError, ValueError, IndexError):
            if schema_ok:
                raise           # a valid document must never trip a check: that is a bug here
            # the shape is already reported by the schema pass; this check cannot say more
    return found


def validate_app(app_doc: dict, workflow_docs: Mapping[str, dict], source: str) -> list[Problem]:
    """Schema and meaning problems of one app document. `workflow_docs` maps workflow key ->
    document and is only used to see that the workflows the entities name exist."""
    problems = check_schema(app_doc, "app", source)
    if isinstance(app_doc, dict):
        subject = Subject("app", app_doc, source, workflows=workflow_docs)
        problems += check_meaning(subject, schema_ok=not problems)
    return sorted_problems(problems)


def validate_workflow(workflow_doc: dict, app_doc: dict | None, source: str) -> list[Problem]:
    """Schema and meaning problems of one workflow document, checked against its app when given
    (without the app only what the workflow says about itself can be checked)."""
    problems = check_schema(workflow_doc, "workflow", source)
    if isinstance(workflow_doc, dict):
        app_ok = app_doc is None or schema_validator("app").is_valid(app_doc)
        subject = Subject("workflow", workflow_doc, source, app=app_doc)
        problems += check_meaning(subject, schema_ok=not problems and app_ok)
    return sorted_problems(problems)


@dataclass
class _Loaded:
    source: str
    doc: dict
    path: Path


def validate_paths(paths: Sequence[Path | str], search_dirs: Sequence[Path] | None = None) -> list[Problem]:
    """What `formloom validate PATH...` reports: every problem of every document given.

    Paths are app documents (app.json, or a template folder holding one) and
    workflow documents. Each app's workflows are taken from the command line
    when given there, else looked for as `<key>.json` in the app folder's
    `workflows/` and then in each of `search_dirs` (default: the project's
    workflows folder). A workflow given on the command line is checked against
    the app given with it that has its entity."""
    if search_dirs is None:
        from formloom import resources
        search_dirs = [resources.workflows_dir()]
    problems: list[Problem] = []
    apps: list[_Loaded] = []
    given_workflows: list[_Loaded] = []
    given_dashboards: list[_Loaded] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            if not (path / "app.json").is_file():
                problems.append(Problem(str(path), "$", "This folder has no app.json; give an app.json file, an app "
                                                        "template folder holding one, or a workflow file."))
                continue
            path = path / "app.json"
        try:
            doc = load_document(path)
        except DocumentError as exc:
            problems.extend(exc.problems)
            continue
        kind = _kind_of(doc, path)
        if kind == "dashboard":
            given_dashboards.append(_Loaded(str(path), doc, path))
        elif kind is None:
            problems.append(Problem(str(path), "$", "This is neither an app document (it would have 'entities') nor "
                                                    "a workflow document (it would have 'entity')."))
        else:
            (apps if kind == "app" else given_workflows).append(_Loaded(str(path), doc, path))

    given_by_key = {w.doc.get("key"): w for w in given_workflows if isinstance(w.doc.get("key"), str)}
    checked: set[str] = set()
    for app in apps:
        found: dict[str, _Loaded] = {}
        broken: dict[str, dict] = {}
        for _, entity in entities_of(app.doc):
            key = entity.get("workflow")
            if not isinstance(key, str) or key in found or key in broken:
                continue
            if key in given_by_key:
                found[key] = given_by_key[key]
                continue
            candidates = [app.path.parent / "workflows" / f"{key}.json", *(Path(d) / f"{key}.json" for d in search_dirs)]
            location = next((c for c in candidates if c.is_file()), None)
            if location is None:
                continue
            try:
                loaded = _Loaded(str(location), load_document(location), location)
            except DocumentError as exc:
                problems.extend(exc.problems)
                broken[key] = {}          # exists, but unreadable: reported above, not as missing
                continue
            if loaded.doc.get("key") != key:
                problems.append(Problem(loaded.source, json_path("key"),
                                        f"The file is named {key}.json but its key is {show(loaded.doc.get('key'))}; "
                                        "a workflow file is named after its key."))
                broken[key] = {}
                continue
            found[key] = loaded
        problems += validate_app(app.doc, {**broken, **{k: w.doc for k, w in found.items()}}, app.source)
        for workflow in found.values():
            if workflow.source not in checked:
                checked.add(workflow.source)
                problems += validate_workflow(workflow.doc, app.doc, workflow.source)
        problems += _dashboard_problems(app, {k: w.doc for k, w in found.items()}, given_dashboards, checked)

    for dashboard in given_dashboards:
        if dashboard.source in checked:
            continue
        beside = dashboard.path.parent.parent / "app.json"       # <app folder>/dashboards/<key>.json
        if dashboard.path.parent.name == "dashboards" and beside.is_file():
            problems += validate_paths([beside, dashboard.path], search_dirs)
        else:
            problems.append(Problem(dashboard.source, "$", "A dashboard is checked with its app: give the app "
                                                           "folder, or keep the file in <app folder>/dashboards/."))
    for workflow in given_workflows:
        if workflow.source in checked:
            continue
        checked.add(workflow.source)
        owners = [a for a in apps if entity_named(a.doc, workflow.doc.get("entity")) is not None]
        if apps and not owners:
            problems.append(Problem(workflow.source, json_path("entity"),
                                    f"None of the apps given has the entity {show(workflow.doc.get('entity'))} "
                                    "this workflow is for."))
        problems += validate_workflow(workflow.doc, owners[0].doc if owners else None, workflow.source)
    return sorted_problems(problems)


def _dashboard_problems(app: _Loaded, workflows: dict, given: list[_Loaded], checked: set[str]) -> list[Problem]:
    """The app folder's dashboards/*.json (and dashboard files given with it), checked against it."""
    from ..dashboards.checks import validate_dashboards     # dashboards build on this layer
    folder = app.path.parent / "dashboards"
    files = {p.resolve(): p for p in (sorted(folder.glob("*.json")) if folder.is_dir() else [])}
    files.update({d.path.resolve(): d.path for d in given if d.path.resolve().parent == folder.resolve()})
    found: dict[str, tuple[str, dict]] = {}
    problems: list[Problem] = []
    for path in files.values():
        checked.add(str(path))
        try:
            found[path.stem] = (str(path), load_document(path))
        except DocumentError as exc:
            problems += exc.problems
    return problems + validate_dashboards(found, app.doc, workflows)


def _kind_of(doc: dict, path: Path) -> str | None:
    if "widgets" in doc:
        return "dashboard"
    if "entities" in doc:
        return "app"
    if "stages" in doc or "entity" in doc:
        return "workflow"
    if path.name == "app.json":
        return "app"
    return None
