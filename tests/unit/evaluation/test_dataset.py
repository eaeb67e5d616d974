import json

import pytest

from fmops.evaluation import EvalRow, EvaluationSetInvalid, InvalidReason, read_rows, split_lines

ROW = {"prompt": "Capital of France?", "reference": "Paris", "prediction": "Paris"}


def line(**fields: object) -> str:
    return json.dumps({**ROW, **fields})


def read_all(lines: list[str] | list[bytes], max_rows: int = 100, max_line_bytes: int = 10_000) -> list[EvalRow]:
    return list(read_rows(lines, max_rows=max_rows, max_line_bytes=max_line_bytes))


def rejection(
    lines: list[str] | list[bytes], max_rows: int = 100, max_line_bytes: int = 10_000
) -> EvaluationSetInvalid:
    with pytest.raises(EvaluationSetInvalid) as caught:
        read_all(lines, max_rows, max_line_bytes)
    return caught.value


def test_valid_rows_are_read_and_blank_lines_skipped() -> None:
    # Given two rows around blank lines, one with the optional measurements
    lines = ["", line(), "   ", line(latency_ms=120, input_tokens=10, output_tokens=3)]

    # When the set is read
    rows = read_all(lines)

    # Then both rows come back, integers accepted as latencies
    assert len(rows) == 2
    assert rows[0].latency_ms is None
    assert rows[1].latency_ms == 120.0 and rows[1].input_tokens == 10 and rows[1].output_tokens == 3


def test_bytes_lines_are_accepted() -> None:
    assert read_all([line().encode()])[0].reference == "Paris"


def test_an_empty_set_is_rejected() -> None:
    # Given a set of only blank lines / When read / Then it is empty, with no line to blame
    error = rejection(["", "  ", "\n"])
    assert error.code == InvalidReason.EMPTY and error.line is None


def test_no_lines_at_all_is_rejected() -> None:
    assert rejection([]).code == InvalidReason.EMPTY


@pytest.mark.parametrize(
    ("bad_line", "code"),
    [
        ("{not json", InvalidReason.NOT_JSON),
        ('{"prompt": "p", "reference": "r", "prediction": "x", "latency_ms": NaN}', InvalidReason.NOT_JSON),
        ('{"prompt": "p", "reference": "r", "prediction": "x", "latency_ms": Infinity}', InvalidReason.NOT_JSON),
        (b"\xff\xfe{}", InvalidReason.NOT_JSON),
        ("[1, 2]", InvalidReason.NOT_OBJECT),
        ('"just a string"', InvalidReason.NOT_OBJECT),
        (json.dumps({"prompt": "p", "reference": "r"}), InvalidReason.SCHEMA_VIOLATION),
        (line(score=1), InvalidReason.SCHEMA_VIOLATION),
        (line(latency_ms=-1), InvalidReason.SCHEMA_VIOLATION),
        ('{"prompt": "p", "reference": "r", "prediction": "x", "latency_ms": 1e999}', InvalidReason.SCHEMA_VIOLATION),
        (line(input_tokens=-3), InvalidReason.SCHEMA_VIOLATION),
        (line(input_tokens="3"), InvalidReason.SCHEMA_VIOLATION),
        (line(output_tokens=True), InvalidReason.SCHEMA_VIOLATION),
        (line(output_tokens=2.5), InvalidReason.SCHEMA_VIOLATION),
        (line(prediction=42), InvalidReason.SCHEMA_VIOLATION),
    ],
)
def test_a_malformed_line_is_rejected_with_its_line_number(bad_line: str | bytes, code: str) -> None:
    # Given a good row, a blank line, then the bad line on line 3
    lines: list[str | bytes] = [line(), "", bad_line]

    # When read
    with pytest.raises(EvaluationSetInvalid) as caught:
        list(read_rows(lines, max_rows=100, max_line_bytes=10_000))

    # Then the reason names the code and the 1-based line
    assert caught.value.code == code
    assert caught.value.line == 3
    assert caught.value.reason.startswith(f"{code}: line 3: ")


def test_a_schema_violation_names_the_field_but_not_the_data() -> None:
    error = rejection([line(latency_ms=-7, prompt="secret customer text")])
    assert "latency_ms" in error.message
    assert "secret customer text" not in error.reason


def test_more_rows_than_allowed_fail_on_the_first_extra_row() -> None:
    # Given three rows (and a blank line) with a limit of two
    lines = [line(), "", line(), line()]

    # When read / Then the fourth line, the third row, is refused
    error = rejection(lines, max_rows=2)
    assert error.code == InvalidReason.TOO_MANY_ROWS and error.line == 4


def test_rows_are_yielded_before_the_limit_is_hit() -> None:
    # Streaming: the caller has consumed two rows when the third one fails.
    rows = read_rows([line(), line(), line()], max_rows=2, max_line_bytes=10_000)
    assert next(rows) and next(rows)
    with pytest.raises(EvaluationSetInvalid):
        next(rows)


def test_an_oversized_line_is_rejected() -> None:
    # Given a second line of 200 bytes against a limit of 150
    oversized = line(prediction="x" * 150)

    # When read / Then line 2 is refused before being parsed
    error = rejection([line(), oversized], max_line_bytes=150)
    assert error.code == InvalidReason.LINE_TOO_LARGE and error.line == 2


def test_the_line_limit_counts_utf8_bytes_not_characters() -> None:
    # Given a line of 112 characters, but each "é" is 2 bytes in UTF-8: 152 bytes
    text = json.dumps({**ROW, "prediction": "é" * 40}, ensure_ascii=False)
    assert len(text) == 112 and len(text.encode()) == 152

    # When read with a 120-byte limit / Then it is too large
    assert rejection([text], max_line_bytes=120).code == InvalidReason.LINE_TOO_LARGE


def test_split_lines_reassembles_lines_across_chunks() -> None:
    # Given a byte stream cut in the middle of lines, with CRLF endings and no final newline
    chunks = [b'{"a":', b' 1}\r\n{"b"', b": 2}\n\n", b'{"c": 3}']

    # When split / Then the lines come back whole, without the line endings
    assert list(split_lines(chunks, max_line_bytes=100)) == [b'{"a": 1}', b'{"b": 2}', b"", b'{"c": 3}']


def test_split_lines_stops_an_endless_line_without_reading_it_all() -> None:
    # Given a stream of one million 1 kB chunks with no newline
    consumed = 0

    def endless() -> object:
        nonlocal consumed
        for _ in range(1_000_000):
            consumed += 1
            yield b"x" * 1024

    # When split with a 10 kB limit
    with pytest.raises(EvaluationSetInvalid) as caught:
        list(split_lines(endless(), max_line_bytes=10_240))  # type: ignore[arg-type]

    # Then it fails on line 1 after about 10 chunks, not a gigabyte
    assert caught.value.code == InvalidReason.LINE_TOO_LARGE and caught.value.line == 1
    assert consumed <= 11


def test_split_lines_numbers_the_oversized_line() -> None:
    chunks = [b"short\n", b"also short\n", b"y" * 50 + b"\n"]
    with pytest.raises(EvaluationSetInvalid) as caught:
        list(split_lines(chunks, max_line_bytes=20))
    assert caught.value.line == 3
