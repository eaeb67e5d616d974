"""The local cloud's UpdateEndpoint and stand-in model server, on moto in-process and in server mode."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from fmops.adapters.deployment import StageSessions, target_for
from fmops.deployment.config import StageConfig
from fmops.deployment.smoke import SmokeSample
from fmops.deployment.targets import TargetDeploy, TargetState
from fmops_local import sagemaker_endpoints
from fmops_local.patching import Patcher
from fmops_local.server import MotoServer

pytestmark = pytest.mark.integration

BUCKET = "fmops-artifacts"
REGION = "us-east-1"
STAGE_ACCOUNT = "222222222222"
STAGE_ROLE = f"arn:aws:iam::{STAGE_ACCOUNT}:role/fmops-deployer"
DEFAULT = {"label": "positive", "score": 0.9}


@pytest.fixture
def patched(mocked_aws: None) -> Iterator[None]:
    patcher = Patcher()
    sagemaker_endpoints.install(patcher)
    try:
        yield
    finally:
        patcher.restore()


def sagemaker() -> Any:
    return boto3.client("sagemaker", region_name=REGION)


def runtime() -> Any:
    return boto3.client("sagemaker-runtime", region_name=REGION)


def put(key: str, body: bytes | str) -> None:
    s3 = boto3.client("s3", region_name=REGION)
    if BUCKET not in {b["Name"] for b in s3.list_buckets()["Buckets"]}:
        s3.create_bucket(Bucket=BUCKET)
    s3.put_object(Bucket=BUCKET, Key=key, Body=body.encode() if isinstance(body, str) else body)


def package(version: str, client: Any = None) -> str:
    """A model package registered as intake registers it (its manifest URI in the metadata)."""
    client = client or sagemaker()
    with contextlib.suppress(ClientError):  # the group of an earlier version
        client.create_model_package_group(ModelPackageGroupName="sentiment")
    put(f"models/sentiment/{version}/manifest.json", b"{}")
    return str(
        client.create_model_package(
            ModelPackageGroupName="sentiment",
            CustomerMetadataProperties={
                "fmops:manifest_uri": f"s3://{BUCKET}/models/sentiment/{version}/manifest.json"
            },
        )["ModelPackageArn"]
    )


def endpoint(name: str, container: dict[str, str], client: Any = None, config: str | None = None) -> None:
    client = client or sagemaker()
    client.create_model(ModelName=name, ExecutionRoleArn="arn:aws:iam::123456789012:role/x", PrimaryContainer=container)
    client.create_endpoint_config(
        EndpointConfigName=config or name,
        ProductionVariants=[
            {"VariantName": "AllTraffic", "ModelName": name, "InstanceType": "ml.m5.large", "InitialInstanceCount": 1}
        ],
    )
    client.create_endpoint(EndpointName=name, EndpointConfigName=config or name)


def invoke(name: str, body: bytes | dict[str, Any] | list[Any], client: Any = None) -> Any:
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    answer = (client or runtime()).invoke_endpoint(EndpointName=name, ContentType="application/json", Body=raw)
    return json.loads(answer["Body"].read())


def model_error(name: str, body: bytes | dict[str, Any]) -> dict[str, Any]:
    with pytest.raises(ClientError) as raised:
        invoke(name, body)
    assert raised.value.response["Error"]["Code"] == "ModelError"
    assert raised.value.response["ResponseMetadata"]["HTTPStatusCode"] == 424
    return dict(raised.value.response)


# ------------------------------------------------------------------------------ UpdateEndpoint
def test_update_endpoint_switches_the_configuration_and_stays_in_service(patched: None) -> None:
    endpoint("e", {"ModelPackageName": package("1.0.0")}, config="blue")
    sagemaker().create_endpoint_config(
        EndpointConfigName="green",
        ProductionVariants=[{"VariantName": "AllTraffic", "ModelName": "e", "InstanceType": "ml.m5.large"}],
    )

    sagemaker().update_endpoint(EndpointName="e", EndpointConfigName="green")

    described = sagemaker().describe_endpoint(EndpointName="e")
    assert (described["EndpointConfigName"], described["EndpointStatus"]) == ("green", "InService")
    assert sagemaker_endpoints.previous_endpoint_config("123456789012", REGION, "e") == "blue"


def test_update_endpoint_records_a_deployment_config(patched: None) -> None:
    endpoint("e", {"ModelPackageName": package("1.0.0")})
    deployment = {
        "BlueGreenUpdatePolicy": {
            "TrafficRoutingConfiguration": {"Type": "ALL_AT_ONCE", "WaitIntervalInSeconds": 0},
            "TerminationWaitInSeconds": 300,
        },
        "AutoRollbackConfiguration": {"Alarms": [{"AlarmName": "errors"}]},
    }

    sagemaker().update_endpoint(EndpointName="e", EndpointConfigName="e", DeploymentConfig=deployment)
    recorded = sagemaker().describe_endpoint(EndpointName="e")["LastDeploymentConfig"]
    sagemaker().update_endpoint(EndpointName="e", EndpointConfigName="e", RetainDeploymentConfig=True)
    retained = sagemaker().describe_endpoint(EndpointName="e")["LastDeploymentConfig"]
    sagemaker().update_endpoint(EndpointName="e", EndpointConfigName="e")

    assert recorded == retained == deployment
    assert "LastDeploymentConfig" not in sagemaker().describe_endpoint(EndpointName="e")


@pytest.mark.parametrize(
    ("endpoint_name", "config", "message"),
    [
        ("e", "missing", "Could not find endpoint configuration"),
        ("missing", "e", "Could not find endpoint"),
    ],
)
def test_update_endpoint_validates_names(patched: None, endpoint_name: str, config: str, message: str) -> None:
    endpoint("e", {"ModelPackageName": package("1.0.0")})

    with pytest.raises(ClientError, match=message) as raised:
        sagemaker().update_endpoint(EndpointName=endpoint_name, EndpointConfigName=config)

    assert raised.value.response["Error"]["Code"] == "ValidationException"
    assert sagemaker().describe_endpoint(EndpointName="e")["EndpointConfigName"] == "e"


# ------------------------------------------------------------------------------ InvokeEndpoint
def test_any_json_request_gets_the_default_answer_without_a_responses_file(patched: None) -> None:
    endpoint("e", {"ModelPackageName": package("1.0.0")})

    assert invoke("e", {"text": "great"}) == DEFAULT
    assert invoke("e", [1, 2]) == DEFAULT


def test_the_version_answers_from_its_responses_file(patched: None) -> None:
    endpoint("e", {"ModelPackageName": package("1.0.0")})
    put(
        "models/sentiment/1.0.0/local/responses.json",
        json.dumps(
            {
                "default": {"label": "negative", "score": 0.2},
                "inputs": [
                    {"request": {"text": "great"}, "response": {"label": "positive", "score": 0.99}},
                    {"request": {"text": "crash"}, "response": {"error": "boom"}, "status": 503},
                ],
            }
        ),
    )

    assert invoke("e", {"text": "great"}) == {"label": "positive", "score": 0.99}
    assert invoke("e", {"text": "meh"}) == {"label": "negative", "score": 0.2}
    crashed = model_error("e", {"text": "crash"})
    assert (crashed["OriginalStatusCode"], json.loads(crashed["OriginalMessage"])) == (503, {"error": "boom"})


def test_an_invalid_responses_file_and_a_non_json_request_are_model_errors(patched: None) -> None:
    endpoint("broken", {"ModelPackageName": package("1.0.0")})
    put("models/sentiment/1.0.0/local/responses.json", '{"default": {}, "unexpected": 1}')

    invalid_file = model_error("broken", {"text": "great"})
    not_json = model_error("broken", b"not json")

    assert invalid_file["OriginalStatusCode"] == 500
    assert invalid_file["OriginalMessage"] == "local/responses.json is not a valid responses file"
    assert not_json["OriginalStatusCode"] == 400


def test_a_model_without_a_package_answers_from_the_folder_of_its_model_data(patched: None) -> None:
    put("models/sentiment/2.0.0/local/responses.json", json.dumps({"default": {"label": "neutral"}}))
    endpoint("e", {"Image": "x", "ModelDataUrl": f"s3://{BUCKET}/models/sentiment/2.0.0/model.tar.gz"})

    assert invoke("e", {"text": "great"}) == {"label": "neutral"}


def test_a_stage_account_endpoint_reads_the_governance_accounts_package(patched: None) -> None:
    arn = package("1.0.0")  # registered in moto's default (governance) account
    put("models/sentiment/1.0.0/local/responses.json", json.dumps({"default": {"label": "from-governance"}}))
    credentials = boto3.client("sts").assume_role(RoleArn=STAGE_ROLE, RoleSessionName="test")["Credentials"]
    stage = boto3.Session(
        aws_access_key_id=credentials["AccessKeyId"],
        aws_secret_access_key=credentials["SecretAccessKey"],
        aws_session_token=credentials["SessionToken"],
        region_name=REGION,
    )
    endpoint("e", {"ModelPackageName": arn}, client=stage.client("sagemaker"))

    assert invoke("e", {"text": "great"}, client=stage.client("sagemaker-runtime")) == {"label": "from-governance"}
    with pytest.raises(ClientError, match="Endpoint e of account 123456789012 not found") as raised:
        invoke("e", {"text": "great"})  # the governance account has no such endpoint
    assert raised.value.response["Error"]["Code"] == "ValidationError"


def test_restore_gives_moto_back_as_it_was(mocked_aws: None) -> None:
    patcher = Patcher()
    sagemaker_endpoints.install(patcher)
    patcher.restore()
    endpoint("e", {"ModelPackageName": package("1.0.0")})

    with pytest.raises(NotImplementedError):
        sagemaker().update_endpoint(EndpointName="e", EndpointConfigName="e")
    answer = runtime().invoke_endpoint(EndpointName="e", ContentType="application/json", Body=b"{}")
    assert answer["Body"].read() == b"body"


# ------------------------------------------------------------------------------ server mode (the local cloud)
@pytest.fixture
def server(monkeypatch: pytest.MonkeyPatch, tmp_path: Any) -> Iterator[str]:
    """moto in server mode, as the local cloud runs it, with the patches installed (not under mock_aws)."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    monkeypatch.chdir(tmp_path)
    moto_server = MotoServer(port=0)
    moto_server.start()
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto_server.endpoint_url)
    patcher = Patcher()
    sagemaker_endpoints.install(patcher)
    try:
        yield moto_server.endpoint_url
    finally:
        patcher.restore()
        moto_server.stop()


