"""Event contracts: every custom fmops event, versioned, with its detail-type in words.

All fmops events have source `fmops` and carry:
- `event_id`: the event's business identity (e.g. "<group>/<version>#registered"),
  stable across retries and duplicate deliveries; consumers deduplicate on it,
  never on the EventBridge envelope id, which changes on every put.
- `correlation_id`: ties one model version's whole story together; it is the
  version id "<group>/<version>" so any external evaluator can compute it.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any, ClassVar, Literal

from aws_lambda_powertools.utilities.parser.models import EventBridgeModel, S3EventNotificationEventBridgeModel
from pydantic import BaseModel, ConfigDict, Field, model_validator

from fmops.gate.decision import GateDecision
from fmops.manifest import Evaluator, ModelKind, Problem, RiskTier
from fmops.metrics import Metric

EVENT_SOURCE = "fmops"


class FmopsEventDetail(BaseModel):
    """Common fields of every fmops event detail."""

    model_config = ConfigDict(defer_build=True, frozen=True, extra="forbid")
    detail_type: ClassVar[str]

    schema_version: Literal["1"] = "1"
    event_id: str = Field(min_length=1, max_length=512)
    correlation_id: str
    version_id: str = Field(description="<model group>/<version>")
    occurred_at: datetime
    actor: str = Field(description="Who caused it: a person's identity or 'fmops:<function>'.")


class ModelVersionRegistered(FmopsEventDetail):
    detail_type: ClassVar[str] = "Model Version Registered"

    model_group: str
    version: str
    kind: ModelKind
    risk_tier: RiskTier
    manifest_uri: str
    manifest_sha256: str
    model_package_arn: str


class ModelVersionRejected(FmopsEventDetail):
    detail_type: ClassVar[str] = "Model Version Rejected"

    manifest_uri: str
    manifest_sha256: str | None
    reasons: list[Problem] = Field(min_length=1)


class ModelVersionUploadRefused(FmopsEventDetail):
    """A manifest re-uploaded for an existing version with different content: refused, version unchanged."""

    detail_type: ClassVar[str] = "Model Version Upload Refused"

    manifest_uri: str
    manifest_sha256: str
    registered_manifest_sha256: str
    reason: str


class ModelVersionPromotionStarted(FmopsEventDetail):
    detail_type: ClassVar[str] = "Model Version Promotion Started"

    execution_name: str


class EvaluationRequested(FmopsEventDetail):
    """The promotion waits for metrics until `deadline`; the built-in evaluator reacts to `builtin-text`."""

    detail_type: ClassVar[str] = "Model Version Evaluation Requested"

    model_group: str
    version: str
    evaluator: Evaluator
    manifest_uri: str
    manifest_sha256: str
    deadline: datetime


class EvaluationOutcome(StrEnum):
    SUCCEEDED = "succeeded"
    FAILED = "failed"


S3_URI_PATTERN = r"^s3://[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]/.+$"
MAX_METRICS = 100


class EvaluationCompleted(FmopsEventDetail):
    """What any evaluator reports, normalised: the built-in one (source `fmops`), the SageMaker
    Processing listener (source `fmops`) and external evaluators (their own source) alike.

    External evaluators put it on the fmops bus with `correlation_id` = `version_id` =
    "<group>/<version>" and an `event_id` unique to their run ("<version id>#eval#<run id>").
    A succeeded evaluation carries metrics and the S3 location of its evidence; a failed one
    carries the reason and no metrics.
    """

    detail_type: ClassVar[str] = "Evaluation Completed"

    evaluator: str = Field(min_length=1, max_length=256, description="e.g. 'fmops:builtin-text', 'ci:nightly-eval'")
    outcome: EvaluationOutcome
    metrics: list[Metric] = Field(default_factory=list, max_length=MAX_METRICS)
    evidence_uri: str | None = Field(default=None, pattern=S3_URI_PATTERN, max_length=2048)
    failure_reason: str | None = Field(default=None, min_length=1, max_length=2000)

    @model_validator(mode="after")
    def _outcome_has_its_facts(self) -> EvaluationCompleted:
        if self.outcome == EvaluationOutcome.SUCCEEDED:
            if not self.metrics:
                raise ValueError("a succeeded evaluation reports at least one metric")
            if self.evidence_uri is None:
                raise ValueError("a succeeded evaluation names its evidence (evidence_uri)")
            if self.failure_reason is not None:
                raise ValueError("a succeeded evaluation has no failure_reason")
        else:
            if self.failure_reason is None:
                raise ValueError("a failed evaluation states its failure_reason")
            if self.metrics:
                raise ValueError("a failed evaluation reports no metrics")
        names = [metric.name for metric in self.metrics]
        duplicates = sorted({name for name in names if names.count(name) > 1})
        if duplicates:
            raise ValueError(f"metrics reported more than once: {', '.join(duplicates)}")
        return self


class ModelVersionEvaluated(FmopsEventDetail):
    """fmops accepted an evaluation for the version: the evidence the gate will judge."""

    detail_type: ClassVar[str] = "Model Version Evaluated"

    evaluation_event_id: str
    evaluator: str
    reported_by: str = Field(description="The EventBridge source that put the report (evaluators name themselves).")
    metrics: list[Metric]
    evidence_uri: str


class EvaluationResultRejected(FmopsEventDetail):
    """An evaluation report fmops did not accept (unknown version, wrong state, malformed, ...)."""

    detail_type: ClassVar[str] = "Evaluation Result Rejected"

    code: str
    reason: str
    evaluation_event_id: str | None
    evaluator: str | None
    reported_by: str = Field(description="The EventBridge source that put the report.")


class ModelVersionGateDecided(FmopsEventDetail):
    """The gate's decision table, with the policy version and hash it was made under."""

    detail_type: ClassVar[str] = "Model Version Gate Decided"

    decision: GateDecision
    decision_uri: str
    status: str = Field(description="The version's status after the decision: PendingApproval or Rejected.")


