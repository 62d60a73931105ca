"""The `formloom` command. Every command exits non-zero with a one-line reason
on failure; a user error never prints a traceback."""
from __future__ import annotations

import functools
import sys
from pathlib import Path

import click

from .errors import FormloomError


def _one_line_errors(fn):
    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        from .definitions.problems import DocumentError
        try:
            return fn(*args, **kwargs)
        except DocumentError as error:
            for problem in error.problems:
                click.echo(str(problem), err=True)
            raise click.exceptions.Exit(1)
        except FormloomError as error:
            hint = f" ({error.hint})" if error.hint else ""
            click.echo(f"Error: {error.message}{hint}", err=True)
            raise click.exceptions.Exit(1)
        except OSError as error:
            click.echo(f"Error: {error.strerror or error}: {getattr(error, 'filename', '') or ''}".rstrip(": "), err=True)
            raise click.exceptions.Exit(1)
    return wrapper


def _database():
    """The database at DATABASE_URL, closed when the command ends (no pooled connection outlives it)."""
    from .config import settings_from_env
    from .store.db import Database
    db = Database(settings_from_env()["DATABASE_URL"])
    ctx = click.get_current_context(silent=True)
    if ctx is not None:
        ctx.call_on_close(db.dispose)
    return db


def _apps_named(db, app_key: str | None) -> list:
    """The app a maintenance command was given, or every installed app (rebuilds and checks of
    what the engine derives from records: search entries, typed slots, rollups)."""
    from .errors import NotFoundError
    from .store.apps import AppCatalog
    catalog = AppCatalog(db)
    if app_key:
        return [catalog.app(app_key)]
    apps = catalog.installed()
    if not apps:
        raise NotFoundError("No app is installed.")
    return apps


def _init_database(url: str) -> None:
    from sqlalchemy.exc import OperationalError
    from .store.migrate import upgrade
    try:
        upgrade(url)
    except OperationalError as error:
        raise FormloomError(f"Cannot reach the database: {str(error.orig).strip().splitlines()[0]}") from None


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="formloom")
def main() -> None:
    """Formloom: forms, records, pipelines and reminders from JSON documents."""


@main.command()
@_one_line_errors
def init() -> None:
    """Create or upgrade the database at DATABASE_URL."""
    from .config import settings_from_env
    url = settings_from_env()["DATABASE_URL"]
    _init_database(url)
    click.echo(f"Database ready: {_safe_url(url)}")


@main.command()
@click.argument("path", type=click.Path(path_type=Path))
@_one_line_errors
def install(path: Path) -> None:
    """Install or upgrade the app in a template folder (or an app.json)."""
    from .store.install import install_path
    db = _database()
    result = install_path(db, path)
    _warn_named_approvers(db, result.version.documents)
    if not result.changed:
        click.echo(f"App {result.app_key!r} is already at version {result.version.number}; nothing to do.")
        return
    click.echo(f"Installed app {result.app_key!r} version {result.version.number} ({result.version.content_hash[:12]}).")
    moved = _resync_reminders(result.app_key)
    if moved:
        click.echo(f"  rescheduled {moved} reminder(s) to follow the new rules")
    for name in result.archived:
        click.echo(f"  archived field {name} (its values are kept; put it back to restore)")
    for name in result.restored:
        click.echo(f"  restored field {name}")
    if result.converted:
        click.echo(f"  converted {result.converted} stored value(s) to the new field types")


def _warn_named_approvers(db, documents) -> None:
    """People named as approvers who have no account here (validate cannot know: accounts are data)."""
    from .workflow.approvers import named_approver_problems
    workflows = {key: (f"workflows/{key}.json", doc) for key, doc in (documents.get("workflows") or {}).items()}
    with db.read() as conn:
        for problem in named_approver_problems(conn, workflows):
            click.echo(f"warning: {problem}", err=True)


