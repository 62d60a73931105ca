"""Installing and upgrading apps never loses data."""
import pytest

from formloom.definitions.problems import DocumentError
from formloom.errors import InstallError
from formloom.store.apps import AppCatalog, list_versions
from formloom.store.install import install_documents
from formloom.store.records import create_record, get_record

from ..conftest import helpdesk_app


def entity_doc(app_doc, key):
    return next(e for e in app_doc["entities"] if e["key"] == key)


def add_client(db, name="Acme", **data):
    app, version_id = AppCatalog(db).get("helpdesk")
    with db.write() as conn:
        return create_record(conn, app, app.entity("client"), {"name": name, **data}, actor_id=None,
                             version_id=version_id)


def test_installing_the_same_documents_twice_keeps_one_version(db):
    first = install_documents(db, helpdesk_app(), {})
    second = install_documents(db, helpdesk_app(), {})
    assert first.changed and not second.changed
    with db.read() as conn:
        assert [v.number for v in list_versions(conn, "helpdesk")] == [1]


def test_records_remember_the_version_that_wrote_them(db):
    install_documents(db, helpdesk_app(), {})
    client = add_client(db)
    doc = helpdesk_app()
    entity_doc(doc, "client")["fields"][0]["label"] = "Company name"
    result = install_documents(db, doc, {})
    assert result.version.number == 2
    app, _version_id = AppCatalog(db).get("helpdesk")
    with db.read() as conn:                 # read back after the upgrade: the record keeps the version that wrote it
        stored = get_record(conn, app, app.entity("client"), client.id)
    assert stored.definition_version_id == client.definition_version_id != result.version.id


def test_relabelled_field_keeps_key_and_data(db):
    install_documents(db, helpdesk_app(), {})
    client = add_client(db, email="a@example.com")
    doc = helpdesk_app()
    entity_doc(doc, "client")["fields"][1]["label"] = {"en": "E-mail", "zh": "邮箱"}
    install_documents(db, doc, {})
    app = AppCatalog(db).app("helpdesk")
    assert app.entity("client").field("email").label.get("zh") == "邮箱"
    with db.read() as conn:
        assert get_record(conn, app, app.entity("client"), client.id).data["email"] == "a@example.com"


def test_dropped_field_is_archived_with_its_values_and_restorable(db):
    install_documents(db, helpdesk_app(), {})
    client = add_client(db, tier="gold")
    doc = helpdesk_app()
    entity_doc(doc, "client")["fields"].pop(2)
    result = install_documents(db, doc, {})
    assert result.archived == ["client.tier"]
    app = AppCatalog(db).app("helpdesk")
    assert [f.key for f in app.entity("client").archived_fields] == ["tier"]
    with db.read() as conn:
        assert get_record(conn, app, app.entity("client"), client.id).data["tier"] == "gold"
    restored = install_documents(db, helpdesk_app(), {})
    assert restored.restored == ["client.tier"]
    assert AppCatalog(db).app("helpdesk").entity("client").field("tier") is not None


def test_type_change_that_would_lose_values_is_refused_with_count_and_examples(db):
    install_documents(db, helpdesk_app(), {})
    add_client(db, name="Acme", email="not-a-number@example.com")
    doc = helpdesk_app()
    entity_doc(doc, "client")["fields"][1] = {"key": "email", "type": "number", "label": "Email"}
    with pytest.raises(InstallError) as caught:
        install_documents(db, doc, {})
    assert "1 existing value" in caught.value.message and "not-a-number" in caught.value.message
    with db.read() as conn:
        assert [v.number for v in list_versions(conn, "helpdesk")] == [1]


def test_type_change_that_converts_every_value_is_applied(db):
    install_documents(db, helpdesk_app(), {})
    client = add_client(db, name="Acme", tier="gold")
    doc = helpdesk_app()
    entity_doc(doc, "client")["fields"][2] = {"key": "tier", "type": "text", "label": "Tier"}
    install_documents(db, doc, {})
    app = AppCatalog(db).app("helpdesk")
    with db.read() as conn:
        assert get_record(conn, app, app.entity("client"), client.id).data["tier"] == "gold"


def test_removing_an_option_in_use_is_refused(db):
    install_documents(db, helpdesk_app(), {})
    add_client(db, tier="silver")
    doc = helpdesk_app()
    entity_doc(doc, "client")["fields"][2]["options"] = ["gold"]
    with pytest.raises(InstallError):
        install_documents(db, doc, {})


def test_removing_an_entity_with_records_is_refused(db):
    install_documents(db, helpdesk_app(), {})
    client = add_client(db)
    app, _ = AppCatalog(db).get("helpdesk")
    with db.write() as conn:
        create_record(conn, app, app.entity("ticket"), {"subject": "Help", "client": client.id}, actor_id=None)
    doc = helpdesk_app()
    doc["entities"] = [e for e in doc["entities"] if e["key"] == "client"]
    with pytest.raises(InstallError):
        install_documents(db, doc, {})


def test_invalid_documents_are_refused_before_anything_is_written(db):
    doc = helpdesk_app()
    doc["entities"][0]["title"] = "nmae"
    with pytest.raises(DocumentError) as caught:
        install_documents(db, doc, {})
    assert any("nmae" in p.message for p in caught.value.problems)
    with db.read() as conn:
        assert list_versions(conn, "helpdesk") == []
