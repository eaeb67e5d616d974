"""SageMaker Processing evaluations: a finished job becomes an fmops "Evaluation Completed".

An evaluation job names the model version it evaluates in its environment
(`FMOPS_VERSION_ID` = "<group>/<version>") and writes `metrics.json` to its S3 output
named `evaluation` (format: docs/evaluation.md). When the job ends, SageMaker puts
"SageMaker Processing Job State Change" on the default bus; this module turns it into
one `EvaluationCompleted`. Every way the evidence can be wrong (missing, oversized,
malformed, invalid) is reported as a failed evaluation with its reason, so the version
fails closed; only transient read errors raise, so that the delivery is retried.

SageMaker may emit several events for one state change: the published `event_id` is
derived from the version and the job name only, so consumers deduplicate the repeats.

Shape of the event, from the AWS documentation ("Events that Amazon SageMaker AI sends
to Amazon EventBridge", section "SageMaker processing job state change",
https://docs.aws.amazon.com/sagemaker/latest/dg/automating-sagemaker-with-eventbridge.html):
the detail carries the fields of the job's description in PascalCase: `ProcessingJobName`,
`ProcessingJobArn`, `ProcessingJobStatus` (InProgress | Completed | Failed | Stopping |
Stopped), `FailureReason`, `ProcessingOutputConfig.Outputs[]` (`OutputName`,
`S3Output.S3Uri`), and times as epoch milliseconds (`"ProcessingEndTime": 1704320746000`).
That example shows neither `Environment` (a string-to-string map) nor `ExitMessage` (up
to 1 KB); both are fields of DescribeProcessingJob in the SageMaker API reference, so
they are optional here and a job without the environment variable is ignored.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any, Literal, Protocol

from aws_lambda_powertools.utilities.parser.models import EventBridgeModel
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator
from pydantic.alias_generators import to_pascal

from fmops.errors import FmopsError
from fmops.events import MAX_METRICS, EvaluationCompleted, EvaluationOutcome
from fmops.manifest import GROUP_PATTERN, VERSION_PATTERN
from fmops.metrics import BUILTIN_METRICS, Metric
from fmops.ports import EventBus

ACTOR = "fmops:processing-job-listener"
EVALUATOR_PREFIX = "sagemaker-processing:"
VERSION_ID_VARIABLE = "FMOPS_VERSION_ID"
EVALUATION_OUTPUT = "evaluation"
METRICS_FILE = "metrics.json"
MAX_METRICS_BYTES = 1024 * 1024
MAX_FAILURE_REASON = 2000  # EvaluationCompleted.failure_reason


# ------------------------------------------------------------------ the SageMaker event
class _SageMakerShape(BaseModel):
    """SageMaker's PascalCase fields; everything fmops does not use is ignored."""

    model_config = ConfigDict(
        defer_build=True, frozen=True, extra="ignore", alias_generator=to_pascal, populate_by_name=True
    )


class ProcessingJobStatus(StrEnum):
    IN_PROGRESS = "InProgress"
    COMPLETED = "Completed"
    FAILED = "Failed"
    STOPPING = "Stopping"
    STOPPED = "Stopped"


class S3Output(_SageMakerShape):
    s3_uri: str


class ProcessingOutput(_SageMakerShape):
    output_name: str
    s3_output: S3Output | None = None  # absent for Feature Store outputs


class ProcessingOutputConfig(_SageMakerShape):
    outputs: list[ProcessingOutput] = Field(default_factory=list)


class ProcessingJob(_SageMakerShape):
    """The fields of a "SageMaker Processing Job State Change" detail that fmops reads."""

    processing_job_name: str
    processing_job_arn: str
    processing_job_status: ProcessingJobStatus
    environment: dict[str, str] | None = None
    processing_output_config: ProcessingOutputConfig | None = None
    failure_reason: str | None = None
    exit_message: str | None = None
    processing_end_time: datetime | None = None  # epoch milliseconds in the event

    def output_uri(self, name: str) -> str | None:
        outputs = self.processing_output_config.outputs if self.processing_output_config else []
        return next((o.s3_output.s3_uri for o in outputs if o.output_name == name and o.s3_output), None)


class ProcessingJobStateChanged(EventBridgeModel):
    """EventBridge "SageMaker Processing Job State Change" (source `aws.sagemaker`, default bus)."""

    source: Literal["aws.sagemaker"]
    detail_type: Literal["SageMaker Processing Job State Change"] = Field(alias="detail-type")
    detail: ProcessingJob