# ------------------------------------------------------------------ approvals
# Every request, view, decision, refusal and expiry of an approval is an event, so the audit trail
# holds who did what, through which channel. Link tokens and task tokens never appear in one.


class ApprovalRequested(FmopsEventDetail):
    """A stage of a version waits for people: the notifier e-mails each eligible approver a link and posts to Slack."""

    detail_type: ClassVar[str] = "Approval Requested"

    approval_id: str
    stage: str
    model_group: str
    version: str
    groups: list[str]
    quorum: int
    eligible_approvers: list[str] = Field(description="Approver ids who may decide now (the submitter excluded).")
    requested_at: datetime
    expires_at: datetime
    escalates_at: datetime | None = None


class ApprovalPageViewed(FmopsEventDetail):
    """Someone opened an e-mailed link (GET or HEAD: a person or a mail scanner); nothing was decided."""

    detail_type: ClassVar[str] = "Approval Page Viewed"

    approval_id: str
    stage: str
    approver_id: str
    method: str
    request_id: str


class ApprovalDecisionRecorded(FmopsEventDetail):
    """An approver's decision was accepted (actor = the approver)."""

    detail_type: ClassVar[str] = "Approval Decision Recorded"

    approval_id: str
    stage: str
    approver_id: str
    verdict: str
    reason: str | None = None
    channel: str
    approvals: int
    quorum: int
    completes_stage: bool


class ApprovalRefused(FmopsEventDetail):
    """An attempt that changed nothing: a bad link or signature, a replay, a rule of the stage (actor = who tried)."""

    detail_type: ClassVar[str] = "Approval Refused"

    approval_id: str | None = None
    stage: str | None = None
    approver_id: str | None = None
    channel: str
    code: str
    reason: str
    request_id: str


class ApprovalStageDecided(FmopsEventDetail):
    """A stage reached its quorum, was rejected, or expired: the waiting promotion is resumed once."""

    detail_type: ClassVar[str] = "Approval Stage Decided"

    approval_id: str
    stage: str
    outcome: str = Field(description="approved, rejected or expired")
    decided_by: list[str] = Field(default_factory=list)
    reason: str | None = None
    decided_at: datetime


class ApprovalReminderDue(FmopsEventDetail):
    """A stage is still pending close to its expiry: the approvers who have not decided are reminded."""

    detail_type: ClassVar[str] = "Approval Reminder Due"

    approval_id: str
    stage: str
    pending_approvers: list[str]
    expires_at: datetime


class ApprovalEscalated(FmopsEventDetail):
    """A stage was not decided in time: its escalation group may decide too and is notified."""

    detail_type: ClassVar[str] = "Approval Escalated"

    approval_id: str
    stage: str
    group: str
    notified_approvers: list[str]
    expires_at: datetime


class ModelVersionApproved(FmopsEventDetail):
    """The version passed its gate and its approvals: its model package is Approved in the registry."""

    detail_type: ClassVar[str] = "Model Version Approved"

    stage: str
    approval_id: str
    approvers: list[str]
    model_package_arn: str
    approval_description: str


