"""Public forms (formloom.public_forms, web/public_forms.py) on the shipped CRM's lead
form: a visitor without an account creates a lead through the normal create path
(validation, audit, rules), sees nothing else, and is held back by the rate limit,
the honeypot, the size limit and the signed form token."""
from __future__ import annotations

import re

import pytest
from sqlalchemy import select

import formloom.resources
import formloom.store.install
from formloom import public_forms as pf
from formloom.app import create_app
from formloom.automation.worker import run_once
from formloom.auth.users import create_user
from formloom.store.records import create_record
from formloom.store.tables import audit, notifications, records

from .conftest import PASSWORD, Browser

LEAD = {"company": "Lumen Data", "contact_name": "Wang Fang", "phone": "138 0013 8000",
        "email": "wang@lumen.example", "needs": "BI dashboards for 40 analysts", "source": "referral"}


@pytest.fixture
def crm(database_url, tmp_path):
    flask_app = create_app({"DATABASE_URL": database_url, "SECRET_KEY": "public-forms",
                            "INSTANCE": str(tmp_path / "instance"), "WTF_CSRF_ENABLED": True})
    db = flask_app.extensions["formloom.db"]
    formloom.store.install.install_path(db, formloom.resources.template_dir("crm"))
    with db.write() as conn:
        ids = {"admin": create_user(conn, "boss@example.com", PASSWORD, name="Boss", roles=[("crm", "admin")]),
               "rep": create_user(conn, "rep@example.com", PASSWORD, name="Li Wei", roles=[("crm", "sales")]),
               "manager": create_user(conn, "mgr@example.com", PASSWORD, name="Ma", roles=[("crm", "manager")])}
    flask_app.ids = ids
    yield flask_app
    db.dispose()


def publish(crm, **changes):
    app_def, _version = crm.extensions["formloom.catalog"].get("crm")
    preset = next(p for p in pf.template_presets("crm") if p["key"] == "lead")
    settings = dict(key=preset["key"], entity_key="lead", fields=preset["fields"], defaults=preset["defaults"],
                    title=preset["title"], thank_you=preset["thank_you"], owner_id=None, frame_origins=[],
                    actor_id=crm.ids["admin"])
    settings.update(changes)
    with crm.extensions["formloom.db"].write() as conn:
        return pf.save_form(conn, app_def, **settings)


_SIGNED = re.compile(r'name="_form_token" value="([^"]+)"')


def fill(client, token: str, data: dict | None = None, **headers):
    page = client.get(f"/f/{token}", headers=headers)
    assert page.status_code == 200
    signed = _SIGNED.search(page.get_data(as_text=True)).group(1)
    return client.post(f"/f/{token}", data={**(data if data is not None else LEAD), "_form_token": signed},
                       headers=headers)


def leads(crm):
    with crm.extensions["formloom.db"].read() as conn:
        return conn.execute(select(records).where(records.c.entity_key == "lead")).all()


def test_a_visitor_creates_a_lead_that_rules_score_and_route(crm):
    form = publish(crm)
    client = crm.test_client()
    page = client.get(f"/f/{form.token}")
    assert page.status_code == 200
    assert "Set-Cookie" not in page.headers                    # no session for visitors
    html = page.get_data(as_text=True)
    for key in ("company", "contact_name", "phone", "email", "needs", "source"):
        assert f'name="{key}"' in html
    response = fill(client, form.token)
    assert response.status_code == 303 and response.headers["Location"].endswith(f"/f/{form.token}/thanks")
    thanks = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "A sales representative will contact you" in thanks
    [lead] = leads(crm)
    assert lead.data["company"] == "Lumen Data" and lead.stage == "new" and lead.owner_id is None
    assert lead.data["score"] == 100                               # referral 40 + needs 30 + email 30
    with crm.extensions["formloom.db"].read() as conn:
        entry = conn.execute(select(audit).where(audit.c.record_id == lead.id)).one()
        assert entry.action == "create" and entry.user_id is None and entry.via == "public form: lead"
    run_once(crm.extensions["formloom.db"], crm.extensions["formloom.catalog"])
    [lead] = leads(crm)
    assert lead.owner_id == crm.ids["rep"]                         # lead_route: round robin among sales
    with crm.extensions["formloom.db"].read() as conn:
        told = {r.user_id: r.subject for r in conn.execute(select(notifications))}
    assert crm.ids["rep"] in told and crm.ids["manager"] in told    # hot lead: the managers hear of it


