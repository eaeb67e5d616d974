"""`fmops deployments validate|publish`: whoever owns the stages checks where each deploys, and puts it in force
(S3 on moto)."""

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
from fmops.deployment.config import STAGES_KEY, parse_stages
from fmops.gate.policy import Stage
from fmops_cli.main import main

ROOT = Path(__file__).resolve().parents[3]
STAGES = ROOT / "deployments" / "stages.json"
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
    """The shipped deployments/stages.json in the current directory (the tests run in tmp_path), as in the project."""
    (tmp_path / "deployments").mkdir()
    shutil.copy(STAGES, tmp_path / "deployments" / "stages.json")
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
    """The output has the row `label  value` (an empty label: a stage's further lines)."""
    return re.search(rf"^ +{re.escape(label)} +{re.escape(value)}$", out, re.MULTILINE) is not None


def versions(s3: Any) -> list[str]:
    return [version["VersionId"] for version in s3.list_object_versions(Bucket=BUCKET, Prefix=STAGES_KEY)["Versions"]]


# ------------------------------------------------------------------ validate


def test_the_shipped_file_is_valid_and_shows_each_stage_and_its_hash(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["deployments", "validate", str(STAGES)])

    out = capsys.readouterr().out
    assert code == 0
    assert out.startswith(f"{STAGES}: valid deployment stages\n")
    assert shows(out, "dev", "sagemaker-serverless, 2048 MB, max concurrency 5")
    assert shows(out, "preprod", "sagemaker-endpoint, 1 x ml.m5.large")
    assert shows(
        out, "prod", "sagemaker-endpoint, 2 x ml.m5.xlarge, blue/green (alarms fmops-prod-endpoint-errors, bake 10 min)"
    )
    assert shows(out, "", "account 333333333333, us-east-1, deployed by arn:aws:iam::333333333333:role/fmops-deployer")
    assert shows(out, "", "the model runs as arn:aws:iam::111111111111:role/fmops-model-execution (the default)")
    assert shows(out, "", "InService within 1h, else rolled back")
    assert shows(out, "", "smoke test: every sample request answered within 1000 ms, required keys: label")
    assert shows(out, "sha256", sha256(STAGES))


def test_a_registry_only_stage_and_a_named_execution_role_are_shown_as_such(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given preprod runs its model as a role of its own, and prod only registers the version
    def edit(document: dict[str, Any]) -> None:
        document["stages"][1]["execution_role_arn"] = "arn:aws:iam::222222222222:role/sentiment-runtime"
        prod = document["stages"][2]
        document["stages"][2] = {key: prod[key] for key in ("stage", "account_id", "region", "role_arn")}
        document["stages"][2]["target"] = "registry-only"

    stages = edited(STAGES, tmp_path / "stages.json", edit)

    code = main(["deployments", "validate", str(stages)])

    out = capsys.readouterr().out
    assert code == 0
    assert shows(out, "", "the model runs as arn:aws:iam::222222222222:role/sentiment-runtime")
    assert shows(out, "prod", "registry-only")
    assert shows(out, "", "no endpoint: nothing to wait for or smoke-test")


def test_validate_reads_the_stages_in_the_current_folder_by_default(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["deployments", "validate"]) == 0

    assert "deployments/stages.json: valid deployment stages" in capsys.readouterr().out


def test_every_problem_is_listed_with_its_file_and_json_path_and_exits_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given stages with too many instances, a misspelt key and a model role of another account
    def edit(document: dict[str, Any]) -> None:
        document["stages"][1]["instance_count"] = 21
        document["stages"][2]["instance_typ"] = "ml.m5.large"
        document["stages"][0]["execution_role_arn"] = "arn:aws:iam::333333333333:role/fmops-model-execution"

    stages = edited(STAGES, tmp_path / "stages.json", edit)

    # When they are validated
    code = main(["deployments", "validate", str(stages)])

    # Then every problem is listed, each with its file and JSON path
    err = capsys.readouterr().err
    assert code == 2
    assert f"{stages}: $.stages[1].instance_count: must be <= 20, got 21" in err
    assert f"{stages}: $.stages[2].instance_typ: unknown key 'instance_typ'" in err
    assert f"{stages}: $.stages[0].execution_role_arn: the role is in account 333333333333" in err
    assert "3 problems" in err
    assert "deployment/config.py describes the file" in err


def test_a_missing_file_is_an_input_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["deployments", "validate", str(tmp_path / "nope.json")]) == 2
    assert f"{tmp_path / 'nope.json'}: cannot read" in capsys.readouterr().err