@main.command()
@_one_line_errors
def analyze() -> None:
    """Refresh the planner statistics of Formloom's tables (imports and demo data do it themselves)."""
    from .store.tables import metadata
    db = _database()
    for table in metadata.sorted_tables:        # its own tables only: the database may hold others
        db.analyze(table.name)
    click.echo("Statistics refreshed.")


@main.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
@_one_line_errors
def validate(paths: tuple[Path, ...]) -> None:
    """Check app and workflow documents; print every problem."""
    from .definitions.validate import validate_paths
    problems = validate_paths(list(paths))
    if problems:
        for problem in problems:
            click.echo(str(problem))
        click.echo(f"{len(problems)} problem(s) found.", err=True)
        raise click.exceptions.Exit(1)
    click.echo(f"OK: {len(paths)} path(s) checked, no problems.")


@main.command()
@click.option("--check", is_flag=True, help="Only report the files that differ; exit 1 if any does.")
def schemas(check: bool) -> None:
    """Regenerate the meta-schemas (definitions/schemas/) and docs/extension-points.md from the registries."""
    from . import meta_schemas
    from .extension_docs import DOCS_PATH
    docs = DOCS_PATH if DOCS_PATH.parent.is_dir() else None      # a source checkout, not an installed package
    changed = meta_schemas.stale(docs=docs) if check else meta_schemas.write(docs=docs)
    for path in changed:
        click.echo(f"{'differs' if check else 'wrote'}: {path}")
    if check and changed:
        raise click.exceptions.Exit(1)
    if not changed:
        click.echo("Up to date.")


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True, type=int)
@click.option("--threads", default=8, show_default=True, type=int)
@_one_line_errors
def run(host: str, port: int, threads: int) -> None:
    """Serve the web app (and run the reminder worker in the background)."""
    _serve(host, port, threads)


def _serve(host: str, port: int, threads: int) -> None:
    """Serve until SIGTERM or Ctrl+C: requests in flight finish, and the background worker
    stops after the event or job at hand (claimed jobs not started are released)."""
    from .app import create_app
    from .automation import start_background_worker
    from .automation.worker import STOP_GRACE_SECONDS
    from .config import settings_from_env
    from . import serving
    check_port_free(host, port)
    _init_database(settings_from_env()["DATABASE_URL"])
    app = create_app()
    with serving.logging_off_the_loop():          # a stuck stderr must not stall the requests (serving)
        worker = start_background_worker(app)    # the embedded default: reminders run in this process
        click.echo(f"Serving Formloom on http://{host}:{port}/  (Ctrl+C to stop)")
        try:
            serving.serve(app, host=host, port=port, threads=threads, on_stop=worker.request_stop)
        finally:
            if not worker.stop(timeout=STOP_GRACE_SECONDS):
                click.echo("The worker's job at hand did not finish in time; it is left to its lease.", err=True)
            app.extensions["formloom.db"].dispose()
    click.echo("Stopped.")


def check_port_free(host: str, port: int) -> None:
    """Fail in one line, with the fix, when the address is taken (before seeding or serving,
    so nobody waits for a demo to load only to read "Address already in use")."""
    import errno
    import socket
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except OSError as error:
        raise FormloomError(f"cannot serve on host {host!r}: {error.strerror or error}",
                            hint="give a host name or address of this machine, e.g. --host 127.0.0.1")
    family, kind, proto, _, address = infos[0]
    with socket.socket(family, kind, proto) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(address)
        except OSError as error:
            if error.errno == errno.EADDRINUSE:
                raise FormloomError(f"port {port} on {host} is already in use",
                                    hint=f"stop the program using it, or pick another port: --port {port + 1}"
                                         f" (make demo PORT={port + 1})")
            raise FormloomError(f"cannot serve on {host}:{port}: {error.strerror or error}",
                                hint="choose a port above 1024 and an address of this machine")


def _resync_reminders(app_key: str) -> int:
    """After an install, move, create or cancel reminders so they follow the rules as published."""
    from .automation.worker import sync_changed_apps
    from .store.apps import AppCatalog
    db = _database()
    try:
        return sync_changed_apps(db, AppCatalog(db), _utcnow())
    finally:
        db.dispose()


