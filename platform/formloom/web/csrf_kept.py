"""The session's signed CSRF token, signed once per session instead of once per request.

Flask-WTF keeps a random token in the session and signs it (HMAC, with a timestamp) for every
request that shows a form: the signing is a measurable part of a page. With
WTF_CSRF_TIME_LIMIT = None (config.py) the timestamp is never checked, so every signature of
the session's token is valid for as long as the session holds that token, and one signature
serves as well as a fresh one: the first page a session shows signs it and the session keeps
it beside the token it signs; later requests hand it to Flask-WTF (its per-request cache,
`g.csrf_token`) before anything asks. What a post must carry and what it is checked against
(`validate_csrf`) is unchanged. The kept copy is dropped whenever the session's token changes
(a login or logout clears the whole session). With a time limit set, tokens are signed per
request as before, so that they do expire.
"""
from __future__ import annotations

from flask import Flask, current_app, g, session

KEPT = "_csrf_signed"       # session key: [the token signed, its signature]


def _field_name() -> str:
    return current_app.config.get("WTF_CSRF_FIELD_NAME") or "csrf_token"


def _reusable() -> bool:
    config = current_app.config
    return config.get("WTF_CSRF_TIME_LIMIT", 3600) is None and config.get("WTF_CSRF_ENABLED", True)


def hand_over_kept() -> None:
    """Before the request: the session's kept signature becomes this request's token, if it
    signs the token the session holds now."""
    kept = session.get(KEPT)
    if kept is None or not _reusable():
        return
    name = _field_name()
    if (isinstance(kept, list) and len(kept) == 2 and isinstance(kept[0], str) and kept[0]
            and kept[0] == session.get(name) and isinstance(kept[1], str)):
        setattr(g, name, kept[1])
    else:
        session.pop(KEPT, None)


def keep_signed(response):
    """After the request: keep the signature this request made (if any) for the next ones."""
    name = _field_name()
    signed = g.get(name)
    if signed is None or not _reusable():
        return response
    raw = session.get(name)
    if isinstance(raw, str) and raw:
        kept = session.get(KEPT)
        if not (isinstance(kept, list) and kept == [raw, signed]):
            session[KEPT] = [raw, signed]
    return response


def init_app(app: Flask) -> None:
    app.before_request(hand_over_kept)
    app.after_request(keep_signed)
