"""`fmops approvals validate|publish`: whoever owns the gate checks who approves, and puts it in force (S3 on moto)."""

from __future__ import annotations

import hashlib
import json
import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws

from fmops.adapters.s3 import S3PolicyStore
from fmops.approvals.config import DIRECTORY_KEY, RULES_KEY, load_directory, load_rules
from fmops.gate.policy import Stage
from fmops_cli.main import main

ROOT = Path(__file__).resolve().parents[3]
RULES, DIRECTORY = ROOT / "approvals" / "rules.json", ROOT / "approvals" / "directory.json"
BUCKET = "fmops-policies"


@pytest.fixture
def s3(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """A versioned policy bucket in moto, named by the local cloud's outputs (no endpoint: moto is in-process)."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    outputs = tmp_path / ".fmops" / "local" / "outputs.json"
    outputs.parent.mkdir(parents=True)
    outputs.write_text(json.dumps({"PolicyBucketName": BUCKET, "AwsRegion": "us-east-1"}))
    with mock_aws():
        client: Any = boto3.client("s3", region_name="us-east-1")
        client.create_bucket(Bucket=BUCKET)
        client.put_bucket_versioning(Bucket=BUCKET, VersioningConfiguration={"Status": "Enabled"})
        yield client


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """The shipped approvals/ folder in the current directory (the tests run in tmp_path), as in the project."""
    folder = tmp_path / "approvals"
    folder.mkdir()
    shutil.copy(RULES, folder / "rules.json")
    shutil.copy(DIRECTORY, folder / "directory.json")
    return tmp_path


def edited(source: Path, target: Path, edit: Any) -> Path:
    """A copy of `source` as JSON, changed by `edit(document)`, written to `target`."""
    document = json.loads(source.read_text())
    edit(document)
    target.write_text(json.dumps(document, indent=2))
    return target


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def shows(out: str, label: str, value: str) -> bool:
    """The output has the row `label  value`."""
    return re.search(rf"^ +{re.escape(label)} +{re.escape(value)}$", out, re.MULTILINE) is not None


def versions(s3: Any, key: str) -> list[str]:
    return [version["VersionId"] for version in s3.list_object_versions(Bucket=BUCKET, Prefix=key)["Versions"]]


# ------------------------------------------------------------------ validate


def test_the_shipped_files_are_valid_together_and_show_each_stage_group_and_hash(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code = main(["approvals", "validate", str(RULES), str(DIRECTORY)])

    out = capsys.readouterr().out
    assert code == 0
    assert shows(out, "dev", "quorum 2 from ml-engineers, ml-leads; expires after 2d; reminders 4h before expiry")
    assert "escalates to release-managers after 3d" in out
    assert shows(out, "ml-leads", "ben.okafor, chen.wei")
    assert shows(out, "(no group)", "demo.user")
    assert shows(out, "sha256", sha256(RULES)) and shows(out, "sha256", sha256(DIRECTORY))
    assert "every stage's quorum can be reached" in out


def test_validate_reads_approvals_in_the_current_folder_by_default(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["approvals", "validate"]) == 0

    assert "approvals/rules.json: valid approval rules" in capsys.readouterr().out


def test_every_problem_of_both_files_is_listed_with_its_file_and_json_path_and_exits_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given rules with a quorum too large and a misspelt key, and a directory where one e-mail names two people
    def bad_rules(document: dict[str, Any]) -> None:
        document["stages"]["dev"]["quorum"] = 11
        document["stages"]["preprod"]["groupz"] = []

    def bad_directory(document: dict[str, Any]) -> None:
        document["approvers"][2]["email"] = "ANA.ORTIZ@example.com"

    rules = edited(RULES, tmp_path / "rules.json", bad_rules)
    directory = edited(DIRECTORY, tmp_path / "directory.json", bad_directory)

    # When they are validated
    code = main(["approvals", "validate", str(rules), str(directory)])

    # Then every problem is listed, each with its file and JSON path
    err = capsys.readouterr().err
    assert code == 2
    assert f"{rules}: $.stages.dev.quorum: must be <= 10, got 11" in err
    assert f"{rules}: $.stages.preprod.groupz: unknown key 'groupz'" in err
    assert f"{directory}: $.approvers[2].email: e-mail 'ANA.ORTIZ@example.com' is already used by $.approvers[1]" in err
    assert "3 problems" in err


def test_a_quorum_the_directory_cannot_reach_is_an_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # Given a directory in which only one person is in the dev stage's groups (quorum 2)
    def only_ben_for_dev(document: dict[str, Any]) -> None:
        for approver in document["approvers"]:
            approver["groups"] = [g for g in approver["groups"] if g not in ("ml-engineers", "ml-leads")]
        document["approvers"][2]["groups"] += ["ml-engineers", "ml-leads"]  # ben.okafor

    directory = edited(DIRECTORY, tmp_path / "directory.json", only_ben_for_dev)

    code = main(["approvals", "validate", str(RULES), str(directory)])

    err = capsys.readouterr().err
    assert code == 2
    assert f"{RULES}: $.stages.dev.quorum: quorum 2 cannot be reached" in err
    # preprod (quorum 1 of ml-leads) is still reachable: only the dev stage is reported
    assert "$.stages.preprod" not in err


def test_a_missing_file_is_an_input_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["approvals", "validate", str(tmp_path / "nope.json"), str(DIRECTORY)]) == 2
    assert f"{tmp_path / 'nope.json'}: cannot read" in capsys.readouterr().err


# ------------------------------------------------------------------ publish


def test_publish_uploads_both_files_byte_for_byte_where_the_approval_functions_read_them(
    s3: Any, project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # When the project's approvals/ files are published (the defaults)
    code = main(["approvals", "publish"])

    # Then each is stored byte for byte under its key, as JSON
    out = capsys.readouterr().out
    assert code == 0
    for path, key in (
        (project / "approvals" / "rules.json", RULES_KEY),
        (project / "approvals" / "directory.json", DIRECTORY_KEY),
    ):
        stored = s3.get_object(Bucket=BUCKET, Key=key)
        assert stored["Body"].read() == path.read_bytes()
        assert stored["ContentType"] == "application/json"
        # And the output names the hash, the URI and the S3 version
        assert shows(out, "sha256", sha256(path))
        assert shows(out, "uri", f"s3://{BUCKET}/{key}")
        assert shows(out, "VersionId", stored["VersionId"])
    # And the approval functions' loaders read them back
    store = S3PolicyStore(BUCKET, s3=s3)
    assert load_rules(store).rule_for(Stage.DEV).quorum == 2
    assert load_directory(store).by_id("ben.okafor") is not None


def test_republishing_the_same_files_uploads_nothing_and_says_so(
    s3: Any, project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given both files are published
    assert main(["approvals", "publish"]) == 0
    first = {key: versions(s3, key) for key in (RULES_KEY, DIRECTORY_KEY)}
    capsys.readouterr()

    # When they are published again, unchanged
    code = main(["approvals", "publish"])

    # Then nothing is uploaded and the output says both are already there
    out = capsys.readouterr().out
    assert code == 0
    assert out.count("unchanged, the same bytes are already published (nothing uploaded)") == 2
    assert {key: versions(s3, key) for key in (RULES_KEY, DIRECTORY_KEY)} == first


def test_a_changed_directory_replaces_the_published_one_and_leaves_the_rules(
    s3: Any, project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["approvals", "publish"]) == 0
    capsys.readouterr()
    directory = project / "approvals" / "directory.json"
    before = sha256(directory)
    edited(directory, directory, lambda document: document["approvers"][1]["groups"].append("ml-leads"))

    code = main(["approvals", "publish"])

    out = capsys.readouterr().out
    assert code == 0
    assert f"approvals/directory.json: published, replacing sha256 {before}" in out
    assert "approvals/rules.json: unchanged" in out
    assert s3.get_object(Bucket=BUCKET, Key=DIRECTORY_KEY)["Body"].read() == directory.read_bytes()
    assert len(versions(s3, RULES_KEY)) == 1


def test_nothing_is_published_when_a_file_is_invalid_or_a_quorum_unreachable(
    s3: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given valid rules, and a directory that leaves the prod stage with one eligible person (quorum 2)
    def one_for_prod(document: dict[str, Any]) -> None:
        document["approvers"] = [a for a in document["approvers"] if a["id"] not in ("dara.novak", "eli.haddad")]

    directory = edited(DIRECTORY, tmp_path / "directory.json", one_for_prod)

    code = main(["approvals", "publish", "--rules", str(RULES), "--directory", str(directory)])

    err = capsys.readouterr().err
    assert code == 2
    assert "nothing was published" in err
    assert f"{RULES}: $.stages.prod.quorum: quorum 2 cannot be reached" in err
    assert s3.list_objects_v2(Bucket=BUCKET).get("KeyCount") == 0


def test_the_policy_bucket_flag_wins_over_the_local_cloud(s3: Any, capsys: pytest.CaptureFixture[str]) -> None:
    s3.create_bucket(Bucket="other-policies")

    files = ["--rules", str(RULES), "--directory", str(DIRECTORY)]

    code = main(["approvals", "publish", *files, "--policy-bucket", "other-policies"])

    out = capsys.readouterr().out
    assert code == 0
    assert shows(out, "uri", f"s3://other-policies/{RULES_KEY}")
    assert shows(out, "VersionId", "none (the bucket is not versioned)")
    assert s3.list_objects_v2(Bucket=BUCKET).get("KeyCount") == 0


def test_publishing_without_a_bucket_names_the_flag(capsys: pytest.CaptureFixture[str]) -> None:
    # No local cloud, no stack, no flag: the files are valid, so the missing bucket is what is reported
    code = main(["approvals", "publish", "--rules", str(RULES), "--directory", str(DIRECTORY)])

    assert code == 2
    assert "--policy-bucket" in capsys.readouterr().err
