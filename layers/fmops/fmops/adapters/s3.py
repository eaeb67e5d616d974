import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from botocore.exceptions import ClientError
from pydantic import ValidationError

from fmops.adapters import client, error_code
from fmops.anchoring import PREFIX as ANCHOR_PREFIX
from fmops.anchoring import Anchor
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


class S3AnchorStore:
    """Anchors in the Object Lock bucket (implements fmops.anchoring.AnchorStore).

    Each is written with COMPLIANCE retention for retention_days (the bucket's default retention
    says the same; stating it per object keeps the guarantee if that default is ever lowered).
    Reading lists every object version under anchors/: a later PutObject on the same key adds a
    version but cannot replace the locked one, so an overwrite cannot hide an anchor.
    Readers need s3:ListBucketVersions and s3:GetObjectVersion; retention_days only matters to writers.
    """

    def __init__(self, bucket: str, retention_days: int | None = None, s3: Any = None) -> None:
        self.bucket = bucket
        self.retention_days = retention_days
        self._s3 = s3

    @property
    def s3(self) -> Any:
        return self._s3 or client("s3")

    def put(self, key: str, anchor: Anchor) -> str:
        if self.retention_days is None:
            raise ValueError("S3AnchorStore needs retention_days to write anchors")
        retain_until = datetime.now(UTC) + timedelta(days=self.retention_days)
        self.s3.put_object(
            Bucket=self.bucket,
            Key=key,
            Body=anchor.model_dump_json(indent=2).encode(),
            ContentType="application/json",
            ObjectLockMode="COMPLIANCE",
            ObjectLockRetainUntilDate=retain_until,
            # S3 checks the body against this checksum on arrival and keeps it with the object.
            ChecksumAlgorithm="SHA256",
        )
        return f"s3://{self.bucket}/{key}"

    def anchors(self) -> list[Anchor]:
        found: list[Anchor] = []
        pages = self.s3.get_paginator("list_object_versions").paginate(Bucket=self.bucket, Prefix=ANCHOR_PREFIX)
        for page in pages:
            for version in page.get("Versions", []):
                found.append(self._read(version["Key"], version["VersionId"], version["LastModified"]))
        return found

    def _read(self, key: str, version_id: str, last_modified: datetime) -> Anchor:
        source = f"s3://{self.bucket}/{key}?versionId={version_id}"
        body = self.s3.get_object(Bucket=self.bucket, Key=key, VersionId=version_id)["Body"].read()
        try:
            return Anchor.model_validate_json(body).model_copy(update={"source": source})
        except ValidationError as error:
            problem = f"not an anchor document: {error.errors()[0]['msg']}"
            return Anchor.unreadable(source, problem, last_modified)
