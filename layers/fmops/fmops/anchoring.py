"""Anchors: every chain head, copied on a schedule into write-once storage.

The hash chain alone shows that records were changed, deleted or inserted, but not that a
whole chain was rewritten consistently (re-sealed record by record, head updated): whoever can
write the audit table could do that. An anchor is a dated copy of every chain head, written to
an S3 bucket under Object Lock in COMPLIANCE mode, which no one (the account's root included)
can delete or alter before its retention ends. A rewrite after an anchor changes a hash the
anchor recorded, and `ledger.verify_chain` reports it as `anchor_mismatch` (or `truncated`).

An anchor document (JSON, one per object, `anchors/<YYYY>/<MM>/<DD>/<anchored_at>.json`):

    {"schema_version": "1", "anchored_at": "2026-11-26T12:00:00.000000Z",
     "heads": [{"chain": "sentiment", "seq": 7, "hash": "<64 hex>"}, ...],
     "digest": "<64 hex>"}

`digest` is the lower-case hex SHA-256 of `ledger.canonical_json` of the heads sorted by chain
(a list of {"chain", "seq", "hash"} objects): a document whose heads were edited no longer
matches its digest and is reported as tampered instead of being trusted.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Literal, Protocol

from pydantic import BaseModel, ConfigDict, Field, field_serializer

from fmops.clock import Clock
from fmops.ledger import ChainHead, canonical_json, timestamp

SCHEMA_VERSION: Literal["1"] = "1"
PREFIX = "anchors/"


class Anchor(BaseModel):
    """Every chain head at one moment, with the digest that seals them."""

    model_config = ConfigDict(defer_build=True, frozen=True)

    schema_version: Literal["1"] = SCHEMA_VERSION
    anchored_at: datetime
    heads: list[ChainHead]
    digest: str
    # Where the document was read from (s3://bucket/key?versionId=...): for reports, never stored.
    source: str | None = Field(default=None, exclude=True)
    # Set when a stored object is not even an anchor document (not JSON, not this schema).
    problem: str | None = Field(default=None, exclude=True)

    @classmethod
    def unreadable(cls, source: str, problem: str, at: datetime) -> Anchor:
        """Stands for a stored object that cannot be read as an anchor, so it is reported, not skipped."""
        return cls(anchored_at=at, heads=[], digest="", source=source, problem=problem)

    @field_serializer("anchored_at")
    def _anchored_at(self, value: datetime) -> str:
        return timestamp(value)

    @property
    def intact(self) -> bool:
        """True when the heads still match the digest written with them."""
        return self.problem is None and heads_digest(self.heads) == self.digest

    def heads_of(self, chain: str) -> list[ChainHead]:
        return [head for head in self.heads if head.chain == chain]


def heads_digest(heads: Iterable[ChainHead]) -> str:
    ordered = sorted(heads, key=lambda head: (head.chain, head.seq))
    return hashlib.sha256(canonical_json([head.model_dump(mode="json") for head in ordered])).hexdigest()


def new_anchor(heads: Iterable[ChainHead], at: datetime) -> Anchor:
    ordered = sorted(heads, key=lambda head: (head.chain, head.seq))
    return Anchor(anchored_at=at, heads=ordered, digest=heads_digest(ordered))


def anchor_key(anchor: Anchor) -> str:
    moment = timestamp(anchor.anchored_at)
    return f"{PREFIX}{moment[:4]}/{moment[5:7]}/{moment[8:10]}/{moment}.json"


class ChainHeads(Protocol):
    def heads(self) -> list[ChainHead]:
        """Every chain's current head."""
        ...


class AnchorStore(Protocol):
    def put(self, key: str, anchor: Anchor) -> str:
        """Write the anchor once, under write-once retention; returns where it is (s3://...)."""
        ...

    def anchors(self) -> list[Anchor]:
        """Every anchor document ever written, each stored version included (an overwrite cannot hide one).

        Digests are not checked here: `check_anchors` does, so a tampered document is reported, not dropped."""
        ...


@dataclass(frozen=True)
class AnchorDeps:
    heads: ChainHeads
    store: AnchorStore
    clock: Clock


def anchor_heads(deps: AnchorDeps) -> Anchor:
    """Copy every chain head into one new anchor (an empty trail is anchored too: it says so, dated)."""
    anchor = new_anchor(deps.heads.heads(), deps.clock.now())
    deps.store.put(anchor_key(anchor), anchor)
    return anchor


# ------------------------------------------------------------------------------ reading back


@dataclass(frozen=True)
class TamperedAnchor:
    source: str
    detail: str


@dataclass(frozen=True)
class AnchorCheck:
    """The anchors that can be trusted, and those that cannot (each tampered one is itself a break)."""

    trusted: list[Anchor]
    tampered: list[TamperedAnchor]

    def anchored(self, chain: str) -> list[ChainHead]:
        """One anchored point per seq of `chain`: the earliest anchor's, as the least likely to postdate tampering."""
        earliest: dict[int, ChainHead] = {}
        for anchor in sorted(self.trusted, key=lambda anchor: anchor.anchored_at):
            for head in anchor.heads_of(chain):
                earliest.setdefault(head.seq, head)
        return sorted(earliest.values(), key=lambda head: head.seq)

    def disputed(self, chain: str) -> dict[int, set[str]]:
        """The seqs of `chain` for which trusted anchors recorded different hashes, with those hashes.

        Anchors copy whatever the table holds: one taken after a rewrite records the rewritten head.
        So a dispute is evidence against the chain, not the anchors: it cannot match them all."""
        hashes: dict[int, set[str]] = {}
        for anchor in self.trusted:
            for head in anchor.heads_of(chain):
                hashes.setdefault(head.seq, set()).add(head.hash)
        return {seq: found for seq, found in hashes.items() if len(found) > 1}

    def chains(self) -> set[str]:
        return {head.chain for anchor in self.trusted for head in anchor.heads}


def check_anchors(anchors: Iterable[Anchor]) -> AnchorCheck:
    """Trust the anchors whose digest matches their heads; report the others as tampered."""
    trusted: list[Anchor] = []
    tampered: list[TamperedAnchor] = []
    for anchor in anchors:
        if anchor.intact:
            trusted.append(anchor)
        else:
            where = anchor.source or anchor_key(anchor)
            detail = anchor.problem or f"digest {anchor.digest[:12]}… does not match its heads"
            tampered.append(TamperedAnchor(where, detail))
    return AnchorCheck(trusted=trusted, tampered=tampered)
