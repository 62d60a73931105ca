"""User admin: who may see and change whom, escalation attempts, the last admin,
the first-run set-up (atomic under concurrency) and login rate limiting."""
from __future__ import annotations

import re
import threading

import pytest
from sqlalchemy import func, select

from formloom.auth.users import LastAdminError, create_first_superuser, create_user
from formloom.store.db import Database
from formloom.store.install import install_documents
from formloom.store.tables import memberships, users

from .conftest import PASSWORD, Browser



OTHER_APP = {"key": "shop", "label": "Shop", "version": 1, "timezone": "UTC", "roles": ["admin", "clerk"],
             "entities": [{"key": "item", "label": "Item", "title": "name", "permissions": {"clerk": {"read": "all"}},
                           "fields": [{"key": "name", "type": "text", "label": "Name"}]}]}


def rows(app):
    with app.extensions["formloom.db"].read() as conn:
        return (sorted(tuple(r) for r in conn.execute(select(memberships))),
                sorted(tuple(r) for r in conn.execute(select(users.c.id, users.c.active, users.c.is_superuser,
                                                             users.c.manager_id, users.c.name))))


def roles_of(app, user_id):
    with app.extensions["formloom.db"].read() as conn:
        return {(m.app_key, m.role) for m in conn.execute(select(memberships).where(memberships.c.user_id == user_id))}


@pytest.fixture
def shop(app, people):
    """A second app; the agent is its admin (and only an agent in desk)."""
    db = app.extensions["formloom.db"]
    install_documents(db, OTHER_APP, {})
    with db.write() as conn:
        conn.execute(memberships.insert().values(user_id=people.agent, app_key="shop", role="admin"))
        clerk = create_user(conn, "clerk@example.com", PASSWORD, roles=[("shop", "clerk")])
    return clerk


def test_non_admins_are_refused(as_agent):
    assert as_agent.get("/admin/users/").status_code == 403
    assert as_agent.post("/admin/users/new", {"email": "x@example.com", "role": "desk:admin"}).status_code == 403


def test_the_admin_lists_the_users_of_their_apps(as_admin):
    page = as_admin.get("/admin/users/").get_data(as_text=True)
    assert "agent@example.com" in page and "viewer@example.com" in page
    assert "outsider@example.com" not in page          # in no app of this admin


def test_an_admin_adds_a_user_with_roles_and_a_manager(app, as_admin, people, actor_of):
    response = as_admin.post("/admin/users/new", {"email": "New@Example.com", "name": "Nia New", "password": "long-enough-1",
                                                  "role": ["desk:agent"], "manager": str(people.agent)})
    assert response.status_code == 303
    new_id = int(response.headers["Location"].rsplit("/", 1)[1])
    new = actor_of(new_id)
    assert new.email == "new@example.com" and new.roles_in("desk") == {"agent"} and new.manager_id == people.agent
    assert Browser(app.test_client()).login("new@example.com", "long-enough-1").status_code == 302


def test_a_generated_password_is_shown_once(app, as_admin):
    response = as_admin.post("/admin/users/new", {"email": "gen@example.com", "role": ["desk:viewer"]})
    assert response.status_code == 201
    password = re.search(r'<code class="secret">([^<]+)</code>', response.get_data(as_text=True)).group(1)
    assert Browser(app.test_client()).login("gen@example.com", password).status_code == 302


def test_adding_needs_a_role(as_admin):
    assert as_admin.post("/admin/users/new", {"email": "norole@example.com"}).status_code == 422


def test_roles_are_replaced_per_app_and_apply_at_once(app, as_admin, people, actor_of):
    as_agent = Browser(app.test_client())
    as_agent.login("agent@example.com")
    assert as_agent.get("/apps/desk/case/").status_code == 200
    response = as_admin.post(f"/admin/users/{people.agent}", {"role": ["desk:viewer"], "active": "1",
                                                              "name": "Alex Agent", "manager": ""})
    assert response.status_code == 303
    assert actor_of(people.agent).roles_in("desk") == {"viewer"}
    assert as_agent.get("/apps/desk/case/new").status_code == 403


def test_deactivation_applies_on_the_next_request(app, as_admin, people):
    as_agent = Browser(app.test_client())
    as_agent.login("agent@example.com")
    response = as_admin.post(f"/admin/users/{people.agent}", {"role": ["desk:agent"], "active": "0",
                                                              "name": "Alex Agent", "manager": ""})
    assert response.status_code == 303
    assert as_agent.get("/").status_code == 302
    assert Browser(app.test_client()).login("agent@example.com").status_code == 422


