"""The evaluation set shipped with a text-to-text model version, read as a stream.

`eval/` in the version folder holds JSONL: one object per line with the prompt, the
reference answer, the model's prediction and, optionally, the latency and token counts
of the call that produced it. The reader holds one line at a time, so the size of the
set is bounded by `max_rows` and `max_line_bytes`, never by the memory of the function.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from typing import Any, NoReturn

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from fmops.errors import FmopsError


class InvalidReason:
    """Codes of `EvaluationSetInvalid`; callers branch on these, never on the message."""

    EMPTY = "empty_evaluation_set"
    TOO_MANY_ROWS = "too_many_rows"
    LINE_TOO_LARGE = "line_too_large"
    NOT_JSON = "line_not_json"
    NOT_OBJECT = "line_not_object"
    SCHEMA_VIOLATION = "schema_violation"


class EvaluationSetInvalid(FmopsError):
    """The evaluation set cannot be evaluated; `code` says why, `line` (1-based) says where."""

    def __init__(self, code: str, message: str, line: int | None = None) -> None:
        self.code = code
        self.message = message
        self.line = line
        super().__init__(self.reason)

    @property
    def reason(self) -> str:
        where = f"line {self.line}: " if self.line is not None else ""
        return f"{self.code}: {where}{self.message}"


class EvalRow(BaseModel):
    """One evaluated example. Strict: numbers are not strings, booleans are not counts."""

    model_config = ConfigDict(defer_build=True, extra="forbid", frozen=True, strict=True)

    prompt: str
    reference: str
    prediction: str
    latency_ms: float | None = Field(default=None, ge=0, allow_inf_nan=False)
    input_tokens: int | None = Field(default=None, ge=0)
    output_tokens: int | None = Field(default=None, ge=0)


def _reject_constant(name: str) -> NoReturn:
    # json.loads accepts NaN/Infinity by default; they are not JSON and not measurements.
    raise ValueError(f"{name} is not valid JSON")


def read_rows(lines: Iterable[bytes | str], max_rows: int, max_line_bytes: int) -> Iterator[EvalRow]:
    """Validate and yield the rows of a JSONL evaluation set, one line in memory at a time.

    Blank lines are skipped (but counted for line numbers). Raises `EvaluationSetInvalid`
    on the first bad line, on row `max_rows + 1`, and at the end if there was no row.
    `lines` must itself be bounded per line (see `split_lines` for a raw byte stream).
    """
    if max_rows < 1 or max_line_bytes < 1:
        raise ValueError("max_rows and max_line_bytes must be >= 1")
    rows = 0
    for number, line in enumerate(lines, start=1):
        _check_size(len(line), max_line_bytes, number)
        if isinstance(line, str):
            _check_size(len(line.encode()), max_line_bytes, number)
        if not line.strip():
            continue
        rows += 1
        if rows > max_rows:
            raise EvaluationSetInvalid(InvalidReason.TOO_MANY_ROWS, f"more than {max_rows} rows", number)
        yield _parse_row(line, number)
    if rows == 0:
        raise EvaluationSetInvalid(InvalidReason.EMPTY, "the evaluation set has no rows")


def _parse_row(line: bytes | str, number: int) -> EvalRow:
    try:
        document: Any = json.loads(line, parse_constant=_reject_constant)
    except (UnicodeDecodeError, ValueError) as error:  # JSONDecodeError is a ValueError
        raise EvaluationSetInvalid(InvalidReason.NOT_JSON, f"not valid JSON ({error})", number) from None
    if not isinstance(document, dict):
        raise EvaluationSetInvalid(InvalidReason.NOT_OBJECT, "each line must be a JSON object", number)
    try:
        return EvalRow.model_validate(document)
    except ValidationError as error:
        # include_input=False: prompts and predictions may be confidential; name the field only.
        details = error.errors(include_url=False, include_input=False)
        described = "; ".join(f"{'.'.join(str(p) for p in d['loc']) or '<row>'}: {d['msg']}" for d in details)
        raise EvaluationSetInvalid(InvalidReason.SCHEMA_VIOLATION, described, number) from None


def split_lines(chunks: Iterable[bytes], max_line_bytes: int) -> Iterator[bytes]:
    """Split a raw byte stream (e.g. an S3 body read in chunks) into lines without unbounded buffering.

    A line longer than `max_line_bytes` raises `line_too_large` as soon as the buffer
    passes the limit, so an object with no newline cannot fill the memory: the buffer never
    holds more than `max_line_bytes` plus one chunk.
    """
    buffer = bytearray()
    number = 1
    for chunk in chunks:
        buffer += chunk
        while (end := buffer.find(b"\n")) != -1:
            line = bytes(buffer[:end]).rstrip(b"\r")
            del buffer[: end + 1]
            _check_size(len(line), max_line_bytes, number)
            yield line
            number += 1
        # The unfinished line may end with a '\r' that the newline will strip: one byte of slack.
        _check_size(len(buffer) - 1, max_line_bytes, number)
    if buffer:
        line = bytes(buffer).rstrip(b"\r")
        _check_size(len(line), max_line_bytes, number)
        yield line


def _check_size(size: int, limit: int, number: int) -> None:
    if size > limit:
        raise EvaluationSetInvalid(InvalidReason.LINE_TOO_LARGE, f"line exceeds {limit} bytes", number)
