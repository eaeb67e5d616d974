"""The auditors' query inputs and cursors: validation, periods as time_key ranges, cursor round trips."""

from __future__ import annotations

import base64
import json
from datetime import UTC, date, datetime

import pytest

from fmops.audit_queries import (
    MAX_LIMIT,
    InvalidCursor,
    InvalidQuery,
    Period,
    Question,
    check_key,
    check_limit,
    check_start_key,
    decode_cursor,
    encode_cursor,
    parse_day,
    parse_period,
    parse_time,
)

QUESTION = Question("ByVersion", "version_id", "sentiment/1.0.0")
POSITION = {"pk": "CHAIN#sentiment", "sk": "SEQ#000000000003", "version_id": "sentiment/1.0.0", "time_key": "t"}
NAMES = ("pk", "sk", "version_id", "time_key")


def test_a_cursor_is_url_safe_text_that_gives_back_its_position() -> None:
    # Given a position in a question's answer, When it is encoded and decoded
    cursor = encode_cursor(QUESTION, POSITION)

    # Then the cursor is URL-safe base64 with no padding, and holds the position exactly
    assert set(cursor) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")
    assert decode_cursor(QUESTION, cursor) == POSITION
    assert check_start_key(QUESTION, decode_cursor(QUESTION, cursor), NAMES) == POSITION
    # and the same position always makes the same cursor
    assert cursor == encode_cursor(QUESTION, dict(POSITION))


@pytest.mark.parametrize("cursor", ["not base64 !!", "e30", base64.urlsafe_b64encode(b"[1,2]").decode(), ""])
def test_a_cursor_that_fmops_did_not_hand_out_is_refused(cursor: str) -> None:
    with pytest.raises(InvalidCursor, match="not one fmops handed out"):
        decode_cursor(QUESTION, cursor)


def test_a_cursor_of_another_question_is_refused() -> None:
    # Given a cursor of another version's records, or of the same actor within another period
    other_version = encode_cursor(Question("ByVersion", "version_id", "sentiment/2.0.0"), POSITION)
    actor = Question("ByActor", "actor", "ana", parse_period("2026-11-01", "2026-11-30"))
    other_period = Question("ByActor", "actor", "ana", parse_period("2026-11-01", "2026-11-29"))

    # Then each is refused for this question, with the way out
    with pytest.raises(InvalidCursor, match="another query"):
        decode_cursor(QUESTION, other_version)
    with pytest.raises(InvalidCursor, match="another query"):
        decode_cursor(actor, encode_cursor(other_period, POSITION))


def test_an_edited_position_is_refused() -> None:
    # Given positions with a missing key, a number, or another partition's key
    missing = {key: value for key, value in POSITION.items() if key != "sk"}
    number = {**POSITION, "sk": 3}
    elsewhere = {**POSITION, "version_id": "secret/1.0.0"}
    for position in (missing, number, elsewhere, ["not", "a", "key"]):
        with pytest.raises(InvalidCursor):
            check_start_key(QUESTION, decode_cursor(QUESTION, encode_cursor(QUESTION, position)), NAMES)


def test_a_tampered_cursor_fingerprint_is_refused() -> None:
    document = {"v": 1, "q": "0" * 16, "k": POSITION}
    cursor = base64.urlsafe_b64encode(json.dumps(document).encode()).decode()
    with pytest.raises(InvalidCursor, match="another query"):
        decode_cursor(QUESTION, cursor)


@pytest.mark.parametrize("limit", [0, -1, MAX_LIMIT + 1, True, 2.5])
def test_a_limit_outside_its_range_is_refused(limit: object) -> None:
    with pytest.raises(InvalidQuery, match=f"from 1 to {MAX_LIMIT}"):
        check_limit(limit)  # type: ignore[arg-type]


def test_limits_in_range_are_kept() -> None:
    assert [check_limit(n) for n in (1, 100, MAX_LIMIT)] == [1, 100, MAX_LIMIT]


@pytest.mark.parametrize("text", ["2026-13-01", "26-11-2026", "2026-11-26T00:00:00", "20261126", "yesterday", ""])
def test_a_day_must_be_a_real_date_written_yyyy_mm_dd(text: str) -> None:
    with pytest.raises(InvalidQuery, match="YYYY-MM-DD"):
        parse_day(text)


def test_a_day_is_parsed() -> None:
    assert parse_day(" 2026-11-26 ") == date(2026, 11, 26)


def test_times_are_utc_and_a_bare_to_date_covers_the_whole_day() -> None:
    # Given times with a Z, an offset, no zone, and bare dates
    assert parse_time("2026-11-26T09:30:00Z", "from") == datetime(2026, 11, 26, 9, 30, tzinfo=UTC)
    assert parse_time("2026-11-26T11:30:00+02:00", "from") == datetime(2026, 11, 26, 9, 30, tzinfo=UTC)
    assert parse_time("2026-11-26T09:30:00", "from") == datetime(2026, 11, 26, 9, 30, tzinfo=UTC)
    period = parse_period("2026-11-01", "2026-11-30")

    # Then the period runs from the first instant of its first day to the last instant of its last
    assert period.bounds() == ("2026-11-01T00:00:00.000000Z", "2026-11-30T23:59:59.999999Z$")


def test_a_period_bound_includes_every_record_at_that_exact_time() -> None:
    # time_key is "<occurred_at>#<chain>#<seq>": the high bound sorts after every chain at time `to`
    low, high = Period(end=datetime(2026, 11, 26, 9, 30, tzinfo=UTC)).bounds()
    assert low is None and high is not None
    key_at_to = "2026-11-26T09:30:00.000000Z#zzz-last-group#999999999999"
    key_after = "2026-11-26T09:30:00.000001Z#a#000000000001"
    assert key_at_to <= high < key_after


@pytest.mark.parametrize(
    ("start", "end", "message"),
    [
        ("2026-11-30", "2026-11-01", "is after to"),
        ("next week", None, "from must be an ISO 8601"),
        (None, "2026-02-30", "to must be an ISO 8601"),
    ],
)
def test_a_bad_period_is_refused_with_what_is_wrong(start: str | None, end: str | None, message: str) -> None:
    with pytest.raises(InvalidQuery, match=message):
        parse_period(start, end)


def test_a_period_can_be_required() -> None:
    with pytest.raises(InvalidQuery, match="both from and to"):
        parse_period("2026-11-01", None, required=True)
    assert parse_period(None, None) == Period()


@pytest.mark.parametrize("value", ["", "   ", "x" * 2000])
def test_an_empty_or_huge_key_is_refused(value: str) -> None:
    with pytest.raises(InvalidQuery, match="actor"):
        check_key("actor", value)
