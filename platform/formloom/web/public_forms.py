"""Public forms on the web: the page a visitor without an account fills in, and
the app admin's page that publishes, turns off, rotates and embeds them.

The visitor's page keeps no session: instead of the session-bound CSRF token it
carries a signed form token (itsdangerous, with the app's secret key) naming the
form and its current URL token, so a post forged elsewhere, or sent after the
URL was rotated, is refused. Posts are limited per client address
(PUBLIC_FORM_RATE_LIMIT), bounded in size (PUBLIC_FORM_MAX_BYTES), and a
honeypot input that people never see turns bots away with a thank-you page and
no record. A disabled, rotated or unknown token answers the same 404. Framing
is refused (frame-ancestors 'none') unless the admin named the sites that may
embed the form; then only that route says so in its CSP.
"""
from __future__ import annotations

import hashlib

from flask import Blueprint, abort, current_app, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import login_required
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer
from werkzeug.datastructures import MultiDict

from .. import public_forms as pf
from ..auth import policy
from ..auth.users import members_of
from ..definitions.model import LANGUAGES
from ..errors import ForbiddenError, NotFoundError, RecordInvalid
from ..fields import field_type
from ..forms import build_form_class, form_to_data
from ..layout import arrange
from .helpers import catalog, current_actor, db, lang, load_app, public_url, zone_for
from .records import FieldView

public_bp = Blueprint("public_forms", __name__)
admin_bp = Blueprint("public_forms_admin", __name__)

HONEYPOT = "_homepage"              # field keys never start with "_": no collision
FORM_TOKEN = "_form_token"
RATE_LIMIT_DEFAULT = "20 per minute"
MAX_BYTES_DEFAULT = 32_000
TOKEN_MAX_AGE = 24 * 3600           # seconds a page may stay open before its post is refused
CSP_FRAMED = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
              "connect-src 'self'; form-action 'self'; base-uri 'self'; object-src 'none'; frame-ancestors {}")


# -- the visitor's page ---------------------------------------------------------------------------------

def _serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.secret_key, salt="formloom.public-form")


def _fingerprint(form: pf.PublicForm) -> str:
    return hashlib.sha256(form.token.encode()).hexdigest()[:16]


def sign_form(form: pf.PublicForm) -> str:
    return _serializer().dumps({"f": form.id, "t": _fingerprint(form)})


def signed_for(form: pf.PublicForm, value: str) -> bool:
    max_age = int(current_app.config.get("PUBLIC_FORM_TOKEN_AGE", TOKEN_MAX_AGE))
    try:
        data = _serializer().loads(value or "", max_age=max_age)
    except (BadSignature, SignatureExpired):
        return False
    return isinstance(data, dict) and data.get("f") == form.id and data.get("t") == _fingerprint(form)


def _live_form(token: str):
    """(form, app, version id, entity) behind `token`, or 404 for anything else."""
    with db().read() as conn:
        form = pf.form_by_token(conn, token)
        if form is None:
            raise NotFoundError(_("This form is not available."))
        app, version_id = catalog().get(form.app_key, conn)
    entity = app.entity(form.entity_key)
    if entity is None:
        raise NotFoundError(_("This form is not available."))
    return form, app, version_id, entity


def _form_class(form: pf.PublicForm, app, entity):
    keys = [k for k in form.fields if entity.field(k) is not None and pf.offerable(entity.field(k))]
    return build_form_class(entity, lang(), only=keys, timezone=zone_for(app).key), keys


def _frame_headers(response, form: pf.PublicForm):
    if form.frame_origins:
        response.headers["Content-Security-Policy"] = CSP_FRAMED.format(" ".join(form.frame_origins))
        response.headers["X-Frame-Options"] = ""         # setup._security_headers leaves an empty one out
    return response


