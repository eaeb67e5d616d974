"""DeployStage's worker, `advance`: a version approved through fmops goes through dev, preprod and prod.

Each test drives `advance` as the deployment state machine does (DeployStage, then WaitForStage,
ApproveStage or AbandonStage on the outcome), on in-memory fakes: a version registered, gated and
approved through the promotion's own steps, the example stages file, and a scripted target per stage.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any, TypeVar

import pytest

from fmops.deployment.config import STAGES_KEY, parse_stages
from fmops.deployment.history import DeploymentKind, DeploymentOutcome, DeploymentRecord, serving_at
from fmops.deployment.service import (
    DeploymentConfigMissing,
    DeploymentDeps,
    StageStep,
    StepOutcome,
    advance,
    deployment_id_for,
)
from fmops.deployment.smoke import SmokeResponse
from fmops.deployment.targets import DeploymentThrottled, InvocationFailed, TargetState
from fmops.events import (
    DeploymentFailed,
    DeploymentRolledBack,
    DeploymentStarted,
    DeploymentSucceeded,
    FmopsEventDetail,
)
from fmops.gate.policy import Stage
from fmops.promotion import ApprovalGranted, ApproveDeps, approve_version
from fmops.records import CatalogRecord, StageDeploymentStatus

from tests.unit.builders import BUCKET, WEIGHTS
from tests.unit.deployment.fake_target import FakeTarget, FakeTargets
from tests.unit.fakes import InMemoryDeploymentStore
from tests.unit.promotion.world import World

STAGES_FILE = (Path(__file__).parents[3] / "deployments" / "stages.json").read_bytes()
GROUP = "sentiment"
V1, V2 = "sentiment/1.0.0", "sentiment/1.1.0"
SAMPLES = [
    {"name": "clearly-positive", "request": {"inputs": "I love this product"}},
    {"name": "clearly-negative", "request": {"inputs": "It broke after a day"}},
]
DEV_APPROVERS = ("ana.ortiz", "ben.okafor")
# An answer without the "label" every stage's smoke test requires.
UNLABELLED = SmokeResponse(status_code=200, body=b'{"score": 0.51}', latency_ms=90.0)

E = TypeVar("E", bound=FmopsEventDetail)


# ------------------------------------------------------------------------------ the world


@dataclass
class Deployments:
    """Versions of the sentiment group approved through fmops, the example stages, and the deployment's worker."""

    world: World = field(default_factory=World)
    store: InMemoryDeploymentStore = field(default_factory=InMemoryDeploymentStore)
    targets: FakeTargets = field(default_factory=lambda: FakeTargets(parse_stages(STAGES_FILE)))

    def __post_init__(self) -> None:
        self.world.policies.files[STAGES_KEY] = STAGES_FILE

    @property
    def deps(self) -> DeploymentDeps:
        w = self.world
        return DeploymentDeps(
            catalog=w.catalog,
            store=self.store,
            artifacts=w.store,
            config=w.policies,
            targets=self.targets,
            bus=w.bus,
            clock=w.clock,
        )

    def granted(self, version_id: str, stage: Stage, *approvers: str) -> dict[str, Any]:
        """RequestApproval's output for the stage (fmops.approvals.service.approved_output's shape)."""
        return {
            "approval_id": f"apr-{stage.value}-{version_id.replace('/', '-')}",
            "stage": stage.value,
            "approvers": [
                {"id": who, "channel": "slack", "decided_at": self.world.clock.now().isoformat()} for who in approvers
            ],
        }

    def approve(self, version: str = "1.0.0", samples: list[dict[str, Any]] | None = None) -> str:
        """Register and gate a version, then approve it for dev as the promotion's ApproveVersion does."""
        started = self.world.through_the_gate(version, sample_requests=SAMPLES if samples is None else samples)
        granted = ApprovalGranted(
            version_id=started.version_id,
            correlation_id=started.correlation_id,
            approval=self.granted(started.version_id, Stage.DEV, *DEV_APPROVERS),
        )
        w = self.world
        approve_version(granted, ApproveDeps(catalog=w.catalog, registry=w.registry, bus=w.bus, clock=w.clock))
        assert self.record(started.version_id).status.value == "Approved"
        return started.version_id

    def step(
        self,
        version_id: str,
        stage: Stage = Stage.DEV,
        approvers: tuple[str, ...] | None = DEV_APPROVERS,
        **changes: Any,
    ) -> StageStep:
        """The step DeployStage gets for `stage` (the trigger's for dev; ApproveStage's output after it)."""
        fields: dict[str, Any] = {
            "deployment_id": deployment_id_for(version_id, DeploymentKind.DEPLOY),
            "version_id": version_id,
            "correlation_id": version_id,
            "stage": stage,
            "requested_at": self.world.clock.now(),
            "approval": None if approvers is None else self.granted(version_id, stage, *approvers),
        }
        fields.update(changes)
        return StageStep(**fields)

    def advance(self, step: StageStep) -> StageStep:
        return advance(step, self.deps)

    def deployed(self, version: str = "1.0.0", approvers: tuple[str, ...] = DEV_APPROVERS) -> str:
        """A version approved and serving in dev."""
        version_id = self.approve(version)
        after = self.advance(self.step(version_id, approvers=approvers))
        assert (after.stage, after.outcome) == (Stage.PREPROD, StepOutcome.AWAITING_APPROVAL), after
        return version_id

    # -------------------------------------------------------------- what there is to see
    def record(self, version_id: str) -> CatalogRecord:
        return self.world.record(version_id)

    def stage_status(self, version_id: str, stage: Stage = Stage.DEV) -> StageDeploymentStatus | None:
        entry = self.record(version_id).stages.get(stage.value)
        return entry.status if entry else None

    def serving(self, stage: Stage = Stage.DEV) -> str | None:
        record = self.world.catalog.serving(GROUP, stage.value)
        return record.version_id if record else None

    def history(self, stage: Stage = Stage.DEV) -> dict[str, DeploymentRecord]:
        return {record.deployment_id: record for record in self.store.history(GROUP, stage)}

    def mark(self) -> int:
        return len(self.world.bus.published)

    def events(self, kind: type[E], since: int = 0) -> list[E]:
        return [event for event in self.world.bus.published[since:] if isinstance(event, kind)]

    def deployment_events(self, since: int = 0) -> list[str]:
        return [
            event.detail_type
            for event in self.world.bus.published[since:]
            if event.detail_type.startswith("Deployment")
        ]

    def locked(self, stage: Stage = Stage.DEV) -> str | None:
        lock = self.store.holder(GROUP, stage)
        return lock.holder if lock else None

    @property
    def dev(self) -> FakeTarget:
        return self.targets[Stage.DEV]


