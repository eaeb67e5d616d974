"""The manifest: the model card uploaded last into a model version's folder.

`s3://<artifact bucket>/models/<model-group>/<version>/manifest.json` describes
one model version: what it is, what it was trained on, who owns it, the
exact bytes of every artifact (sha256 and size), and the sample requests every
deployment stage's smoke test sends to its endpoint. Intake trusts nothing else.
"""

from __future__ import annotations

import json
import re
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

MANIFEST_SCHEMA_VERSION = "1"
MANIFEST_FILE_NAME = "manifest.json"
MODELS_PREFIX = "models/"
MAX_MANIFEST_BYTES = 256 * 1024
MAX_ARTIFACTS = 1000

# SageMaker model package group names allow [a-zA-Z0-9-], 63 characters; we keep the
# same rule so a model group maps 1:1 to a package group without translation.
GROUP_PATTERN = r"^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}$"
VERSION_PATTERN = r"^[a-zA-Z0-9][a-zA-Z0-9._-]{0,63}$"
SHA256_PATTERN = r"^[0-9a-f]{64}$"
# The same rule as fmops.deployment.smoke.SAMPLE_NAME_PATTERN (copied: fmops.deployment imports this module).
SAMPLE_NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$"
MAX_SAMPLE_REQUESTS = 20
MAX_SAMPLE_REQUEST_BYTES = 16 * 1024

ModelGroup = Annotated[str, Field(pattern=GROUP_PATTERN, description="Model group (SageMaker model package group).")]
VersionName = Annotated[str, Field(pattern=VERSION_PATTERN, description="Version name, unique in its group.")]
NonEmpty = Annotated[str, Field(min_length=1, max_length=4000)]


class ModelKind(StrEnum):
    CLASSIC = "classic"
    FOUNDATION = "foundation"
    FINE_TUNED = "fine-tuned"
    ADAPTER = "adapter"
    PROMPT_TEMPLATE = "prompt-template"


class RiskTier(StrEnum):
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"


class DataClassification(StrEnum):
    PUBLIC = "public"
    INTERNAL = "internal"
    CONFIDENTIAL = "confidential"
    RESTRICTED = "restricted"


class _Strict(BaseModel):
    # Unknown fields are errors: a typo in a model card must not pass silently.
    model_config = ConfigDict(defer_build=True, extra="forbid", frozen=True)


class Artifact(_Strict):
    path: str = Field(min_length=1, max_length=512, description="Path relative to the version folder.")
    sha256: str = Field(pattern=SHA256_PATTERN, description="Lower-case hex SHA-256 of the file's bytes.")
    size_bytes: int = Field(ge=0, description="Exact size of the file in bytes.")

    @field_validator("path")
    @classmethod
    def _stays_inside_the_version_folder(cls, path: str) -> str:
        segments = path.split("/")
        if path.startswith("/") or "\\" in path or any(segment in {"", ".", ".."} for segment in segments):
            raise ValueError("artifact path must be relative, use '/' and stay inside the version folder")
        if not re.fullmatch(r"[A-Za-z0-9._/ -]+", path):
            raise ValueError("artifact path may contain only letters, digits, space and . _ - /")
        if path == MANIFEST_FILE_NAME:
            raise ValueError("the manifest cannot list itself as an artifact")
        return path


class BaseModelRef(_Strict):
    name: NonEmpty
    provider: NonEmpty
    licence: NonEmpty = Field(description="SPDX id or the licence's name, e.g. 'apache-2.0' or 'llama3.1'.")


class Dataset(_Strict):
    name: NonEmpty
    uri: NonEmpty
    classification: DataClassification


class CodeRef(_Strict):
    repository: NonEmpty
    commit: str = Field(pattern=r"^[0-9a-f]{7,40}$")


class Lineage(_Strict):
    datasets: list[Dataset] = Field(default_factory=list, max_length=100)
    code: CodeRef | None = None
    training_job: str | None = Field(default=None, max_length=1024)


