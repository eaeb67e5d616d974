import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import pytest

from fmops.errors import IntakeInProgress
from fmops.intake import INTAKE_LEASE, IntakeDeps, IntakeOutcome, Upload, execution_name_for, register
from fmops.manifest import Manifest
from fmops.records import CatalogRecord
from fmops.statuses import VersionStatus

from tests.unit.builders import BUCKET, manifest_document, upload_version
from tests.unit.fakes import (
    FakeRegistry,
    FakeWorkflow,
    FixedClock,
    InMemoryArtifactStore,
    InMemoryCatalog,
    RecordingBus,
)


@dataclass
class World:
    """The fakes behind intake, kept concrete so tests can inspect them."""

    artifacts: InMemoryArtifactStore = field(default_factory=InMemoryArtifactStore)
    registry: FakeRegistry = field(default_factory=FakeRegistry)
    catalog: InMemoryCatalog = field(default_factory=InMemoryCatalog)
    bus: RecordingBus = field(default_factory=RecordingBus)
    workflow: FakeWorkflow = field(default_factory=FakeWorkflow)
    clock: FixedClock = field(default_factory=FixedClock)

    @property
    def deps(self) -> IntakeDeps:
        return IntakeDeps(self.artifacts, self.registry, self.catalog, self.bus, self.workflow, self.clock)


@pytest.fixture
def world() -> World:
    return World()


def stored(world: World, version_id: str = "sentiment/1.0.0") -> CatalogRecord:
    record = world.catalog.get(version_id)
    assert record is not None
    return record


def test_a_valid_upload_registers_the_version_and_starts_its_promotion(world: World) -> None:
    upload = upload_version(world.artifacts)

    result = register(upload, world.deps)

    record = stored(world)
    assert result.outcome == IntakeOutcome.REGISTERED
    assert record.status == VersionStatus.REGISTERED
    assert record.model_package_arn in world.registry.packages
    assert record.announced and record.submitter == "ana.silva" and record.kind == "fine-tuned"
    [event] = world.bus.published
    assert event.detail_type == "Model Version Registered"
    assert event.event_id == "sentiment/1.0.0#registered"
    assert event.correlation_id == "sentiment/1.0.0"
    assert list(world.workflow.executions) == ["sentiment_1.0.0"]


def test_the_same_upload_delivered_100_times_has_its_effects_once(world: World) -> None:
    upload = upload_version(world.artifacts)

    outcomes = [register(upload, world.deps).outcome for _ in range(100)]

    assert outcomes.count(IntakeOutcome.REGISTERED) == 1
    assert outcomes.count(IntakeOutcome.DUPLICATE) == 99
    assert len(world.registry.packages) == 1
    assert len(world.bus.published) == 1
    assert world.workflow.start_calls == 1


@pytest.mark.parametrize(
    ("mutate", "expected_code"),
    [
        (lambda doc: doc["artifacts"][0].update(sha256="0" * 64), "artifact_sha256_mismatch"),
        (lambda doc: doc["artifacts"][0].update(size_bytes=1), "artifact_size_mismatch"),
        (
            lambda doc: doc["artifacts"].append({"path": "missing.bin", "sha256": "1" * 64, "size_bytes": 3}),
            "artifact_missing",
        ),
        (lambda doc: doc.update(version="9.9.9"), "location_mismatch"),
        (lambda doc: doc.update(kind="hologram"), "unknown_kind"),
    ],
)
def test_an_invalid_version_is_rejected_with_its_reason_and_no_model_package(
    world: World, mutate: Callable[[dict[str, Any]], object], expected_code: str
) -> None:
    document = manifest_document()
    mutate(document)
    upload = upload_version(world.artifacts, document, key="models/sentiment/1.0.0/manifest.json")

    result = register(upload, world.deps)

    assert result.outcome == IntakeOutcome.REJECTED
    assert expected_code in [reason.code for reason in result.reasons]
    assert stored(world).status == VersionStatus.REJECTED
    assert world.registry.packages == {}
    assert world.workflow.executions == {}
    [event] = world.bus.published
    assert event.detail_type == "Model Version Rejected"
    assert expected_code in [reason.code for reason in event.reasons]


def test_every_artifact_problem_is_listed_at_once(world: World) -> None:
    document = manifest_document()
    document["artifacts"][0]["sha256"] = "0" * 64
    document["artifacts"][1]["size_bytes"] = 999
    upload = upload_version(world.artifacts, document)

    result = register(upload, world.deps)

    assert [reason.code for reason in result.reasons] == ["artifact_sha256_mismatch", "artifact_size_mismatch"]


