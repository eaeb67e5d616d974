import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

from fmops.adapters import client, error_code
from fmops.errors import ArtifactStoreUnavailable

_CHUNK = 8 * 1024 * 1024
_MAX_VERSIONS_SEARCHED = 50
_NOT_FOUND = {"404", "NoSuchKey", "NotFound"}


class S3ArtifactStore:
    def __init__(self, s3: Any = None) -> None:
        self._s3 = s3

    @property
    def s3(self) -> Any:
        return self._s3 or client("s3")

    def read(self, bucket: str, key: str, max_bytes: int) -> bytes:
        response = self.s3.get_object(Bucket=bucket, Key=key, Range=f"bytes=0-{max_bytes}")
        return bytes(response["Body"].read())

    def size_of(self, bucket: str, key: str) -> int | None:
        try:
            return int(self.s3.head_object(Bucket=bucket, Key=key)["ContentLength"])
        except ClientError as error:
            if error_code(error) in _NOT_FOUND:
                return None
            raise ArtifactStoreUnavailable(f"cannot read s3://{bucket}/{key}: {error_code(error)}") from error

    def sha256_of(self, bucket: str, key: str) -> str:
        digest = hashlib.sha256()
        for chunk in self.stream(bucket, key):
            digest.update(chunk)
        return digest.hexdigest()

    def stream(self, bucket: str, key: str) -> Iterator[bytes]:
        body = self.s3.get_object(Bucket=bucket, Key=key)["Body"]
        yield from body.iter_chunks(_CHUNK)

    def read_matching(self, bucket: str, key: str, sha256: str, max_bytes: int) -> bytes | None:
        current = self.read(bucket, key, max_bytes)
        if hashlib.sha256(current).hexdigest() == sha256:
            return current
        # Newest first; a version folder sees few uploads, so the first page is plenty.
        listing = self.s3.list_object_versions(Bucket=bucket, Prefix=key, MaxKeys=_MAX_VERSIONS_SEARCHED)
        for version in listing.get("Versions", []):
            if version["Key"] != key or version.get("IsLatest"):
                continue
            response = self.s3.get_object(
                Bucket=bucket, Key=key, VersionId=version["VersionId"], Range=f"bytes=0-{max_bytes}"
            )
            raw = bytes(response["Body"].read())
            if hashlib.sha256(raw).hexdigest() == sha256:
                return raw
        return None


class S3EvidenceStore:
    """Evaluation results and gate decisions, as JSON, in the evidence bucket."""

    def __init__(self, bucket: str, s3: Any = None) -> None:
        self._bucket = bucket
        self._s3 = s3

    def put_json(self, key: str, document: dict[str, object]) -> str:
        s3 = self._s3 or client("s3")
        body = json.dumps(document, indent=2, sort_keys=True, default=str).encode()
        s3.put_object(Bucket=self._bucket, Key=key, Body=body, ContentType="application/json")
        return f"s3://{self._bucket}/{key}"


@dataclass(frozen=True)
class StoredPolicy:
    body: bytes
    version_id: str | None  # None when the bucket is not versioned


class S3PolicyStore:
    """Policy files at the top of one bucket (`default.json`, `<model group>.json`); implements PolicyStore.

    A missing key reads as None only if the caller may list the bucket: without s3:ListBucket,
    S3 answers AccessDenied for a missing key, which is raised rather than taken for "no file"."""

    def __init__(self, bucket: str, s3: Any = None) -> None:
        self.bucket = bucket
        self._s3 = s3

    @property
    def s3(self) -> Any:
        return self._s3 or client("s3")

    def uri(self, name: str) -> str:
        return f"s3://{self.bucket}/{name}"

    def read(self, name: str) -> bytes | None:
        stored = self.get(name)
        return stored.body if stored is not None else None

    def get(self, name: str) -> StoredPolicy | None:
        """The file's exact bytes and its S3 version id, or None if there is no such file."""
        try:
            response = self.s3.get_object(Bucket=self.bucket, Key=name)
        except ClientError as error:
            if error_code(error) in _NOT_FOUND:
                return None
            raise ArtifactStoreUnavailable(f"cannot read {self.uri(name)}: {error_code(error)}") from error
        return StoredPolicy(body=bytes(response["Body"].read()), version_id=response.get("VersionId"))
