"""Anchors: every chain head copied into write-once storage, and read back only if its digest still holds."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import timedelta

from fmops.anchoring import Anchor, AnchorDeps, anchor_heads, anchor_key, check_anchors, heads_digest
from fmops.ledger import ChainHead, canonical_json

from tests.unit.fakes import FixedClock, InMemoryAnchorStore

SENTIMENT = ChainHead(chain="sentiment", seq=7, hash="a" * 64)
FRAUD = ChainHead(chain="fraud", seq=2, hash="b" * 64)


@dataclass
class FixedHeads:
    current: list[ChainHead]

    def heads(self) -> list[ChainHead]:
        return list(self.current)


def deps(heads: list[ChainHead], store: InMemoryAnchorStore, clock: FixedClock | None = None) -> AnchorDeps:
    return AnchorDeps(heads=FixedHeads(heads), store=store, clock=clock or FixedClock())


def test_an_anchor_holds_every_head_sorted_by_chain_under_a_dated_key() -> None:
    # Given two chains
    store = InMemoryAnchorStore()

    # When the heads are anchored
    anchor = anchor_heads(deps([SENTIMENT, FRAUD], store))

    # Then one document is written, dated, under anchors/<YYYY>/<MM>/<DD>/<anchored_at>.json
    [key] = store.versions
    assert key == "anchors/2026/11/26/2026-11-26T12:00:00.000000Z.json" == anchor_key(anchor)
    document = json.loads(store.versions[key][0])
    assert document["schema_version"] == "1"
    assert document["anchored_at"] == "2026-11-26T12:00:00.000000Z"
    assert [head["chain"] for head in document["heads"]] == ["fraud", "sentiment"]
    assert set(document) == {"schema_version", "anchored_at", "heads", "digest"}


def test_the_digest_is_the_sha256_of_the_canonical_json_of_the_sorted_heads() -> None:
    anchor = anchor_heads(deps([SENTIMENT, FRAUD], InMemoryAnchorStore()))
    expected = canonical_json([FRAUD.model_dump(), SENTIMENT.model_dump()])
    assert expected.startswith(b'[{"chain":"fraud","hash":"bbbb')
    assert anchor.digest == hashlib.sha256(expected).hexdigest() == heads_digest([SENTIMENT, FRAUD])


def test_an_empty_trail_is_anchored_too() -> None:
    anchor = anchor_heads(deps([], InMemoryAnchorStore()))
    assert anchor.heads == [] and anchor.intact


def test_anchors_read_back_are_trusted_when_their_digest_holds() -> None:
    # Given two anchors written an hour apart
    store, clock = InMemoryAnchorStore(), FixedClock()
    anchor_heads(deps([SENTIMENT], store, clock))
    clock.advance(timedelta(hours=1))
    anchor_heads(deps([SENTIMENT.model_copy(update={"seq": 8, "hash": "c" * 64}), FRAUD], store, clock))

    # When they are read and checked
    checked = check_anchors(store.anchors())

    # Then both are trusted and give every anchored point of a chain
    assert len(checked.trusted) == 2 and checked.tampered == []
    assert [(head.seq, head.hash[0]) for head in checked.anchored("sentiment")] == [(7, "a"), (8, "c")]
    assert checked.chains() == {"sentiment", "fraud"}


def test_an_anchor_whose_heads_were_altered_is_reported_as_tampered_and_not_trusted() -> None:
    # Given an anchor whose recorded hash was edited after it was written (its digest left as it was)
    store = InMemoryAnchorStore()
    anchor_heads(deps([SENTIMENT, FRAUD], store))
    [key] = store.versions
    document = json.loads(store.versions[key][0])
    document["heads"][1]["hash"] = "f" * 64
    store.versions[key][0] = json.dumps(document)

    # When the anchors are checked
    checked = check_anchors(store.anchors())

    # Then that anchor is tampered, and nothing it says is used
    assert checked.trusted == []
    [tampered] = checked.tampered
    assert tampered.source.startswith(f"memory://{key}")
    assert "does not match its heads" in tampered.detail


def test_an_anchor_whose_digest_was_altered_is_reported_as_tampered() -> None:
    store = InMemoryAnchorStore()
    anchor_heads(deps([SENTIMENT], store))
    [key] = store.versions
    document = json.loads(store.versions[key][0])
    document["digest"] = "0" * 64
    store.versions[key][0] = json.dumps(document)

    checked = check_anchors(store.anchors())

    assert checked.trusted == [] and len(checked.tampered) == 1


def test_anchors_that_disagree_about_a_seq_are_a_dispute_and_the_earliest_is_the_one_checked() -> None:
    # Given an anchor, and a later one (a new version of the same key, or taken after a rewrite) that records
    # another hash for the same seq, with its own valid digest
    store, clock = InMemoryAnchorStore(), FixedClock()
    genuine = anchor_heads(deps([SENTIMENT], store, clock))
    clock.advance(timedelta(hours=1))
    later = SENTIMENT.model_copy(update={"hash": "9" * 64})
    store.put(anchor_key(genuine), Anchor(anchored_at=clock.now(), heads=[later], digest=heads_digest([later])))

    # When the anchors are checked
    checked = check_anchors(store.anchors())

    # Then both versions are read (an overwrite hides nothing) and both are intact documents
    assert len(checked.trusted) == 2 and checked.tampered == []
    # And the seq they disagree on is disputed, the chain checked against the earliest
    assert checked.disputed("sentiment") == {7: {"a" * 64, "9" * 64}}
    assert checked.anchored("sentiment") == [SENTIMENT]


def test_an_unreadable_document_is_reported_as_tampered() -> None:
    stand_in = Anchor.unreadable(
        "s3://anchors/x.json?versionId=1", "not an anchor document: Invalid JSON", FixedClock().now()
    )
    checked = check_anchors([stand_in])
    assert checked.trusted == []
    assert [t.detail for t in checked.tampered] == ["not an anchor document: Invalid JSON"]
