import copy
import json
import re
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from fmops.deployment.config import (
    MAX_ENDPOINT_NAME,
    MAX_STAGES_BYTES,
    STAGES_KEY,
    DeploymentStagesInvalid,
    Target,
    endpoint_name,
    parse_stages,
)
from fmops.errors import FmopsError
from fmops.gate.policy import Stage

STAGES_FILE = Path(__file__).resolve().parents[3] / "deployments" / "stages.json"
SMOKE = {"max_latency_ms": 2000, "required_keys": ["label"]}


def stage(name: str, account: str, **overrides: Any) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "stage": name,
        "account_id": account,
        "region": "eu-west-1",
        "role_arn": f"arn:aws:iam::{account}:role/fmops-deployer",
        "target": "sagemaker-endpoint",
        "instance_type": "ml.m5.large",
        "instance_count": 1,
        "in_service_timeout": "PT20M",
        "smoke_test": copy.deepcopy(SMOKE),
    }
    entry.update(overrides)
    return {key: value for key, value in entry.items() if value is not None}


def stages_document(**overrides: dict[str, Any]) -> dict[str, Any]:
    """Three real-time endpoint stages; `prod={...}` replaces keys of that stage (None removes one)."""
    accounts = {"dev": "111111111111", "preprod": "222222222222", "prod": "333333333333"}
    return {
        "schema_version": "1",
        "stages": [stage(name, account, **overrides.get(name, {})) for name, account in accounts.items()],
    }


def encode(document: dict[str, Any]) -> bytes:
    return json.dumps(document).encode()


def with_prod(**overrides: Any) -> bytes:
    return encode(stages_document(prod=overrides))


def serverless(**overrides: Any) -> bytes:
    keys: dict[str, Any] = {
        "target": "sagemaker-serverless",
        "instance_type": None,
        "instance_count": None,
        "memory_mb": 2048,
        "max_concurrency": 5,
    }
    return with_prod(**{**keys, **overrides})


def registry_only(**overrides: Any) -> bytes:
    keys: dict[str, Any] = {
        "target": "registry-only",
        "instance_type": None,
        "instance_count": None,
        "in_service_timeout": None,
        "smoke_test": None,
    }
    return with_prod(**{**keys, **overrides})


def problems_of(raw: bytes) -> list[tuple[str, str]]:
    with pytest.raises(DeploymentStagesInvalid) as caught:
        parse_stages(raw)
    return [(problem.path, problem.message) for problem in caught.value.problems]


# ------------------------------------------------------------------------------ valid stages


def test_the_shipped_stages_parse_and_match_their_intent() -> None:
    # Given the example stages shipped in deployments/
    raw = STAGES_FILE.read_bytes()

    # When they are parsed
    stages = parse_stages(raw)

    # Then dev, preprod and prod follow each other, each in its own account, with its own deployer role
    dev, preprod, prod = (stages.stage(name) for name in Stage)
    assert [config.stage for config in stages.stages] == list(Stage)
    assert [c.account_id for c in (dev, preprod, prod)] == ["111111111111", "222222222222", "333333333333"]
    assert all(c.region == "us-east-1" for c in (dev, preprod, prod))
    assert all(c.role_arn == f"arn:aws:iam::{c.account_id}:role/fmops-deployer" for c in (dev, preprod, prod))
    # And dev is serverless, preprod one ml.m5.large, prod two ml.m5.xlarge updated blue/green under an alarm
    assert dev.target is Target.SAGEMAKER_SERVERLESS and dev.memory_mb is not None and dev.instance_type is None
    assert (preprod.target, preprod.instance_type, preprod.instance_count) == (
        Target.SAGEMAKER_ENDPOINT,
        "ml.m5.large",
        1,
    )
    assert (prod.target, prod.instance_type, prod.instance_count) == (Target.SAGEMAKER_ENDPOINT, "ml.m5.xlarge", 2)
    assert prod.blue_green is not None and prod.blue_green.enabled and len(prod.blue_green.alarms) == 1
    assert preprod.blue_green is None
    # And every stage waits a bounded time for its endpoint and smoke-tests it
    assert all(c.has_endpoint and c.in_service_timeout and c.smoke_test for c in (dev, preprod, prod))
    # And runs the model as its own account's fmops-model-execution role
    assert all(
        c.model_execution_role_arn == f"arn:aws:iam::{c.account_id}:role/fmops-model-execution"
        for c in (dev, preprod, prod)
    )


