"""Deployment of an approved version through the stages, one step of the deployment state machine at a time.

The deployment state machine (statemachines/deployment.asl.json) runs one execution per deployment
and carries a `StageStep` from step to step. Its one worker, `advance`, looks at the step and does
the next thing:

- a step that waits for its stage (`outcome` None, `queued` or `awaiting_approval` with the
  approval granted) **starts** the stage: take the (group, stage) lock, verify the artifacts
  against the registered digests, remember what the stage serves, deploy, then settle at once when
  the target is already settled (registry-only; the local cloud);
- a `pending` step (SageMaker still creating or updating) **checks** the stage: settle when it
  settled, roll back when the stage's `in_service_timeout` ran out;
- a step with an `error` (a step that failed for good, or an approval that was not granted)
  **abandons** the stage: put back what served, record why, free the lock.

Settling a stage means: smoke-test the endpoint with the manifest's sample requests, then either
record the success (the version serves; on to the next stage, which first needs its approval), or
roll back automatically to the last version that was approved and served there
(`history.rollback_target`), or, with nothing to go back to, take the failing version out.

Every step is safe to run again (Step Functions retries it): records are stored once per id,
events are deduplicated on their event id, restoring an endpoint already restored changes nothing,
and a stage that already has its record is not judged a second time.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any, Protocol

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from fmops.approvals._config import ConfigInvalid
from fmops.clock import Clock
from fmops.deployment.config import STAGES_KEY, DeploymentStages, StageConfig, endpoint_name, parse_stages
from fmops.deployment.history import (
    DeploymentKind,
    DeploymentOutcome,
    DeploymentRecord,
    rollback_target,
    serving_at,
)
from fmops.deployment.smoke import SmokeResponse, SmokeResult, SmokeSample, check_smoke_responses
from fmops.deployment.store import DeploymentStore
from fmops.deployment.targets import DeploymentFailed as TargetRefused
from fmops.deployment.targets import (
    DeploymentTarget,
    InvocationFailed,
    TargetDeploy,
    TargetRevision,
    TargetState,
)
from fmops.errors import FmopsError, ManifestChanged
from fmops.events import (
    DeploymentFailed,
    DeploymentRolledBack,
    DeploymentStarted,
    DeploymentSucceeded,
)
from fmops.gate.policy import Stage
from fmops.intake import artifact_problems
from fmops.manifest import Manifest
from fmops.ports import ArtifactStore, Catalog, EventBus, PolicyStore
from fmops.promotion import APPROVAL_FAILURE_CODES
from fmops.records import CatalogRecord, StageDeployment, StageDeploymentStatus
from fmops.registered import registered_manifest, split_s3_uri
from fmops.statuses import VersionStatus

ACTOR = "fmops:deployment"
# The lock outlives the longest wait by this much, so a crashed holder frees the stage eventually.
LOCK_MARGIN = timedelta(minutes=30)
NO_WAIT_LEASE = timedelta(minutes=15)  # registry-only stages: nothing to wait for
MAX_EXECUTION_NAME = 80
TIMED_OUT = "in_service_timeout"


class StepOutcome(StrEnum):
    QUEUED = "queued"  # another deployment holds the stage: wait, then try again
    AWAITING_APPROVAL = "awaiting_approval"  # the stage needs its approval before it starts
    PENDING = "pending"  # SageMaker is creating or updating the endpoint: check again later
    DEPLOYED = "deployed"  # the version serves in the last stage it was sent to
    ROLLED_BACK = "rolled_back"  # it failed there; the stage is back on the earlier version (or empty)
    FAILED = "failed"  # refused before the stage changed (digest mismatch, role, approval): nothing changed
    SUPERSEDED = "superseded"  # a version approved later reached the stage first


class DeploymentConfigMissing(FmopsError):
    """No deployment stages file in the policy bucket: `fmops deployments publish` it first."""


class DigestMismatch(FmopsError):
    """The artifacts are not the bytes that were registered, gated and approved."""


class StageStep(BaseModel):
    """The deployment state machine's state: what is being deployed where, and how far it got."""

    model_config = ConfigDict(defer_build=True, frozen=True, extra="forbid")

    deployment_id: str = Field(min_length=1, max_length=MAX_EXECUTION_NAME)
    kind: DeploymentKind = DeploymentKind.DEPLOY
    version_id: str
    correlation_id: str
    stage: Stage
    requested_at: AwareDatetime = Field(description="When the deployment was asked for; orders racing deployments.")
    approval: dict[str, Any] | None = Field(
        default=None, description="The stage's granted approval (RequestApproval's output); None until granted."
    )
    poll_seconds: int = Field(default=60, ge=1, le=3600, description="How long the state machine waits between checks.")
    outcome: StepOutcome | None = None
    stage_started_at: AwareDatetime | None = None
    revision: TargetRevision | None = Field(default=None, description="What is being put on the stage.")
    previous: TargetRevision | None = Field(default=None, description="What the stage served before.")
    reason: str | None = None
    code: str | None = Field(default=None, description="Why it failed, as a code (the Deployment Failed event's).")
    approval_occasion: str | None = Field(
        default=None, description="Set for a manual rollback: its approval is a new one, not the version's earlier one."
    )
    error: dict[str, Any] | None = Field(default=None, description="Set by the state machine's Catch: abandon.")

    @property
    def model_group(self) -> str:
        return self.version_id.split("/", 1)[0]

    @property
    def stage_deployment_id(self) -> str:
        """The id of this stage's record (one deployment writes one record per stage)."""
        return f"{self.deployment_id}#{self.stage.value}"


