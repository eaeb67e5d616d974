"""The smoke test: does a freshly deployed endpoint answer the manifest's sample requests sensibly?

The deployment invokes the stage's endpoint once per sample request (`SmokeSample`) and hands the
answers (`SmokeResponse`: HTTP status, body bytes, latency) to `check_smoke_responses`, which
judges them against the stage's `SmokeTest`. It passes when every sample got an HTTP 200 whose
body is a JSON object, or a non-empty list of JSON objects, holding every required key, within
`max_latency_ms` (inclusive). A failed smoke test rolls the stage back.

A body is model output and may hold anything the model produced (personal data included), so a
failure says which sample failed and why in sizes, counts and the configured key names only:
never the body, a value from it, or its keys beyond the required ones.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

from fmops.deployment.config import SmokeTest

OK = 200
SAMPLE_NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$"


class _Frozen(BaseModel):
    model_config = ConfigDict(defer_build=True, extra="forbid", frozen=True)


class SmokeSample(_Frozen):
    """One sample request of the manifest: a name people recognise and the JSON object sent."""

    name: str = Field(pattern=SAMPLE_NAME_PATTERN)
    request: dict[str, Any]

    def body(self) -> bytes:
        """The request as sent to the endpoint (`application/json`)."""
        return json.dumps(self.request, separators=(",", ":"), ensure_ascii=False).encode()


class SmokeResponse(_Frozen):
    """The endpoint's answer to one sample."""

    status_code: int = Field(ge=100, le=599)
    body: bytes = Field(repr=False)  # model output: never in a repr, a log line or a failure
    latency_ms: float = Field(ge=0, allow_inf_nan=False)


class SmokeFailureCode(StrEnum):
    NO_SAMPLES = "no_samples"  # nothing was asked, so nothing shows the endpoint works
    NO_RESPONSE = "no_response"  # the invocation raised or timed out
    HTTP_STATUS = "http_status"
    TOO_SLOW = "too_slow"
    NOT_JSON = "not_json"
    NOT_OBJECT = "not_object"
    MISSING_KEYS = "missing_keys"


class SmokeFailure(_Frozen):
    """One reason one sample failed; `sample` is None for a failure of the test as a whole."""

    sample: str | None
    index: int | None = Field(description="Position of the sample in the manifest.")
    code: SmokeFailureCode
    message: str


class SmokeResult(_Frozen):
    passed: bool
    samples: int
    failures: list[SmokeFailure]
    slowest_ms: float | None = None

    @model_validator(mode="after")
    def _passed_only_without_failures(self) -> SmokeResult:
        if self.passed == bool(self.failures):
            raise ValueError("passed must be true exactly when nothing failed")
        return self

    @property
    def reason(self) -> str:
        """One line for a deployment record and its event: which samples failed, and why."""
        if self.passed:
            return f"all {self.samples} sample requests answered as expected"
        failed = len({f.index for f in self.failures if f.index is not None})
        details = "; ".join(f"{f.sample}: {f.message}" if f.sample else f.message for f in self.failures)
        return f"smoke test failed ({failed} of {self.samples} samples): {details}"


def _ms(latency: float) -> str:
    return f"{latency:.3f}".rstrip("0").rstrip(".")


def _json_type(value: Any) -> str:
    names = {dict: "an object", list: "a list", str: "a string", bool: "a boolean", type(None): "null"}
    return names.get(type(value), "a number")


def _judge_body(body: bytes, required_keys: Sequence[str]) -> tuple[SmokeFailureCode, str] | None:
    try:
        document = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        # The decoder's message may quote the body; say only how much there was.
        return SmokeFailureCode.NOT_JSON, f"the body ({len(body)} bytes) is not UTF-8 JSON"
    items = document if isinstance(document, list) else [document]
    if not items or not all(isinstance(item, dict) for item in items):
        if isinstance(document, list):
            shape = "an empty list" if not items else f"a list of {len(items)} items, not all objects"
        else:
            shape = _json_type(document)
        return SmokeFailureCode.NOT_OBJECT, f"the body is {shape}: expected a JSON object or a list of objects"
    lacking = []
    for position, item in enumerate(items):
        missing = [key for key in required_keys if key not in item]
        if missing:
            where = f"item {position}" if isinstance(document, list) else "the object"
            lacking.append(f"{where} lacks {', '.join(repr(key) for key in missing)}")
    if lacking:
        return SmokeFailureCode.MISSING_KEYS, "; ".join(lacking)
    return None


def _judge(index: int, sample: SmokeSample, response: SmokeResponse | None, rule: SmokeTest) -> list[SmokeFailure]:
    def failure(code: SmokeFailureCode, message: str) -> SmokeFailure:
        return SmokeFailure(sample=sample.name, index=index, code=code, message=message)

    if response is None:
        return [failure(SmokeFailureCode.NO_RESPONSE, "no response (the invocation failed or timed out)")]
    failures = []
    if response.latency_ms > rule.max_latency_ms:
        failures.append(
            failure(
                SmokeFailureCode.TOO_SLOW,
                f"answered in {_ms(response.latency_ms)} ms, more than the {rule.max_latency_ms} ms allowed",
            )
        )
    if response.status_code != OK:
        failures.append(
            failure(SmokeFailureCode.HTTP_STATUS, f"HTTP {response.status_code} ({len(response.body)} bytes)")
        )
    else:
        judged = _judge_body(response.body, rule.required_keys)
        if judged is not None:
            failures.append(failure(*judged))
    return failures


def check_smoke_responses(
    samples: Sequence[SmokeSample], responses: Sequence[SmokeResponse | None], rule: SmokeTest
) -> SmokeResult:
    """Judge the endpoint's answers, `responses[i]` to `samples[i]` (None: no answer), listing every failure.

    No samples at all fails: a smoke test that asked nothing proves nothing.
    """
    if len(responses) != len(samples):
        raise ValueError(f"{len(samples)} samples but {len(responses)} responses: one response per sample")
    if not samples:
        return SmokeResult(
            passed=False,
            samples=0,
            failures=[
                SmokeFailure(
                    sample=None,
                    index=None,
                    code=SmokeFailureCode.NO_SAMPLES,
                    message="the manifest has no sample requests: nothing shows the endpoint answers",
                )
            ],
        )
    failures = [
        failure
        for index, (sample, response) in enumerate(zip(samples, responses, strict=True))
        for failure in _judge(index, sample, response, rule)
    ]
    answered = [r.latency_ms for r in responses if r is not None]
    return SmokeResult(
        passed=not failures,
        samples=len(samples),
        failures=failures,
        slowest_ms=max(answered, default=None),
    )
