"""Every sample under events/ is a valid instance of its contract, and every contract has a sample."""

import json
from pathlib import Path

import pytest

from fmops.evaluation.processing_job import ProcessingJobStateChanged
from fmops.events import FMOPS_EVENTS, DeploymentRolledBack, FmopsEnvelope, ManifestUploaded, PromotionInput

EVENTS = Path(__file__).parents[2] / "events"


def load(name: str) -> dict[str, object]:
    return json.loads((EVENTS / name).read_text())  # type: ignore[no-any-return]


def fmops_samples() -> list[Path]:
    return sorted(EVENTS.glob("fmops_*.json"))


@pytest.mark.parametrize("sample", fmops_samples(), ids=lambda path: path.name)
def test_each_fmops_sample_matches_the_schema_of_its_detail_type(sample: Path) -> None:
    envelope = FmopsEnvelope.model_validate(json.loads(sample.read_text()))

    detail = FMOPS_EVENTS[envelope.detail_type].model_validate(envelope.detail)

    # A rollback is recorded for the version put back on the stage, in the story of the version taken off.
    story = detail.rolled_back_version_id if isinstance(detail, DeploymentRolledBack) else detail.version_id
    assert detail.correlation_id == story


def test_every_fmops_detail_type_has_a_sample() -> None:
    sampled = {json.loads(path.read_text())["detail-type"] for path in fmops_samples()}

    assert sampled == set(FMOPS_EVENTS)


def test_the_s3_sample_is_the_shape_intake_parses() -> None:
    event = ManifestUploaded.model_validate(load("s3_manifest_object_created.json"))

    assert event.detail.object.key == "models/sentiment/1.0.0/manifest.json"
    assert event.detail.bucket.name.startswith("fmops-artifacts")


def test_the_promotion_input_sample_parses() -> None:
    assert PromotionInput.model_validate(load("promotion_execution_input.json")).execution_name == "sentiment_1.0.0"


@pytest.mark.parametrize("name", ["sagemaker_processing_job_completed.json", "sagemaker_processing_job_failed.json"])
def test_the_sagemaker_processing_samples_are_the_shape_the_listener_parses(name: str) -> None:
    event = ProcessingJobStateChanged.model_validate(load(name))

    assert event.detail.environment == {"FMOPS_VERSION_ID": "sentiment/1.0.0"}
    assert event.detail.output_uri("evaluation") is not None
