from datetime import UTC, datetime

import pytest

from fmops.errors import VersionNotFound
from fmops.events import PromotionInput
from fmops.promotion import PromotionDeps, start_promotion
from fmops.records import CatalogRecord
from fmops.statuses import VersionStatus

from tests.unit.fakes import FixedClock, InMemoryCatalog, RecordingBus

PROMOTION = PromotionInput(
    version_id="sentiment/1.0.0", correlation_id="sentiment/1.0.0", execution_name="sentiment_1.0.0"
)


def registered() -> CatalogRecord:
    at = datetime(2026, 11, 26, tzinfo=UTC)
    return CatalogRecord(
        version_id="sentiment/1.0.0",
        model_group="sentiment",
        version="1.0.0",
        status=VersionStatus.REGISTERED,
        manifest_uri="s3://b/models/sentiment/1.0.0/manifest.json",
        manifest_sha256="a" * 64,
        created_at=at,
        updated_at=at,
    )


def test_starting_the_promotion_moves_the_version_to_pending_evaluation_once() -> None:
    catalog, bus = InMemoryCatalog({"sentiment/1.0.0": registered()}), RecordingBus()
    deps = PromotionDeps(catalog=catalog, bus=bus, clock=FixedClock())

    first = start_promotion(PROMOTION, deps)
    retried = start_promotion(PROMOTION, deps)

    expected = {"version_id": "sentiment/1.0.0", "status": "PendingEvaluation", "correlation_id": "sentiment/1.0.0"}
    assert first == expected
    assert retried == expected
    assert [event.detail_type for event in bus.published] == ["Model Version Promotion Started"]


def test_a_promotion_for_an_unknown_version_fails_with_a_named_error() -> None:
    deps = PromotionDeps(catalog=InMemoryCatalog(), bus=RecordingBus(), clock=FixedClock())

    with pytest.raises(VersionNotFound):
        start_promotion(PROMOTION, deps)
