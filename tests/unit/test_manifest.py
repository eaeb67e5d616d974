import json

import pytest

from fmops.manifest import (
    MAX_MANIFEST_BYTES,
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
    assert Manifest.model_json_schema()["title"] == "Manifest"