# ------------------------------------------------------------------ publish


def test_publish_uploads_the_file_byte_for_byte_where_deployments_read_it(
    s3: Any, project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # When the project's deployments/stages.json is published (the default)
    code = main(["deployments", "publish"])

    # Then it is stored byte for byte under its key, as JSON
    out = capsys.readouterr().out
    path = project / "deployments" / "stages.json"
    stored = s3.get_object(Bucket=BUCKET, Key=STAGES_KEY)
    assert code == 0
    assert stored["Body"].read() == path.read_bytes()
    assert stored["ContentType"] == "application/json"
    # And the output names the hash, the URI and the S3 version
    assert out.startswith("deployments/stages.json: published\n")
    assert shows(out, "sha256", sha256(path))
    assert shows(out, "uri", f"s3://{BUCKET}/{STAGES_KEY}")
    assert shows(out, "VersionId", stored["VersionId"])
    # And what the policy bucket's reader returns parses into the same stages
    published = S3PolicyStore(BUCKET, s3=s3).get(STAGES_KEY)
    assert published is not None
    assert parse_stages(published.body).stage(Stage.PROD).instance_count == 2


def test_republishing_the_same_file_uploads_nothing_and_says_so(
    s3: Any, project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given the file is published
    assert main(["deployments", "publish"]) == 0
    first = versions(s3)
    capsys.readouterr()

    # When it is published again, unchanged
    code = main(["deployments", "publish"])

    # Then nothing is uploaded and the output says it is already there
    assert code == 0
    assert "unchanged, the same bytes are already published (nothing uploaded)" in capsys.readouterr().out
    assert versions(s3) == first


def test_a_changed_file_replaces_the_published_one(s3: Any, project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["deployments", "publish"]) == 0
    capsys.readouterr()
    path = project / "deployments" / "stages.json"
    before = sha256(path)
    edited(path, path, lambda document: document["stages"][2].update(instance_count=3))

    code = main(["deployments", "publish"])

    assert code == 0
    assert f"deployments/stages.json: published, replacing sha256 {before}" in capsys.readouterr().out
    assert s3.get_object(Bucket=BUCKET, Key=STAGES_KEY)["Body"].read() == path.read_bytes()
    assert len(versions(s3)) == 2


def test_nothing_is_published_when_the_file_is_invalid(
    s3: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given stages without prod
    stages = edited(STAGES, tmp_path / "stages.json", lambda document: document["stages"].pop())

    code = main(["deployments", "publish", str(stages)])

    err = capsys.readouterr().err
    assert code == 2
    assert "nothing was published: 1 problem in" in err
    assert f"{stages}: $.stages: stage 'prod' is missing" in err
    assert s3.list_objects_v2(Bucket=BUCKET).get("KeyCount") == 0


def test_the_policy_bucket_flag_wins_over_the_local_cloud(s3: Any, capsys: pytest.CaptureFixture[str]) -> None:
    s3.create_bucket(Bucket="other-policies")

    code = main(["deployments", "publish", str(STAGES), "--policy-bucket", "other-policies"])

    out = capsys.readouterr().out
    assert code == 0
    assert shows(out, "uri", f"s3://other-policies/{STAGES_KEY}")
    assert shows(out, "VersionId", "none (the bucket is not versioned)")
    assert s3.list_objects_v2(Bucket=BUCKET).get("KeyCount") == 0


def test_publishing_without_a_bucket_names_the_flag(capsys: pytest.CaptureFixture[str]) -> None:
    # No local cloud, no stack, no flag: the file is valid, so the missing bucket is what is reported
    code = main(["deployments", "publish", str(STAGES)])

    assert code == 2
    assert "--policy-bucket" in capsys.readouterr().err
