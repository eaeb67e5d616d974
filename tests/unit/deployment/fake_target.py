"""fmops.deployment.targets.DeploymentTarget in memory: one stage's endpoints, scripted, with a log of changes.

Like SageMaker: a first deploy creates the endpoint on the new configuration; a later one updates it,
and the endpoint keeps serving the old configuration until the update is in service (a failed or
alarm-rolled-back update leaves it there). An update in progress refuses another (`restore`), as
SageMaker refuses to update an endpoint mid-update.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from fmops.deployment.config import DeploymentStages, StageConfig, endpoint_name
from fmops.deployment.smoke import SmokeResponse, SmokeSample
from fmops.deployment.targets import (
    DeploymentFailed,
    TargetDeploy,
    TargetRevision,
    TargetState,
    TargetStatus,
    revision_name,
)
from fmops.gate.policy import Stage

# What a healthy sentiment model answers: a JSON object with the "label" every stage's smoke test requires.
GOOD_ANSWER = SmokeResponse(status_code=200, body=b'{"label": "positive", "score": 0.97}', latency_ms=120.0)
IN_SERVICE = TargetStatus(state=TargetState.IN_SERVICE)


def _group(version_id: str) -> str:
    return version_id.split("/", 1)[0]


@dataclass
class FakeTarget:
    """One stage's place to deploy.

    `statuses[version]` is what `status` reports for that version's revision, one per call, the last
    repeated (by default: in service at once); `answers[version]` is its answer to every sample request
    (by default `GOOD_ANSWER`), or an exception `invoke` raises (`InvocationFailed`: no answer).
    """

    stage: StageConfig
    serving: dict[str, TargetRevision] = field(default_factory=dict)  # model group -> what `current` says
    updating: dict[str, TargetRevision] = field(default_factory=dict)  # model group -> an update in progress
    statuses: dict[str, list[TargetStatus]] = field(default_factory=dict)
    answers: dict[str, SmokeResponse | Exception] = field(default_factory=dict)
    refusal: str | None = None  # set: `deploy` raises DeploymentFailed with it
    calls: list[tuple[str, str]] = field(default_factory=list)  # ("deploy" | "restore" | "withdraw", version id)
    invoked: list[tuple[str, str]] = field(default_factory=list)  # (version id, sample name)
    status_calls: int = 0

    def script(self, version_id: str, *states: TargetState | TargetStatus) -> None:
        """What `status` reports for `version_id`, call after call (the last one repeats)."""
        self.statuses[version_id] = [
            state if isinstance(state, TargetStatus) else TargetStatus(state=state, reason=f"SageMaker says {state}")
            for state in states
        ]

    def deploy(self, request: TargetDeploy) -> TargetRevision:
        if request.stage != self.stage:
            raise ValueError(f"a {request.stage.stage.value} deployment sent to the {self.stage.stage.value} target")
        self.calls.append(("deploy", request.version_id))
        if self.refusal is not None:
            raise DeploymentFailed(self.refusal)
        if not self.stage.has_endpoint:
            return TargetRevision(version_id=request.version_id)
        settings = {"model_package_arn": request.model_package_arn, "execution_role_arn": request.execution_role_arn}
        name = revision_name(request.endpoint_name, request.version_id, settings)
        revision = TargetRevision(
            endpoint_name=request.endpoint_name,
            endpoint_config_name=name,
            model_name=name,
            version_id=request.version_id,
        )
        group = request.model_group
        if group not in self.serving:
            self.serving[group] = revision  # CreateEndpoint: the new endpoint describes its configuration at once
        elif self.serving[group] != revision:
            self.updating[group] = revision  # UpdateEndpoint (a retried deploy of the same revision changes nothing)
        return revision

    def status(self, revision: TargetRevision) -> TargetStatus:
        self.status_calls += 1
        script = self.statuses.get(revision.version_id) or [IN_SERVICE]
        status = script.pop(0) if len(script) > 1 else script[0]
        group = _group(revision.version_id)
        if status.state is TargetState.IN_SERVICE:
            self.serving[group] = revision
            self.updating.pop(group, None)
        elif status.settled:
            self.updating.pop(group, None)  # failed or rolled back: the endpoint stays where it was
        return status

    def invoke(self, revision: TargetRevision, sample: SmokeSample) -> SmokeResponse:
        self.invoked.append((revision.version_id, sample.name))
        answer = self.answers.get(revision.version_id, GOOD_ANSWER)
        if isinstance(answer, Exception):
            raise answer
        return answer

    def restore(self, previous: TargetRevision) -> TargetRevision:
        self.calls.append(("restore", previous.version_id))
        group = _group(previous.version_id)
        if group in self.updating:
            raise DeploymentFailed(
                f"Cannot update in-progress endpoint {endpoint_name(group, self.stage.stage)} (ValidationException)"
            )
        if self.stage.has_endpoint:
            self.serving[group] = previous
        return previous

    def withdraw(self, revision: TargetRevision) -> None:
        self.calls.append(("withdraw", revision.version_id))
        group = _group(revision.version_id)
        self.serving.pop(group, None)
        self.updating.pop(group, None)

    def current(self, model_group: str) -> TargetRevision | None:
        return self.serving.get(model_group) if self.stage.has_endpoint else None


@dataclass
class FakeTargets:
    """The deployment's TargetFactory: one FakeTarget per stage, kept from step to step as real endpoints are."""

    stages: DeploymentStages
    by_stage: dict[Stage, FakeTarget] = field(default_factory=dict)

    def __call__(self, stage: StageConfig) -> FakeTarget:
        return self[stage.stage]

    def __getitem__(self, stage: Stage) -> FakeTarget:
        if stage not in self.by_stage:
            self.by_stage[stage] = FakeTarget(self.stages.stage(stage))
        return self.by_stage[stage]

    def calls(self) -> list[tuple[Stage, str, str]]:
        """Every change made to any stage: (stage, deploy | restore | withdraw, version id)."""
        return [(stage, call, version) for stage, target in self.by_stage.items() for call, version in target.calls]
