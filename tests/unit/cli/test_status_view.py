"""`fmops status` output from given records: the text view, the JSON document and waiting."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from fmops.manifest import Problem
from fmops.records import AuditRecord, CatalogRecord, StageDeployment, StageDeploymentStatus
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
        "stages",
    ]
    assert document["status"] == "PendingEvaluation" and document["stages"] == {}
    assert (document["evaluation"], document["gate"]) == (None, None)
    assert document["model_package_arn"] == PACKAGE
    assert document["created_at"] == "2026-11-26T12:00:00.250Z"
    assert [entry["detail_type"] for entry in document["timeline"]] == [
        "Model Version Registered",
        "Model Version Promotion Started",
    ]
    assert document["timeline"][1]["facts"] == {"execution_name": "sentiment-classifier_1.0.0"}


def test_a_deployed_version_shows_its_status_in_each_stage() -> None:
    # Given a version serving in dev and rolled back in preprod
    stages = {
        "dev": StageDeployment(status=StageDeploymentStatus.SERVING, deployment_id="d", at=T0),
        "preprod": StageDeployment(
            status=StageDeploymentStatus.ROLLED_BACK, deployment_id="d", at=T0, reason="smoke test failed"
        ),
    }
    view = VersionView(VERSION_ID, catalog_record(VersionStatus.APPROVED, stages=stages), ())

    # Then the text says where it serves and why it does not, and the document carries both
    text = render_text(view)
    assert "dev serving since" in text and "preprod rolled_back since" in text and ": smoke test failed" in text
    document = json.loads(json.dumps(to_document(view)))
    assert document["stages"]["preprod"]["status"] == "rolled_back"


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


DEPLOYMENT = {
    "deployment_id": "sentiment-classifier_1.0.0-deploy",
    "kind": "deploy",
    "model_group": "sentiment-classifier",
    "model_package_arn": PACKAGE,
    "artifact_sha256": SHA,
}


def test_deployment_events_get_one_readable_line_per_fact() -> None:
    from fmops_cli.status import key_facts

    # Given the story of a deployment to prod, and of a later version that failed in dev
    started = audit_record(
        "Deployment Started",
        1,
        "fmops:deployment",
        **DEPLOYMENT,
        stage="prod",
        endpoint_name="fmops-sentiment-classifier-prod",
        endpoint_config_name="fmops-sentiment-classifier-prod-3f9a0c1e",
        target="sagemaker-endpoint",
        account_id="333333333333",
        region="us-east-1",
        replaces_version_id="sentiment-classifier/0.9.0",
        approval_id="Hk7pW2xQ9mRt4ZcN8bLd3A",
        approved_by=["dara.novak", "eli.brandt"],
    )
    succeeded = audit_record(
        "Deployment Succeeded",
        2,
        "fmops:deployment",
        **DEPLOYMENT,
        stage="preprod",
        endpoint_name="fmops-sentiment-classifier-preprod",
        endpoint_config_name="fmops-sentiment-classifier-preprod-9d1b2c3a",
        replaced_version_id="sentiment-classifier/0.9.0",
        approval_id="Hk7pW2xQ9mRt4ZcN8bLd3A",
        approved_by=["dara.novak"],
        evidence_uri="s3://fmops-evidence/gate.json",
        smoke_samples=5,
        next_stage="prod",
    )
    failed = audit_record(
        "Deployment Failed",
        3,
        "fmops:deployment",
        **DEPLOYMENT,
        stage="dev",
        code="smoke_test_failed",
        reason="smoke test failed: item 0 lacks 'label'",
        stage_serves="sentiment-classifier/0.9.0",
    )
    rolled_back = audit_record(
        "Deployment Rolled Back",
        4,
        "fmops:deployment",
        **DEPLOYMENT,
        stage="dev",
        endpoint_name="fmops-sentiment-classifier-dev",
        endpoint_config_name="fmops-sentiment-classifier-dev-7c02e9a4",
        rolled_back_version_id="sentiment-classifier/1.1.0",
        automatic=True,
        reason="smoke test failed: item 0 lacks 'label'",
        approval_id="Vq3xT9LkR2mWc4NfA7hZbQ",
        approved_by=["ana.ortiz", "ben.okafor"],
    )
    refused = audit_record(
        "Deployment Refused",
        5,
        "fmops:deployment-trigger",
        model_group="sentiment-classifier",
        model_package_arn=PACKAGE,
        code="refuse_unapproved",
        reason="its fmops status is PendingApproval",
    )

    # When each is summarised, Then each says where, what and why in a few lines
    assert key_facts(started) == [
        "prod (sagemaker-endpoint, account 333333333333, us-east-1), replaces sentiment-classifier/0.9.0",
        "endpoint fmops-sentiment-classifier-prod, config fmops-sentiment-classifier-prod-3f9a0c1e",
        "approved by dara.novak, eli.brandt (approval Hk7pW2xQ9mRt4ZcN8bLd3A)",
    ]
    assert key_facts(succeeded) == [
        "preprod in service (5 smoke sample(s) passed), replaced sentiment-classifier/0.9.0",
        "endpoint fmops-sentiment-classifier-preprod, config fmops-sentiment-classifier-preprod-9d1b2c3a",
        "approved by dara.novak (approval Hk7pW2xQ9mRt4ZcN8bLd3A)",
        "next: prod (after its approval)",
        "evidence s3://fmops-evidence/gate.json",
    ]
    assert key_facts(failed) == [
        "smoke_test_failed (dev): smoke test failed: item 0 lacks 'label'",
        "dev now serves sentiment-classifier/0.9.0",
    ]
    # And a rollback names the version put back, which is the record's own version
    assert key_facts(rolled_back) == [
        f"dev back on {VERSION_ID} (automatic): smoke test failed: item 0 lacks 'label'",
        "sentiment-classifier/1.1.0 taken off; endpoint fmops-sentiment-classifier-dev, "
        "config fmops-sentiment-classifier-dev-7c02e9a4",
        "approved by ana.ortiz, ben.okafor (approval Vq3xT9LkR2mWc4NfA7hZbQ)",
    ]
    assert key_facts(refused) == [
        "refuse_unapproved: its fmops status is PendingApproval",
        f"model package {PACKAGE}",
    ]


def test_a_first_registry_only_deployment_without_approval_shows_no_missing_fields() -> None:
    from fmops_cli.status import key_facts

    # Given a first deployment to a registry-only dev stage that needs no approval, and a failure that left it empty
    common = {**DEPLOYMENT, "stage": "dev", "endpoint_name": None, "endpoint_config_name": None}
    started = audit_record(
        "Deployment Started",
        1,
        "fmops:deployment",
        **common,
        target="registry-only",
        account_id="111111111111",
        region="us-east-1",
        replaces_version_id=None,
        approval_id=None,
        approved_by=[],
    )
    succeeded = audit_record(
        "Deployment Succeeded",
        2,
        "fmops:deployment",
        **common,
        replaced_version_id=None,
        approval_id=None,
        approved_by=[],
        evidence_uri=None,
        smoke_samples=0,
        next_stage=None,
    )
    failed = audit_record(
        "Deployment Failed",
        3,
        "fmops:deployment",
        **common,
        code="digest_mismatch",
        reason="weights.bin changed",
        stage_serves=None,
    )

    # When they are summarised, Then the absent facts read as words, never "None"
    assert key_facts(started) == [
        "dev (registry-only, account 111111111111, us-east-1), first deployment there",
        "registry only: no endpoint",
        "no stage approval",
    ]
    assert key_facts(succeeded) == [
        "dev in service (no smoke test), first deployment there",
        "registry only: no endpoint",
        "no stage approval",
        "last stage: the deployment is complete",
    ]
    assert key_facts(failed) == ["digest_mismatch (dev): weights.bin changed", "dev now serves nothing"]
