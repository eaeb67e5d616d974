"""The audit writer's domain: turn an fmops event into one audit record, stored once.

Deduplication is on the event's business id (`detail.event_id`), so EventBridge
retries, duplicate puts and replays all land on the same record.
The audit issue later adds hash chaining, anchoring and the auditor queries.
"""

from __future__ import annotations

from dataclasses import dataclass

from fmops.clock import Clock
from fmops.events import FMOPS_EVENTS
from fmops.ports import AuditLog
from fmops.records import AuditRecord

_KEY_FIELDS = {"event_id", "version_id", "occurred_at", "actor", "correlation_id", "schema_version"}


@dataclass(frozen=True)
class AuditDeps:
    log: AuditLog
    clock: Clock


class UnknownEventType(ValueError):
    """An fmops event whose detail-type has no schema: a contract violation, sent to the DLQ."""


@dataclass(frozen=True)
class Recorded:
    event_id: str
    stored: bool  # False when an earlier delivery already recorded this event

    def as_dict(self) -> dict[str, object]:
        return {"event_id": self.event_id, "stored": self.stored}


def record_event(
    detail_type: str, source: str, envelope_id: str, raw_detail: dict[str, object], deps: AuditDeps
) -> Recorded:
    """Validate the detail against its versioned schema and append it to the audit log once."""
    model = FMOPS_EVENTS.get(detail_type)
    if model is None:
        raise UnknownEventType(f"no schema for fmops detail-type {detail_type!r}")
    detail = model.model_validate(raw_detail)
    record = AuditRecord(
        version_id=detail.version_id,
        event_id=detail.event_id,
        detail_type=detail_type,
        source=source,
        occurred_at=detail.occurred_at,
        recorded_at=deps.clock.now(),
        actor=detail.actor,
        correlation_id=detail.correlation_id,
        envelope_id=envelope_id,
        facts=detail.model_dump(mode="json", exclude=_KEY_FIELDS),
    )
    return Recorded(event_id=record.event_id, stored=deps.log.append(record))


def timeline(records: list[AuditRecord]) -> list[AuditRecord]:
    """Audit records of one version in the order things happened."""
    return sorted(records, key=lambda record: (record.occurred_at, record.recorded_at))
