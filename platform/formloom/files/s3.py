"""Attachment bytes in an S3-compatible bucket (AWS S3, MinIO, Ceph, Aliyun OSS and
the like), behind the same calls as the local disk (files/storage.py).

Configured by environment (or the same keys in the app config, without the
FORMLOOM_ prefix):

    FORMLOOM_FILES_S3_BUCKET      the bucket (required: its presence selects this backend)
    FORMLOOM_FILES_S3_ENDPOINT    the server's URL, for anything but AWS itself
    FORMLOOM_FILES_S3_REGION      default us-east-1
    FORMLOOM_FILES_S3_ACCESS_KEY  and FORMLOOM_FILES_S3_SECRET_KEY; without them boto3's
                                  own chain (instance role, ~/.aws) is used
    FORMLOOM_FILES_S3_PREFIX      a folder inside the bucket, default "formloom/"

boto3 is an optional extra (`pip install formloom[s3]`): it is imported only when a
bucket is configured, and its absence is then said in one sentence.
"""
from __future__ import annotations

import functools
import os
from typing import Any, Mapping

from .storage import StorageUnavailable, is_file_id, new_file_id

SETTINGS = ("BUCKET", "ENDPOINT", "REGION", "ACCESS_KEY", "SECRET_KEY", "PREFIX")


class StorageConfigError(RuntimeError):
    """The configured storage cannot be used (e.g. boto3 missing for a bucket)."""


def s3_settings(config: Mapping[str, Any]) -> dict[str, str] | None:
    """The FILES_S3_* settings (app config first, then FORMLOOM_FILES_S3_* in the
    environment), or None when no bucket is configured."""
    found = {}
    for name in SETTINGS:
        value = config.get(f"FILES_S3_{name}") or os.environ.get(f"FORMLOOM_FILES_S3_{name}")
        if value:
            found[name.lower()] = str(value)
    return found if found.get("bucket") else None


def _reachable(method):
    """A transport failure or a refusal other than "no such key" is the storage being
    unavailable (503 and a retry), not a bug of the request."""
    @functools.wraps(method)
    def wrapper(self, *args, **kwargs):
        from botocore.exceptions import BotoCoreError, ClientError
        try:
            return method(self, *args, **kwargs)
        except (KeyError, StorageUnavailable):
            raise
        except (BotoCoreError, ClientError) as error:
            raise StorageUnavailable(f"S3 bucket {self.bucket!r}: {error}") from error
    return wrapper


class S3Storage:
    """Objects at <prefix><first two hex digits>/<id> in one bucket."""

    def __init__(self, bucket: str, *, endpoint: str | None = None, region: str | None = None,
                 access_key: str | None = None, secret_key: str | None = None, prefix: str = "formloom/",
                 client: Any = None):
        self.bucket = bucket
        self.prefix = prefix if not prefix or prefix.endswith("/") else prefix + "/"
        self.client = client or _client(endpoint, region, access_key, secret_key)
        from botocore.exceptions import ClientError
        self._client_error = ClientError

    @classmethod
    def from_settings(cls, settings: Mapping[str, str]) -> "S3Storage":
        return cls(settings["bucket"], endpoint=settings.get("endpoint"), region=settings.get("region"),
                   access_key=settings.get("access_key"), secret_key=settings.get("secret_key"),
                   prefix=settings.get("prefix", "formloom/"))

    def _key(self, file_id: str) -> str:
        if not is_file_id(file_id):
            raise KeyError(file_id)
        return f"{self.prefix}{file_id[:2]}/{file_id}"

    def _missing(self, error) -> bool:
        code = str(error.response.get("Error", {}).get("Code", ""))
        return code in ("404", "NoSuchKey", "NotFound")

    @_reachable
    def put(self, data: bytes) -> str:
        file_id = new_file_id()
        self.client.put_object(Bucket=self.bucket, Key=self._key(file_id), Body=data,
                               ContentType="application/octet-stream")
        return file_id

    @_reachable
    def open(self, file_id: str) -> bytes:
        try:
            answer = self.client.get_object(Bucket=self.bucket, Key=self._key(file_id))
        except self._client_error as error:
            if self._missing(error):
                raise KeyError(file_id) from None
            raise
        return answer["Body"].read()

    @_reachable
    def delete(self, file_id: str) -> None:
        self.client.delete_object(Bucket=self.bucket, Key=self._key(file_id))   # absent: no error in S3

    @_reachable
    def exists(self, file_id: str) -> bool:
        if not is_file_id(file_id):
            return False
        try:
            self.client.head_object(Bucket=self.bucket, Key=self._key(file_id))
        except self._client_error as error:
            if self._missing(error):
                return False
            raise
        return True

    @_reachable
    def ids(self) -> list[str]:
        out = []
        for page in self.client.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=self.prefix):
            for item in page.get("Contents", ()):
                name = item["Key"].rsplit("/", 1)[-1]
                if is_file_id(name):
                    out.append(name)
        return sorted(out)


def _client(endpoint: str | None, region: str | None, access_key: str | None, secret_key: str | None):
    try:
        import boto3
        from botocore.config import Config
    except ImportError:
        raise StorageConfigError("FORMLOOM_FILES_S3_BUCKET is set but boto3 is not installed: "
                                 "pip install 'formloom[s3]'.") from None
    return boto3.client("s3", endpoint_url=endpoint or None, region_name=region or "us-east-1",
                        aws_access_key_id=access_key or None, aws_secret_access_key=secret_key or None,
                        config=Config(signature_version="s3v4", retries={"max_attempts": 3},
                                      connect_timeout=5, read_timeout=30))
