"""`fmops status` output from given records: the text view, the JSON document and waiting."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from fmops.manifest import Problem
from fmops.records import AuditRecord, CatalogRecord
from fmops.statuses import VersionStatus
from fmops_cli.errors import InputError
from fmops_cli.status import (
    VersionView,
    WaitOutcome,
    fetch,
    has_reached,
    parse_version_id,
    render_text,
    to_document,
    wait_for,
)

T0 = datetime(2026, 11, 26, 12, 0, 0, 250000, tzinfo=UTC)
VERSION_ID = "sentiment-classifier/1.0.0"
PACKAGE = "arn:aws:sagemaker:us-east-1:123456789012:model-package/sentiment-classifier/1"
SHA = "ab" * 32


def catalog_record(status: VersionStatus = VersionStatus.PENDING_EVALUATION, **changes: object) -> CatalogRecord:
    fields: dict[str, object] = {
        "version_id": VERSION_ID,
        "model_group": "sentiment-classifier",
        "version": "1.0.0",
        "status": status,
        "manifest_uri": f"s3://fmops-artifacts/models/{VERSION_ID}/manifest.json",
        "manifest_sha256": SHA,
        "created_at": T0,
        "updated_at": T0 + timedelta(seconds=2),
        "kind": "adapter",
        "risk_tier": "medium",
        "submitter": "ana.silva",
        "model_package_arn": PACKAGE,
        "execution_name": "sentiment-classifier_1.0.0",
    }
    fields.update(changes)
    return CatalogRecord.model_validate(fields)


def audit_record(detail_type: str, seconds: float, actor: str, **facts: object) -> AuditRecord:
    return AuditRecord(
        version_id=VERSION_ID,
        event_id=f"{VERSION_ID}#{detail_type}",
        detail_type=detail_type,
        source="fmops",
        occurred_at=T0 + timedelta(seconds=seconds),
        recorded_at=T0 + timedelta(seconds=seconds + 0.1),
        actor=actor,
        correlation_id=VERSION_ID,
        envelope_id=f"envelope-{seconds}",
        facts=facts,
    )


REGISTERED = audit_record(
    "Model Version Registered",
    1,
    "ana.silva",
    model_group="sentiment-classifier",
    version="1.0.0",
    kind="adapter",
    risk_tier="medium",
    manifest_uri=f"s3://fmops-artifacts/models/{VERSION_ID}/manifest.json",
    manifest_sha256=SHA,
    model_package_arn=PACKAGE,
)
PROMOTION_STARTED = audit_record(
    "Model Version Promotion Started", 2, "fmops:promotion", execution_name="sentiment-classifier_1.0.0"
)
TAMPERED = Problem(
    code="artifact_sha256_mismatch",
    message="adapter_model.safetensors has sha256 00ff, manifest says 14e7",
    field="artifacts.1",
)


class FakeCatalog:
    def __init__(self, *records: CatalogRecord | None) -> None:
        self.answers = list(records)

    def get(self, version_id: str) -> CatalogRecord | None:
        return self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]


class FakeAuditLog:
    def __init__(self, records: list[AuditRecord]) -> None:
        self.records = records

    def for_version(self, version_id: str) -> list[AuditRecord]:
        return [record for record in self.records if record.version_id == version_id]


def test_the_view_shows_status_package_and_timeline_in_time_order() -> None:
    # Given a version in PendingEvaluation whose audit records come back out of order
    view = fetch(VERSION_ID, FakeCatalog(catalog_record()), FakeAuditLog([PROMOTION_STARTED, REGISTERED]))

    # When it is rendered
    text = render_text(view)

    # Then the header says where it stands
    lines = text.splitlines()
    assert lines[0] == VERSION_ID
    assert "  status           PendingEvaluation" in lines
    assert f"  model package    {PACKAGE}" in lines
    assert "  kind             adapter, risk tier medium" in lines
    assert "  submitted by     ana.silva" in lines
    # And the timeline lists what happened, when and by whom, oldest first, with the key facts
    assert "Timeline (2 audit records)" in lines
    registered = lines.index("  2026-11-26 12:00:01.250Z  Model Version Registered  by ana.silva")
    started = lines.index("  2026-11-26 12:00:02.250Z  Model Version Promotion Started  by fmops:promotion")
    assert registered < started
    assert lines[registered + 1] == f"      model package {PACKAGE}"
    assert lines[started + 1] == "      execution sentiment-classifier_1.0.0"


def test_a_rejected_version_shows_every_reason() -> None:
    # Given a version intake rejected, with its rejection in the audit trail
    record = catalog_record(
        VersionStatus.REJECTED,
        model_package_arn=None,
        kind=None,
        risk_tier=None,
        execution_name=None,
        reasons=[
            TAMPERED,
            Problem(code="artifact_missing", message="config.json was not uploaded", field="artifacts.0"),
        ],
    )
    rejection = audit_record(
        "Model Version Rejected",
        1,
        "fmops:intake",
        manifest_uri="s3://b/k",
        manifest_sha256=SHA,
        reasons=[TAMPERED.model_dump()],
    )

    # When it is rendered
    text = render_text(VersionView(VERSION_ID, record, (rejection,)))

    # Then the status, both reasons and the rejection event are shown
    assert "  status           Rejected" in text
    assert f"  reasons          artifact_sha256_mismatch: artifacts.1: {TAMPERED.message}" in text
    assert "                   artifact_missing: artifacts.0: config.json was not uploaded" in text
    assert "  model package    none" in text
    assert "Model Version Rejected  by fmops:intake" in text
    assert f"      artifact_sha256_mismatch: artifacts.1: {TAMPERED.message}" in text


def test_events_without_a_summary_show_their_facts() -> None:
    # Given an event type this CLI version does not know yet
    later = audit_record("Model Version Deployed", 3, "risk.officer", approvers=["a", "b"], comment="ok")

    text = render_text(VersionView(VERSION_ID, catalog_record(), (later,)))

    assert '      approvers: ["a","b"]' in text
    assert "      comment: ok" in text


def test_the_json_document_is_stable_and_complete() -> None:
    # Given a registered version with two audit records
    view = fetch(VERSION_ID, FakeCatalog(catalog_record()), FakeAuditLog([PROMOTION_STARTED, REGISTERED]))

    # When it becomes the --json document (through JSON, as a script would read it)
    document = json.loads(json.dumps(to_document(view)))

    # Then it has the documented keys, in order, with UTC timestamps and the timeline oldest first
    assert list(document) == [
        "schema_version",
        "version_id",
        "model_group",
        "version",
        "found",
        "status",
        "kind",
        "risk_tier",
        "submitter",
        "manifest_uri",
        "manifest_sha256",
        "model_package_arn",
        "execution_name",
        "created_at",
        "updated_at",
        "reasons",
        "timeline",
        "evaluation",
        "gate",
    ]
    assert document["status"] == "PendingEvaluation"
    assert (document["evaluation"], document["gate"]) == (None, None)
    assert document["model_package_arn"] == PACKAGE
    assert document["created_at"] == "2026-11-26T12:00:00.250Z"
    assert [entry["detail_type"] for entry in document["timeline"]] == [
        "Model Version Registered",
        "Model Version Promotion Started",
    ]
    assert document["timeline"][1]["facts"] == {"execution_name": "sentiment-classifier_1.0.0"}


def test_an_unknown_version_is_not_found() -> None:
    view = fetch("nobody/1", FakeCatalog(None), FakeAuditLog([REGISTERED]))

    assert not view.found
    assert to_document(view)["status"] is None
    assert to_document(view)["model_group"] == "nobody"


@pytest.mark.parametrize(
    ("status", "target", "reached"),
    [
        (VersionStatus.REGISTERED, VersionStatus.REGISTERED, True),
        (VersionStatus.PENDING_EVALUATION, VersionStatus.REGISTERED, True),
        (VersionStatus.RECEIVED, VersionStatus.REGISTERED, False),
        (VersionStatus.REJECTED, VersionStatus.REGISTERED, False),
        (VersionStatus.REJECTED, VersionStatus.RECEIVED, False),  # terminal: reaches only itself
        (VersionStatus.REGISTERED, VersionStatus.REJECTED, False),
        (VersionStatus.REGISTERED, VersionStatus.PENDING_EVALUATION, False),
    ],
)
def test_later_statuses_count_as_reached(status: VersionStatus, target: VersionStatus, reached: bool) -> None:
    assert has_reached(status, target) is reached


class FakeTime:
    def __init__(self) -> None:
        self.now = 0.0

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


def poller(*records: CatalogRecord | None):  # type: ignore[no-untyped-def]
    catalog, audit_log = FakeCatalog(*records), FakeAuditLog([])
    return lambda: fetch(VERSION_ID, catalog, audit_log)


def test_waiting_returns_once_the_status_is_reached_and_reports_each_change() -> None:
    # Given a version not recorded yet, then Received, then Registered
    time, changes = FakeTime(), list[VersionView]()
    poll = poller(None, catalog_record(VersionStatus.RECEIVED), catalog_record(VersionStatus.REGISTERED))

    # When waiting for Registered
    view, outcome = wait_for(poll, VersionStatus.REGISTERED, 60, 2, changes.append, time.sleep, time.clock)

    # Then it returns as soon as Registered is seen, having shown each change once
    assert outcome is WaitOutcome.REACHED
    assert view.status is VersionStatus.REGISTERED
    assert [change.status for change in changes] == [None, VersionStatus.RECEIVED, VersionStatus.REGISTERED]
    assert time.now == 4


def test_waiting_stops_at_rejected() -> None:
    time = FakeTime()
    poll = poller(catalog_record(VersionStatus.RECEIVED), catalog_record(VersionStatus.REJECTED))

    view, outcome = wait_for(poll, VersionStatus.REGISTERED, 60, 1, None, time.sleep, time.clock)

    assert outcome is WaitOutcome.STOPPED
    assert view.status is VersionStatus.REJECTED


def test_waiting_gives_up_at_the_timeout() -> None:
    time = FakeTime()

    view, outcome = wait_for(poller(None), VersionStatus.REGISTERED, 5, 2, None, time.sleep, time.clock)

    assert outcome is WaitOutcome.TIMED_OUT
    assert not view.found
    assert time.now == 5  # the last sleep is cut to the deadline


@pytest.mark.parametrize("text", ["sentiment-classifier/1.0.0", " sentiment-classifier/1.0.0/ "])
def test_version_ids_are_group_slash_version(text: str) -> None:
    assert parse_version_id(text) == "sentiment-classifier/1.0.0"


@pytest.mark.parametrize("text", ["sentiment-classifier", "/1.0.0", "a/b/c", ""])
def test_other_version_ids_are_refused_with_an_example(text: str) -> None:
    with pytest.raises(InputError) as raised:
        parse_version_id(text)

    assert raised.value.hint is not None
    assert "<model-group>/<version>" in raised.value.hint


def test_audit_records_from_aws_and_malformed_events_get_one_readable_line_each() -> None:
    from fmops_cli.status import key_facts

    upload = audit_record(
        "Artifact Uploaded", 1, "123456789012", uri="s3://b/models/g/1/w.bin", size=10, s3_version_id="v1", etag="e"
    )
    approved = audit_record(
        "Model Package State Changed", 2, "risk.officer", model_approval_status="Approved", model_package_arn=PACKAGE
    )
    malformed = audit_record(
        "Malformed Event", 3, "fmops", received_detail_type="Teleported", error="no schema", detail_sha256="ab"
    )

    assert key_facts(upload) == ["s3://b/models/g/1/w.bin (10 bytes, S3 version v1)"]
    assert key_facts(approved) == [f"Approved: {PACKAGE}"]
    assert key_facts(malformed) == ["Teleported: no schema", "detail sha256 ab"]


def test_every_fmops_event_has_its_own_timeline_summary_and_renders_its_sample() -> None:
    # Given every fmops event contract and its sample under events/
    import json
    from pathlib import Path

    from fmops.events import FMOPS_EVENTS
    from fmops_cli.status import _FACT_SUMMARIES, key_facts

    samples = sorted((Path(__file__).resolve().parents[3] / "events").glob("fmops_*.json"))
    # Then each detail-type has a summary written for it (not the generic key: value dump)
    assert set(FMOPS_EVENTS) <= set(_FACT_SUMMARIES), set(FMOPS_EVENTS) - set(_FACT_SUMMARIES)
    for sample in samples:
        envelope = json.loads(sample.read_text())
        entry = AuditRecord(
            version_id=envelope["detail"]["version_id"],
            event_id=envelope["detail"]["event_id"],
            detail_type=envelope["detail-type"],
            source="fmops",
            occurred_at=datetime(2026, 11, 26, 12, tzinfo=UTC),
            recorded_at=datetime(2026, 11, 26, 12, tzinfo=UTC),
            actor=envelope["detail"]["actor"],
            correlation_id=envelope["detail"]["correlation_id"],
            envelope_id=envelope["id"],
            facts=envelope["detail"],
        )
        # And its sample renders as lines without a missing field ("None")
        lines = key_facts(entry)
        assert lines and all("None" not in line for line in lines), (sample.name, lines)