def test_the_last_admin_cannot_be_demoted_or_deactivated(app, as_admin, people):
    before = rows(app)
    demote = as_admin.post(f"/admin/users/{people.admin}", {"role": ["desk:agent"], "active": "1",
                                                            "name": "Ada Admin", "manager": ""})
    assert demote.status_code == 422 and "last admin" in demote.get_data(as_text=True)
    assert rows(app) == before


def test_a_second_admin_makes_demotion_possible(app, as_admin, people):
    as_admin.post(f"/admin/users/{people.viewer}", {"role": ["desk:admin"], "active": "1", "name": "Vic Viewer",
                                                    "manager": ""})
    response = as_admin.post(f"/admin/users/{people.admin}", {"role": ["desk:agent"], "active": "1",
                                                              "name": "Ada Admin", "manager": ""})
    assert response.status_code == 303


def test_the_last_admin_rule_holds_in_the_store(app, people):
    from formloom.auth.users import replace_app_roles, set_active
    with app.extensions["formloom.db"].write() as conn:
        with pytest.raises(LastAdminError):
            replace_app_roles(conn, people.admin, "desk", {"agent"}, "admin")
        with pytest.raises(LastAdminError):
            set_active(conn, people.admin, False, {"desk": "admin"})


def test_one_cannot_deactivate_oneself(app, as_admin, people, shop):
    with app.extensions["formloom.db"].write() as conn:
        conn.execute(memberships.insert().values(user_id=people.viewer, app_key="desk", role="admin"))
    response = as_admin.post(f"/admin/users/{people.admin}", {"role": ["desk:admin"], "active": "0",
                                                              "name": "Ada Admin", "manager": ""})
    assert response.status_code == 422


# -- escalation ------------------------------------------------------------------------

def test_an_app_admin_cannot_grant_roles_in_another_app(app, people, shop):
    as_agent = Browser(app.test_client())           # admin of shop, only an agent in desk
    as_agent.login("agent@example.com")
    before = rows(app)
    for data in ({"role": ["shop:clerk", "desk:admin"]}, {"role": ["desk:agent", "shop:admin"]}):
        response = as_agent.post(f"/admin/users/{shop}", data)
        assert response.status_code == 403
    assert as_agent.post(f"/admin/users/{people.agent}", {"role": ["shop:admin", "desk:admin"]}).status_code == 403
    assert as_agent.post("/admin/users/new", {"email": "x@example.com", "role": ["desk:admin"]}).status_code == 403
    assert rows(app) == before


def test_unknown_roles_are_refused(app, as_admin, people):
    before = rows(app)
    assert as_admin.post(f"/admin/users/{people.agent}", {"role": ["desk:god"]}).status_code == 403
    assert rows(app) == before


def test_only_superusers_grant_superuser(app, as_admin, people, actor_of):
    before = rows(app)
    response = as_admin.post(f"/admin/users/{people.agent}", {"role": ["desk:agent"], "superuser": "1"})
    assert response.status_code == 403
    response = as_admin.post(f"/admin/users/{people.admin}", {"role": ["desk:admin"], "superuser": "1"})
    assert response.status_code == 403
    assert rows(app) == before and not actor_of(people.admin).is_superuser


def test_a_superuser_grants_superuser(app, people, actor_of):
    with app.extensions["formloom.db"].write() as conn:
        create_user(conn, "root@example.com", PASSWORD, is_superuser=True)
    root = Browser(app.test_client())
    root.login("root@example.com")
    assert "outsider@example.com" in root.get("/admin/users/").get_data(as_text=True)
    response = root.post(f"/admin/users/{people.outsider}", {"superuser": "1", "active": "1", "name": "Out Sider"})
    assert response.status_code == 303
    assert actor_of(people.outsider).is_superuser


def test_an_app_admin_cannot_change_the_account_of_someone_in_other_apps(app, people, shop):
    # the admin of desk sees the agent, who is also admin of shop: roles in desk yes, account no
    as_admin = Browser(app.test_client())
    as_admin.login("admin@example.com")
    before = rows(app)
    response = as_admin.post(f"/admin/users/{people.agent}", {"role": ["desk:agent"], "active": "0"})
    assert response.status_code == 403
    assert rows(app) == before
    page = as_admin.get(f"/admin/users/{people.agent}").get_data(as_text=True)
    assert 'name="active"' not in page
    assert as_admin.post(f"/admin/users/{people.agent}", {"role": ["desk:viewer"]}).status_code == 303


