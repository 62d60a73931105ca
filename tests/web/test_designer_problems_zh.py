"""Problems the validator finds reach the designer and the API in the reader's language:
the common shapes (a required key missing, an unknown key, a wrong kind of value, a key
used twice, an invalid key, a reference to no entity) are said in Chinese to a Chinese
reader, with the place they concern said in Chinese too; English readers get the
validator's own sentence, unchanged."""
from __future__ import annotations

import copy
import html

from formloom.auth.users import set_language

from .api_client import token_for  # noqa: F401
from .test_api_design import BASE, DesignApi
from .test_designer import post


def broken(draft: dict) -> dict:
    app_doc = copy.deepcopy(draft["app"])
    app_doc["colour"] = "red"                                                          # an unknown key
    case = next(e for e in app_doc["entities"] if e["key"] == "case")
    case["fields"] += [
        {"key": "subject", "type": "text", "label": "Again"},                         # a key used twice
        {"key": "Bad Key", "type": "text", "label": "Bad"},                           # an invalid key
        {"key": "size", "type": "number", "label": "Size", "colour": "red"},          # a key its type lacks
        {"key": "link", "type": "reference", "entity": "nowhere", "label": "Link"},   # no such entity
        {"key": "count", "type": "number", "label": "Count", "max": "ten"},           # a wrong kind of value
        {"key": "bare", "type": "text"},                                              # a required key missing
    ]
    return {"app": app_doc, "workflows": draft["workflows"], "version": draft["version"]}


def messages(app, people, token_for, lang: str) -> list[str]:
    api = DesignApi(app.test_client(), token_for(people.admin), lang)
    response = api.put(f"{BASE}/draft", broken(api.get(f"{BASE}/draft").get_json()))
    assert response.status_code == 422
    return [e["message"] for e in response.get_json()["errors"]]


def test_the_common_problems_are_said_in_chinese(app, people, token_for):
    zh = "\n".join(messages(app, people, token_for, "zh"))
    assert "字段键 'subject' 在" in zh and "被使用了两次" in zh
    assert "'Bad Key' 不是有效的键" in zh
    assert "应用 含有未知的键 'colour'" in zh
    assert "字段 'size' 含有键 'colour'，但类型 'number' 不接受它" in zh
    assert "引用了实体 'nowhere'" in zh
    assert "字段 'count' 的 'max' 必须是数字，而不是文本。" in zh
    assert "字段 'bare' 缺少必填的键 'label'。" in zh
    assert "is missing" not in zh and "unknown key" not in zh and "is used twice" not in zh


def test_english_readers_get_the_validators_sentences(app, people, token_for):
    en = "\n".join(messages(app, people, token_for, "en"))
    assert "Field 'bare' is missing the required key 'label'." in en
    assert "The app has an unknown key 'colour'" in en
    assert "Field 'size' has the key 'colour', which a field of type 'number' cannot have" in en


def test_the_designer_shows_a_problem_by_its_field_in_chinese(app, browser, people):
    with app.extensions["formloom.db"].write() as conn:
        set_language(conn, people.admin, "zh")
    browser.login("admin@example.com")
    response = post(browser, "/apps/desk/design/e/case/settings",
                    {"label-en": "Case", "title": "subject", "list_columns": ["subject"]})
    assert response.status_code == 303
    # a title that is no field, put straight into the draft as an edit the API could make
    from formloom.design import drafts, edits
    with app.extensions["formloom.db"].write() as conn:
        draft = drafts.load_draft(conn, "desk")
        drafts.save_draft(conn, "desk", {**draft.documents, "app": edits.update_entity(
            draft.app, "case", {"title": "subjekt"})}, draft.revision, people.admin)
    page = html.unescape(browser.get("/apps/desk/design/e/case").get_data(as_text=True))
    assert "标题字段 'subjekt' 不是实体 'case' 的字段（是否想写 'subject'？）。" in page
