"""Deployment stages as code: where each stage deploys, on what, and how it is checked.

A stages file (`deployments/stages.json`, UTF-8, at most 64 KiB) lists every stage, in order::

    {
      "schema_version": "1",
      "stages": [
        {"stage": "dev", "account_id": "111111111111", "region": "us-east-1",
         "role_arn": "arn:aws:iam::111111111111:role/fmops-deployer",
         "target": "sagemaker-serverless", "memory_mb": 2048, "max_concurrency": 5,
         "in_service_timeout": "PT15M",
         "smoke_test": {"max_latency_ms": 30000, "required_keys": ["label"]}},
        {"stage": "preprod", ...},
        {"stage": "prod", "target": "sagemaker-endpoint", "instance_type": "ml.m5.xlarge", "instance_count": 2,
         "blue_green": {"enabled": true, "alarms": ["fmops-prod-endpoint-errors"], "bake_minutes": 10}, ...}
      ]
    }

- `stages`: dev, preprod and prod, each exactly once and in that order (a version reaches a stage
  only through the ones before it). A stage missing from the file would either block every
  deployment or be skipped silently, and neither is a decision anyone made.
- `account_id` (12 digits), `region` (e.g. `us-east-1`) and `role_arn`: the role fmops assumes to
  deploy, an IAM role of that same account (in the partition of the region: `aws-cn` for `cn-*`,
  `aws-us-gov` for `us-gov-*`).
- `target`, and the keys each target takes (any other is an error, so a misplaced key never looks
  like a setting that is in force):
  - `sagemaker-endpoint`: `instance_type` (`ml.m5.large`), `instance_count` (1..20), optional
    `blue_green` (`enabled` true/false, `alarms`: up to 10 CloudWatch alarm names that roll the
    update back automatically, `bake_minutes` 0..60, default 10, how long the alarms are watched);
    `alarms` and `bake_minutes` only with `enabled: true`;
  - `sagemaker-serverless`: `memory_mb` (1024, 2048, ..., 6144) and `max_concurrency` (1..200);
  - both endpoint targets: `in_service_timeout` (ISO-8601 or seconds, PT5M..PT2H: how long to wait
    for InService before rolling back), `smoke_test` (`max_latency_ms` 1..60000 per sample
    request; `required_keys`: the keys every JSON object answered must hold, possibly none) and,
    optionally, `execution_role_arn`: the role SageMaker runs the model as, an IAM role of the
    stage's account like `role_arn` (default `arn:<partition>:iam::<account_id>:role/fmops-model-execution`,
    see `StageConfig.model_execution_role_arn`);
  - `registry-only` (prompt templates and adapters consumed by other systems): none of those, as
    there is no endpoint to size, wait for or invoke.

Unknown keys, duplicate keys and NaN/Infinity are errors; `parse_stages` reports every problem
with its JSON path (`$.stages[2].instance_count`). `endpoint_name` names a stage's endpoint.
`fmops deployments publish` puts the file in the policy bucket as `STAGES_KEY`.
"""

from __future__ import annotations

import hashlib
import re
from datetime import timedelta
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import AfterValidator, Field, field_validator, model_validator

from fmops.approvals._config import ConfigInvalid, ConfigProblem, Strict, parse, several
from fmops.approvals.rules import Duration, describe
from fmops.gate.policy import Stage
from fmops.manifest import GROUP_PATTERN

STAGES_SCHEMA_VERSION = "1"
STAGES_KEY = "deployments/stages.json"  # in the policy bucket
MAX_STAGES_BYTES = 64 * 1024
DEFAULT_MODEL_EXECUTION_ROLE = "fmops-model-execution"

MAX_INSTANCE_COUNT = 20
SERVERLESS_MEMORY_MB = (1024, 2048, 3072, 4096, 5120, 6144)
MAX_SERVERLESS_CONCURRENCY = 200
MIN_IN_SERVICE_TIMEOUT = timedelta(minutes=5)
MAX_IN_SERVICE_TIMEOUT = timedelta(hours=2)
MAX_ALARMS = 10
MAX_BAKE_MINUTES = 60
DEFAULT_BAKE_MINUTES = 10
MAX_LATENCY_MS = 60_000
MAX_REQUIRED_KEYS = 50
MAX_ENDPOINT_NAME = 63