@dataclass(frozen=True)
class DeploymentDeps:
    catalog: Catalog
    store: DeploymentStore
    artifacts: ArtifactStore
    config: PolicyStore
    targets: TargetFactory
    bus: EventBus
    clock: Clock


class TargetFactory(Protocol):
    def __call__(self, stage: StageConfig) -> DeploymentTarget:
        """The stage's target, acting as the stage's deploy role in its account (may raise StageRoleUnavailable)."""
        ...


def deployment_id_for(version_id: str, kind: DeploymentKind, suffix: str = "") -> str:
    """A Step Functions execution name for a deployment: `<group>_<version>-<kind>[-suffix]`, <= 80 characters.

    The automatic deployment of a version has no suffix, so a duplicate trigger names the same execution.
    """
    name = f"{version_id.replace('/', '_', 1)}-{kind.value}" + (f"-{suffix}" if suffix else "")
    if len(name) <= MAX_EXECUTION_NAME:
        return name
    digest = hashlib.sha256(name.encode()).hexdigest()[:16]
    return f"{name[: MAX_EXECUTION_NAME - 17]}-{digest}"


def load_stages(config: PolicyStore) -> DeploymentStages:
    raw = config.read(STAGES_KEY)
    if raw is None:
        raise DeploymentConfigMissing(f"no {STAGES_KEY} in the policy bucket: run `fmops deployments publish`")
    return parse_stages(raw)


def advance(step: StageStep, deps: DeploymentDeps) -> StageStep:
    """Do the next thing for `step` (see the module docstring) and return the state for the next step."""
    if step.error is not None:
        return _abandon(step, deps)
    if step.outcome is StepOutcome.PENDING:
        return _check(step, deps)
    if step.outcome in (None, StepOutcome.QUEUED, StepOutcome.AWAITING_APPROVAL):
        # dev's approval is the promotion's (the trigger hands it over); a rollback always asks its own.
        if step.approval is None and (step.stage is not Stage.DEV or step.kind is DeploymentKind.ROLLBACK):
            return step.model_copy(update={"outcome": StepOutcome.AWAITING_APPROVAL})
        return _start(step, deps)
    raise ValueError(f"a {step.outcome.value} step has nothing left to do")


