"""Deployment targets on SageMaker, in each stage's own account (implementing fmops.deployment.targets).

`StageSessions` assumes a stage's deploy role with STS and caches the credentials; `target_for`
builds the stage's target from such a session. Every SageMaker resource fmops creates is tagged
with the version it serves, which is how `current` tells what an endpoint serves and refuses an
endpoint it did not create.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from fmops.adapters import client, error_code
from fmops.clock import Clock, SystemClock
from fmops.deployment.config import StageConfig, Target, endpoint_name
from fmops.deployment.smoke import SmokeResponse, SmokeSample
from fmops.deployment.targets import (
    DeploymentFailed,
    DeploymentTarget,
    DeploymentThrottled,
    InvocationFailed,
    NotInvocable,
    StageRoleUnavailable,
    TargetDeploy,
    TargetRevision,
    TargetState,
    TargetStatus,
    revision_name,
)

VERSION_TAG = "fmops:version_id"
MODEL_DATA_TAG = "fmops:model_data_sha256"
VARIANT_NAME = "AllTraffic"
# Credentials are renewed this long before they expire, so no call starts on credentials about to lapse.
EXPIRY_MARGIN = timedelta(minutes=5)
ROLE_SESSION_SECONDS = 3600

_THROTTLING = frozenset(
    {"ThrottlingException", "Throttling", "ThrottledException", "TooManyRequestsException", "RequestLimitExceeded"}
)
# SageMaker's answer to a request it will not carry out (and, for Describe*, to a name that does not exist).
_VALIDATION = "ValidationException"
_REFUSALS = frozenset({_VALIDATION, "ResourceLimitExceeded"})
_MODEL_ERROR = "ModelError"

# Control plane: the standard retry mode backs off on throttling and 5xx before DeploymentThrottled.
_CONTROL = Config(retries={"max_attempts": 5, "mode": "standard"})
# A smoke request is sent once (a retry would hide a failure and blur the latency); SageMaker answers
# within 60 s or not at all.
_RUNTIME = Config(retries={"total_max_attempts": 1, "mode": "standard"}, read_timeout=70, connect_timeout=10)


class StageSessions:
    """boto3 sessions in each stage's account, through STS AssumeRole into the stage's `role_arn`."""

    def __init__(self, sts: Any = None, clock: Clock | None = None, external_id: str | None = None) -> None:
        self._sts = sts
        self._clock = clock or SystemClock()
        self._external_id = external_id
        self._cache: dict[tuple[str, str, str], tuple[boto3.Session, datetime]] = {}

    def session_for(self, stage: StageConfig) -> boto3.Session:
        """A session as the stage's deploy role in the stage's region; raises `StageRoleUnavailable` when denied."""
        key = (stage.stage.value, stage.role_arn, stage.region)
        cached = self._cache.get(key)
        if cached is not None and self._clock.now() < cached[1] - EXPIRY_MARGIN:
            return cached[0]
        request: dict[str, Any] = {
            "RoleArn": stage.role_arn,
            "RoleSessionName": f"fmops-deploy-{stage.stage.value}",
            "DurationSeconds": ROLE_SESSION_SECONDS,
        }
        if self._external_id is not None:
            request["ExternalId"] = self._external_id
        try:
            credentials = (self._sts or client("sts")).assume_role(**request)["Credentials"]
        except ClientError as error:
            code = error_code(error)
            if code in _THROTTLING:
                raise DeploymentThrottled("AssumeRole", code) from error
            raise StageRoleUnavailable(stage.role_arn, code) from error
        session = boto3.Session(
            aws_access_key_id=credentials["AccessKeyId"],
            aws_secret_access_key=credentials["SecretAccessKey"],
            aws_session_token=credentials["SessionToken"],
            region_name=stage.region,
        )
        self._cache[key] = (session, credentials["Expiration"])
        return session


@contextmanager
def _calling(operation: str, refusals: frozenset[str] = frozenset()) -> Iterator[None]:
    """Throttling becomes `DeploymentThrottled`; a code in `refusals` becomes `DeploymentFailed`."""
    try:
        yield
    except ClientError as error:
        code = error_code(error)
        if code in _THROTTLING:
            raise DeploymentThrottled(operation, code) from error
        if code in refusals:
            message = error.response.get("Error", {}).get("Message", "")
            raise DeploymentFailed(f"{operation} refused ({code}): {message}") from error
        raise


def _tags(request: TargetDeploy) -> list[dict[str, str]]:
    return [
        {"Key": VERSION_TAG, "Value": request.version_id},
        {"Key": MODEL_DATA_TAG, "Value": request.model_data_sha256},
    ]


def _needs_endpoint(revision: TargetRevision) -> tuple[str, str]:
    if revision.endpoint_name is None or revision.endpoint_config_name is None:
        raise ValueError(f"revision of {revision.version_id} names no endpoint: not one of an endpoint target")
    return revision.endpoint_name, revision.endpoint_config_name


# DescribeEndpoint's EndpointStatus, for the states that do not depend on which configuration serves.
_ENDPOINT_STATES: dict[str, TargetState] = {
    "Creating": TargetState.CREATING,
    "Updating": TargetState.UPDATING,
    "SystemUpdating": TargetState.UPDATING,
    # SageMaker is putting the previous configuration back: not settled until it is InService again.
    "RollingBack": TargetState.UPDATING,
    "Failed": TargetState.FAILED,
    "UpdateRollbackFailed": TargetState.FAILED,
    "OutOfService": TargetState.FAILED,
    "Deleting": TargetState.FAILED,
}


class _SageMakerEndpointTarget:
    """Shared by the real-time and serverless targets, which differ only in the production variant."""

    def __init__(
        self,
        stage: StageConfig,
        sagemaker: Any,
        runtime: Any,
        timer: Callable[[], float] = time.perf_counter,
    ) -> None:
        self._stage = stage
        self._sm = sagemaker
        self._runtime = runtime
        self._timer = timer

    def _sizing(self) -> dict[str, Any]:
        """The production variant's capacity: instances or serverless memory and concurrency."""
        raise NotImplementedError

    def _variant(self, model_name: str) -> dict[str, Any]:
        return {"VariantName": VARIANT_NAME, "ModelName": model_name, **self._sizing()}

    def _deployment_config(self) -> dict[str, Any] | None:
        return None

    # ------------------------------------------------------------------ DeploymentTarget
    def deploy(self, request: TargetDeploy) -> TargetRevision:
        if request.stage != self._stage:
            raise ValueError(f"a {request.stage.stage.value} deployment sent to the {self._stage.stage.value} target")
        endpoint = request.endpoint_name
        settings = {
            "model_package_arn": request.model_package_arn,
            "execution_role_arn": request.execution_role_arn,
            "sizing": self._sizing(),
        }
        name = revision_name(endpoint, request.version_id, settings)
        self._ensure_model(name, request)
        self._ensure_endpoint_config(name, request)
        described = self._describe("DescribeEndpoint", self._sm.describe_endpoint, EndpointName=endpoint)
        if described is None:
            with _calling("CreateEndpoint", _REFUSALS):
                self._sm.create_endpoint(EndpointName=endpoint, EndpointConfigName=name, Tags=_tags(request))
        elif name not in _configurations(described):
            update: dict[str, Any] = {"EndpointName": endpoint, "EndpointConfigName": name}
            deployment = self._deployment_config()
            if deployment is not None:
                update["DeploymentConfig"] = deployment
            with _calling("UpdateEndpoint", _REFUSALS):
                self._sm.update_endpoint(**update)
        # else: a retried deploy; the endpoint already serves or moves to this configuration.
        return TargetRevision(
            endpoint_name=endpoint, endpoint_config_name=name, model_name=name, version_id=request.version_id
        )

    def status(self, revision: TargetRevision) -> TargetStatus:
        endpoint, config = _needs_endpoint(revision)
        described = self._describe("DescribeEndpoint", self._sm.describe_endpoint, EndpointName=endpoint)
        if described is None:
            return TargetStatus(state=TargetState.FAILED, reason=f"endpoint {endpoint} does not exist")
        status = described["EndpointStatus"]
        failure = described.get("FailureReason")
        if status == "InService":
            serving = described["EndpointConfigName"]
            if serving == config:
                return TargetStatus(state=TargetState.IN_SERVICE)
            why = f"endpoint {endpoint} serves {serving}, not {config}"
            return TargetStatus(state=TargetState.ROLLED_BACK, reason=f"{why}: {failure}" if failure else why)
        state = _ENDPOINT_STATES.get(status, TargetState.FAILED)
        if state is TargetState.FAILED:
            return TargetStatus(state=state, reason=failure or f"endpoint {endpoint} is {status}")
        return TargetStatus(state=state, reason=failure)

    def invoke(self, revision: TargetRevision, sample: SmokeSample) -> SmokeResponse:
        endpoint, _ = _needs_endpoint(revision)
        started = self._timer()
        try:
            answer = self._runtime.invoke_endpoint(
                EndpointName=endpoint, ContentType="application/json", Accept="application/json", Body=sample.body()
            )
            body = answer["Body"].read()
        except ClientError as error:
            code = error_code(error)
            if code in _THROTTLING:
                raise DeploymentThrottled("InvokeEndpoint", code) from error
            if code != _MODEL_ERROR:
                raise InvocationFailed(endpoint, code) from error
            # The container answered with an error status: SageMaker relays it as ModelError (HTTP 424).
            relayed: dict[str, Any] = dict(error.response)
            return SmokeResponse(
                status_code=int(relayed.get("OriginalStatusCode") or 424),
                body=str(relayed.get("OriginalMessage") or "").encode(),
                latency_ms=(self._timer() - started) * 1000,
            )
        except BotoCoreError as error:  # timeouts, connection errors: no answer at all
            raise InvocationFailed(endpoint, type(error).__name__) from error
        latency_ms = (self._timer() - started) * 1000
        return SmokeResponse(
            status_code=int(answer["ResponseMetadata"]["HTTPStatusCode"]), body=body, latency_ms=latency_ms
        )

    def restore(self, previous: TargetRevision) -> TargetRevision:
        endpoint, config = _needs_endpoint(previous)
        described = self._describe("DescribeEndpoint", self._sm.describe_endpoint, EndpointName=endpoint)
        if (
            described is not None
            and described["EndpointStatus"] == "InService"
            and described["EndpointConfigName"] == config
        ):
            return previous  # already there: SageMaker's own rollback, or a retried restore
        # No alarms on the way back: the alarms that fire on the failed version would roll the restore back.
        with _calling("UpdateEndpoint", _REFUSALS):
            self._sm.update_endpoint(EndpointName=endpoint, EndpointConfigName=config)
        return previous

    def withdraw(self, revision: TargetRevision) -> None:
        endpoint, _ = _needs_endpoint(revision)
        try:
            with _calling("DeleteEndpoint"):
                self._sm.delete_endpoint(EndpointName=endpoint)
        except ClientError as error:
            if error_code(error) != _VALIDATION:  # already gone: a retried withdrawal
                raise

    def current(self, model_group: str) -> TargetRevision | None:
        endpoint = endpoint_name(model_group, self._stage.stage)
        described = self._describe("DescribeEndpoint", self._sm.describe_endpoint, EndpointName=endpoint)
        if described is None:
            return None
        config_name = described["EndpointConfigName"]
        config = self._describe(
            "DescribeEndpointConfig", self._sm.describe_endpoint_config, EndpointConfigName=config_name
        )
        tags = self._tags(config["EndpointConfigArn"]) if config else {}
        version_id = tags.get(VERSION_TAG)
        if config is None or version_id is None:
            raise DeploymentFailed(
                f"endpoint {endpoint} serves {config_name}, which fmops did not create (no {VERSION_TAG} tag)"
            )
        variants = config.get("ProductionVariants") or [{}]
        return TargetRevision(
            endpoint_name=endpoint,
            endpoint_config_name=config_name,
            model_name=variants[0].get("ModelName"),
            version_id=version_id,
        )

    # ------------------------------------------------------------------ helpers
    def _ensure_model(self, name: str, request: TargetDeploy) -> None:
        if self._describe("DescribeModel", self._sm.describe_model, ModelName=name) is not None:
            return
        with _calling("CreateModel", _REFUSALS):
            self._sm.create_model(
                ModelName=name,
                PrimaryContainer={"ModelPackageName": request.model_package_arn},
                ExecutionRoleArn=request.execution_role_arn,
                Tags=_tags(request),
            )

    def _ensure_endpoint_config(self, name: str, request: TargetDeploy) -> None:
        if self._describe("DescribeEndpointConfig", self._sm.describe_endpoint_config, EndpointConfigName=name):
            return
        with _calling("CreateEndpointConfig", _REFUSALS):
            self._sm.create_endpoint_config(
                EndpointConfigName=name, ProductionVariants=[self._variant(name)], Tags=_tags(request)
            )

    def _describe(self, operation: str, call: Callable[..., Any], **request: Any) -> dict[str, Any] | None:
        """The description, or None when SageMaker does not know the name (it says so with a ValidationException)."""
        try:
            with _calling(operation):
                described: dict[str, Any] = call(**request)
                return described
        except ClientError as error:
            if error_code(error) == _VALIDATION:
                return None
            raise

    def _tags(self, arn: str) -> dict[str, str]:
        tags: dict[str, str] = {}
        request: dict[str, Any] = {"ResourceArn": arn}
        while True:
            with _calling("ListTags"):
                page = self._sm.list_tags(**request)
            tags.update({tag["Key"]: tag["Value"] for tag in page.get("Tags", [])})
            if not page.get("NextToken"):
                return tags
            request["NextToken"] = page["NextToken"]


