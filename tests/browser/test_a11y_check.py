"""The accessibility check every browser test runs (tests/browser/a11y.py) fails where
it should: on a page opened with ``goto``, on a page reached by a click, and on content
htmx swaps in after the page loaded; it names the rule, the node and what is wrong; and
it lets minor findings and clean pages through. Plain HTML pages, no app needed."""
from __future__ import annotations

import threading

import pytest
from werkzeug.serving import make_server
from werkzeug.wrappers import Request, Response

from . import a11y

pytestmark = pytest.mark.browser

HEAD = '<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Check</title></head><body><main><h1>Check</h1>'
PAGES = {
    "/clean": '<p>Readable text.</p><a href="/low-contrast">next</a>',
    "/low-contrast": '<p style="color:#bbb;background:#fff">Pale text nobody can read.</p>',
    "/name-mismatch": '<button type="button" aria-label="Delete the record">Move to…</button>',
    "/minor-only": '</main><p>Text outside any landmark.</p><main hidden>',      # "region": moderate
    "/swaps-later": '<div id="slot"></div><button type="button" id="load">Load</button>'
                    '<script>document.getElementById("load").addEventListener("click", () => {'
                    ' const slot = document.getElementById("slot");'
                    ' slot.innerHTML = \'<p style="color:#ccc">Swapped in, too pale.</p>\';'
                    ' slot.dispatchEvent(new CustomEvent("htmx:afterSettle", {bubbles: true})); });</script>',
}


@Request.application
def pages(request):
    if request.path == "/data.json":
        return Response('{"not": "a page"}', content_type="application/json")
    body = PAGES.get(request.path)
    if body is None:
        return Response("not found", status=404)
    return Response(HEAD + body + "</main></body></html>", content_type="text/html; charset=utf-8")


@pytest.fixture
def base():
    server = make_server("127.0.0.1", 0, pages, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(timeout=10)
        server.server_close()


def test_goto_fails_on_a_serious_violation_naming_rule_node_and_summary(base, page):
    with pytest.raises(AssertionError) as failed:
        page.goto(f"{base}/low-contrast")
    message = str(failed.value)
    assert "color-contrast (serious)" in message and f"{base}/low-contrast" in message
    assert "    p:" in message and "insufficient color contrast" in message


def test_the_experimental_name_mismatch_rule_is_on(base, page):
    with pytest.raises(AssertionError, match=r"label-content-name-mismatch \(serious\)[^\n]*\n\s+button:"):
        page.goto(f"{base}/name-mismatch")


def test_a_page_reached_by_a_click_is_checked_too(base, page):
    page.goto(f"{base}/clean")
    with page.expect_navigation():
        page.click("a")
    page.wait_for_function("document.readyState === 'complete'")
    with pytest.raises(AssertionError, match=r"color-contrast \(serious\) on \S+/low-contrast"):
        a11y.flush(page)


def test_content_swapped_in_after_load_is_checked(base, page):
    page.goto(f"{base}/swaps-later")
    page.click("#load")
    with pytest.raises(AssertionError, match=r"color-contrast \(serious\) on \S+/swaps-later[^\n]*\n\s+p: [^\n]*#cccccc"):
        a11y.flush(page)


def test_clean_pages_and_minor_findings_pass(base, page):
    page.goto(f"{base}/clean")
    page.goto(f"{base}/data.json")                                  # JSON, not a page: not checked
    page.goto(f"{base}/minor-only")
    assert "region" in {v["id"] for v in a11y.violations(page)}      # found, but not failing
    a11y.assert_accessible(page)
