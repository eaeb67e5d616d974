"""The auditors' queries on moto's DynamoDB, on the audit table as template.yaml defines it: enough records
over several chains, actors, types and days that every question spans pages and the day spans its shards."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

import boto3
import pytest

from fmops.adapters.audit_queries import AuditQueries
from fmops.adapters.dynamodb import day_shard, record_item
from fmops.audit_queries import InvalidCursor, Page, parse_period
from fmops.ledger import ChainHead, seal
from fmops.records import AuditRecord, SealedRecord

from tests.integration.tables import create_table

pytestmark = pytest.mark.integration

START = datetime(2026, 11, 26, 23, 0, tzinfo=UTC)
ACTORS = ("ana.silva", "bo.chen", "aws.sagemaker")
TYPES = ("Artifact Uploaded", "Model Version Registered", "Model Package State Changed")


def build_records() -> list[SealedRecord]:
    """60 records in 3 chains, every 2 minutes from 23:00 on the 26th (so the 26th and the 27th); 2 share a time."""
    heads: dict[str, ChainHead | None] = {}
    records = []
    for n in range(60):
        group = f"group-{n % 3}"
        occurred = START + timedelta(minutes=2 * (n // 2 * 2 if n in (10, 11) else n))
        record = AuditRecord(
            version_id=f"{group}/1.0.{n % 2}",
            event_id=f"event-{n:03d}",
            detail_type=TYPES[n % 3 if n % 5 else 0],
            source="fmops",
            occurred_at=occurred,
            recorded_at=occurred + timedelta(seconds=1),
            actor=ACTORS[n % 3 if n % 4 else 0],
            correlation_id=f"{group}/1.0.{n % 2}",
            envelope_id=f"envelope-{n}",
            facts={"n": n},
        )
        sealed = seal(record, group, heads.get(group))
        heads[group] = ChainHead(chain=group, seq=sealed.seq, hash=sealed.hash)
        records.append(sealed)
    return records


RECORDS = build_records()


def in_time_order(records: list[SealedRecord]) -> list[str]:
    return [r.event_id for r in sorted(records, key=lambda r: (r.occurred_at, r.chain, r.seq))]


@pytest.fixture
def queries(mocked_aws: None) -> Iterator[AuditQueries]:
    dynamodb = boto3.client("dynamodb", region_name="us-east-1")
    table = create_table(dynamodb, "AuditTable", "audit")
    for record in RECORDS:
        dynamodb.put_item(TableName=table, Item=record_item(record))
    # a chain head and an event claim: items without time_key, which no index holds
    dynamodb.put_item(TableName=table, Item={"pk": {"S": "HEADS"}, "sk": {"S": "group-0"}, "seq": {"N": "20"}})
    yield AuditQueries(table, dynamodb)


def walk(ask: Callable[[str | None], Page]) -> tuple[list[SealedRecord], list[Page]]:
    pages, cursor = [], None
    while True:
        page = ask(cursor)
        pages.append(page)
        cursor = page.cursor
        if cursor is None:
            return [r for p in pages for r in p.records], pages
        assert len(pages) < 200, "the walk does not end"


QUESTIONS: dict[str, tuple[Callable[[AuditQueries, int, str | None], Page], Callable[[SealedRecord], bool]]] = {
    "version": (lambda q, n, c: q.by_version("group-1/1.0.1", n, c), lambda r: r.version_id == "group-1/1.0.1"),
    "actor": (lambda q, n, c: q.by_actor("ana.silva", None, n, c), lambda r: r.actor == "ana.silva"),
    "actor in a period": (
        lambda q, n, c: q.by_actor("bo.chen", parse_period("2026-11-26T23:20:00Z", "2026-11-27T00:40:00Z"), n, c),
        lambda r: (
            r.actor == "bo.chen"
            and datetime(2026, 11, 26, 23, 20, tzinfo=UTC) <= r.occurred_at <= datetime(2026, 11, 27, 0, 40, tzinfo=UTC)
        ),
    ),
    "type in a period": (
        lambda q, n, c: q.by_type("Artifact Uploaded", parse_period("2026-11-26", "2026-11-26"), n, c),
        lambda r: r.detail_type == "Artifact Uploaded" and r.occurred_at.date() == date(2026, 11, 26),
    ),
    "day": (lambda q, n, c: q.by_day(date(2026, 11, 27), n, c), lambda r: r.occurred_at.date() == date(2026, 11, 27)),
}


@pytest.mark.parametrize("name", QUESTIONS)
def test_each_question_returns_exactly_its_records_in_time_order_in_one_page(queries: AuditQueries, name: str) -> None:
    ask, belongs = QUESTIONS[name]
    expected = in_time_order([r for r in RECORDS if belongs(r)])
    assert len(expected) >= 5, "the question should have several records"

    # When asked with a page big enough for all of them
    page = ask(queries, 1000, None)

    # Then the page holds exactly the expected records, in time order, each as stored
    assert [r.event_id for r in page.records] == expected
    assert all(r == next(s for s in RECORDS if s.event_id == r.event_id) for r in page.records)
    # read by key only: every item DynamoDB read was returned
    assert page.stats.scanned == page.stats.read == page.stats.returned == len(expected)
    assert page.cursor is None or ask(queries, 1000, page.cursor).records == []


@pytest.mark.parametrize("limit", [1, 3, 7])
@pytest.mark.parametrize("name", QUESTIONS)
def test_paging_walks_every_record_once_and_a_cursor_always_gives_the_same_page(
    queries: AuditQueries, name: str, limit: int
) -> None:
    ask, belongs = QUESTIONS[name]
    expected = in_time_order([r for r in RECORDS if belongs(r)])

    # When the records are walked page by page
    records, pages = walk(lambda cursor: ask(queries, limit, cursor))

    # Then every record comes once, none is missing, in time order, and no page is over the limit
    assert [r.event_id for r in records] == expected
    assert all(len(page.records) <= limit for page in pages)
    # And each cursor, used again, gives the very same page
    for earlier, later in itertools.pairwise(pages):
        assert earlier.cursor is not None
        again = ask(queries, limit, earlier.cursor)
        assert (again.records, again.cursor) == (later.records, later.cursor)


def test_a_day_reads_its_eight_shards_and_only_its_own_day(queries: AuditQueries) -> None:
    # Given the 27th's records, spread over shards
    day = [r for r in RECORDS if r.occurred_at.date() == date(2026, 11, 27)]
    assert len({day_shard(r) for r in day}) > 1

    # When the day is read in one page
    page = queries.by_day(date(2026, 11, 27), limit=1000)

    # Then one Query per shard was made (no Scan), and capacity was reported for each
    assert page.stats.requests == 8
    assert page.stats.read_capacity_units > 0
    assert [r.event_id for r in page.records] == in_time_order(day)


def test_a_cursor_from_another_question_is_refused(queries: AuditQueries) -> None:
    page = queries.by_version("group-1/1.0.1", limit=2)
    assert page.cursor is not None
    with pytest.raises(InvalidCursor, match="another query"):
        queries.by_version("group-2/1.0.0", limit=2, cursor=page.cursor)
    with pytest.raises(InvalidCursor, match="another query"):
        queries.by_day(date(2026, 11, 27), limit=2, cursor=page.cursor)


def test_statistics_come_from_dynamodb(queries: AuditQueries) -> None:
    page = queries.by_version("group-0/1.0.0", limit=1000)
    stats: dict[str, Any] = page.stats.as_dict()
    assert stats["pages_read"] == 1 and stats["items_returned"] == len(page.records) == stats["items_scanned"]
    assert stats["read_capacity_units"] > 0