def test_a_manifest_that_is_not_json_is_rejected(world: World) -> None:
    upload = upload_version(world.artifacts, raw=b"{oops", key="models/sentiment/1.0.0/manifest.json")

    result = register(upload, world.deps)

    assert [reason.code for reason in result.reasons] == ["manifest_not_json"]
    assert stored(world).reasons[0].code == "manifest_not_json"


def test_an_oversized_manifest_is_rejected_without_being_read(world: World) -> None:
    upload = upload_version(world.artifacts)
    huge = upload.__class__(bucket=upload.bucket, key=upload.key, size=10_000_000, etag="x")

    result = register(huge, world.deps)

    assert [reason.code for reason in result.reasons] == ["manifest_too_large"]
    assert world.artifacts.hashed == []


def test_a_manifest_outside_the_folder_convention_is_rejected_without_a_catalog_entry(world: World) -> None:
    upload = upload_version(world.artifacts, key="models/Bad_Group/1/manifest.json")

    result = register(upload, world.deps)

    assert [reason.code for reason in result.reasons] == ["invalid_location"]
    assert world.catalog.records == {}
    assert world.bus.published[0].version_id == "Bad_Group/1"


def test_different_content_for_a_registered_version_is_refused_and_recorded(world: World) -> None:
    register(upload_version(world.artifacts), world.deps)
    changed = manifest_document(intended_use="Something else entirely.")

    result = register(upload_version(world.artifacts, changed), world.deps)

    assert result.outcome == IntakeOutcome.REFUSED
    assert stored(world).status == VersionStatus.REGISTERED
    assert len(world.registry.packages) == 1
    assert world.bus.published[-1].detail_type == "Model Version Upload Refused"


def test_a_rejected_version_can_be_fixed_and_uploaded_again(world: World) -> None:
    broken = manifest_document()
    broken["artifacts"][0]["sha256"] = "0" * 64
    register(upload_version(world.artifacts, broken), world.deps)

    result = register(upload_version(world.artifacts, manifest_document()), world.deps)

    assert result.outcome == IntakeOutcome.REGISTERED
    assert [event.detail_type for event in world.bus.published] == [
        "Model Version Rejected",
        "Model Version Registered",
    ]


def test_a_duplicate_arriving_while_another_delivery_verifies_waits_for_a_retry(world: World) -> None:
    upload = upload_version(world.artifacts)
    _simulate_crash_after_claim(world, upload)

    with pytest.raises(IntakeInProgress):
        register(upload, world.deps)


def test_a_crashed_attempt_is_taken_over_after_its_lease_without_a_second_package(world: World) -> None:
    upload = upload_version(world.artifacts)
    _simulate_crash_after_claim(world, upload, package_created=True)
    world.clock.advance(INTAKE_LEASE + timedelta(seconds=1))

    result = register(upload, world.deps)

    assert result.outcome == IntakeOutcome.REGISTERED
    assert len(world.registry.packages) == 1
    assert stored(world).model_package_arn == next(iter(world.registry.packages))


def test_a_registered_version_whose_announcement_was_lost_is_announced_by_the_next_delivery(world: World) -> None:
    upload = upload_version(world.artifacts)
    register(upload, world.deps)
    record = stored(world)
    world.catalog.records[record.version_id] = record.model_copy(update={"announced": False})
    world.workflow.executions.clear()

    result = register(upload, world.deps)

    assert result.outcome == IntakeOutcome.DUPLICATE
    assert list(world.workflow.executions) == ["sentiment_1.0.0"]
    assert stored(world).announced


def test_execution_names_are_deterministic_valid_and_short() -> None:
    long_id = "g" * 63 + "/" + "v" * 64

    assert execution_name_for("sentiment/1.0.0") == "sentiment_1.0.0"
    assert execution_name_for(long_id) == execution_name_for(long_id)
    assert len(execution_name_for(long_id)) == 80
    assert execution_name_for(long_id) != execution_name_for("g" * 63 + "/" + "v" * 63 + "w")


def _simulate_crash_after_claim(world: World, upload: Upload, package_created: bool = False) -> None:
    """State left by an attempt that claimed the version (and maybe created its package), then died."""
    raw = world.artifacts.read(BUCKET, upload.key, 10**6)
    now = world.clock.now()
    world.catalog.claim(
        CatalogRecord(
            version_id="sentiment/1.0.0",
            model_group="sentiment",
            version="1.0.0",
            status=VersionStatus.RECEIVED,
            manifest_uri=f"s3://{BUCKET}/{upload.key}",
            manifest_sha256=hashlib.sha256(raw).hexdigest(),
            created_at=now,
            updated_at=now,
            lease_until=now + INTAKE_LEASE,
        ),
        replacing=None,
    )
    if package_created:
        manifest = Manifest.model_validate(json.loads(raw))
        world.registry.ensure_group("sentiment", "")
        world.registry.create_package(manifest, "s3://x", "sha")