# ------------------------------------------------------------------ metrics.json
class MetricsDocument(BaseModel):
    """`metrics.json`: the metrics of one evaluation run. Built-in metrics may omit unit and direction."""

    model_config = ConfigDict(defer_build=True, frozen=True, extra="forbid")

    metrics: list[Metric] = Field(min_length=1, max_length=MAX_METRICS)

    @field_validator("metrics", mode="before")
    @classmethod
    def _builtin_defaults(cls, value: Any) -> Any:
        if not isinstance(value, list):
            return value
        return [_with_builtin_defaults(item) for item in value]

    @model_validator(mode="after")
    def _names_are_unique(self) -> MetricsDocument:
        names = [metric.name for metric in self.metrics]
        duplicates = sorted({name for name in names if names.count(name) > 1})
        if duplicates:
            raise ValueError(f"metrics reported more than once: {', '.join(duplicates)}")
        return self


def _with_builtin_defaults(item: Any) -> Any:
    name = item.get("name") if isinstance(item, dict) else None
    spec = BUILTIN_METRICS.get(name) if isinstance(name, str) else None
    if spec is None:
        return item
    # Enum members, not strings: the document is validated strictly, where an enum needs its member.
    return {"unit": spec.unit, "higher_is_better": spec.higher_is_better, **item}


class MetricsProblem(FmopsError):
    """metrics.json cannot be used; the message says why, without any of the file's content."""


def parse_metrics(raw: bytes) -> list[Metric]:
    """Validate metrics.json bytes strictly (numbers are not strings, booleans are not counts).

    Raises MetricsProblem naming each field path and what is wrong with it; pydantic's
    `include_input=False` keeps values of the file out of the message.
    """
    if len(raw) > MAX_METRICS_BYTES:
        raise MetricsProblem(f"{METRICS_FILE} exceeds {MAX_METRICS_BYTES} bytes")
    if not raw.strip():
        raise MetricsProblem(f"{METRICS_FILE} is empty")
    try:
        return list(MetricsDocument.model_validate_json(raw, strict=True).metrics)
    except ValidationError as error:
        details = error.errors(include_url=False, include_input=False)
        if any(detail["type"] == "json_invalid" for detail in details):
            raise MetricsProblem(f"{METRICS_FILE} is not valid JSON: {details[0]['msg']}") from None
        described = "; ".join(f"{_path(detail['loc'])}: {detail['msg']}" for detail in details)
        raise MetricsProblem(f"{METRICS_FILE} is invalid: {described}") from None


_KNOWN_FIELDS = frozenset(MetricsDocument.model_fields) | frozenset(Metric.model_fields)


def _path(location: tuple[int | str, ...]) -> str:
    # An unknown key is the file's own text: name its place, not the key.
    parts = (str(part) if isinstance(part, int) or part in _KNOWN_FIELDS else "<unknown key>" for part in location)
    return ".".join(parts) or "<document>"


# ------------------------------------------------------------------ the domain function
class ReportOutcome(StrEnum):
    SUCCEEDED = "succeeded"  # published a succeeded evaluation with its metrics
    FAILED = "failed"  # published a failed evaluation with its reason
    IGNORED = "ignored"  # not an fmops evaluation, or not finished: nothing published


class ObjectReader(Protocol):
    """The part of `fmops.ports.ArtifactStore` this module needs; `S3ArtifactStore` implements it."""

    def read(self, bucket: str, key: str, max_bytes: int) -> bytes:
        """Read at most max_bytes + 1 bytes of an object (so callers can detect oversize)."""
        ...

    def size_of(self, bucket: str, key: str) -> int | None:
        """Size in bytes, or None when the object does not exist; raises on transient errors."""
        ...


@dataclass(frozen=True)
class ProcessingJobDeps:
    artifacts: ObjectReader
    bus: EventBus


@dataclass(frozen=True)
class ReportResult:
    outcome: ReportOutcome
    job_name: str
    version_id: str | None
    reason: str | None = None

    def as_dict(self) -> dict[str, object]:
        return {
            "outcome": self.outcome.value,
            "job_name": self.job_name,
            "version_id": self.version_id,
            "reason": self.reason,
        }