# ------------------------------------------------------------------ start
def _start(step: StageStep, deps: DeploymentDeps) -> StageStep:
    stages = load_stages(deps.config)
    stage = stages.stage(step.stage)
    record = _approved_version(step, deps)
    now = deps.clock.now()
    history = deps.store.history(step.model_group, step.stage)  # read once: every check below asks it
    recorded = _recorded_in(history, step)
    if recorded is not None:
        return _resume_recorded(step, stages, recorded, deps)
    target = deps.targets(stage)  # before the lock: a role that cannot be assumed leaves nothing to clean up
    lock = deps.store.acquire(step.model_group, step.stage, step.deployment_id, step.version_id, now, _lease(stage))
    if lock is None:
        holder = deps.store.holder(step.model_group, step.stage)
        waiting_for = holder.version_id if holder else "another deployment"
        return step.model_copy(
            update={"outcome": StepOutcome.QUEUED, "reason": f"{step.stage.value} is busy deploying {waiting_for}"}
        )
    if step.kind is DeploymentKind.DEPLOY and _superseded(step, history):
        deps.store.release(lock)
        reason = f"a version approved later was deployed to {step.stage.value} first"
        _set_stage_status(record, step, StageDeploymentStatus.SUPERSEDED, reason, deps)
        return step.model_copy(update={"outcome": StepOutcome.SUPERSEDED, "reason": reason})
    try:
        manifest = _verified_manifest(record, deps)
    except DigestMismatch as mismatch:
        deps.store.release(lock)
        return _refused(step, record, stage, "digest_mismatch", str(mismatch), deps)
    previous = _serving_before(step, stage, target, history, now)
    if step.kind is DeploymentKind.ROLLBACK and (previous is None or previous.version_id == step.version_id):
        deps.store.release(lock)
        serves = previous.version_id if previous else "nothing"
        return _refused(
            step, record, stage, "deployment_refused", f"{step.stage.value} serves {serves}: nothing to roll back", deps
        )
    try:
        revision = target.deploy(_target_deploy(record, stage, manifest))
    except TargetRefused as refused:
        deps.store.release(lock)
        return _refused(step, record, stage, "deployment_refused", refused.reason, deps)
    started = step.model_copy(
        update={
            "outcome": StepOutcome.PENDING,
            "stage_started_at": step.stage_started_at or now,
            "revision": revision,
            "previous": previous,
            "reason": None,
        }
    )
    deps.bus.publish(
        DeploymentStarted(
            **_event_basics(started, record, stage, "started", deps),
            target=stage.target.value,
            account_id=stage.account_id,
            region=stage.region,
            replaces_version_id=previous.version_id if previous else None,
            approval_id=_approval_id(step),
            approved_by=_approved_by(step),
        )
    )
    _set_stage_status(record, started, StageDeploymentStatus.DEPLOYING, None, deps)
    return _check(started, deps, stages=stages, target=target, manifest=manifest)


def _serving_before(
    step: StageStep, stage: StageConfig, target: DeploymentTarget, history: list[DeploymentRecord], now: datetime
) -> TargetRevision | None:
    """What the stage served before this deployment, from the records (the endpoint itself may already serve
    this version when the step is retried); the endpoint answers only for a stage with no record yet."""
    # Asked in any case: it refuses an endpoint fmops did not create (DeploymentFailed).
    current = target.current(step.model_group)
    recorded = serving_at(history, step.model_group, step.stage, now)
    if recorded is None:
        return current if current is not None and current.version_id != step.version_id else None
    config = recorded.deployment.endpoint_config_name
    if not stage.has_endpoint or config is None:
        return TargetRevision(version_id=recorded.version_id)
    name = endpoint_name(step.model_group, step.stage)
    return TargetRevision(
        endpoint_name=name, endpoint_config_name=config, model_name=config, version_id=recorded.version_id
    )


def _lease(stage: StageConfig) -> timedelta:
    return (stage.in_service_timeout or NO_WAIT_LEASE) + LOCK_MARGIN


def _approved_version(step: StageStep, deps: DeploymentDeps) -> CatalogRecord:
    record = deps.catalog.get(step.version_id)
    if record is None or record.status is not VersionStatus.APPROVED or record.model_package_arn is None:
        status = "unknown" if record is None else record.status.value
        raise TargetRefused(f"{step.version_id} is {status}: only an Approved, registered version is deployed")
    return record


def _superseded(step: StageStep, history: list[DeploymentRecord]) -> bool:
    """True when a deployment of another version, asked for after ours, already serves on this stage:
    an older approval never overwrites a newer one that got there first."""
    return any(
        other.served
        and other.version_id != step.version_id
        and other.requested_at is not None
        and other.requested_at > step.requested_at
        for other in history
    )