@pytest.fixture
def fleet() -> Deployments:
    return Deployments()


def stage_id(version_id: str, stage: Stage = Stage.DEV, kind: DeploymentKind = DeploymentKind.DEPLOY) -> str:
    return f"{deployment_id_for(version_id, kind)}#{stage.value}"


# ------------------------------------------------------------------------------ dev, then the next stage


def test_an_approved_version_serves_in_dev_and_waits_for_its_preprod_approval(fleet: Deployments) -> None:
    # Given a version approved through fmops, with two sample requests
    version_id = fleet.approve()
    step = fleet.step(version_id)
    since = fleet.mark()

    # When DeployStage advances its dev step (the endpoint is in service at once)
    after = fleet.advance(step)

    # Then the deployment moves on to preprod, which first needs its own approval
    assert after == StageStep(
        deployment_id=step.deployment_id,
        version_id=version_id,
        correlation_id=version_id,
        stage=Stage.PREPROD,
        requested_at=step.requested_at,
        poll_seconds=step.poll_seconds,
        outcome=StepOutcome.AWAITING_APPROVAL,
    )
    assert after.approval is None
    # And the endpoint was deployed once and smoke-tested with every sample
    assert fleet.dev.calls == [("deploy", version_id)]
    assert fleet.dev.invoked == [(version_id, "clearly-positive"), (version_id, "clearly-negative")]
    # And one succeeded record says who approved it, on which evidence, which bytes, asked for when
    version = fleet.record(version_id)
    assert version.gate is not None
    (record,) = fleet.history().values()
    assert record.deployment_id == stage_id(version_id)
    assert (record.kind, record.outcome, record.version_id) == (DeploymentKind.DEPLOY, DeploymentOutcome.SUCCEEDED, V1)
    assert record.approved_by == list(DEV_APPROVERS)
    assert step.approval is not None and record.approval_id == step.approval["approval_id"]
    assert record.evidence_uri == version.gate.decision_uri
    assert record.artifact_sha256 == version.manifest_sha256
    assert record.requested_at == step.requested_at
    assert record.started_at == record.finished_at == fleet.world.clock.now()
    assert record.endpoint_config_name == fleet.dev.serving[GROUP].endpoint_config_name
    assert record.replaced_version_id is None and record.reason is None
    # And the catalog shows it serving in dev
    assert fleet.serving() == version_id
    assert fleet.stage_status(version_id) is StageDeploymentStatus.SERVING
    # And Deployment Started then Deployment Succeeded were published, and the stage is free again
    assert fleet.deployment_events(since) == ["Deployment Started", "Deployment Succeeded"]
    (started,) = fleet.events(DeploymentStarted, since)
    assert (started.stage, started.target, started.account_id) == ("dev", "sagemaker-serverless", "111111111111")
    assert (started.replaces_version_id, started.approved_by) == (None, list(DEV_APPROVERS))
    assert started.endpoint_name == "fmops-sentiment-dev"
    (succeeded,) = fleet.events(DeploymentSucceeded, since)
    assert (succeeded.next_stage, succeeded.smoke_samples, succeeded.replaced_version_id) == ("preprod", 2, None)
    assert succeeded.evidence_uri == version.gate.decision_uri
    assert succeeded.approved_by == list(DEV_APPROVERS)
    assert succeeded.artifact_sha256 == version.manifest_sha256
    assert fleet.locked() is None


