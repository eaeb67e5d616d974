import json
from typing import Any

import pytest

from fmops.deployment import smoke
from fmops.deployment.smoke import SmokeSample
from fmops.manifest import (
    MAX_MANIFEST_BYTES,
    MAX_SAMPLE_REQUEST_BYTES,
    MAX_SAMPLE_REQUESTS,
    SAMPLE_NAME_PATTERN,
    Manifest,
    manifest_json_schema,
    parse_manifest,
    parse_manifest_key,
)

from tests.unit.builders import manifest_document


def codes(raw: bytes) -> list[str]:
    _, problems = parse_manifest(raw)
    return [problem.code for problem in problems]


def test_a_complete_model_card_is_valid() -> None:
    manifest, problems = parse_manifest(json.dumps(manifest_document()).encode())

    assert problems == []
    assert manifest is not None
    assert manifest.version_id == "sentiment/1.0.0"
    assert manifest.artifacts[0].path == "model/weights.bin"


def test_a_prompt_template_needs_no_base_model() -> None:
    document = manifest_document(kind="prompt-template", base_model=None)

    manifest, problems = parse_manifest(json.dumps(document).encode())

    assert problems == [] and manifest is not None


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (b"{not json", ["manifest_not_json"]),
        (b"\xff\xfe", ["manifest_not_json"]),
        (b"[1, 2]", ["manifest_not_object"]),
        (b" " * (MAX_MANIFEST_BYTES + 1), ["manifest_too_large"]),
    ],
)
def test_unreadable_manifests_are_refused_with_one_reason(raw: bytes, expected: list[str]) -> None:
    assert codes(raw) == expected


def test_every_schema_violation_is_reported_not_only_the_first() -> None:
    document = manifest_document(kind="diffusion-thing", risk_tier="extreme", colour="blue")
    del document["intended_use"]

    problems = parse_manifest(json.dumps(document).encode())[1]

    by_field = {problem.field: problem.code for problem in problems}
    assert by_field["kind"] == "unknown_kind"
    assert by_field["risk_tier"] == "schema_violation"
    assert by_field["colour"] == "unknown_field"
    assert by_field["intended_use"] == "missing_field"


@pytest.mark.parametrize(
    "path",
    ["../outside.bin", "/etc/passwd", "model/../../x", "model\\weights.bin", "./weights.bin", "a//b", "manifest.json"],
)
def test_artifact_paths_cannot_leave_the_version_folder(path: str) -> None:
    document = manifest_document()
    document["artifacts"][0]["path"] = path

    problems = parse_manifest(json.dumps(document).encode())[1]

    assert [problem.field for problem in problems] == ["artifacts.0.path"]


def test_a_fine_tune_must_name_its_base_model() -> None:
    problems = parse_manifest(json.dumps(manifest_document(base_model=None)).encode())[1]

    assert len(problems) == 1
    assert "base_model" in problems[0].message


def test_an_artifact_listed_twice_is_refused() -> None:
    document = manifest_document()
    document["artifacts"].append(dict(document["artifacts"][0]))

    problems = parse_manifest(json.dumps(document).encode())[1]

    assert "listed more than once: model/weights.bin" in problems[0].message


def test_sha256_must_be_lower_case_hex_of_64_characters() -> None:
    document = manifest_document()
    document["artifacts"][0]["sha256"] = "ABC"

    problems = parse_manifest(json.dumps(document).encode())[1]

    assert problems[0].field == "artifacts.0.sha256"


# ------------------------------------------------------------------------------ sample requests

SAMPLES = [
    {"name": "clearly-positive", "request": {"text": "I love this product"}},
    {"name": "clearly-negative", "request": {"text": "awful, broke in a day", "options": {"top_k": 1, "stop": None}}},
]


def sample_problems(samples: Any) -> list[tuple[str | None, str, str]]:
    _, problems = parse_manifest(json.dumps(manifest_document(sample_requests=samples)).encode())
    return [(problem.field, problem.code, problem.message) for problem in problems]


def test_sample_requests_are_what_each_stages_smoke_test_sends() -> None:
    # Given a manifest with two sample requests
    manifest, problems = parse_manifest(json.dumps(manifest_document(sample_requests=SAMPLES)).encode())

    # Then they are kept in order, each request as written (nulls included)
    assert problems == [] and manifest is not None
    assert [sample.name for sample in manifest.sample_requests] == ["clearly-positive", "clearly-negative"]
    assert manifest.sample_requests[1].request == SAMPLES[1]["request"]
    # And each is a smoke test sample as it is
    smoke_samples = [SmokeSample.model_validate(sample.model_dump()) for sample in manifest.sample_requests]
    assert smoke_samples[1].body() == b'{"text":"awful, broke in a day","options":{"top_k":1,"stop":null}}'


