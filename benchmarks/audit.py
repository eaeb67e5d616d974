"""Audit: verifying a 100,000-record chain beside the machine's raw SHA-256 rate, and what auditor queries read.

Verification: `fmops audit verify` walks each chain with `fmops.ledger.verify_chain` (recompute every
record's hash over its canonical form, check the links and the anchors). The benchmark builds one chain
with `ledger.seal` in memory (realistic records: a dozen fields and a small facts object), then times
verify_chain over it and, interleaved in the same run, hashlib.sha256 over the same records' canonical
forms (precomputed): the raw rate is the ceiling, the ratio is what verification adds. Best of 3 each.
Reading the records from DynamoDB is left out (it is I/O, and would measure moto).

Queries: the audit table as template.yaml declares it (keys and indexes) on moto, filled with records
of several chains, actors, types and days; each auditor question (by version, by actor, by actor in a
period, by type in a period, by day) is answered to its last page through `AuditQueries`, counting the
items returned, the items DynamoDB scanned (read) to find them, the pages (requests) and the read units.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from typing import Any

from benchmarks.report import Figure, Section, Size, markdown_table
from fmops.ledger import ChainHead, canonical_form, seal, verify_chain
from fmops.records import AuditRecord, SealedRecord

AT = datetime(2026, 11, 26, 12, tzinfo=UTC)
TARGET_RATIO = 0.25  # verify at least a quarter of the raw SHA-256 record rate
SIZES = {Size.FULL: (100_000, 3, 3000), Size.TINY: (200, 1, 60)}  # chain records, repeats, query records
ACTORS = ("ana.silva", "bo.chen", "aws.sagemaker", "fmops:intake")
TYPES = ("Artifact Uploaded", "Model Version Registered", "Model Version Gate Decided", "Approval Decision Recorded")


def chain(
    count: int, group: str = "sentiment", start: datetime = AT, spacing: timedelta = timedelta(seconds=1)
) -> list[SealedRecord]:
    records: list[SealedRecord] = []
    head: ChainHead | None = None
    for n in range(1, count + 1):
        version = f"{group}/{n // 20}.0.0"
        record = AuditRecord(
            version_id=version,
            event_id=f"{version}#event-{n}",
            detail_type=TYPES[n % len(TYPES)],
            source="fmops",
            occurred_at=start + spacing * n,
            recorded_at=start + spacing * n + timedelta(milliseconds=7),
            actor=ACTORS[n % len(ACTORS)],
            correlation_id=version,
            envelope_id=f"9c2d1f0e-7a51-4b8e-9f4e-{n:012d}",
            facts={"passed": n % 3 != 0, "metrics": {"accuracy": 0.91, "f1": 0.88}, "policy_version": "3"},
        )
        sealed = seal(record, group, head)
        records.append(sealed)
        head = ChainHead(chain=group, seq=sealed.seq, hash=sealed.hash)
    return records


def best_of(repeat: int, work: Callable[[], None]) -> float:
    timings = []
    for _ in range(repeat):
        started = time.perf_counter()
        work()
        timings.append(time.perf_counter() - started)
    return min(timings)


def verification(count: int, repeat: int) -> dict[str, Any]:
    records = chain(count)
    last = records[-1]
    head = ChainHead(chain="sentiment", seq=last.seq, hash=last.hash)
    anchored = [ChainHead(chain="sentiment", seq=r.seq, hash=r.hash) for r in records[:: max(1, count // 24)]]
    forms = [canonical_form(r, r.chain, r.seq, r.prev_hash) for r in records]

    def verify() -> None:
        assert verify_chain("sentiment", records, head, anchored).ok

    def raw() -> None:
        for form in forms:
            hashlib.sha256(form).hexdigest()

    verify_s, raw_s = [], []
    for _ in range(repeat):  # interleaved: noise hits both alike
        verify_s.append(best_of(1, verify))
        raw_s.append(best_of(1, raw))
    verify_rate, raw_rate = count / min(verify_s), count / min(raw_s)
    return {
        "records": count,
        "canonical_form_bytes_mean": sum(map(len, forms)) / len(forms),
        "verify_seconds": verify_s,
        "raw_sha256_seconds": raw_s,
        "verify_records_per_s": verify_rate,
        "raw_sha256_records_per_s": raw_rate,
        "ratio": verify_rate / raw_rate,
    }


def queries(count: int) -> dict[str, Any]:
    import boto3
    from moto import mock_aws
    from samcli.yamlhelper import yaml_parse

    from benchmarks.cost import ROOT
    from fmops.adapters.audit_queries import AuditQueries
    from fmops.adapters.dynamodb import record_item
    from fmops.audit_queries import parse_period

    properties = yaml_parse((ROOT / "template.yaml").read_text())["Resources"]["AuditTable"]["Properties"]
    keys = {
        k: properties[k] for k in ("AttributeDefinitions", "KeySchema", "GlobalSecondaryIndexes") if k in properties
    }
    with mock_aws():
        dynamodb = boto3.client("dynamodb", region_name="us-east-1")
        dynamodb.create_table(TableName="audit", BillingMode="PAY_PER_REQUEST", **keys)
        # Four chains over four days, each record two minutes (a quarter day / count) apart.
        spacing = timedelta(days=4) / count
        for group_index, group in enumerate(("sentiment", "churn", "fraud", "summarizer")):
            start = AT + spacing * group_index / 4
            for record in chain(count // 4, group, start, spacing * 4):
                dynamodb.put_item(TableName="audit", Item=record_item(record))
        audit = AuditQueries("audit", dynamodb)
        second_day = date(2026, 11, 27)
        questions: dict[str, Callable[[str | None], Any]] = {
            "by version": lambda c: audit.by_version("sentiment/3.0.0", 100, c),
            "by actor": lambda c: audit.by_actor("ana.silva", None, 100, c),
            "by actor in a period (1 day)": lambda c: audit.by_actor(
                "bo.chen", parse_period("2026-11-27", "2026-11-27"), 100, c
            ),
            "by type in a period (1 day)": lambda c: audit.by_type(
                "Model Version Gate Decided", parse_period("2026-11-27", "2026-11-27"), 100, c
            ),
            "by day": lambda c: audit.by_day(second_day, 100, c),
        }
        answers = {}
        for name, ask in questions.items():
            returned = scanned = pages = requests = 0
            units = 0.0
            cursor: str | None = None
            while True:
                page = ask(cursor)
                stats = page.stats.as_dict()
                returned += stats["items_returned"]
                scanned += stats["items_scanned"]
                requests += stats["pages_read"]
                units += stats["read_capacity_units"]
                pages += 1
                cursor = page.cursor
                if cursor is None:
                    break
            answers[name] = {
                "items_returned": returned,
                "items_scanned": scanned,
                "dynamodb_requests": requests,
                "answer_pages": pages,
                "read_units": round(units, 3),
            }
    return {"records_in_table": count // 4 * 4, "questions": answers}


def run(size: Size) -> Section:
    count, repeat, query_records = SIZES[size]
    verified = verification(count, repeat)
    asked = queries(query_records)
    ratio = verified["ratio"]
    questions = asked["questions"]
    worst = max(q["items_scanned"] / max(1, q["items_returned"]) for q in questions.values())
    figures = [
        Figure(
            f"audit verify rate / raw SHA-256 rate ({count:,} records)",
            f"{ratio:.2f} ({verified['verify_records_per_s']:,.0f} vs {verified['raw_sha256_records_per_s']:,.0f}/s)",
            f">= {TARGET_RATIO}",
            ratio >= TARGET_RATIO,
        ),
        Figure("auditor queries: worst items scanned per item returned", f"{worst:.2f}", "1.00 (no filtering)"),
    ]
    rows = [
        [
            name,
            str(q["items_returned"]),
            str(q["items_scanned"]),
            str(q["dynamodb_requests"]),
            str(q["answer_pages"]),
            f"{q['read_units']:.1f}",
        ]
        for name, q in questions.items()
    ]
    details = (
        f"verify_chain: {verified['verify_records_per_s']:,.0f} records/s; raw sha256 over the same canonical forms "
        f"({verified['canonical_form_bytes_mean']:.0f} B each): {verified['raw_sha256_records_per_s']:,.0f}/s; "
        f"ratio {ratio:.2f} (best of {repeat}, interleaved).\n\n"
        f"Queries over {asked['records_in_table']:,} records (pages of 100):\n\n"
        + markdown_table(["question", "returned", "scanned", "DynamoDB requests", "answer pages", "read units"], rows)
    )
    return Section(
        key="audit",
        title="Audit: verification rate and auditor queries",
        method=__doc__ or "",
        results={"verify": verified, "queries": asked},
        figures=figures,
        details_markdown=details,
    )


if __name__ == "__main__":
    print(run(Size.FULL).details_markdown)
