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
from collections.abc import Iterable
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from fmops.manifest import GROUP_PATTERN
from fmops.records import AuditRecord, SealedRecord

GENESIS_HASH = "0" * 64
# Events that name no valid model group still go on the record, in a chain of their own.
UNADDRESSED_CHAIN = "_unaddressed"


class ChainHead(BaseModel):
    """The last record of a chain: what the next append links to, and what anchors capture."""

    model_config = ConfigDict(defer_build=True, frozen=True)

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


# ------------------------------------------------------------------------------ verification


class BreakKind(StrEnum):
    MODIFIED = "modified"  # the record's content no longer matches its hash
    MISSING = "missing"  # records absent from the run of seq numbers (deleted)
    OUT_OF_PLACE = "out_of_place"  # a seq seen twice or going backwards (inserted or reordered)
    RELINKED = "relinked"  # prev_hash is not the hash of the record before (inserted, reordered, rewritten)
    TRUNCATED = "truncated"  # the chain ends before its head or an anchor says it did
    HEAD_MISMATCH = "head_mismatch"  # the head names another last record
    ANCHOR_MISMATCH = "anchor_mismatch"  # a record differs from the hash anchored in write-once storage


class ChainBreak(BaseModel):
    model_config = ConfigDict(defer_build=True, frozen=True)

    kind: BreakKind
    seq: int | None
    event_id: str | None
    detail: str


class ChainReport(BaseModel):
    """The outcome of walking one chain: ok, or the first broken record."""

    model_config = ConfigDict(defer_build=True, frozen=True)

    chain: str
    records: int
    last_seq: int
    anchors_checked: int
    first_break: ChainBreak | None = None

    @property
    def ok(self) -> bool:
        return self.first_break is None


def _at(record: SealedRecord, kind: BreakKind, detail: str) -> ChainBreak:
    return ChainBreak(kind=kind, seq=record.seq, event_id=record.event_id, detail=detail)


def verify_chain(
    chain: str, records: Iterable[SealedRecord], head: ChainHead | None, anchored: Iterable[ChainHead] = ()
) -> ChainReport:
    """Walk a chain in stored order (by seq) and report its first broken record.

    Every record's hash is recomputed from its content, its seq must follow the one before
    and its prev_hash must be that record's hash; the last record must be the head; and every
    anchored (seq, hash) of this chain must still be there, unchanged. Streaming: memory holds
    the anchors, not the chain.
    """
    anchors = {point.seq: point.hash for point in anchored if point.chain == chain}
    count, last_seq, prev_hash = 0, 0, GENESIS_HASH

    def report(found: ChainBreak | None) -> ChainReport:
        checked = sum(1 for seq in anchors if seq <= last_seq)
        return ChainReport(chain=chain, records=count, last_seq=last_seq, anchors_checked=checked, first_break=found)

    for record in records:
        count += 1
        if record.chain != chain:
            return report(_at(record, BreakKind.OUT_OF_PLACE, f"belongs to chain {record.chain}"))
        if record.seq <= last_seq:
            return report(_at(record, BreakKind.OUT_OF_PLACE, f"seq {record.seq} after seq {last_seq}"))
        if record.seq > last_seq + 1:
            gap = (
                f"record {last_seq + 1} is"
                if record.seq == last_seq + 2
                else f"records {last_seq + 1} to {record.seq - 1} are"
            )
            return report(_at(record, BreakKind.MISSING, f"{gap} missing before it (deleted, or moved elsewhere)"))
        if record_hash(record, record.chain, record.seq, record.prev_hash) != record.hash:
            return report(_at(record, BreakKind.MODIFIED, "content does not match its hash"))
        if record.prev_hash != prev_hash:
            detail = f"prev_hash {record.prev_hash[:12]}… is not the hash of record {last_seq} ({prev_hash[:12]}…)"
            return report(_at(record, BreakKind.RELINKED, detail))
        anchored_hash = anchors.get(record.seq)
        if anchored_hash is not None and anchored_hash != record.hash:
            detail = (
                f"hash {record.hash[:12]}… differs from the anchored {anchored_hash[:12]}…: the chain was rewritten"
            )
            return report(_at(record, BreakKind.ANCHOR_MISMATCH, detail))
        last_seq, prev_hash = record.seq, record.hash

    if head is not None and (head.seq, head.hash) != (last_seq, prev_hash):
        kind = BreakKind.TRUNCATED if head.seq > last_seq else BreakKind.HEAD_MISMATCH
        detail = f"head says seq {head.seq} ({head.hash[:12]}…), the chain ends at seq {last_seq}"
        return report(
            ChainBreak(
                kind=kind, seq=last_seq + 1 if kind == BreakKind.TRUNCATED else last_seq, event_id=None, detail=detail
            )
        )
    beyond = sorted(seq for seq in anchors if seq > last_seq)
    if beyond:
        detail = f"an anchor records seq {beyond[-1]}; the chain ends at seq {last_seq}"
        return report(ChainBreak(kind=BreakKind.TRUNCATED, seq=last_seq + 1, event_id=None, detail=detail))
    return report(None)
