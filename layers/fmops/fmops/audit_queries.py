"""The auditors' questions of the audit trail, their validation, pages and cursors.

Four questions, each answered by a key of one query index (fmops.adapters.audit_queries):
a version's records, an actor's records (optionally within a period), a day's records, and
the records of one event type within a period. Answers come in pages, in time order; a page's
cursor is an opaque string that resumes the walk exactly where the page ended.

Periods are inclusive at both ends. A time without a zone is UTC; a `to` given as a bare date
means the whole of that day.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import re
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from fmops.errors import FmopsError
from fmops.ledger import timestamp
from fmops.records import SealedRecord

DEFAULT_LIMIT = 100
MAX_LIMIT = 1000
CURSOR_VERSION = 1
# DynamoDB rejects key values over 2048 bytes (partition keys); a question that long is a mistake.
_MAX_KEY_BYTES = 1024
_DAY = re.compile(r"\d{4}-\d{2}-\d{2}")
# time_key is "<timestamp>#<chain>#<seq>"; '$' sorts right after '#', so "<to>$" bounds every key of time `to`.
_AFTER_SEPARATOR = "$"


class InvalidQuery(FmopsError):
    """An audit query that cannot be run as given (a bad date, period, limit or key)."""


class InvalidCursor(InvalidQuery):
    """A cursor that is not one this query handed out (corrupt, edited, or from another query)."""


@dataclass(frozen=True)
class Period:
    """From and to, both inclusive; either may be open."""

    start: datetime | None = None
    end: datetime | None = None

    def bounds(self) -> tuple[str | None, str | None]:
        """The time_key range of the period: every record with start <= occurred_at <= end lies within."""
        low = timestamp(self.start) if self.start else None
        high = timestamp(self.end) + _AFTER_SEPARATOR if self.end else None
        return low, high


@dataclass(frozen=True)
class Question:
    """One auditor question: the index, the value of its partition key, and a time_key range."""

    index: str
    key_attribute: str
    key: str
    period: Period = field(default_factory=Period)

    def fingerprint(self) -> str:
        """Ties a cursor to the question it came from (the page size may change between pages)."""
        low, high = self.period.bounds()
        text = json.dumps([self.index, self.key, low, high], separators=(",", ":"))
        return hashlib.sha256(text.encode()).hexdigest()[:16]


@dataclass(frozen=True)
class QueryStats:
    """What answering one page cost: DynamoDB's own counts and consumed read capacity."""

    returned: int = 0  # records on the page
    read: int = 0  # items DynamoDB returned (Count); above `returned` when the day's shards read ahead
    scanned: int = 0  # items DynamoDB evaluated (ScannedCount); equal to `read`: no filter, keys only
    requests: int = 0  # Query requests (DynamoDB pages) made
    read_capacity_units: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        return {
            "items_returned": self.returned,
            "items_read": self.read,
            "items_scanned": self.scanned,
            "pages_read": self.requests,
            "read_capacity_units": self.read_capacity_units,
        }

    def summary(self) -> str:
        return (
            f"{self.returned} record(s) returned, {self.scanned} item(s) scanned in {self.requests} "
            f"DynamoDB page(s), {self.read_capacity_units:g} read capacity unit(s)"
        )


@dataclass(frozen=True)
class Page:
    records: list[SealedRecord]
    cursor: str | None
    stats: QueryStats


# ------------------------------------------------------------------ inputs


def check_limit(limit: int) -> int:
    if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= MAX_LIMIT:
        raise InvalidQuery(f"limit must be a whole number from 1 to {MAX_LIMIT}, not {limit!r}")
    return limit