def test_the_stages_file_is_published_where_its_path_says() -> None:
    assert STAGES_KEY == "deployments/stages.json" and STAGES_FILE.as_posix().endswith("/" + STAGES_KEY)


def test_stages_follow_each_other_and_prod_is_last() -> None:
    stages = parse_stages(encode(stages_document()))

    assert stages.next_stage(Stage.DEV) is Stage.PREPROD
    assert stages.next_stage(Stage.PREPROD) is Stage.PROD
    assert stages.next_stage(Stage.PROD) is None


def test_each_target_takes_its_own_keys() -> None:
    # Given a serverless prod, then a registry-only prod
    serverless_prod = parse_stages(serverless(memory_mb=6144, max_concurrency=200)).stage(Stage.PROD)
    registry_prod = parse_stages(registry_only()).stage(Stage.PROD)

    # Then the serverless stage has memory and concurrency and no instances
    assert (serverless_prod.memory_mb, serverless_prod.max_concurrency) == (6144, 200)
    assert serverless_prod.instance_type is None and serverless_prod.instance_count is None
    # And the registry-only stage has no endpoint to size, wait for or smoke-test
    assert not registry_prod.has_endpoint
    assert registry_prod.in_service_timeout is None and registry_prod.smoke_test is None


def test_blue_green_defaults_to_no_alarms_and_a_ten_minute_bake() -> None:
    config = parse_stages(with_prod(blue_green={"enabled": True})).stage(Stage.PROD)

    assert config.blue_green is not None
    assert (config.blue_green.alarms, config.blue_green.bake_minutes) == ([], 10)


@pytest.mark.parametrize(
    ("value", "expected"), [("PT5M", timedelta(minutes=5)), ("PT2H", timedelta(hours=2)), (900, timedelta(minutes=15))]
)
def test_in_service_timeout_bounds_are_inclusive(value: Any, expected: timedelta) -> None:
    assert parse_stages(with_prod(in_service_timeout=value)).stage(Stage.PROD).in_service_timeout == expected


def test_a_role_with_a_path_in_another_partition_fits_its_region() -> None:
    raw = with_prod(region="cn-north-1", role_arn="arn:aws-cn:iam::333333333333:role/deploy/fmops-deployer")

    assert parse_stages(raw).stage(Stage.PROD).region == "cn-north-1"


@pytest.mark.parametrize("raw", [with_prod(), serverless()], ids=["endpoint", "serverless"])
def test_an_endpoint_stage_may_name_the_role_its_model_runs_as(raw: bytes) -> None:
    # Given a prod endpoint stage that names its model's execution role
    role = "arn:aws:iam::333333333333:role/models/sentiment-runtime"
    document = json.loads(raw)
    document["stages"][2]["execution_role_arn"] = role

    # When it is parsed
    stages = parse_stages(encode(document))

    # Then the model runs as that role, and the stages that name none run as their account's default
    assert stages.stage(Stage.PROD).execution_role_arn == role
    assert stages.stage(Stage.PROD).model_execution_role_arn == role
    dev = stages.stage(Stage.DEV)
    assert dev.execution_role_arn is None
    assert dev.model_execution_role_arn == "arn:aws:iam::111111111111:role/fmops-model-execution"


def test_the_default_execution_role_is_in_the_partition_of_the_region() -> None:
    raw = with_prod(region="us-gov-west-1", role_arn="arn:aws-us-gov:iam::333333333333:role/fmops-deployer")

    config = parse_stages(raw).stage(Stage.PROD)

    assert config.model_execution_role_arn == "arn:aws-us-gov:iam::333333333333:role/fmops-model-execution"


# ------------------------------------------------------------------------------ invalid stages