class DeploymentEvent(FmopsEventDetail):
    """Common fields of the deployment events: which deployment put which version on which stage."""

    deployment_id: str
    kind: Literal["deploy", "rollback"]
    model_group: str
    stage: str
    model_package_arn: str | None = None
    artifact_sha256: str | None = Field(default=None, description="sha256 of the version's registered manifest.")
    endpoint_name: str | None = Field(default=None, description="None for a registry-only stage.")
    endpoint_config_name: str | None = None


class DeploymentStarted(DeploymentEvent):
    """A stage's endpoint is being changed to serve the version (after its digest check)."""

    detail_type: ClassVar[str] = "Deployment Started"

    target: str = Field(description="sagemaker-endpoint, sagemaker-serverless or registry-only.")
    account_id: str
    region: str
    replaces_version_id: str | None = Field(description="What the stage served before; None on a first deploy.")
    approval_id: str | None
    approved_by: list[str]


class DeploymentSucceeded(DeploymentEvent):
    """The version is in service on the stage and passed its smoke test."""

    detail_type: ClassVar[str] = "Deployment Succeeded"

    replaced_version_id: str | None
    approval_id: str | None
    approved_by: list[str]
    evidence_uri: str | None
    smoke_samples: int = Field(ge=0, description="Sample requests answered correctly (0 for registry-only).")
    next_stage: str | None = Field(description="Where the version goes next; None after the last stage.")


class DeploymentFailed(DeploymentEvent):
    """The deployment did not put the version in service; `code` says why, `stage_serves` what serves now."""

    detail_type: ClassVar[str] = "Deployment Failed"

    code: str = Field(
        description="digest_mismatch, stage_role_unavailable, deployment_refused, in_service_timeout, "
        "endpoint_failed, endpoint_rolled_back, smoke_test_failed, approval_rejected, approval_expired, "
        "approval_lost, approval_config_missing, approval_config_invalid, config_missing, config_invalid or "
        "step_failed."
    )
    reason: str
    stage_serves: str | None = Field(description="The version the stage serves after the failure; None if none.")


class DeploymentRolledBack(DeploymentEvent):
    """The stage was put back on an earlier version (the event's version_id), automatically or by request."""

    detail_type: ClassVar[str] = "Deployment Rolled Back"

    rolled_back_version_id: str = Field(description="The version taken off the stage.")
    automatic: bool
    reason: str
    approval_id: str | None = Field(description="The approval the restored version serves under.")
    approved_by: list[str]


class DeploymentRefused(FmopsEventDetail):
    """A registry approval fmops will not deploy: the version skipped its gate or its approvals."""

    detail_type: ClassVar[str] = "Deployment Refused"

    model_group: str
    model_package_arn: str
    code: str = Field(description="refuse_ungated or refuse_unapproved.")
    reason: str


# Dispatch by detail-type, never by if/elif on strings.
FMOPS_EVENTS: dict[str, type[FmopsEventDetail]] = {
    model.detail_type: model
    for model in (
        ModelVersionRegistered,
        ModelVersionRejected,
        ModelVersionUploadRefused,
        ModelVersionPromotionStarted,
        EvaluationRequested,
        EvaluationCompleted,
        ModelVersionEvaluated,
        EvaluationResultRejected,
        ModelVersionGateDecided,
        ApprovalRequested,
        ApprovalPageViewed,
        ApprovalDecisionRecorded,
        ApprovalRefused,
        ApprovalStageDecided,
        ApprovalReminderDue,
        ApprovalEscalated,
        ModelVersionApproved,
        DeploymentStarted,
        DeploymentSucceeded,
        DeploymentFailed,
        DeploymentRolledBack,
        DeploymentRefused,
    )
}


# ------------------------------------------------------------------ inbound envelopes
class ManifestUploaded(S3EventNotificationEventBridgeModel):
    """EventBridge "Object Created" from the artifact bucket for a `.../manifest.json` key."""


class FmopsEnvelope(EventBridgeModel):
    """Any event on the fmops bus; the detail is parsed by its detail-type."""

    source: Literal["fmops"]
    detail: dict[str, Any]


class AnyEnvelope(EventBridgeModel):
    """An event from any source whose detail fmops validates itself, to record a rejection
    instead of dropping a malformed report (the parser would only raise)."""

    detail: dict[str, Any]


class PromotionInput(BaseModel):
    """Input of a promotion state machine execution (written by intake)."""

    model_config = ConfigDict(defer_build=True, frozen=True)

    version_id: str
    correlation_id: str
    execution_name: str
