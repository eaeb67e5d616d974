"""Where a stage puts a version: one small interface, one adapter per kind of target.

A `DeploymentTarget` serves one stage (its account, region and target kind, from `StageConfig`).
The deployment state machine drives it the same way whatever the kind:

1. `current(group)`: what the stage's endpoint serves now (kept, to restore on failure);
2. `deploy(TargetDeploy)`: create the SageMaker model from the model package, a new endpoint
   configuration for that version, then create the endpoint or update it to that configuration
   (blue/green with automatic-rollback alarms where the stage asks); returns a `TargetRevision`;
3. `status(revision)` until it settles (bounded by the stage's `in_service_timeout`);
4. `invoke(revision, sample)` once per sample request, judged by `fmops.deployment.smoke`;
5. on a failure, `restore(previous)`: the endpoint back on the previous configuration.

Names are deterministic (`revision_name`), so a retried step finds what its first attempt
created instead of creating it twice. The adapters live in `fmops.adapters.deployment`; the
exceptions below are what they raise, named so the state machine can Retry/Catch on them.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from enum import StrEnum
from typing import Protocol

from pydantic import BaseModel, ConfigDict, Field, model_validator

from fmops.deployment.config import MAX_ENDPOINT_NAME, ROLE_ARN_PATTERN, StageConfig, endpoint_name
from fmops.deployment.smoke import SmokeResponse, SmokeSample
from fmops.errors import FmopsError
from fmops.manifest import GROUP_PATTERN, SHA256_PATTERN, VERSION_PATTERN

VERSION_ID_PATTERN = GROUP_PATTERN.removesuffix("$") + "/" + VERSION_PATTERN.removeprefix("^")
MODEL_PACKAGE_ARN_PATTERN = r"^arn:aws[a-z-]*:sagemaker:[a-z0-9-]+:\d{12}:model-package/[A-Za-z0-9_./-]+$"
REVISION_HASH_LENGTH = 8


class DeploymentThrottled(FmopsError):
    """SageMaker (or STS) throttled the call after the client's own retries: retry the step with backoff."""

    def __init__(self, operation: str, code: str) -> None:
        self.operation = operation
        self.code = code
        super().__init__(f"{operation} was throttled ({code})")


class DeploymentFailed(FmopsError):
    """SageMaker refused the deployment (validation, quota, an endpoint fmops does not manage): not retried."""

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(reason)


class StageRoleUnavailable(FmopsError):
    """The stage's deploy role could not be assumed (denied, missing, region disabled)."""

    def __init__(self, role_arn: str, code: str) -> None:
        self.role_arn = role_arn
        self.code = code
        super().__init__(f"cannot assume {role_arn}: {code}")


class NotInvocable(FmopsError):
    """The target has no endpoint to invoke (registry-only): its stage has no smoke test."""


class InvocationFailed(FmopsError):
    """An invocation got no answer from the model (endpoint missing, timeout, service error).

    A smoke test counts it as no response for that sample; a model that answered with an error
    status is not this, but a `SmokeResponse` with that status.
    """

    def __init__(self, endpoint: str, code: str) -> None:
        self.endpoint = endpoint
        self.code = code
        super().__init__(f"invoking {endpoint} failed: {code}")


class _Frozen(BaseModel):
    model_config = ConfigDict(defer_build=True, extra="forbid", frozen=True)


class TargetDeploy(_Frozen):
    """One version to put on one stage."""

    version_id: str = Field(pattern=VERSION_ID_PATTERN, description="<model group>/<version>")
    model_package_arn: str = Field(pattern=MODEL_PACKAGE_ARN_PATTERN, max_length=2048)
    stage: StageConfig
    execution_role_arn: str = Field(
        pattern=ROLE_ARN_PATTERN,
        description="The role the SageMaker model runs as: a role of the stage's account (SageMaker passes it).",
    )
    model_data_sha256: str = Field(pattern=SHA256_PATTERN, description="As recorded at intake; tagged on the model.")

    @model_validator(mode="after")
    def _role_of_the_stage_account(self) -> TargetDeploy:
        account = self.execution_role_arn.split(":")[4]
        if account != self.stage.account_id:
            raise ValueError(
                f"the execution role is in account {account} but {self.stage.stage.value} deploys to account "
                f"{self.stage.account_id}: SageMaker only runs a model as a role of its own account"
            )
        return self

    @property
    def model_group(self) -> str:
        return self.version_id.split("/", 1)[0]

    @property
    def endpoint_name(self) -> str:
        return endpoint_name(self.model_group, self.stage.stage)