def report_processing_job(job: ProcessingJob, deps: ProcessingJobDeps, event_time: datetime) -> ReportResult:
    """Publish the "Evaluation Completed" of a finished evaluation job; ignore jobs that are not fmops'.

    `event_time` (the EventBridge envelope's time) stands in when the job has no ProcessingEndTime.
    Raises what the artifact store raises for transient errors (nothing is published then).
    """
    version_id, not_ours = _version_id_of(job)
    if version_id is None:
        return ReportResult(ReportOutcome.IGNORED, job.processing_job_name, None, not_ours)
    status = job.processing_job_status
    if status == ProcessingJobStatus.COMPLETED:
        metrics_uri, metrics, problem = _read_metrics(job, deps.artifacts)
    elif status in (ProcessingJobStatus.FAILED, ProcessingJobStatus.STOPPED):
        metrics_uri, metrics, problem = None, [], _reason_job_ended(job)
    else:
        reason = f"status {status.value} is not final"
        return ReportResult(ReportOutcome.IGNORED, job.processing_job_name, version_id, reason)

    outcome = EvaluationOutcome.FAILED if problem else EvaluationOutcome.SUCCEEDED
    deps.bus.publish(
        EvaluationCompleted(
            event_id=f"{version_id}#evaluation#sagemaker-processing#{job.processing_job_name}",
            correlation_id=version_id,
            version_id=version_id,
            occurred_at=job.processing_end_time or event_time,
            actor=ACTOR,
            evaluator=f"{EVALUATOR_PREFIX}{job.processing_job_name}",
            outcome=outcome,
            metrics=metrics,
            evidence_uri=metrics_uri,
            failure_reason=_truncate(problem) if problem else None,
        )
    )
    reported = ReportOutcome.FAILED if problem else ReportOutcome.SUCCEEDED
    return ReportResult(reported, job.processing_job_name, version_id, problem)


def _version_id_of(job: ProcessingJob) -> tuple[str, None] | tuple[None, str]:
    """("<group>/<version>", None) for an fmops evaluation job, else (None, why it is not one)."""
    value = (job.environment or {}).get(VERSION_ID_VARIABLE)
    if value is None:
        return None, f"no {VERSION_ID_VARIABLE} in the job's environment"
    group, _, version = value.partition("/")
    if not re.fullmatch(GROUP_PATTERN, group) or not re.fullmatch(VERSION_PATTERN, version):
        return None, f"{VERSION_ID_VARIABLE} is not <group>/<version>"
    return value, None


def _read_metrics(job: ProcessingJob, artifacts: ObjectReader) -> tuple[str | None, list[Metric], str | None]:
    """(metrics.json URI, its metrics, None) or (URI if known, [], what is wrong with it)."""
    output_uri = job.output_uri(EVALUATION_OUTPUT)
    if output_uri is None:
        return None, [], f"the job has no S3 output named '{EVALUATION_OUTPUT}' (ProcessingOutputConfig.Outputs)"
    match = re.fullmatch(r"s3://([^/]+)/?(.*)", output_uri)
    if match is None:
        return None, [], f"the S3Uri of output '{EVALUATION_OUTPUT}' is not an s3:// URI"
    bucket, prefix = match.group(1), match.group(2).rstrip("/")
    key = f"{prefix}/{METRICS_FILE}" if prefix else METRICS_FILE
    uri = f"s3://{bucket}/{key}"

    size = artifacts.size_of(bucket, key)
    if size is None:
        return uri, [], f"{METRICS_FILE} was not found at {uri}"
    if size > MAX_METRICS_BYTES:
        return uri, [], f"{METRICS_FILE} has {size} bytes; at most {MAX_METRICS_BYTES} are read"
    # S3 refuses a ranged GET of an empty object (416 InvalidRange), so an empty file is not read.
    raw = artifacts.read(bucket, key, MAX_METRICS_BYTES) if size else b""
    try:
        return uri, parse_metrics(raw), None
    except MetricsProblem as problem:
        return uri, [], str(problem)


def _reason_job_ended(job: ProcessingJob) -> str:
    if job.processing_job_status == ProcessingJobStatus.STOPPED:
        return f"stopped: {job.exit_message}" if job.exit_message else "stopped"
    if job.failure_reason:
        return job.failure_reason
    return f"failed: {job.exit_message}" if job.exit_message else "failed (SageMaker gave no FailureReason)"


def _truncate(reason: str) -> str:
    reason = reason.strip() or "no reason given"
    if len(reason) <= MAX_FAILURE_REASON:
        return reason
    return reason[: MAX_FAILURE_REASON - 1] + "…"
