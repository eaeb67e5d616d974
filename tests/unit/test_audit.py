from datetime import UTC, datetime

import pytest
from pydantic import ValidationError

from fmops.audit import AuditDeps, UnknownEventType, record_event
from fmops.events import ModelVersionRejected
from fmops.manifest import Problem

from tests.unit.fakes import FixedClock, InMemoryAuditLog

REJECTED = ModelVersionRejected(
    event_id="sentiment/1.0.0#rejected#abc",
    correlation_id="sentiment/1.0.0",
    version_id="sentiment/1.0.0",
    occurred_at=datetime(2026, 11, 26, 12, tzinfo=UTC),
    actor="fmops:intake",
    manifest_uri="s3://b/models/sentiment/1.0.0/manifest.json",
    manifest_sha256="abc",
    reasons=[Problem(code="artifact_missing", message="weights.bin was not uploaded", field="artifacts.0")],
)


def test_an_event_delivered_many_times_is_recorded_once_keyed_by_its_business_id() -> None:
    log = InMemoryAuditLog()
    deps = AuditDeps(log=log, clock=FixedClock())
    detail = REJECTED.model_dump(mode="json")

    results = [record_event("Model Version Rejected", "fmops", f"envelope-{n}", detail, deps) for n in range(5)]

    assert [result.stored for result in results] == [True, False, False, False, False]
    [record] = log.records.values()
    assert record.envelope_id == "envelope-0"
    assert record.actor == "fmops:intake"
    assert record.facts["reasons"][0]["code"] == "artifact_missing"
    assert "event_id" not in record.facts


def test_an_event_without_a_schema_is_refused() -> None:
    deps = AuditDeps(log=InMemoryAuditLog(), clock=FixedClock())

    with pytest.raises(UnknownEventType):
        record_event("Model Version Teleported", "fmops", "e", {}, deps)


def test_an_event_breaking_its_schema_is_refused_not_recorded() -> None:
    log = InMemoryAuditLog()
    detail = REJECTED.model_dump(mode="json") | {"reasons": []}

    with pytest.raises(ValidationError):
        record_event("Model Version Rejected", "fmops", "e", detail, AuditDeps(log=log, clock=FixedClock()))
    assert log.records == {}
