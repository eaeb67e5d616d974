"""How fast `verify_chain` walks a chain, beside the raw SHA-256 rate of this machine (a measurement, not a test).

    .venv/bin/python benchmarks/verify_throughput.py [--records 100000] [--repeat 3]

Builds one chain in memory with ledger.seal (realistic records: a dozen fields and a small facts
object), then times verify_chain over it, and hashlib.sha256 over the same records' canonical
forms, precomputed: the ratio says how much of verification is hashing and how much is the rest
(canonical JSON, pydantic attribute access, the checks). Best of --repeat runs of each.
"""

from __future__ import annotations

import argparse
import hashlib
import platform
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from fmops.ledger import ChainHead, canonical_form, seal, verify_chain
from fmops.records import AuditRecord, SealedRecord

AT = datetime(2026, 11, 26, 12, tzinfo=UTC)


def build(count: int) -> list[SealedRecord]:
    records: list[SealedRecord] = []
    head: ChainHead | None = None
    for n in range(1, count + 1):
        record = AuditRecord(
            version_id=f"sentiment/{n // 20}.0.0",
            event_id=f"sentiment/{n // 20}.0.0#event-{n}",
            detail_type="Model Version Gate Decided",
            source="fmops",
            occurred_at=AT + timedelta(seconds=n),
            recorded_at=AT + timedelta(seconds=n, milliseconds=7),
            actor="fmops:gate",
            correlation_id=f"sentiment/{n // 20}.0.0",
            envelope_id=f"9c2d1f0e-7a51-4b8e-9f4e-{n:012d}",
            facts={"passed": n % 3 != 0, "metrics": {"accuracy": 0.91, "f1": 0.88}, "policy_version": "3"},
        )
        sealed = seal(record, "sentiment", head)
        records.append(sealed)
        head = ChainHead(chain="sentiment", seq=sealed.seq, hash=sealed.hash)
    return records


def best_of(repeat: int, run: Callable[[], None]) -> float:
    timings = []
    for _ in range(repeat):
        started = time.perf_counter()
        run()
        timings.append(time.perf_counter() - started)
    return min(timings)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()

    started = time.perf_counter()
    records = build(args.records)
    built = time.perf_counter() - started
    last = records[-1]
    head = ChainHead(chain="sentiment", seq=last.seq, hash=last.hash)
    anchored = [ChainHead(chain="sentiment", seq=r.seq, hash=r.hash) for r in records[:: max(1, args.records // 24)]]
    forms = [canonical_form(r, r.chain, r.seq, r.prev_hash) for r in records]
    mean_bytes = sum(map(len, forms)) / len(forms)

    def verify() -> None:
        assert verify_chain("sentiment", records, head, anchored).ok

    def raw() -> None:
        for form in forms:
            hashlib.sha256(form).hexdigest()

    verify_s = best_of(args.repeat, verify)
    raw_s = best_of(args.repeat, raw)
    verify_rate, raw_rate = args.records / verify_s, args.records / raw_s
    print(f"python {platform.python_version()} on {platform.machine()} ({platform.processor() or platform.system()})")
    print(f"chain: {args.records:,} records built with ledger.seal in {built:.1f} s; canonical form {mean_bytes:.0f} B")
    print(f"verify_chain:   {verify_rate:12,.0f} records/s  ({verify_s:.3f} s, best of {args.repeat})")
    print(f"raw sha256:     {raw_rate:12,.0f} hashes/s   ({raw_s:.3f} s, same {mean_bytes:.0f}-byte inputs)")
    ratio = verify_rate / raw_rate
    print(f"ratio:          verify runs at {ratio:.1%} of the raw hash rate ({1 / ratio:.1f}x slower)")


if __name__ == "__main__":
    main()
