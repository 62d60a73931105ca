"""The request's language, actor, timezone and cached links are read from Flask's context
variables directly (web/helpers.py: `request_g`, `lang`, `current_actor`, `zone_for`,
`cached_url_for`), not through its proxies: they must answer what the proxies would, in a
request, outside one, and in an app context pushed inside a request."""
from __future__ import annotations

from flask import g, url_for
from flask_babel import force_locale

from formloom.web.helpers import cached_url_for, current_actor, lang, request_g, zone_for


def test_request_g_is_the_requests_g_and_none_outside_a_request(app):
    assert request_g() is None
    with app.app_context():
        assert request_g() is None                  # an app context alone is no request
    with app.test_request_context("/"):
        assert request_g() is g._get_current_object()
        g.marker = "outer"
        with app.app_context():                     # pushed inside the request: `g` is the new one
            assert request_g() is g._get_current_object()
            assert getattr(request_g(), "marker", None) is None
        assert request_g().marker == "outer"


def test_lang_outside_a_request_and_per_request(app):
    assert lang() == "en"
    with app.test_request_context("/", headers={"Accept-Language": "zh-CN,zh;q=0.9"}):
        assert lang() == "zh" and lang() == "zh"    # the second from what the first kept
    with app.test_request_context("/", headers={"Accept-Language": "en"}):
        assert lang() == "en"


def test_lang_follows_a_locale_forced_within_the_request(app):
    with app.test_request_context("/", headers={"Accept-Language": "en"}):
        assert lang() == "en"
        with force_locale("zh"):
            assert lang() == "zh"
        assert lang() == "en"


def test_no_actor_outside_a_request_nor_for_an_anonymous_one(app):
    assert current_actor() is None
    with app.test_request_context("/"):
        assert current_actor() is None


def test_zone_for_is_kept_per_request_on_its_g(app):
    with app.test_request_context("/"):
        first = zone_for(None)
        assert g._formloom_zones[None] is first and zone_for(None) is first
    assert str(zone_for(None)) == "UTC"             # outside a request: worked out, not kept


def test_cached_links_equal_url_for_in_and_outside_a_request(app):
    cases = [("static", {"filename": "js/kanban.js"}),
             ("records.list_view", {"app_key": "desk", "entity_key": "case"}),
             ("records.detail", {"app_key": "desk", "entity_key": "case", "record_id": 7}),
             ("records.list_view", {"app_key": "desk", "entity_key": "case", "q": ["a b", "c"]})]
    for script_root in ("", "/formloom"):
        with app.test_request_context("/", base_url=f"http://localhost{script_root}/"):
            for endpoint, values in cases:
                expected = url_for(endpoint, **values)
                assert expected.startswith(script_root + "/")
                assert cached_url_for(endpoint, **values) == expected
                assert cached_url_for(endpoint, **values) == expected       # from the cache
    app.config["SERVER_NAME"] = "forms.example"
    with app.app_context():                         # no request: url_for itself (absolute)
        assert cached_url_for("records.app_home", app_key="desk") == url_for("records.app_home", app_key="desk")