def _utcnow():
    from datetime import datetime, timezone
    return datetime.now(timezone.utc)


@main.command()
@click.option("--once", is_flag=True, help="Process what is due now, then exit.")
@_one_line_errors
def worker(once: bool) -> None:
    """Run the automation worker (rules, reminders, email, webhooks) as its own process.

    Any number of workers may run against one PostgreSQL database; each due job
    runs once. Stops on SIGTERM or Ctrl+C after finishing the job at hand."""
    import logging
    from .automation import Settings, run_forever, run_worker_once
    from .store.apps import AppCatalog
    from .config import settings_from_env
    from .transfer import jobs as _import_jobs  # noqa: F401  (registers the "import" job kind)
    db = _database()
    catalog = AppCatalog(db)
    settings = Settings.from_mapping(settings_from_env())
    try:
        if once:
            ran = run_worker_once(db, catalog, settings=settings)
            click.echo(f"Ran {ran} job(s).")
            return
        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
        click.echo("Worker running (SIGTERM or Ctrl+C to stop).")
        run_forever(db, catalog, settings)
        click.echo("Worker stopped.")
    finally:
        db.dispose()


@main.group()
def reminders() -> None:
    """Look at reminders."""


@reminders.command("due")
@click.option("--at", "at_text", required=True, metavar="ISO8601",
              help="A moment, e.g. 2026-03-05T09:00:00+08:00 (no offset means UTC).")
