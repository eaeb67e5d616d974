import copy
import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from fmops.errors import ArtifactStoreUnavailable
from fmops.evaluation.processing_job import (
    MAX_FAILURE_REASON,
    MAX_METRICS_BYTES,
    ProcessingJob,
    ProcessingJobDeps,
    ProcessingJobStateChanged,
    ReportOutcome,
    ReportResult,
    report_processing_job,
)
from fmops.events import EvaluationCompleted, EvaluationOutcome
from fmops.metrics import Metric, MetricUnit

from tests.unit.fakes import FlakyArtifactStore, RecordingBus

EVENTS = Path(__file__).parents[3] / "events"
COMPLETED = "sagemaker_processing_job_completed.json"
FAILED = "sagemaker_processing_job_failed.json"
JOB_NAME = "sentiment-1-0-0-eval-20261126"
BUCKET = "ml-evaluation-123456789012"
METRICS_KEY = f"sentiment/1.0.0/{JOB_NAME}/metrics.json"
METRICS_URI = f"s3://{BUCKET}/{METRICS_KEY}"
EVENT_TIME = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
END_TIME = datetime(2026, 11, 26, 11, 59, 41, tzinfo=UTC)  # the sample's ProcessingEndTime, 1795694381000 ms

CUSTOM = {"name": "brand_tone_score", "value": -0.5, "unit": "score", "sample_size": 200, "higher_is_better": True}
FULL_BUILTIN = {"name": "toxicity_rate", "value": 0.01, "unit": "ratio", "sample_size": 500, "higher_is_better": False}


@dataclass
class World:
    artifacts: FlakyArtifactStore = field(default_factory=FlakyArtifactStore)
    bus: RecordingBus = field(default_factory=RecordingBus)

    @property
    def deps(self) -> ProcessingJobDeps:
        return ProcessingJobDeps(self.artifacts, self.bus)

    def put_metrics(self, document: object) -> None:
        self.artifacts.put(BUCKET, METRICS_KEY, json.dumps(document).encode())

    def report(self, job: ProcessingJob) -> ReportResult:
        return report_processing_job(job, self.deps, event_time=EVENT_TIME)

    def published(self) -> EvaluationCompleted:
        [event] = self.bus.published
        assert isinstance(event, EvaluationCompleted)
        return event


@pytest.fixture
def world() -> World:
    return World()


def sample(name: str = COMPLETED) -> dict[str, Any]:
    return json.loads((EVENTS / name).read_text())  # type: ignore[no-any-return]


def job(name: str = COMPLETED, **changes: Any) -> ProcessingJob:
    """The detail of a sample event, with some of its SageMaker fields replaced (None removes one)."""
    detail = copy.deepcopy(sample(name)["detail"])
    detail.update(changes)
    return ProcessingJob.model_validate({key: value for key, value in detail.items() if value is not None})


def failure_of(world: World) -> str:
    event = world.published()
    assert event.outcome == EvaluationOutcome.FAILED and event.metrics == []
    assert event.failure_reason is not None
    return event.failure_reason


# ------------------------------------------------------------------ completed jobs
def test_a_completed_job_with_valid_metrics_publishes_them_exactly(world: World) -> None:
    # Given a completed evaluation job whose metrics.json holds a built-in and a custom metric
    world.put_metrics({"metrics": [FULL_BUILTIN, CUSTOM]})

    # When its state change is reported
    result = world.report(job())

    # Then one succeeded evaluation is published with exactly those metrics and its evidence
    assert result == ReportResult(ReportOutcome.SUCCEEDED, JOB_NAME, "sentiment/1.0.0")
    event = world.published()
    assert event.outcome == EvaluationOutcome.SUCCEEDED
    assert event.metrics == [Metric.model_validate(FULL_BUILTIN), Metric.model_validate(CUSTOM)]
    assert event.evidence_uri == METRICS_URI
    assert event.failure_reason is None
    assert event.event_id == f"sentiment/1.0.0#evaluation#sagemaker-processing#{JOB_NAME}"
    assert event.correlation_id == event.version_id == "sentiment/1.0.0"
    assert event.evaluator == f"sagemaker-processing:{JOB_NAME}"
    assert event.actor == "fmops:processing-job-listener"
    assert event.occurred_at == END_TIME


def test_builtin_metrics_may_omit_unit_and_direction(world: World) -> None:
    # Given built-in metrics reported with only name, value and sample size
    world.put_metrics(
        {
            "metrics": [
                {"name": "exact_match", "value": 0.82, "sample_size": 500},
                {"name": "latency_p95_ms", "value": 840, "sample_size": 500},
            ]
        }
    )

    # When reported / Then their unit and direction come from the catalogue
    assert world.report(job()).outcome == ReportOutcome.SUCCEEDED
    exact_match, latency = world.published().metrics
    assert (exact_match.unit, exact_match.higher_is_better, exact_match.value) == (MetricUnit.RATIO, True, 0.82)
    assert (latency.unit, latency.higher_is_better, latency.value) == (MetricUnit.MS, False, 840.0)


