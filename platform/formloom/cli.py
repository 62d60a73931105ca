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
    from .config import settings_from_env
    from .store.db import Database
    return Database(settings_from_env()["DATABASE_URL"])


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
    result = install_path(_database(), path)
    if not result.changed:
        click.echo(f"App {result.app_key!r} is already at version {result.version.number}; nothing to do.")
        return
    click.echo(f"Installed app {result.app_key!r} version {result.version.number} ({result.version.content_hash[:12]}).")
    for name in result.archived:
        click.echo(f"  archived field {name} (its values are kept; put it back to restore)")
    for name in result.restored:
        click.echo(f"  restored field {name}")
    if result.converted:
        click.echo(f"  converted {result.converted} stored value(s) to the new field types")


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
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True, type=int)
@click.option("--threads", default=8, show_default=True, type=int)
@_one_line_errors
def run(host: str, port: int, threads: int) -> None:
    """Serve the web app (and run the reminder worker in the background)."""
    _serve(host, port, threads)


def _serve(host: str, port: int, threads: int) -> None:
    from waitress import serve
    from .app import create_app
    from .config import settings_from_env
    _init_database(settings_from_env()["DATABASE_URL"])
    app = create_app()
    click.echo(f"Serving Formloom on http://{host}:{port}/  (Ctrl+C to stop)")
    serve(app, host=host, port=port, threads=threads, _quiet=True)


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


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
