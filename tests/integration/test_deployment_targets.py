"""The SageMaker deployment targets, in each stage's own account, against moto and the local endpoint patches."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from botocore.stub import Stubber

from fmops.adapters.deployment import (
    RegistryOnlyTarget,
    SageMakerRealtimeTarget,
    SageMakerServerlessTarget,
    StageSessions,
    target_for,
)
from fmops.deployment.config import SmokeTest, StageConfig, endpoint_name
from fmops.deployment.smoke import SmokeSample, check_smoke_responses
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
)
from fmops.gate.policy import Stage
from fmops_local import sagemaker_endpoints
from fmops_local.patching import Patcher

from tests.unit.fakes import FixedClock

pytestmark = pytest.mark.integration

GOVERNANCE_ACCOUNT = "123456789012"  # moto's default account: where intake registers packages
BUCKET = "fmops-artifacts"
GROUP = "sentiment"
SHA = "ab" * 32
SAMPLES = [SmokeSample(name="happy", request={"text": "great product"})]
RULE = SmokeTest(max_latency_ms=5000, required_keys=["label"])

STAGES: dict[Stage, dict[str, Any]] = {
    Stage.DEV: {
        "stage": "dev",
        "account_id": "111111111111",
        "region": "us-east-1",
        "role_arn": "arn:aws:iam::111111111111:role/fmops-deployer",
        "target": "sagemaker-serverless",
        "memory_mb": 2048,
        "max_concurrency": 5,
        "in_service_timeout": "PT15M",
        "smoke_test": {"max_latency_ms": 5000, "required_keys": ["label"]},
    },
    Stage.PREPROD: {
        "stage": "preprod",
        "account_id": "222222222222",
        "region": "eu-west-1",
        "role_arn": "arn:aws:iam::222222222222:role/fmops-deployer",
        "target": "sagemaker-endpoint",
        "instance_type": "ml.m5.large",
        "instance_count": 1,
        "in_service_timeout": "PT30M",
        "smoke_test": {"max_latency_ms": 5000, "required_keys": ["label"]},
    },
    Stage.PROD: {
        "stage": "prod",
        "account_id": "333333333333",
        "region": "us-east-1",
        "role_arn": "arn:aws:iam::333333333333:role/fmops-deployer",
        "target": "sagemaker-endpoint",
        "instance_type": "ml.m5.xlarge",
        "instance_count": 2,
        "blue_green": {"enabled": True, "alarms": ["fmops-prod-endpoint-errors"], "bake_minutes": 10},
        "in_service_timeout": "PT1H",
        "smoke_test": {"max_latency_ms": 5000, "required_keys": ["label"]},
    },
}


def stage(name: Stage, **overrides: Any) -> StageConfig:
    return StageConfig.model_validate({**STAGES[name], **overrides})


@pytest.fixture
def aws(mocked_aws: None) -> Iterator[None]:
    """moto in-process, with the local cloud's UpdateEndpoint and model server patched in and taken out after."""
    patcher = Patcher()
    sagemaker_endpoints.install(patcher)
    try:
        yield
    finally:
        patcher.restore()


def publish(version: str, responses: dict[str, Any] | str | None = None) -> str:
    """A version as intake leaves it: its folder in the artifact bucket, its package in the governance account."""
    s3 = boto3.client("s3", region_name="us-east-1")
    if BUCKET not in {b["Name"] for b in s3.list_buckets()["Buckets"]}:
        s3.create_bucket(Bucket=BUCKET)
    folder = f"models/{GROUP}/{version}/"
    s3.put_object(Bucket=BUCKET, Key=folder + "manifest.json", Body=b"{}")
    if responses is not None:
        body = responses if isinstance(responses, str) else json.dumps(responses)
        s3.put_object(Bucket=BUCKET, Key=folder + "local/responses.json", Body=body.encode())
    sm = boto3.client("sagemaker", region_name="us-east-1")
    with contextlib.suppress(ClientError):  # the group of an earlier version
        sm.create_model_package_group(ModelPackageGroupName=GROUP)
    return str(
        sm.create_model_package(
            ModelPackageGroupName=GROUP,
            ModelApprovalStatus="Approved",
            CustomerMetadataProperties={
                "fmops:version_id": f"{GROUP}/{version}",
                "fmops:manifest_uri": f"s3://{BUCKET}/{folder}manifest.json",
            },
        )["ModelPackageArn"]
    )