class Pricing(_Strict):
    """What serving the model costs, for the built-in evaluator's cost per 1,000 tokens."""

    input_usd_per_1k_tokens: float = Field(ge=0, allow_inf_nan=False)
    output_usd_per_1k_tokens: float = Field(ge=0, allow_inf_nan=False)


class Evaluator(StrEnum):
    BUILTIN_TEXT = "builtin-text"  # fmops scores the evaluation set shipped in eval/
    EXTERNAL = "external"  # a SageMaker Processing job, CI or notebook reports "Evaluation Completed"


EVALUATION_PREFIX = "eval/"


class EvaluationPlan(_Strict):
    """How the version is evaluated. `dataset` must be one of the manifest's artifacts, so intake
    has verified its sha256 before anyone scores it."""

    evaluator: Evaluator
    dataset: str | None = Field(default=None, description="Artifact path of the JSONL set, under eval/.")
    pricing: Pricing | None = None

    @model_validator(mode="after")
    def _builtin_needs_a_dataset(self) -> EvaluationPlan:
        if self.evaluator == Evaluator.BUILTIN_TEXT:
            if self.dataset is None:
                raise ValueError("evaluation.dataset is required for the builtin-text evaluator")
            if not (self.dataset.startswith(EVALUATION_PREFIX) and self.dataset.endswith(".jsonl")):
                raise ValueError(f"evaluation.dataset must be a .jsonl file under {EVALUATION_PREFIX}")
        elif self.dataset is not None or self.pricing is not None:
            raise ValueError("dataset and pricing are for the builtin-text evaluator only")
        return self


EXTERNAL_EVALUATION = EvaluationPlan(evaluator=Evaluator.EXTERNAL)


