"""The hash chain: its canonical form, and verify_chain naming the first broken record for every kind of tampering."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta

from fmops.ledger import (
    GENESIS_HASH,
    BreakKind,
    ChainHead,
    canonical_form,
    record_hash,
    seal,
    verify_chain,
)
from fmops.records import AuditRecord, SealedRecord

AT = datetime(2026, 11, 26, 12, tzinfo=UTC)


def record(n: int, actor: str = "ana.silva", version: str = "1.0.0") -> AuditRecord:
    return AuditRecord(
        version_id=f"sentiment/{version}",
        event_id=f"sentiment/{version}#event-{n}",
        detail_type="Model Version Registered",
        source="fmops",
        occurred_at=AT + timedelta(seconds=n),
        recorded_at=AT + timedelta(seconds=n, milliseconds=5),
        actor=actor,
        correlation_id=f"sentiment/{version}",
        envelope_id=f"envelope-{n}",
        facts={"n": n, "score": 0.68, "note": "prüfung"},
    )


def build(count: int, chain: str = "sentiment") -> list[SealedRecord]:
    records: list[SealedRecord] = []
    head: ChainHead | None = None
    for n in range(1, count + 1):
        sealed = seal(record(n), chain, head)
        records.append(sealed)
        head = head_of(sealed)
    return records


def head_of(sealed: SealedRecord) -> ChainHead:
    return ChainHead(chain=sealed.chain, seq=sealed.seq, hash=sealed.hash)


def reseal(records: list[SealedRecord]) -> list[SealedRecord]:
    """A consistent rewrite: every record sealed again onto the one before (what a forger with write access does)."""
    rewritten: list[SealedRecord] = []
    head: ChainHead | None = None
    for old in records:
        plain = AuditRecord.model_validate(old.model_dump(exclude={"chain", "seq", "prev_hash", "hash"}))
        sealed = seal(plain, old.chain, head)
        rewritten.append(sealed)
        head = head_of(sealed)
    return rewritten


# ------------------------------------------------------------------------------ canonical form


def test_the_canonical_form_is_sorted_compact_utf8_json_of_every_field_but_the_hash() -> None:
    # Given the first record of a chain
    first = record(1)

    # When its canonical form is taken
    form = canonical_form(first, "sentiment", 1, GENESIS_HASH)

    # Then keys are sorted at every level, with no whitespace, non-ASCII kept, times with microseconds and Z
    assert form.startswith(b'{"actor":"ana.silva","chain":"sentiment","correlation_id":"sentiment/1.0.0"')
    assert b'"facts":{"n":1,"note":"pr\xc3\xbcfung","score":0.68}' in form
    assert b'"occurred_at":"2026-11-26T12:00:01.000000Z"' in form
    assert b" " not in form.replace(b"Model Version Registered", b"")
    assert b'"hash"' not in form
    # And the hash is its plain SHA-256, which anyone can recompute
    assert record_hash(first, "sentiment", 1, GENESIS_HASH) == hashlib.sha256(form).hexdigest()


def test_sealing_links_each_record_to_the_hash_of_the_one_before() -> None:
    first, second = build(2)
    assert (first.seq, first.prev_hash) == (1, GENESIS_HASH)
    assert (second.seq, second.prev_hash) == (2, first.hash)


# ------------------------------------------------------------------------------ verify_chain


def test_an_untouched_chain_verifies_against_its_head_and_anchors() -> None:
    # Given a chain of 5 records, its head, and an anchor taken at seq 3
    records = build(5)

    # When it is verified
    report = verify_chain("sentiment", records, head_of(records[-1]), [head_of(records[2])])

    # Then it is intact, all 5 records were read and the anchor was checked
    assert report.ok
    assert (report.records, report.last_seq, report.anchors_checked) == (5, 5, 1)


def test_a_modified_record_is_named() -> None:
    # Given a chain whose third record's actor was changed in place
    records = build(5)
    records[2] = records[2].model_copy(update={"actor": "mallory"})

    # When it is verified
    report = verify_chain("sentiment", records, head_of(records[-1]))

    # Then the break is that record: its content no longer matches its hash
    assert report.first_break is not None
    assert (report.first_break.kind, report.first_break.seq) == (BreakKind.MODIFIED, 3)
    assert report.first_break.event_id == "sentiment/1.0.0#event-3"


def test_a_record_deleted_from_the_middle_is_reported_as_missing_before_the_next() -> None:
    # Given a chain of 5 whose record 3 was deleted
    records = build(5)
    head = head_of(records[-1])
    del records[2]

    report = verify_chain("sentiment", records, head)

    # Then the walk stops at record 4, which says record 3 is missing
    assert report.first_break is not None
    assert (report.first_break.kind, report.first_break.seq) == (BreakKind.MISSING, 4)
    assert "record 3 is missing" in report.first_break.detail


def test_records_deleted_from_the_end_are_caught_by_the_head() -> None:
    # Given a chain of 5 whose last two records were deleted (the head still says seq 5)
    records = build(5)
    head = head_of(records[-1])

    report = verify_chain("sentiment", records[:3], head)

    # Then the chain is reported truncated after seq 3
    assert report.first_break is not None
    assert (report.first_break.kind, report.first_break.seq) == (BreakKind.TRUNCATED, 4)


def test_records_deleted_from_the_end_with_the_head_moved_back_are_caught_by_an_anchor() -> None:
    # Given the last two records deleted and the head rewound to seq 3, after an anchor saw seq 5
    records = build(5)
    anchored = [head_of(records[-1])]

    report = verify_chain("sentiment", records[:3], head_of(records[2]), anchored)

    # Then the anchor says the chain went further
    assert report.first_break is not None
    assert (report.first_break.kind, report.first_break.seq) == (BreakKind.TRUNCATED, 4)


def test_an_inserted_record_is_out_of_place() -> None:
    # Given a forged record sealed onto record 2 and stored between records 2 and 3 (both claim seq 3)
    records = build(5)
    forged = seal(record(99, actor="mallory"), "sentiment", head_of(records[1]))
    records.insert(2, forged)

    report = verify_chain("sentiment", records, head_of(records[-1]))

    # Then the forgery itself looks sound, but the real record 3 after it does not fit
    assert report.first_break is not None
    assert (report.first_break.kind, report.first_break.seq) == (BreakKind.OUT_OF_PLACE, 3)
    assert report.first_break.event_id == "sentiment/1.0.0#event-3"


def test_an_inserted_record_with_the_later_records_renumbered_breaks_their_hashes() -> None:
    # Given a forged record at seq 3 and every later record's seq moved up by one (hashes untouched)
    records = build(5)
    forged = seal(record(99, actor="mallory"), "sentiment", head_of(records[1]))
    shifted = [r.model_copy(update={"seq": r.seq + 1}) for r in records[2:]]

    report = verify_chain("sentiment", [*records[:2], forged, *shifted], head_of(records[-1]))

    # Then the first renumbered record no longer matches its hash
    assert report.first_break is not None
    assert (report.first_break.kind, report.first_break.seq) == (BreakKind.MODIFIED, 4)


def test_reordered_records_are_out_of_place() -> None:
    # Given records 3 and 4 swapped
    records = build(5)
    records[2], records[3] = records[3], records[2]

    report = verify_chain("sentiment", records, head_of(records[-1]))

    # Then record 4 shows up where record 3 should be: record 3 is missing before it
    assert report.first_break is not None
    assert (report.first_break.kind, report.first_break.seq) == (BreakKind.MISSING, 4)


def test_reordered_records_renumbered_to_fit_break_their_hashes() -> None:
    # Given records 3 and 4 swapped and given each other's seq (so the run of numbers looks right)
    records = build(5)
    third, fourth = records[2], records[3]
    records[2], records[3] = fourth.model_copy(update={"seq": 3}), third.model_copy(update={"seq": 4})

    report = verify_chain("sentiment", records, head_of(records[-1]))

    assert report.first_break is not None
    assert (report.first_break.kind, report.first_break.seq) == (BreakKind.MODIFIED, 3)


def test_a_record_relinked_to_another_predecessor_is_named() -> None:
    # Given record 4 re-sealed (valid hash) with a prev_hash that is not record 3's
    records = build(5)
    plain = AuditRecord.model_validate(records[3].model_dump(exclude={"chain", "seq", "prev_hash", "hash"}))
    records[3] = seal(plain, "sentiment", ChainHead(chain="sentiment", seq=3, hash="f" * 64))

    report = verify_chain("sentiment", records, head_of(records[-1]))

    assert report.first_break is not None
    assert (report.first_break.kind, report.first_break.seq) == (BreakKind.RELINKED, 4)


def test_a_head_that_names_another_last_record_is_a_mismatch() -> None:
    records = build(3)
    report = verify_chain("sentiment", records, ChainHead(chain="sentiment", seq=3, hash="e" * 64))
    assert report.first_break is not None
    assert (report.first_break.kind, report.first_break.seq) == (BreakKind.HEAD_MISMATCH, 3)


def test_a_chain_rewritten_consistently_passes_alone_but_an_older_anchor_catches_it() -> None:
    # Given a chain anchored at seq 4, then record 2's actor changed and every record re-sealed, head included
    records = build(6)
    anchored = [head_of(records[3])]
    records[1] = records[1].model_copy(update={"actor": "mallory"})
    rewritten = reseal(records)
    new_head = head_of(rewritten[-1])

    # When it is verified without anchors, it is self-consistent
    assert verify_chain("sentiment", rewritten, new_head).ok

    # But against the anchor, the record the anchor saw no longer has its hash
    report = verify_chain("sentiment", rewritten, new_head, anchored)
    assert report.first_break is not None
    assert (report.first_break.kind, report.first_break.seq) == (BreakKind.ANCHOR_MISMATCH, 4)
    assert "rewritten" in report.first_break.detail


def test_a_rewrite_after_the_last_anchor_is_not_caught_until_the_next_anchor() -> None:
    # Given an anchor at seq 2 and a consistent rewrite of records 4 to 6 only
    records = build(6)
    anchored = [head_of(records[1])]
    records[4] = records[4].model_copy(update={"actor": "mallory"})
    rewritten = reseal(records)

    # Then the rewrite passes: anchors protect what they have seen (docs/audit.md says so)
    assert verify_chain("sentiment", rewritten, head_of(rewritten[-1]), anchored).ok


def test_anchors_of_other_chains_are_ignored() -> None:
    records = build(3)
    other = ChainHead(chain="fraud", seq=2, hash="d" * 64)
    report = verify_chain("sentiment", records, head_of(records[-1]), [other])
    assert report.ok and report.anchors_checked == 0


def test_a_record_of_another_chain_is_out_of_place() -> None:
    records = build(3)
    stranger = build(1, chain="fraud")[0]
    report = verify_chain("sentiment", [*records, stranger], head_of(records[-1]))
    assert report.first_break is not None
    assert report.first_break.kind == BreakKind.OUT_OF_PLACE
