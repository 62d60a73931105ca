"""The import wizard: upload a file, check the proposed column mapping, run a dry run
and read its report, then import, watching a progress bar that survives a reload.

Uploaded files are kept under the instance folder (imports/) named by a random
token; a small JSON file beside each says who uploaded it for which entity, so one
person's upload is never another's. Dry runs and imports both run as import jobs
(transfer/jobs.py) in a thread of their own, so the request answers at once.
"""
from __future__ import annotations

import json
import re
import secrets
from pathlib import Path

from flask import Blueprint, abort, current_app, redirect, render_template, request, send_file, url_for
from flask_babel import gettext as _
from flask_login import login_required

from ..auth import policy
from ..errors import FormloomError, NotFoundError
from ..transfer import jobs as import_jobs
from ..transfer import mapping as mappings
from ..transfer.files import MAX_FILE_BYTES, SUFFIXES, FileRefused, read_table
from ..transfer.importer import MODES, ImportOptions, Importer
from .helpers import catalog, current_actor, db, label, lang, load_app, load_entity

bp = Blueprint("imports", __name__)
TOKEN = re.compile(r"^[a-f0-9]{32}$")
SAMPLE_ROWS = 3


@bp.before_request
@login_required
def _require_login():
    return None


@bp.url_value_preprocessor
def _allow_upload_size(endpoint, values):
    """Uploads may be larger than other requests (runs before the CSRF check reads the body)."""
    if endpoint == "imports.upload" and request.method == "POST":
        request.max_content_length = MAX_FILE_BYTES + 1024 * 1024


def _folder() -> Path:
    folder = Path(current_app.instance_path) / "imports"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def _upload(token: str, app_key: str, entity_key: str) -> tuple[Path, dict]:
    """The upload named by `token`, if this person made it for this entity; 404 otherwise."""
    if not TOKEN.match(token):
        abort(404)
    meta_path = _folder() / f"{token}.json"
    try:
        meta = json.loads(meta_path.read_text())
    except (OSError, ValueError):
        raise NotFoundError(_("This upload is no longer available."), hint=_("Upload the file again.")) from None
    actor = current_actor()
    if meta.get("user_id") != actor.id or meta.get("app_key") != app_key or meta.get("entity_key") != entity_key:
        abort(404)
    return _folder() / f"{token}{meta['suffix']}", meta


