"""API tokens: shown once, stored hashed, revocable, refused for inactive users."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import event, insert, select, update

from formloom.auth.tokens import (PREFIX, actor_for_token, create_token, hash_secret, list_tokens, revoke_token,
                                  touch_token)
from formloom.auth.users import UserError, create_user, set_roles
from formloom.store.tables import api_tokens, apps, users




@pytest.fixture
def user(db):
    with db.write() as conn:
        return create_user(conn, "ann@example.com", "long-enough-1")


def test_the_secret_is_returned_once_and_only_its_hash_is_stored(db, user):
    with db.write() as conn:
        token, secret = create_token(conn, user, "ci")
    assert secret.startswith(PREFIX) and len(secret) > 40
    with db.read() as conn:
        stored = conn.execute(select(api_tokens)).one()
    assert stored.token_hash == hash_secret(secret) and secret not in tuple(str(v) for v in stored)
    assert token.name == "ci" and token.active


def test_each_token_is_different(db, user):
    with db.write() as conn:
        secrets = {create_token(conn, user)[1] for _ in range(5)}
    assert len(secrets) == 5


def test_a_token_stands_for_its_user(db, user):
    with db.write() as conn:
        token, secret = create_token(conn, user)
    with db.read() as conn:
        actor, found = actor_for_token(conn, secret)
    assert actor.id == user and found.id == token.id


@pytest.mark.parametrize("secret", ["", "flm_nope", "x" * 500, hash_secret("anything")])
def test_unknown_secrets_stand_for_nobody(db, user, secret):
    with db.read() as conn:
        assert actor_for_token(conn, secret) is None


def test_a_revoked_token_stands_for_nobody(db, user):
    with db.write() as conn:
        token, secret = create_token(conn, user)
        assert revoke_token(conn, user, token.id)
        assert not revoke_token(conn, user, token.id)          # already revoked
        assert actor_for_token(conn, secret) is None
        assert not list_tokens(conn, user)[0].active


def test_one_cannot_revoke_another_users_token(db, user):
    with db.write() as conn:
        other = create_user(conn, "bob@example.com", "long-enough-1")
        token, secret = create_token(conn, user)
        assert not revoke_token(conn, other, token.id)
        assert actor_for_token(conn, secret) is not None


def test_a_deactivated_users_tokens_stop_working(db, user):
    with db.write() as conn:
        _token, secret = create_token(conn, user)
        conn.execute(update(users).where(users.c.id == user).values(active=False))
        assert actor_for_token(conn, secret) is None


def test_an_inactive_user_gets_no_new_token(db, user):
    with db.write() as conn:
        conn.execute(update(users).where(users.c.id == user).values(active=False))
        with pytest.raises(UserError):
            create_token(conn, user)


def test_tokens_older_than_the_maximum_age_are_expired(db, user):
    with db.write() as conn:
        _token, secret = create_token(conn, user)
        later = datetime.now(timezone.utc) + timedelta(days=31)
        assert actor_for_token(conn, secret, max_age=timedelta(days=30), now=later) is None
        assert actor_for_token(conn, secret, max_age=timedelta(days=60), now=later) is not None


def test_last_use_is_noted_at_most_once_a_minute(db, user):
    with db.write() as conn:
        token, _secret = create_token(conn, user)
        now = datetime.now(timezone.utc)
        touch_token(conn, token, now)
        token = list_tokens(conn, user)[0]
        touch_token(conn, token, now + timedelta(seconds=30))
        assert list_tokens(conn, user)[0].last_used_at == token.last_used_at
        touch_token(conn, token, now + timedelta(minutes=2))
        assert list_tokens(conn, user)[0].last_used_at > token.last_used_at


def test_list_shows_active_tokens_first(db, user):
    with db.write() as conn:
        first, _ = create_token(conn, user, "first")
        create_token(conn, user, "second")
        revoke_token(conn, user, first.id)
        assert [t.name for t in list_tokens(conn, user)] == ["second", "first"]


def test_a_token_carries_its_users_roles_in_every_app_read_with_the_token(db, user):
    now = datetime.now(timezone.utc)
    with db.write() as conn:
        conn.execute(insert(apps), [{"key": key, "installed_at": now, "updated_at": now} for key in ("crm", "desk")])
        set_roles(conn, user, [("crm", "sales"), ("crm", "manager"), ("desk", "agent")])
        _token, secret = create_token(conn, user)
    statements = []

    def note(_conn, _cursor, statement, *_rest):
        statements.append(statement)

    event.listen(db.engine, "before_cursor_execute", note)
    try:
        with db.read() as conn:
            actor, _found = actor_for_token(conn, secret)
    finally:
        event.remove(db.engine, "before_cursor_execute", note)
    assert actor.roles == {"crm": frozenset({"sales", "manager"}), "desk": frozenset({"agent"})}
    reads = [s for s in statements if s.lstrip().upper().startswith("SELECT")]
    assert len(reads) == 1 and "api_tokens" in reads[0]


def test_a_token_of_a_user_without_roles_stands_for_them_with_none(db, user):
    with db.write() as conn:
        _token, secret = create_token(conn, user)
    with db.read() as conn:
        actor, _found = actor_for_token(conn, secret)
    assert actor.id == user and actor.roles == {}