@pytest.mark.parametrize(
    ("raw", "path", "message"),
    [
        pytest.param(with_prod(colour="blue"), "$.stages[2].colour", "unknown key 'colour'", id="unknown-key"),
        pytest.param(
            with_prod(account_id="33333333333"),
            "$.stages[2].account_id",
            "an AWS account id is 12 digits (as a string), got '33333333333'",
            id="account-11-digits",
        ),
        pytest.param(
            with_prod(account_id=333333333333), "$.stages[2].account_id", "valid string", id="account-as-number"
        ),
        pytest.param(
            with_prod(region="US-EAST-1"),
            "$.stages[2].region",
            "not an AWS region name such as 'us-east-1': 'US-EAST-1'",
            id="region",
        ),
        pytest.param(
            with_prod(role_arn="arn:aws:iam::333333333333:user/deployer"),
            "$.stages[2].role_arn",
            "not an IAM role ARN",
            id="role-arn-not-a-role",
        ),
        pytest.param(
            with_prod(role_arn="arn:aws:iam::222222222222:role/fmops-deployer"),
            "$.stages[2].role_arn",
            "the role is in account 222222222222 but the stage deploys to account 333333333333",
            id="role-of-another-account",
        ),
        pytest.param(
            with_prod(role_arn="arn:aws-cn:iam::333333333333:role/fmops-deployer"),
            "$.stages[2].role_arn",
            "region eu-west-1 is in partition 'aws', the role in 'aws-cn'",
            id="role-of-another-partition",
        ),
        pytest.param(
            with_prod(execution_role_arn="arn:aws:iam::333333333333:user/model"),
            "$.stages[2].execution_role_arn",
            "not an IAM role ARN",
            id="execution-role-not-a-role",
        ),
        pytest.param(
            with_prod(execution_role_arn=""),
            "$.stages[2].execution_role_arn",
            "not an IAM role ARN",
            id="execution-role-empty",
        ),
        pytest.param(
            with_prod(execution_role_arn="arn:aws:iam::111111111111:role/fmops-model-execution"),
            "$.stages[2].execution_role_arn",
            "the role is in account 111111111111 but the stage deploys to account 333333333333",
            id="execution-role-of-another-account",
        ),
        pytest.param(
            with_prod(execution_role_arn="arn:aws-cn:iam::333333333333:role/fmops-model-execution"),
            "$.stages[2].execution_role_arn",
            "region eu-west-1 is in partition 'aws', the role in 'aws-cn'",
            id="execution-role-of-another-partition",
        ),
        pytest.param(
            registry_only(execution_role_arn="arn:aws:iam::333333333333:role/fmops-model-execution"),
            "$.stages[2].execution_role_arn",
            "'execution_role_arn' does not apply to target registry-only",
            id="registry-only-with-execution-role",
        ),
        pytest.param(
            with_prod(target="lambda"),
            "$.stages[2].target",
            "unknown value \"lambda\": expected 'sagemaker-endpoint', 'sagemaker-serverless' or 'registry-only'",
            id="unknown-target",
        ),
        pytest.param(
            with_prod(instance_type="m5.large"),
            "$.stages[2].instance_type",
            "not a SageMaker instance type such as 'ml.m5.large': 'm5.large'",
            id="instance-type",
        ),
        pytest.param(
            with_prod(instance_count=0), "$.stages[2].instance_count", "must be >= 1, got 0", id="no-instances"
        ),
        pytest.param(
            with_prod(instance_count=21), "$.stages[2].instance_count", "must be <= 20, got 21", id="too-many-instances"
        ),
        pytest.param(
            with_prod(instance_count="2"), "$.stages[2].instance_count", "valid integer", id="instance-count-string"
        ),
        pytest.param(
            with_prod(instance_type=None),
            "$.stages[2].instance_type",
            "required for target sagemaker-endpoint",
            id="endpoint-without-instance-type",
        ),
        pytest.param(
            with_prod(instance_count=None),
            "$.stages[2].instance_count",
            "required for target sagemaker-endpoint",
            id="endpoint-without-instance-count",
        ),
        pytest.param(
            with_prod(memory_mb=2048),
            "$.stages[2].memory_mb",
            "'memory_mb' does not apply to target sagemaker-endpoint",
            id="endpoint-with-memory",
        ),
        pytest.param(
            with_prod(blue_green={"enabled": "yes"}),
            "$.stages[2].blue_green.enabled",
            "valid boolean",
            id="blue-green-enabled-not-boolean",
        ),
        pytest.param(
            with_prod(blue_green={"alarms": []}),
            "$.stages[2].blue_green.enabled",
            "required key is missing",
            id="blue-green-without-enabled",
        ),
        pytest.param(
            with_prod(blue_green={"enabled": True, "alarms": [f"alarm-{n}" for n in range(11)]}),
            "$.stages[2].blue_green.alarms",
            "at most 10 items",
            id="too-many-alarms",
        ),
        pytest.param(
            with_prod(blue_green={"enabled": True, "alarms": [" errors"]}),
            "$.stages[2].blue_green.alarms[0]",
            "not a CloudWatch alarm name",
            id="alarm-name-blank-start",
        ),
        pytest.param(
            with_prod(blue_green={"enabled": True, "alarms": ["x" * 256]}),
            "$.stages[2].blue_green.alarms[0]",
            "not a CloudWatch alarm name",
            id="alarm-name-too-long",
        ),
        pytest.param(
            with_prod(blue_green={"enabled": True, "alarms": ["errors", "latency", "errors"]}),
            "$.stages[2].blue_green.alarms[2]",
            "alarm 'errors' is listed more than once",
            id="alarm-twice",
        ),
        pytest.param(
            with_prod(blue_green={"enabled": True, "bake_minutes": 61}),
            "$.stages[2].blue_green.bake_minutes",
            "must be <= 60, got 61",
            id="bake-too-long",
        ),
        pytest.param(
            with_prod(blue_green={"enabled": True, "bake_minutes": -1}),
            "$.stages[2].blue_green.bake_minutes",
            "must be >= 0, got -1",
            id="bake-negative",
        ),
        pytest.param(
            with_prod(blue_green={"enabled": False, "alarms": ["errors"]}),
            "$.stages[2].blue_green.alarms",
            "'alarms' applies only to a blue/green update: set enabled to true or remove it",
            id="alarms-while-disabled",
        ),
        pytest.param(
            with_prod(blue_green={"enabled": False, "bake_minutes": 5}),
            "$.stages[2].blue_green.bake_minutes",
            "'bake_minutes' applies only to a blue/green update",
            id="bake-while-disabled",
        ),
        pytest.param(
            serverless(memory_mb=3000),
            "$.stages[2].memory_mb",
            "unknown value 3000: expected 1024, 2048, 3072, 4096, 5120 or 6144",
            id="serverless-memory-off-step",
        ),
        pytest.param(
            serverless(memory_mb=7168), "$.stages[2].memory_mb", "unknown value 7168", id="serverless-memory-too-large"
        ),
        pytest.param(
            serverless(max_concurrency=0), "$.stages[2].max_concurrency", "must be >= 1, got 0", id="concurrency-zero"
        ),
        pytest.param(
            serverless(max_concurrency=201),
            "$.stages[2].max_concurrency",
            "must be <= 200, got 201",
            id="concurrency-too-high",
        ),
        pytest.param(
            serverless(memory_mb=None),
            "$.stages[2].memory_mb",
            "required for target sagemaker-serverless",
            id="serverless-without-memory",
        ),
        pytest.param(
            serverless(max_concurrency=None),
            "$.stages[2].max_concurrency",
            "required for target sagemaker-serverless",
            id="serverless-without-concurrency",
        ),
        pytest.param(
            serverless(instance_count=1),
            "$.stages[2].instance_count",
            "'instance_count' does not apply to target sagemaker-serverless",
            id="serverless-with-instances",
        ),
        pytest.param(
            serverless(blue_green={"enabled": True}),
            "$.stages[2].blue_green",
            "'blue_green' does not apply to target sagemaker-serverless",
            id="serverless-blue-green",
        ),
        pytest.param(
            registry_only(instance_type="ml.m5.large"),
            "$.stages[2].instance_type",
            "'instance_type' does not apply to target registry-only",
            id="registry-only-with-instance-type",
        ),
        pytest.param(
            registry_only(max_concurrency=3),
            "$.stages[2].max_concurrency",
            "'max_concurrency' does not apply to target registry-only",
            id="registry-only-with-concurrency",
        ),
        pytest.param(
            registry_only(smoke_test=SMOKE),
            "$.stages[2].smoke_test",
            "'smoke_test' does not apply to target registry-only",
            id="registry-only-with-smoke-test",
        ),
        pytest.param(
            registry_only(in_service_timeout="PT10M"),
            "$.stages[2].in_service_timeout",
            "'in_service_timeout' does not apply to target registry-only",
            id="registry-only-with-timeout",
        ),
        pytest.param(
            with_prod(in_service_timeout=None),
            "$.stages[2].in_service_timeout",
            "required for target sagemaker-endpoint",
            id="endpoint-without-timeout",
        ),
        pytest.param(
            with_prod(in_service_timeout="PT4M59S"),
            "$.stages[2].in_service_timeout",
            "must lie between 5m and 2h, got 4m 59s",
            id="timeout-too-short",
        ),
        pytest.param(
            with_prod(in_service_timeout="PT2H1S"),
            "$.stages[2].in_service_timeout",
            "must lie between 5m and 2h, got 2h 1s",
            id="timeout-too-long",
        ),
        pytest.param(
            with_prod(in_service_timeout="P1M"), "$.stages[2].in_service_timeout", "is not a duration", id="months"
        ),
        pytest.param(
            with_prod(smoke_test=None),
            "$.stages[2].smoke_test",
            "required for target sagemaker-endpoint",
            id="endpoint-without-smoke-test",
        ),
        pytest.param(
            with_prod(smoke_test={"max_latency_ms": 0, "required_keys": []}),
            "$.stages[2].smoke_test.max_latency_ms",
            "must be >= 1, got 0",
            id="latency-zero",
        ),
        pytest.param(
            with_prod(smoke_test={"max_latency_ms": 60001, "required_keys": []}),
            "$.stages[2].smoke_test.max_latency_ms",
            "must be <= 60000, got 60001",
            id="latency-too-long",
        ),
        pytest.param(
            with_prod(smoke_test={"max_latency_ms": 100}),
            "$.stages[2].smoke_test.required_keys",
            "required key is missing",
            id="smoke-without-keys",
        ),
        pytest.param(
            with_prod(smoke_test={"max_latency_ms": 100, "required_keys": ["label", " "]}),
            "$.stages[2].smoke_test.required_keys[1]",
            "a required key is a non-blank JSON object key",
            id="blank-key",
        ),
        pytest.param(
            with_prod(smoke_test={"max_latency_ms": 100, "required_keys": ["label", "label"]}),
            "$.stages[2].smoke_test.required_keys",
            "keys listed more than once: label",
            id="key-twice",
        ),
        pytest.param(
            with_prod(smoke_test={"max_latency_ms": 100, "required_keys": [], "body": {}}),
            "$.stages[2].smoke_test.body",
            "unknown key 'body'",
            id="unknown-smoke-key",
        ),
        pytest.param(
            with_prod(stage="qa"),
            "$.stages[2].stage",
            "unknown value \"qa\": expected 'dev', 'preprod' or 'prod'",
            id="unknown-stage",
        ),
        pytest.param(
            encode({**stages_document(), "schema_version": "2"}),
            "$.schema_version",
            "unknown value \"2\": expected '1'",
            id="schema-version",
        ),
        pytest.param(
            encode({"schema_version": "1", "stages": stages_document()["stages"][:2]}),
            "$.stages",
            "stage 'prod' is missing: every stage needs its settings",
            id="stage-missing",
        ),
        pytest.param(
            encode({"schema_version": "1", "stages": []}),
            "$.stages",
            "stage 'dev' is missing",
            id="no-stages",
        ),
        pytest.param(
            encode({"schema_version": "1", "stages": [*stages_document()["stages"], stage("prod", "444444444444")]}),
            "$.stages[3].stage",
            "'prod' is listed more than once",
            id="stage-twice",
        ),
        pytest.param(
            encode({"schema_version": "1", "stages": list(reversed(stages_document()["stages"]))}),
            "$.stages",
            "stages run in the order dev, preprod, prod; got prod, preprod, dev",
            id="stages-out-of-order",
        ),
        pytest.param(encode({"schema_version": "1"}), "$.stages", "required key is missing", id="stages-key-missing"),
        pytest.param(
            b'{"schema_version": "1", "schema_version": "1", "stages": []}',
            "$.schema_version",
            "'schema_version' appears more than once in this object",
            id="duplicate-key",
        ),
        pytest.param(b"[]", "$", "the file must hold a JSON object", id="not-an-object"),
        pytest.param(b"{", "$", "file is not valid JSON", id="not-json"),
        pytest.param(b'{"stages": [{"instance_count": Infinity}]}', "$", "Infinity is not a number", id="infinity"),
        pytest.param(b"\xff\xfe", "$", "file is not UTF-8", id="not-utf8"),
    ],
)
def test_each_problem_is_reported_at_its_path(raw: bytes, path: str, message: str) -> None:
    # When an invalid stages file is parsed
    problems = problems_of(raw)

    # Then the problem names the offending value's path
    assert any(p == path and message in m for p, m in problems), problems