@click.option("--app", "app_key", default=None, help="Only this app.")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON list of {rule, record_id, due_at}.")
@_one_line_errors
def reminders_due(at_text: str, app_key: str | None, as_json: bool) -> None:
    """Print every reminder due by --at, without firing anything."""
    import json
    from datetime import datetime, timezone
    from sqlalchemy import func, select
    from .automation import due_reminders
    from .store.apps import AppCatalog
    from .store.tables import events
    try:
        at = datetime.fromisoformat(at_text.strip().replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        raise FormloomError(f"--at {at_text!r} is not an ISO 8601 moment",
                            hint="e.g. 2026-03-05T09:00:00+08:00") from None
    if at.tzinfo is None:
        at = at.replace(tzinfo=timezone.utc)
    db = _database()
    catalog = AppCatalog(db)
    try:
        with db.read() as conn:
            if app_key:
                catalog.app(app_key, conn)           # an unknown app is an error, not an empty list
            found = due_reminders(conn, at, app_key, catalog=catalog)
            query = select(func.count()).select_from(events).where(events.c.processed_at.is_(None))
            if app_key:
                query = query.where(events.c.app_key == app_key)
            unprocessed = conn.execute(query).scalar_one()
    finally:
        db.dispose()
    if unprocessed:
        click.echo(f"Note: {unprocessed} record change(s) are not processed by a worker yet; "
                   "reminders they would schedule are not listed.", err=True)
    if as_json:
        click.echo(json.dumps([{"rule": r.rule_key, "record_id": r.record_id,
                                "due_at": _iso_utc(r.due_at)} for r in found], indent=2))
        return
    if not found:
        click.echo(f"No reminders due by {_iso_utc(at)}.")
        return
    click.echo(f"{'DUE (UTC)':21} {'RULE':32} RECORD")
    for r in found:
        click.echo(f"{_iso_utc(r.due_at):21} {r.rule_key:32} {'' if r.record_id is None else r.record_id}")
    click.echo(f"{len(found)} reminder(s) due by {_iso_utc(at)}.")


@main.group()
def rules() -> None:
    """Look at automation rules."""


@rules.command("dry-run")
@click.argument("app_key")
@click.argument("rule_key")
@click.option("--at", "at_text", default=None, metavar="ISO8601", help="As if it were this moment (default: now).")
@click.option("--record", "record_id", type=int, default=None, help="Only this record (event rules: the record changed).")
@click.option("--change", "change_type", default=None,
              help="Event rules: the change (record_created, record_updated, stage_entered, ...); "
                   "default: the one the trigger is written for.")
@click.option("--field", "fields", multiple=True, help="Event rules: a field the change touched (repeatable).")
@click.option("--json", "as_json", is_flag=True, help="Print the dry-run as JSON.")
@_one_line_errors
def rules_dry_run(app_key: str, rule_key: str, at_text: str | None, record_id: int | None, change_type: str | None,
                  fields: tuple[str, ...], as_json: bool) -> None:
    """What RULE (a rule key, or WORKFLOW.RULE) would do, without doing it: for a time rule the
    next 50 reminders, for an event rule what a change to --record would do; and why not."""
    import json
    from .automation.dry_run import default_change, dry_run_db
    from .automation.settings import Settings
    from .config import settings_from_env
    from .store.apps import AppCatalog
    at = _utcnow() if at_text is None else _moment(at_text)
    db = _database()
    with db.read() as conn:
        app = AppCatalog(db).app(app_key, conn)
    workflow_key, _, key = rule_key.rpartition(".")
    found = [(wf.key, r) for wf in app.workflows.values() for r in wf.rules
             if r.key == key and (not workflow_key or wf.key == workflow_key)]
    if not found:
        raise FormloomError(f"the app {app_key!r} has no rule {rule_key!r}",
                            hint="rule keys are listed in the app's workflow documents")
    if len(found) > 1:
        raise FormloomError(f"several workflows have a rule {key!r}", hint="write it WORKFLOW.RULE")
    workflow_key, rule = found[0]
    change = default_change(rule.trigger)
    if change_type:
        change["type"] = change_type
    if fields:
        change["fields"] = list(fields)
    run = dry_run_db(db, app, workflow_key, rule.key, now=at, record_id=record_id, change=change,
                     settings=Settings.from_mapping(settings_from_env()))
    if as_json:
        click.echo(json.dumps(run.as_json(), ensure_ascii=False, indent=2, default=str))
        return
    if not run.timed and record_id is None:
        click.echo("This rule fires on record changes: give --record ID (and --change / --field) to see what it does.")
        return
    for item in run.items:
        when = _iso_utc(item.due_at) if item.due_at else "-"
        who = f"record {item.record_id} {item.title!r}" if item.record_id is not None else "(no record)"
        if not item.acts:
            click.echo(f"{when}  {who}: skipped: {item.reason.msgid % item.reason.params}")
            continue
        click.echo(f"{when}  {who}:" + (f" ({item.note.msgid % item.note.params})" if item.note else ""))
        for a in item.actions:
            parts = [a.type]
            if a.recipients:
                parts.append("to " + ", ".join(a.recipients))
            if a.body:
                parts.append(repr(a.body))
            parts += [f"{k} -> {v!r}" for k, v in a.changes]
            if a.error:
                parts.append(f"would fail: {a.error}")
            click.echo("    " + " ".join(parts))
    for item in run.skipped:
        click.echo(f"not acting on record {item.record_id} {item.title!r}: {item.reason.msgid % item.reason.params}")
    if run.timed:
        click.echo(f"{len(run.items)} reminder(s) listed" + (f", {run.more} more later" if run.more else "")
                   + f"; {len(run.skipped)} record(s) not reminded. Nothing was done.")


def _moment(text: str):
    from datetime import datetime, timezone
    try:
        at = datetime.fromisoformat(text.strip().replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        raise FormloomError(f"--at {text!r} is not an ISO 8601 moment", hint="e.g. 2026-03-05T09:00:00+08:00") from None
    return at if at.tzinfo else at.replace(tzinfo=timezone.utc)


def _iso_utc(value) -> str:
    from datetime import timezone
    return value.astimezone(timezone.utc).replace(microsecond=0).isoformat().replace("+00:00", "Z")


@main.command()
@click.option("--template", default="crm", show_default=True, help="Shipped app template to install.")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True, type=int)
@click.option("--serve/--no-serve", default=True, help="Start the server after seeding.")
@_one_line_errors
def demo(template: str, host: str, port: int, serve: bool) -> None:
    """Set up the database, install a template with its demo data and users, and serve it."""
    from .config import settings_from_env
    from .demo import demo_logins, load_demo
    from .resources import template_dir
    from .store.apps import AppCatalog
    from .store.install import install_path
    if serve:
        check_port_free(host, port)
    url = settings_from_env()["DATABASE_URL"]
    _init_database(url)
    db = _database()
    folder = template_dir(template)
    install_path(db, folder)
    app, version_id = AppCatalog(db).get(_app_key(folder))
    counts = load_demo(db, app, version_id, folder)
    click.echo(f"Demo app {app.key!r} ready: {counts['records']} records created, {counts['users']} demo users.")
    click.echo("")
    click.echo(f"  Open  http://{host}:{port}/")
    for login in demo_logins(folder):
        click.echo(f"  Login {login['email']:32} password {login['password']:12} ({', '.join(login['roles'])})")
    click.echo("")
    if serve:
        _serve(host, port, 8)


def _app_key(folder: Path) -> str:
    from .definitions.load import load_document
    return load_document(folder / "app.json")["key"]


def _safe_url(url: str) -> str:
    from sqlalchemy.engine import make_url
    return make_url(url).render_as_string(hide_password=True)


@main.group()
def user() -> None:
    """Manage users."""


@user.command("add")
@click.argument("email")
@click.option("--password", required=True)
@click.option("--name", default="")
@click.option("--role", "roles", multiple=True, help="APP:ROLE, repeatable.")
@click.option("--manager", default=None, help="Email of the user's manager.")
@click.option("--superuser", is_flag=True, help="Platform administrator of every app.")
@click.option("--language", default="en", type=click.Choice(["en", "zh"]))
@_one_line_errors
def user_add(email, password, name, roles, manager, superuser, language) -> None:
    """Add a user."""
    from .auth.users import create_user, user_id_by_email
    pairs = []
    for spec in roles:
        app_key, sep, role = spec.partition(":")
        if not sep or not app_key or not role:
            raise FormloomError(f"--role {spec!r} must look like APP:ROLE, e.g. crm:sales")
        pairs.append((app_key, role))
    db = _database()
    _check_roles(db, pairs)
    with db.write() as conn:
        manager_id = None
        if manager:
            manager_id = user_id_by_email(conn, manager)
            if manager_id is None:
                raise FormloomError(f"No user with the email {manager}")
        user_id = create_user(conn, email, password, name=name, roles=pairs, manager_id=manager_id,
                              is_superuser=superuser, language=language)
    click.echo(f"Added user {email} (id {user_id}).")


def _check_roles(db, pairs: list[tuple[str, str]]) -> None:
    from .store.apps import AppCatalog
    catalog = AppCatalog(db)
    for app_key, role in pairs:
        app = catalog.app(app_key)
        if role not in app.roles:
            raise FormloomError(f"App {app_key!r} has no role {role!r} (its roles: {', '.join(app.roles)})")


@main.group()
def token() -> None:
    """Manage API tokens (shown once, stored hashed)."""


@token.command("create")
@click.argument("email")
@click.option("--name", default="", help="What the token is for, e.g. the tool that will use it.")
@_one_line_errors
def token_create(email: str, name: str) -> None:
    """Create an API token for EMAIL; the token is the last line of the output."""
    from .auth.tokens import create_token
    from .auth.users import user_id_by_email
    with _database().write() as conn:
        user_id = user_id_by_email(conn, email)
        if user_id is None:
            raise FormloomError(f"No user with the email {email}")
        row, secret = create_token(conn, user_id, name or "cli")
    click.echo(f"Created token {row.id} ({row.name}) for {email}. It is shown once; keep it secret:")
    click.echo(secret)


@token.command("list")
@click.argument("email")
@_one_line_errors
def token_list(email: str) -> None:
    """List EMAIL's API tokens (never the secrets)."""
    from .auth.tokens import list_tokens
    from .auth.users import user_id_by_email
    with _database().read() as conn:
        user_id = user_id_by_email(conn, email)
        if user_id is None:
            raise FormloomError(f"No user with the email {email}")
        rows = list_tokens(conn, user_id)
    for row in rows:
        state = f"revoked {row.revoked_at:%Y-%m-%d}" if row.revoked_at else "active"
        used = f"{row.last_used_at:%Y-%m-%d %H:%M}" if row.last_used_at else "never"
        click.echo(f"{row.id}\t{row.name}\t{state}\tcreated {row.created_at:%Y-%m-%d}\tlast used {used}")


@token.command("revoke")
@click.argument("email")
@click.argument("token_id", type=int)
@_one_line_errors
def token_revoke(email: str, token_id: int) -> None:
    """Revoke one of EMAIL's API tokens by its id."""
    from .auth.tokens import revoke_token
    from .auth.users import user_id_by_email
    with _database().write() as conn:
        user_id = user_id_by_email(conn, email)
        if user_id is None or not revoke_token(conn, user_id, token_id):
            raise FormloomError(f"{email} has no active token {token_id}")
    click.echo(f"Revoked token {token_id}.")


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())


