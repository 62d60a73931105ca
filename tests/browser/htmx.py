"""Waiting for an htmx swap, not for its response: the response arrives before the new
element is in the page, so a test that acts on the answer's controls right after the
response may act on the old ones, which htmx is about to throw away."""
from __future__ import annotations

from contextlib import contextmanager


@contextmanager
def swapped(page, selector: str):
    """Run the block (which should make htmx replace `selector`), then wait until the element
    that was there is gone and a new one stands in its place."""
    from playwright.sync_api import expect
    page.locator(selector).evaluate("el => el.setAttribute('data-before-swap', '')")
    yield
    expect(page.locator(f"{selector}[data-before-swap]")).to_have_count(0)
    expect(page.locator(selector)).to_have_count(1)