def test_every_problem_is_reported_at_once() -> None:
    # Given a file with problems in two stages
    document = stages_document(dev={"instance_count": 0, "region": "mars"}, prod={"target": "registry-only"})

    # When it is parsed
    problems = problems_of(encode(document))

    # Then each problem is listed with its own path, not just the first
    assert [path for path, _ in problems] == [
        "$.stages[0].region",
        "$.stages[0].instance_count",
        "$.stages[2].instance_type",
        "$.stages[2].instance_count",
        "$.stages[2].in_service_timeout",
        "$.stages[2].smoke_test",
    ]


def test_account_and_target_problems_are_all_reported_once_the_shape_is_valid() -> None:
    # Given a well-formed serverless stage with a foreign role, instances and a short wait
    raw = serverless(
        role_arn="arn:aws:iam::111111111111:role/fmops-deployer", instance_type="ml.m5.large", in_service_timeout=60
    )

    # When it is parsed
    paths = [path for path, _ in problems_of(raw)]

    # Then each of its problems has its own path
    assert paths == ["$.stages[2].role_arn", "$.stages[2].instance_type", "$.stages[2].in_service_timeout"]


def test_an_oversized_file_is_refused_before_parsing() -> None:
    raw = json.dumps({"padding": " " * MAX_STAGES_BYTES}).encode()

    assert problems_of(raw) == [("$", f"file exceeds {MAX_STAGES_BYTES} bytes")]


