"""Interfaces the domain needs from the outside world. Adapters implement them with boto3;
unit tests implement them in memory."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Protocol

from fmops.events import FmopsEventDetail, PromotionInput
from fmops.manifest import Manifest
from fmops.records import AuditRecord, CatalogRecord
from fmops.statuses import VersionStatus


class StoredObject(Protocol):
    size: int


class ArtifactStore(Protocol):
    def read(self, bucket: str, key: str, max_bytes: int) -> bytes:
        """Read at most max_bytes + 1 bytes of an object (so callers can detect oversize)."""
        ...

    def size_of(self, bucket: str, key: str) -> int | None:
        """Size in bytes, or None when the object does not exist."""
        ...

    def sha256_of(self, bucket: str, key: str) -> str:
        """Hex SHA-256 of the object's bytes, streamed."""
        ...

    def read_matching(self, bucket: str, key: str, sha256: str, max_bytes: int) -> bytes | None:
        """The bytes of the newest version of the object whose SHA-256 is `sha256` (at most
        max_bytes), or None. A refused re-upload overwrites the current object of a versioned
        bucket; the registered bytes are still there as an older version."""
        ...

    def stream(self, bucket: str, key: str) -> Iterator[bytes]:
        """The object's bytes in chunks (bounded memory)."""
        ...


class ModelRegistry(Protocol):
    def ensure_group(self, group: str, description: str) -> None: ...

    def find_package(self, group: str, version_id: str) -> str | None:
        """ARN of the package registered earlier for this version, if any (crash recovery)."""
        ...

    def create_package(self, manifest: Manifest, manifest_uri: str, manifest_sha256: str) -> str:
        """Create a model package in PendingManualApproval; returns its ARN."""
        ...

    def annotate(self, package_arn: str, properties: dict[str, str]) -> None:
        """Set customer metadata properties on the package (keys <= 128, values <= 256 characters)."""
        ...

    def approve(self, package_arn: str, description: str) -> None:
        """Set the package's status to Approved with `description` (<= 1024 characters)."""
        ...


class Catalog(Protocol):
    def get(self, version_id: str) -> CatalogRecord | None: ...

    def claim(self, record: CatalogRecord, replacing: CatalogRecord | None) -> CatalogRecord:
        """Create the record (replacing=None) or replace exactly `replacing` (same revision); returns what was stored.

        Raises ConcurrentModification when the record exists or changed since it was read."""
        ...

    def transition(
        self, record: CatalogRecord, target: VersionStatus, at: datetime, **changes: object
    ) -> CatalogRecord:
        """Move record from its status to target if it is unchanged since read; returns the stored record."""
        ...

    def update(self, record: CatalogRecord, at: datetime, **changes: object) -> CatalogRecord:
        """Change fields other than the status if the record is unchanged since read; returns the stored record."""
        ...

    def mark_announced(self, version_id: str) -> None:
        """Flag that the registration was published and the promotion started (bumps the revision)."""
        ...

    def serving(self, model_group: str, stage: str) -> CatalogRecord | None:
        """The version of the group serving in `stage` (None before any deployment there)."""
        ...

    def set_serving(self, model_group: str, stage: str, version_id: str | None) -> None:
        """Point the group's `stage` at the version now serving there (None: nothing serves)."""
        ...


class EventBus(Protocol):
    def publish(self, detail: FmopsEventDetail) -> None: ...


class Workflow(Protocol):
    def start_promotion(self, promotion: PromotionInput) -> None:
        """Start the promotion execution named promotion.execution_name; a second start is a no-op."""
        ...


class AuditLog(Protocol):
    def append(self, record: AuditRecord, chain: str) -> bool:
        """Seal the record as the next link of `chain` and store it, unless a record with its event_id
        exists (then False). Two appends at once never fork the chain: one of them re-reads the head."""
        ...


class TaskCallbacks(Protocol):
    """Resumes a Step Functions execution waiting on a task token. Single use is the caller's
    job (a conditional status change decides who may send); a token that was already used or
    has timed out is reported as False, not raised."""

    def succeed(self, token: str, output: dict[str, object]) -> bool: ...

    def fail(self, token: str, error: str, cause: str) -> bool: ...

    def heartbeat(self, token: str) -> bool:
        """Tell the waiting task it is still being worked on; False when the task is gone."""
        ...


class EvidenceStore(Protocol):
    def put_json(self, key: str, document: dict[str, object]) -> str:
        """Store a JSON document (evaluation results, gate decisions) and return its s3:// URI."""
        ...


class PolicyStore(Protocol):
    def read(self, name: str) -> bytes | None:
        """The bytes of policy file `name` (e.g. 'support-assistant.json'), or None if it does not exist."""
        ...


class Notifier(Protocol):
    def send(self, to: str, subject: str, text: str) -> None:
        """Send a plain-text e-mail."""
        ...
