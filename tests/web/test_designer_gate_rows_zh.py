"""The gate editor's related-record rows speak to the admin: a row begun without its entity
gets one problem, by the entity picker, in the admin's language (not the validator's three
English sentences about "the entity None"); a count below 1 is refused by its own input;
the "count from" choice reads as words, not as the key `stage_entered`."""
from __future__ import annotations

import html
import re

from formloom.auth.users import create_user

from .test_designer import post
from .test_designer_workflows import FLOW, add_linking_entity

STAGE = f"{FLOW}/stages/closed"


def problems(page: str) -> dict[str, str]:
    """Each gate control's problem: control id -> text."""
    return {m.group(1): html.unescape(m.group(2)) for m in re.finditer(
        r'<div class="field has-error" id="control-(g-[^"]+)">.*?<p class="error-text"[^>]*>(.*?)</p>', page, re.S)}


def as_zh_admin(app, browser):
    with app.extensions["formloom.db"].write() as conn:
        create_user(conn, "zhadmin@example.com", "correct-horse-9", name="管理员", language="zh",
                    roles=[("desk", "admin")])
    assert browser.login("zhadmin@example.com", password="correct-horse-9").status_code == 302
    return browser


def test_a_row_without_its_entity_gets_one_chinese_problem_by_the_entity(app, browser):
    zh = as_zh_admin(app, browser)
    add_linking_entity(app)
    answer = post(zh, f"{FLOW}/gates/closed", {"g-related-rows": "1", "g-related-0-min": "-3"}, page=STAGE)
    page = answer.get_data(as_text=True)
    assert answer.status_code == 422
    assert problems(page) == {"g-related-0-entity": "请先选择实体：这一行需要它。"}
    assert "None" not in page and "Related-record requirement" not in page
    assert 'value="-3"' in page                                      # what was typed stays


def test_in_english_and_a_count_below_one_is_refused_by_its_input(app, as_admin):
    add_linking_entity(app)
    answer = post(as_admin, f"{FLOW}/gates/closed", {"g-related-rows": "1", "g-related-0-min": "-3"}, page=STAGE)
    assert problems(answer.get_data(as_text=True)) == {"g-related-0-entity": "Choose Entity first: this row needs it."}
    answer = post(as_admin, f"{FLOW}/gates/closed", {"g-related-rows": "1", "g-related-0-entity": "visit",
                                                     "g-related-0-via": "case", "g-related-0-min": "-3"}, page=STAGE)
    assert answer.status_code == 422
    assert problems(answer.get_data(as_text=True)) == {"g-related-0-min": "Enter a number of at least 1."}


def test_the_count_from_setting_reads_as_words(app, browser):
    zh = as_zh_admin(app, browser)
    page = zh.get(STAGE).get_data(as_text=True)
    since = re.search(r'<div class="field[^"]*" id="control-g-related-0-since">.*?</div>', page, re.S).group(0)
    assert '<option value="stage_entered">自进入本阶段起</option>' in since
    assert "stage_entered" not in re.sub(r'value="stage_entered"', "", since)     # only as the value sent
