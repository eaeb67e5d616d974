import json
from typing import Any

import pytest
from pydantic import ValidationError

from fmops.deployment.config import SmokeTest
from fmops.deployment.smoke import (
    SmokeFailureCode,
    SmokeResponse,
    SmokeSample,
    check_smoke_responses,
)

RULE = SmokeTest(max_latency_ms=1000, required_keys=["label", "score"])
SAMPLES = [
    SmokeSample(name="praise", request={"inputs": "Great blender, works perfectly."}),
    SmokeSample(name="complaint", request={"inputs": "Broke after two days. Call me on +44 7700 900123."}),
]
SECRET = "maria.lopez0@example.com"  # what a leaky model might answer


def answer(
    body: Any = None, *, status: int = 200, latency_ms: float = 120.0, raw: bytes | None = None
) -> SmokeResponse:
    document = {"label": "positive", "score": 0.97} if body is None else body
    return SmokeResponse(
        status_code=status, body=raw if raw is not None else json.dumps(document).encode(), latency_ms=latency_ms
    )


def codes(result: Any) -> list[tuple[str | None, SmokeFailureCode]]:
    return [(failure.sample, failure.code) for failure in result.failures]


# ------------------------------------------------------------------------------ passing


@pytest.mark.parametrize(
    "second",
    [
        pytest.param(answer(), id="an-object"),
        pytest.param(answer([{"label": "negative", "score": 0.9}, {"label": "positive", "score": 0.1}]), id="a-list"),
        pytest.param(answer({"label": "negative", "score": 0.9, "extra": [1, 2]}), id="more-keys-than-required"),
        pytest.param(answer(latency_ms=1000), id="exactly-at-the-latency-limit"),
    ],
)
def test_every_sample_answered_in_shape_and_in_time_passes(second: SmokeResponse) -> None:
    # Given an endpoint that answered both samples with HTTP 200, the required keys, within the limit
    # When its answers are judged
    result = check_smoke_responses(SAMPLES, [answer(latency_ms=80.5), second], RULE)

    # Then the smoke test passes and records the slowest answer
    assert result.passed and result.failures == []
    assert result.samples == 2
    assert result.slowest_ms == max(80.5, second.latency_ms)
    assert result.reason == "all 2 sample requests answered as expected"


def test_no_required_keys_asks_only_for_json_objects() -> None:
    result = check_smoke_responses(
        SAMPLES, [answer({}), answer([{"anything": 1}])], SmokeTest(max_latency_ms=500, required_keys=[])
    )

    assert result.passed


# ------------------------------------------------------------------------------ failing


@pytest.mark.parametrize(
    ("response", "code", "message"),
    [
        pytest.param(None, SmokeFailureCode.NO_RESPONSE, "no response", id="no-response"),
        pytest.param(
            answer(status=500, raw=SECRET.encode()), SmokeFailureCode.HTTP_STATUS, "HTTP 500 (24 bytes)", id="http-500"
        ),
        pytest.param(answer(status=204, raw=b""), SmokeFailureCode.HTTP_STATUS, "HTTP 204 (0 bytes)", id="http-204"),
        pytest.param(
            answer(latency_ms=1000.25),
            SmokeFailureCode.TOO_SLOW,
            "answered in 1000.25 ms, more than the 1000 ms allowed",
            id="too-slow",
        ),
        pytest.param(
            answer(raw=f"label: {SECRET}".encode()), SmokeFailureCode.NOT_JSON, "is not UTF-8 JSON", id="not-json"
        ),
        pytest.param(answer(raw=b"\xff" + SECRET.encode()), SmokeFailureCode.NOT_JSON, "(25 bytes)", id="not-utf8"),
        pytest.param(answer(SECRET), SmokeFailureCode.NOT_OBJECT, "the body is a string", id="a-string"),
        pytest.param(answer(0.97), SmokeFailureCode.NOT_OBJECT, "the body is a number", id="a-number"),
        pytest.param(answer([]), SmokeFailureCode.NOT_OBJECT, "the body is an empty list", id="an-empty-list"),
        pytest.param(
            answer([{"label": "x", "score": 1}, SECRET]),
            SmokeFailureCode.NOT_OBJECT,
            "a list of 2 items, not all objects",
            id="a-list-with-a-string",
        ),
        pytest.param(
            answer({"label": SECRET}), SmokeFailureCode.MISSING_KEYS, "the object lacks 'score'", id="missing-key"
        ),
        pytest.param(
            answer([{"label": "x", "score": 1}, {SECRET: 1}]),
            SmokeFailureCode.MISSING_KEYS,
            "item 1 lacks 'label', 'score'",
            id="list-item-missing-keys",
        ),
    ],
)
def test_each_failure_names_the_sample_and_why_without_the_body(
    response: SmokeResponse | None, code: SmokeFailureCode, message: str
) -> None:
    # Given an endpoint that answered the first sample well and the second badly
    # When its answers are judged
    result = check_smoke_responses(SAMPLES, [answer(), response], RULE)

    # Then the smoke test fails, naming the second sample, the reason, and where it stands
    assert not result.passed
    assert codes(result) == [("complaint", code)]
    failure = result.failures[0]
    assert message in failure.message and failure.index == 1
    assert result.reason.startswith("smoke test failed (1 of 2 samples): complaint: ")
    # And nothing the model answered appears in the result
    assert SECRET not in result.model_dump_json() and SECRET not in result.reason


def test_every_failure_of_every_sample_is_listed() -> None:
    # Given one answer that is both slow and an error, and one that is slow and lacks a key
    responses = [answer(status=503, latency_ms=5000), answer({"label": "x"}, latency_ms=2000)]

    # When they are judged
    result = check_smoke_responses(SAMPLES, responses, RULE)

    # Then each reason is listed, sample by sample
    assert codes(result) == [
        ("praise", SmokeFailureCode.TOO_SLOW),
        ("praise", SmokeFailureCode.HTTP_STATUS),
        ("complaint", SmokeFailureCode.TOO_SLOW),
        ("complaint", SmokeFailureCode.MISSING_KEYS),
    ]
    assert result.reason.startswith("smoke test failed (2 of 2 samples):")
    assert result.slowest_ms == 5000


def test_a_manifest_without_sample_requests_fails_the_smoke_test() -> None:
    # Given no sample requests at all
    # When the (empty) answers are judged
    result = check_smoke_responses([], [], RULE)

    # Then the smoke test fails: asking nothing proves nothing
    assert not result.passed
    assert codes(result) == [(None, SmokeFailureCode.NO_SAMPLES)]
    assert "no sample requests" in result.reason


def test_answers_must_pair_with_the_samples() -> None:
    with pytest.raises(ValueError, match="2 samples but 1 responses"):
        check_smoke_responses(SAMPLES, [answer()], RULE)


# ------------------------------------------------------------------------------ samples and responses


def test_a_sample_is_sent_as_compact_utf8_json() -> None:
    sample = SmokeSample(name="accents", request={"inputs": "très bien", "top_k": 1})

    assert sample.body() == '{"inputs":"très bien","top_k":1}'.encode()


@pytest.mark.parametrize("name", ["", "-leading-hyphen", "has space", "x" * 65])
def test_a_sample_needs_a_readable_name(name: str) -> None:
    with pytest.raises(ValidationError):
        SmokeSample(name=name, request={})


def test_a_response_never_shows_its_body() -> None:
    assert SECRET not in repr(answer(raw=SECRET.encode()))