def _verified_manifest(record: CatalogRecord, deps: DeploymentDeps) -> Manifest:
    """The registered manifest, after checking that every artifact still has the registered sha256."""
    try:
        manifest = registered_manifest(record.manifest_uri, record.manifest_sha256, deps.artifacts)
    except ManifestChanged as changed:
        raise DigestMismatch(str(changed)) from changed
    bucket, _ = split_s3_uri(record.manifest_uri)
    problems = artifact_problems(manifest, bucket, deps.artifacts)
    if problems:
        raise DigestMismatch("; ".join(problem.message for problem in problems))
    return manifest


def _target_deploy(record: CatalogRecord, stage: StageConfig, manifest: Manifest) -> TargetDeploy:
    return TargetDeploy(
        version_id=record.version_id,
        model_package_arn=record.model_package_arn or "",
        stage=stage,
        execution_role_arn=stage.model_execution_role_arn,
        model_data_sha256=record.manifest_sha256,
    )


# ------------------------------------------------------------------ check and settle
def _check(
    step: StageStep,
    deps: DeploymentDeps,
    *,
    stages: DeploymentStages | None = None,
    target: DeploymentTarget | None = None,
    manifest: Manifest | None = None,
) -> StageStep:
    """Where the stage stands; `_start` hands over what it has read already (stages, target, manifest)."""
    stages = stages or load_stages(deps.config)
    stage = stages.stage(step.stage)
    target = target or deps.targets(stage)
    revision = _in_flight(step)
    recorded = _recorded_in(deps.store.history(step.model_group, step.stage), step)
    if recorded is not None:
        return _resume_recorded(step, stages, recorded, deps)
    status = target.status(revision)
    if not status.settled:
        return _still_settling(step, stage, target, deps)
    if step.code == TIMED_OUT:  # settled after its deadline: it goes back, whatever it became
        return _roll_back(step, stage, target, TIMED_OUT, step.reason or TIMED_OUT, deps)
    if status.state is TargetState.FAILED:
        return _roll_back(step, stage, target, "endpoint_failed", status.reason or "the endpoint failed", deps)
    if status.state is TargetState.ROLLED_BACK:
        return _roll_back(step, stage, target, "endpoint_rolled_back", status.reason or "alarms rolled it back", deps)
    smoke = _smoke_test(step, stage, target, manifest, deps)
    if smoke is not None and not smoke.passed:
        why = "; ".join(failure.message for failure in smoke.failures)
        return _roll_back(step, stage, target, "smoke_test_failed", f"smoke test failed: {why}", deps)
    return _succeed(step, stages, smoke, deps)


def _still_settling(step: StageStep, stage: StageConfig, target: DeploymentTarget, deps: DeploymentDeps) -> StageStep:
    """SageMaker is still creating or updating the endpoint. Past the stage's `in_service_timeout` the version
    has failed, but SageMaker refuses to update an endpoint mid-update: the step waits for it to settle, then
    rolls back. Past twice the timeout it records the failure and leaves the endpoint to a person."""
    now = deps.clock.now()
    started = step.stage_started_at or now
    timeout = stage.in_service_timeout or NO_WAIT_LEASE
    if now < started + timeout:
        return step
    if now < started + 2 * timeout:
        if step.code == TIMED_OUT:
            return step
        reason = f"not in service after {int(timeout.total_seconds())} s (the stage's in_service_timeout)"
        return step.model_copy(update={"code": TIMED_OUT, "reason": f"{reason}; rolled back once SageMaker settles"})
    record = _approved_version(step, deps)
    revision = _in_flight(step)
    reason = (
        f"SageMaker was still creating or updating {revision.endpoint_name} after "
        f"{int(2 * timeout.total_seconds())} s: the endpoint is left as it is, for a person to check"
    )
    config = revision.endpoint_config_name
    deps.store.record(_record(step, record, DeploymentOutcome.FAILED, now, config, _replaced(step), reason, TIMED_OUT))
    return _after_failure(step, record, stage, TIMED_OUT, reason, step.previous, deps)


def _in_flight(step: StageStep) -> TargetRevision:
    if step.revision is None:
        raise ValueError(f"{step.deployment_id}: a pending step names the revision it waits for")
    return step.revision