def test_an_output_uri_with_a_trailing_slash_names_the_same_file(world: World) -> None:
    world.put_metrics({"metrics": [FULL_BUILTIN]})
    outputs = sample()["detail"]["ProcessingOutputConfig"]
    outputs["Outputs"][0]["S3Output"]["S3Uri"] += "/"

    world.report(job(ProcessingOutputConfig=outputs))

    assert world.published().evidence_uri == METRICS_URI


def test_repeated_state_change_events_publish_the_same_event_id(world: World) -> None:
    # Given SageMaker announcing the same end twice (it may) / When both are reported
    world.put_metrics({"metrics": [FULL_BUILTIN]})
    world.report(job())
    world.report(job())

    # Then consumers can deduplicate them: same business id
    first, second = world.bus.published
    assert first.event_id == second.event_id


def test_without_an_end_time_the_event_time_is_used(world: World) -> None:
    world.put_metrics({"metrics": [FULL_BUILTIN]})

    world.report(job(ProcessingEndTime=None))

    assert world.published().occurred_at == EVENT_TIME


# ------------------------------------------------------------------ completed jobs with unusable evidence
SECRET = "do-not-leak-7f3a"  # pragma: allowlist secret (a canary, not a secret)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (
            b'{"metrics": [{"name": "exact_match", "value": NaN, "sample_size": 10}]}',
            "metrics.0.value: Input should be a finite number",
        ),
        (
            json.dumps({"metrics": [{**CUSTOM, "unit": "ratio", "value": -0.2}]}).encode(),
            "metrics.0: Value error, metric 'brand_tone_score' is a ratio and must lie in [0, 1]",
        ),
        (
            json.dumps({"metrics": [{"name": "exact_match", "value": 0.5}]}).encode(),
            "metrics.0.sample_size: Field required",
        ),
        (
            json.dumps({"metrics": [FULL_BUILTIN, {**FULL_BUILTIN, "value": 0.2}]}).encode(),
            "metrics reported more than once: toxicity_rate",
        ),
        (
            json.dumps({"metrics": [{**CUSTOM, "unit": None}]}).encode(),
            "metrics.0.unit: Input should be 'ratio', 'ms', 'usd', 'count' or 'score'",
        ),
        (
            json.dumps({"metrics": [{"name": "exact_match", "value": "0.5", "sample_size": 10}]}).encode(),
            "metrics.0.value: Input should be a valid number",
        ),
        (json.dumps({"metrics": []}).encode(), "metrics: List should have at least 1 item"),
        (json.dumps({"metric": [FULL_BUILTIN]}).encode(), "<unknown key>: Extra inputs are not permitted"),
        (json.dumps([FULL_BUILTIN]).encode(), "<document>: Input should be an object"),
        (b'{"metrics": [', "metrics.json is not valid JSON"),
        (b"", "metrics.json is empty"),
    ],
    ids=[
        "nan",
        "negative-ratio",
        "missing-sample-size",
        "duplicate-names",
        "custom-without-unit",
        "string-number",
        "no-metrics",
        "unknown-key",
        "not-an-object",
        "not-json",
        "empty",
    ],
)
def test_invalid_metrics_fail_the_evaluation_with_what_is_wrong(world: World, raw: bytes, expected: str) -> None:
    # Given a completed job whose metrics.json is unusable
    world.artifacts.put(BUCKET, METRICS_KEY, raw)

    # When reported
    result = world.report(job())

    # Then a failed evaluation names the field and the problem, pointing at the file
    assert result.outcome == ReportOutcome.FAILED
    assert expected in failure_of(world)
    assert world.published().evidence_uri == METRICS_URI


def test_the_failure_reason_never_quotes_the_file(world: World) -> None:
    # Given invalid metrics carrying text that must not leave the file
    world.put_metrics({"metrics": [{"name": "exact_match", "value": SECRET, "sample_size": SECRET, SECRET: 1}]})

    world.report(job())

    reason = failure_of(world)
    assert "metrics.0.value" in reason and "metrics.0.sample_size" in reason
    assert "metrics.0.<unknown key>: Extra inputs are not permitted" in reason
    assert SECRET not in reason


def test_a_missing_metrics_file_fails_the_evaluation(world: World) -> None:
    result = world.report(job())

    assert result.outcome == ReportOutcome.FAILED
    assert failure_of(world) == f"metrics.json was not found at {METRICS_URI}"


def test_an_oversized_metrics_file_fails_without_being_read(world: World) -> None:
    # Given a metrics.json over the limit, in a store that would fail any read
    world.artifacts.put(BUCKET, METRICS_KEY, b" " * (MAX_METRICS_BYTES + 1))
    world.artifacts.read_error = AssertionError("an oversized file must not be read")

    result = world.report(job())

    assert result.outcome == ReportOutcome.FAILED
    assert failure_of(world) == f"metrics.json has {MAX_METRICS_BYTES + 1} bytes; at most {MAX_METRICS_BYTES} are read"


def test_a_job_without_the_evaluation_output_fails_the_evaluation(world: World) -> None:
    outputs = sample()["detail"]["ProcessingOutputConfig"]
    outputs["Outputs"][0]["OutputName"] = "results"

    world.report(job(ProcessingOutputConfig=outputs))

    assert "no S3 output named 'evaluation'" in failure_of(world)
    assert world.published().evidence_uri is None