# -- whole instances (branch io-forms) -------------------------------------------------------

@main.command()
@click.argument("file", type=click.Path(path_type=Path))
@_one_line_errors
def backup(file: Path) -> None:
    """Write a consistent backup of the whole instance at DATABASE_URL to FILE
    (SQLite: the online backup API; PostgreSQL: pg_dump, which must be installed)."""
    from .config import settings_from_env
    from .store.backup import backup as make_backup
    outcome = make_backup(settings_from_env()["DATABASE_URL"], file)
    click.echo(f"Backed up {outcome.rows} rows ({outcome.kind}) to {outcome.path}.")


@main.command()
@click.argument("file", type=click.Path(path_type=Path))
@_one_line_errors
def restore(file: Path) -> None:
    """Restore a backup made by `formloom backup` onto the empty database at DATABASE_URL;
    a database that holds any rows is refused."""
    from .config import settings_from_env
    from .store.backup import restore as run_restore
    url = settings_from_env()["DATABASE_URL"]
    outcome = run_restore(url, file)
    click.echo(f"Restored {outcome.rows} rows from {outcome.path} into {_safe_url(url)}.")


@main.command("copy")
@click.option("--to", "target", required=True, metavar="DATABASE_URL",
              help="The empty database to copy into, e.g. postgresql+psycopg://user@host/formloom.")