def test_preprod_waits_for_its_approval_without_touching_anything(fleet: Deployments) -> None:
    # Given a version serving in dev, whose deployment now asks for preprod
    version_id = fleet.deployed()
    waiting = fleet.step(version_id, Stage.PREPROD, approvers=None, outcome=StepOutcome.AWAITING_APPROVAL)
    since = fleet.mark()

    # When DeployStage gets the preprod step before anyone approved it
    after = fleet.advance(waiting)

    # Then it only says it awaits the approval: no lock, no deploy, no event, no status
    assert after == waiting
    assert fleet.targets[Stage.PREPROD].calls == []
    assert fleet.locked(Stage.PREPROD) is None
    assert fleet.deployment_events(since) == []
    assert fleet.stage_status(version_id, Stage.PREPROD) is None
    assert fleet.history(Stage.PREPROD) == {}


def test_preprod_deploys_once_approved_and_moves_on_to_prod(fleet: Deployments) -> None:
    # Given a version serving in dev, and ApproveStage's output: chen approved preprod
    version_id = fleet.deployed()
    approved = fleet.step(version_id, Stage.PREPROD, approvers=("chen.wei",), outcome=StepOutcome.AWAITING_APPROVAL)

    # When DeployStage advances it
    after = fleet.advance(approved)

    # Then it serves in preprod, recorded under chen's approval, and prod is next
    assert (after.stage, after.outcome, after.approval) == (Stage.PROD, StepOutcome.AWAITING_APPROVAL, None)
    assert fleet.targets[Stage.PREPROD].calls == [("deploy", version_id)]
    assert fleet.serving(Stage.PREPROD) == version_id
    (record,) = fleet.history(Stage.PREPROD).values()
    assert (record.outcome, record.approved_by) == (DeploymentOutcome.SUCCEEDED, ["chen.wei"])
    assert fleet.stage_status(version_id, Stage.PREPROD) is StageDeploymentStatus.SERVING
    assert fleet.stage_status(version_id, Stage.DEV) is StageDeploymentStatus.SERVING


def test_the_last_stage_ends_the_deployment(fleet: Deployments) -> None:
    version_id = fleet.deployed()
    fleet.advance(fleet.step(version_id, Stage.PREPROD, approvers=("chen.wei",)))

    after = fleet.advance(fleet.step(version_id, Stage.PROD, approvers=("dara.novak", "eli.haddad")))

    assert after.outcome is StepOutcome.DEPLOYED and after.stage is Stage.PROD
    (succeeded,) = [event for event in fleet.events(DeploymentSucceeded) if event.stage == "prod"]
    assert succeeded.next_stage is None


def test_without_a_published_stages_file_nothing_is_deployed(fleet: Deployments) -> None:
    version_id = fleet.approve()
    del fleet.world.policies.files[STAGES_KEY]

    with pytest.raises(DeploymentConfigMissing, match="fmops deployments publish"):
        fleet.advance(fleet.step(version_id))

    assert fleet.targets.calls() == [] and fleet.locked() is None


# ------------------------------------------------------------------------------ waiting for the endpoint


def test_a_creating_endpoint_is_checked_again_until_it_is_in_service(fleet: Deployments) -> None:
    # Given SageMaker takes a while to create the dev endpoint
    version_id = fleet.approve()
    fleet.dev.script(version_id, TargetState.CREATING, TargetState.IN_SERVICE)
    started_at = fleet.world.clock.now()

    # When DeployStage starts the stage
    pending = fleet.advance(fleet.step(version_id))

    # Then the step is pending on the revision it deployed, holding the stage; nothing is judged yet
    assert pending.outcome is StepOutcome.PENDING and pending.stage is Stage.DEV
    assert pending.revision == fleet.dev.serving[GROUP] and pending.revision.version_id == version_id
    assert pending.previous is None and pending.stage_started_at == started_at
    assert fleet.locked() == pending.deployment_id
    assert fleet.stage_status(version_id) is StageDeploymentStatus.DEPLOYING
    assert fleet.deployment_events() == ["Deployment Started"]
    assert fleet.history() == {} and fleet.dev.invoked == []

    # When the state machine checks again five minutes later, and the endpoint is in service
    fleet.world.clock.advance(timedelta(minutes=5))
    after = fleet.advance(pending)

    # Then it is settled: smoke-tested, recorded from when the stage started, on to preprod
    assert (after.stage, after.outcome) == (Stage.PREPROD, StepOutcome.AWAITING_APPROVAL)
    (record,) = fleet.history().values()
    assert (record.started_at, record.finished_at) == (started_at, started_at + timedelta(minutes=5))
    assert fleet.deployment_events() == ["Deployment Started", "Deployment Succeeded"]
    assert fleet.dev.calls == [("deploy", version_id)]
    assert fleet.locked() is None


