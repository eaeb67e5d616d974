"""Building the manifest: canonical bytes, validated as intake validates, every problem reported at once."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from fmops.manifest import parse_manifest
from fmops_cli.artifacts import LocalArtifact
from fmops_cli.manifests import InvalidManifest, build_manifest
from fmops_cli.submit import plan_submission

SHA256_ABC = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"

CARD = {
    "model_group": "churn",
    "version": "2026.11.1",
    "kind": "classic",
    "task": "tabular-classification",
    "intended_use": "Rank accounts by churn risk for the retention team.",
    "limitations": "Trained on EU accounts only.",
    "risk_tier": "low",
    "owner_team": "retention-analytics",
    "submitter": {"id": "ana.silva", "email": "ana.silva@example.com"},
}


def artifact(path: str, sha256: str = SHA256_ABC, size: int = 3) -> LocalArtifact:
    return LocalArtifact(source=Path("/nowhere") / path, path=path, size_bytes=size, sha256=sha256, mtime_ns=0)


def test_the_manifest_is_the_card_plus_the_artifact_inventory() -> None:
    # Given a complete card and one hashed artifact
    # When the manifest is built
    built = build_manifest(CARD, [artifact("model.joblib")])

    # Then intake's own parser accepts the bytes, and they hold the card and the inventory
    manifest, problems = parse_manifest(built.body)
    assert problems == []
    assert manifest is not None
    assert manifest.version_id == "churn/2026.11.1"
    document = json.loads(built.body)
    assert document["artifacts"] == [{"path": "model.joblib", "sha256": SHA256_ABC, "size_bytes": 3}]
    assert document["schema_version"] == "1"
    assert "base_model" not in document  # unset optional fields are left out, not written as null
    assert built.sha256 == hashlib.sha256(built.body).hexdigest()


def test_the_same_inputs_always_give_the_same_bytes() -> None:
    # Given the same card with its keys in another order
    reordered = dict(reversed(list(CARD.items())))

    # When both are built, Then the bytes are identical (a re-submission is recognised as the same)
    assert build_manifest(CARD, [artifact("a")]).body == build_manifest(reordered, [artifact("a")]).body
    assert build_manifest(CARD, [artifact("a")]).body.endswith(b"\n")


def test_every_problem_is_reported_at_once_with_intakes_codes() -> None:
    # Given a card with an unknown kind, a typo'd field, no submitter, and an artifact path intake refuses
    card = {key: value for key, value in CARD.items() if key != "submitter"}
    card.update(kind="diffusion", licence="mit")

    # When the manifest is built
    with pytest.raises(InvalidManifest) as raised:
        build_manifest(card, [artifact("ok.bin"), artifact("weights#1.bin")])

    # Then every problem is listed, with the codes intake would use
    by_field = {problem.field: problem.code for problem in raised.value.problems}
    assert by_field == {
        "kind": "unknown_kind",
        "licence": "unknown_field",
        "submitter": "missing_field",
        "artifacts.1.path": "schema_violation",
    }
    message = raised.value.message
    assert "4 problems" in message
    assert "nothing was uploaded" in message
    # And the message names the offending file and says how to add the submitter
    assert "artifacts.1.path (weights#1.bin)" in message
    assert "pass --submitter-id and --submitter-email" in message
    assert raised.value.exit_code == 2


def test_sample_requests_are_part_of_the_manifest_as_written() -> None:
    samples = [{"name": "happy", "request": {"inputs": "Great!", "parameters": {"top_k": 1, "stop": None}}}]

    built = build_manifest({**CARD, "sample_requests": samples}, [artifact("model.joblib")])

    assert json.loads(built.body)["sample_requests"] == samples


def test_a_bad_sample_request_name_says_what_a_name_may_hold() -> None:
    samples = [{"name": "ok", "request": {}}, {"name": "not ok!", "request": {}}]

    with pytest.raises(InvalidManifest) as raised:
        build_manifest({**CARD, "sample_requests": samples}, [artifact("model.joblib")])

    assert [problem.field for problem in raised.value.problems] == ["sample_requests.1.name"]
    assert "letters, digits, '.', '_' and '-', at most 64, starting with a letter or digit" in raised.value.message


def test_derived_models_must_name_their_base_model() -> None:
    card = {**CARD, "kind": "fine-tuned"}

    with pytest.raises(InvalidManifest) as raised:
        build_manifest(card, [artifact("adapter.safetensors")])

    assert [problem.code for problem in raised.value.problems] == ["schema_violation"]
    assert "base_model" in raised.value.problems[0].message


def test_a_folder_without_artifacts_is_refused() -> None:
    with pytest.raises(InvalidManifest) as raised:
        build_manifest(CARD, [])

    assert [problem.field for problem in raised.value.problems] == ["artifacts"]
    assert "at least one file besides the model card" in raised.value.message


def test_an_oversized_manifest_is_refused_before_upload() -> None:
    # Given more artifacts with long names than fit in 256 KiB of manifest
    many = [artifact(f"shards/{'x' * 400}-{index:04d}.bin") for index in range(700)]

    with pytest.raises(InvalidManifest) as raised:
        build_manifest(CARD, many)

    assert [problem.code for problem in raised.value.problems] == ["manifest_too_large"]


def test_planning_a_folder_hashes_its_files_and_applies_the_flags(version_folder: Path) -> None:
    # Given a version folder with a YAML card
    # When a submission is planned with a version and another submitter on the command line
    plan = plan_submission(version_folder, version="3.0.0", submitter_id="ben", submitter_email="ben@example.com")

    # Then the manifest lists every artifact with its digest and the flags' values
    manifest = plan.manifest.manifest
    assert plan.version_id == "sentiment-classifier/3.0.0"
    assert [(a.path, a.size_bytes) for a in manifest.artifacts] == [("config.json", 36), ("weights/head.bin", 3)]
    assert manifest.artifacts[1].sha256 == SHA256_ABC
    assert (manifest.submitter.id, manifest.submitter.email) == ("ben", "ben@example.com")
    assert plan.manifest_key == "models/sentiment-classifier/3.0.0/manifest.json"
    assert plan.key_of(plan.artifacts[1]) == "models/sentiment-classifier/3.0.0/weights/head.bin"


def test_a_manifest_left_in_the_folder_is_not_uploaded_as_an_artifact(version_folder: Path) -> None:
    # Given a folder that still holds a manifest.json (e.g. copied from a bucket)
    (version_folder / "manifest.json").write_text("{}")

    # When a submission is planned, Then it is refused: the manifest cannot list itself
    with pytest.raises(InvalidManifest, match="cannot list itself"):
        plan_submission(version_folder, version="1")


def test_a_card_named_on_the_command_line_replaces_the_folders(version_folder: Path, tmp_path: Path) -> None:
    # Given another card outside the folder, for another group
    other = tmp_path / "other-card.json"
    card = json.loads(json.dumps({**CARD, "model_group": "other-group"}))
    other.write_text(json.dumps(card))

    # When it is used
    plan = plan_submission(version_folder, model_card=other)

    # Then its fields apply, and the folder's own model-card.yaml is still not an artifact
    assert plan.version_id == "other-group/2026.11.1"
    assert "model-card.yaml" not in [a.path for a in plan.artifacts]