def _smoke_test(
    step: StageStep, stage: StageConfig, target: DeploymentTarget, manifest: Manifest | None, deps: DeploymentDeps
) -> SmokeResult | None:
    """The smoke test's result; None for a stage without an endpoint (nothing to invoke)."""
    if not stage.has_endpoint or stage.smoke_test is None:
        return None
    if manifest is None:  # a later check: the start verified it, reading the registered bytes again is enough
        record = _approved_version(step, deps)
        manifest = registered_manifest(record.manifest_uri, record.manifest_sha256, deps.artifacts)
    samples = [SmokeSample.model_validate(sample.model_dump()) for sample in manifest.sample_requests]
    revision = _in_flight(step)
    responses: list[SmokeResponse | None] = []
    for sample in samples:
        try:
            responses.append(target.invoke(revision, sample))
        except InvocationFailed:
            responses.append(None)
    return check_smoke_responses(samples, responses, stage.smoke_test)


def _succeed(step: StageStep, stages: DeploymentStages, smoke: SmokeResult | None, deps: DeploymentDeps) -> StageStep:
    record = _approved_version(step, deps)
    revision = _in_flight(step)
    now = deps.clock.now()
    replaced = _replaced(step)
    why = (
        f"rollback requested: {step.stage.value} back on {step.version_id} from {replaced}"
        if step.kind is DeploymentKind.ROLLBACK
        else None
    )
    deps.store.record(
        _record(step, record, DeploymentOutcome.SUCCEEDED, now, revision.endpoint_config_name, replaced, why)
    )
    deps.catalog.set_serving(step.model_group, step.stage.value, step.version_id)
    _set_stage_status(record, step, StageDeploymentStatus.SERVING, None, deps)
    if replaced is not None:
        _mark_replaced(replaced, step, deps)
    next_stage = stages.next_stage(step.stage) if step.kind is DeploymentKind.DEPLOY else None
    deps.bus.publish(
        DeploymentSucceeded(
            **_event_basics(step, record, stages.stage(step.stage), "succeeded", deps),
            replaced_version_id=replaced,
            approval_id=_approval_id(step),
            approved_by=_approved_by(step),
            evidence_uri=record.gate.decision_uri if record.gate else None,
            smoke_samples=smoke.samples if smoke else 0,
            next_stage=next_stage.value if next_stage else None,
        )
    )
    _release(step, deps)
    if next_stage is None:
        return step.model_copy(update={"outcome": StepOutcome.DEPLOYED, "reason": None})
    return _entering(next_stage, step)


def _entering(stage: Stage, after: StageStep) -> StageStep:
    """The step of the next stage, which first waits for its approval."""
    return StageStep(
        deployment_id=after.deployment_id,
        kind=after.kind,
        version_id=after.version_id,
        correlation_id=after.correlation_id,
        stage=stage,
        requested_at=after.requested_at,
        poll_seconds=after.poll_seconds,
        outcome=StepOutcome.AWAITING_APPROVAL,
    )


