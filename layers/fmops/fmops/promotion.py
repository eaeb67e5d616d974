"""Steps of the promotion state machine (one Standard execution per model version).

StartPromotion -> StartEvaluation (waits on a task token until the evaluation arrives or the
deadline passes) -> ApplyGate -> PendingApproval, or Rejected with reasons. Any step that fails
ends in RejectVersion: a version whose evaluation or gate cannot complete fails closed.
Each step is safe to re-run (Step Functions retries tasks): it reads the catalog first and
does only what is still undone; events carry business ids, so re-publishing is harmless.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from fmops.clock import Clock
from fmops.errors import NotAwaitingApproval, NotAwaitingEvaluation, VersionNotFound
from fmops.events import (
    EvaluationRequested,
    ModelVersionApproved,
    ModelVersionGateDecided,
    ModelVersionPromotionStarted,
    ModelVersionRejected,
    PromotionInput,
)
from fmops.gate.decision import GateDecision, evaluate_gate
from fmops.gate.loading import load_policy
from fmops.gate.policy import Stage
from fmops.manifest import Evaluator, Problem
from fmops.ports import ArtifactStore, Catalog, EventBus, EvidenceStore, ModelRegistry, PolicyStore
from fmops.records import CatalogRecord, GateOutcome
from fmops.registered import registered_manifest
from fmops.statuses import VersionStatus

ACTOR = "fmops:promotion"
# The gate judges a version for the end of its road: a version that may never reach prod is
# stopped before anyone spends time approving it for preprod.
GATE_STAGE = Stage.PROD
MAX_REASON = 1000


@dataclass(frozen=True)
class PromotionDeps:
    catalog: Catalog
    bus: EventBus
    clock: Clock


def _get(version_id: str, catalog: Catalog) -> CatalogRecord:
    record = catalog.get(version_id)
    if record is None:
        raise VersionNotFound(version_id)
    return record


def start_promotion(promotion: PromotionInput, deps: PromotionDeps) -> dict[str, str]:
    """Move a registered version to PendingEvaluation. Re-running the step (a retried task) changes nothing."""
    record = _get(promotion.version_id, deps.catalog)
    if record.status == VersionStatus.REGISTERED:
        record = deps.catalog.transition(record, VersionStatus.PENDING_EVALUATION, deps.clock.now())
        deps.bus.publish(
            ModelVersionPromotionStarted(
                event_id=f"{record.version_id}#promotion-started",
                correlation_id=promotion.correlation_id,
                version_id=record.version_id,
                occurred_at=record.updated_at,
                actor=ACTOR,
                execution_name=promotion.execution_name,
            )
        )
    return {"version_id": record.version_id, "status": record.status.value, "correlation_id": promotion.correlation_id}


# ---------------------------------------------------------------- StartEvaluation


class EvaluationWait(BaseModel):
    """Input of StartEvaluation: the version and the callback token of the waiting task."""

    model_config = ConfigDict(defer_build=True, frozen=True)

    version_id: str
    correlation_id: str
    task_token: str = Field(min_length=1, repr=False)
    timeout_seconds: int = Field(ge=1)


def request_evaluation(wait: EvaluationWait, deps: PromotionDeps) -> dict[str, str]:
    """Keep the task token server-side and announce that the version waits for its evaluation.

    External evaluators never see the token: they report by correlation id, and fmops resumes
    the execution. Re-running the step stores the same token again and re-publishes the same event.
    """
    record = _get(wait.version_id, deps.catalog)
    if record.status != VersionStatus.PENDING_EVALUATION:
        raise NotAwaitingEvaluation(f"{record.version_id} is {record.status.value}, not PendingEvaluation")
    now = deps.clock.now()
    deadline = now + timedelta(seconds=wait.timeout_seconds)
    if record.evaluation_task_token != wait.task_token:
        record = deps.catalog.update(record, now, evaluation_task_token=wait.task_token, evaluation_deadline=deadline)
    evaluator = record.evaluator or Evaluator.EXTERNAL
    deps.bus.publish(
        EvaluationRequested(
            event_id=f"{record.version_id}#evaluation-requested",
            correlation_id=wait.correlation_id,
            version_id=record.version_id,
            occurred_at=now,
            actor=ACTOR,
            model_group=record.model_group,
            version=record.version,
            evaluator=evaluator,
            manifest_uri=record.manifest_uri,
            manifest_sha256=record.manifest_sha256,
            deadline=record.evaluation_deadline or deadline,
        )
    )
    return {"version_id": record.version_id, "evaluator": evaluator.value}


# ---------------------------------------------------------------- ApplyGate


@dataclass(frozen=True)
class GateDeps:
    catalog: Catalog
    artifacts: ArtifactStore
    policies: PolicyStore
    evidence: EvidenceStore
    registry: ModelRegistry
    bus: EventBus
    clock: Clock


def apply_gate(promotion: PromotionInput, deps: GateDeps) -> dict[str, Any]:
    """Judge the accepted evaluation against the group's policy; the version moves to
    PendingApproval or Rejected, and the decision table goes to the evidence store, the model
    package, the catalog and (through its event) the audit trail."""
    record = _get(promotion.version_id, deps.catalog)
    if record.gate is None:
        if record.status != VersionStatus.EVALUATED or record.evaluation is None:
            raise NotAwaitingEvaluation(f"{record.version_id} is {record.status.value}, not Evaluated")
        record = _decide(record, deps)
    assert record.gate is not None
    _announce_decision(record, record.gate, deps.bus)
    return {"version_id": record.version_id, "passed": record.gate.decision.passed, "status": record.status.value}


def _decide(record: CatalogRecord, deps: GateDeps) -> CatalogRecord:
    assert record.evaluation is not None and record.model_package_arn is not None
    manifest = registered_manifest(record.manifest_uri, record.manifest_sha256, deps.artifacts)
    loaded = load_policy(record.model_group, deps.policies)
    champion = deps.catalog.serving(record.model_group, GATE_STAGE.value)
    champion_metrics = champion.evaluation.metrics if champion and champion.evaluation else None
    if champion is not None and champion.evaluation is None:
        champion_metrics = []  # serving without recorded metrics: the rule fails and says so
    decision = evaluate_gate(
        loaded.policy, loaded.sha256, manifest, record.evaluation.metrics, champion_metrics, GATE_STAGE
    )
    now = deps.clock.now()
    decision_uri = deps.evidence.put_json(
        f"gate-decisions/{record.version_id}/{GATE_STAGE.value}.json",
        {
            "decision": decision.model_dump(mode="json"),
            "policy_file": loaded.file_name,
            "evaluation_event_id": record.evaluation.event_id,
            "evaluation_evidence_uri": record.evaluation.evidence_uri,
            "champion_version_id": champion.version_id if champion else None,
            "decided_at": now.isoformat(),
        },
    )
    deps.registry.annotate(record.model_package_arn, package_properties(decision, decision_uri))
    outcome = GateOutcome(decision=decision, decision_uri=decision_uri, decided_at=now)
    if decision.passed:
        return deps.catalog.transition(record, VersionStatus.PENDING_APPROVAL, now, gate=outcome)
    return deps.catalog.transition(record, VersionStatus.REJECTED, now, gate=outcome, reasons=failed_rules(decision))


def package_properties(decision: GateDecision, decision_uri: str) -> dict[str, str]:
    """The decision's summary as model package customer metadata (values <= 256 characters)."""
    failed = ",".join(rule.rule_id for rule in decision.failed_rules)
    return {
        "fmops:gate": "passed" if decision.passed else "failed",
        "fmops:gate_stage": decision.stage.value,
        "fmops:gate_policy": f"{decision.policy_model_group}@{decision.policy_version}"[:256],
        "fmops:gate_policy_sha256": decision.policy_sha256,
        "fmops:gate_decision_uri": decision_uri[:256],
        "fmops:gate_failed_rules": (failed or "-")[:256],
    }


