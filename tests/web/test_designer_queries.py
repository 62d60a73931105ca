"""The designer's field editor costs the same number of database statements whatever
the number of fields: an entity with 3N fields is not N queries dearer than one with
N (the page reads the draft, the live version and the archived values' counts once)."""
from __future__ import annotations

from sqlalchemy import event

from formloom.auth.users import replace_app_roles
from formloom.store.install import install_documents

KINDS = ("text", "number", "date", "checkbox", "textarea")


def wide_app(n: int) -> dict:
    fields = [{"key": "name", "type": "text", "label": "Name", "required": True}]
    fields += [{"key": f"f{i}", "type": KINDS[i % len(KINDS)], "label": {"en": f"Field {i}", "zh": f"字段{i}"}}
               for i in range(n)]
    fields.append({"key": "kind", "type": "select", "label": "Kind", "options": ["a", "b", "c"]})
    fields.append({"key": "parent", "type": "reference", "entity": "thing", "label": "Parent"})
    return {"key": "wide", "label": "Wide", "version": 1, "timezone": "UTC", "roles": ["admin", "member"],
            "entities": [{"key": "thing", "label": "Thing", "title": "name",
                          "permissions": {"member": {"read": "all"}}, "fields": fields}]}


def statements_for(app, browser, path: str) -> list[str]:
    assert browser.get(path).status_code == 200           # caches warm, as on a running server
    statements: list[str] = []
    engine = app.extensions["formloom.db"].engine
    listener = lambda conn, cursor, statement, *args: statements.append(statement)  # noqa: E731
    event.listen(engine, "before_cursor_execute", listener)
    try:
        page = browser.get(path)
    finally:
        event.remove(engine, "before_cursor_execute", listener)
    assert page.status_code == 200
    return statements


def test_the_field_editor_does_not_run_a_query_per_field(app, browser, people):
    db = app.extensions["formloom.db"]
    install_documents(db, wide_app(10), {})
    with db.write() as conn:
        replace_app_roles(conn, people.admin, "wide", ["admin"], "admin")
    browser.login("admin@example.com")
    few = statements_for(app, browser, "/apps/wide/design/e/thing")
    page = browser.get("/apps/wide/design/e/thing").get_data(as_text=True)
    assert "Field 9" in page

    install_documents(db, wide_app(30), {})
    many = statements_for(app, browser, "/apps/wide/design/e/thing")
    assert "Field 29" in browser.get("/apps/wide/design/e/thing").get_data(as_text=True)
    assert len(many) == len(few), (len(few), len(many))
    assert len(many) < 20