def test_the_error_is_a_typed_domain_error_listing_every_problem() -> None:
    with pytest.raises(DeploymentStagesInvalid) as caught:
        parse_stages(with_prod(instance_count=0, target="sagemaker-endpoint", colour="blue"))

    assert isinstance(caught.value, FmopsError)
    assert str(caught.value).startswith("invalid deployment stages (2 problems):")
    assert "$.stages[2].instance_count: must be >= 1, got 0" in str(caught.value)


# ------------------------------------------------------------------------------ endpoint names

ENDPOINT_NAME = re.compile(r"^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}$")


def test_an_endpoint_is_named_after_its_group_and_stage() -> None:
    assert endpoint_name("sentiment", Stage.PROD) == "fmops-sentiment-prod"
    assert endpoint_name("support-assistant", Stage.PREPROD) == "fmops-support-assistant-preprod"


@pytest.mark.parametrize(
    "group",
    [
        "a" * 63,
        "b" * 40 + "-" * 5 + "c" * 18,  # the cut lands inside a run of hyphens
        "Sentiment",
        "x" * 42,
    ],
)
@pytest.mark.parametrize("stage", list(Stage))
def test_every_endpoint_name_is_valid_and_deterministic(group: str, stage: Stage) -> None:
    # When a group's endpoint is named twice
    name = endpoint_name(group, stage)

    # Then the name is a valid SageMaker endpoint name, lower-case, ends with the stage, and never changes
    assert ENDPOINT_NAME.fullmatch(name) and len(name) <= MAX_ENDPOINT_NAME
    assert name == name.lower() and name.startswith("fmops-") and name.endswith(f"-{stage.value}")
    assert endpoint_name(group, stage) == name