def test_an_endpoint_not_in_service_by_the_stage_timeout_is_taken_out(fleet: Deployments) -> None:
    # Given an endpoint SageMaker never finishes creating (dev's in_service_timeout is PT15M)
    version_id = fleet.approve()
    fleet.dev.script(version_id, TargetState.CREATING)
    pending = fleet.advance(fleet.step(version_id))

    # When it is checked just before the timeout, Then it keeps waiting
    fleet.world.clock.advance(timedelta(minutes=14, seconds=59))
    assert fleet.advance(pending) == pending
    assert fleet.history() == {}

    # When it is checked at the timeout, Then it has failed but waits for SageMaker to settle
    # (SageMaker refuses to change an endpoint mid-update)
    fleet.world.clock.advance(timedelta(seconds=1))
    timed_out = fleet.advance(pending)
    assert (timed_out.outcome, timed_out.code) == (StepOutcome.PENDING, "in_service_timeout")
    assert fleet.dev.calls == [("deploy", version_id)] and fleet.history() == {}

    # When SageMaker settles
    fleet.dev.script(version_id, TargetState.IN_SERVICE)
    after = fleet.advance(timed_out)

    # Then the stage is rolled back (nothing served before: the endpoint is taken out), with the code
    assert (after.outcome, after.code) == (StepOutcome.FAILED, "in_service_timeout")
    assert after.reason is not None and "in_service_timeout" in after.reason
    assert fleet.dev.calls == [("deploy", version_id), ("withdraw", version_id)]
    (record,) = fleet.history().values()
    assert record.outcome is DeploymentOutcome.FAILED and record.reason is not None
    (failed,) = fleet.events(DeploymentFailed)
    assert (failed.code, failed.stage_serves) == ("in_service_timeout", None)
    assert fleet.stage_status(version_id) is StageDeploymentStatus.FAILED
    assert fleet.dev.invoked == [] and fleet.locked() is None


@pytest.mark.parametrize(
    ("state", "code"),
    [(TargetState.FAILED, "endpoint_failed"), (TargetState.ROLLED_BACK, "endpoint_rolled_back")],
)
def test_an_endpoint_that_settles_elsewhere_is_rolled_back_with_its_code(
    fleet: Deployments, state: TargetState, code: str
) -> None:
    # Given v1 serves in dev, and v2's update fails (or its alarms roll it back)
    fleet.deployed("1.0.0")
    version_id = fleet.approve("1.1.0")
    fleet.dev.script(version_id, state)

    after = fleet.advance(fleet.step(version_id))

    # Then the stage goes back to v1 without smoke-testing v2
    assert (after.outcome, after.code) == (StepOutcome.ROLLED_BACK, code)
    assert fleet.dev.serving[GROUP].version_id == V1 and fleet.serving() == V1
    assert fleet.dev.invoked == [(V1, "clearly-positive"), (V1, "clearly-negative")]
    assert fleet.events(DeploymentFailed)[-1].code == code


# ------------------------------------------------------------------------------ smoke test failures


def test_a_failed_smoke_test_puts_the_earlier_approved_version_back(fleet: Deployments) -> None:
    # Given v1 serves in dev under ana's and ben's approval, and v2 (approved by others) answers without a label
    fleet.deployed("1.0.0", approvers=DEV_APPROVERS)
    v1_record = fleet.history()[stage_id(V1)]
    v1_revision = fleet.dev.serving[GROUP]
    version_id = fleet.approve("1.1.0")
    fleet.dev.answers[version_id] = UNLABELLED
    step = fleet.step(version_id, approvers=("ben.okafor", "chen.wei"))
    since = fleet.mark()

    # When DeployStage deploys v2
    after = fleet.advance(step)

    # Then the smoke test failed and the endpoint is back on v1's configuration
    assert (after.outcome, after.code) == (StepOutcome.ROLLED_BACK, "smoke_test_failed")
    assert after.reason is not None and "lacks 'label'" in after.reason
    assert fleet.dev.calls == [("deploy", V1), ("deploy", V2), ("restore", V1)]
    assert fleet.dev.serving[GROUP] == v1_revision
    # And v2's deploy is recorded rolled back, followed by the rollback to v1 under v1's own approval
    records = fleet.history()
    rolled_back = records[stage_id(V2)]
    assert (rolled_back.outcome, rolled_back.replaced_version_id) == (DeploymentOutcome.ROLLED_BACK, V1)
    assert rolled_back.approved_by == ["ben.okafor", "chen.wei"]
    assert rolled_back.reason == after.reason
    rollback = records[f"{stage_id(V2)}#rollback"]
    assert (rollback.kind, rollback.outcome, rollback.version_id) == (
        DeploymentKind.ROLLBACK,
        DeploymentOutcome.SUCCEEDED,
        V1,
    )
    assert (rollback.approved_by, rollback.approval_id) == (v1_record.approved_by, v1_record.approval_id)
    assert (rollback.evidence_uri, rollback.artifact_sha256) == (v1_record.evidence_uri, v1_record.artifact_sha256)
    assert rollback.endpoint_config_name == v1_record.endpoint_config_name
    assert rollback.replaced_version_id == V2
    # And the history says v1 serves, approved by ana and ben
    now_serving = serving_at(records.values(), GROUP, Stage.DEV, fleet.world.clock.now())
    assert now_serving is not None
    assert (now_serving.version_id, now_serving.approved_by) == (V1, list(DEV_APPROVERS))
    # And Rolled Back tells v1's story, Failed v2's
    assert fleet.deployment_events(since) == ["Deployment Started", "Deployment Rolled Back", "Deployment Failed"]
    (back,) = fleet.events(DeploymentRolledBack, since)
    assert (back.version_id, back.rolled_back_version_id, back.automatic) == (V1, V2, True)
    assert back.approved_by == list(DEV_APPROVERS)
    (failed,) = fleet.events(DeploymentFailed, since)
    assert (failed.version_id, failed.code, failed.stage_serves) == (V2, "smoke_test_failed", V1)
    # And the catalog: v1 serves in dev again, v2 was rolled back there
    assert fleet.serving() == V1
    assert fleet.stage_status(V1) is StageDeploymentStatus.SERVING
    assert fleet.stage_status(V2) is StageDeploymentStatus.ROLLED_BACK
    assert fleet.locked() is None