@click.option("--batch-size", default=2000, show_default=True, type=click.IntRange(1, 100_000))
@_one_line_errors
def copy_command(target: str, batch_size: int) -> None:
    """Copy the whole instance at DATABASE_URL (apps and versions, records, audit, stage
    history, users, roles, tokens, notifications, reminders and jobs) into the empty
    database at --to, SQLite to PostgreSQL or back; then verify every table's row count
    and content hash and print them. Exits 1 when any table differs."""
    from .config import settings_from_env
    from .store.copy import copy_instance

    source = settings_from_env()["DATABASE_URL"]
    click.echo(f"Copying {_safe_url(source)} -> {_safe_url(target)}")
    shown: dict[str, int] = {}

    def progress(table: str, done: int, total: int) -> None:
        if done == total or done - shown.get(table, 0) >= 20_000:
            shown[table] = done
            click.echo(f"  {table}: {done:,}/{total:,} rows")

    checks = copy_instance(source, target, batch_size=batch_size, progress=progress)
    click.echo(f"{'table':<22} {'rows':>10}  {'sha256':<16} check")
    for c in checks:
        verdict = "ok" if c.ok else f"DIFFERS (target {c.target_rows} rows, {c.target_hash[:16]})"
        click.echo(f"{c.table:<22} {c.source_rows:>10,}  {c.source_hash[:16]} {verdict}")
    bad = [c.table for c in checks if not c.ok]
    if bad:
        click.echo(f"Error: the copy differs in {', '.join(bad)}.", err=True)
        raise click.exceptions.Exit(1)
    click.echo(f"Copied and verified {len(checks)} tables, {sum(c.source_rows for c in checks):,} rows.")