class Submitter(_Strict):
    id: str = Field(min_length=1, max_length=256, description="Identity of the person submitting (e.g. SSO user).")
    email: str = Field(pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


class SampleRequest(_Strict):
    """One request every deployment stage's smoke test sends to the version's endpoint.

    `request` is the JSON object sent as is (`application/json`); what the answers must hold is the
    stage's smoke test (deployments/stages.json). The fields are those of
    `fmops.deployment.smoke.SmokeSample`: `SmokeSample.model_validate(sample.model_dump())`.
    """

    name: str = Field(pattern=SAMPLE_NAME_PATTERN, description="Named in smoke test results, e.g. 'clearly-positive'.")
    request: dict[str, Any] = Field(
        description=f"The JSON object sent to the endpoint; at most {MAX_SAMPLE_REQUEST_BYTES} bytes as compact JSON."
    )

    @field_validator("request")
    @classmethod
    def _small_json(cls, request: dict[str, Any]) -> dict[str, Any]:
        # Measured as SmokeSample.body() sends it.
        try:
            body = json.dumps(request, separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode()
        except ValueError as error:
            raise ValueError("a sample request must be plain JSON (no NaN or Infinity)") from error
        if len(body) > MAX_SAMPLE_REQUEST_BYTES:
            raise ValueError(f"a sample request is at most {MAX_SAMPLE_REQUEST_BYTES} bytes as JSON, got {len(body)}")
        return request


class Manifest(_Strict):
    """Model card and artifact inventory of one model version."""

    schema_version: Literal["1"] = "1"
    model_group: ModelGroup
    version: VersionName
    kind: ModelKind
    task: str = Field(min_length=1, max_length=128, description="e.g. text-to-text, tabular-classification.")
    description: str = Field(default="", max_length=4000)
    base_model: BaseModelRef | None = Field(
        default=None, description="Required for fine-tuned models and adapters: what they were derived from."
    )
    artifacts: list[Artifact] = Field(min_length=1, max_length=MAX_ARTIFACTS)
    lineage: Lineage = Field(default_factory=Lineage)
    intended_use: NonEmpty
    limitations: NonEmpty
    risk_tier: RiskTier
    owner_team: str = Field(min_length=1, max_length=256)
    submitter: Submitter
    evaluation: EvaluationPlan = Field(
        default=EXTERNAL_EVALUATION, description="Omitted: an external evaluator reports the metrics."
    )
    sample_requests: list[SampleRequest] = Field(
        default_factory=list,
        max_length=MAX_SAMPLE_REQUESTS,
        description="What every deployment stage's smoke test sends to the version's endpoint, one request each; "
        "without any, the smoke test of an endpoint fails (nothing would show that it works).",
    )

    @model_validator(mode="after")
    def _derived_models_name_their_base(self) -> Manifest:
        if self.kind in (ModelKind.FINE_TUNED, ModelKind.ADAPTER) and self.base_model is None:
            raise ValueError(f"base_model (name, provider, licence) is required for kind '{self.kind.value}'")
        return self

    @model_validator(mode="after")
    def _artifact_paths_are_unique(self) -> Manifest:
        paths = [a.path for a in self.artifacts]
        duplicates = sorted({p for p in paths if paths.count(p) > 1})
        if duplicates:
            raise ValueError(f"artifact paths listed more than once: {', '.join(duplicates)}")
        return self

    @field_validator("sample_requests")
    @classmethod
    def _sample_names_are_unique(cls, samples: list[SampleRequest]) -> list[SampleRequest]:
        names = [sample.name for sample in samples]
        duplicates = sorted({name for name in names if names.count(name) > 1})
        if duplicates:
            raise ValueError(f"sample request names used more than once: {', '.join(duplicates)}")
        return samples

    @model_validator(mode="after")
    def _evaluation_set_is_an_artifact(self) -> Manifest:
        dataset = self.evaluation.dataset
        if dataset is not None and dataset not in {a.path for a in self.artifacts}:
            raise ValueError(f"evaluation.dataset '{dataset}' must be listed in artifacts (so its sha256 is checked)")
        return self

    @property
    def version_id(self) -> str:
        return f"{self.model_group}/{self.version}"


class Problem(_Strict):
    """One reason a manifest was refused, precise enough for the submitter to fix it."""

    code: str
    message: str
    field: str | None = None


def parse_manifest(raw: bytes) -> tuple[Manifest | None, list[Problem]]:
    """Parse and validate manifest bytes, collecting every problem instead of stopping at the first."""
    if len(raw) > MAX_MANIFEST_BYTES:
        return None, [Problem(code="manifest_too_large", message=f"manifest exceeds {MAX_MANIFEST_BYTES} bytes")]
    try:
        document: Any = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        return None, [Problem(code="manifest_not_json", message=f"manifest is not valid JSON: {error}")]
    if not isinstance(document, dict):
        return None, [Problem(code="manifest_not_object", message="manifest must be a JSON object")]
    try:
        return Manifest.model_validate(document), []
    except ValidationError as error:
        return None, [_problem_from(detail) for detail in error.errors(include_url=False, include_input=False)]


def _problem_from(detail: Any) -> Problem:
    location = ".".join(str(part) for part in detail["loc"]) or None
    code = "schema_violation"
    if detail["type"] == "enum" and location == "kind":
        code = "unknown_kind"
    elif detail["type"] == "extra_forbidden":
        code = "unknown_field"
    elif detail["type"] == "missing":
        code = "missing_field"
    return Problem(code=code, message=str(detail["msg"]), field=location)


def parse_manifest_key(key: str) -> tuple[str, str] | None:
    """`models/<group>/<version>/manifest.json` -> (group, version); None if the key does not follow it."""
    match = re.fullmatch(r"models/([^/]+)/([^/]+)/manifest\.json", key)
    if not match:
        return None
    group, version = match.groups()
    if not re.fullmatch(GROUP_PATTERN, group) or not re.fullmatch(VERSION_PATTERN, version):
        return None
    return group, version


def version_prefix(group: str, version: str) -> str:
    return f"{MODELS_PREFIX}{group}/{version}/"


def manifest_json_schema() -> dict[str, Any]:
    """The published JSON Schema of the manifest (`fmops manifest schema`)."""
    schema = Manifest.model_json_schema(mode="validation")
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["$id"] = f"https://fmops.dev/schemas/manifest/v{MANIFEST_SCHEMA_VERSION}.json"
    return schema
