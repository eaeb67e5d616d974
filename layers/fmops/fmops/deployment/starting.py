"""Starting a deployment: from a registry approval (automatic) or from `fmops rollback` (by request).

`on_package_state_change` handles SageMaker's "Model Package State Change": `trigger.decide_trigger`
judges it; a refusal is published ("Deployment Refused", so it is audited, and the handler counts it
for the alarm); a deployment claims the version once, then starts the deployment state machine
under a name derived from the version, so a re-sent event, a duplicate delivery or a retry after a
crash between the claim and the start all end in the one execution (Step Functions refuses a
second execution of the same name and input).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

from aws_lambda_powertools.utilities.parser.models import EventBridgeModel
from pydantic import BaseModel, ConfigDict, Field

from fmops.approvals.engine import StageOutcome
from fmops.approvals.service import approved_output
from fmops.approvals.store import ApprovalStore
from fmops.clock import Clock
from fmops.deployment.history import DeploymentKind
from fmops.deployment.service import StageStep, deployment_id_for
from fmops.deployment.store import DeploymentStore
from fmops.deployment.trigger import PackageStateChange, TriggerDecision, TriggerOutcome, decide_trigger
from fmops.events import DeploymentRefused
from fmops.gate.policy import Stage
from fmops.ports import Catalog, EventBus

ACTOR = "fmops:deployment-trigger"


VERSION_ID_PROPERTY = "fmops:version_id"  # set on every package fmops registers


class PackageDetail(BaseModel):
    """The detail of SageMaker's "Model Package State Change" (the package as it is now), the fields fmops reads."""

    model_config = ConfigDict(defer_build=True, extra="ignore", frozen=True)

    ModelPackageGroupName: str
    ModelPackageArn: str
    ModelApprovalStatus: str
    CustomerMetadataProperties: dict[str, str] = Field(default_factory=dict)


class PackageStateChangeEvent(EventBridgeModel):
    detail: PackageDetail

    def change(self) -> PackageStateChange:
        return PackageStateChange(
            model_package_group_name=self.detail.ModelPackageGroupName,
            model_package_arn=self.detail.ModelPackageArn,
            model_approval_status=self.detail.ModelApprovalStatus,
            version_id=self.detail.CustomerMetadataProperties.get(VERSION_ID_PROPERTY),
        )


class DeploymentWorkflow(Protocol):
    def start(self, name: str, step: StageStep) -> bool:
        """Start the deployment state machine; False when an execution of that name exists already."""
        ...


@dataclass(frozen=True)
class TriggerDeps:
    catalog: Catalog
    store: DeploymentStore
    approvals: ApprovalStore
    workflow: DeploymentWorkflow
    bus: EventBus
    clock: Clock
    poll_seconds: int


def on_package_state_change(change: PackageStateChange, deps: TriggerDeps) -> TriggerDecision:
    """Deploy, ignore or refuse one state change; returns the decision (its outcome says which)."""
    record = deps.catalog.get(change.version_id) if change.version_id else None
    decision = decide_trigger(change, record, deployment_started=False)
    if decision.refused:
        deps.bus.publish(
            DeploymentRefused(
                event_id=f"{change.model_package_arn}#deployment-refused#{change.model_approval_status}",
                correlation_id=change.version_id or change.model_package_arn,
                version_id=change.version_id or "",
                occurred_at=deps.clock.now(),
                actor=ACTOR,
                model_group=change.model_package_group_name,
                model_package_arn=change.model_package_arn,
                code=decision.outcome.value,
                reason=decision.reason,
            )
        )
        return decision
    if not decision.deploys or record is None:
        return decision
    deployment_id = deployment_id_for(record.version_id, DeploymentKind.DEPLOY)
    now = deps.clock.now()
    holder = deps.store.claim_version(record.version_id, deployment_id, now)
    step = StageStep(
        deployment_id=holder,
        version_id=record.version_id,
        correlation_id=record.version_id,
        stage=Stage.DEV,
        requested_at=now,
        approval=_granted(record.version_id, Stage.DEV, deps.approvals),
        poll_seconds=deps.poll_seconds,
    )
    if not deps.workflow.start(holder, step):
        return decision.model_copy(
            update={"outcome": TriggerOutcome.IGNORE_DUPLICATE, "reason": f"deployment {holder} already started"}
        )
    return decision


def _granted(version_id: str, stage: Stage, approvals: ApprovalStore) -> dict[str, Any] | None:
    """The stage's approval as RequestApproval's output, when it was granted (the record's 'approved by')."""
    approval = approvals.for_stage(version_id, stage)
    if approval is None or approval.state.outcome is not StageOutcome.APPROVED:
        return None
    return approved_output(approval)
