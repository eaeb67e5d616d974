"""SageMaker endpoint updates and invocations, which moto 5.2.5 does not serve as AWS does.

- `UpdateEndpoint` is not implemented in moto ("The update_endpoint action has not been
  implemented"). Here it switches the endpoint to the new endpoint configuration at once (moto
  has no background work, so the endpoint stays InService), keeps the configuration it served
  before (`previous_endpoint_config`), and records a given DeploymentConfig as DescribeEndpoint's
  `LastDeploymentConfig` (an update without one keeps it only with RetainDeploymentConfig). An
  unknown endpoint or configuration is a ValidationException, as on AWS. Blue/green traffic
  shifting and alarm-driven rollback are not simulated.

- `InvokeEndpoint` in moto answers "body" to everything. Here a deterministic stand-in for the
  model container answers instead: it follows the endpoint to its configuration, the first
  production variant's model, and that model's container (its `ModelPackageName`, or its
  `ModelDataUrl`), to the version's artifacts folder in S3, and answers from the JSON file the
  version ships there as `local/responses.json`, read in-process through moto's S3 backend:

      {"default": {"label": "negative", "score": 0.2},
       "status": 200,
       "inputs": [{"request": {"text": "awful"}, "response": {"label": "negative"}, "status": 200}]}

  All keys are optional: the first of `inputs` whose `request` equals the JSON request sent gives
  the answer, otherwise `default` (with `status`, 200 unless said). Without the file, any JSON
  request gets `{"label": "positive", "score": 0.9}`. A status other than 200, a request that is
  not JSON (400) and a responses file that is not valid (500) come back as SageMaker relays a
  container's error: a ModelError (HTTP 424) carrying OriginalStatusCode and OriginalMessage.
  So a version can ship a responses file that fails its smoke test, as the demo does.

  The artifacts folder of a model package is the folder of its `fmops:manifest_uri` (fmops
  registers every package with it: `models/<group>/<version>/`), else of the package's first
  container's ModelDataUrl; of a ModelDataUrl, the folder it is in (or it, if it ends in '/').
  A package in another account (a stage deploying the governance account's package) is looked
  up in that account's backend, as the account and region in its ARN say.
"""

from __future__ import annotations

import json
import logging
from typing import Any
from urllib.parse import unquote

from moto.core.responses import ActionResult
from moto.core.utils import utcnow
from moto.s3.models import s3_backends
from moto.sagemaker.exceptions import ValidationError
from moto.sagemaker.models import FakeEndpoint, FakeEndpointConfig, SageMakerModelBackend, sagemaker_backends
from moto.sagemaker.responses import SageMakerResponse
from moto.sagemakerruntime.responses import SageMakerRuntimeResponse
from moto.utilities.utils import get_partition
from pydantic import BaseModel, ConfigDict, Field, JsonValue
from pydantic import ValidationError as SchemaError

from fmops_local.patching import Patcher

LOG = logging.getLogger(__name__)

RESPONSES_FILE = "local/responses.json"
DEFAULT_ANSWER: dict[str, JsonValue] = {"label": "positive", "score": 0.9}
MANIFEST_URI_PROPERTY = "fmops:manifest_uri"  # set by fmops.adapters.sagemaker on every package
MAX_RESPONSES_BYTES = 1024 * 1024
_PREVIOUS_ATTRIBUTE = "fmops_previous_endpoint_config"

Reply = tuple[int, dict[str, str], str]


def install(patcher: Patcher) -> None:
    """Serve UpdateEndpoint and answer InvokeEndpoint from the version's artifacts (moto 5.2.5)."""

    def make_call_action(original: Any) -> Any:
        def call_action(response: SageMakerResponse) -> Any:
            # moto dispatches an action only to a method its response class defines, and the Patcher
            # wraps only what exists: this request alone gets a response class that has the method.
            if type(response) is SageMakerResponse and response._get_action() == "UpdateEndpoint":
                response.__class__ = _WithUpdateEndpoint
            return original(response)

        return call_action

    def make_invoke(original: Any) -> Any:
        def invoke_endpoint(response: SageMakerRuntimeResponse) -> Reply:
            name = unquote(response.path.split("?")[0].split("/")[2])  # /endpoints/<name>/invocations
            body = response.raw_body
            raw = body.encode() if isinstance(body, str) else bytes(body or b"")
            return answer(response.current_account, response.region, name, raw)

        return invoke_endpoint

    patcher.wrap(SageMakerResponse, "call_action", make_call_action)
    patcher.wrap(SageMakerRuntimeResponse, "invoke_endpoint", make_invoke)