def failed_rules(decision: GateDecision) -> list[Problem]:
    return [
        Problem(code="gate_rule_failed", field=rule.rule_id, message=f"{rule.description}: {rule.reason}")
        for rule in decision.failed_rules
    ]


def _announce_decision(record: CatalogRecord, gate: GateOutcome, bus: EventBus) -> None:
    version_id = record.version_id
    bus.publish(
        ModelVersionGateDecided(
            event_id=f"{version_id}#gate-decided#{gate.decision.stage.value}",
            correlation_id=version_id,
            version_id=version_id,
            occurred_at=gate.decided_at,
            actor=ACTOR,
            decision=gate.decision,
            decision_uri=gate.decision_uri,
            status=record.status.value,
        )
    )
    if not gate.decision.passed:
        _publish_rejection(record, "gate", failed_rules(gate.decision), bus)


def _publish_rejection(record: CatalogRecord, cause: str, reasons: list[Problem], bus: EventBus) -> None:
    bus.publish(
        ModelVersionRejected(
            event_id=f"{record.version_id}#rejected#{cause}",
            correlation_id=record.version_id,
            version_id=record.version_id,
            occurred_at=record.updated_at,
            actor=ACTOR,
            manifest_uri=record.manifest_uri,
            manifest_sha256=record.manifest_sha256,
            reasons=reasons,
        )
    )


