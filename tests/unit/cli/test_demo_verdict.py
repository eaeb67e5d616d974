"""The demo's verdict: which outcomes pass and which fail, from given observations."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from fmops.manifest import Problem
from fmops.records import AuditRecord, CatalogRecord
from fmops.statuses import VersionStatus
from fmops_cli.demo import Observation, evaluate, failure_evidence
from fmops_cli.status import VersionView

AT = datetime(2026, 11, 26, 12, tzinfo=UTC)
GOOD, BAD = "sentiment-classifier/demo-1", "sentiment-classifier/demo-1-tampered"
TAMPERED = Problem(
    code="artifact_sha256_mismatch",
    message="adapter_model.safetensors has sha256 00, manifest says 14",
    field="artifacts.1",
)


def record(version_id: str, status: VersionStatus, reasons: list[Problem] | None = None) -> CatalogRecord:
    group, version = version_id.split("/")
    return CatalogRecord(
        version_id=version_id,
        model_group=group,
        version=version,
        status=status,
        manifest_uri=f"s3://b/models/{version_id}/manifest.json",
        manifest_sha256="ab" * 32,
        created_at=AT,
        updated_at=AT,
        reasons=reasons or [],
    )


def audit(version_id: str, detail_type: str) -> AuditRecord:
    return AuditRecord(
        version_id=version_id,
        event_id=f"{version_id}#{detail_type}",
        detail_type=detail_type,
        source="fmops",
        occurred_at=AT,
        recorded_at=AT,
        actor="fmops:intake",
        correlation_id=version_id,
        envelope_id="e",
        facts={},
    )


def observation(**changes: object) -> Observation:
    fields: dict[str, object] = {
        "good": VersionView(
            GOOD, record(GOOD, VersionStatus.PENDING_EVALUATION), (audit(GOOD, "Model Version Registered"),)
        ),
        "bad": VersionView(
            BAD, record(BAD, VersionStatus.REJECTED, [TAMPERED]), (audit(BAD, "Model Version Rejected"),)
        ),
        "good_package_status": "PendingManualApproval",
        "dead_letters": {"IntakeDeadLetterQueueUrl": 0, "AuditWriterDeadLetterQueueUrl": 0},
    }
    fields.update(changes)
    return Observation(**fields)  # type: ignore[arg-type]


def failed(seen: Observation) -> list[str]:
    return [check.name for check in evaluate(seen) if not check.passed]


def test_the_expected_outcome_passes_every_check() -> None:
    checks = evaluate(observation())

    assert len(checks) == 7
    assert all(check.passed for check in checks)


def test_a_good_version_still_received_fails() -> None:
    stuck = VersionView(GOOD, record(GOOD, VersionStatus.RECEIVED), ())

    assert failed(observation(good=stuck)) == [
        f"{GOOD} is Registered or further",
        "its audit trail records the registration",
    ]


def test_a_missing_model_package_fails() -> None:
    assert failed(observation(good_package_status=None)) == ["its SageMaker model package exists"]


def test_a_rejection_for_another_reason_fails() -> None:
    # Given the tampered version rejected, but not for its sha256
    other = Problem(code="artifact_missing", message="config.json was not uploaded", field="artifacts.0")
    bad = VersionView(BAD, record(BAD, VersionStatus.REJECTED, [other]), (audit(BAD, "Model Version Rejected"),))

    assert failed(observation(bad=bad)) == [f"{BAD} is Rejected for the tampered adapter_model.safetensors"]


def test_a_message_in_a_dead_letter_queue_fails() -> None:
    dead = {"IntakeDeadLetterQueueUrl": 1, "AuditWriterDeadLetterQueueUrl": 0}

    assert failed(observation(dead_letters=dead)) == ["IntakeDeadLetterQueueUrl is empty"]


def test_no_dead_letter_queue_in_the_outputs_fails() -> None:
    assert failed(observation(dead_letters={})) == ["dead-letter queues are empty"]


class RecordedStepFunctions:
    """The two Step Functions reads failure_evidence makes, answered from a recorded failed execution."""

    def list_executions(self, stateMachineArn: str, statusFilter: str) -> dict[str, Any]:  # noqa: N803 - boto3 names
        assert statusFilter == "FAILED"
        return {"executions": [{"name": "g_v", "executionArn": f"{stateMachineArn}:g_v"}]}

    def get_execution_history(self, executionArn: str, reverseOrder: bool) -> dict[str, Any]:  # noqa: N803
        return {
            "events": [
                {"type": "ExecutionFailed", "executionFailedEventDetails": {"error": "PromotionFailed", "cause": "c"}},
                {"type": "TaskFailed", "taskFailedEventDetails": {"error": "VersionNotFound", "cause": "g/v"}},
            ]
        }


def test_a_failed_demo_shows_failed_executions_and_function_errors(tmp_path: Path) -> None:
    # Given a failed execution and a function log with one error line among others
    (tmp_path / "StartPromotionFunction.log").write_text("START r1\n[ERROR] VersionNotFound: g/v\nEND r1\n")

    lines = failure_evidence(RecordedStepFunctions(), {"PromotionStateMachineArn": "arn:sm"}, tmp_path)

    assert lines == [
        "execution g_v FAILED: PromotionFailed: c | VersionNotFound: g/v",
        "StartPromotionFunction.log: [ERROR] VersionNotFound: g/v",
    ]