# ---------------------------------------------------------------------------- UpdateEndpoint
class _WithUpdateEndpoint(SageMakerResponse):
    def update_endpoint(self) -> ActionResult:
        endpoint = update_endpoint(
            self.sagemaker_backend,
            endpoint_name=self._get_param("EndpointName"),
            endpoint_config_name=self._get_param("EndpointConfigName"),
            deployment_config=self._get_param("DeploymentConfig"),
            retain_deployment_config=bool(self._get_param("RetainDeploymentConfig")),
        )
        return ActionResult({"EndpointArn": endpoint.arn})


def update_endpoint(
    backend: SageMakerModelBackend,
    endpoint_name: str,
    endpoint_config_name: str,
    deployment_config: dict[str, Any] | None = None,
    retain_deployment_config: bool = False,
) -> FakeEndpoint:
    endpoint = backend.endpoints.get(endpoint_name)
    if endpoint is None:
        arn = FakeEndpoint.arn_formatter(endpoint_name, backend.account_id, backend.region_name)
        raise ValidationError(message=f"Could not find endpoint '{arn}'.")
    config = backend.endpoint_configs.get(endpoint_config_name)
    if config is None:
        arn = FakeEndpointConfig.arn_formatter(endpoint_config_name, backend.account_id, backend.region_name)
        raise ValidationError(message=f"Could not find endpoint configuration '{arn}'.")
    # Kept on the endpoint, where only previous_endpoint_config reads it (DescribeEndpoint's output
    # shape has no such member, so moto's serializer leaves it out).
    vars(endpoint)[_PREVIOUS_ATTRIBUTE] = endpoint.endpoint_config_name
    endpoint.endpoint_config_name = endpoint_config_name
    endpoint.production_variants = endpoint._process_production_variants(config.production_variants)
    endpoint.data_capture_config = config.data_capture_config
    # DescribeEndpoint's LastDeploymentConfig: the update's own, or the one before when asked to retain it.
    if deployment_config:
        vars(endpoint)["last_deployment_config"] = deployment_config
    elif not retain_deployment_config:
        vars(endpoint).pop("last_deployment_config", None)
    endpoint.endpoint_status = "InService"
    endpoint.failure_reason = None
    endpoint.last_modified_time = utcnow()
    return endpoint


def previous_endpoint_config(account_id: str, region: str, endpoint_name: str) -> str | None:
    """The configuration the endpoint served before its last UpdateEndpoint, None if never updated."""
    endpoint = sagemaker_backends[account_id][region].endpoints.get(endpoint_name)
    previous = vars(endpoint).get(_PREVIOUS_ATTRIBUTE) if endpoint is not None else None
    return str(previous) if previous is not None else None


