"""New apps in the browser, for the platform's superusers: the template gallery ("use
this template" under a new key and label, with or without demo records) and an
upload of app.json or a zip; and, for an app's admins, downloading the app as
documents (the live version or the draft) to keep in git or install elsewhere."""
from __future__ import annotations

import re

from flask import Blueprint, Response, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import login_required

from ..auth import policy
from ..definitions.problems import DocumentError
from ..design import drafts, gallery
from ..errors import NotFoundError
from ..store.apps import current_version
from .designer import load_design
from .helpers import current_actor, db

bp = Blueprint("gallery", __name__)
_KEY = re.compile(r"^[a-z][a-z0-9_]{0,62}$")


@bp.before_request
@login_required
def _require_login():
    return None


@bp.app_template_global()
def new_app_url() -> str | None:
    return url_for("gallery.index") if policy.may_create_apps(current_actor()) else None


def _require_creator() -> None:
    if not policy.may_create_apps(current_actor()):
        raise NotFoundError(_("This page does not exist."))


def _key_and_label(default_key: str = "", default_label=None) -> tuple[str, object, str | None]:
    key = request.form.get("key", "").strip() or default_key
    texts = {code: request.form.get(f"label-{code}", "").strip() for code in ("en", "zh")}
    label = {k: v for k, v in texts.items() if v} or default_label
    if not _KEY.match(key):
        return key, label, _("Give the new app a key of lower-case letters, digits and _, starting with a letter.")
    if not label:
        return key, label, _("Give the new app a name.")
    return key, label, None


def _page(status: int = 200, **context):
    return render_template("designer/gallery.html", templates=gallery.templates(), **context), status


@bp.get("/apps/new")
def index():
    _require_creator()
    return _page()


@bp.post("/apps/new/template/<template_key>")
def use_template(template_key: str):
    _require_creator()
    template = gallery.template_named(template_key)
    if template is None:
        raise NotFoundError(_("There is no template %(key)s.", key=template_key))
    key, label, error = _key_and_label()
    if error:
        return _page(422, error=error, failed=template_key)
    actor = current_actor()
    try:
        gallery.use_template(db(), template, key=key, label=label, with_demo=request.form.get("demo") == "1",
                             user_id=actor.id if actor else None)
    except gallery.GalleryError as refused:
        return _page(422, error=_(refused.message), failed=template_key)
    return redirect(url_for("designer.overview", app_key=key), code=303)


@bp.post("/apps/new/upload")
def upload():
    _require_creator()
    sent = request.files.get("document")
    if sent is None or not sent.filename:
        return _page(422, upload_error=_("Choose an app.json or a zip file to upload."))
    try:
        app_doc, workflows = gallery.read_upload(sent.filename, sent.read())
        if not isinstance(app_doc, dict):
            raise gallery.GalleryError("This is not an app document.")
        key, label, error = _key_and_label(str(app_doc.get("key", "")), app_doc.get("label"))
        if error:
            return _page(422, upload_error=error)
        actor = current_actor()
        gallery.install_copy(db(), app_doc, workflows, key=key, label=label, user_id=actor.id if actor else None,
                             source=f"upload:{sent.filename[:200]}")
    except DocumentError as error:
        return _page(422, upload_error=_("The app has problems; nothing was installed."), problems=error.problems)
    except gallery.GalleryError as refused:
        return _page(422, upload_error=_(refused.message))
    return redirect(url_for("designer.overview", app_key=key), code=303)


@bp.get("/apps/<app_key>/design/download")
def download(app_key: str):
    """The live version (default) or the draft, as app.json or as a zip with its workflows."""
    load_design(app_key)
    with db().read() as conn:
        live = current_version(conn, app_key)
        draft = drafts.load_draft(conn, app_key) if request.args.get("what") == "draft" else None
    documents = drafts.documents_of(draft, live)
    name = f"{app_key}-draft" if draft is not None else f"{app_key}-v{live.number}"
    if request.args.get("format") == "zip":
        body, mimetype, filename = gallery.zip_documents(documents["app"], documents["workflows"]), \
            "application/zip", f"{name}.zip"
    else:
        body, mimetype, filename = gallery.render_document(documents["app"]), "application/json", f"{name}.json"
    return Response(body, mimetype=mimetype,
                    headers={"Content-Disposition": f'attachment; filename="{filename}"'})