def _roll_back(
    step: StageStep, stage: StageConfig, target: DeploymentTarget, code: str, reason: str, deps: DeploymentDeps
) -> StageStep:
    """Put the stage back on the last version approved and served there, or take the failing one out."""
    record = _approved_version(step, deps)
    now = deps.clock.now()
    revision = _in_flight(step)
    if step.kind is DeploymentKind.ROLLBACK:
        # A rollback that fails goes back to what served before it (the version it was rolling back from).
        restored_to = target.restore(step.previous) if step.previous else None
        config = revision.endpoint_config_name
        deps.store.record(_record(step, record, DeploymentOutcome.FAILED, now, config, _replaced(step), reason, code))
        return _after_failure(step, record, stage, code, reason, restored_to, deps)
    history = deps.store.history(step.model_group, step.stage)
    good = rollback_target(history, step.model_group, step.stage, step.version_id)
    restored: TargetRevision | None = None
    if good is not None and _digest_still_matches(good.version_id, deps):
        restored = target.restore(
            TargetRevision(
                endpoint_name=revision.endpoint_name,
                endpoint_config_name=good.endpoint_config_name,
                model_name=good.endpoint_config_name,
                version_id=good.version_id,
            )
            if revision.endpoint_name
            else TargetRevision(version_id=good.version_id)
        )
    if restored is None:
        target.withdraw(revision)
        reason = f"{reason}; no earlier approved version to return to: the endpoint was taken out of service"
        config = revision.endpoint_config_name
        deps.store.record(_record(step, record, DeploymentOutcome.FAILED, now, config, _replaced(step), reason, code))
        deps.catalog.set_serving(step.model_group, step.stage.value, None)
        return _after_failure(step, record, stage, code, reason, None, deps)
    assert good is not None
    config = revision.endpoint_config_name
    deps.store.record(_record(step, record, DeploymentOutcome.ROLLED_BACK, now, config, _replaced(step), reason, code))
    deps.store.record(
        DeploymentRecord(
            deployment_id=f"{step.stage_deployment_id}#rollback",
            kind=DeploymentKind.ROLLBACK,
            version_id=good.version_id,
            model_group=step.model_group,
            stage=step.stage,
            outcome=DeploymentOutcome.SUCCEEDED,
            started_at=now,
            finished_at=deps.clock.now(),
            approved_by=good.approved_by,
            approval_id=good.approval_id,
            evidence_uri=good.evidence_uri,
            artifact_sha256=good.artifact_sha256,
            endpoint_config_name=good.endpoint_config_name,
            replaced_version_id=step.version_id,
            reason=f"automatic rollback: {reason}",
        )
    )
    deps.catalog.set_serving(step.model_group, step.stage.value, good.version_id)
    restored_record = deps.catalog.get(good.version_id)
    if restored_record is not None:
        _set_stage_status(restored_record, step, StageDeploymentStatus.SERVING, f"restored: {reason}", deps)
    deps.bus.publish(
        DeploymentRolledBack(
            **{
                **_event_basics(step, record, stage, "rolled-back", deps),
                # The restored version's story: it serves again (the failed one's has its Deployment Failed).
                "version_id": good.version_id,
                "correlation_id": good.version_id,
                "model_package_arn": restored_record.model_package_arn if restored_record else None,
                "artifact_sha256": good.artifact_sha256,
                "endpoint_config_name": good.endpoint_config_name,
            },
            rolled_back_version_id=step.version_id,
            automatic=True,
            reason=reason,
            approval_id=good.approval_id,
            approved_by=good.approved_by,
        )
    )
    return _after_failure(step, record, stage, code, reason, restored, deps)


def _digest_still_matches(version_id: str, deps: DeploymentDeps) -> bool:
    record = deps.catalog.get(version_id)
    if record is None:
        return False
    try:
        _verified_manifest(record, deps)
    except DigestMismatch:
        return False
    return True


def _after_failure(
    step: StageStep,
    record: CatalogRecord,
    stage: StageConfig,
    code: str,
    reason: str,
    serving: TargetRevision | None,
    deps: DeploymentDeps,
) -> StageStep:
    if serving is None:
        return _failed(step, record, stage, code, reason, StageDeploymentStatus.FAILED, StepOutcome.FAILED, None, deps)
    status, outcome = StageDeploymentStatus.ROLLED_BACK, StepOutcome.ROLLED_BACK
    return _failed(step, record, stage, code, reason, status, outcome, serving.version_id, deps)


def _failed(
    step: StageStep,
    record: CatalogRecord,
    stage: StageConfig | None,
    code: str,
    reason: str,
    status: StageDeploymentStatus,
    outcome: StepOutcome,
    serves: str | None,
    deps: DeploymentDeps,
) -> StageStep:
    """Say that the stage did not take the version, and what it serves now; free the stage."""
    _set_stage_status(record, step, status, reason, deps)
    deps.bus.publish(
        DeploymentFailed(
            **_event_basics(step, record, stage, "failed", deps), code=code, reason=reason, stage_serves=serves
        )
    )
    _release(step, deps)
    return step.model_copy(update={"outcome": outcome, "reason": reason, "code": code, "error": None})


def _refused(
    step: StageStep, record: CatalogRecord, stage: StageConfig, code: str, reason: str, deps: DeploymentDeps
) -> StageStep:
    """Nothing changed on the stage: record the refusal (no deployment record: nothing was deployed)."""
    return _failed(
        step, record, stage, code, reason, StageDeploymentStatus.FAILED, StepOutcome.FAILED, _serves(step, deps), deps
    )


def _serves(step: StageStep, deps: DeploymentDeps) -> str | None:
    serving = deps.catalog.serving(step.model_group, step.stage.value)
    return serving.version_id if serving else None