def _configurations(described: dict[str, Any]) -> set[str]:
    """The configuration the endpoint serves, and the one an update in progress moves it to."""
    pending = (described.get("PendingDeploymentSummary") or {}).get("EndpointConfigName")
    current = {described["EndpointConfigName"]} if described.get("EndpointStatus") != "Failed" else set()
    return current | ({pending} if pending else set())


class SageMakerRealtimeTarget(_SageMakerEndpointTarget):
    """A real-time endpoint on `instance_count` instances of `instance_type`; blue/green when the stage asks."""

    def _sizing(self) -> dict[str, Any]:
        return {
            "InstanceType": self._stage.instance_type,
            "InitialInstanceCount": self._stage.instance_count,
            "InitialVariantWeight": 1.0,
        }

    def _deployment_config(self) -> dict[str, Any] | None:
        blue_green = self._stage.blue_green
        if blue_green is None or not blue_green.enabled:
            return None
        config: dict[str, Any] = {
            "BlueGreenUpdatePolicy": {
                "TrafficRoutingConfiguration": {"Type": "ALL_AT_ONCE", "WaitIntervalInSeconds": 0},
                # The baking period: the alarms watch the new fleet this long before the old one goes.
                "TerminationWaitInSeconds": blue_green.bake_minutes * 60,
            }
        }
        if blue_green.alarms:
            config["AutoRollbackConfiguration"] = {"Alarms": [{"AlarmName": alarm} for alarm in blue_green.alarms]}
        return config


