"""The audit trail's tamper evidence: records hash-chained per model group.

Every audit record belongs to the chain of its model group and holds its position
(`seq`, from 1), the hash of the record before it (`prev_hash`; 64 zeros for the
first) and its own `hash`:

    hash = lower-case hex SHA-256 of canonical_form(record)

`canonical_form` is the UTF-8 JSON of every field but `hash` (chain, seq, prev_hash,
event_id, version_id, detail_type, source, occurred_at, recorded_at, actor,
correlation_id, envelope_id, facts), keys sorted at every level, no insignificant
whitespace (separators ',' and ':'), non-ASCII kept as UTF-8, timestamps as UTC ISO 8601
with microseconds and a 'Z' (2026-11-26T12:00:00.000000Z). Anyone can recompute it from
an exported record with a few lines of any language; docs/audit.md shows how.

Changing any field of a record breaks its hash; deleting, inserting or reordering
records breaks the `prev_hash` links or the `seq` run; rewriting a whole chain
consistently is caught against the chain heads anchored in write-once storage.
"""

from __future__ import annotations

import hashlib
import json
import re
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from fmops.manifest import GROUP_PATTERN
from fmops.records import AuditRecord, SealedRecord

GENESIS_HASH = "0" * 64
# Events that name no valid model group still go on the record, in a chain of their own.
UNADDRESSED_CHAIN = "_unaddressed"


class ChainHead(BaseModel):
    """The last record of a chain: what the next append links to, and what anchors capture."""

    model_config = ConfigDict(frozen=True)

    chain: str
    seq: int = Field(ge=1)
    hash: str


def timestamp(moment: datetime) -> str:
    """The one text form of a time in the canonical form (UTC, microseconds, 'Z')."""
    utc = moment.astimezone(UTC) if moment.tzinfo else moment.replace(tzinfo=UTC)
    return utc.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def canonical_form(record: AuditRecord, chain: str, seq: int, prev_hash: str) -> bytes:
    document: dict[str, Any] = {
        "chain": chain,
        "seq": seq,
        "prev_hash": prev_hash,
        "event_id": record.event_id,
        "version_id": record.version_id,
        "detail_type": record.detail_type,
        "source": record.source,
        "occurred_at": timestamp(record.occurred_at),
        "recorded_at": timestamp(record.recorded_at),
        "actor": record.actor,
        "correlation_id": record.correlation_id,
        "envelope_id": record.envelope_id,
        "facts": record.facts,
    }
    return canonical_json(document)


def canonical_json(document: Any) -> bytes:
    return json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode()


def record_hash(record: AuditRecord, chain: str, seq: int, prev_hash: str) -> str:
    return hashlib.sha256(canonical_form(record, chain, seq, prev_hash)).hexdigest()


def seal(record: AuditRecord, chain: str, head: ChainHead | None) -> SealedRecord:
    """The record as the next link of `chain`, whose current head is `head` (None: an empty chain)."""
    seq = head.seq + 1 if head else 1
    prev_hash = head.hash if head else GENESIS_HASH
    return SealedRecord(
        **record.model_dump(),
        chain=chain,
        seq=seq,
        prev_hash=prev_hash,
        hash=record_hash(record, chain, seq, prev_hash),
    )


def chain_of(version_id: str) -> str:
    """The chain of a version id "<group>/<version>": its model group."""
    group = version_id.split("/", 1)[0]
    return group if re.fullmatch(GROUP_PATTERN, group) else UNADDRESSED_CHAIN