def test_groups_that_would_share_a_name_get_distinct_endpoints() -> None:
    # Given groups equal once lower-cased, and long groups equal in their first 40 characters
    common = "g" * 45

    # Then their endpoints differ
    assert endpoint_name("Sentiment", Stage.PROD) != endpoint_name("sentiment", Stage.PROD)
    assert endpoint_name(common + "-one", Stage.PROD) != endpoint_name(common + "-two", Stage.PROD)
    # And a name needing no shortening keeps the plain form
    assert endpoint_name("sentiment", Stage.PROD) == "fmops-sentiment-prod"


def test_a_long_group_is_cut_with_a_hash_and_no_dangling_hyphen() -> None:
    # Given a 63-character group whose cut for prod (43 characters) falls inside a run of hyphens
    group = "b" * 40 + "-" * 5 + "c" * 18

    # When its prod endpoint is named
    name = endpoint_name(group, Stage.PROD)

    # Then the cut drops the hyphens and 8 hex digits of the group's sha256 keep it unique
    assert re.fullmatch(r"fmops-b{40}-[0-9a-f]{8}-prod", name), name


def test_a_name_that_is_not_a_model_group_has_no_endpoint() -> None:
    with pytest.raises(ValueError, match="not a model group name"):
        endpoint_name("../prod", Stage.PROD)