# ---------------------------------------------------------------- RejectVersion


class FailedStep(BaseModel):
    """Input of RejectVersion: the promotion's input plus the error a Catch put at `$.error`."""

    model_config = ConfigDict(defer_build=True, frozen=True)

    version_id: str
    correlation_id: str
    error: dict[str, Any] = Field(default_factory=dict, description="Step Functions' {Error, Cause}.")


# Error names (Step Functions' and fmops' exception classes) -> rejection codes people can act on.
_FAILURE_CODES = {
    "States.Timeout": "evaluation_timed_out",
    "EvaluationFailed": "evaluation_failed",
    "PolicyNotFound": "gate_policy_missing",
    "PolicyInvalid": "gate_policy_invalid",
    "ManifestChanged": "manifest_changed",
}
# While the version waits for people, the same names mean something else.
APPROVAL_FAILURE_CODES = {
    "ApprovalRejected": "approval_rejected",
    "ApprovalExpired": "approval_expired",
    # The wait outlived any rule's expiry, or the approval timer stopped sending heartbeats.
    "States.Timeout": "approval_lost",
    "States.HeartbeatTimeout": "approval_lost",
    "QuorumUnreachable": "approval_quorum_unreachable",
    "ApprovalConfigMissing": "approval_config_missing",
    "ApprovalRulesInvalid": "approval_config_invalid",
    "ApproverDirectoryInvalid": "approval_config_invalid",
}
_REJECTABLE = (VersionStatus.PENDING_EVALUATION, VersionStatus.EVALUATED, VersionStatus.PENDING_APPROVAL)


def reject_failed_step(failed: FailedStep, deps: PromotionDeps) -> dict[str, str]:
    """Fail closed: a version whose evaluation, gate or approval could not complete is Rejected with the reason.

    A version already Rejected (an evaluator reported a failure) or decided keeps its status.
    """
    record = _get(failed.version_id, deps.catalog)
    if record.status not in _REJECTABLE:
        return {"version_id": record.version_id, "status": record.status.value}
    error = str(failed.error.get("Error", "States.Runtime"))
    codes = APPROVAL_FAILURE_CODES if record.status == VersionStatus.PENDING_APPROVAL else _FAILURE_CODES
    code = codes.get(error, "promotion_step_failed")
    reason = Problem(code=code, message=_explain(error, failed.error.get("Cause"), record), field=None)
    rejected = deps.catalog.transition(record, VersionStatus.REJECTED, deps.clock.now(), reasons=[reason])
    _publish_rejection(rejected, code, [reason], deps.bus)
    return {"version_id": rejected.version_id, "status": rejected.status.value}