def request(config: StageConfig, version: str, package_arn: str) -> TargetDeploy:
    return TargetDeploy(
        version_id=f"{GROUP}/{version}",
        model_package_arn=package_arn,
        stage=config,
        execution_role_arn=f"arn:aws:iam::{config.account_id}:role/fmops-model-execution",
        model_data_sha256=SHA,
    )


def in_stage(config: StageConfig) -> tuple[DeploymentTarget, Any]:
    """The stage's target and a SageMaker client as its deploy role."""
    session = StageSessions(sts=boto3.client("sts")).session_for(config)
    return target_for(config, session), session.client("sagemaker", region_name=config.region)


# ------------------------------------------------------------------------------ sessions
def test_each_stage_session_acts_in_the_stage_account(aws: None) -> None:
    sessions = StageSessions(sts=boto3.client("sts"))

    identities = {name: sessions.session_for(stage(name)).client("sts").get_caller_identity() for name in STAGES}

    for name, identity in identities.items():
        assert identity["Account"] == STAGES[name]["account_id"]
        assert identity["Arn"].endswith(f":assumed-role/fmops-deployer/fmops-deploy-{name.value}")


class CountingSts:
    """An STS client that answers AssumeRole with credentials valid for an hour from the clock's now."""

    def __init__(self, clock: FixedClock) -> None:
        self.clock = clock
        self.requests: list[dict[str, Any]] = []

    def assume_role(self, **request: Any) -> dict[str, Any]:
        self.requests.append(request)
        n = len(self.requests)
        return {
            "Credentials": {
                "AccessKeyId": f"ASIA{n:016d}",
                "SecretAccessKey": "fake",  # pragma: allowlist secret (made-up STS credentials)
                "SessionToken": "fake",  # pragma: allowlist secret (made-up STS credentials)
                "Expiration": self.clock.now() + timedelta(hours=1),
            }
        }


def test_credentials_are_reused_until_five_minutes_before_they_expire() -> None:
    clock = FixedClock(datetime(2026, 11, 26, 12, tzinfo=UTC))
    sts = CountingSts(clock)
    sessions = StageSessions(sts=sts, clock=clock, external_id="fmops-deployer-7f3a")
    prod = stage(Stage.PROD)

    first = sessions.session_for(prod)
    clock.advance(timedelta(minutes=54, seconds=59))
    again = sessions.session_for(prod)
    clock.advance(timedelta(seconds=1))
    renewed = sessions.session_for(prod)

    assert again is first
    assert renewed is not first
    assert len(sts.requests) == 2
    assert sts.requests[0] == {
        "RoleArn": prod.role_arn,
        "RoleSessionName": "fmops-deploy-prod",
        "DurationSeconds": 3600,
        "ExternalId": "fmops-deployer-7f3a",
    }
    assert renewed.region_name == "us-east-1"


def test_a_denied_role_is_a_typed_error_naming_the_role_and_the_code(aws: None) -> None:
    sts = boto3.client("sts")
    with Stubber(sts) as stubbed:
        stubbed.add_client_error("assume_role", service_error_code="AccessDenied", http_status_code=403)
        with pytest.raises(StageRoleUnavailable) as raised:
            StageSessions(sts=sts).session_for(stage(Stage.PROD))

    assert raised.value.role_arn == "arn:aws:iam::333333333333:role/fmops-deployer"
    assert raised.value.code == "AccessDenied"


