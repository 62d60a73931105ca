"""The list's "Add a filter" and "Columns" panels are rendered once per app version, language
and the reader's visible fields, then filled per request (web/list_panels.py): they must
still follow each of those at once, and each request's own arguments and columns."""
import copy
import re

from formloom.store.install import install_documents

from .desk import CASE_FLOW, desk_app


def panel(page: str, css: str) -> str:
    start = page.index(f'class="{css}"')
    return page[start:page.index("</form>", start)]


def panels(browser, path="/apps/desk/case/") -> tuple[str, str]:
    page = browser.get(path).get_data(as_text=True)
    assert "<!--hole" not in page
    return panel(page, "filter-form"), panel(page, "columns-form")


def ticked(columns: str) -> set[str]:
    return set(re.findall(r'name="cols" value="([a-z_]+)" checked', columns))


def publish(app, change) -> None:
    doc = desk_app()
    change(next(e for e in doc["entities"] if e["key"] == "case"))
    install_documents(app.extensions["formloom.db"], doc, {"case_flow": copy.deepcopy(CASE_FLOW)})


def test_the_panels_follow_a_new_version_of_the_app(app, as_agent):
    filters, columns = panels(as_agent)
    assert ">Priority<" in filters and "> Priority</label>" in columns and "Medium" not in filters

    def urgency(case):
        priority = next(f for f in case["fields"] if f["key"] == "priority")
        priority["label"] = {"en": "Urgency", "zh": "紧急程度"}
        priority["options"].append({"value": "medium", "label": {"en": "Medium", "zh": "中"}})
    publish(app, urgency)
    filters, columns = panels(as_agent)
    assert ">Urgency<" in filters and '<option value="medium">Medium</option>' in filters
    assert "> Urgency</label>" in columns and "Priority" not in filters + columns


def test_the_panels_follow_the_language(as_agent):
    filters, columns = panels(as_agent)
    assert ">Priority<" in filters and ">Low<" in filters and ">is one of<" in filters
    as_agent.post("/language", {"lang": "zh", "next": "/"})
    filters, columns = panels(as_agent)
    assert ">优先级<" in filters and ">低<" in filters and "Priority" not in filters
    assert "> 优先级</label>" in columns


def test_the_panels_follow_the_readers_visible_fields(browser):
    browser.login("agent@example.com")
    filters, columns = panels(browser)
    assert "Internal notes" in filters and 'value="notes"' in columns
    browser.logout()
    browser.login("viewer@example.com")
    filters, columns = panels(browser)
    assert "内部备注" not in filters + columns and 'value="notes"' not in filters + columns   # the viewer reads Chinese
    assert 'value="priority"' in filters and 'value="priority"' in columns


def test_each_request_fills_in_its_own_arguments_and_ticked_columns(as_agent):
    filters, columns = panels(as_agent, "/apps/desk/case/?priority=low&cols=subject,due&offset=50")
    assert '<input type="hidden" name="priority" value="low">' in filters
    assert '<input type="hidden" name="cols" value="subject,due">' in filters and "offset" not in filters
    assert '<input type="hidden" name="priority" value="low">' in columns and 'type="hidden" name="cols"' not in columns
    assert ticked(columns) == {"subject", "due"}
    filters, columns = panels(as_agent, "/apps/desk/case/?priority=high&cols=owner")
    assert 'value="high">' in filters and 'name="priority" value="low"' not in filters
    assert ticked(columns) == {"subject", "company", "priority", "budget", "due", "owner"}   # the defaults and the owner
    filters, columns = panels(as_agent)
    assert not re.search(r'type="hidden" name="(priority|cols|q)"', filters + columns)
    assert ticked(columns) == {"subject", "company", "priority", "budget", "due"}


def test_arguments_and_labels_are_escaped_and_cannot_open_a_hole(app, as_agent):
    publish(app, lambda case: case["fields"][0].update(label={"en": "Subject <!--hole:hidden-->", "zh": "主题"}))
    filters, columns = panels(as_agent, "/apps/desk/case/?q=%22%3E%3Cscript%3E")
    assert "Subject &lt;!--hole:hidden--&gt;" in filters and "Subject &lt;!--hole:hidden--&gt;" in columns
    assert filters.count('type="hidden" name="q"') == 1 and 'name="q" value="&#34;&gt;&lt;script&gt;">' in filters