def test_sample_names_follow_the_smoke_tests_rule() -> None:
    # Copied because fmops.deployment imports fmops.manifest: the two must not drift apart
    assert SAMPLE_NAME_PATTERN == smoke.SAMPLE_NAME_PATTERN


def test_a_manifest_without_sample_requests_has_none() -> None:
    manifest, _ = parse_manifest(json.dumps(manifest_document()).encode())

    assert manifest is not None and manifest.sample_requests == []


@pytest.mark.parametrize(
    ("samples", "field", "message"),
    [
        pytest.param(
            [SAMPLES[0], {"name": "clearly-positive", "request": {}}],
            "sample_requests",
            "sample request names used more than once: clearly-positive",
            id="name-twice",
        ),
        pytest.param([{"name": "-dash", "request": {}}], "sample_requests.0.name", "pattern", id="name-pattern"),
        pytest.param([{"name": "a" * 65, "request": {}}], "sample_requests.0.name", "pattern", id="name-too-long"),
        pytest.param([{"name": "list", "request": ["text"]}], "sample_requests.0.request", "dictionary", id="list"),
        pytest.param([{"name": "text", "request": "hello"}], "sample_requests.0.request", "dictionary", id="text"),
        pytest.param([{"name": "none", "request": None}], "sample_requests.0.request", "dictionary", id="null"),
        pytest.param([{"name": "nameless"}], "sample_requests.0.request", "Field required", id="no-request"),
        pytest.param(
            [{"name": f"s{n}", "request": {}} for n in range(MAX_SAMPLE_REQUESTS + 1)],
            "sample_requests",
            f"at most {MAX_SAMPLE_REQUESTS} items",
            id="too-many",
        ),
        pytest.param(
            [{"name": "huge", "request": {"text": "x" * (MAX_SAMPLE_REQUEST_BYTES - 11 + 1)}}],
            "sample_requests.0.request",
            f"a sample request is at most {MAX_SAMPLE_REQUEST_BYTES} bytes as JSON, got {MAX_SAMPLE_REQUEST_BYTES + 1}",
            id="too-large",
        ),
    ],
)
def test_invalid_sample_requests_are_refused_at_their_field(samples: Any, field: str, message: str) -> None:
    problems = sample_problems(samples)

    assert any(f == field and message in m for f, _, m in problems), problems


def test_a_sample_request_of_exactly_the_limit_is_accepted() -> None:
    # {"text":"…"} is 11 bytes besides the text; non-ASCII counts in UTF-8 bytes, as sent
    text = "é" * ((MAX_SAMPLE_REQUEST_BYTES - 11) // 2) + "x" * ((MAX_SAMPLE_REQUEST_BYTES - 11) % 2)

    assert sample_problems([{"name": "full", "request": {"text": text}}]) == []
    assert sample_problems([{"name": "full", "request": {"text": text + "x"}}]) != []


def test_a_sample_request_must_be_plain_json() -> None:
    raw = json.dumps(manifest_document(sample_requests=[{"name": "nan", "request": {"t": float("nan")}}])).encode()

    problems = parse_manifest(raw)[1]

    assert [(p.field, p.message) for p in problems] == [
        ("sample_requests.0.request", "Value error, a sample request must be plain JSON (no NaN or Infinity)")
    ]


def test_a_misspelt_sample_key_is_an_unknown_field() -> None:
    assert sample_problems([{"name": "typo", "requets": {}, "request": {}}]) == [
        ("sample_requests.0.requets", "unknown_field", "Extra inputs are not permitted")
    ]


@pytest.mark.parametrize(
    ("key", "expected"),
    [
        ("models/sentiment/1.0.0/manifest.json", ("sentiment", "1.0.0")),
        ("models/llama-ft/2026-11-26_rc1/manifest.json", ("llama-ft", "2026-11-26_rc1")),
        ("models/sentiment/manifest.json", None),
        ("models/a/b/c/manifest.json", None),
        ("models/under_score/1/manifest.json", None),
        ("models/sentiment/1.0.0/other.json", None),
    ],
)
def test_manifest_keys_name_group_and_version(key: str, expected: tuple[str, str] | None) -> None:
    assert parse_manifest_key(key) == expected


def test_the_published_schema_is_json_schema_of_the_model() -> None:
    schema = manifest_json_schema()

    assert schema["$schema"].startswith("https://json-schema.org/")
    assert set(schema["required"]) >= {"model_group", "version", "kind", "artifacts", "risk_tier", "submitter"}
    assert schema["properties"]["kind"]["$ref"].endswith("ModelKind")
    assert "sample_requests" not in schema["required"]
    assert Manifest.model_json_schema()["title"] == "Manifest"
