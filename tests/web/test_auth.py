"""Logging in and out, sessions, CSRF and the language switch."""
from __future__ import annotations

from sqlalchemy import delete, update

from formloom.auth.users import set_roles
from formloom.store.tables import memberships, users


def test_login_page_renders_with_a_csrf_token(browser):
    page = browser.get("/login")
    assert page.status_code == 200
    assert 'name="csrf_token"' in page.get_data(as_text=True)


def test_login_with_the_right_password_opens_the_home_page(browser):
    response = browser.login("agent@example.com")
    assert response.status_code == 302
    assert response.headers["Location"] == "/"
    home = browser.get("/").get_data(as_text=True)
    assert "Alex Agent" in home
    assert "Support desk" in home


def test_login_with_a_wrong_password_is_refused_without_saying_which_part_was_wrong(browser):
    response = browser.login("agent@example.com", "wrong-password")
    assert response.status_code == 422
    assert "The email or the password is not right." in response.get_data(as_text=True)
    assert browser.get("/").status_code == 302


def test_unknown_email_gets_the_same_answer_as_a_wrong_password(browser):
    response = browser.login("nobody@example.com")
    assert response.status_code == 422
    assert "The email or the password is not right." in response.get_data(as_text=True)


def test_login_without_csrf_token_is_refused(browser):
    response = browser.client.post("/login", data={"email": "agent@example.com", "password": "correct-horse-9"})
    assert response.status_code == 400
    assert "expired" in response.get_data(as_text=True)


def test_login_clears_whatever_the_session_held_before(browser):
    browser.get("/login")
    with browser.client.session_transaction() as session:
        session["planted"] = "by-an-attacker"
    browser.login("agent@example.com")
    with browser.client.session_transaction() as session:
        assert "planted" not in session
        assert session["_user_id"].startswith(f"{session['_user_id'].split(':')[0]}:")


def test_login_never_redirects_to_another_site(browser):
    for target in ("//evil.example/x", "https://evil.example/", "/\\evil.example"):
        response = browser.login("agent@example.com", next=target)
        assert response.headers["Location"] == "/"
        browser.logout()


def test_login_returns_to_the_page_that_asked_for_it(browser):
    first = browser.get("/apps/desk/case/")
    assert first.status_code == 302
    assert first.headers["Location"].startswith("/login?next=")
    response = browser.login("agent@example.com", next="/apps/desk/case/")
    assert response.headers["Location"] == "/apps/desk/case/"


def test_logout_is_a_post_and_ends_the_session(as_agent):
    assert as_agent.get("/logout").status_code == 405
    response = as_agent.logout()
    assert response.status_code == 302
    assert as_agent.get("/").status_code == 302


def test_logout_without_csrf_token_is_refused(as_agent):
    assert as_agent.client.post("/logout").status_code == 400
    assert as_agent.get("/").status_code == 200


def test_a_bumped_session_epoch_ends_existing_sessions(app, as_agent, people):
    assert as_agent.get("/").status_code == 200
    with app.extensions["formloom.db"].write() as conn:
        conn.execute(update(users).where(users.c.id == people.agent).values(session_epoch=1))
    assert as_agent.get("/").status_code == 302


def test_a_deactivated_user_is_logged_out_on_the_next_request(app, as_agent, people):
    with app.extensions["formloom.db"].write() as conn:
        conn.execute(update(users).where(users.c.id == people.agent).values(active=False))
    assert as_agent.get("/").status_code == 302


def test_a_user_deactivated_between_two_record_pages_is_refused_the_second(app, as_agent, people, make_record):
    case = make_record("case", {"subject": "Mine"})
    assert as_agent.get(f"/apps/desk/case/{case.id}").status_code == 200
    with app.extensions["formloom.db"].write() as conn:
        conn.execute(update(users).where(users.c.id == people.agent).values(active=False))
    response = as_agent.get(f"/apps/desk/case/{case.id}")
    assert response.status_code == 302 and response.headers["Location"].startswith("/login")


def test_a_role_given_or_taken_counts_from_the_very_next_request(app, as_agent, people, make_record):
    theirs = make_record("case", {"subject": "Not mine"}, actor=people.other_agent)
    page = f"/apps/desk/case/{theirs.id}"
    assert as_agent.get(page).status_code == 404              # an agent reads its own cases only
    db = app.extensions["formloom.db"]
    with db.write() as conn:
        set_roles(conn, people.agent, [("desk", "viewer")])   # viewers read every case
    assert as_agent.get(page).status_code == 200
    with db.write() as conn:
        conn.execute(delete(memberships).where(memberships.c.user_id == people.agent,
                                               memberships.c.role == "viewer"))
    assert as_agent.get(page).status_code == 404
    with db.write() as conn:
        conn.execute(delete(memberships).where(memberships.c.user_id == people.agent))
    assert as_agent.get("/apps/desk/case/").status_code in (403, 404)    # no role in the app at all


def test_htmx_requests_without_a_session_are_told_where_to_log_in(browser):
    response = browser.get("/apps/desk/case/", headers={"HX-Request": "true"})
    assert response.status_code == 401
    assert response.headers["HX-Redirect"].startswith("/login")


def test_language_switch_is_remembered_for_the_user(app, as_agent, people, actor_of):
    response = as_agent.post("/language", {"lang": "zh", "next": "/apps/desk/case/"})
    assert response.status_code == 302
    assert response.headers["Location"] == "/apps/desk/case/"
    assert actor_of(people.agent).language == "zh"
    page = as_agent.get("/apps/desk/case/").get_data(as_text=True)
    assert "退出登录" in page            # "Log out"
    assert "工单" in page                # the entity label in Chinese


def test_the_users_language_is_used_after_login(browser):
    browser.login("viewer@example.com")          # the viewer's language is zh
    page = browser.get("/").get_data(as_text=True)
    assert 'lang="zh-CN"' in page
    assert "支持台" in page


def test_an_unknown_language_is_ignored(as_agent, people, actor_of):
    as_agent.post("/language", {"lang": "xx"})
    assert actor_of(people.agent).language == "en"


def test_anonymous_visitors_can_switch_the_login_page_language(browser):
    browser.post("/language", {"lang": "zh", "next": "/login"}, token_from="/login")
    assert "登录" in browser.get("/login").get_data(as_text=True)
