"""The `fmops` front end offline: schema, dry-run, input errors, `local up` and help."""

from __future__ import annotations

import json
import sys
import types
from pathlib import Path

import pytest

from fmops.manifest import manifest_json_schema
from fmops_cli.main import main


def test_manifest_schema_prints_the_published_schema(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["manifest", "schema"]) == 0

    assert json.loads(capsys.readouterr().out) == manifest_json_schema()


def test_manifest_schema_writes_a_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    target = tmp_path / "manifest.schema.json"

    assert main(["manifest", "schema", "-o", str(target)]) == 0

    assert json.loads(target.read_text())["$id"] == "https://fmops.dev/schemas/manifest/v1.json"
    assert capsys.readouterr().out == ""


def test_a_dry_run_prints_the_manifest_and_the_plan_without_aws(
    version_folder: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given a valid folder and no AWS configuration at all (the network is off in unit tests)
    # When it is submitted with --dry-run
    code = main(["submit", str(version_folder), "--version", "1.0.0", "--dry-run"])

    # Then stdout is exactly the manifest that would be uploaded, ready to redirect to a file
    captured = capsys.readouterr()
    assert code == 0
    manifest = json.loads(captured.out)
    assert manifest["version"] == "1.0.0"
    assert [artifact["path"] for artifact in manifest["artifacts"]] == ["config.json", "weights/head.bin"]
    # And stderr says nothing was uploaded and where the files would go, manifest last
    assert "nothing was uploaded" in captured.err
    assert "s3://<bucket>/models/sentiment-classifier/1.0.0/" in captured.err
    assert captured.err.index("weights/head.bin") < captured.err.index("manifest.json (last)")


def test_a_dry_run_names_the_local_clouds_bucket(
    version_folder: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    outputs = tmp_path / ".fmops" / "local" / "outputs.json"
    outputs.parent.mkdir(parents=True)
    outputs.write_text(json.dumps({"ArtifactBucketName": "local-artifacts", "AwsEndpointUrl": "http://127.0.0.1:4566"}))

    assert main(["submit", str(version_folder), "--version", "1.0.0", "--dry-run"]) == 0

    assert "s3://local-artifacts/models/sentiment-classifier/1.0.0/" in capsys.readouterr().err


def test_an_invalid_version_exits_2_listing_every_problem(
    version_folder: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given a card with an unsupported risk tier, submitted without a version
    card = version_folder / "model-card.yaml"
    card.write_text(card.read_text().replace("risk_tier: medium", "risk_tier: extreme"))

    # When it is submitted (even for real: validation comes before any AWS call)
    code = main(["submit", str(version_folder), "--bucket", "b"])

    # Then it exits 2 and stderr lists both problems
    err = capsys.readouterr().err
    assert code == 2
    assert "missing_field: version" in err
    assert "schema_violation: risk_tier" in err
    assert "nothing was uploaded" in err


def test_submitting_without_a_destination_explains_the_three_ways(
    version_folder: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["submit", str(version_folder), "--version", "1"])

    err = capsys.readouterr().err
    assert code == 2
    assert "no --bucket given and no local cloud found" in err
    assert "--stack NAME" in err
    assert "fmops local up" in err


def test_a_missing_folder_is_reported(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["submit", "does-not-exist", "--dry-run"]) == 2
    assert "does-not-exist does not exist" in capsys.readouterr().err


def test_status_refuses_a_malformed_version_id(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["status", "just-a-group", "--catalog-table", "c", "--audit-table", "a"]) == 2
    assert "<model-group>/<version>" in capsys.readouterr().err


def test_status_rejects_an_unknown_wait_target(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["status", "a/1", "--wait-for", "Deployed"]) == 2
    assert "invalid choice: 'Deployed'" in capsys.readouterr().err


def test_local_up_runs_the_local_cloud_from_the_project_root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Given a project folder (it has template.yaml) and a local cloud that records how it was started
    (tmp_path / "template.yaml").write_text("Resources: {}\n")
    (tmp_path / "sub").mkdir()
    monkeypatch.chdir(tmp_path / "sub")
    calls: list[tuple[Path, int]] = []
    fake = types.ModuleType("fmops_local")
    fake.run_foreground = lambda root, port: calls.append((root, port))  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "fmops_local", fake)

    # When `fmops local up --port 0` runs in a subfolder
    code = main(["local", "up", "--port", "0"])

    # Then the local cloud is started for the project root on that port
    assert code == 0
    assert calls == [(tmp_path.resolve(), 0)]


def test_local_up_without_the_local_cloud_says_how_to_install_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "template.yaml").write_text("Resources: {}\n")
    monkeypatch.setitem(sys.modules, "fmops_local", None)  # import fails as if not installed

    assert main(["local", "up"]) == 1
    err = capsys.readouterr().err
    assert "the local cloud is not installed" in err
    assert "pip install -e '.[dev]'" in err


def test_local_up_outside_a_project_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["local", "up"]) == 2
    assert "no template.yaml" in capsys.readouterr().err


@pytest.mark.parametrize("command", [[], ["submit"], ["status"], ["manifest"], ["local"]])
def test_incomplete_commands_are_usage_errors(command: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    assert main(command) == 2
    assert "usage: fmops" in capsys.readouterr().err


@pytest.mark.parametrize("command", [["--help"], ["submit", "--help"], ["status", "--help"], ["local", "up", "--help"]])
def test_help_is_available_for_every_command(command: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    assert main(command) == 0
    assert "usage: fmops" in capsys.readouterr().out