def _render(form, app, entity, wtform, keys, status=200, general=(), problems=()):
    extra: dict[str, list[str]] = {}
    for p in problems:
        extra.setdefault(p.field, []).append(p.message)
    fields = []
    for key in keys:
        bound = wtform.field_for(key)
        errors = list(bound.errors) + [m for m in extra.get(key, []) if m not in bound.errors]
        f = entity.field(key)
        fields.append(FieldView(f, bound, False, None, [], errors))
    general = list(general) + [p.message for p in problems if p.field not in keys]
    response = current_app.make_response((render_template(
        "public/form.html", form=form, app=app, entity=entity, fields=fields, general=general,
        groups=arrange(entity, fields, None, key_of=lambda view: view.f.key), open_sections=(),
        title=form.text("title", lang()), signed=sign_form(form), honeypot=HONEYPOT, form_token=FORM_TOKEN,
        action=url_for("public_forms.show", token=form.token), no_live=True, place=None, record=None,
        validate_url=""), status))
    return _frame_headers(response, form)


@public_bp.route("/f/<token>", methods=["GET", "POST"])
def show(token: str):
    if request.method == "POST":
        limit = int(current_app.config.get("PUBLIC_FORM_MAX_BYTES", MAX_BYTES_DEFAULT))
        if request.content_length is not None and request.content_length > limit:
            abort(413)
        request.max_content_length = limit
    form, app, version_id, entity = _live_form(token)
    form_class, keys = _form_class(form, app, entity)
    if request.method == "GET":
        initial = {}
        for key in keys:
            f = entity.field(key)
            value = form.defaults.get(key, field_type(f.type).default_value(f))
            initial[form_class.field_names[key]] = field_type(f.type).form_value(f, value)
        return _render(form, app, entity, form_class(data=initial), keys)
    posted = MultiDict(request.form)
    if not signed_for(form, posted.get(FORM_TOKEN, "")):
        wtform = form_class(posted)
        return _render(form, app, entity, wtform, keys, 400,
                       general=[_("This page was open too long or the form has changed. Check your answers and send again.")])
    if posted.get(HONEYPOT):
        return redirect(url_for("public_forms.thanks", token=form.token), 303)   # a bot: nothing is stored
    wtform = form_class(posted)
    wtform.validate()
    if wtform.errors:
        return _render(form, app, entity, wtform, keys, 422, general=[_("Some values need attention.")])
    try:
        with db().write() as conn:
            pf.submit(conn, app, form, form_to_data(wtform, entity), lang=lang(), version_id=version_id)
    except RecordInvalid as invalid:
        return _render(form, app, entity, wtform, keys, 422, general=[_("Some values need attention.")],
                       problems=[p for p in invalid.problems if p.field in keys] or
                       [_Generic(_("This form cannot be sent right now. Please contact us another way."))])
    return redirect(url_for("public_forms.thanks", token=form.token), 303)


class _Generic:
    """A problem with a field the visitor cannot see: said without naming it."""

    field = ""

    def __init__(self, message: str):
        self.message = message


@public_bp.get("/f/<token>/thanks")
def thanks(token: str):
    form, app, _version_id, entity = _live_form(token)
    response = current_app.make_response(render_template(
        "public/thanks.html", form=form, title=form.text("title", lang()), message=form.text("thank_you", lang()),
        again=url_for("public_forms.show", token=form.token)))
    return _frame_headers(response, form)


# -- the admin's pages -------------------------------------------------------------------------------------

@admin_bp.before_request
@login_required
def _require_login():
    return None


def _admin_place(app_key: str):
    place = load_app(app_key)
    if not policy.is_app_admin(current_actor(), place.app):
        raise ForbiddenError(_("Only app admins may manage public forms."))
    return place


def _share(form: pf.PublicForm) -> dict:
    link = public_url(url_for("public_forms.show", token=form.token))
    snippet = None
    if form.frame_origins:
        snippet = (f'<iframe src="{link}" title="{form.text("title", lang())}" width="100%" height="720" '
                   f'style="border:0" loading="lazy"></iframe>')
    return {"link": link, "snippet": snippet}


