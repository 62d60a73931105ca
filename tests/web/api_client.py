"""An API client for tests: a Bearer token per user, JSON in and out."""
from __future__ import annotations

import pytest

from formloom.auth.tokens import create_token


class Api:
    def __init__(self, client, token: str | None, lang: str | None = None):
        self.client = client
        self.token = token
        self.lang = lang

    def headers(self, extra: dict | None = None) -> dict:
        headers = {}
        if self.token is not None:
            headers["Authorization"] = f"Bearer {self.token}"
        if self.lang:
            headers["Accept-Language"] = self.lang
        headers.update(extra or {})
        return headers

    def get(self, path, **kw):
        return self.client.get(path, headers=self.headers(kw.pop("headers", None)), **kw)

    def post(self, path, json=None, **kw):
        return self.client.post(path, json=json, headers=self.headers(kw.pop("headers", None)), **kw)

    def patch(self, path, json=None, **kw):
        return self.client.patch(path, json=json, headers=self.headers(kw.pop("headers", None)), **kw)

    def delete(self, path, **kw):
        return self.client.delete(path, headers=self.headers(kw.pop("headers", None)), **kw)


@pytest.fixture
def token_for(app):
    def make(user_id: int, name: str = "test") -> str:
        with app.extensions["formloom.db"].write() as conn:
            return create_token(conn, user_id, name)[1]
    return make


@pytest.fixture
def api_as(app, people, token_for):
    """api_as("agent") -> an Api client with a fresh token of that person."""
    def make(who: str, lang: str | None = None) -> Api:
        return Api(app.test_client(), token_for(getattr(people, who)), lang)
    return make
