"""Collaborators that several handlers share, built from their settings (each handler caches its own)."""

from fmops.adapters.dynamodb import DynamoCatalog
from fmops.adapters.events import EventBridgeBus
from fmops.clock import SystemClock
from fmops.promotion import PromotionDeps
from fmops.settings import PromotionSettings, load


def promotion_deps() -> PromotionDeps:
    """For the promotion steps that only read and write the catalog and publish (start, request, reject)."""
    settings = load(PromotionSettings)
    return PromotionDeps(
        catalog=DynamoCatalog(settings.catalog_table), bus=EventBridgeBus(settings.event_bus_name), clock=SystemClock()
    )
