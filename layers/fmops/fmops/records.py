"""Records kept by fmops: the catalog entry of a model version and an audit record."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from fmops.gate.decision import GateDecision
from fmops.manifest import Evaluator, Problem
from fmops.metrics import Metric
from fmops.statuses import VersionStatus


class AcceptedEvaluation(BaseModel):
    """The one evaluation report a version's gate judges (the first valid one to arrive wins)."""

    model_config = ConfigDict(defer_build=True, frozen=True)

    event_id: str
    evaluator: str
    reported_by: str = Field(description="The EventBridge source that put the report.")
    succeeded: bool
    metrics: list[Metric] = Field(default_factory=list)
    evidence_uri: str | None = None
    failure_reason: str | None = None
    received_at: datetime


class GateOutcome(BaseModel):
    model_config = ConfigDict(defer_build=True, frozen=True)

    decision: GateDecision
    decision_uri: str
    decided_at: datetime


class StageDeploymentStatus(StrEnum):
    """Where a version stands in one deployment stage (the catalog's per-stage status)."""

    DEPLOYING = "deploying"
    SERVING = "serving"
    REPLACED = "replaced"  # served, until a later version replaced it
    ROLLED_BACK = "rolled_back"  # failed there; the stage went back to an earlier version
    FAILED = "failed"  # refused or failed; see the reason
    NOT_APPROVED = "not_approved"  # the stage's approval was rejected or expired
    SUPERSEDED = "superseded"  # a version approved later reached the stage first


class StageDeployment(BaseModel):
    model_config = ConfigDict(defer_build=True, frozen=True)

    status: StageDeploymentStatus
    deployment_id: str
    at: datetime
    reason: str | None = None


class CatalogRecord(BaseModel):
    """Current state of one model version (the catalog table holds one item per version)."""

    model_config = ConfigDict(defer_build=True, frozen=True)

    version_id: str
    model_group: str
    version: str
    status: VersionStatus
    manifest_uri: str
    manifest_sha256: str
    created_at: datetime
    updated_at: datetime
    # Intake holds a short lease while it verifies artifacts, so a concurrent duplicate
    # delivery retries later instead of registering a second model package.
    lease_until: datetime | None = None
    kind: str | None = None
    risk_tier: str | None = None
    submitter: str | None = None
    submitter_email: str | None = None
    model_package_arn: str | None = None
    execution_name: str | None = None
    reasons: list[Problem] = Field(default_factory=list)
    # True once "Model Version Registered" was published and the promotion started;
    # lets a late duplicate finish the announcement without doing it twice.
    announced: bool = False
    # Evaluation: the callback token of the waiting promotion stays server-side (never in an event,
    # a log line or a CLI answer); external evaluators address the version by its correlation id.
    evaluator: Evaluator | None = None
    evaluation_task_token: str | None = Field(default=None, repr=False)
    evaluation_deadline: datetime | None = None
    evaluation: AcceptedEvaluation | None = None
    gate: GateOutcome | None = None
    # Deployment: the version's status in each stage it was sent to ("dev", "preprod", "prod").
    stages: dict[str, StageDeployment] = Field(default_factory=dict)
    # Optimistic concurrency: every write is conditional on the revision it read.
    revision: int = 0


class AuditRecord(BaseModel):
    """One fact in the audit trail, stored once per business event id."""

    model_config = ConfigDict(defer_build=True, frozen=True)

    version_id: str
    event_id: str
    detail_type: str
    source: str
    occurred_at: datetime
    recorded_at: datetime
    actor: str
    correlation_id: str
    envelope_id: str
    facts: dict[str, Any] = Field(description="The event's detail, minus fields that duplicate the keys above.")


class SealedRecord(AuditRecord):
    """An audit record as stored: a link of its model group's hash chain (see fmops.ledger)."""

    chain: str
    seq: int = Field(ge=1)
    prev_hash: str
    hash: str