def test_the_realtime_target_deploys_updates_and_smoke_tests_through_the_local_cloud(server: str) -> None:
    stage = StageConfig.model_validate(
        {
            "stage": "preprod",
            "account_id": STAGE_ACCOUNT,
            "region": REGION,
            "role_arn": STAGE_ROLE,
            "target": "sagemaker-endpoint",
            "instance_type": "ml.m5.large",
            "instance_count": 1,
            "in_service_timeout": "PT30M",
            "smoke_test": {"max_latency_ms": 5000, "required_keys": ["label"]},
        }
    )
    first, second = package("1.0.0"), package("1.1.0")
    put("models/sentiment/1.1.0/local/responses.json", json.dumps({"default": {"label": "negative"}}))
    # Its own STS client: the adapters' cached default one may point at an earlier test's endpoint.
    sessions = StageSessions(sts=boto3.client("sts", endpoint_url=server))
    target = target_for(stage, sessions.session_for(stage))

    def deploy(version: str, arn: str) -> Any:
        return target.deploy(
            TargetDeploy(
                version_id=f"sentiment/{version}",
                model_package_arn=arn,
                stage=stage,
                execution_role_arn=f"arn:aws:iam::{STAGE_ACCOUNT}:role/fmops-model-execution",
                model_data_sha256="0" * 64,
            )
        )

    sample = SmokeSample(name="happy", request={"text": "great"})
    v1 = deploy("1.0.0", first)
    answered_v1 = json.loads(target.invoke(v1, sample).body)
    v2 = deploy("1.1.0", second)
    answered_v2 = json.loads(target.invoke(v2, sample).body)
    target.restore(v1)

    assert answered_v1 == DEFAULT
    assert answered_v2 == {"label": "negative"}
    assert target.status(v1).state is TargetState.IN_SERVICE
    assert target.current("sentiment") == v1