def _explain(error: str, cause: object, record: CatalogRecord) -> str:
    if error == "States.Timeout" and record.status == VersionStatus.PENDING_EVALUATION:
        deadline = record.evaluation_deadline.isoformat() if record.evaluation_deadline else "its deadline"
        return (
            f"no evaluation arrived before {deadline}; the promotion fails closed "
            "(submit the version again under a new name once the evaluator runs)"
        )
    # A Lambda error's Cause is its JSON payload; people need the message, not the stack trace.
    message = str(cause or error)
    try:
        payload = json.loads(message)
        if isinstance(payload, dict) and "errorMessage" in payload:
            message = str(payload["errorMessage"])
    except ValueError:
        pass
    return f"{error}: {message}"[:MAX_REASON]


# ---------------------------------------------------------------- ApproveVersion


class ApprovalGranted(BaseModel):
    """Input of ApproveVersion: the promotion's input plus what RequestApproval returned."""

    model_config = ConfigDict(defer_build=True, frozen=True)

    version_id: str
    correlation_id: str
    approval: dict[str, Any] = Field(description="approval_id, stage and approvers [{id, channel, decided_at}].")


@dataclass(frozen=True)
class ApproveDeps:
    catalog: Catalog
    registry: ModelRegistry
    bus: EventBus
    clock: Clock


def approve_version(granted: ApprovalGranted, deps: ApproveDeps) -> dict[str, str]:
    """The quorum approved: the model package becomes Approved (which starts deployment) and the
    version Approved. Re-running the step re-sends the same registry update and event."""
    record = _get(granted.version_id, deps.catalog)
    if record.status not in (VersionStatus.PENDING_APPROVAL, VersionStatus.APPROVED):
        raise NotAwaitingApproval(f"{record.version_id} is {record.status.value}, not PendingApproval")
    package_arn = record.model_package_arn
    if package_arn is None:  # registration always sets it; a version without one was never registered
        raise NotAwaitingApproval(f"{record.version_id} has no model package")
    approvers = [str(person["id"]) for person in granted.approval.get("approvers", [])]
    description = approval_description(granted.approval, record)
    # The catalog first: the registry's Approved starts the deployment, whose trigger checks that fmops
    # approved the version, and SageMaker's event can arrive before a second write would. A retry after
    # a crash in between finds the version Approved and sends the registry update again.
    if record.status == VersionStatus.PENDING_APPROVAL:
        record = deps.catalog.transition(record, VersionStatus.APPROVED, deps.clock.now())
    deps.registry.approve(package_arn, description)
    deps.bus.publish(
        ModelVersionApproved(
            event_id=f"{record.version_id}#approved",
            correlation_id=granted.correlation_id,
            version_id=record.version_id,
            occurred_at=record.updated_at,
            actor=ACTOR,
            stage=str(granted.approval.get("stage")),
            approval_id=str(granted.approval.get("approval_id")),
            approvers=approvers,
            model_package_arn=package_arn,
            approval_description=description,
        )
    )
    return {"version_id": record.version_id, "status": record.status.value}


def approval_description(approval: dict[str, Any], record: CatalogRecord) -> str:
    """Who approved, when, through which channel, and where the evidence is (SageMaker keeps <= 1024 chars)."""
    people = "; ".join(
        f"{person['id']} ({person['channel']}, {person['decided_at']})" for person in approval.get("approvers", [])
    )
    evidence = record.gate.decision_uri if record.gate else "no gate decision"
    text = (
        f"fmops: approved for {approval.get('stage')} by {people or 'nobody'}; approval {approval.get('approval_id')}; "
        f"gate {record.gate.decision.policy_version if record.gate else '-'} evidence {evidence}"
    )
    return text[:1024]
