"""The Chromium every browser test drives. Every page it visits is checked with
axe-core (tests/browser/a11y.py): a serious or critical accessibility violation
fails the test, like a console error does."""
from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from . import a11y

#: The browser logs every 4xx it receives; a 422 (field errors) is an answer, not a problem.
EXPECTED_STATUS = re.compile(r"Failed to load resource: the server responded with a status of 422")
CHROMIUM = Path(os.environ.get("FORMLOOM_CHROMIUM", "/usr/bin/chromium"))
LAUNCH_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
               "--disable-component-update", "--disable-sync"]


@pytest.fixture
def page():
    if not CHROMIUM.exists():
        pytest.skip(f"no Chromium at {CHROMIUM} (apt-get install chromium, or set FORMLOOM_CHROMIUM)")
    from playwright.sync_api import sync_playwright
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=LAUNCH_ARGS)
        context = browser.new_context(viewport={"width": 1280, "height": 900})
        tab = context.new_page()
        tab.set_default_timeout(10_000)
        tab.console_problems = []
        tab.on("console", lambda msg: msg.type == "error" and not EXPECTED_STATUS.search(msg.text)
               and tab.console_problems.append(msg.text))
        tab.on("pageerror", lambda error: tab.console_problems.append(str(error)))
        a11y.attach(context, tab)
        try:
            yield tab
            a11y.flush(tab)             # what the automatic checks found on the last pages
        finally:
            context.close()
            browser.close()