ACCOUNT_ID_PATTERN = r"^\d{12}$"
REGION_PATTERN = r"^[a-z]{2}(-[a-z]+){1,2}-\d{1,2}$"
# Partition, account, then an IAM role name (1..64 of [\w+=,.@-]) under an optional path.
ROLE_ARN_PATTERN = r"^arn:(aws|aws-cn|aws-us-gov):iam::(\d{12}):role/(?:[\w+=,.@-]+/)*[\w+=,.@-]{1,64}$"
INSTANCE_TYPE_PATTERN = r"^ml\.[a-z0-9]+\.[a-z0-9]+$"
# CloudWatch alarm names: 1..255 characters, no control characters, no surrounding blanks.
ALARM_NAME_PATTERN = r"^[^\s\x00-\x1f\x7f](?:[^\x00-\x1f\x7f]{0,253}[^\s\x00-\x1f\x7f])?$"


class Target(StrEnum):
    """Where a stage puts a version (the deploy adapters implement one each)."""

    SAGEMAKER_ENDPOINT = "sagemaker-endpoint"  # real-time endpoint, the default for models
    SAGEMAKER_SERVERLESS = "sagemaker-serverless"
    REGISTRY_ONLY = "registry-only"  # no endpoint: the approved package is what consumers read


def _alarm_name(name: str) -> str:
    if not re.fullmatch(ALARM_NAME_PATTERN, name):
        raise ValueError(
            "not a CloudWatch alarm name: 1..255 characters, no control characters, no leading or trailing blanks"
        )
    return name


def _json_key(key: str) -> str:
    if not key.strip() or len(key) > 256:
        raise ValueError("a required key is a non-blank JSON object key of at most 256 characters")
    return key


AlarmName = Annotated[str, AfterValidator(_alarm_name)]
JsonKey = Annotated[str, AfterValidator(_json_key)]


def _listed_twice(values: list[str], what: str) -> list[ConfigProblem]:
    return [
        ConfigProblem(path=f"$[{index}]", message=f"{what} '{value}' is listed more than once")
        for index, value in enumerate(values)
        if value in values[:index]
    ]


class BlueGreen(Strict):
    """A blue/green update of a real-time endpoint, rolled back by SageMaker when an alarm fires."""

    # strict: pydantic would read "yes", "off" or 0 as a boolean; a stage must say true or false.
    enabled: bool = Field(strict=True)
    alarms: list[AlarmName] = Field(default_factory=list, max_length=MAX_ALARMS)
    bake_minutes: int = Field(
        default=DEFAULT_BAKE_MINUTES,
        strict=True,
        ge=0,
        le=MAX_BAKE_MINUTES,
        description="How long the alarms watch the new fleet before the old one is removed.",
    )

    @model_validator(mode="after")
    def _settings_need_it_enabled(self) -> BlueGreen:
        problems = [
            ConfigProblem(path="$.alarms" + p.path.removeprefix("$"), message=p.message)
            for p in _listed_twice(self.alarms, "alarm")
        ]
        if not self.enabled:
            problems += [
                ConfigProblem(
                    path=f"$.{key}",
                    message=f"'{key}' applies only to a blue/green update: set enabled to true or remove it",
                )
                for key in ("alarms", "bake_minutes")
                if key in self.model_fields_set
            ]
        if problems:
            raise several(problems)
        return self


class SmokeTest(Strict):
    """What every answer to the manifest's sample requests must satisfy (see `fmops.deployment.smoke`)."""

    max_latency_ms: int = Field(strict=True, ge=1, le=MAX_LATENCY_MS)
    required_keys: list[JsonKey] = Field(max_length=MAX_REQUIRED_KEYS)

    @field_validator("required_keys")
    @classmethod
    def _keys_named_once(cls, keys: list[str]) -> list[str]:
        duplicates = sorted({key for key in keys if keys.count(key) > 1})
        if duplicates:
            raise ValueError(f"keys listed more than once: {', '.join(duplicates)}")
        return keys


