"""The audit writer's domain: one record per business event, in its model group's chain; nothing dropped."""

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from fmops.audit import ARTIFACT_UPLOADED, MALFORMED, MODEL_PACKAGE_CHANGED, AuditDeps, Envelope, record_event
from fmops.events import ModelVersionRejected
from fmops.ledger import GENESIS_HASH, UNADDRESSED_CHAIN, record_hash
from fmops.manifest import Problem

from tests.unit.fakes import FixedClock, InMemoryAuditLog

EVENTS = Path(__file__).parents[2] / "events"
AT = datetime(2026, 11, 26, 12, tzinfo=UTC)
REJECTED = ModelVersionRejected(
    event_id="sentiment/1.0.0#rejected#abc",
    correlation_id="sentiment/1.0.0",
    version_id="sentiment/1.0.0",
    occurred_at=AT,
    actor="fmops:intake",
    manifest_uri="s3://b/models/sentiment/1.0.0/manifest.json",
    manifest_sha256="abc",
    reasons=[Problem(code="artifact_missing", message="weights.bin was not uploaded", field="artifacts.0")],
)


def envelope(
    detail: dict[str, Any], detail_type: str = "Model Version Rejected", source: str = "fmops", id: str = "e"
) -> Envelope:
    return Envelope(id=id, source=source, detail_type=detail_type, time=AT, detail=detail)


def sample(name: str) -> Envelope:
    event = json.loads((EVENTS / name).read_text())
    return Envelope(
        id=event["id"],
        source=event["source"],
        detail_type=event["detail-type"],
        time=datetime.fromisoformat(event["time"]),
        detail=event["detail"],
    )


def test_an_event_delivered_many_times_is_recorded_once_keyed_by_its_business_id() -> None:
    log = InMemoryAuditLog()
    deps = AuditDeps(log=log, clock=FixedClock())
    detail = REJECTED.model_dump(mode="json")

    results = [record_event(envelope(detail, id=f"envelope-{n}"), deps) for n in range(5)]

    assert [result.stored for result in results] == [True, False, False, False, False]
    [record] = log.records.values()
    assert (record.envelope_id, record.actor, record.chain, record.seq) == (
        "envelope-0",
        "fmops:intake",
        "sentiment",
        1,
    )
    assert record.facts["reasons"][0]["code"] == "artifact_missing"
    assert "event_id" not in record.facts


def test_records_of_a_group_form_one_chain_each_linked_to_the_one_before() -> None:
    log = InMemoryAuditLog()
    deps = AuditDeps(log=log, clock=FixedClock())
    for n in range(3):
        detail = REJECTED.model_copy(
            update={
                "event_id": f"sentiment/1.0.{n}#rejected",
                "version_id": f"sentiment/1.0.{n}",
                "correlation_id": f"sentiment/1.0.{n}",
            }
        )
        record_event(envelope(detail.model_dump(mode="json")), deps)

    chain = log.chain("sentiment")

    assert [record.seq for record in chain] == [1, 2, 3]
    assert chain[0].prev_hash == GENESIS_HASH
    assert [record.prev_hash for record in chain[1:]] == [record.hash for record in chain[:-1]]
    assert all(record.hash == record_hash(record, record.chain, record.seq, record.prev_hash) for record in chain)


def test_an_event_without_a_schema_is_recorded_as_malformed_not_dropped() -> None:
    log = InMemoryAuditLog()

    result = record_event(
        envelope({"version_id": "sentiment/1.0.0"}, "Model Version Teleported"), AuditDeps(log, FixedClock())
    )

    [record] = log.records.values()
    assert (result.stored, record.detail_type, record.chain) == (True, MALFORMED, "sentiment")
    assert "no schema for fmops detail-type 'Model Version Teleported'" in record.facts["error"]
    assert json.loads(record.facts["detail"]) == {"version_id": "sentiment/1.0.0"}


def test_an_event_breaking_its_schema_is_recorded_as_malformed_with_the_field_at_fault() -> None:
    log = InMemoryAuditLog()
    detail = REJECTED.model_dump(mode="json") | {"reasons": []}

    record_event(envelope(detail), AuditDeps(log, FixedClock()))
    record_event(envelope(detail, id="redelivered"), AuditDeps(log, FixedClock()))

    [record] = log.records.values()  # the same bad event twice is one record
    assert record.detail_type == MALFORMED
    assert "reasons:" in record.facts["error"]
    assert record.version_id == "sentiment/1.0.0"


def test_a_malformed_event_naming_no_valid_version_goes_to_the_unaddressed_chain() -> None:
    log = InMemoryAuditLog()

    record_event(envelope({"version_id": "../../etc"}, "Whatever"), AuditDeps(log, FixedClock()))

    [record] = log.records.values()
    assert (record.chain, record.version_id) == (UNADDRESSED_CHAIN, UNADDRESSED_CHAIN)


def test_an_artifact_upload_is_recorded_in_its_group_with_who_uploaded_which_object_version() -> None:
    log = InMemoryAuditLog()

    record_event(sample("s3_manifest_object_created.json"), AuditDeps(log, FixedClock()))
    record_event(sample("s3_manifest_object_created.json"), AuditDeps(log, FixedClock()))

    [record] = log.records.values()
    assert (record.detail_type, record.chain, record.version_id) == (ARTIFACT_UPLOADED, "sentiment", "sentiment/1.0.0")
    assert record.actor == "123456789012"
    assert record.facts["uri"] == "s3://fmops-artifacts-123456789012/models/sentiment/1.0.0/manifest.json"
    assert record.facts["s3_version_id"] == "IYV3p45BhZA1Pbb9ZvfFjV5fqSzMq6cg"


def test_a_model_package_approval_made_anywhere_is_recorded_once_per_status() -> None:
    log = InMemoryAuditLog()
    detail = {
        "ModelPackageGroupName": "sentiment",
        "ModelPackageArn": "arn:aws:sagemaker:us-east-1:123456789012:model-package/sentiment/1",
        "ModelPackageVersion": 1,
        "ModelApprovalStatus": "Approved",
        "LastModifiedTime": "2026-11-26T13:00:00Z",
        "LastModifiedBy": {"UserProfileName": "risk.officer"},
        "CustomerMetadataProperties": {"fmops:version_id": "sentiment/1.0.0"},
    }
    change = envelope(detail, "SageMaker Model Package State Change", "aws.sagemaker")

    record_event(change, AuditDeps(log, FixedClock()))
    record_event(change, AuditDeps(log, FixedClock()))

    [record] = log.records.values()
    assert (record.detail_type, record.version_id, record.actor) == (
        MODEL_PACKAGE_CHANGED,
        "sentiment/1.0.0",
        "risk.officer",
    )
    assert record.facts["model_approval_status"] == "Approved"
