"""The shop app installed with its dashboard, its people, and the fixed deals."""
from __future__ import annotations

from zoneinfo import ZoneInfo

import pytest

from formloom.auth.users import create_user, load_actor
from formloom.store.apps import AppCatalog
from formloom.store.install import install_documents

from . import shop


@pytest.fixture
def shop_db(db):
    install_documents(db, shop.shop_app(), {"deal_flow": shop.deal_flow()}, dashboard_docs={"board": shop.board()})
    with db.write() as conn:
        lead = create_user(conn, "lead@example.com", "pw-123456789", name="Lena Lead", roles=[("shop", "lead")])
        people = {
            "admin": create_user(conn, "admin@example.com", "pw-123456789", name="Ada Admin", roles=[("shop", "admin")]),
            "lead": lead,
            "a": create_user(conn, "a@example.com", "pw-123456789", name="Ann Seller", roles=[("shop", "seller")],
                             manager_id=lead),
            "b": create_user(conn, "b@example.com", "pw-123456789", name="Bob Seller", roles=[("shop", "seller")],
                             manager_id=lead),
        }
    app, version_id = AppCatalog(db).get("shop")
    ids = shop.seed(db, app, version_id, people)
    return db, app, version_id, people, ids


ZONE = ZoneInfo("Asia/Shanghai")


def actor_of(conn, people, who):
    return load_actor(conn, people[who])