def test_a_failed_first_deployment_is_taken_out_of_service(fleet: Deployments) -> None:
    # Given the first version ever sent to dev gets no answer from its endpoint
    version_id = fleet.approve()
    fleet.dev.answers[version_id] = InvocationFailed("fmops-sentiment-dev", "ModelNotReadyException")

    after = fleet.advance(fleet.step(version_id))

    # Then there is nothing to go back to: the endpoint is withdrawn, the deploy recorded failed
    assert (after.outcome, after.code) == (StepOutcome.FAILED, "smoke_test_failed")
    assert fleet.dev.calls == [("deploy", version_id), ("withdraw", version_id)]
    assert GROUP not in fleet.dev.serving
    (record,) = fleet.history().values()
    assert record.outcome is DeploymentOutcome.FAILED
    assert record.reason is not None and "taken out of service" in record.reason
    assert fleet.serving() is None
    assert fleet.stage_status(version_id) is StageDeploymentStatus.FAILED
    (failed,) = fleet.events(DeploymentFailed)
    assert (failed.code, failed.stage_serves) == ("smoke_test_failed", None)
    assert fleet.events(DeploymentRolledBack) == []
    assert fleet.locked() is None


def test_a_version_that_served_without_an_fmops_approval_is_not_put_back(fleet: Deployments) -> None:
    # Given v1 went to dev with no approval on its step (no dev approval was found for it)
    fleet.deployed("1.0.0", approvers=())
    assert fleet.serving() == V1
    version_id = fleet.approve("1.1.0")
    fleet.dev.answers[version_id] = UNLABELLED

    after = fleet.advance(fleet.step(version_id))

    # Then v1 is no rollback target: the endpoint is taken out and the serving pointer cleared
    assert after.outcome is StepOutcome.FAILED
    assert fleet.dev.calls[-1] == ("withdraw", version_id)
    assert fleet.serving() is None
    assert fleet.events(DeploymentFailed)[-1].stage_serves is None


# ------------------------------------------------------------------------------ refusals before the stage changes


def test_changed_artifact_bytes_deploy_nothing(fleet: Deployments) -> None:
    # Given the weights were overwritten, with as many bytes, after the version was approved
    version_id = fleet.approve()
    tampered = bytes(reversed(WEIGHTS))
    assert len(tampered) == len(WEIGHTS) and tampered != WEIGHTS
    fleet.world.store.put(BUCKET, "models/sentiment/1.0.0/model/weights.bin", tampered)
    since = fleet.mark()

    after = fleet.advance(fleet.step(version_id))

    # Then nothing was deployed or recorded, and the refusal names the artifact
    assert (after.outcome, after.code) == (StepOutcome.FAILED, "digest_mismatch")
    assert after.reason is not None and "model/weights.bin" in after.reason
    assert fleet.targets.calls() == []
    assert fleet.history() == {}
    assert fleet.deployment_events(since) == ["Deployment Failed"]
    (failed,) = fleet.events(DeploymentFailed, since)
    assert (failed.code, failed.stage_serves) == ("digest_mismatch", None)
    assert "model/weights.bin" in failed.reason
    assert fleet.stage_status(version_id) is StageDeploymentStatus.FAILED
    assert fleet.locked() is None


def test_a_stage_busy_with_another_deployment_queues_the_step(fleet: Deployments) -> None:
    # Given another deployment holds dev
    version_id = fleet.approve()
    now = fleet.world.clock.now()
    other = fleet.store.acquire(GROUP, Stage.DEV, "sentiment_0.9.0-deploy", "sentiment/0.9.0", now, timedelta(hours=1))
    assert other is not None

    # When DeployStage advances our dev step
    queued = fleet.advance(fleet.step(version_id))

    # Then it waits its turn, nothing deployed, the other keeps the stage
    assert queued.outcome is StepOutcome.QUEUED
    assert queued.reason == "dev is busy deploying sentiment/0.9.0"
    assert fleet.targets.calls() == [] and fleet.deployment_events() == []
    assert fleet.locked() == "sentiment_0.9.0-deploy"

    # When the other deployment frees the stage and the step is tried again
    fleet.store.release(other)
    after = fleet.advance(queued)

    # Then it deploys
    assert (after.stage, after.outcome) == (Stage.PREPROD, StepOutcome.AWAITING_APPROVAL)
    assert fleet.serving() == version_id


