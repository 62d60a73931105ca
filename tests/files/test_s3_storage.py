"""The storage contract, held by both backends: the local disk and an S3-compatible
bucket. The bucket is a real S3 server on this machine (moto's standalone server,
started on a free port as a separate process), spoken to through boto3."""
from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request

import pytest

from formloom.files.storage import LocalStorage, storage_from_config

boto3 = pytest.importorskip("boto3")
pytest.importorskip("moto.server")

BUCKET = "formloom-test"
KEYS = {"FILES_S3_ACCESS_KEY": "testing", "FILES_S3_SECRET_KEY": "testing", "FILES_S3_REGION": "us-east-1"}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def s3_endpoint():
    port = _free_port()
    env = {**os.environ, "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}
    server = subprocess.Popen([sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    endpoint = f"http://127.0.0.1:{port}"
    try:
        for _ in range(200):                      # up to 20 s on a loaded machine
            if server.poll() is not None:
                pytest.skip("moto's S3 server did not start here")
            try:
                urllib.request.urlopen(endpoint + "/moto-api/", timeout=1).close()
                break
            except OSError:
                time.sleep(0.1)
        else:
            pytest.fail("moto's S3 server did not answer within 20 s")
        yield endpoint
    finally:
        server.terminate()
        server.wait(timeout=10)


@pytest.fixture
def bucket(s3_endpoint, request):
    """A fresh bucket per test, so tests never see each other's files."""
    name = f"{BUCKET}-{abs(hash(request.node.nodeid)) % 10**8}"
    client = boto3.client("s3", endpoint_url=s3_endpoint, region_name="us-east-1",
                          aws_access_key_id="testing", aws_secret_access_key="testing")
    client.create_bucket(Bucket=name)
    yield name
    for item in client.list_objects_v2(Bucket=name).get("Contents", ()):
        client.delete_object(Bucket=name, Key=item["Key"])
    client.delete_bucket(Bucket=name)
    client.close()


@pytest.fixture(params=["local", "s3"])
def storage(request, tmp_path):
    if request.param == "local":
        return LocalStorage(tmp_path / "files")
    endpoint, name = request.getfixturevalue("s3_endpoint"), request.getfixturevalue("bucket")
    return storage_from_config({"INSTANCE": str(tmp_path), "FILES_S3_BUCKET": name, "FILES_S3_ENDPOINT": endpoint,
                                **KEYS})


def test_bytes_come_back_under_the_id_the_storage_made(storage):
    first, second = storage.put(b"%PDF-1.4 one"), storage.put("二".encode())
    assert first != second and len(first) == 32
    assert storage.open(first) == b"%PDF-1.4 one" and storage.open(second) == "二".encode()
    assert storage.exists(first) and storage.ids() == sorted([first, second])


def test_a_deleted_or_unknown_id_is_gone_and_deleting_twice_is_harmless(storage):
    file_id = storage.put(b"x")
    storage.delete(file_id)
    storage.delete(file_id)
    assert not storage.exists(file_id) and storage.ids() == []
    with pytest.raises(KeyError):
        storage.open(file_id)
    with pytest.raises(KeyError):
        storage.open("0" * 32)


def test_a_name_or_path_is_never_an_id(storage):
    for bad in ("../../etc/passwd", "0" * 31, "G" * 32, "a/" + "0" * 30):
        assert not storage.exists(bad)
        with pytest.raises(KeyError):
            storage.open(bad)


def test_the_bucket_is_chosen_by_environment(monkeypatch, s3_endpoint, bucket, tmp_path):
    from formloom.files.s3 import S3Storage
    for key, value in {"BUCKET": bucket, "ENDPOINT": s3_endpoint, "ACCESS_KEY": "testing",
                       "SECRET_KEY": "testing", "PREFIX": "tenant-a"}.items():
        monkeypatch.setenv(f"FORMLOOM_FILES_S3_{key}", value)
    storage = storage_from_config({"INSTANCE": str(tmp_path)})
    assert isinstance(storage, S3Storage)
    file_id = storage.put(b"hello")
    [key] = [o["Key"] for o in storage.client.list_objects_v2(Bucket=bucket)["Contents"]]
    assert key == f"tenant-a/{file_id[:2]}/{file_id}"


def test_without_a_bucket_the_local_disk_is_used(monkeypatch, tmp_path):
    monkeypatch.delenv("FORMLOOM_FILES_S3_BUCKET", raising=False)
    monkeypatch.delenv("FORMLOOM_FILES_DIR", raising=False)
    storage = storage_from_config({"INSTANCE": str(tmp_path)})
    assert isinstance(storage, LocalStorage) and storage.root == tmp_path / "files"


def test_an_upload_and_its_thumbnail_live_in_the_bucket_and_are_served_from_it(
        s3_endpoint, bucket, database_url, tmp_path):
    """End to end: the web app configured with the bucket takes a comment's photo and serves it back."""
    import io

    from PIL import Image

    from formloom.app import create_app
    from formloom.auth.users import create_user
    from formloom.store.install import install_documents
    from formloom.store.records import create_record
    from formloom.auth.users import load_actor
    from tests.web.desk import CASE_FLOW, desk_app

    flask_app = create_app({"DATABASE_URL": database_url, "SECRET_KEY": "s3", "INSTANCE": str(tmp_path / "i"),
                            "FILES_S3_BUCKET": bucket, "FILES_S3_ENDPOINT": s3_endpoint, **KEYS})
    db = flask_app.extensions["formloom.db"]
    try:
        install_documents(db, desk_app(), {"case_flow": dict(CASE_FLOW)})
        with db.write() as conn:
            user = create_user(conn, "agent@example.com", "correct-horse-9", name="A", roles=[("desk", "agent")])
            desk, version_id = flask_app.extensions["formloom.catalog"].get("desk")
            record = create_record(conn, desk, desk.entity("case"), {"subject": "S3"}, actor_id=user,
                                   version_id=version_id)
        client = flask_app.test_client()
        flask_app.config["WTF_CSRF_ENABLED"] = False
        client.post("/login", data={"email": "agent@example.com", "password": "correct-horse-9"})
        out = io.BytesIO()
        Image.new("RGB", (1000, 500), "orange").save(out, "PNG")
        answer = client.post(f"/apps/desk/case/{record.id}/comments", content_type="multipart/form-data",
                             data={"body": "photo", "files": [(io.BytesIO(out.getvalue()), "site.png")]})
        assert answer.status_code == 302, answer.get_data(as_text=True)
        from formloom.store.tables import files
        with db.read() as conn:
            [row] = conn.execute(files.select()).all()
        assert sorted(flask_app.extensions["formloom.files"].ids()) == sorted([row.id, row.thumb_id])
        assert client.get(f"/apps/desk/files/{row.id}").data == out.getvalue()
        thumb = client.get(f"/apps/desk/files/{row.id}/thumbnail")
        assert Image.open(io.BytesIO(thumb.data)).size == (320, 160)
    finally:
        db.dispose()


def test_a_bucket_out_of_reach_is_unavailable_not_a_crash(tmp_path):
    from formloom.files.storage import StorageUnavailable
    unreachable = storage_from_config({"INSTANCE": str(tmp_path), "FILES_S3_BUCKET": "gone",
                                       "FILES_S3_ENDPOINT": f"http://127.0.0.1:{_free_port()}", **KEYS})
    unreachable.client.meta.config.retries = {"max_attempts": 1}
    with pytest.raises(StorageUnavailable):
        unreachable.put(b"x")
    with pytest.raises(StorageUnavailable):
        unreachable.open("0" * 32)


def test_a_missing_bucket_answers_503_with_a_retry_on_the_web(s3_endpoint, database_url, tmp_path):
    from formloom.app import create_app
    flask_app = create_app({"DATABASE_URL": database_url, "SECRET_KEY": "s3", "INSTANCE": str(tmp_path / "i"),
                            "FILES_S3_BUCKET": "no-such-bucket", "FILES_S3_ENDPOINT": s3_endpoint, **KEYS})
    try:
        with flask_app.test_request_context("/apps/x/files/y", headers={"Accept": "application/json"}):
            from formloom.files.storage import StorageUnavailable
            from formloom.web.files import _storage_unavailable, storage
            with pytest.raises(StorageUnavailable) as refused:
                storage().put(b"x")
            response = _storage_unavailable(refused.value)
            assert response.status_code == 503 and response.headers["Retry-After"] == "30"
            assert response.get_json()["error"]["code"] == "unavailable"
    finally:
        flask_app.extensions["formloom.db"].dispose()
