"""Dashboards are part of the app's draft: a draft starts with the live dashboards, edits
to them and to the app are checked together (removing a field a widget sums is a located
problem of that dashboard), and publishing or restoring a version carries them."""
from __future__ import annotations

from formloom.design import dashboard_edits, drafts
from formloom.design.edits import archive_field
from formloom.store.apps import current_version
from formloom.store.install import install_documents

from ..dashboards import shop


def installed(db):
    install_documents(db, shop.shop_app(), {"deal_flow": shop.deal_flow()}, dashboard_docs={"board": shop.board()})


def test_a_draft_carries_the_dashboards_and_checks_them_with_the_app(db):
    installed(db)
    with db.write() as conn:
        draft = drafts.edit_draft(conn, "shop", 0, None, lambda app: archive_field(app, "deal", "amount"))
    assert draft.dashboards["board"]["key"] == "board"
    found = [(p.source, p.json_path) for p in drafts.check_draft(draft.documents)]
    assert ("dashboards/board.json", "$.widgets[0].measures[0].field") in found


def test_publishing_a_dashboard_edit_and_restoring_the_version_before_it(db):
    installed(db)
    with db.write() as conn:
        draft = drafts.edit_documents(conn, "shop", 0, None,
                                      lambda docs: dashboard_edits.remove_widget(docs, "board", "funnel"))
    drafts.publish_draft(db, "shop", revision=draft.revision, user_id=None, comment="no funnel")
    with db.read() as conn:
        live = current_version(conn, "shop")
    assert [w["key"] for w in live.documents["dashboards"]["board"]["widgets"]] == [
        "won_amount", "deals", "by_stage", "mine_due"]
    drafts.restore_version(db, "shop", live.number - 1, user_id=None)
    with db.read() as conn:
        restored = current_version(conn, "shop")
    assert "funnel" in [w["key"] for w in restored.documents["dashboards"]["board"]["widgets"]]