def test_a_version_asked_for_later_that_already_serves_supersedes_an_older_deployment(fleet: Deployments) -> None:
    # Given v1's deployment was asked for first, but v2's (asked for a minute later) reached dev first
    v1 = fleet.approve("1.0.0")
    older = fleet.step(v1)
    fleet.world.clock.advance(timedelta(minutes=1))
    v2 = fleet.approve("1.1.0")
    fleet.advance(fleet.step(v2))
    since = fleet.mark()

    # When v1's step gets the stage
    after = fleet.advance(older)

    # Then v1 is superseded: v2 keeps serving, nothing is deployed or recorded for v1
    assert after.outcome is StepOutcome.SUPERSEDED
    assert fleet.dev.calls == [("deploy", v2)]
    assert fleet.serving() == v2 and stage_id(v1) not in fleet.history()
    assert fleet.stage_status(v1) is StageDeploymentStatus.SUPERSEDED
    assert fleet.deployment_events(since) == []
    assert fleet.locked() is None


# ------------------------------------------------------------------------------ retries


def test_a_retried_check_of_a_settled_stage_judges_nothing_again(fleet: Deployments) -> None:
    # Given a pending dev step that was settled and recorded (its answer lost to the state machine)
    version_id = fleet.approve()
    fleet.dev.script(version_id, TargetState.CREATING, TargetState.IN_SERVICE)
    pending = fleet.advance(fleet.step(version_id))
    first = fleet.advance(pending)
    invoked, status_calls, since = list(fleet.dev.invoked), fleet.dev.status_calls, fleet.mark()

    # When Step Functions retries the same pending step
    again = fleet.advance(pending)

    # Then it answers as the first attempt did, without asking the endpoint or the samples again
    assert again == first
    assert len(fleet.history()) == 1
    assert (fleet.dev.invoked, fleet.dev.status_calls) == (invoked, status_calls)
    assert fleet.deployment_events(since) == []
    assert fleet.locked() is None


def test_a_retried_start_reuses_the_revision_and_the_event_ids(fleet: Deployments) -> None:
    # Given v1 serves in dev; v2's start deployed, then lost its answer (SageMaker is still updating)
    fleet.deployed("1.0.0")
    version_id = fleet.approve("1.1.0")
    fleet.dev.script(version_id, TargetState.UPDATING, TargetState.UPDATING, TargetState.IN_SERVICE)
    step = fleet.step(version_id)
    since = fleet.mark()
    first = fleet.advance(step)

    # When Step Functions retries the same step, then the deployment runs to its end
    again = fleet.advance(step)
    fleet.advance(again)

    # Then both attempts waited on the same revision, and each event has one stable identity and content
    assert again == first and first.previous is not None and first.previous.version_id == V1
    assert fleet.dev.calls[-2:] == [("deploy", version_id), ("deploy", version_id)]
    deployment = stage_id(version_id)
    ids = [event.event_id for event in fleet.world.bus.published[since:] if event.detail_type.startswith("Deployment")]
    assert ids == [f"{deployment}#started", f"{deployment}#started", f"{deployment}#succeeded"]
    first_started, again_started = fleet.events(DeploymentStarted, since)
    assert first_started == again_started
    assert len([record for record in fleet.history().values() if record.version_id == version_id]) == 1


def test_a_start_retried_after_its_update_went_in_service_still_knows_what_it_replaced(fleet: Deployments) -> None:
    # Why: a retried start must know what the stage served before from the records, not from the endpoint it
    # may already have changed (DeploymentThrottled from the smoke requests is in DeployStage's Retry list).
    fleet.deployed("1.0.0")
    version_id = fleet.approve("1.1.0")
    fleet.dev.answers[version_id] = DeploymentThrottled("InvokeEndpoint", "ThrottlingException")
    step = fleet.step(version_id)
    with pytest.raises(DeploymentThrottled):
        fleet.advance(step)
    del fleet.dev.answers[version_id]  # the throttling is over when Step Functions retries

    after = fleet.advance(step)

    assert (after.stage, after.outcome) == (Stage.PREPROD, StepOutcome.AWAITING_APPROVAL)
    assert fleet.history()[stage_id(V2)].replaced_version_id == V1
    assert fleet.stage_status(V1) is StageDeploymentStatus.REPLACED
    assert [event.replaces_version_id for event in fleet.events(DeploymentStarted) if event.version_id == V2] == [
        V1,
        V1,
    ]


def test_a_retried_check_of_a_rolled_back_stage_answers_as_the_first_attempt(fleet: Deployments) -> None:
    # Why: a retried step answers as the first attempt did, code included (the execution's output and the
    # Deployment<Code> metric carry it).
    fleet.deployed("1.0.0")
    version_id = fleet.approve("1.1.0")
    fleet.dev.script(version_id, TargetState.UPDATING, TargetState.IN_SERVICE)
    fleet.dev.answers[version_id] = UNLABELLED
    pending = fleet.advance(fleet.step(version_id))
    first = fleet.advance(pending)
    assert (first.outcome, first.code) == (StepOutcome.ROLLED_BACK, "smoke_test_failed")
    records = len(fleet.history())

    again = fleet.advance(pending)

    assert len(fleet.history()) == records
    assert again.outcome is first.outcome
    assert again == first


# ------------------------------------------------------------------------------ abandoning a stage