def check_key(name: str, value: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise InvalidQuery(f"{name} must not be empty")
    if len(value.encode()) > _MAX_KEY_BYTES:
        raise InvalidQuery(f"{name} is longer than {_MAX_KEY_BYTES} bytes")
    return value


def parse_day(text: str) -> date:
    """A calendar day written YYYY-MM-DD (UTC)."""
    try:
        if not _DAY.fullmatch(text.strip()):
            raise ValueError
        return date.fromisoformat(text.strip())
    except (ValueError, AttributeError):
        raise InvalidQuery(f"day must be a date written YYYY-MM-DD, e.g. 2026-11-26, not {text!r}") from None


def parse_time(text: str, name: str, *, end_of_day: bool = False) -> datetime:
    """An ISO 8601 time (a zone-less one is UTC) or a bare date: its start, or with end_of_day its last instant."""
    value = text.strip() if isinstance(text, str) else ""
    try:
        if _DAY.fullmatch(value):
            day = date.fromisoformat(value)
            moment = datetime.combine(day, time.min, tzinfo=UTC)
            return moment + timedelta(days=1, microseconds=-1) if end_of_day else moment
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        raise InvalidQuery(
            f"{name} must be an ISO 8601 time or date, e.g. 2026-11-26T09:30:00Z or 2026-11-26, not {text!r}"
        ) from None
    return parsed.astimezone(UTC) if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def parse_period(start: str | None, end: str | None, *, required: bool = False) -> Period:
    if required and not (start and end):
        raise InvalidQuery("this query needs a period: give both from and to")
    period = Period(
        parse_time(start, "from") if start else None,
        parse_time(end, "to", end_of_day=True) if end else None,
    )
    if period.start and period.end and period.start > period.end:
        raise InvalidQuery(f"from ({timestamp(period.start)}) is after to ({timestamp(period.end)})")
    return period


# ------------------------------------------------------------------ cursors
# A cursor is URL-safe base64 (no padding) of JSON: {"v": 1, "q": <question fingerprint>, "k": <position>}.
# A position is the key of the last record a page returned, as DynamoDB's ExclusiveStartKey (attribute
# name -> string), or for the day's question one such key (or null: not started, or "end") per shard.


def encode_cursor(question: Question, position: Any) -> str:
    text = json.dumps({"v": CURSOR_VERSION, "q": question.fingerprint(), "k": position}, separators=(",", ":"))
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def decode_cursor(question: Question, cursor: str) -> Any:
    """The position a cursor holds, once checked to come from this question."""
    try:
        raw = base64.urlsafe_b64decode(cursor.strip() + "=" * (-len(cursor.strip()) % 4))
        document = json.loads(raw)
    except (binascii.Error, ValueError, AttributeError):
        raise InvalidCursor("the cursor is not one fmops handed out (it does not decode)") from None
    if not isinstance(document, dict) or document.get("v") != CURSOR_VERSION or "k" not in document:
        raise InvalidCursor("the cursor is not one fmops handed out (unknown format)")
    if document.get("q") != question.fingerprint():
        raise InvalidCursor("the cursor belongs to another query: repeat the query that returned it")
    return document["k"]


def check_start_key(question: Question, position: Any, names: tuple[str, ...]) -> dict[str, str]:
    """A position as an ExclusiveStartKey: exactly the key attributes `names`, strings, in the question's partition."""
    if (
        not isinstance(position, dict)
        or set(position) != set(names)
        or not all(isinstance(value, str) for value in position.values())
    ):
        raise InvalidCursor("the cursor is not one fmops handed out (bad position)")
    if position[question.key_attribute] != question.key:
        raise InvalidCursor("the cursor belongs to another query: repeat the query that returned it")
    return dict(position)


# ------------------------------------------------------------------ answers as documents
# The order of the canonical form (fmops.ledger), with the same text of each time: what an auditor needs to
# recompute a record's hash from the answer alone.
RECORD_FIELDS = (
    "chain", "seq", "prev_hash", "hash", "event_id", "version_id", "detail_type", "source",
    "occurred_at", "recorded_at", "actor", "correlation_id", "envelope_id", "facts",
)  # fmt: skip


def record_document(record: SealedRecord) -> dict[str, Any]:
    document: dict[str, Any] = {name: getattr(record, name) for name in RECORD_FIELDS}
    document.update(occurred_at=timestamp(record.occurred_at), recorded_at=timestamp(record.recorded_at))
    return document


def page_document(page: Page) -> dict[str, Any]:
    return {
        "records": [record_document(record) for record in page.records],
        "cursor": page.cursor,
        "statistics": page.stats.as_dict(),
    }
