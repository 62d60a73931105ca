"""The parts every soak scenario needs: a database of its own (a SQLite file, or a
PostgreSQL schema), the helpdesk test app installed, a token, `formloom run` and a
worker as child processes on loopback, and a small keep-alive JSON client."""
from __future__ import annotations

import http.client
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.engine import make_url

ROOT = Path(__file__).resolve().parents[1]
HELPDESK = ROOT / "tests" / "apps" / "helpdesk"
PASSWORD = "soak-horse-battery-9"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def child_env(url: str, workdir: Path) -> dict:
    env = dict(os.environ)
    env.update(DATABASE_URL=url, FORMLOOM_INSTANCE=str(workdir / "instance"), SECRET_KEY="soak-secret",
               PYTHONPATH=os.pathsep.join([str(ROOT / "platform"), str(ROOT), env.get("PYTHONPATH", "")]))
    return env


@dataclass
class Backend:
    """One database for one soak run; `url` is what the server and worker are given."""

    name: str
    url: str
    workdir: Path
    sqlite_path: Path | None = None
    pg_schema: str | None = None
    pg_admin_url: str | None = None

    @classmethod
    def sqlite(cls) -> "Backend":
        workdir = Path(tempfile.mkdtemp(prefix="formloom-soak-"))
        path = workdir / "soak.db"
        return cls("SQLite", f"sqlite:///{path}", workdir, sqlite_path=path)

    @classmethod
    def postgres(cls, admin_url: str) -> "Backend":
        from formloom.store.db import Database
        workdir = Path(tempfile.mkdtemp(prefix="formloom-soak-"))
        schema = f"formloom_soak_{os.getpid()}_{uuid.uuid4().hex[:6]}"
        engine = Database(admin_url).engine
        with engine.begin() as conn:
            conn.execute(text(f"CREATE SCHEMA {schema}"))
        engine.dispose()
        url = make_url(admin_url).update_query_dict({
            "options": f"-csearch_path={schema}", "application_name": schema}).render_as_string(hide_password=False)
        return cls("PostgreSQL", url, workdir, pg_schema=schema, pg_admin_url=admin_url)

    def drop(self) -> None:
        if self.pg_schema:
            from formloom.store.db import Database
            engine = Database(self.pg_admin_url).engine
            with engine.begin() as conn:
                conn.execute(text(f"DROP SCHEMA IF EXISTS {self.pg_schema} CASCADE"))
            engine.dispose()
        shutil.rmtree(self.workdir, ignore_errors=True)


def postgres_reachable(url: str) -> bool:
    from formloom.store.db import Database
    try:
        db = Database(url)
        with db.engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        db.dispose()
        return True
    except Exception:
        return False


@dataclass
class Site:
    """The migrated database with the helpdesk app, an admin and an API token."""

    backend: Backend
    admin_id: int
    token: str
    db: object = field(repr=False)

    @classmethod
    def prepare(cls, backend: Backend) -> "Site":
        from formloom.auth.tokens import create_token
        from formloom.auth.users import create_user
        from formloom.store.db import Database
        from formloom.store.install import install_path
        from formloom.store.migrate import upgrade
        upgrade(backend.url)
        db = Database(backend.url)
        install_path(db, HELPDESK)
        with db.write() as conn:
            admin = create_user(conn, "soak-admin@example.com", PASSWORD, name="Soak Admin",
                                roles=[("helpdesk", "admin")])
            token = create_token(conn, admin, "soak")[1]
        return cls(backend, admin, token, db)

    def scalar(self, sql: str, **params):
        with self.db.read() as conn:
            return conn.execute(text(sql), params).scalar()

    def rows(self, sql: str, **params):
        with self.db.read() as conn:
            return conn.execute(text(sql), params).all()


class Child:
    """A child process (`formloom run` or a worker) that can be killed with SIGKILL."""

    def __init__(self, args: list[str], env: dict, log: Path):
        self.log = open(log, "ab")
        self.proc = subprocess.Popen(args, env=env, stdout=self.log, stderr=subprocess.STDOUT,
                                     start_new_session=True)

    def kill9(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=30)
        self.log.close()

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.send_signal(signal.SIGKILL)
                self.proc.wait(timeout=10)
        self.log.close()


#: root passes file modes by; the server runs without that power (when setpriv can drop it),
#: so a database file made read-only stops it as it would stop a service account
_NO_ROOT_OVERRIDE = (["setpriv", "--inh-caps=-dac_override", "--bounding-set=-dac_override", "--"]
                     if os.geteuid() == 0 and shutil.which("setpriv") else [])


class Server(Child):
    """`formloom run` on 127.0.0.1 and a port of its own."""

    def __init__(self, site: Site, port: int | None = None):
        self.port = port or free_port()
        backend = site.backend
        super().__init__([*_NO_ROOT_OVERRIDE, sys.executable, "-m", "formloom", "run", "--host", "127.0.0.1", "--port", str(self.port),
                          "--threads", "16"], child_env(backend.url, backend.workdir), backend.workdir / "server.log")
        self.started = time.monotonic()
        self.wait_ready()

    def wait_ready(self, timeout: float = 60) -> float:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"the server exited with {self.proc.returncode}; see {self.log.name}")
            try:
                status, _ = Client(self.port, None, timeout=2).call("GET", "/healthz")
                if status == 200:
                    return time.monotonic() - self.started
            except OSError:
                pass
            time.sleep(0.1)
        raise RuntimeError("the server did not answer /healthz in time")


class Worker(Child):
    """`python -m soak.worker`: the automation worker with a short lease, so a job a killed
    worker had claimed is taken over within seconds rather than five minutes."""

    def __init__(self, site: Site, lease: float):
        backend = site.backend
        super().__init__([sys.executable, "-m", "soak.worker", str(lease)],
                         child_env(backend.url, backend.workdir), backend.workdir / "worker.log")


class Client:
    """One keep-alive HTTP connection speaking JSON with a Bearer token."""

    def __init__(self, port: int, token: str | None, timeout: float = 60):
        self.port, self.token, self.timeout = port, token, timeout
        self.conn: http.client.HTTPConnection | None = None

    def call(self, method: str, path: str, body: dict | None = None) -> tuple[int, dict | None]:
        """(status, JSON body); raises OSError (connection refused or reset) like a real client sees it."""
        if self.conn is None:
            self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=self.timeout)
        headers = {"Accept": "application/json"}
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        payload = None
        if body is not None:
            payload = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        try:
            self.conn.request(method, path, body=payload, headers=headers)
            response = self.conn.getresponse()
            raw = response.read()
        except (OSError, http.client.HTTPException) as error:
            self.close()
            raise OSError(str(error)) from None
        try:
            data = json.loads(raw) if raw else None
        except ValueError:
            data = None
        return response.status, data

    def close(self) -> None:
        if self.conn is not None:
            self.conn.close()
            self.conn = None