def test_the_page_shows_only_the_form_and_ignores_anything_else_posted(crm):
    app_def, version = crm.extensions["formloom.catalog"].get("crm")
    with crm.extensions["formloom.db"].write() as conn:
        create_record(conn, app_def, app_def.entity("lead"), {**LEAD, "company": "Existing Secret Co"},
                      actor_id=crm.ids["rep"])
    form = publish(crm)
    client = crm.test_client()
    html = client.get(f"/f/{form.token}").get_data(as_text=True)
    assert "Existing Secret Co" not in html and "Li Wei" not in html
    assert 'name="score"' not in html and 'name="disqualify_reason"' not in html
    assert "hx-post" not in html                                   # no live validation through logged-in routes
    response = fill(client, form.token, {**LEAD, "company": "New Co", "disqualify_reason": "spam", "score": "1",
                                         "owner": str(crm.ids["admin"]), "owner_id": str(crm.ids["admin"])})
    assert response.status_code == 303
    new = [r for r in leads(crm) if r.data["company"] == "New Co"][0]
    assert "disqualify_reason" not in new.data or new.data["disqualify_reason"] is None
    assert new.owner_id is None and new.data["score"] == 100


def test_a_default_fills_what_the_visitor_left_empty(crm):
    form = publish(crm)
    response = fill(crm.test_client(), form.token, {**LEAD, "source": "", "email": ""})
    assert response.status_code == 303
    [lead] = leads(crm)
    assert lead.data["source"] == "website"


def test_invalid_values_are_explained_in_the_visitors_language(crm):
    form = publish(crm)
    response = fill(crm.test_client(), form.token, {**LEAD, "email": "not-an-email", "company": ""},
                    **{"Accept-Language": "zh-CN,zh;q=0.9"})
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert "请输入有效的电子邮件地址。" in html and "此项为必填项。" in html
    assert leads(crm) == []


def test_reference_and_user_fields_are_never_offered(crm):
    app_def, _version = crm.extensions["formloom.catalog"].get("crm")
    with crm.extensions["formloom.db"].write() as conn:
        with pytest.raises(pf.PublicFormError) as refused:
            pf.save_form(conn, app_def, key="deal", entity_key="opportunity", fields=["name", "customer"],
                         defaults={}, title={"en": "Deal"}, thank_you={}, owner_id=None, frame_origins=[],
                         actor_id=None)
    assert any("cannot be on a public form" in p for p in refused.value.problems)
    assert any("Customer is required" in p for p in refused.value.problems)


def test_the_honeypot_stores_nothing_and_says_thank_you(crm):
    form = publish(crm)
    response = fill(crm.test_client(), form.token, {**LEAD, "_homepage": "http://spam.example"})
    assert response.status_code == 303
    assert leads(crm) == []


def test_a_post_without_a_valid_signed_token_is_refused(crm):
    form = publish(crm)
    client = crm.test_client()
    assert client.post(f"/f/{form.token}", data=LEAD).status_code == 400
    assert client.post(f"/f/{form.token}", data={**LEAD, "_form_token": "forged"}).status_code == 400
    assert leads(crm) == []