@main.command("import")
@click.argument("app_key", metavar="APP")
@click.argument("entity_key", metavar="ENTITY")
@click.argument("path", metavar="FILE", type=click.Path(path_type=Path, exists=True, dir_okay=False))
@click.option("--dry-run", is_flag=True, help="Check every row and report; write nothing.")
@click.option("--upsert-by", default=None, metavar="FIELD", help="Update the record whose unique FIELD matches.")
@click.option("--mode", type=click.Choice(["all-or-nothing", "skip-bad-rows"]), default="all-or-nothing",
              show_default=True)
@click.option("--run-rules", is_flag=True, help="Let automation rules react to the imported records.")
@click.option("--sheet", default=None, help="The .xlsx sheet to read (default: the first).")
@click.option("--as", "as_email", default=None, metavar="EMAIL",
              help="Import as this user (their permissions apply); default: the operator, with every right.")
@click.option("--override-gates", default=None, metavar="REASON",
              help="Admins: move stages past their gates, writing REASON to the stage history.")
@click.option("--child-sheet", "child_sheets", multiple=True, metavar="FIELD=SHEET",
              help="Rows of the table field FIELD come from SHEET of the .xlsx (repeatable).")
@click.option("--lang", default="en", type=click.Choice(["en", "zh"]), help="Language of the messages.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object: created, updated, skipped, failed, errors.")
@_one_line_errors
def import_file(app_key, entity_key, path, dry_run, upsert_by, mode, run_rules, sheet, as_email, override_gates,
                child_sheets, lang, as_json) -> None:
    """Import FILE (.xlsx or .csv) into ENTITY of APP; exit 1 when any row failed."""
    import json
    from .auth.users import load_actor, user_id_by_email
    from .store.apps import AppCatalog
    from .transfer.importer import ImportOptions, prepare, system_actor
    db = _database()
    actor = system_actor()
    if as_email:
        with db.read() as conn:
            user_id = user_id_by_email(conn, as_email)
            actor = load_actor(conn, user_id) if user_id else None
        if actor is None:
            raise FormloomError(f"There is no active user {as_email!r}")
    children = dict(item.split("=", 1) for item in child_sheets if "=" in item)
    if len(children) != len(child_sheets):
        raise FormloomError("--child-sheet takes FIELD=SHEET, e.g. --child-sheet lines=Lines")
    options = ImportOptions(mode=mode, dry_run=dry_run, upsert_by=upsert_by, run_rules=run_rules,
                            override_reason=override_gates, child_sheets=children or None)
    importer = prepare(db, AppCatalog(db), app_key, entity_key, path, path.name, actor=actor, lang=lang,
                       sheet=sheet, options=options)
    result = importer.run()
    if as_json:
        click.echo(json.dumps(result.as_json(), ensure_ascii=False, indent=2))
    else:
        for e in result.errors:
            where = f"sheet {e.sheet}, " if e.sheet else ""
            click.echo(f"{where}row {e.row}, {e.column or '-'} ({e.value!r}): {e.message}", err=True)
        state = "dry run, nothing written" if dry_run else ("written" if result.committed else "nothing written")
        click.echo(f"{result.created} created, {result.updated} updated, {result.skipped} skipped, "
                   f"{result.failed} failed ({state}).")
    if result.failed:
        raise click.exceptions.Exit(1)


from .cli_files import files as _files_group  # noqa: E402 -- their own modules; registered here
from .cli_history import history as _history_group  # noqa: E402
from .cli_rollups import rollups as _rollups_group  # noqa: E402
from .cli_search import search as _search_group  # noqa: E402
from .cli_slots import slots as _slots_group  # noqa: E402

for _group in (_files_group, _slots_group, _search_group, _rollups_group, _history_group):
    main.add_command(_group)
