"""The auditors' questions as DynamoDB Queries on the audit table's sparse indexes; never a Scan.

Each question reads one partition of one index (the day's question: one per shard), in time_key
order, with key conditions only: no filter, so every item DynamoDB reads is an item returned.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from fmops.adapters.dynamodb import (
    DAY_SHARDS,
    INDEX_BY_ACTOR,
    INDEX_BY_DAY,
    INDEX_BY_TYPE,
    INDEX_BY_VERSION,
    DynamoTable,
    record_from_item,
)
from fmops.audit_queries import (
    DEFAULT_LIMIT,
    InvalidCursor,
    Page,
    Period,
    QueryStats,
    Question,
    check_key,
    check_limit,
    check_start_key,
    decode_cursor,
    encode_cursor,
)
from fmops.records import SealedRecord

_TABLE_KEYS = ("pk", "sk")
_END = "end"  # a day shard read to its end


def version_question(version_id: str) -> Question:
    return Question(INDEX_BY_VERSION, "version_id", check_key("version", version_id))


def actor_question(actor: str, period: Period | None = None) -> Question:
    return Question(INDEX_BY_ACTOR, "actor", check_key("actor", actor), period or Period())


def type_question(detail_type: str, period: Period) -> Question:
    return Question(INDEX_BY_TYPE, "detail_type", check_key("detail type", detail_type), period)


def day_question(day: date) -> Question:
    return Question(INDEX_BY_DAY, "day_shard", day.isoformat())


@dataclass
class _Tally:
    read: int = 0
    scanned: int = 0
    requests: int = 0
    units: float = 0.0

    def add(self, response: dict[str, Any]) -> None:
        self.read += int(response.get("Count", 0))
        self.scanned += int(response.get("ScannedCount", 0))
        self.requests += 1
        self.units += float(response.get("ConsumedCapacity", {}).get("CapacityUnits", 0.0))

    def stats(self, returned: int) -> QueryStats:
        return QueryStats(returned, self.read, self.scanned, self.requests, round(self.units, 4))


class AuditQueries(DynamoTable):
    """Answers auditor questions from the audit table (`dynamodb`: a boto3 DynamoDB client)."""

    def by_version(self, version_id: str, limit: int = DEFAULT_LIMIT, cursor: str | None = None) -> Page:
        return self.answer(version_question(version_id), limit, cursor)

    def by_actor(
        self, actor: str, period: Period | None = None, limit: int = DEFAULT_LIMIT, cursor: str | None = None
    ) -> Page:
        return self.answer(actor_question(actor, period), limit, cursor)

    def by_type(self, detail_type: str, period: Period, limit: int = DEFAULT_LIMIT, cursor: str | None = None) -> Page:
        return self.answer(type_question(detail_type, period), limit, cursor)

    def by_day(self, day: date, limit: int = DEFAULT_LIMIT, cursor: str | None = None) -> Page:
        return self.answer(day_question(day), limit, cursor)

    def answer(self, question: Question, limit: int = DEFAULT_LIMIT, cursor: str | None = None) -> Page:
        check_limit(limit)
        if question.index == INDEX_BY_DAY:
            return self._day(question, limit, cursor)
        return self._partition(question, limit, cursor)

    # ------------------------------------------------------------------ one partition

    def _partition(self, question: Question, limit: int, cursor: str | None) -> Page:
        names = (*_TABLE_KEYS, question.key_attribute, "time_key")
        start = check_start_key(question, decode_cursor(question, cursor), names) if cursor else None
        tally, items = _Tally(), list[dict[str, Any]]()
        # DynamoDB stops a page at 1 MB: keep reading until the page is full or the partition ends.
        while True:
            response = self._query(question.key_attribute, question.key, question.period, limit - len(items), start)
            tally.add(response)
            items += response.get("Items", [])
            start = _plain(response["LastEvaluatedKey"]) if "LastEvaluatedKey" in response else None
            if start is None or len(items) >= limit:
                break
        next_cursor = encode_cursor(question, start) if start else None
        return Page([record_from_item(item) for item in items], next_cursor, tally.stats(len(items)))

    # ------------------------------------------------------------------ a day, over its shards
    # A day's records are spread over DAY_SHARDS partitions of ByDay ("<day>#0".."<day>#7"), so that a
    # busy day's writes and reads never pile onto one partition (DynamoDB serves ~3000 RCU and 1000 WCU
    # per partition). Reading the day is therefore DAY_SHARDS Queries, one per shard key, merged by
    # time_key: a k-way merge that reads each shard in small chunks, so a page reads about what it returns.

    def _day(self, question: Question, limit: int, cursor: str | None) -> Page:
        positions = self._day_positions(question, cursor)
        tally = _Tally()
        chunk = max(1, -(-limit // DAY_SHARDS))
        shards = [
            _Shard(f"{question.key}#{number}", position, chunk, self._query_day(tally))
            for number, position in enumerate(positions)
        ]
        heap = [(shard.peek_key(), number) for number, shard in enumerate(shards) if shard.peek_key() is not None]
        heapq.heapify(heap)
        records: list[SealedRecord] = []
        while heap:
            _, number = heapq.heappop(heap)
            records.append(shards[number].take())
            if len(records) == limit:
                break  # no read ahead: the next page starts from each shard's last record taken
            following = shards[number].peek_key()
            if following is not None:
                heapq.heappush(heap, (following, number))
        states = [shard.state() for shard in shards]
        next_cursor = None if all(state == _END for state in states) else encode_cursor(question, states)
        return Page(records, next_cursor, tally.stats(len(records)))

    def _day_positions(self, question: Question, cursor: str | None) -> list[Any]:
        if not cursor:
            return [None] * DAY_SHARDS
        positions = decode_cursor(question, cursor)
        if not isinstance(positions, list) or len(positions) != DAY_SHARDS:
            raise InvalidCursor("the cursor is not one fmops handed out (bad day positions)")
        names = (*_TABLE_KEYS, "day_shard", "time_key")
        checked: list[Any] = []
        for number, position in enumerate(positions):
            if position is None or position == _END:
                checked.append(position)
                continue
            shard = Question(INDEX_BY_DAY, "day_shard", f"{question.key}#{number}")
            checked.append(check_start_key(shard, position, names))
        return checked

    def _query_day(self, tally: _Tally) -> Callable[[str, int, dict[str, str] | None], dict[str, Any]]:
        def query(shard_key: str, limit: int, start: dict[str, str] | None) -> dict[str, Any]:
            response = self._query("day_shard", shard_key, Period(), limit, start)
            tally.add(response)
            return response

        return query

    # ------------------------------------------------------------------ the one DynamoDB call

    def _query(
        self, key_attribute: str, key: str, period: Period, limit: int, start: dict[str, str] | None
    ) -> dict[str, Any]:
        index = {
            "version_id": INDEX_BY_VERSION,
            "actor": INDEX_BY_ACTOR,
            "day_shard": INDEX_BY_DAY,
            "detail_type": INDEX_BY_TYPE,
        }[key_attribute]
        condition, values = "#key = :key", {":key": {"S": key}}
        low, high = period.bounds()
        if low and high:
            condition += " AND time_key BETWEEN :low AND :high"
            values.update({":low": {"S": low}, ":high": {"S": high}})
        elif low:
            condition += " AND time_key >= :low"
            values[":low"] = {"S": low}
        elif high:
            condition += " AND time_key <= :high"
            values[":high"] = {"S": high}
        kwargs: dict[str, Any] = {
            "TableName": self._table,
            "IndexName": index,
            "KeyConditionExpression": condition,
            "ExpressionAttributeNames": {"#key": key_attribute},
            "ExpressionAttributeValues": values,
            "ScanIndexForward": True,
            "Limit": limit,
            "ReturnConsumedCapacity": "TOTAL",
        }
        if start:
            kwargs["ExclusiveStartKey"] = {name: {"S": value} for name, value in start.items()}
        response: dict[str, Any] = self.db.query(**kwargs)
        return response


@dataclass
class _Shard:
    """One shard of a day, read in chunks; `position` is the key of the last record taken (None: none yet)."""

    key: str
    position: Any
    chunk: int
    query: Callable[[str, int, dict[str, str] | None], dict[str, Any]]
    buffer: list[dict[str, Any]] = field(default_factory=list)
    more: bool = True  # DynamoDB may hold items after what was read

    def __post_init__(self) -> None:
        if self.position == _END:
            self.more = False

    def peek_key(self) -> str | None:
        if not self.buffer and self.more:
            start = self.position if isinstance(self.position, dict) else None
            response = self.query(self.key, self.chunk, start)
            self.buffer = list(response.get("Items", []))
            self.more = "LastEvaluatedKey" in response
        return str(self.buffer[0]["time_key"]["S"]) if self.buffer else None

    def take(self) -> SealedRecord:
        item = self.buffer.pop(0)
        self.position = {name: str(item[name]["S"]) for name in (*_TABLE_KEYS, "day_shard", "time_key")}
        return record_from_item(item)

    def state(self) -> Any:
        return _END if not self.buffer and not self.more else self.position


def _plain(key: dict[str, Any]) -> dict[str, str]:
    """A LastEvaluatedKey (every audit key attribute is a string) as name -> value."""
    return {name: str(value["S"]) for name, value in key.items()}