def test_a_flood_is_held_back_by_the_rate_limit(crm):
    crm.config["PUBLIC_FORM_RATE_LIMIT"] = "5 per minute"
    form = publish(crm)
    client = crm.test_client()
    signed = _SIGNED.search(client.get(f"/f/{form.token}").get_data(as_text=True)).group(1)
    statuses = [client.post(f"/f/{form.token}", data={**LEAD, "company": f"Flood {i}", "_form_token": signed}).status_code
                for i in range(15)]
    assert statuses[:5] == [303] * 5 and set(statuses[5:]) == {429}
    assert len(leads(crm)) == 5
    assert client.get(f"/f/{form.token}").status_code == 200       # reading the form is not limited


def test_a_large_post_is_refused(crm):
    crm.config["PUBLIC_FORM_MAX_BYTES"] = 2000
    form = publish(crm)
    response = fill(crm.test_client(), form.token, {**LEAD, "needs": "x" * 5000})
    assert response.status_code == 413
    assert leads(crm) == []


def test_turned_off_and_rotated_links_answer_404(crm):
    form = publish(crm)
    client = crm.test_client()
    old_page = client.get(f"/f/{form.token}").get_data(as_text=True)
    old_signed = _SIGNED.search(old_page).group(1)
    db = crm.extensions["formloom.db"]
    with db.write() as conn:
        pf.set_enabled(conn, "crm", form.id, False)
    assert client.get(f"/f/{form.token}").status_code == 404
    assert client.post(f"/f/{form.token}", data={**LEAD, "_form_token": old_signed}).status_code == 404
    with db.write() as conn:
        pf.set_enabled(conn, "crm", form.id, True)
        rotated = pf.rotate_token(conn, "crm", form.id)
    assert rotated.token != form.token
    assert client.get(f"/f/{form.token}").status_code == 404
    assert client.get(f"/f/{rotated.token}").status_code == 200
    # a page opened before the rotation cannot post to the new link either
    assert client.post(f"/f/{rotated.token}", data={**LEAD, "_form_token": old_signed}).status_code == 400
    assert client.get("/f/" + "x" * 32).status_code == 404
    assert leads(crm) == []


def test_framing_is_refused_unless_the_admin_names_the_sites(crm):
    form = publish(crm)
    client = crm.test_client()
    page = client.get(f"/f/{form.token}")
    assert page.headers["X-Frame-Options"] == "DENY" and "frame-ancestors 'none'" in page.headers["Content-Security-Policy"]
    with crm.extensions["formloom.db"].write() as conn:
        app_def, _version = crm.extensions["formloom.catalog"].get("crm")
        pf.save_form(conn, app_def, key="lead", entity_key="lead", fields=list(form.fields), defaults=form.defaults,
                     title=form.title, thank_you=form.thank_you, owner_id=None,
                     frame_origins=["https://www.example.com"], actor_id=None, form_id=form.id)
    page = client.get(f"/f/{form.token}")
    assert "X-Frame-Options" not in page.headers
    assert "frame-ancestors https://www.example.com" in page.headers["Content-Security-Policy"]
    assert client.get("/login").headers["X-Frame-Options"] == "DENY"      # every other page still refuses


def test_the_admin_publishes_the_shipped_lead_form_from_the_admin_page(crm):
    admin = Browser(crm.test_client())
    assert admin.login("boss@example.com").status_code == 302
    index = admin.get("/apps/crm/public-forms/").get_data(as_text=True)
    assert 'data-preset="lead"' in index
    setup = admin.get("/apps/crm/public-forms/new?preset=lead").get_data(as_text=True)
    assert 'value="company" id="pf-on-company" checked' in setup
    data = {"entity": "lead", "key": "lead", "fields": ["company", "contact_name", "phone", "email", "needs", "source"],
            "title_en": "Tell us", "title_zh": "留下您的需求", "thank_you_en": "Thanks!", "thank_you_zh": "谢谢！",
            "default__source": "website", "owner": "", "frame_origins": "https://www.example.com", "enabled": "1"}
    saved = admin.post("/apps/crm/public-forms/new", data, token_from="/apps/crm/public-forms/new")
    assert saved.status_code == 303
    page = admin.get(saved.headers["Location"]).get_data(as_text=True)
    link = re.search(r'class="public-link" href="([^"]+)"', page).group(1)
    assert "&lt;iframe" in page
    with crm.extensions["formloom.db"].read() as conn:
        [form] = pf.list_forms(conn, "crm")
    assert link == f"/f/{form.token}" and form.defaults == {"source": "website"}
    bad = admin.post("/apps/crm/public-forms/new", {**data, "key": "other", "fields": ["company"],
                                                    "frame_origins": "javascript:alert(1)"},
                     token_from="/apps/crm/public-forms/new")
    assert bad.status_code == 422
    text = bad.get_data(as_text=True)
    assert "Contact name is required" in text and "is not a site address" in text


