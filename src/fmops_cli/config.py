"""Where the CLI finds the control plane's resources and how it talks to AWS.

A resource name (bucket, table) comes, in this order, from its flag, from the
Outputs of a deployed stack (`--stack`), or from the local cloud's
`.fmops/local/outputs.json` (found in the current folder or a parent). When the
local cloud's outputs are used, so is its endpoint (`AwsEndpointUrl`) and its
region; otherwise boto3's standard configuration applies (AWS_PROFILE,
AWS_REGION, AWS_ENDPOINT_URL, ~/.aws/config), overridable with --profile,
--region and --endpoint-url.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
from botocore.config import Config

from fmops_cli.errors import CliError, InputError

LOCAL_OUTPUTS = Path(".fmops") / "local" / "outputs.json"
ENDPOINT_OUTPUT = "AwsEndpointUrl"
REGION_OUTPUT = "AwsRegion"
TEMPLATE_FILE = "template.yaml"

# Output key -> the flag that names the same resource explicitly.
FLAGS_BY_OUTPUT = {
    "ArtifactBucketName": "--bucket",
    "CatalogTableName": "--catalog-table",
    "AuditTableName": "--audit-table",
    "AnchorBucketName": "--anchor-bucket",
    "PolicyBucketName": "--policy-bucket",
    "DeploymentsTableName": "--deployments-table",
    "DeploymentStateMachineArn": "--state-machine",
}

# The local cloud accepts any credentials; these are used only when none are configured.
_LOCAL_KEY = "fmops-local"
_DEFAULT_LOCAL_REGION = "us-east-1"
_AWS_CONFIG = Config(retries={"max_attempts": 5, "mode": "standard"}, user_agent_extra="fmops-cli")
# The local cloud is on this machine: a refused connection means it is not running, so fail fast.
_LOCAL_CONFIG = Config(retries={"max_attempts": 2, "mode": "standard"}, connect_timeout=5, user_agent_extra="fmops-cli")


@dataclass(frozen=True)
class Connection:
    """A boto3 session and the endpoint every client of this command uses (None: boto3's default)."""

    session: boto3.Session
    endpoint_url: str | None = None
    local: bool = False  # the local cloud: fail fast instead of retrying like against AWS

    def client(self, service: str) -> Any:
        config = _LOCAL_CONFIG if self.local else _AWS_CONFIG
        return self.session.client(service, endpoint_url=self.endpoint_url, config=config)  # type: ignore[call-overload]


@dataclass(frozen=True)
class LocalOutputs:
    """The Outputs of the stack the local cloud deployed, as it wrote them to outputs.json."""

    path: Path
    values: Mapping[str, str]

    @property
    def endpoint_url(self) -> str | None:
        return self.values.get(ENDPOINT_OUTPUT) or None

    @property
    def region(self) -> str | None:
        """The region the local cloud deployed into: stated, or read from any ARN among the outputs."""
        if self.values.get(REGION_OUTPUT):
            return self.values[REGION_OUTPUT]
        for value in self.values.values():
            parts = value.split(":")
            if value.startswith("arn:") and len(parts) > 4 and parts[3]:
                return parts[3]
        return None


@dataclass(frozen=True)
class Resolved:
    names: dict[str, str]
    connection: Connection
    local: LocalOutputs | None = None

    def __getitem__(self, output_key: str) -> str:
        return self.names[output_key]

    def get(self, output_key: str) -> str | None:
        return self.names.get(output_key)


def load_outputs(path: Path) -> LocalOutputs:
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise CliError(f"cannot read {path}: {error}", hint="restart the local cloud: fmops local up") from error
    if not isinstance(document, dict):
        raise CliError(f"{path} is not a JSON object of stack outputs", hint="restart the local cloud: fmops local up")
    return LocalOutputs(path=path, values={str(key): str(value) for key, value in document.items()})


def find_local_outputs(start: Path | None = None) -> LocalOutputs | None:
    """The local cloud's outputs.json in `start` (default: the current folder) or the nearest parent holding one."""
    here = (start or Path.cwd()).resolve()
    for directory in (here, *here.parents):
        candidate = directory / LOCAL_OUTPUTS
        if candidate.is_file():
            return load_outputs(candidate)
    return None


def find_project_root(start: Path | None = None) -> Path | None:
    """The nearest folder, from `start` upwards, that holds the fmops template.yaml."""
    here = (start or Path.cwd()).resolve()
    for directory in (here, *here.parents):
        if (directory / TEMPLATE_FILE).is_file():
            return directory
    return None


def aws_session(profile: str | None, region: str | None) -> boto3.Session:
    return boto3.Session(profile_name=profile, region_name=region)


def stack_outputs(connection: Connection, stack_name: str) -> dict[str, str]:
    from botocore.exceptions import ClientError

    try:
        stacks = connection.client("cloudformation").describe_stacks(StackName=stack_name)["Stacks"]
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") == "ValidationError":
            region = connection.session.region_name or "the default region"
            raise CliError(
                f"stack {stack_name!r} was not found in {region}",
                hint="check --stack, --region and --profile (the stack is the one `sam deploy` created)",
            ) from error
        raise
    return {output["OutputKey"]: output["OutputValue"] for output in stacks[0].get("Outputs", [])}


def resolve(
    *,
    wanted: Mapping[str, str | None],
    stack: str | None = None,
    profile: str | None = None,
    region: str | None = None,
    endpoint_url: str | None = None,
    optional: Mapping[str, str | None] | None = None,
    start: Path | None = None,
) -> Resolved:
    """Resolve the resource names a command needs (`wanted`: output key -> flag value) and its connection.

    `optional` names are filled in from the same source when available and left out otherwise.
    """
    optional = optional or {}
    explicit = {key: value for key, value in {**optional, **wanted}.items() if value}
    local: LocalOutputs | None = None

    if stack:
        connection = Connection(aws_session(profile, region), endpoint_url)
        outputs: Mapping[str, str] = stack_outputs(connection, stack)
        source = f"the Outputs of stack {stack!r}"
    elif all(wanted.values()):
        connection = Connection(aws_session(profile, region), endpoint_url)
        outputs, source = {}, ""
    else:
        local = find_local_outputs(start)
        if local is None:
            missing = [FLAGS_BY_OUTPUT.get(key, key) for key, value in wanted.items() if not value]
            raise InputError(
                f"no {', '.join(missing)} given and no local cloud found ({LOCAL_OUTPUTS} in this folder or a parent)",
                hint=f"pass {' and '.join(missing)}, or --stack NAME for a deployed stack, "
                "or start the local cloud with `fmops local up` in the project folder",
            )
        connection = _local_connection(local, profile, region, endpoint_url)
        outputs, source = local.values, str(local.path)

    names = {key: explicit.get(key) or outputs.get(key) for key in {**optional, **wanted}}
    missing_outputs = [key for key in wanted if not names.get(key)]
    if missing_outputs:
        flags = ", ".join(FLAGS_BY_OUTPUT.get(key, key) for key in missing_outputs)
        raise CliError(f"{source} has no {', '.join(missing_outputs)}", hint=f"pass {flags}")
    return Resolved(names={k: v for k, v in names.items() if v}, connection=connection, local=local)


def _local_connection(
    local: LocalOutputs, profile: str | None, region: str | None, endpoint_url: str | None
) -> Connection:
    # DynamoDB tables live in one region of the local cloud: talk to that one, not the user's default.
    region = region or local.region or _DEFAULT_LOCAL_REGION
    session = aws_session(profile, region)
    if session.get_credentials() is None:
        session = boto3.Session(aws_access_key_id=_LOCAL_KEY, aws_secret_access_key=_LOCAL_KEY, region_name=region)
    endpoint = endpoint_url or local.endpoint_url
    return Connection(session, endpoint, local=True)
