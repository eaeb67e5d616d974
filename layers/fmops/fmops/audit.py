"""The audit writer's domain: every event that matters becomes one audit record, stored once.

Sources, each translated by its own function (dispatch by (source, detail-type)):
- every fmops event on the fmops bus, validated against its versioned schema;
- S3 "Object Created" for artifacts under models/ (who uploaded which bytes, when);
- SageMaker "Model Package State Change" (approvals made anywhere, Studio included).

Deduplication is on each event's business identity (`event_id`), never on the
EventBridge envelope id, so retries, duplicate puts and replays land on the same record.
An event that breaks its contract is not dropped: it is recorded as "Malformed Event",
with the error and the raw detail, in the chain of the version it claims (or `_unaddressed`).
Chaining, hashing and the no-fork guarantee are the audit log's (fmops.ledger, the adapter).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pydantic import ValidationError

from fmops.clock import Clock
from fmops.events import FMOPS_EVENTS
from fmops.ledger import UNADDRESSED_CHAIN, chain_of
from fmops.manifest import parse_manifest_key
from fmops.ports import AuditLog
from fmops.records import AuditRecord

_KEY_FIELDS = {"event_id", "version_id", "occurred_at", "actor", "correlation_id", "schema_version"}
MALFORMED = "Malformed Event"
MAX_RAW_DETAIL = 32 * 1024  # what a malformed event keeps of its detail, as JSON text
ARTIFACT_UPLOADED = "Artifact Uploaded"
MODEL_PACKAGE_CHANGED = "Model Package State Changed"


@dataclass(frozen=True)
class AuditDeps:
    log: AuditLog
    clock: Clock


@dataclass(frozen=True)
class Recorded:
    event_id: str
    chain: str
    stored: bool  # False when an earlier delivery already recorded this event
    detail_type: str

    def as_dict(self) -> dict[str, object]:
        return {"event_id": self.event_id, "chain": self.chain, "stored": self.stored, "detail_type": self.detail_type}


@dataclass(frozen=True)
class Envelope:
    """The parts of an EventBridge event the writer uses."""

    id: str
    source: str
    detail_type: str
    time: datetime
    detail: Mapping[str, Any]


class _Malformed(ValueError):
    def __init__(self, reason: str, claimed_version: str | None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.claimed_version = claimed_version


def record_event(envelope: Envelope, deps: AuditDeps) -> Recorded:
    """Translate the event into an audit record and append it to its chain once."""
    translate = _TRANSLATORS.get((envelope.source, envelope.detail_type)) or _fmops_event
    try:
        record = translate(envelope, deps.clock.now())
    except _Malformed as malformed:
        record = _malformed(envelope, malformed, deps.clock.now())
    chain = chain_of(record.version_id)
    appended = deps.log.append(record, chain)
    return Recorded(event_id=record.event_id, chain=chain, stored=appended, detail_type=record.detail_type)


def _fmops_event(envelope: Envelope, now: datetime) -> AuditRecord:
    claimed = envelope.detail.get("version_id")
    claimed_version = claimed if isinstance(claimed, str) else None
    model = FMOPS_EVENTS.get(envelope.detail_type)
    if envelope.source != "fmops" or model is None:
        raise _Malformed(f"no schema for {envelope.source} detail-type {envelope.detail_type!r}", claimed_version)
    try:
        detail = model.model_validate(dict(envelope.detail))
    except ValidationError as error:
        details = error.errors(include_url=False, include_input=False)
        reason = "; ".join(f"{'.'.join(str(p) for p in d['loc']) or '<detail>'}: {d['msg']}" for d in details)
        raise _Malformed(f"{envelope.detail_type} breaks its schema: {reason}", claimed_version) from None
    return AuditRecord(
        version_id=detail.version_id,
        event_id=detail.event_id,
        detail_type=envelope.detail_type,
        source=envelope.source,
        occurred_at=detail.occurred_at,
        recorded_at=now,
        actor=detail.actor,
        correlation_id=detail.correlation_id,
        envelope_id=envelope.id,
        facts=detail.model_dump(mode="json", exclude=_KEY_FIELDS),
    )


def _artifact_uploaded(envelope: Envelope, now: datetime) -> AuditRecord:
    """S3 "Object Created" under models/<group>/<version>/: who put which bytes."""
    bucket = _field(envelope.detail, "bucket", "name")
    obj = envelope.detail.get("object")
    key = _field(envelope.detail, "object", "key")
    assert isinstance(obj, Mapping)
    parts = key.split("/")
    location = parse_manifest_key("/".join([*parts[:3], "manifest.json"])) if len(parts) >= 4 else None
    if location is None:
        raise _Malformed(f"s3://{bucket}/{key} is not under models/<group>/<version>/", None)
    version_id = "/".join(location)
    revision = str(obj.get("version-id") or obj.get("etag") or "")
    return AuditRecord(
        version_id=version_id,
        # One upload of one object version; a re-upload is another record.
        event_id=f"s3:{bucket}/{key}@{revision}#{obj.get('sequencer', '')}",
        detail_type=ARTIFACT_UPLOADED,
        source=envelope.source,
        occurred_at=envelope.time,
        recorded_at=now,
        actor=str(envelope.detail.get("requester") or "unknown"),
        correlation_id=version_id,
        envelope_id=envelope.id,
        facts={
            "uri": f"s3://{bucket}/{key}",
            "size": obj.get("size"),
            "etag": obj.get("etag"),
            "s3_version_id": obj.get("version-id"),
            "reason": envelope.detail.get("reason"),
            "source_ip_address": envelope.detail.get("source-ip-address"),
        },
    )


def _model_package_changed(envelope: Envelope, now: datetime) -> AuditRecord:
    """SageMaker "Model Package State Change": a registration or an approval, wherever it was made."""
    detail = envelope.detail
    arn = str(detail.get("ModelPackageArn") or "")
    group = str(detail.get("ModelPackageGroupName") or "")
    properties = detail.get("CustomerMetadataProperties") or {}
    claimed = properties.get("fmops:version_id") if isinstance(properties, Mapping) else None
    # A package fmops did not register (made by hand in Studio) still goes on its group's record.
    version_id = claimed if isinstance(claimed, str) else f"{group}/package-{detail.get('ModelPackageVersion', '0')}"
    if not arn or chain_of(version_id) != group:
        raise _Malformed(f"model package {arn or '?'} of group {group or '?'} is not an fmops model group", None)
    status = str(detail.get("ModelApprovalStatus") or "")
    changed = str(detail.get("LastModifiedTime") or detail.get("CreationTime") or envelope.time.isoformat())
    modified_by = detail.get("LastModifiedBy") or detail.get("CreatedBy") or {}
    actor = modified_by.get("UserProfileName") if isinstance(modified_by, Mapping) else None
    return AuditRecord(
        version_id=version_id,
        event_id=f"sagemaker:{arn}#{status}#{changed}",
        detail_type=MODEL_PACKAGE_CHANGED,
        source=envelope.source,
        occurred_at=envelope.time,
        recorded_at=now,
        actor=str(actor or "aws.sagemaker"),
        correlation_id=version_id,
        envelope_id=envelope.id,
        facts={
            "model_package_arn": arn,
            "model_approval_status": status,
            "model_package_status": detail.get("ModelPackageStatus"),
            "approval_description": detail.get("ApprovalDescription"),
        },
    )


def _malformed(envelope: Envelope, malformed: _Malformed, now: datetime) -> AuditRecord:
    raw = json.dumps(dict(envelope.detail), sort_keys=True, default=str)
    digest = hashlib.sha256(raw.encode()).hexdigest()
    claimed = malformed.claimed_version
    version_id = claimed if claimed and chain_of(claimed) != UNADDRESSED_CHAIN else UNADDRESSED_CHAIN
    return AuditRecord(
        version_id=version_id,
        event_id=f"malformed:{envelope.source}:{envelope.detail_type}:{digest}",  # the same bad event is one record
        detail_type=MALFORMED,
        source=envelope.source,
        occurred_at=envelope.time,
        recorded_at=now,
        actor=envelope.source,
        correlation_id=version_id,
        envelope_id=envelope.id,
        facts={
            "received_detail_type": envelope.detail_type,
            "error": malformed.reason[:4000],
            "detail_sha256": digest,
            "detail": raw[:MAX_RAW_DETAIL],
            "detail_truncated": len(raw) > MAX_RAW_DETAIL,
        },
    )


def _field(detail: Mapping[str, Any], *path: str) -> str:
    node: Any = detail
    for name in path:
        node = node.get(name) if isinstance(node, Mapping) else None
    if not isinstance(node, str) or not node:
        raise _Malformed(f"detail.{'.'.join(path)} is missing", None)
    return node


_TRANSLATORS: dict[tuple[str, str], Callable[[Envelope, datetime], AuditRecord]] = {
    ("aws.s3", "Object Created"): _artifact_uploaded,
    ("aws.sagemaker", "SageMaker Model Package State Change"): _model_package_changed,
}


def timeline(records: Iterable[AuditRecord]) -> list[AuditRecord]:
    """Audit records of one version in the order things happened."""
    return sorted(records, key=lambda record: (record.occurred_at, record.recorded_at))
