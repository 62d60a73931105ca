"""`formloom token create|list|revoke`: the token is the last line, stored hashed."""
from __future__ import annotations

import pytest
from sqlalchemy import select

from formloom.auth.tokens import actor_for_token, hash_secret
from formloom.auth.users import create_user
from formloom.store.db import Database
from formloom.store.tables import api_tokens

from .test_cli import cli  # noqa: F401




@pytest.fixture
def ann(database_url):
    db = Database(database_url)
    with db.write() as conn:
        create_user(conn, "ann@example.com", "long-enough-1")
    yield db
    db.dispose()


@pytest.mark.parametrize("command", [["token"], ["token", "create"], ["token", "list"], ["token", "revoke"]])
def test_token_commands_have_help(cli, command):
    result = cli(*command, "--help")
    assert result.exit_code == 0 and "Usage:" in result.output


def test_create_prints_the_token_as_the_last_line(cli, ann):
    result = cli("token", "create", "ann@example.com", "--name", "ci")
    assert result.exit_code == 0, result.output
    secret = result.output.strip().splitlines()[-1]
    with ann.read() as conn:
        assert conn.execute(select(api_tokens.c.token_hash)).scalar_one() == hash_secret(secret)
        actor, token = actor_for_token(conn, secret)
    assert actor.email == "ann@example.com" and token.name == "ci"


def test_list_never_shows_secrets_and_revoke_stops_the_token(cli, ann):
    secret = cli("token", "create", "ann@example.com").output.strip().splitlines()[-1]
    listing = cli("token", "list", "ann@example.com")
    assert listing.exit_code == 0 and "active" in listing.output and secret not in listing.output
    token_id = listing.output.split("\t", 1)[0]
    assert cli("token", "revoke", "ann@example.com", token_id).exit_code == 0
    assert "revoked" in cli("token", "list", "ann@example.com").output
    with ann.read() as conn:
        assert actor_for_token(conn, secret) is None
    again = cli("token", "revoke", "ann@example.com", token_id)
    assert again.exit_code == 1 and "Traceback" not in again.output


def test_an_unknown_email_is_one_line(cli, ann):
    result = cli("token", "create", "nobody@example.com")
    assert result.exit_code == 1
    assert len(result.output.strip().splitlines()) == 1 and "No user" in result.output