# ------------------------------------------------------------------------------ real-time endpoint
def test_a_first_deploy_creates_model_configuration_and_endpoint_in_the_stage_account(aws: None) -> None:
    preprod = stage(Stage.PREPROD)
    package = publish("1.0.0")
    target, sagemaker = in_stage(preprod)

    revision = target.deploy(request(preprod, "1.0.0", package))

    endpoint = endpoint_name(GROUP, Stage.PREPROD)
    assert revision.endpoint_name == endpoint == "fmops-sentiment-preprod"
    assert revision.endpoint_config_name == revision.model_name
    assert revision.endpoint_config_name is not None and len(revision.endpoint_config_name) <= 63
    assert revision.endpoint_config_name.startswith(endpoint + "-")
    model = sagemaker.describe_model(ModelName=revision.model_name)
    assert model["PrimaryContainer"] == {"ModelPackageName": package}
    assert model["ExecutionRoleArn"] == "arn:aws:iam::222222222222:role/fmops-model-execution"
    tags = sagemaker.list_tags(ResourceArn=model["ModelArn"])["Tags"]
    assert {"Key": "fmops:model_data_sha256", "Value": SHA} in tags
    config = sagemaker.describe_endpoint_config(EndpointConfigName=revision.endpoint_config_name)
    assert config["ProductionVariants"] == [
        {
            "VariantName": "AllTraffic",
            "ModelName": revision.model_name,
            "InstanceType": "ml.m5.large",
            "InitialInstanceCount": 1,
            "InitialVariantWeight": 1.0,
        }
    ]
    assert sagemaker.describe_endpoint(EndpointName=endpoint)["EndpointArn"].split(":")[3:5] == [
        "eu-west-1",
        "222222222222",
    ]
    assert target.status(revision).state is TargetState.IN_SERVICE
    assert target.current(GROUP) == revision


def test_the_endpoint_exists_only_in_its_stage_account(aws: None) -> None:
    package = publish("1.0.0")
    for name in STAGES:
        target, _ = in_stage(stage(name))
        target.deploy(request(stage(name), "1.0.0", package))

    for name, settings in STAGES.items():
        endpoint = endpoint_name(GROUP, name)
        _, own = in_stage(stage(name))
        assert own.describe_endpoint(EndpointName=endpoint)["EndpointStatus"] == "InService"
        others = [
            in_stage(stage(other))[1] for other in STAGES if STAGES[other]["account_id"] != settings["account_id"]
        ]
        for client in [boto3.client("sagemaker", region_name=settings["region"]), *others]:
            with pytest.raises(client.exceptions.ClientError, match="Could not find endpoint"):
                client.describe_endpoint(EndpointName=endpoint)


def test_a_second_version_gets_its_own_configuration_and_the_endpoint_is_updated_to_it(aws: None) -> None:
    preprod = stage(Stage.PREPROD)
    target, sagemaker = in_stage(preprod)
    first = target.deploy(request(preprod, "1.0.0", publish("1.0.0")))

    second = target.deploy(request(preprod, "1.1.0", publish("1.1.0")))

    assert second.endpoint_name == first.endpoint_name
    assert second.endpoint_config_name != first.endpoint_config_name
    described = sagemaker.describe_endpoint(EndpointName=second.endpoint_name)
    assert described["EndpointConfigName"] == second.endpoint_config_name
    assert "LastDeploymentConfig" not in described  # preprod asks for no blue/green
    assert target.status(second).state is TargetState.IN_SERVICE
    superseded = target.status(first)
    assert superseded.state is TargetState.ROLLED_BACK
    assert superseded.reason == (
        f"endpoint {first.endpoint_name} serves {second.endpoint_config_name}, not {first.endpoint_config_name}"
    )
    assert target.current(GROUP) == second
    assert (
        sagemaker_endpoints.previous_endpoint_config("222222222222", "eu-west-1", "fmops-sentiment-preprod")
        == first.endpoint_config_name
    )


def test_deploying_the_same_version_again_reuses_what_the_first_attempt_made(aws: None) -> None:
    preprod = stage(Stage.PREPROD)
    target, sagemaker = in_stage(preprod)
    deploy = request(preprod, "1.0.0", publish("1.0.0"))

    first = target.deploy(deploy)
    again = target.deploy(deploy)

    assert again == first
    assert len(sagemaker.list_models()["Models"]) == 1
    assert len(sagemaker.list_endpoint_configs()["EndpointConfigs"]) == 1


def test_new_sizing_for_the_same_version_is_a_new_configuration(aws: None) -> None:
    package = publish("1.0.0")
    small, _ = in_stage(stage(Stage.PREPROD))
    first = small.deploy(request(stage(Stage.PREPROD), "1.0.0", package))
    larger = stage(Stage.PREPROD, instance_count=3)
    target, sagemaker = in_stage(larger)

    resized = target.deploy(request(larger, "1.0.0", package))

    assert resized.endpoint_config_name != first.endpoint_config_name
    config = sagemaker.describe_endpoint_config(EndpointConfigName=resized.endpoint_config_name)
    assert config["ProductionVariants"][0]["InitialInstanceCount"] == 3


