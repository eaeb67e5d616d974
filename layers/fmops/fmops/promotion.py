"""Steps of the promotion state machine (one Standard execution per model version)."""

from __future__ import annotations

from dataclasses import dataclass

from fmops.clock import Clock
from fmops.errors import VersionNotFound
from fmops.events import ModelVersionPromotionStarted, PromotionInput
from fmops.ports import Catalog, EventBus
from fmops.statuses import VersionStatus

ACTOR = "fmops:promotion"


@dataclass(frozen=True)
class PromotionDeps:
    catalog: Catalog
    bus: EventBus
    clock: Clock


def start_promotion(promotion: PromotionInput, deps: PromotionDeps) -> dict[str, str]:
    """Move a registered version to PendingEvaluation. Re-running the step (a retried task) changes nothing."""
    record = deps.catalog.get(promotion.version_id)
    if record is None:
        raise VersionNotFound(promotion.version_id)
    if record.status == VersionStatus.REGISTERED:
        record = deps.catalog.transition(record, VersionStatus.PENDING_EVALUATION, deps.clock.now())
        deps.bus.publish(
            ModelVersionPromotionStarted(
                event_id=f"{record.version_id}#promotion-started",
                correlation_id=promotion.correlation_id,
                version_id=record.version_id,
                occurred_at=record.updated_at,
                actor=ACTOR,
                execution_name=promotion.execution_name,
            )
        )
    return {"version_id": record.version_id, "status": record.status.value, "correlation_id": promotion.correlation_id}
