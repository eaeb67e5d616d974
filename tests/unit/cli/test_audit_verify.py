"""`fmops audit verify`: one line per chain, a summary, and the exit status, over in-memory fakes."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import pytest

from fmops.anchoring import AnchorDeps, anchor_heads
from fmops.ledger import ChainHead
from fmops.records import AuditRecord, SealedRecord
from fmops_cli.audit_verify import render_text, to_document, verify_trail
from fmops_cli.errors import CliError
from fmops_cli.main import main

from tests.unit.fakes import FixedClock, InMemoryAnchorStore, InMemoryAuditLog

AT = datetime(2026, 11, 26, 12, tzinfo=UTC)


@dataclass
class Log:
    """The audit log as the verifier reads it (head, heads, chain), over the in-memory fake."""

    memory: InMemoryAuditLog = field(default_factory=InMemoryAuditLog)
    stored: dict[str, list[SealedRecord]] = field(default_factory=dict)  # what `chain` returns, editable

    def add(self, chain: str, count: int) -> None:
        for n in range(count):
            self.memory.append(
                AuditRecord(
                    version_id=f"{chain}/1.0.0", event_id=f"{chain}#{n}", detail_type="Model Version Registered",
                    source="fmops", occurred_at=AT, recorded_at=AT, actor="ana.silva",
                    correlation_id=f"{chain}/1.0.0", envelope_id=f"e{n}", facts={"n": n},
                ),
                chain,
            )  # fmt: skip
        self.stored[chain] = self.memory.chain(chain)

    def head(self, chain: str) -> ChainHead | None:
        return self.memory.heads.get(chain)

    def heads(self) -> list[ChainHead]:
        return list(self.memory.heads.values())

    def chain(self, chain: str) -> list[SealedRecord]:
        return list(self.stored.get(chain, []))


def anchored(log: Log) -> InMemoryAnchorStore:
    store = InMemoryAnchorStore()
    anchor_heads(AnchorDeps(heads=log, store=store, clock=FixedClock()))
    return store


def test_an_intact_trail_reports_each_chain_ok_with_its_anchors() -> None:
    # Given two chains, anchored
    log = Log()
    log.add("sentiment", 4)
    log.add("fraud", 2)
    store = anchored(log)

    # When the trail is verified
    trail = verify_trail(log, store)

    # Then both are ok, one anchor was read, and the summary counts the records
    assert trail.ok and trail.records == 6 and trail.anchors_read == 1
    text = render_text(trail)
    assert "fraud      ok      2 records, last seq 2, 1 anchored head(s) checked" in text
    assert "2 chain(s), 0 broken; 1 anchor(s) read, 0 tampered: the audit trail is intact." in text
    assert "records/s" in text


def test_a_broken_chain_names_its_first_broken_record() -> None:
    log = Log()
    log.add("sentiment", 4)
    store = anchored(log)
    log.stored["sentiment"][1] = log.stored["sentiment"][1].model_copy(update={"actor": "mallory"})

    trail = verify_trail(log, store, "sentiment")

    assert not trail.ok
    assert "sentiment  BROKEN  at seq 2 event sentiment#1: modified: content does not match its hash" in render_text(
        trail
    )
    [chain] = to_document(trail)["chains"]
    assert chain["first_break"]["kind"] == "modified" and chain["ok"] is False


def test_a_chain_deleted_entirely_is_still_checked_against_its_anchors() -> None:
    # Given a chain anchored, then its records and its head deleted
    log = Log()
    log.add("sentiment", 3)
    store = anchored(log)
    del log.memory.heads["sentiment"]
    log.stored["sentiment"] = []

    trail = verify_trail(log, store)

    [report] = trail.chains
    assert report.first_break is not None and report.first_break.kind == "truncated"


def rewrite(log: Log, chain: str, seq: int) -> None:
    """Change record `seq`'s actor and re-seal the whole chain onto itself, head included (consistently)."""
    from fmops.ledger import seal

    head: ChainHead | None = None
    rewritten = []
    for old in log.stored[chain]:
        plain = AuditRecord.model_validate(old.model_dump(exclude={"chain", "seq", "prev_hash", "hash"}))
        if old.seq == seq:
            plain = plain.model_copy(update={"actor": "mallory"})
        sealed = seal(plain, chain, head)
        rewritten.append(sealed)
        head = ChainHead(chain=chain, seq=sealed.seq, hash=sealed.hash)
    assert head is not None
    log.stored[chain] = rewritten
    log.memory.heads[chain] = head


def test_a_rewrite_stays_caught_after_later_anchors_record_the_rewritten_head() -> None:
    # Given an anchored chain, rewritten consistently, then anchored again (the new anchor sees the rewrite)
    log = Log()
    log.add("sentiment", 4)
    store = anchored(log)
    rewrite(log, "sentiment", 2)
    clock = FixedClock()
    clock.advance(timedelta(hours=1))
    anchor_heads(AnchorDeps(heads=log, store=store, clock=clock))

    trail = verify_trail(log, store)

    # Then the earliest anchor still disagrees, and no anchor is blamed
    [report] = trail.chains
    assert report.first_break is not None and report.first_break.kind == "anchor_mismatch"
    assert report.first_break.seq == 4 and trail.tampered_anchors == []


def test_a_forged_backdated_anchor_matching_a_rewrite_still_leaves_the_chain_broken() -> None:
    # Given an anchored chain, rewritten, and a forged anchor dated before the genuine one that agrees with it
    log = Log()
    log.add("sentiment", 4)
    store = anchored(log)
    rewrite(log, "sentiment", 2)
    clock = FixedClock()
    clock.advance(-timedelta(days=1))
    anchor_heads(AnchorDeps(heads=log, store=store, clock=clock))

    trail = verify_trail(log, store)

    # Then the chain matches the forgery but not the genuine anchor: the dispute is the break
    [report] = trail.chains
    assert report.first_break is not None and report.first_break.kind == "anchor_mismatch"
    assert "anchors recorded different hashes for seq 4" in report.first_break.detail


def test_a_tampered_anchor_fails_the_run_even_when_every_chain_is_intact() -> None:
    log = Log()
    log.add("sentiment", 2)
    store = anchored(log)
    [key] = store.versions
    store.versions[key][0] = store.versions[key][0].replace('"seq":2', '"seq":3')

    trail = verify_trail(log, store)

    assert all(report.ok for report in trail.chains) and not trail.ok
    assert "TAMPERED" in render_text(trail)


def test_an_unknown_group_is_an_error() -> None:
    with pytest.raises(CliError, match="no chain for model group 'nope'"):
        verify_trail(Log(), InMemoryAnchorStore(), "nope")


def test_an_invalid_group_name_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["audit", "verify", "Not A Group", "--audit-table", "t", "--anchor-bucket", "b"]) == 2
    assert "is not a model group name" in capsys.readouterr().err


def test_without_resources_or_a_local_cloud_it_says_which_flags_to_pass(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["audit", "verify"]) == 2
    assert "--anchor-bucket" in capsys.readouterr().err