def test_a_blue_green_stage_updates_with_its_alarms_and_bake_time(aws: None) -> None:
    prod = stage(Stage.PROD)
    target, sagemaker = in_stage(prod)
    target.deploy(request(prod, "1.0.0", publish("1.0.0")))

    second = target.deploy(request(prod, "1.1.0", publish("1.1.0")))

    described = sagemaker.describe_endpoint(EndpointName=second.endpoint_name)
    assert described["LastDeploymentConfig"] == {
        "BlueGreenUpdatePolicy": {
            "TrafficRoutingConfiguration": {"Type": "ALL_AT_ONCE", "WaitIntervalInSeconds": 0},
            "TerminationWaitInSeconds": 600,
        },
        "AutoRollbackConfiguration": {"Alarms": [{"AlarmName": "fmops-prod-endpoint-errors"}]},
    }


def test_the_smoke_test_passes_on_the_local_model_servers_default_answer(aws: None) -> None:
    preprod = stage(Stage.PREPROD)
    target, _ = in_stage(preprod)
    revision = target.deploy(request(preprod, "1.0.0", publish("1.0.0")))

    response = target.invoke(revision, SAMPLES[0])

    assert response.status_code == 200
    assert json.loads(response.body) == {"label": "positive", "score": 0.9}
    assert response.latency_ms >= 0
    assert check_smoke_responses(SAMPLES, [response], RULE).passed


def test_a_version_that_ships_broken_responses_fails_its_smoke_test(aws: None) -> None:
    preprod = stage(Stage.PREPROD)
    target, _ = in_stage(preprod)
    missing_label = target.deploy(request(preprod, "1.1.0", publish("1.1.0", {"default": {"sentiment": "up"}})))
    lacking = target.invoke(missing_label, SAMPLES[0])
    crashing = target.deploy(request(preprod, "1.2.0", publish("1.2.0", "{not json")))
    errored = target.invoke(crashing, SAMPLES[0])

    assert lacking.status_code == 200
    assert check_smoke_responses(SAMPLES, [lacking], RULE).failures[0].code == "missing_keys"
    # The container's 500 comes back as SageMaker relays it (ModelError): status and body of the container.
    assert errored.status_code == 500
    assert errored.body == b"local/responses.json is not a valid responses file"
    assert check_smoke_responses(SAMPLES, [errored], RULE).failures[0].code == "http_status"


def test_invoking_an_endpoint_that_does_not_exist_is_no_answer(aws: None) -> None:
    preprod = stage(Stage.PREPROD)
    target, _ = in_stage(preprod)
    gone = TargetRevision(
        endpoint_name="fmops-sentiment-preprod", endpoint_config_name="c", model_name="c", version_id="sentiment/1.0.0"
    )

    with pytest.raises(InvocationFailed) as raised:
        target.invoke(gone, SAMPLES[0])

    assert raised.value.code == "ValidationError"


def test_restore_puts_the_endpoint_back_on_the_previous_configuration(aws: None) -> None:
    prod = stage(Stage.PROD)
    target, sagemaker = in_stage(prod)
    previous = target.deploy(request(prod, "1.0.0", publish("1.0.0")))
    failed = target.deploy(request(prod, "1.1.0", publish("1.1.0", {"status": 500})))

    restored = target.restore(previous)
    again = target.restore(previous)

    assert restored == again == previous
    described = sagemaker.describe_endpoint(EndpointName=previous.endpoint_name)
    assert described["EndpointConfigName"] == previous.endpoint_config_name
    assert "LastDeploymentConfig" not in described  # no alarms on the way back
    assert target.status(previous).state is TargetState.IN_SERVICE
    assert target.status(failed).state is TargetState.ROLLED_BACK
    assert target.current(GROUP) == previous


def test_restoring_a_configuration_that_does_not_exist_fails_typed(aws: None) -> None:
    preprod = stage(Stage.PREPROD)
    target, _ = in_stage(preprod)
    deployed = target.deploy(request(preprod, "1.0.0", publish("1.0.0")))
    vanished = deployed.model_copy(update={"endpoint_config_name": "fmops-sentiment-preprod-00000000"})

    with pytest.raises(DeploymentFailed, match=r"UpdateEndpoint refused \(ValidationException\)"):
        target.restore(vanished)


