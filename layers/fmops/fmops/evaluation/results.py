"""Evaluation reports from any evaluator: accepted once per version, everything else refused and recorded.

A report comes from the built-in evaluator, the SageMaker Processing listener, or any external
evaluator that puts "Evaluation Completed" on the fmops bus. The first valid report for a version
waiting in PendingEvaluation wins through a conditional status change; that writer alone sends
the callback (task tokens stay server-side, and Step Functions would accept a second failure
after a success, so single use is enforced here). Later, duplicate-from-elsewhere, malformed or
misaddressed reports change nothing and are recorded as "Evaluation Result Rejected".
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from pydantic import ValidationError

from fmops.clock import Clock
from fmops.errors import EvaluationNotRequestedYet
from fmops.events import (
    EvaluationCompleted,
    EvaluationOutcome,
    EvaluationResultRejected,
    ModelVersionEvaluated,
    ModelVersionRejected,
)
from fmops.manifest import GROUP_PATTERN, VERSION_PATTERN, Problem
from fmops.ports import Catalog, EventBus, TaskCallbacks
from fmops.records import AcceptedEvaluation, CatalogRecord
from fmops.statuses import VersionStatus

ACTOR = "fmops:evaluation-results"
UNADDRESSED = "unaddressed"  # audit partition of reports that name no valid version
EVALUATION_FAILED_ERROR = "EvaluationFailed"  # the error name the state machine catches
MAX_REASON = 2000


class ReportOutcome(StrEnum):
    ACCEPTED = "accepted"
    DUPLICATE = "duplicate"  # this very report was accepted before; the callback was re-sent
    REJECTED = "rejected"


class RejectionCode(StrEnum):
    MALFORMED = "malformed_report"
    CORRELATION_MISMATCH = "correlation_mismatch"
    UNKNOWN_VERSION = "unknown_version"
    NOT_AWAITING = "not_awaiting_evaluation"


@dataclass(frozen=True)
class ResultDeps:
    catalog: Catalog
    bus: EventBus
    callbacks: TaskCallbacks
    clock: Clock


@dataclass(frozen=True)
class ReportResult:
    outcome: ReportOutcome
    version_id: str
    code: str | None = None

    def as_dict(self) -> dict[str, str | None]:
        return {"outcome": self.outcome.value, "version_id": self.version_id, "code": self.code}


def receive_evaluation(detail: dict[str, Any], reported_by: str, deps: ResultDeps) -> ReportResult:
    """Validate a report (the raw event detail) and accept it, or refuse it with a recorded reason."""
    try:
        report = EvaluationCompleted.model_validate(detail)
    except ValidationError as error:
        return _refuse(detail, reported_by, RejectionCode.MALFORMED, _describe(error), deps)
    if report.correlation_id != report.version_id:
        reason = f"correlation_id '{report.correlation_id}' must equal version_id '{report.version_id}'"
        return _refuse(detail, reported_by, RejectionCode.CORRELATION_MISMATCH, reason, deps)

    record = deps.catalog.get(report.version_id)
    if record is None:
        reason = f"no model version {report.version_id} is registered"
        return _refuse(detail, reported_by, RejectionCode.UNKNOWN_VERSION, reason, deps)
    if record.evaluation is not None and record.evaluation.event_id == report.event_id:
        _resume(record, deps.callbacks)
        return ReportResult(ReportOutcome.DUPLICATE, record.version_id)
    if record.status != VersionStatus.PENDING_EVALUATION:
        return _refuse(detail, reported_by, RejectionCode.NOT_AWAITING, _not_awaiting(record), deps)
    if record.evaluation_task_token is None:
        # Reported before the promotion asked: the async retry comes back once it has.
        raise EvaluationNotRequestedYet(f"{record.version_id} has not requested its evaluation yet")
    return _accept(record, report, reported_by, deps)


def _accept(record: CatalogRecord, report: EvaluationCompleted, reported_by: str, deps: ResultDeps) -> ReportResult:
    now = deps.clock.now()
    accepted = AcceptedEvaluation(
        event_id=report.event_id,
        evaluator=report.evaluator,
        reported_by=reported_by,
        succeeded=report.outcome == EvaluationOutcome.SUCCEEDED,
        metrics=report.metrics,
        evidence_uri=report.evidence_uri,
        failure_reason=report.failure_reason,
        received_at=now,
    )
    if accepted.succeeded:
        # The conditional transition is the single-use guard: only its winner sends the callback.
        record = deps.catalog.transition(record, VersionStatus.EVALUATED, now, evaluation=accepted)
        assert report.evidence_uri is not None
        deps.bus.publish(
            ModelVersionEvaluated(
                event_id=f"{record.version_id}#evaluated",
                correlation_id=record.version_id,
                version_id=record.version_id,
                occurred_at=now,
                actor=report.actor,
                evaluation_event_id=report.event_id,
                evaluator=report.evaluator,
                reported_by=reported_by,
                metrics=report.metrics,
                evidence_uri=report.evidence_uri,
            )
        )
    else:
        reason = Problem(code="evaluation_failed", field=report.evaluator, message=str(report.failure_reason))
        record = deps.catalog.transition(record, VersionStatus.REJECTED, now, evaluation=accepted, reasons=[reason])
        deps.bus.publish(
            ModelVersionRejected(
                event_id=f"{record.version_id}#rejected#evaluation",
                correlation_id=record.version_id,
                version_id=record.version_id,
                occurred_at=now,
                actor=report.actor,
                manifest_uri=record.manifest_uri,
                manifest_sha256=record.manifest_sha256,
                reasons=[reason],
            )
        )
    _resume(record, deps.callbacks)
    return ReportResult(ReportOutcome.ACCEPTED, record.version_id)


def _resume(record: CatalogRecord, callbacks: TaskCallbacks) -> None:
    """Send the callback for the accepted report (again, after a crash: a spent token is ignored)."""
    token, evaluation = record.evaluation_task_token, record.evaluation
    if token is None or evaluation is None:
        return
    if evaluation.succeeded:
        callbacks.succeed(token, {"version_id": record.version_id, "evaluation_event_id": evaluation.event_id})
    else:
        callbacks.fail(token, EVALUATION_FAILED_ERROR, str(evaluation.failure_reason))


def _not_awaiting(record: CatalogRecord) -> str:
    if record.evaluation is not None:
        return (
            f"{record.version_id} is {record.status.value}: the evaluation {record.evaluation.event_id} "
            f"from {record.evaluation.evaluator} was accepted first"
        )
    return f"{record.version_id} is {record.status.value}, not waiting for an evaluation"


def _describe(error: ValidationError) -> str:
    # include_input=False: a report may carry confidential values; name the field and the rule only.
    details = error.errors(include_url=False, include_input=False)
    text = "; ".join(f"{'.'.join(str(p) for p in d['loc']) or '<detail>'}: {d['msg']}" for d in details)
    return text[:MAX_REASON]


def _refuse(
    detail: dict[str, Any], reported_by: str, code: RejectionCode, reason: str, deps: ResultDeps
) -> ReportResult:
    version_id = _claimed_version(detail)
    report_id = detail.get("event_id") if isinstance(detail.get("event_id"), str) else None
    evaluator = detail.get("evaluator") if isinstance(detail.get("evaluator"), str) else None
    # The same report refused twice is one audit record: its id derives from the report's content.
    fingerprint = hashlib.sha256(json.dumps(detail, sort_keys=True, default=str).encode()).hexdigest()[:32]
    deps.bus.publish(
        EvaluationResultRejected(
            event_id=f"{version_id}#evaluation-result-rejected#{fingerprint}",
            correlation_id=version_id,
            version_id=version_id,
            occurred_at=deps.clock.now(),
            actor=ACTOR,
            code=code.value,
            reason=reason,
            evaluation_event_id=report_id[:512] if report_id else None,
            evaluator=evaluator[:256] if evaluator else None,
            reported_by=reported_by[:256],
        )
    )
    return ReportResult(ReportOutcome.REJECTED, version_id, code.value)


def _claimed_version(detail: dict[str, Any]) -> str:
    claimed = detail.get("version_id")
    if isinstance(claimed, str):
        group, _, version = claimed.partition("/")
        if re.fullmatch(GROUP_PATTERN, group) and re.fullmatch(VERSION_PATTERN, version):
            return claimed
    return UNADDRESSED