# ---------------------------------------------------------------------------- InvokeEndpoint
class _Answer(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    request: JsonValue
    response: JsonValue
    status: int = Field(default=200, ge=100, le=599)


class _Responses(BaseModel):
    """The schema of `local/responses.json`."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    default: JsonValue = Field(default_factory=lambda: dict(DEFAULT_ANSWER))
    status: int = Field(default=200, ge=100, le=599)
    inputs: list[_Answer] = Field(default_factory=list)


class _ModelFailed(Exception):
    def __init__(self, status: int, message: str) -> None:
        self.status = status
        self.message = message
        super().__init__(message)


def answer(account_id: str, region: str, endpoint_name: str, body: bytes) -> Reply:
    """The HTTP answer of InvokeEndpoint on `endpoint_name` in that account and region to `body`."""
    backend = sagemaker_backends[account_id][region]
    endpoint = backend.endpoints.get(endpoint_name)
    if endpoint is None:
        return _error(400, "ValidationError", f"Endpoint {endpoint_name} of account {account_id} not found.")
    config = backend.endpoint_configs.get(endpoint.endpoint_config_name)
    variants = config.production_variants if config is not None else []
    variant = variants[0]["VariantName"] if variants else "AllTraffic"
    try:
        try:
            request = json.loads(body.decode("utf-8"))
        except (UnicodeDecodeError, ValueError):
            raise _ModelFailed(400, "the local model server accepts JSON requests only") from None
        model = backend._models.get(variants[0]["ModelName"]) if variants else None
        responses = _responses(model, account_id, region)
        status, output = _pick(responses, request)
        if status != 200:
            raise _ModelFailed(status, json.dumps(output))
    except _ModelFailed as failed:
        return _model_error(account_id, region, endpoint_name, variant, failed)
    headers = {"Content-Type": "application/json", "x-Amzn-Invoked-Production-Variant": variant, "status": "200"}
    return 200, headers, json.dumps(output)


def _pick(responses: _Responses, request: Any) -> tuple[int, JsonValue]:
    for entry in responses.inputs:
        if entry.request == request:
            return entry.status, entry.response
    return responses.status, responses.default


def _responses(model: Any, account_id: str, region: str) -> _Responses:
    folder = _artifacts_folder(model, account_id, region) if model is not None else None
    if folder is None:
        return _Responses()
    bucket, prefix, owner = folder
    try:
        key = s3_backends[owner][get_partition(region)].get_object(bucket, prefix + RESPONSES_FILE)
    except Exception:  # moto raises its own MissingBucket/MissingKey: no file, so the default answer
        key = None
    if key is None:
        return _Responses()
    raw = key.value
    if len(raw) > MAX_RESPONSES_BYTES:
        raise _ModelFailed(500, f"{RESPONSES_FILE} is larger than {MAX_RESPONSES_BYTES} bytes")
    try:
        return _Responses.model_validate_json(raw)
    except SchemaError as error:
        LOG.warning(
            "s3://%s/%s%s is not a valid responses file (%d problems)",
            bucket,
            prefix,
            RESPONSES_FILE,
            error.error_count(),
        )
        raise _ModelFailed(500, f"{RESPONSES_FILE} is not a valid responses file") from None


def _artifacts_folder(model: Any, account_id: str, region: str) -> tuple[str, str, str] | None:
    """(bucket, key prefix ending in '/', account whose S3 backend to read) of the model's version, if known."""
    for container in [model.primary_container, *model.containers]:
        if not container:
            continue
        package_name = container.get("ModelPackageName")
        if package_name:
            return _package_folder(package_name, account_id, region)
        url = container.get("ModelDataUrl") or container.get("ModelDataSource", {}).get("S3DataSource", {}).get("S3Uri")
        if url:
            return _folder(url, account_id)
    return None


def _package_folder(package_name: str, account_id: str, region: str) -> tuple[str, str, str] | None:
    parts = package_name.split(":")
    if package_name.startswith("arn:") and len(parts) >= 6:
        region, account_id = parts[3], parts[4]
    registry = sagemaker_backends[account_id][region]
    package = registry.model_packages.get(registry.model_package_name_mapping.get(package_name, package_name))
    if package is None:
        LOG.warning("model package %s not found: answering the default", package_name)
        return None
    manifest_uri = (package.customer_metadata_properties or {}).get(MANIFEST_URI_PROPERTY)
    if manifest_uri:
        return _folder(manifest_uri, account_id)
    containers = (package.inference_specification or {}).get("Containers") or []
    url = containers[0].get("ModelDataUrl") if containers else None
    return _folder(url, account_id) if url else None


def _folder(url: str, account_id: str) -> tuple[str, str, str] | None:
    if not url.startswith("s3://"):
        return None
    bucket, _, key = url.removeprefix("s3://").partition("/")
    head, slash, _ = key.rpartition("/")
    prefix = key if key.endswith("/") else head + slash
    return bucket, prefix, account_id


def _error(status: int, code: str, message: str, **fields: Any) -> Reply:
    # moto takes a response's status from its "status" header.
    headers = {"Content-Type": "application/json", "x-amzn-ErrorType": code, "status": str(status)}
    return status, headers, json.dumps({"message": message, **fields})


def _model_error(account_id: str, region: str, endpoint: str, variant: str, failed: _ModelFailed) -> Reply:
    log_group = f"/aws/sagemaker/Endpoints/{endpoint}"
    return _error(
        424,
        "ModelError",
        f'Received client error ({failed.status}) from {variant} with message "{failed.message}". '
        f"See https://{region}.console.aws.amazon.com/cloudwatch/home?region={region}#logEventViewer:"
        f"group={log_group} in account {account_id} for more information.",
        OriginalStatusCode=failed.status,
        OriginalMessage=failed.message,
        LogStreamArn=f"arn:aws:logs:{region}:{account_id}:log-group:{log_group}",
    )