def test_current_is_none_without_an_endpoint_and_refuses_one_fmops_did_not_create(aws: None) -> None:
    preprod = stage(Stage.PREPROD)
    target, sagemaker = in_stage(preprod)
    assert target.current(GROUP) is None
    sagemaker.create_model(
        ModelName="hand-made", ExecutionRoleArn="arn:aws:iam::222222222222:role/x", PrimaryContainer={"Image": "x"}
    )
    sagemaker.create_endpoint_config(
        EndpointConfigName="hand-made",
        ProductionVariants=[
            {"VariantName": "v", "ModelName": "hand-made", "InstanceType": "ml.m5.large", "InitialInstanceCount": 1}
        ],
    )
    sagemaker.create_endpoint(EndpointName="fmops-sentiment-preprod", EndpointConfigName="hand-made")

    with pytest.raises(DeploymentFailed, match="which fmops did not create"):
        target.current(GROUP)


# ------------------------------------------------------------------------------ serverless, registry-only
def test_a_serverless_stage_sizes_memory_and_concurrency(aws: None) -> None:
    dev = stage(Stage.DEV)
    target, sagemaker = in_stage(dev)
    assert isinstance(target, SageMakerServerlessTarget)

    revision = target.deploy(request(dev, "1.0.0", publish("1.0.0")))

    config = sagemaker.describe_endpoint_config(EndpointConfigName=revision.endpoint_config_name)
    assert config["ProductionVariants"] == [
        {
            "VariantName": "AllTraffic",
            "ModelName": revision.model_name,
            "ServerlessConfig": {"MemorySizeInMB": 2048, "MaxConcurrency": 5},
        }
    ]
    assert target.status(revision).state is TargetState.IN_SERVICE
    assert target.invoke(revision, SAMPLES[0]).status_code == 200


def test_registry_only_creates_nothing_and_cannot_be_invoked(aws: None) -> None:
    registry_only = StageConfig.model_validate(
        {key: value for key, value in STAGES[Stage.DEV].items() if key in {"stage", "account_id", "region", "role_arn"}}
        | {"target": "registry-only"}
    )
    target, sagemaker = in_stage(registry_only)
    assert isinstance(target, RegistryOnlyTarget)
    previous = TargetRevision(version_id="sentiment/0.9.0")

    revision = target.deploy(request(registry_only, "1.0.0", publish("1.0.0")))

    assert revision == TargetRevision(version_id="sentiment/1.0.0")
    assert target.status(revision).state is TargetState.IN_SERVICE
    with pytest.raises(NotInvocable):
        target.invoke(revision, SAMPLES[0])
    assert target.restore(previous) == previous
    assert target.current(GROUP) is None
    assert sagemaker.list_models()["Models"] == []
    assert sagemaker.list_endpoints()["Endpoints"] == []


def test_target_for_dispatches_on_the_stage_target(aws: None) -> None:
    session = boto3.Session(region_name="us-east-1")

    assert isinstance(target_for(stage(Stage.DEV), session), SageMakerServerlessTarget)
    assert isinstance(target_for(stage(Stage.PROD), session), SageMakerRealtimeTarget)


# ------------------------------------------------------------------------------ faults (stubbed SageMaker)
def stubbed_target(config: StageConfig) -> tuple[SageMakerRealtimeTarget, Stubber]:
    sagemaker = boto3.client("sagemaker", region_name=config.region)
    runtime = boto3.client("sagemaker-runtime", region_name=config.region)
    return SageMakerRealtimeTarget(config, sagemaker, runtime), Stubber(sagemaker)


PACKAGE = "arn:aws:sagemaker:us-east-1:123456789012:model-package/sentiment/1"


def test_throttling_is_a_typed_retryable_error(mocked_aws: None) -> None:
    preprod = stage(Stage.PREPROD)
    target, stubber = stubbed_target(preprod)
    stubber.add_client_error("describe_model", service_error_code="ThrottlingException", http_status_code=400)

    with stubber, pytest.raises(DeploymentThrottled) as raised:
        target.deploy(request(preprod, "1.0.0", PACKAGE))

    assert (raised.value.operation, raised.value.code) == ("DescribeModel", "ThrottlingException")


