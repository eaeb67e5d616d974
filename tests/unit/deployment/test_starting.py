"""The deployment trigger: SageMaker's "Model Package State Change" starts one deployment, or is refused."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pytest

from fmops.approvals import engine
from fmops.approvals.config import DIRECTORY_KEY, RULES_KEY, load_directory
from fmops.approvals.engine import Accepted, Channel, Verdict
from fmops.approvals.service import ApprovalWait, RequestDeps, approved_output, request_approval
from fmops.deployment.history import DeploymentKind
from fmops.deployment.service import StageStep, deployment_id_for
from fmops.deployment.starting import TriggerDeps, on_package_state_change
from fmops.deployment.trigger import PackageStateChange, TriggerOutcome
from fmops.events import DeploymentRefused, PromotionInput
from fmops.gate.policy import Stage
from fmops.promotion import ApprovalGranted, ApproveDeps, approve_version
from fmops.statuses import VersionStatus

from tests.unit.approvals.builders import EXAMPLE_DIRECTORY, EXAMPLE_RULES
from tests.unit.fakes import InMemoryApprovalStore, InMemoryDeploymentStore, ReversibleVault
from tests.unit.promotion.world import World, eval_row

VERSION_ID = "sentiment/1.0.0"
POLL_SECONDS = 30
DEV_APPROVERS = ("ana.ortiz", "ben.okafor")  # the example rules: dev needs two of ml-engineers and ml-leads


@dataclass
class FakeDeploymentWorkflow:
    """Like Step Functions: a second execution of a name is refused (start returns False)."""

    executions: dict[str, StageStep] = field(default_factory=dict)
    start_calls: int = 0

    def start(self, name: str, step: StageStep) -> bool:
        self.start_calls += 1
        if name in self.executions:
            return False
        self.executions[name] = step
        return True


@dataclass
class Trigger:
    """A version driven through intake, gate and its dev approval on fakes, and the deployment trigger."""

    world: World = field(default_factory=World)
    approvals: InMemoryApprovalStore = field(default_factory=InMemoryApprovalStore)
    store: InMemoryDeploymentStore = field(default_factory=InMemoryDeploymentStore)
    workflow: FakeDeploymentWorkflow = field(default_factory=FakeDeploymentWorkflow)

    def __post_init__(self) -> None:
        self.world.policies.files[RULES_KEY] = EXAMPLE_RULES
        self.world.policies.files[DIRECTORY_KEY] = EXAMPLE_DIRECTORY

    @property
    def deps(self) -> TriggerDeps:
        w = self.world
        return TriggerDeps(
            catalog=w.catalog,
            store=self.store,
            approvals=self.approvals,
            workflow=self.workflow,
            bus=w.bus,
            clock=w.clock,
            poll_seconds=POLL_SECONDS,
        )

    def approve_dev(self, started: PromotionInput) -> dict[str, Any]:
        """Grant the dev approval (ana and ben), then ApproveVersion; returns RequestApproval's output."""
        w = self.world
        wait = ApprovalWait(
            version_id=started.version_id,
            correlation_id=started.correlation_id,
            stage=Stage.DEV,
            execution_name=started.execution_name,
            task_token="task-token-of-the-dev-approval",  # pragma: allowlist secret (a fake task token)
        )
        request = RequestDeps(w.catalog, self.approvals, w.policies, ReversibleVault(), w.bus, w.clock)
        approval_id = request_approval(wait, request)["approval_id"]
        directory = load_directory(w.policies)
        for approver in DEV_APPROVERS:
            read = self.approvals.get(approval_id)
            assert read is not None
            judged = engine.decide(
                read.state, approver, Verdict.APPROVE, None, Channel.SLACK, w.clock.now(), directory=directory
            )
            assert isinstance(judged, Accepted), judged
            self.approvals.record_decision(read, judged, None, w.clock.now())
        stored = self.approvals.get(approval_id)
        assert stored is not None
        output = approved_output(stored)
        granted = ApprovalGranted(version_id=started.version_id, correlation_id=started.correlation_id, approval=output)
        approve_version(granted, ApproveDeps(catalog=w.catalog, registry=w.registry, bus=w.bus, clock=w.clock))
        return output

    def change(self, status: str = "Approved", version_id: str | None = VERSION_ID) -> PackageStateChange:
        """SageMaker's event for the version's package, as fmops registered it."""
        record = self.world.catalog.get(VERSION_ID)
        assert record is not None and record.model_package_arn is not None
        return PackageStateChange(
            model_package_group_name=record.model_group,
            model_package_arn=record.model_package_arn,
            model_approval_status=status,
            version_id=version_id,
        )

    def refusals(self) -> list[DeploymentRefused]:
        return [event for event in self.world.bus.published if isinstance(event, DeploymentRefused)]


@pytest.fixture
def trigger() -> Trigger:
    return Trigger()