class TargetRevision(_Frozen):
    """What a stage serves: a version, and the SageMaker resources serving it (None for registry-only)."""

    endpoint_name: str | None = None
    endpoint_config_name: str | None = None
    model_name: str | None = None
    version_id: str = Field(pattern=VERSION_ID_PATTERN)

    @model_validator(mode="after")
    def _an_endpoint_has_a_configuration(self) -> TargetRevision:
        if (self.endpoint_name is None) != (self.endpoint_config_name is None):
            raise ValueError("an endpoint revision names both its endpoint and its endpoint configuration")
        return self


class TargetState(StrEnum):
    CREATING = "creating"
    UPDATING = "updating"
    IN_SERVICE = "in_service"  # the endpoint serves this revision
    FAILED = "failed"
    ROLLED_BACK = "rolled_back"  # the endpoint settled on another configuration (e.g. an alarm rolled it back)


_SETTLED = frozenset({TargetState.IN_SERVICE, TargetState.FAILED, TargetState.ROLLED_BACK})


class TargetStatus(_Frozen):
    state: TargetState
    reason: str | None = Field(default=None, description="Why it failed or rolled back, as SageMaker says.")

    @model_validator(mode="after")
    def _a_failure_says_why(self) -> TargetStatus:
        if self.state is TargetState.FAILED and not self.reason:
            raise ValueError("a failed status carries its reason")
        return self

    @property
    def settled(self) -> bool:
        """False while SageMaker is still creating or updating: keep waiting (within the stage's timeout)."""
        return self.state in _SETTLED


class DeploymentTarget(Protocol):
    """One stage's place to deploy. Every method may raise `DeploymentThrottled` (retry)."""

    def deploy(self, request: TargetDeploy) -> TargetRevision:
        """Start serving `request`'s version; returns at once, before it is in service (see `status`).

        Idempotent: deploying the same version with the same settings again reuses what exists.
        Raises `DeploymentFailed` when SageMaker refuses it.
        """
        ...

    def status(self, revision: TargetRevision) -> TargetStatus:
        """Where `revision` stands on the stage's endpoint."""
        ...

    def invoke(self, revision: TargetRevision, sample: SmokeSample) -> SmokeResponse:
        """Send one sample request; a model's error status is a response, no answer raises `InvocationFailed`.

        Raises `NotInvocable` for a target without an endpoint.
        """
        ...

    def restore(self, previous: TargetRevision) -> TargetRevision:
        """Put the endpoint back on `previous`'s configuration (a no-op when it is already there).

        Call it once `status` has settled: SageMaker refuses to update an endpoint mid-update.
        """
        ...

    def withdraw(self, revision: TargetRevision) -> None:
        """Take `revision`'s endpoint out of service (delete it): a failed first version with nothing to go back to.

        A no-op when it is already gone, and for registry-only targets.
        """
        ...

    def current(self, model_group: str) -> TargetRevision | None:
        """What the stage serves for `model_group` now; None when there is no endpoint.

        Raises `DeploymentFailed` when an endpoint of that name exists but fmops did not create
        what it serves: fmops does not replace what it does not manage.
        """
        ...


def revision_name(endpoint: str, version_id: str, settings: Mapping[str, object]) -> str:
    """The name of a version's SageMaker model and endpoint configuration on `endpoint`.

    `<endpoint, cut to fit>-<8 hex digits>`, at most 63 characters, the digits from the sha256 of
    the version id and the settings the resources are made from (package, role, variant sizing):
    endpoint configurations are immutable, so the same version at new settings gets a new name
    rather than reusing one made to the old settings. Deterministic, so a retried deploy reuses it.
    """
    canonical = json.dumps({"version_id": version_id, "settings": settings}, sort_keys=True, separators=(",", ":"))
    digest = hashlib.sha256(canonical.encode()).hexdigest()[:REVISION_HASH_LENGTH]
    head = endpoint[: MAX_ENDPOINT_NAME - REVISION_HASH_LENGTH - 1].rstrip("-")
    name = f"{head}-{digest}"
    if not re.fullmatch(r"^[a-zA-Z0-9](-*[a-zA-Z0-9])*$", name):
        raise ValueError(f"not a SageMaker resource name: {name!r}")
    return name