# ------------------------------------------------------------------ failed and stopped jobs
def test_a_failed_job_reports_its_failure_reason(world: World) -> None:
    # Given the failed sample event / When reported
    result = world.report(job(FAILED))

    # Then the evaluation failed with SageMaker's reason, and no file was looked for
    assert result.outcome == ReportOutcome.FAILED
    assert failure_of(world) == "AlgorithmError: See job logs for more information"
    assert world.published().evidence_uri is None
    assert world.published().event_id == f"sentiment/1.0.0#evaluation#sagemaker-processing#{JOB_NAME}b"


def test_a_long_failure_reason_is_truncated_to_the_schema(world: World) -> None:
    world.report(job(FAILED, FailureReason="x" * 5000))

    reason = failure_of(world)
    assert len(reason) == MAX_FAILURE_REASON and reason.endswith("…")


def test_a_failed_job_without_a_reason_falls_back_to_its_exit_message(world: World) -> None:
    world.report(job(FAILED, FailureReason=None, ExitMessage="out of memory"))

    assert failure_of(world) == "failed: out of memory"


@pytest.mark.parametrize(
    ("exit_message", "expected"),
    [(None, "stopped"), ("MaxRuntimeInSeconds exceeded", "stopped: MaxRuntimeInSeconds exceeded")],
)
def test_a_stopped_job_fails_the_evaluation(world: World, exit_message: str | None, expected: str) -> None:
    result = world.report(job(ProcessingJobStatus="Stopped", ExitMessage=exit_message))

    assert result.outcome == ReportOutcome.FAILED
    assert failure_of(world) == expected


# ------------------------------------------------------------------ jobs that are not fmops evaluations
@pytest.mark.parametrize(
    ("environment", "why"),
    [
        (None, "no FMOPS_VERSION_ID in the job's environment"),
        ({"OTHER": "x"}, "no FMOPS_VERSION_ID in the job's environment"),
        ({"FMOPS_VERSION_ID": "sentiment"}, "FMOPS_VERSION_ID is not <group>/<version>"),
        ({"FMOPS_VERSION_ID": "sentiment/1.0.0/extra"}, "FMOPS_VERSION_ID is not <group>/<version>"),
        ({"FMOPS_VERSION_ID": "bad_group/1.0.0"}, "FMOPS_VERSION_ID is not <group>/<version>"),
        ({"FMOPS_VERSION_ID": "/1.0.0"}, "FMOPS_VERSION_ID is not <group>/<version>"),
        ({"FMOPS_VERSION_ID": ""}, "FMOPS_VERSION_ID is not <group>/<version>"),
    ],
)
def test_a_job_that_is_not_ours_is_ignored(world: World, environment: dict[str, str] | None, why: str) -> None:
    # Given a finished job that does not name an fmops version (even with metrics in place)
    world.put_metrics({"metrics": [FULL_BUILTIN]})

    # When reported
    result = world.report(job(Environment=environment) if environment is not None else job(Environment=None))

    # Then nothing is published, and the result says why
    assert result == ReportResult(ReportOutcome.IGNORED, JOB_NAME, None, why)
    assert world.bus.published == []


@pytest.mark.parametrize("status", ["InProgress", "Stopping"])
def test_a_job_that_has_not_ended_is_ignored(world: World, status: str) -> None:
    result = world.report(job(ProcessingJobStatus=status))

    assert result.outcome == ReportOutcome.IGNORED and result.reason == f"status {status} is not final"
    assert world.bus.published == []


# ------------------------------------------------------------------ transient errors
@pytest.mark.parametrize("failing", ["size_error", "read_error"])
def test_a_transient_read_error_propagates_and_nothing_is_published(world: World, failing: str) -> None:
    # Given metrics in a store that is throttling
    world.put_metrics({"metrics": [FULL_BUILTIN]})
    setattr(world.artifacts, failing, ArtifactStoreUnavailable("SlowDown"))

    # When reported / Then the error reaches the handler (Lambda retries), and no failure is invented
    with pytest.raises(ArtifactStoreUnavailable):
        world.report(job())
    assert world.bus.published == []


# ------------------------------------------------------------------ the event contract
@pytest.mark.parametrize(("name", "status"), [(COMPLETED, "Completed"), (FAILED, "Failed")])
def test_the_samples_parse_with_the_handler_model(name: str, status: str) -> None:
    event = ProcessingJobStateChanged.model_validate(sample(name))

    assert event.detail.processing_job_status == status
    assert event.detail.environment == {"FMOPS_VERSION_ID": "sentiment/1.0.0"}
    assert event.detail.output_uri("evaluation") is not None
    assert event.detail.processing_end_time == END_TIME


def test_the_handler_model_refuses_other_detail_types() -> None:
    other = sample() | {"detail-type": "SageMaker Training Job State Change"}

    with pytest.raises(ValueError, match="detail-type"):
        ProcessingJobStateChanged.model_validate(other)
