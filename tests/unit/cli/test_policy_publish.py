"""`fmops policy publish`: business owners put validated policies where the gate reads them (S3 on moto)."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws

from fmops.gate.policy import policy_hash
from fmops_cli.main import main

ROOT = Path(__file__).resolve().parents[3]
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


def policy_file(folder: Path, name: str, **changes: Any) -> Path:
    """A copy of the shipped default policy with `changes`, written as `name`."""
    document = json.loads((ROOT / "policies" / "default.json").read_text())
    document.update(changes)
    path = folder / name
    path.write_text(json.dumps(document, indent=2))
    return path


def shows(out: str, label: str, value: str) -> bool:
    """The output has the row `label  value`."""
    return re.search(rf"^ +{re.escape(label)} +{re.escape(value)}$", out, re.MULTILINE) is not None


def published(s3: Any, key: str) -> Any:
    return s3.get_object(Bucket=BUCKET, Key=key)


def test_publish_uploads_each_file_under_its_group_and_prints_hash_and_versions(
    s3: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given the shipped default and group policies
    default, group = ROOT / "policies" / "default.json", ROOT / "policies" / "support-assistant.json"

    # When they are published
    code = main(["policy", "publish", str(default), str(group)])

    # Then each is stored byte for byte as <group>.json (default.json for "*"), as JSON
    out = capsys.readouterr().out
    assert code == 0
    for path, key in ((default, "default.json"), (group, "support-assistant.json")):
        stored = published(s3, key)
        assert stored["Body"].read() == path.read_bytes()
        assert stored["ContentType"] == "application/json"
        # And the output names the group, the policy version, the hash, the URI and the S3 version
        assert shows(out, "sha256", policy_hash(path.read_bytes()))
        assert f"s3://{BUCKET}/{key}" in out
        assert shows(out, "VersionId", stored["VersionId"])
    assert shows(out, "policy_version", "2026.11.1")
    assert shows(out, "policy_version", "3.1.0")
    assert shows(out, "group", "support-assistant")


def test_publish_refuses_every_file_when_one_is_invalid_listing_each_problem_with_its_path(
    s3: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given a valid file and one with a misspelt key and a malformed version label
    good = policy_file(tmp_path, "good.json", model_group="sentiment")
    bad = policy_file(tmp_path, "bad.json", treshold={}, policy_version="next one")

    # When both are published
    code = main(["policy", "publish", str(good), str(bad)])

    # Then nothing is uploaded and every problem is listed with its file and JSON path
    err = capsys.readouterr().err
    assert code == 2
    assert "nothing was published" in err
    assert "$.treshold: unknown key 'treshold'" in err
    assert "$.policy_version" in err
    assert str(bad) in err
    assert s3.list_objects_v2(Bucket=BUCKET).get("KeyCount") == 0


def test_two_files_for_the_same_group_are_refused(s3: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    one = policy_file(tmp_path, "one.json")
    two = policy_file(tmp_path, "two.json", policy_version="2026.11.2")

    assert main(["policy", "publish", str(one), str(two)]) == 2
    assert "all publish default.json" in capsys.readouterr().err


def test_the_same_policy_version_with_other_rules_is_refused(
    s3: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given version 2026.11.1 of the default policy is published
    assert main(["policy", "publish", str(ROOT / "policies" / "default.json")]) == 0
    capsys.readouterr()
    # And an edited file still claims 2026.11.1
    edited = policy_file(tmp_path, "default.json", required_metrics=["token_f1"])

    # When it is published
    code = main(["policy", "publish", str(edited)])

    # Then it is refused (exit 1), with the advice to bump the version, and the published file is kept
    captured = capsys.readouterr()
    assert code == 1
    assert "policy_version 2026.11.1 is already published" in captured.err
    assert "bump policy_version" in captured.err
    assert published(s3, "default.json")["Body"].read() == (ROOT / "policies" / "default.json").read_bytes()


def test_a_new_policy_version_replaces_the_published_one(
    s3: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["policy", "publish", str(ROOT / "policies" / "default.json")]) == 0
    bumped = policy_file(tmp_path, "default.json", policy_version="2026.11.2", required_metrics=["token_f1"])

    assert main(["policy", "publish", str(bumped)]) == 0

    assert "replacing policy_version 2026.11.1" in capsys.readouterr().out
    assert published(s3, "default.json")["Body"].read() == bumped.read_bytes()


def test_republishing_the_same_rules_uploads_nothing_and_says_so(
    s3: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given the default policy is published
    original = ROOT / "policies" / "default.json"
    assert main(["policy", "publish", str(original)]) == 0
    first = published(s3, "default.json")["VersionId"]
    capsys.readouterr()
    # And a copy differing only in layout (same canonical form, same hash)
    reformatted = tmp_path / "default.json"
    reformatted.write_text(json.dumps(json.loads(original.read_text())))

    # When it is published
    code = main(["policy", "publish", str(reformatted)])

    # Then nothing is uploaded and the output says the rules are already there
    out = capsys.readouterr().out
    assert code == 0
    assert "unchanged" in out and "nothing uploaded" in out
    assert shows(out, "VersionId", first)
    versions = s3.list_object_versions(Bucket=BUCKET, Prefix="default.json")["Versions"]
    assert [version["VersionId"] for version in versions] == [first]


def test_the_policy_bucket_flag_wins_over_the_local_cloud(s3: Any, capsys: pytest.CaptureFixture[str]) -> None:
    s3.create_bucket(Bucket="other-policies")

    code = main(["policy", "publish", str(ROOT / "policies" / "default.json"), "--policy-bucket", "other-policies"])

    assert code == 0
    out = capsys.readouterr().out
    assert "s3://other-policies/default.json" in out
    assert shows(out, "VersionId", "none (the bucket is not versioned)")
    assert s3.get_object(Bucket="other-policies", Key="default.json")["ContentType"] == "application/json"


def test_publishing_without_a_bucket_names_the_flag(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # No local cloud, no stack, no flag: the files are valid, so the missing bucket is what is reported
    code = main(["policy", "publish", str(ROOT / "policies" / "default.json")])

    assert code == 2
    assert "--policy-bucket" in capsys.readouterr().err