def test_an_approved_version_starts_its_deployment_in_dev_with_its_dev_approval(trigger: Trigger) -> None:
    # Given a version that passed its gate and whose dev approval ana and ben granted
    dev_approval = trigger.approve_dev(trigger.world.through_the_gate())
    since = len(trigger.world.bus.published)

    # When its package turns Approved in the registry
    decision = on_package_state_change(trigger.change(), trigger.deps)

    # Then the version is claimed and one deployment starts in dev, carrying the dev approval
    assert decision.outcome is TriggerOutcome.DEPLOY
    deployment_id = deployment_id_for(VERSION_ID, DeploymentKind.DEPLOY)
    assert trigger.store.claims == {VERSION_ID: deployment_id}
    assert trigger.workflow.executions == {
        deployment_id: StageStep(
            deployment_id=deployment_id,
            version_id=VERSION_ID,
            correlation_id=VERSION_ID,
            stage=Stage.DEV,
            requested_at=trigger.world.clock.now(),
            approval=dev_approval,
            poll_seconds=POLL_SECONDS,
        )
    }
    step = trigger.workflow.executions[deployment_id]
    assert step.approval is not None
    assert [person["id"] for person in step.approval["approvers"]] == list(DEV_APPROVERS)
    assert step.outcome is None and step.kind is DeploymentKind.DEPLOY
    # And nothing is refused or published by the trigger itself
    assert trigger.world.bus.published[since:] == []


def test_the_same_state_change_twice_starts_one_deployment(trigger: Trigger) -> None:
    # Given the version's deployment was started by its package's Approved event
    trigger.approve_dev(trigger.world.through_the_gate())
    first = on_package_state_change(trigger.change(), trigger.deps)

    # When EventBridge delivers the event again
    again = on_package_state_change(trigger.change(), trigger.deps)

    # Then the second finds the execution started: one deployment, the duplicate reported as such
    assert first.outcome is TriggerOutcome.DEPLOY
    assert again.outcome is TriggerOutcome.IGNORE_DUPLICATE
    assert again.reason == f"deployment {deployment_id_for(VERSION_ID, DeploymentKind.DEPLOY)} already started"
    assert len(trigger.workflow.executions) == 1
    assert trigger.refusals() == []


def test_a_registry_approval_of_a_version_still_waiting_for_its_approvals_is_refused(trigger: Trigger) -> None:
    # Given a version that passed its gate, and someone approved its package in Studio before fmops' approvers did
    trigger.world.through_the_gate()
    assert trigger.world.record(VERSION_ID).status is VersionStatus.PENDING_APPROVAL

    decision = on_package_state_change(trigger.change(), trigger.deps)

    # Then nothing starts, and one Deployment Refused says why
    assert decision.outcome is TriggerOutcome.REFUSE_UNAPPROVED
    assert trigger.workflow.start_calls == 0 and trigger.store.claims == {}
    (refused,) = trigger.refusals()
    assert (refused.code, refused.reason) == ("refuse_unapproved", decision.reason)
    assert (refused.version_id, refused.model_group) == (VERSION_ID, "sentiment")
    assert refused.model_package_arn == trigger.change().model_package_arn
    assert refused.event_id == f"{refused.model_package_arn}#deployment-refused#Approved"


def test_a_registry_approval_of_a_version_that_failed_its_gate_is_refused(trigger: Trigger) -> None:
    # Given a version whose gate failed (toxic, inaccurate answers), approved in the registry all the same
    toxic = [eval_row("you idiot, it is negative", "negative", latency_ms=90), eval_row("negative", "positive")]
    trigger.world.through_the_gate(rows=toxic)
    gate = trigger.world.record(VERSION_ID).gate
    assert gate is not None and not gate.decision.passed

    decision = on_package_state_change(trigger.change(), trigger.deps)

    assert decision.outcome is TriggerOutcome.REFUSE_UNGATED
    assert trigger.workflow.start_calls == 0 and trigger.store.claims == {}
    (refused,) = trigger.refusals()
    assert refused.code == "refuse_ungated"


def test_a_package_fmops_does_not_know_is_ignored_quietly(trigger: Trigger) -> None:
    # Given a package whose fmops version id names no version in the catalog
    trigger.world.through_the_gate()
    since = len(trigger.world.bus.published)

    decision = on_package_state_change(trigger.change(version_id="sentiment/9.9.9"), trigger.deps)

    # Then it is not fmops' to deploy: nothing starts, nothing is published
    assert decision.outcome is TriggerOutcome.IGNORE_UNMANAGED_GROUP
    assert trigger.workflow.start_calls == 0 and trigger.store.claims == {}
    assert trigger.world.bus.published[since:] == []


def test_a_status_other_than_approved_starts_nothing(trigger: Trigger) -> None:
    trigger.approve_dev(trigger.world.through_the_gate())
    since = len(trigger.world.bus.published)

    decision = on_package_state_change(trigger.change("Rejected"), trigger.deps)

    assert decision.outcome is TriggerOutcome.IGNORE_NOT_APPROVED
    assert trigger.workflow.start_calls == 0
    assert trigger.world.bus.published[since:] == []
