"""A formula that cannot be read is explained in Chinese to a Chinese admin, both in the
live result under the editor and by the setting when the field is saved: the walk of the
demo found "无法读取此公式：has a syntax error near the end。" and an all-English sentence
by the formula box. A problem of another shape is still shown as written."""
from __future__ import annotations

import re

from .test_designer import CASE, post
from .test_designer_formulas import PREVIEW


def test_the_live_result_says_a_syntax_error_in_chinese(as_admin):
    as_admin.post("/language", {"lang": "zh"})
    shown = as_admin.get(PREVIEW, query_string={"s-formula": "budget *"}).get_data(as_text=True)
    assert "无法读取此公式：末尾附近有语法错误。" in shown and "syntax error" not in shown
    shown = as_admin.get(PREVIEW, query_string={"s-formula": 'IF(budget > 1, "A"'}).get_data(as_text=True)
    assert re.search(r"无法读取此公式：第 \d+ 列有语法错误：应为 &#39;\)&#39;，实际为结尾。", shown)


def test_a_refused_formula_field_says_why_in_chinese(as_admin):
    as_admin.post("/language", {"lang": "zh"})
    refused = post(as_admin, f"{CASE}/new/formula", {"s-label-en": "Broken", "s-key": "broken",
                                                     "s-formula": "budget *"})
    page = refused.get_data(as_text=True)
    assert refused.status_code == 422
    assert "字段 &#39;broken&#39; 的公式末尾附近有语法错误。" in page and "syntax error" not in page
    refused = post(as_admin, f"{CASE}/new/formula", {"s-label-en": "Ghost", "s-key": "ghost_sum",
                                                     "s-formula": "ghost + 1"})
    assert "字段 &#39;ghost_sum&#39; 的公式使用了 &#39;ghost&#39;，它不是此实体的字段" in refused.get_data(as_text=True)


def test_english_readers_keep_the_sentences(as_admin):
    shown = as_admin.get(PREVIEW, query_string={"s-formula": "budget *"}).get_data(as_text=True)
    assert "This formula cannot be read: it has a syntax error near the end." in shown