def test_users_outside_ones_apps_are_404(app, as_admin, people, shop):
    assert as_admin.get(f"/admin/users/{shop}").status_code == 404
    assert as_admin.get(f"/admin/users/{people.outsider}").status_code == 404
    assert as_admin.get("/admin/users/99999999999999999999999").status_code == 404


def test_a_manager_loop_is_refused(app, as_admin, people):
    as_admin.post(f"/admin/users/{people.viewer}", {"role": ["desk:viewer"], "active": "1", "name": "Vic Viewer",
                                                    "manager": str(people.other_agent)})
    response = as_admin.post(f"/admin/users/{people.other_agent}", {"role": ["desk:agent"], "active": "1",
                                                                    "name": "Olga Other", "manager": str(people.viewer)})
    assert response.status_code == 422


def test_names_with_markup_are_escaped(app, as_admin):
    as_admin.post("/admin/users/new", {"email": "xss@example.com", "name": "<img src=x onerror=alert(1)>",
                                       "password": "long-enough-1", "role": ["desk:viewer"]})
    page = as_admin.get("/admin/users/").get_data(as_text=True)
    assert "<img src=x" not in page and "&lt;img src=x" in page


# -- first run ---------------------------------------------------------------------------

def test_the_setup_page_exists_only_without_users(app, people):
    assert app.test_client().get("/setup").status_code == 404


def test_setup_creates_the_first_superuser_and_logs_in(database_url, tmp_path):
    from formloom.app import create_app
    flask_app = create_app({"DATABASE_URL": database_url, "SECRET_KEY": "s", "INSTANCE": str(tmp_path)})
    browser = Browser(flask_app.test_client())
    token = browser.csrf_token("/setup")
    response = browser.client.post("/setup", data={"email": "first@example.com", "password": "long-enough-1",
                                                   "name": "First", "csrf_token": token})
    assert response.status_code == 303
    assert "First" in browser.get("/").get_data(as_text=True)
    assert browser.client.get("/setup").status_code == 404
    flask_app.extensions["formloom.db"].dispose()


def test_concurrent_first_admin_setups_create_exactly_one(database_url):
    db = Database(database_url)
    results, errors = [], []
    barrier = threading.Barrier(8)

    def attempt(i):
        try:
            barrier.wait()
            with db.write() as conn:
                results.append(create_first_superuser(conn, f"admin{i}@example.com", "long-enough-1"))
        except Exception as error:        # pragma: no cover - reported below
            errors.append(error)

    threads = [threading.Thread(target=attempt, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    with db.read() as conn:
        count = conn.execute(select(func.count()).select_from(users)).scalar_one()
    db.dispose()
    assert errors == []
    assert count == 1 and len([r for r in results if r is not None]) == 1


# -- login rate limiting --------------------------------------------------------------

def test_login_attempts_are_rate_limited_per_address_and_email(app, people):
    browser = Browser(app.test_client())
    for _ in range(10):
        assert browser.login("agent@example.com", "wrong-password").status_code == 422
    blocked = browser.login("agent@example.com", "wrong-password")
    assert blocked.status_code == 429
    assert "Retry-After" in blocked.headers and "Too many requests" in blocked.get_data(as_text=True)
    assert browser.login("agent@example.com").status_code == 429           # even the right password waits
    assert browser.login("viewer@example.com").status_code == 302          # another account is not locked


def test_the_limit_can_live_in_redis(database_url, tmp_path, people_free_app_config):
    redis = pytest.importorskip("redis")
    try:
        redis.Redis.from_url("redis://127.0.0.1:6379/0").ping()
    except Exception:
        pytest.skip("no Redis at 127.0.0.1:6379")
    from formloom.app import create_app
    import uuid
    flask_app = create_app({**people_free_app_config(database_url, tmp_path), "REDIS_URL": "redis://127.0.0.1:6379/0",
                            "RATELIMIT_KEY_PREFIX": f"test-{uuid.uuid4().hex}", "LOGIN_RATE_LIMIT": "2 per minute"})
    assert type(flask_app.extensions["formloom.limiter"].storage).__name__ == "RedisStorage"
    browser = Browser(flask_app.test_client())
    statuses = [browser.login("nobody@example.com", "wrong-password").status_code for _ in range(3)]
    assert statuses == [422, 422, 429]
    flask_app.extensions["formloom.db"].dispose()


@pytest.fixture
def people_free_app_config():
    return lambda url, tmp: {"DATABASE_URL": url, "SECRET_KEY": "s", "INSTANCE": str(tmp)}