# ------------------------------------------------------------------ abandon
# The approval errors that are people's decisions (the others say why nobody could be asked).
PEOPLE_SAID_NO = frozenset({"ApprovalRejected", "ApprovalExpired"})
# The step errors that have their own code on the record (any other is "step_failed").
_ERROR_CODES = {
    "DeploymentConfigMissing": "config_missing",
    "DeploymentStagesInvalid": "config_invalid",
    "StageRoleUnavailable": "stage_role_unavailable",
    "DeploymentFailed": "deployment_refused",
}


def _abandon(step: StageStep, deps: DeploymentDeps) -> StageStep:
    """A step failed for good, or the stage's approval was not granted: leave the stage as it was, say why.

    Works without a usable stages file too (that may be why the step failed): then nothing was deployed.
    """
    name, cause = _error_of(step.error or {})
    # ApproveStage failed when the step still waits for its approval; its errors mean what they mean there.
    from_approval = step.outcome is StepOutcome.AWAITING_APPROVAL and step.approval is None
    not_granted = from_approval and name in PEOPLE_SAID_NO
    approval_code = APPROVAL_FAILURE_CODES.get(name) if from_approval else None
    code = approval_code or _ERROR_CODES.get(name, "step_failed")
    reason = f"{name}: {cause}"[:2000]
    record = deps.catalog.get(step.version_id)
    if record is None:
        raise TargetRefused(f"{step.version_id} is not in the catalog")
    cleared = step.model_copy(update={"error": None})
    try:
        stage: StageConfig | None = load_stages(deps.config).stage(step.stage)
    except (DeploymentConfigMissing, ConfigInvalid):
        stage = None
    if stage is not None and _recorded_in(deps.store.history(step.model_group, step.stage), step) is None:
        touched = _touched(cleared, stage, deps)
        if touched is not None:
            return _roll_back(touched, stage, deps.targets(stage), code, reason, deps)
    status = StageDeploymentStatus.NOT_APPROVED if not_granted else StageDeploymentStatus.FAILED
    return _failed(cleared, record, stage, code, reason, status, StepOutcome.FAILED, _serves(step, deps), deps)


def _touched(step: StageStep, stage: StageConfig, deps: DeploymentDeps) -> StageStep | None:
    """The step with what it put on the stage, when it may have changed the stage; None when it did not.

    A step that failed after deploying may not have returned its revision to the state machine: while it
    holds the stage's lock, the endpoint itself says whether it serves the failed version.
    """
    if step.revision is not None:
        return step
    lock = deps.store.holder(step.model_group, step.stage)
    if lock is None or lock.holder != step.deployment_id:
        return None
    serving = deps.targets(stage).current(step.model_group)
    if serving is None or serving.version_id != step.version_id:
        return None
    before = serving_at(
        deps.store.history(step.model_group, step.stage), step.model_group, step.stage, step.requested_at
    )
    previous = (
        TargetRevision(
            endpoint_name=serving.endpoint_name,
            endpoint_config_name=before.deployment.endpoint_config_name,
            model_name=before.deployment.endpoint_config_name,
            version_id=before.version_id,
        )
        if before is not None and serving.endpoint_name and before.deployment.endpoint_config_name
        else None
    )
    return step.model_copy(
        update={
            "revision": serving,
            "previous": previous,
            "stage_started_at": step.stage_started_at or step.requested_at,
        }
    )


def _error_of(error: dict[str, Any]) -> tuple[str, str]:
    """The error name and its message, from a Catch's {"Error", "Cause"}. A Lambda error's cause is its
    JSON error report, stack trace included: only the message goes on the record."""
    name = str(error.get("Error") or "StepFailed")
    cause = str(error.get("Cause") or "")
    try:
        report = json.loads(cause)
    except ValueError:
        report = None
    if isinstance(report, dict) and "errorMessage" in report:
        cause = str(report["errorMessage"])
    return name, cause or name


# ------------------------------------------------------------------ shared
def _recorded_in(history: list[DeploymentRecord], step: StageStep) -> DeploymentRecord | None:
    """This stage's record of the deployment, if a first attempt of the step already settled it."""
    return next((record for record in history if record.deployment_id == step.stage_deployment_id), None)