@admin_bp.get("/apps/<app_key>/public-forms/")
def index(app_key: str):
    place = _admin_place(app_key)
    with db().read() as conn:
        forms = pf.list_forms(conn, place.app.key)
    used = {f.key for f in forms}
    presets = [p for p in pf.template_presets(place.app.key) if p.get("key") not in used
               and place.app.entity(str(p.get("entity", ""))) is not None]
    return render_template("public/admin_index.html", place=place, app=place.app,
                           forms=[(f, _share(f)) for f in forms], presets=presets)


def _plain(text: str, limit: int) -> str:
    """Text as people type it: control characters (NUL and the like, never wanted here) removed."""
    return "".join(ch for ch in text if ch in "\n\t" or ord(ch) >= 32).strip()[:limit]


def _settings_from_post(place, entity) -> dict:
    fields = [k for k in request.form.getlist("fields") if entity.field(k) is not None]
    default_keys = [f.key for f in pf.offerable_fields(entity) if request.form.get(f"default__{f.key}", "").strip()]
    defaults, problems = {}, []
    if default_keys:
        form_class = build_form_class(entity, lang(), only=default_keys, timezone=zone_for(place.app).key)
        posted = MultiDict({k: request.form.get(f"default__{k}", "") for k in default_keys})
        wtform = form_class(posted)
        wtform.validate()
        for key, messages in wtform.errors.items():
            f = entity.field(key)
            problems += [f"{f.label.get(lang()) if f else key}: {m}" for m in messages]
        if not problems:
            defaults = {k: v for k, v in form_to_data(wtform, entity).items() if v not in (None, "", [])}
    owner_raw = request.form.get("owner", "")
    origins = [o.strip().rstrip("/") for o in request.form.get("frame_origins", "").split() if o.strip()]
    return {"key": request.form.get("key", "").strip()[:63], "fields": fields, "defaults": defaults,
            "title": {code: _plain(request.form.get(f"title_{code}", ""), 200) for code in LANGUAGES},
            "thank_you": {code: _plain(request.form.get(f"thank_you_{code}", ""), 2000) for code in LANGUAGES},
            "owner_id": int(owner_raw) if owner_raw.isdigit() else None, "frame_origins": origins,
            "enabled": request.form.get("enabled") == "1", "problems": problems}


def _edit_page(place, entity, values: dict, form: pf.PublicForm | None, problems=(), status=200):
    with db().read() as conn:
        owners = members_of(conn, place.app.key)
    defaults_text = {}
    for f in pf.offerable_fields(entity):
        value = (values.get("defaults") or {}).get(f.key)
        if value is not None:
            shown = field_type(f.type).form_value(f, value)
            defaults_text[f.key] = "" if shown is None else str(shown)
    entities = [e for e in place.app.entities if pf.offerable_fields(e)]
    return render_template("public/admin_edit.html", place=place, app=place.app, entity=entity, entities=entities,
                           offerable=pf.offerable_fields(entity),
                           private=[f for f in entity.fields if not pf.offerable(f) and not f.is_computed],
                           values=values, defaults_text=defaults_text, form=form, owners=owners,
                           problems=list(problems), languages=LANGUAGES,
                           share=_share(form) if form else None), status


def _entity_arg(place, name: str):
    entity = place.app.entity(name)
    if entity is None:
        raise NotFoundError(_("There is no %(key)s here.", key=name))
    return entity


@admin_bp.route("/apps/<app_key>/public-forms/new", methods=["GET", "POST"])
def new(app_key: str):
    place = _admin_place(app_key)
    if request.method == "GET":
        preset = next((p for p in pf.template_presets(place.app.key) if p.get("key") == request.args.get("preset")), None)
        if preset is not None:
            entity = _entity_arg(place, str(preset.get("entity", "")))
            values = {"key": preset["key"], "fields": list(preset.get("fields") or ()),
                      "defaults": dict(preset.get("defaults") or {}), "title": dict(preset.get("title") or {}),
                      "thank_you": dict(preset.get("thank_you") or {}), "owner_id": None, "frame_origins": [],
                      "enabled": True}
        else:
            entity = _entity_arg(place, request.args.get("entity") or place.app.entities[0].key)
            values = {"key": "", "fields": [], "defaults": {}, "title": {}, "thank_you": {}, "owner_id": None,
                      "frame_origins": [], "enabled": True}
        return _edit_page(place, entity, values, None)
    entity = _entity_arg(place, request.form.get("entity", ""))
    values = _settings_from_post(place, entity)
    return _save(place, entity, values, None)


