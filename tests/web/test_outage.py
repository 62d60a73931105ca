"""A database outage is a 503 with Retry-After, never a 500: a styled page for people
that needs no database, JSON for the API. The health endpoints tell liveness,
health (read and write) and readiness apart. Each test runs on the suite's database:
a SQLite file, or PostgreSQL when FORMLOOM_TEST_DATABASE_URL is set."""
from __future__ import annotations

import socket
import uuid

import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url

from formloom.store.db import make_engine

from .api_client import Api, token_for  # noqa: F401  (fixture)


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]        # nothing listens there once the socket is closed


def _swap_engine(app, url: str) -> None:
    db = app.extensions["formloom.db"]
    db.engine.dispose()
    db.engine = make_engine(url)


def cut_database(app) -> None:
    """The database disappears: PostgreSQL on a closed port, SQLite in a folder that does not exist."""
    url = make_url(app.extensions["formloom.db"].url)
    if url.get_backend_name() == "sqlite":
        _swap_engine(app, "sqlite:////nonexistent-folder-formloom/gone.db")
    else:
        _swap_engine(app, url.set(host="127.0.0.1", port=_closed_port()).render_as_string(hide_password=False))


def make_read_only(app) -> None:
    """The database answers but refuses writes: a read-only SQLite file, a read-only PostgreSQL."""
    url = make_url(app.extensions["formloom.db"].url)
    if url.get_backend_name() == "sqlite":
        _swap_engine(app, f"sqlite:///file:{url.database}?mode=ro&uri=true")
    else:
        options = (url.query.get("options") or "") + " -cdefault_transaction_read_only=on"
        _swap_engine(app, url.update_query_dict({"options": options.strip()}).render_as_string(hide_password=False))


def restore(app) -> None:
    _swap_engine(app, app.extensions["formloom.db"].url)


@pytest.fixture
def agent_token(people, token_for):
    return token_for(people.agent)


def _assert_outage_page(response):
    assert response.status_code == 503
    assert int(response.headers["Retry-After"]) > 0
    body = response.get_data(as_text=True)
    assert "The service is not available right now." in body
    assert "/static/css/formloom.css" in body                  # styled like every page
    assert "Traceback" not in body and "Internal Server Error" not in body


@pytest.mark.parametrize("path", ["/", "/apps/desk/case/", "/profile/", "/notifications", "/no/such/page"])
def test_pages_answer_a_styled_503_when_the_database_is_gone(app, as_agent, path):
    cut_database(app)
    _assert_outage_page(as_agent.get(path))


def test_the_outage_page_is_in_the_persons_language(app, as_agent):
    as_agent.post("/language", {"lang": "zh"})
    cut_database(app)
    response = as_agent.get("/apps/desk/case/")
    assert response.status_code == 503
    assert "服务暂时不可用" in response.get_data(as_text=True)


def test_a_form_sent_during_an_outage_answers_503(app, as_agent):
    token = as_agent.csrf_token("/apps/desk/company/new")
    cut_database(app)
    response = as_agent.client.post("/apps/desk/company/new", data={"name": "Acme", "csrf_token": token})
    _assert_outage_page(response)


def test_the_api_answers_json_503_when_the_database_is_gone(app, agent_token):
    api = Api(app.test_client(), agent_token)
    assert api.get("/api/v1/desk/case").status_code == 200
    cut_database(app)
    for response in (api.get("/api/v1/desk/case"), api.post("/api/v1/desk/company", json={"data": {"name": "A"}}),
                     api.get("/api/v1/notifications")):
        assert response.status_code == 503
        assert response.headers["Retry-After"]
        assert response.get_json()["error"]["code"] == "unavailable"


def test_the_login_page_still_renders_and_logging_in_answers_503(app, browser):
    token = browser.csrf_token("/login")
    cut_database(app)
    assert browser.get("/login").status_code == 200
    response = browser.client.post("/login", data={"email": "agent@example.com", "password": "x" * 9,
                                                   "csrf_token": token})
    _assert_outage_page(response)


def test_writes_to_a_read_only_database_answer_503_while_reads_work(app, as_agent, make_record):
    make_record("company", {"name": "Acme"})
    token = as_agent.csrf_token("/apps/desk/company/new")
    make_read_only(app)
    assert as_agent.get("/apps/desk/company/").status_code == 200
    response = as_agent.client.post("/apps/desk/company/new", data={"name": "Beta", "csrf_token": token})
    _assert_outage_page(response)


def test_health_endpoints_when_all_is_well(app, browser):
    for path in ("/livez", "/healthz", "/readyz"):
        response = browser.get(path)
        assert (response.status_code, response.get_json()) == (200, {"status": "ok"}), path


def test_healthz_reports_a_database_that_cannot_be_written(app, browser):
    make_read_only(app)
    response = browser.get("/healthz")
    assert response.status_code == 503 and response.headers["Retry-After"]
    assert response.get_json() == {"status": "unavailable", "failed": ["database_write"]}
    assert browser.get("/readyz").status_code == 503
    assert browser.get("/livez").status_code == 200


def test_with_the_database_gone_only_liveness_answers_ok(app, browser):
    cut_database(app)
    assert browser.get("/livez").status_code == 200
    health = browser.get("/healthz")
    assert health.status_code == 503
    assert health.get_json()["failed"] == ["database_read", "database_write"]
    assert browser.get("/readyz").status_code == 503


def test_readyz_wants_the_schema_at_the_migration_head(app, browser):
    db = app.extensions["formloom.db"]
    with db.write() as conn:
        head = conn.execute(text("SELECT version_num FROM alembic_version")).scalar_one()
        conn.execute(text("UPDATE alembic_version SET version_num = '0001'"))
    try:
        response = browser.get("/readyz")
        assert response.status_code == 503 and response.get_json()["failed"] == ["database_schema"]
        assert browser.get("/healthz").status_code == 200
    finally:
        with db.write() as conn:
            conn.execute(text("UPDATE alembic_version SET version_num = :v"), {"v": head})


def test_the_outage_ends_when_the_database_comes_back(app, as_agent):
    cut_database(app)
    assert as_agent.get("/apps/desk/case/").status_code == 503
    restore(app)
    assert as_agent.get("/apps/desk/case/").status_code == 200
    assert as_agent.get("/healthz").status_code == 200


def test_postgres_connections_cut_under_the_app_are_replaced(app, as_agent):
    db = app.extensions["formloom.db"]
    if not db.is_postgres:
        pytest.skip("terminating server connections is a PostgreSQL scenario; SQLite has no server")
    name = f"formloom-outage-{uuid.uuid4().hex[:8]}"          # only this app's connections are cut
    _swap_engine(app, make_url(db.url).update_query_dict({"application_name": name}).render_as_string(
        hide_password=False))
    assert as_agent.get("/apps/desk/case/").status_code == 200
    with make_engine(db.url).connect() as admin:
        # the 5 s wait: the call returns once the backends are gone, as after a restart (the
        # pool notices an ended connection by what the server sent it before it went)
        cut = admin.execute(text("SELECT count(pg_terminate_backend(pid, 5000)) FROM pg_stat_activity "
                                 "WHERE application_name = :name"), {"name": name}).scalar_one()
        admin.commit()
    assert cut >= 1
    assert as_agent.get("/apps/desk/case/").status_code == 200