# The keys that depend on the target, in the order problems are reported; True: required.
_TARGET_KEYS: dict[Target, dict[str, bool]] = {
    Target.SAGEMAKER_ENDPOINT: {
        "execution_role_arn": False,
        "instance_type": True,
        "instance_count": True,
        "blue_green": False,
        "in_service_timeout": True,
        "smoke_test": True,
    },
    Target.SAGEMAKER_SERVERLESS: {
        "execution_role_arn": False,
        "memory_mb": True,
        "max_concurrency": True,
        "in_service_timeout": True,
        "smoke_test": True,
    },
    Target.REGISTRY_ONLY: {},
}
_TARGET_SPECIFIC = ("instance_type", "instance_count", "blue_green", "memory_mb", "max_concurrency")
_ENDPOINT_ONLY = ("execution_role_arn", "in_service_timeout", "smoke_test")
_ROLES = ("role_arn", "execution_role_arn")


def _partition(region: str) -> str:
    if region.startswith("cn-"):
        return "aws-cn"
    if region.startswith("us-gov-"):
        return "aws-us-gov"
    return "aws"


class StageConfig(Strict):
    """Where and how one stage deploys. Build it through `parse_stages` to get every problem with its path."""

    stage: Stage
    account_id: str
    region: str
    role_arn: str
    execution_role_arn: str | None = None
    target: Target
    instance_type: str | None = None
    instance_count: int | None = Field(default=None, strict=True, ge=1, le=MAX_INSTANCE_COUNT)
    blue_green: BlueGreen | None = None
    memory_mb: Literal[1024, 2048, 3072, 4096, 5120, 6144] | None = None
    max_concurrency: int | None = Field(default=None, strict=True, ge=1, le=MAX_SERVERLESS_CONCURRENCY)
    in_service_timeout: Duration | None = None
    smoke_test: SmokeTest | None = None

    @field_validator("account_id")
    @classmethod
    def _twelve_digits(cls, value: str) -> str:
        if not re.fullmatch(ACCOUNT_ID_PATTERN, value):
            raise ValueError(f"an AWS account id is 12 digits (as a string), got '{value}'")
        return value

    @field_validator("region")
    @classmethod
    def _aws_region(cls, value: str) -> str:
        if not re.fullmatch(REGION_PATTERN, value):
            raise ValueError(f"not an AWS region name such as 'us-east-1': '{value}'")
        return value

    @field_validator(*_ROLES)
    @classmethod
    def _iam_role(cls, value: str | None) -> str | None:
        if value is not None and not re.fullmatch(ROLE_ARN_PATTERN, value):
            raise ValueError(f"not an IAM role ARN (arn:aws:iam::<account id>:role/<name>): '{value}'")
        return value

    @field_validator("instance_type")
    @classmethod
    def _sagemaker_instance(cls, value: str | None) -> str | None:
        if value is not None and not re.fullmatch(INSTANCE_TYPE_PATTERN, value):
            raise ValueError(f"not a SageMaker instance type such as 'ml.m5.large': '{value}'")
        return value

    @model_validator(mode="after")
    def _fits_its_account_and_target(self) -> StageConfig:
        problems: list[ConfigProblem] = []
        for key in _ROLES:
            match = re.fullmatch(ROLE_ARN_PATTERN, getattr(self, key) or "")
            if match is None:
                continue
            partition, account = match.group(1), match.group(2)
            if account != self.account_id:
                problems.append(
                    ConfigProblem(
                        path=f"$.{key}",
                        message=f"the role is in account {account} but the stage deploys to account "
                        f"{self.account_id}: use a role of the stage's own account",
                    )
                )
            if partition != _partition(self.region):
                problems.append(
                    ConfigProblem(
                        path=f"$.{key}",
                        message=f"region {self.region} is in partition '{_partition(self.region)}', "
                        f"the role in '{partition}'",
                    )
                )
        expected = _TARGET_KEYS[self.target]
        for key in (*_TARGET_SPECIFIC, *_ENDPOINT_ONLY):
            given = key in self.model_fields_set
            if key not in expected and given:
                problems.append(
                    ConfigProblem(path=f"$.{key}", message=f"'{key}' does not apply to target {self.target.value}")
                )
            elif expected.get(key) and not given:
                problems.append(ConfigProblem(path=f"$.{key}", message=f"required for target {self.target.value}"))
        timeout = self.in_service_timeout
        if timeout is not None and not MIN_IN_SERVICE_TIMEOUT <= timeout <= MAX_IN_SERVICE_TIMEOUT:
            problems.append(
                ConfigProblem(
                    path="$.in_service_timeout",
                    message=f"must lie between {describe(MIN_IN_SERVICE_TIMEOUT)} and "
                    f"{describe(MAX_IN_SERVICE_TIMEOUT)}, got {describe(timeout)}",
                )
            )
        if problems:
            raise several(problems)
        return self

    @property
    def has_endpoint(self) -> bool:
        """False for registry-only: nothing to wait for, nothing to smoke-test."""
        return self.target is not Target.REGISTRY_ONLY

    @property
    def model_execution_role_arn(self) -> str:
        """The role SageMaker runs the model as: `execution_role_arn`, else the stage account's
        `fmops-model-execution` role (a registry-only stage runs no model and never uses it)."""
        if self.execution_role_arn is not None:
            return self.execution_role_arn
        return f"arn:{_partition(self.region)}:iam::{self.account_id}:role/{DEFAULT_MODEL_EXECUTION_ROLE}"