def test_a_rejected_approval_leaves_the_stage_as_it_was(fleet: Deployments) -> None:
    # Given a version serving in dev whose preprod approval chen rejected (ApproveStage's Catch)
    version_id = fleet.deployed()
    cause = "chen.wei rejected the preprod approval: p95 latency too high"
    rejected = fleet.step(
        version_id,
        Stage.PREPROD,
        approvers=None,
        outcome=StepOutcome.AWAITING_APPROVAL,
        error={"Error": "ApprovalRejected", "Cause": cause},
    )
    since = fleet.mark()

    # When AbandonStage calls the worker
    after = fleet.advance(rejected)

    # Then nothing is deployed; the version is not approved for preprod, and says why
    assert (after.outcome, after.code, after.error) == (StepOutcome.FAILED, "approval_rejected", None)
    assert after.reason == f"ApprovalRejected: {cause}"
    assert fleet.targets[Stage.PREPROD].calls == [] and fleet.history(Stage.PREPROD) == {}
    assert fleet.stage_status(version_id, Stage.PREPROD) is StageDeploymentStatus.NOT_APPROVED
    assert fleet.deployment_events(since) == ["Deployment Failed"]
    (failed,) = fleet.events(DeploymentFailed, since)
    assert (failed.stage, failed.code, failed.stage_serves, failed.reason) == (
        "preprod",
        "approval_rejected",
        None,
        after.reason,
    )
    assert fleet.serving(Stage.DEV) == version_id


def test_approvals_that_could_not_be_asked_are_not_reported_as_refused_by_people(fleet: Deployments) -> None:
    # Why: only ApprovalRejected and ApprovalExpired are people's decisions; a missing or invalid approval
    # configuration means nobody was asked (the promotion's codes say which).
    version_id = fleet.deployed()
    broken = fleet.step(
        version_id,
        Stage.PREPROD,
        approvers=None,
        outcome=StepOutcome.AWAITING_APPROVAL,
        error={"Error": "ApprovalConfigMissing", "Cause": "no approvals/rules.json in the policy bucket"},
    )

    after = fleet.advance(broken)

    assert (after.outcome, after.code) == (StepOutcome.FAILED, "approval_config_missing")
    assert fleet.stage_status(version_id, Stage.PREPROD) is StageDeploymentStatus.FAILED


def test_a_lambda_error_report_keeps_only_its_message(fleet: Deployments) -> None:
    # Given DeployStage failed for good on dev with a Lambda error report as the Catch's cause
    version_id = fleet.approve()
    report = {
        "errorMessage": "the artifact bucket did not answer",
        "errorType": "ArtifactStoreUnavailable",
        "requestId": "0f1e2d3c-aaaa-bbbb-cccc-111122223333",
        "stackTrace": ['  File "/var/task/app.py", line 42, in handler\n    step = advance(event, deps())\n'],
    }
    failed_step = fleet.step(version_id, error={"Error": "ArtifactStoreUnavailable", "Cause": json.dumps(report)})

    after = fleet.advance(failed_step)

    # Then the record holds the message only: no stack trace, no request id
    assert (after.outcome, after.code) == (StepOutcome.FAILED, "step_failed")
    assert after.reason == "ArtifactStoreUnavailable: the artifact bucket did not answer"
    (failed,) = fleet.events(DeploymentFailed)
    assert failed.reason == after.reason
    assert "stackTrace" not in failed.model_dump_json() and "/var/task" not in failed.model_dump_json()
    assert fleet.stage_status(version_id) is StageDeploymentStatus.FAILED
    assert fleet.targets.calls() == []


def test_abandoning_a_stage_with_a_revision_in_flight_rolls_it_back(fleet: Deployments) -> None:
    # Given v1 serves in dev; v2's update went in service, but its smoke requests were throttled past every retry
    fleet.deployed("1.0.0")
    version_id = fleet.approve("1.1.0")
    fleet.dev.script(version_id, TargetState.UPDATING, TargetState.IN_SERVICE)
    fleet.dev.answers[version_id] = DeploymentThrottled("InvokeEndpoint", "ThrottlingException")
    pending = fleet.advance(fleet.step(version_id))
    with pytest.raises(DeploymentThrottled):
        fleet.advance(pending)
    assert fleet.dev.serving[GROUP].version_id == V2

    # When AbandonStage gets the pending step with the error
    cause = "InvokeEndpoint was throttled (ThrottlingException)"
    after = fleet.advance(pending.model_copy(update={"error": {"Error": "DeploymentThrottled", "Cause": cause}}))

    # Then dev is back on v1, v2's deploy recorded rolled back, the stage freed
    assert (after.outcome, after.code) == (StepOutcome.ROLLED_BACK, "step_failed")
    assert fleet.dev.calls[-1] == ("restore", V1) and fleet.dev.serving[GROUP].version_id == V1
    assert fleet.history()[stage_id(V2)].outcome is DeploymentOutcome.ROLLED_BACK
    assert fleet.serving() == V1
    assert fleet.events(DeploymentFailed)[-1].stage_serves == V1
    assert fleet.locked() is None


