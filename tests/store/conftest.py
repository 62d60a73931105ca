import pytest

from formloom.auth.users import create_user, load_actor
from formloom.store.apps import AppCatalog
from formloom.store.install import install_documents

from ..conftest import helpdesk_app


@pytest.fixture
def installed(db):
    """The helpdesk app installed; returns (app, version_id)."""
    install_documents(db, helpdesk_app(), {})
    return AppCatalog(db).get("helpdesk")


@pytest.fixture
def make_user(db):
    def make(email="agent@example.com", roles=(("helpdesk", "agent"),), **kw):
        with db.write() as conn:
            user_id = create_user(conn, email, "password123", roles=roles, **kw)
            return load_actor(conn, user_id)
    return make
