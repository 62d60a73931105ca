"""The button under the comment box says "post a comment" in Chinese: the msgid it used,
"Comment", is also the versions table's column (a publish note, 说明), so a Chinese
reader was asked to press 说明 (explanation) to comment. Found by the exploratory walk."""
from __future__ import annotations

import re


def test_the_comment_button_reads_post_comment_in_chinese(browser, make_record):
    acme = make_record("company", {"name": "Acme"})
    case = make_record("case", {"subject": "Printer on fire", "company": acme.id})
    browser.login("viewer@example.com")                       # Vic reads Chinese
    page = browser.get(f"/apps/desk/case/{case.id}").get_data(as_text=True)
    after_the_box = page[page.index('id="comment-body"'):]
    button = re.search(r'<button class="button primary" type="submit">([^<]*)</button>', after_the_box)
    assert button.group(1) == "发表评论"
