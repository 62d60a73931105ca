"""Web fixtures: the Flask app over a migrated database (the `database_url`
fixture of tests/conftest.py: a fresh SQLite file, or FORMLOOM_TEST_DATABASE_URL),
a small support-desk app installed from documents (not the CRM), users with
roles, and a client that logs in and sends CSRF tokens like a browser."""
from __future__ import annotations

import copy
import re
from dataclasses import dataclass

import pytest

from formloom.app import create_app
from formloom.auth.users import create_user, load_actor
from formloom.store.install import install_documents
from formloom.store.records import create_record

from .desk import CASE_FLOW, desk_app

PASSWORD = "correct-horse-9"


@pytest.fixture
def app(database_url, tmp_path):
    flask_app = create_app({
        "DATABASE_URL": database_url,
        "SECRET_KEY": "test-secret",
        "INSTANCE": str(tmp_path / "instance"),
        "WTF_CSRF_ENABLED": True,
        "MAX_CONTENT_LENGTH": 64_000,
    })
    install_documents(flask_app.extensions["formloom.db"], desk_app(), {"case_flow": copy.deepcopy(CASE_FLOW)})
    yield flask_app
    flask_app.extensions["formloom.db"].dispose()


@dataclass
class People:
    admin: int
    agent: int
    other_agent: int
    viewer: int
    outsider: int


@pytest.fixture
def people(app) -> People:
    db = app.extensions["formloom.db"]
    with db.write() as conn:
        ids = People(
            admin=create_user(conn, "admin@example.com", PASSWORD, name="Ada Admin", roles=[("desk", "admin")]),
            agent=create_user(conn, "agent@example.com", PASSWORD, name="Alex Agent", roles=[("desk", "agent")]),
            other_agent=create_user(conn, "other@example.com", PASSWORD, name="Olga Other",
                                    roles=[("desk", "agent")]),
            viewer=create_user(conn, "viewer@example.com", PASSWORD, name="Vic Viewer", language="zh",
                               roles=[("desk", "viewer")]),
            outsider=create_user(conn, "outsider@example.com", PASSWORD, name="Out Sider"),
        )
    return ids


_TOKEN = re.compile(r'name="csrf_token" value="([^"]+)"')


class Browser:
    """A test client that behaves like a person with a browser: logs in through the
    form and sends the CSRF token a page gave it."""

    def __init__(self, client):
        self.client = client

    def csrf_token(self, path: str = "/login") -> str:
        page = self.client.get(path).get_data(as_text=True)
        match = _TOKEN.search(page)
        assert match, f"no CSRF token on {path}"
        return match.group(1)

    def login(self, email: str, password: str = PASSWORD, **extra):
        token = self.csrf_token("/login")
        return self.client.post("/login", data={"email": email, "password": password, "csrf_token": token, **extra})

    def logout(self):
        return self.client.post("/logout", data={"csrf_token": self.csrf_token("/")})

    def post(self, path: str, data: dict | None = None, token_from: str | None = None, **kw):
        token = self.csrf_token(token_from or "/")
        return self.client.post(path, data={**(data or {}), "csrf_token": token}, **kw)

    def get(self, path: str, **kw):
        return self.client.get(path, **kw)


@pytest.fixture
def browser(app, people) -> Browser:
    return Browser(app.test_client())


@pytest.fixture
def as_agent(browser) -> Browser:
    assert browser.login("agent@example.com").status_code == 302
    return browser


@pytest.fixture
def as_admin(browser) -> Browser:
    assert browser.login("admin@example.com").status_code == 302
    return browser


@pytest.fixture
def make_record(app, people):
    """Store a record directly (as `actor`, default the agent); returns the Record."""
    from formloom.store.apps import AppCatalog
    db = app.extensions["formloom.db"]

    def make(entity_key: str, data: dict, actor: int | None = None):
        catalog: AppCatalog = app.extensions["formloom.catalog"]
        desk, version_id = catalog.get("desk")
        with db.write() as conn:
            return create_record(conn, desk, desk.entity(entity_key), data,
                                 actor_id=actor or people.agent, version_id=version_id)
    return make


@pytest.fixture
def actor_of(app):
    def load(user_id: int):
        with app.extensions["formloom.db"].read() as conn:
            return load_actor(conn, user_id)
    return load