def test_only_app_admins_manage_public_forms(crm):
    rep = Browser(crm.test_client())
    assert rep.login("rep@example.com").status_code == 302
    assert rep.get("/apps/crm/public-forms/").status_code == 403
    form = publish(crm)
    assert rep.post(f"/apps/crm/public-forms/{form.id}/rotate", {}).status_code == 403


def test_odd_links_and_odd_input_never_cause_a_server_error(crm):
    client = crm.test_client()
    for path in ("/f/%00" + "a" * 30, "/f/" + "é" * 30, "/f/" + "a" * 200, "/f/a"):
        assert client.get(path).status_code == 404
        assert client.post(path, data=LEAD).status_code in (400, 404)
    admin = Browser(crm.test_client())
    assert admin.login("boss@example.com").status_code == 302
    assert admin.get("/apps/crm/public-forms/99999999999999999999999").status_code == 404
    for odd in ({"key": "lead\x00", "title_en": "Hi there"}, {"key": "ok_form", "title_en": "Hi\x00 there"}):
        response = admin.post("/apps/crm/public-forms/new", {
            "entity": "lead", "fields": ["company", "contact_name", "phone"], "enabled": "1", **odd},
            token_from="/apps/crm/public-forms/new")
        assert response.status_code == 400              # NUL is refused before any view runs (web/params.py)
    response = admin.post("/apps/crm/public-forms/new", {
        "entity": "lead", "key": "ok_form", "fields": ["company", "contact_name", "phone"],
        "title_en": "Hi there", "enabled": "1"}, token_from="/apps/crm/public-forms/new")
    assert response.status_code == 303
    with crm.extensions["formloom.db"].read() as conn:
        form = pf.list_forms(conn, "crm")[0]
    assert form.title["en"] == "Hi there"
    nul = fill(crm.test_client(), form.token, {**LEAD, "company": "A\x00B", "needs": "x\x00y"})
    assert nul.status_code == 400
    assert leads(crm) == []


@pytest.mark.parametrize("change", [
    {}, {"email": "not-an-email"}, {"phone": "12"}, {"source": "carrier_pigeon"}, {"company": "x" * 121},
    {"contact_name": ""}, {"needs": "y" * 2001}, {"email": ""}, {"source": ""},
], ids=lambda c: ",".join(c) or "valid")
def test_the_public_form_accepts_and_refuses_what_the_store_does(crm, change):
    """Agreement with the one definition: a value the public form refuses is one create_record
    refuses, and the other way round (the form only adds its defaults)."""
    from formloom.errors import RecordInvalid
    form = publish(crm)
    data = {**LEAD, **change}
    response = fill(crm.test_client(), form.token, data)
    app_def, _version = crm.extensions["formloom.catalog"].get("crm")
    incoming = {k: v for k, v in data.items() if v != ""}
    if not incoming.get("source"):
        incoming["source"] = "website"
    try:
        with crm.extensions["formloom.db"].write() as conn:
            create_record(conn, app_def, app_def.entity("lead"), incoming, actor_id=None)
            conn.rollback()
        store_accepts = True
    except RecordInvalid:
        store_accepts = False
    assert (response.status_code == 303) == store_accepts, response.get_data(as_text=True)[:300]