@bp.route("/apps/<app_key>/<entity_key>/import", methods=["GET", "POST"])
def upload(app_key: str, entity_key: str):
    place = load_entity(app_key, entity_key, action="create")
    error = None
    if request.method == "POST":
        file = request.files.get("file")
        name = Path(file.filename or "").name if file else ""
        suffix = Path(name).suffix.lower()
        if not name:
            error = _("Choose a file to import.")
        elif suffix not in SUFFIXES:
            error = _("Import an .xlsx or .csv file, not %(name)s.", name=repr(name[:80]))
        else:
            token = secrets.token_hex(16)
            path = _folder() / f"{token}{suffix}"
            file.save(path)
            sheet = (request.form.get("sheet") or "").strip() or None
            try:
                read_table(path, name, sheet=sheet, lang=lang())
            except FileRefused as refused:
                path.unlink(missing_ok=True)
                error = refused.message + (f" {refused.hint}" if refused.hint else "")
            else:
                (_folder() / f"{token}.json").write_text(json.dumps(
                    {"user_id": current_actor().id, "app_key": app_key, "entity_key": entity_key,
                     "filename": name, "suffix": suffix, "sheet": sheet}))
                return redirect(url_for("imports.mapping", app_key=app_key, entity_key=entity_key, token=token), 303)
    return render_template("imports/upload.html", place=place, app=place.app, entity=place.entity, error=error,
                           max_mb=MAX_FILE_BYTES // 2**20), 422 if error else 200


def _targets(place) -> tuple[list, list]:
    actor = current_actor()
    writable = [f.key for f in policy.writable_fields(actor, place.app, place.entity)]
    fields = mappings.importable_fields(place.entity, writable)
    choices = [(f.key, label(f.label)) for f in fields if f.type != "subtable"]
    choices += [(f"{f.key}.{c.key}", f"{label(f.label)} · {label(c.label)}")
                for f in fields if f.type == "subtable" for c in f.columns]
    workflow = place.app.workflow_for(place.entity.key)
    if workflow and workflow.stages:
        choices.append((mappings.STAGE, _("Stage")))
    choices.append((mappings.OWNER, _("Owner (email or name)")))
    return fields, choices


@bp.route("/apps/<app_key>/<entity_key>/import/<token>", methods=["GET", "POST"])
def mapping(app_key: str, entity_key: str, token: str):
    place = load_entity(app_key, entity_key, action="create")
    path, meta = _upload(token, app_key, entity_key)
    table = read_table(path, meta["filename"], sheet=meta.get("sheet"), lang=lang())
    fields, choices = _targets(place)
    unique = [f for f in fields if f.unique]
    subtables = [f for f in fields if f.type == "subtable"]
    others = [name for name in table.sheets if name != table.sheet]
    if request.method == "GET":
        with db().read() as conn:
            saved = mappings.load_saved(conn, app_key, entity_key)
        chosen = mappings.propose(place.app, place.entity, table.headers, fields, saved)
        options = {"mode": request.args.get("mode", MODES[0]), "upsert_by": request.args.get("upsert_by", ""),
                   "run_rules": False, "override_gates": False, "override_reason": "",
                   "child_sheets": _proposed_children(subtables, others, chosen)}
        return _mapping_page(place, token, meta, table, choices, unique, chosen, options, None)
    allowed = {key for key, _text in choices}
    chosen = {}
    for i in range(len(table.headers)):
        target = request.form.get(f"col_{i}", "")
        if target in allowed:
            chosen[i] = target
    mode = request.form.get("mode", MODES[0])
    override = request.form.get("override_gates") == "1"
    children = {f.key: request.form[f"sheet_{f.key}"] for f in subtables
                if request.form.get(f"sheet_{f.key}") in others}
    options = ImportOptions(mode=mode if mode in MODES else MODES[0], dry_run=request.form.get("action") != "run",
                            upsert_by=request.form.get("upsert_by") or None,
                            run_rules=request.form.get("run_rules") == "1",
                            override_reason=request.form.get("override_reason", "")[:2000] if override else None,
                            child_sheets=children or None)
    try:
        Importer(db(), place.app, place.version_id, place.entity, current_actor(), table, chosen, meta["filename"],
                 options, lang())          # checks the mapping and options before a job exists
    except FormloomError as problem:
        return _mapping_page(place, token, meta, table, choices, unique, chosen,
                             {"mode": options.mode, "upsert_by": options.upsert_by or "",
                              "run_rules": options.run_rules, "override_gates": override,
                              "override_reason": options.override_reason or "", "child_sheets": children},
                             problem.message, status=422)
    if request.form.get("save_mapping") == "1":
        with db().write() as conn:
            mappings.save(conn, app_key, entity_key, table.headers, chosen)
    job_id = import_jobs.create_job(db(), user_id=current_actor().id, app_key=app_key, entity_key=entity_key,
                                    path=path, filename=meta["filename"], sheet=meta.get("sheet"), mapping=chosen,
                                    options=options, lang=lang())
    meta.setdefault("jobs", []).append(job_id)
    (_folder() / f"{token}.json").write_text(json.dumps(meta))
    import_jobs.start_thread(db(), current_app.extensions["formloom.catalog"], job_id)
    return redirect(url_for("imports.job", app_key=app_key, job_id=job_id), 303)


def _proposed_children(subtables, sheets: list[str], chosen: dict[int, str]) -> dict[str, str]:
    """A sheet named like a table field (its key or label) feeds it, unless columns of the
    main sheet already do."""
    fed = {target.split(".", 1)[0] for target in chosen.values() if "." in target}
    out = {}
    for f in subtables:
        names = {mappings.normal(n) for n in (f.key, *f.label.texts.values())}
        sheet = next((name for name in sheets if mappings.normal(name) in names), None)
        if sheet and f.key not in fed:
            out[f.key] = sheet
    return out


def _mapping_page(place, token, meta, table, choices, unique, chosen, options, error, status=200):
    samples = [cells for _n, cells in _first_rows(table)]
    columns = [{"index": i, "header": h, "target": chosen.get(i, ""),
                "samples": [("" if row[i] is None else str(row[i]))[:40] for row in samples]}
               for i, h in enumerate(table.headers)]
    unmapped = [c["header"] or f"#{c['index'] + 1}" for c in columns if not c["target"]]
    return render_template("imports/mapping.html", place=place, app=place.app, entity=place.entity, token=token,
                           filename=meta["filename"], columns=columns, choices=choices, unique=unique,
                           unmapped=unmapped, options=options, modes=MODES, error=error,
                           subtables=[f for f in mappings.importable_fields(place.entity) if f.type == "subtable"
                                      and any(key.startswith(f.key + ".") for key, _text in choices)],
                           other_sheets=[name for name in table.sheets if name != table.sheet],
                           is_admin=policy.is_app_admin(current_actor(), place.app),
                           has_stages=any(key == mappings.STAGE for key, _text in choices)), status


def _first_rows(table):
    rows = table.rows()
    try:
        for _row in range(SAMPLE_ROWS):
            item = next(rows, None)
            if item is None:
                return
            yield item
    finally:
        rows.close()


def _own_job(app_key: str, job_id: int) -> dict:
    place = load_app(app_key)
    found = import_jobs.view(db(), job_id)
    actor = current_actor()
    if found is None or found["app_key"] != place.app.key or (
            found["payload"].get("user_id") != actor.id and not actor.is_superuser):
        raise NotFoundError(_("There is no such import."))
    entity = place.app.entity(found["payload"].get("entity_key", ""))
    if entity is None:
        raise NotFoundError(_("There is no such import."))
    found.update(place=place, app=place.app, entity=entity)
    return found


@bp.get("/apps/<app_key>/imports/<int:job_id>")
def job(app_key: str, job_id: int):
    found = _own_job(app_key, job_id)
    template = "imports/_progress.html" if request.headers.get("HX-Request") else "imports/job.html"
    return render_template(template, job=found, app=found["app"], entity=found["entity"], place=found["place"])


@bp.post("/apps/<app_key>/imports/<int:job_id>/cancel")
def cancel(app_key: str, job_id: int):
    found = _own_job(app_key, job_id)
    if found["status"] == "running":
        import_jobs.cancel(db(), job_id)
    return redirect(url_for("imports.job", app_key=app_key, job_id=job_id), 303)


@bp.get("/apps/<app_key>/imports/<int:job_id>/bad-rows.csv")
def bad_rows(app_key: str, job_id: int):
    found = _own_job(app_key, job_id)
    path = found["payload"].get("bad_rows")
    if not path or not Path(path).is_file() or Path(path).parent != _folder():
        abort(404)
    stem = Path(found["payload"].get("filename") or "import").stem
    return send_file(path, mimetype="text/csv", as_attachment=True, download_name=f"{stem}-errors.csv")