def _save(place, entity, values: dict, form_id: int | None):
    problems = values.pop("problems")
    if not problems:
        try:
            with db().write() as conn:
                saved = pf.save_form(conn, place.app, key=values["key"], entity_key=entity.key,
                                     fields=values["fields"], defaults=values["defaults"], title=values["title"],
                                     thank_you=values["thank_you"], owner_id=values["owner_id"],
                                     frame_origins=values["frame_origins"], actor_id=current_actor().id,
                                     enabled=values["enabled"], form_id=form_id, lang=lang())
        except pf.PublicFormError as error:
            problems = error.problems
        else:
            return redirect(url_for("public_forms_admin.edit", app_key=place.app.key, form_id=saved.id), 303)
    form = None
    if form_id is not None:
        with db().read() as conn:
            form = pf.get_form(conn, place.app.key, form_id)
    return _edit_page(place, entity, values, form, problems, 422)


def _stored(place, form_id: int) -> pf.PublicForm:
    if form_id > 2**53:
        raise NotFoundError(_("There is no such public form."))
    with db().read() as conn:
        try:
            return pf.get_form(conn, place.app.key, form_id)
        except NotFoundError:
            raise NotFoundError(_("There is no such public form.")) from None


@admin_bp.route("/apps/<app_key>/public-forms/<int:form_id>", methods=["GET", "POST"])
def edit(app_key: str, form_id: int):
    place = _admin_place(app_key)
    form = _stored(place, form_id)
    entity = _entity_arg(place, form.entity_key)
    if request.method == "GET":
        values = {"key": form.key, "fields": list(form.fields), "defaults": dict(form.defaults),
                  "title": dict(form.title), "thank_you": dict(form.thank_you), "owner_id": form.owner_id,
                  "frame_origins": list(form.frame_origins), "enabled": form.enabled}
        return _edit_page(place, entity, values, form)
    return _save(place, entity, _settings_from_post(place, entity), form.id)


@admin_bp.post("/apps/<app_key>/public-forms/<int:form_id>/rotate")
def rotate(app_key: str, form_id: int):
    place = _admin_place(app_key)
    _stored(place, form_id)
    with db().write() as conn:
        pf.rotate_token(conn, place.app.key, form_id)
    return redirect(url_for("public_forms_admin.edit", app_key=app_key, form_id=form_id), 303)


@admin_bp.post("/apps/<app_key>/public-forms/<int:form_id>/enabled")
def toggle(app_key: str, form_id: int):
    place = _admin_place(app_key)
    _stored(place, form_id)
    with db().write() as conn:
        pf.set_enabled(conn, place.app.key, form_id, request.form.get("enabled") == "1")
    return redirect(url_for("public_forms_admin.index", app_key=app_key), 303)


@admin_bp.app_template_global()
def public_forms_allowed(app_def) -> bool:
    return policy.is_app_admin(current_actor(), app_def)


def init_app(app, csrf, limiter) -> None:
    """Register both blueprints; the visitor's posts skip the session CSRF token (they carry a
    signed form token instead) and are rate limited per client address."""
    app.config.setdefault("PUBLIC_FORM_RATE_LIMIT", RATE_LIMIT_DEFAULT)
    csrf.exempt(public_bp)
    app.register_blueprint(public_bp)
    app.register_blueprint(admin_bp)
    limited = limiter.limit(lambda: app.config["PUBLIC_FORM_RATE_LIMIT"], methods=["POST"], scope="public_form")
    app.view_functions["public_forms.show"] = limited(app.view_functions["public_forms.show"])