def _resume_recorded(
    step: StageStep, stages: DeploymentStages, recorded: DeploymentRecord, deps: DeploymentDeps
) -> StageStep:
    """A retried step whose stage was already settled: answer as the first attempt did, judge nothing again."""
    if recorded.outcome is DeploymentOutcome.SUCCEEDED:
        next_stage = stages.next_stage(step.stage) if step.kind is DeploymentKind.DEPLOY else None
        _release(step, deps)
        if next_stage is None:
            return step.model_copy(update={"outcome": StepOutcome.DEPLOYED})
        return _entering(next_stage, step)
    _release(step, deps)
    outcome = StepOutcome.ROLLED_BACK if recorded.outcome is DeploymentOutcome.ROLLED_BACK else StepOutcome.FAILED
    return step.model_copy(update={"outcome": outcome, "reason": recorded.reason, "code": recorded.code})


def _release(step: StageStep, deps: DeploymentDeps) -> None:
    lock = deps.store.holder(step.model_group, step.stage)
    if lock is not None and lock.holder == step.deployment_id:
        deps.store.release(lock)


def _replaced(step: StageStep) -> str | None:
    if step.previous is None or step.previous.version_id == step.version_id:
        return None
    return step.previous.version_id


def _record(
    step: StageStep,
    record: CatalogRecord,
    outcome: DeploymentOutcome,
    finished_at: datetime,
    endpoint_config_name: str | None,
    replaced: str | None,
    reason: str | None,
    code: str | None = None,
) -> DeploymentRecord:
    return DeploymentRecord(
        deployment_id=step.stage_deployment_id,
        kind=step.kind,
        version_id=step.version_id,
        model_group=step.model_group,
        stage=step.stage,
        outcome=outcome,
        started_at=step.stage_started_at or finished_at,
        finished_at=finished_at,
        approved_by=_approved_by(step),
        approval_id=_approval_id(step),
        evidence_uri=record.gate.decision_uri if record.gate else None,
        artifact_sha256=record.manifest_sha256,
        endpoint_config_name=endpoint_config_name,
        replaced_version_id=replaced,
        reason=reason[:2000] if reason else None,
        requested_at=step.requested_at,
        code=code,
    )


def _approval_id(step: StageStep) -> str | None:
    return None if step.approval is None else str(step.approval.get("approval_id") or "") or None


def _approved_by(step: StageStep) -> list[str]:
    if step.approval is None:
        return []
    return [str(person["id"]) for person in step.approval.get("approvers", []) if isinstance(person, dict)]


def _event_basics(
    step: StageStep, record: CatalogRecord, stage: StageConfig | None, what: str, deps: DeploymentDeps
) -> dict[str, Any]:
    revision = step.revision
    return {
        "event_id": f"{step.stage_deployment_id}#{what}",
        "correlation_id": step.correlation_id,
        "version_id": step.version_id,
        "occurred_at": deps.clock.now(),
        "actor": ACTOR,
        "deployment_id": step.deployment_id,
        "kind": step.kind.value,
        "model_group": step.model_group,
        "stage": step.stage.value,
        "model_package_arn": record.model_package_arn,
        "artifact_sha256": record.manifest_sha256,
        "endpoint_name": endpoint_name(step.model_group, step.stage) if stage and stage.has_endpoint else None,
        "endpoint_config_name": revision.endpoint_config_name if revision else None,
    }


def _set_stage_status(
    record: CatalogRecord,
    step: StageStep,
    status: StageDeploymentStatus,
    reason: str | None,
    deps: DeploymentDeps,
) -> None:
    """The version's status in the stage, as the catalog shows it (re-read: other steps write the record too)."""
    current = deps.catalog.get(record.version_id) or record
    entry = StageDeployment(
        status=status, deployment_id=step.deployment_id, at=deps.clock.now(), reason=reason[:2000] if reason else None
    )
    existing = current.stages.get(step.stage.value)
    if existing is not None and existing.status is status and existing.deployment_id == step.deployment_id:
        return
    deps.catalog.update(current, deps.clock.now(), stages={**current.stages, step.stage.value: entry})


def _mark_replaced(version_id: str, step: StageStep, deps: DeploymentDeps) -> None:
    replaced = deps.catalog.get(version_id)
    if replaced is None:
        return
    entry = replaced.stages.get(step.stage.value)
    if entry is None or entry.status is not StageDeploymentStatus.SERVING:
        return
    _set_stage_status(replaced, step, StageDeploymentStatus.REPLACED, f"replaced by {step.version_id}", deps)