def test_abandoning_a_start_that_lost_its_revision_asks_the_endpoint(fleet: Deployments) -> None:
    # Given v1 serves in dev, and v2's start deployed (in service) before failing for good, returning nothing
    fleet.deployed("1.0.0")
    version_id = fleet.approve("1.1.0")
    fleet.dev.answers[version_id] = DeploymentThrottled("InvokeEndpoint", "ThrottlingException")
    start = fleet.step(version_id)
    with pytest.raises(DeploymentThrottled):
        fleet.advance(start)

    # When AbandonStage gets the start step (no revision) with the error
    after = fleet.advance(start.model_copy(update={"error": {"Error": "DeploymentThrottled", "Cause": "throttled"}}))

    # Then the endpoint said it serves v2 for this deployment: dev goes back to v1
    assert after.outcome is StepOutcome.ROLLED_BACK
    assert fleet.dev.serving[GROUP].version_id == V1 and fleet.serving() == V1
    assert fleet.history()[stage_id(V2)].replaced_version_id == V1
    assert fleet.locked() is None


# ------------------------------------------------------------------------------ manual rollbacks


def rollback_step(fleet: Deployments, version_id: str, approvers: tuple[str, ...] | None) -> StageStep:
    deployment_id = deployment_id_for(version_id, DeploymentKind.ROLLBACK, "r1")
    return fleet.step(
        version_id,
        approvers=approvers,
        deployment_id=deployment_id,
        kind=DeploymentKind.ROLLBACK,
        approval_occasion=f"rollback:{deployment_id}",
    )


def test_a_rollback_to_the_version_already_serving_is_refused(fleet: Deployments) -> None:
    # Given v1 serves in dev
    version_id = fleet.deployed()

    # When a manual rollback of dev to v1 asks first, Then it awaits its own approval, even in dev
    assert fleet.advance(rollback_step(fleet, version_id, None)).outcome is StepOutcome.AWAITING_APPROVAL

    # When it was approved
    since = fleet.mark()
    after = fleet.advance(rollback_step(fleet, version_id, ("ben.okafor",)))

    # Then it is refused: nothing to roll back, nothing changed
    assert (after.outcome, after.code) == (StepOutcome.FAILED, "deployment_refused")
    assert after.reason == f"dev serves {version_id}: nothing to roll back"
    assert fleet.dev.calls == [("deploy", version_id)]
    assert fleet.deployment_events(since) == ["Deployment Failed"]
    assert fleet.serving() == version_id and fleet.locked() is None


def test_an_approved_rollback_puts_an_earlier_version_back(fleet: Deployments) -> None:
    # Given v2 replaced v1 in dev
    fleet.deployed("1.0.0")
    fleet.deployed("1.1.0")
    assert fleet.serving() == V2 and fleet.stage_status(V1) is StageDeploymentStatus.REPLACED

    # When an approved manual rollback of dev to v1 runs
    after = fleet.advance(rollback_step(fleet, V1, ("ben.okafor",)))

    # Then v1 serves again under the rollback's own approval; the deployment ends there
    assert after.outcome is StepOutcome.DEPLOYED
    assert fleet.serving() == V1 and fleet.dev.serving[GROUP].version_id == V1
    record = fleet.history()[f"{deployment_id_for(V1, DeploymentKind.ROLLBACK, 'r1')}#dev"]
    assert (record.kind, record.outcome, record.replaced_version_id) == (
        DeploymentKind.ROLLBACK,
        DeploymentOutcome.SUCCEEDED,
        V2,
    )
    assert record.approved_by == ["ben.okafor"]
    assert fleet.stage_status(V2) is StageDeploymentStatus.REPLACED
    assert fleet.events(DeploymentSucceeded)[-1].next_stage is None


def test_a_rollback_retried_after_it_went_in_service_is_recorded(fleet: Deployments) -> None:
    # Why: a retried rollback must not find its own version serving and refuse "nothing to roll back".
    fleet.deployed("1.0.0")
    fleet.deployed("1.1.0")
    fleet.dev.answers[V1] = DeploymentThrottled("InvokeEndpoint", "ThrottlingException")
    step = rollback_step(fleet, V1, ("ben.okafor",))
    with pytest.raises(DeploymentThrottled):
        fleet.advance(step)
    del fleet.dev.answers[V1]

    after = fleet.advance(step)

    assert fleet.dev.serving[GROUP].version_id == V1
    assert after.outcome is StepOutcome.DEPLOYED
    assert fleet.serving() == V1


# ------------------------------------------------------------------------------ the target's contract


def test_a_timed_out_update_is_not_restored_while_sagemaker_still_updates(fleet: Deployments) -> None:
    # Why: SageMaker refuses to update an endpoint mid-update, so a timed-out deployment waits for it to settle
    # before it is rolled back.
    fleet.deployed("1.0.0")
    version_id = fleet.approve("1.1.0")
    fleet.dev.script(version_id, TargetState.UPDATING)
    pending = fleet.advance(fleet.step(version_id))
    fleet.world.clock.advance(timedelta(minutes=15))

    after = fleet.advance(pending)  # raises DeploymentFailed (from the restore) today

    assert after.outcome is StepOutcome.PENDING or after.code == "in_service_timeout"
