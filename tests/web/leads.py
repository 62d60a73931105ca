"""A small generic app with a claimable pool and calendar dates, for the pool and
to-do tests (not the CRM: the screens work from documents alone)."""
from __future__ import annotations

import copy
from dataclasses import dataclass

from formloom.auth.users import create_user
from formloom.store.install import install_documents

LEADS_APP = {
    "key": "leads",
    "label": {"en": "Leads", "zh": "线索"},
    "version": 1,
    "timezone": "Asia/Shanghai",
    "roles": ["admin", "rep", "clerk"],
    "entities": [{
        "key": "prospect",
        "label": {"en": "Prospect", "zh": "潜在客户"},
        "plural": {"en": "Prospects", "zh": "潜在客户"},
        "title": "name",
        "workflow": "prospect_flow",
        "list_columns": ["name", "city", "next_call"],
        "pool": {"roles": ["rep"], "limit": 2, "claim_stage": "mine", "return_stage": "open"},
        "calendar_fields": ["next_call"],
        "permissions": {"rep": {"create": True, "read": "own", "update": "own"},
                        "clerk": {"create": True, "read": "own", "update": "own"}},
        "fields": [
            {"key": "name", "type": "text", "label": {"en": "Name", "zh": "名称"}, "required": True},
            {"key": "city", "type": "text", "label": {"en": "City", "zh": "城市"}},
            {"key": "next_call", "type": "date", "label": {"en": "Next call", "zh": "下次联系"}},
            {"key": "secret", "type": "text", "label": {"en": "Secret", "zh": "机密"}, "hidden_for": ["rep"]},
        ],
    }],
}
PROSPECT_FLOW = {
    "key": "prospect_flow", "entity": "prospect", "skip": "allow",
    "stages": [{"key": "open", "label": {"en": "Open", "zh": "公海"}, "from": ["*"]},
               {"key": "mine", "label": {"en": "Claimed", "zh": "已领取"}, "from": ["*"]}],
}
PASSWORD = "correct-horse-9"


@dataclass
class Reps:
    admin: int
    ann: int
    bob: int
    clerk: int


def install_leads(db, app_doc: dict | None = None) -> Reps:
    install_documents(db, copy.deepcopy(app_doc or LEADS_APP), {"prospect_flow": copy.deepcopy(PROSPECT_FLOW)})
    with db.write() as conn:
        return Reps(
            admin=create_user(conn, "boss@example.com", PASSWORD, name="Bea Boss", roles=[("leads", "admin")]),
            ann=create_user(conn, "ann@example.com", PASSWORD, name="Ann Rep", roles=[("leads", "rep")]),
            bob=create_user(conn, "bob@example.com", PASSWORD, name="Bob Rep", language="zh",
                            roles=[("leads", "rep")]),
            clerk=create_user(conn, "clerk@example.com", PASSWORD, name="Cal Clerk", roles=[("leads", "clerk")]),
        )


def add_prospect(db, catalog, data: dict, owner: int | None = None):
    """A prospect owned by `owner`, or in the pool (no owner) when None."""
    from formloom.store.records import create_record
    app, version_id = catalog.get("leads")
    entity = app.entity("prospect")
    with db.write() as conn:
        return create_record(conn, app, entity, data, actor_id=owner, owner_id=owner, version_id=version_id,
                             stage="mine" if owner else "open")