def test_a_throttled_smoke_request_is_retryable_not_a_missing_answer(mocked_aws: None) -> None:
    preprod = stage(Stage.PREPROD)
    runtime = boto3.client("sagemaker-runtime", region_name=preprod.region)
    target = SageMakerRealtimeTarget(preprod, boto3.client("sagemaker", region_name=preprod.region), runtime)
    revision = TargetRevision(
        endpoint_name="fmops-sentiment-preprod", endpoint_config_name="c", model_name="c", version_id="sentiment/1.0.0"
    )
    stubber = Stubber(runtime)
    stubber.add_client_error("invoke_endpoint", service_error_code="ThrottlingException", http_status_code=400)

    with stubber, pytest.raises(DeploymentThrottled) as raised:
        target.invoke(revision, SAMPLES[0])

    assert raised.value.operation == "InvokeEndpoint"


@pytest.mark.parametrize("operation", ["create_endpoint", "update_endpoint"])
def test_a_refused_create_or_update_endpoint_is_a_deployment_failure(mocked_aws: None, operation: str) -> None:
    preprod = stage(Stage.PREPROD)
    target, stubber = stubbed_target(preprod)
    stubber.add_response(
        "describe_model",
        {
            "ModelName": "m",
            "ModelArn": "arn:aws:sagemaker:eu-west-1:222222222222:model/m",
            "CreationTime": datetime.now(UTC),
        },
    )
    stubber.add_response(
        "describe_endpoint_config",
        {
            "EndpointConfigName": "c",
            "EndpointConfigArn": "arn:aws:sagemaker:eu-west-1:222222222222:endpoint-config/c",
            "ProductionVariants": [{"VariantName": "AllTraffic", "ModelName": "m"}],
            "CreationTime": datetime.now(UTC),
        },
    )
    if operation == "create_endpoint":
        stubber.add_client_error("describe_endpoint", service_error_code="ValidationException", http_status_code=400)
    else:
        stubber.add_response("describe_endpoint", endpoint_description("InService", "fmops-sentiment-preprod-old"))
    stubber.add_client_error(
        operation,
        service_error_code="ValidationException",
        service_message="The account-level service limit 'ml.m5.large for endpoint usage' is 0 Instances",
        http_status_code=400,
    )

    with stubber, pytest.raises(DeploymentFailed) as raised:
        target.deploy(request(preprod, "1.0.0", PACKAGE))

    name = "CreateEndpoint" if operation == "create_endpoint" else "UpdateEndpoint"
    assert raised.value.reason == (
        f"{name} refused (ValidationException): "
        "The account-level service limit 'ml.m5.large for endpoint usage' is 0 Instances"
    )


def endpoint_description(status: str, config: str, **extra: Any) -> dict[str, Any]:
    return {
        "EndpointName": "fmops-sentiment-preprod",
        "EndpointArn": "arn:aws:sagemaker:eu-west-1:222222222222:endpoint/fmops-sentiment-preprod",
        "EndpointConfigName": config,
        "EndpointStatus": status,
        "CreationTime": datetime.now(UTC),
        "LastModifiedTime": datetime.now(UTC),
        **extra,
    }


@pytest.mark.parametrize(
    ("status", "extra", "state", "reason"),
    [
        ("Creating", {}, TargetState.CREATING, None),
        ("Updating", {}, TargetState.UPDATING, None),
        ("RollingBack", {}, TargetState.UPDATING, None),
        ("Failed", {"FailureReason": "Image not found"}, TargetState.FAILED, "Image not found"),
        ("OutOfService", {}, TargetState.FAILED, "endpoint fmops-sentiment-preprod is OutOfService"),
    ],
)
def test_status_follows_the_endpoint(
    mocked_aws: None, status: str, extra: dict[str, Any], state: TargetState, reason: str | None
) -> None:
    target, stubber = stubbed_target(stage(Stage.PREPROD))
    stubber.add_response("describe_endpoint", endpoint_description(status, "fmops-sentiment-preprod-1", **extra))
    revision = TargetRevision(
        endpoint_name="fmops-sentiment-preprod",
        endpoint_config_name="fmops-sentiment-preprod-1",
        model_name="fmops-sentiment-preprod-1",
        version_id="sentiment/1.0.0",
    )

    with stubber:
        status_now = target.status(revision)

    assert (status_now.state, status_now.reason) == (state, reason)
    assert status_now.settled is (state not in {TargetState.CREATING, TargetState.UPDATING})