class DeploymentStages(Strict):
    """A validated stages file. Build it with `parse_stages` to get every problem with its path."""

    schema_version: Literal["1"]
    stages: list[StageConfig]

    @model_validator(mode="after")
    def _every_stage_once_in_order(self) -> DeploymentStages:
        problems: list[ConfigProblem] = []
        first: list[Stage] = []
        for index, config in enumerate(self.stages):
            if config.stage in first:
                problems.append(
                    ConfigProblem(
                        path=f"$.stages[{index}].stage",
                        message=f"'{config.stage.value}' is listed more than once",
                    )
                )
            else:
                first.append(config.stage)
        order = list(Stage)
        if first != sorted(first, key=order.index):
            problems.append(
                ConfigProblem(
                    path="$.stages",
                    message=f"stages run in the order {', '.join(order)}; got {', '.join(first)}",
                )
            )
        problems += [
            ConfigProblem(path="$.stages", message=f"stage '{stage.value}' is missing: every stage needs its settings")
            for stage in order
            if stage not in first
        ]
        if problems:
            raise several(problems)
        return self

    def stage(self, stage: Stage) -> StageConfig:
        return next(config for config in self.stages if config.stage is stage)

    def next_stage(self, stage: Stage) -> Stage | None:
        """The stage a version goes to after `stage`; None after prod."""
        order = [config.stage for config in self.stages]
        index = order.index(stage) + 1
        return order[index] if index < len(order) else None


class DeploymentStagesInvalid(ConfigInvalid):
    """A deployment stages file that cannot be used; `problems` lists every reason, each with its path."""

    what = "deployment stages"


def parse_stages(raw: bytes) -> DeploymentStages:
    """Parse and validate a deployment stages file, raising `DeploymentStagesInvalid` with every problem."""
    return parse(raw, DeploymentStages, MAX_STAGES_BYTES, DeploymentStagesInvalid)


def endpoint_name(model_group: str, stage: Stage) -> str:
    """The SageMaker endpoint serving `model_group` in `stage`: `fmops-<group>-<stage>`.

    At most 63 characters of [a-z0-9-]. SageMaker compares endpoint names without regard to case,
    so the name is lower-case; a group that has upper-case letters or is too long to fit gets
    8 hex digits of its sha256 before the stage (`fmops-<group, cut>-<hash>-<stage>`), so two
    groups never share an endpoint. Deterministic: the same group and stage always give the same name.
    """
    if not re.fullmatch(GROUP_PATTERN, model_group):
        raise ValueError(f"not a model group name: {model_group!r}")
    plain = f"fmops-{model_group}-{stage.value}"
    if plain == plain.lower() and len(plain) <= MAX_ENDPOINT_NAME:
        return plain
    digest = hashlib.sha256(model_group.encode()).hexdigest()[:8]
    room = MAX_ENDPOINT_NAME - len(f"fmops--{digest}-{stage.value}")
    # The group starts with a letter or digit, so the cut is never empty; a trailing '-' would double up.
    head = model_group[:room].lower().rstrip("-")
    return f"fmops-{head}-{digest}-{stage.value}"