class SageMakerServerlessTarget(_SageMakerEndpointTarget):
    """A serverless endpoint of `memory_mb` and `max_concurrency`."""

    def _sizing(self) -> dict[str, Any]:
        return {
            "ServerlessConfig": {
                "MemorySizeInMB": self._stage.memory_mb,
                "MaxConcurrency": self._stage.max_concurrency,
            },
        }


class RegistryOnlyTarget:
    """No endpoint: the approved model package is what consumers read. Nothing to create, wait for or invoke."""

    def deploy(self, request: TargetDeploy) -> TargetRevision:
        return TargetRevision(version_id=request.version_id)

    def status(self, revision: TargetRevision) -> TargetStatus:
        return TargetStatus(state=TargetState.IN_SERVICE)

    def invoke(self, revision: TargetRevision, sample: SmokeSample) -> SmokeResponse:
        raise NotInvocable(f"{revision.version_id} is registry-only: there is no endpoint to smoke-test")

    def restore(self, previous: TargetRevision) -> TargetRevision:
        return previous

    def withdraw(self, revision: TargetRevision) -> None:
        return None

    def current(self, model_group: str) -> TargetRevision | None:
        return None  # the catalog's serving pointer says what a registry-only stage serves


def _realtime(stage: StageConfig, session: boto3.Session) -> DeploymentTarget:
    return SageMakerRealtimeTarget(stage, *_clients(stage, session))


def _serverless(stage: StageConfig, session: boto3.Session) -> DeploymentTarget:
    return SageMakerServerlessTarget(stage, *_clients(stage, session))


def _registry_only(stage: StageConfig, session: boto3.Session) -> DeploymentTarget:
    return RegistryOnlyTarget()


def _clients(stage: StageConfig, session: boto3.Session) -> tuple[Any, Any]:
    return (
        session.client("sagemaker", region_name=stage.region, config=_CONTROL),
        session.client("sagemaker-runtime", region_name=stage.region, config=_RUNTIME),
    )


_TARGETS: dict[Target, Callable[[StageConfig, boto3.Session], DeploymentTarget]] = {
    Target.SAGEMAKER_ENDPOINT: _realtime,
    Target.SAGEMAKER_SERVERLESS: _serverless,
    Target.REGISTRY_ONLY: _registry_only,
}


def target_for(stage: StageConfig, session: boto3.Session) -> DeploymentTarget:
    """The stage's target, its clients from `session` (see `StageSessions.session_for`) in the stage's region."""
    return _TARGETS[stage.target](stage, session)
