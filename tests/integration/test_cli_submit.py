"""`fmops submit` against S3 (moto): artifacts first, manifest last, versions immutable, dry runs inert."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import boto3
import pytest

from fmops.adapters.dynamodb import DynamoCatalog
from fmops.deployment.smoke import SmokeSample
from fmops.records import CatalogRecord
from fmops.statuses import VersionStatus
from fmops_cli.main import main
from fmops_cli.submit import Existing, VersionImmutable, plan_submission, submit

BUCKET = "fmops-artifacts"
CATALOG = "fmops-catalog"
PREFIX = "models/sentiment-classifier/1.0.0/"
SUBMITTER = ["--submitter-id", "ana.silva", "--submitter-email", "ana.silva@example.com"]
CARD = {
    "model_group": "sentiment-classifier",
    "kind": "fine-tuned",
    "task": "text-classification",
    "base_model": {"name": "distilbert-base-uncased", "provider": "huggingface", "licence": "apache-2.0"},
    "intended_use": "Route reviews by sentiment.",
    "limitations": "English only.",
    "risk_tier": "medium",
    "owner_team": "customer-insights",
}
CONFIG = b'{"labels": ["negative", "positive"]}'
# Above boto3's 8 MiB multipart threshold: uploaded in parts, completed by CompleteMultipartUpload.
LARGE = bytes(range(256)) * (9 * 1024 * 4)


@pytest.fixture
def aws(mocked_aws: None) -> Iterator[Any]:
    s3 = boto3.client("s3")
    s3.create_bucket(Bucket=BUCKET)
    yield s3


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    folder = tmp_path / "sentiment"
    (folder / "model").mkdir(parents=True)
    (folder / "model-card.json").write_text(json.dumps(CARD))
    (folder / "config.json").write_bytes(CONFIG)
    (folder / "model" / "weights.bin").write_bytes(LARGE)
    return folder


def recording_puts(s3: Any) -> list[str]:
    """Keys in the order their content became visible in S3 (single puts and completed multipart uploads)."""
    order: list[str] = []

    def record(params: dict[str, Any], **_: Any) -> None:
        order.append(params["Key"])

    s3.meta.events.register("before-parameter-build.s3.PutObject", record)
    s3.meta.events.register("before-parameter-build.s3.CompleteMultipartUpload", record)
    return order


def stored(s3: Any, key: str) -> bytes:
    return bytes(s3.get_object(Bucket=BUCKET, Key=key)["Body"].read())


def keys(s3: Any) -> list[str]:
    return sorted(item["Key"] for item in s3.list_objects_v2(Bucket=BUCKET).get("Contents", []))


def test_artifacts_are_uploaded_before_the_manifest(aws: Any, folder: Path) -> None:
    # Given a version folder with a small and a multipart-sized artifact
    plan = plan_submission(folder, version="1.0.0", submitter_id="ana.silva", submitter_email="ana.silva@example.com")
    order = recording_puts(aws)

    # When it is submitted
    outcome = submit(plan, aws, BUCKET)

    # Then every artifact was in place before the manifest, which came last
    assert order == [PREFIX + "config.json", PREFIX + "model/weights.bin", PREFIX + "manifest.json"]
    assert outcome.existing is Existing.NEW
    assert list(outcome.uploaded) == order
    assert stored(aws, PREFIX + "model/weights.bin") == LARGE


def test_the_uploaded_manifest_describes_the_uploaded_bytes(
    aws: Any, folder: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # When the folder is submitted through the command line
    code = main(["submit", str(folder), "--version", "1.0.0", "--bucket", BUCKET, *SUBMITTER])

    # Then the manifest lists each stored object with its exact sha256 and size
    assert code == 0
    manifest = json.loads(stored(aws, PREFIX + "manifest.json"))
    assert manifest["model_group"] == "sentiment-classifier"
    assert manifest["version"] == "1.0.0"
    assert manifest["submitter"] == {"id": "ana.silva", "email": "ana.silva@example.com"}
    for artifact in manifest["artifacts"]:
        body = stored(aws, PREFIX + artifact["path"])
        assert artifact["sha256"] == hashlib.sha256(body).hexdigest()
        assert artifact["size_bytes"] == len(body)
    assert [artifact["path"] for artifact in manifest["artifacts"]] == ["config.json", "model/weights.bin"]
    assert keys(aws) == [PREFIX + "config.json", PREFIX + "manifest.json", PREFIX + "model/weights.bin"]
    # And the user is told what happened and what to run next
    out = capsys.readouterr().out
    assert f"Submitted sentiment-classifier/1.0.0 to s3://{BUCKET}/{PREFIX}" in out
    assert "Next: fmops status sentiment-classifier/1.0.0 --catalog-table TABLE --audit-table TABLE" in out


def test_a_different_manifest_for_an_existing_version_is_refused(
    aws: Any, folder: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given version 1.0.0 already submitted
    assert main(["submit", str(folder), "--version", "1.0.0", "--bucket", BUCKET, *SUBMITTER]) == 0
    original_manifest = stored(aws, PREFIX + "manifest.json")
    capsys.readouterr()

    # When the config changes and the same version is submitted again
    (folder / "config.json").write_bytes(b'{"labels": ["neg", "pos"]}')
    code = main(["submit", str(folder), "--version", "1.0.0", "--bucket", BUCKET, *SUBMITTER])

    # Then it is refused with an explanation, before any byte was uploaded
    err = capsys.readouterr().err
    assert code == 1
    assert "already submitted with a different manifest" in err
    assert "versions are immutable" in err
    assert "new version name (--version)" in err
    assert stored(aws, PREFIX + "manifest.json") == original_manifest
    assert stored(aws, PREFIX + "config.json") == CONFIG


def test_submitting_identical_content_again_uploads_nothing(aws: Any, folder: Path) -> None:
    # Given a version already submitted
    first = plan_submission(folder, version="1.0.0", submitter_id="ana.silva", submitter_email="ana.silva@example.com")
    submit(first, aws, BUCKET)

    # When the unchanged folder is submitted again
    again = plan_submission(folder, version="1.0.0", submitter_id="ana.silva", submitter_email="ana.silva@example.com")
    order = recording_puts(aws)
    outcome = submit(again, aws, BUCKET)

    # Then it is recognised as the same version and nothing is written (no second intake event)
    assert outcome.existing is Existing.IDENTICAL
    assert outcome.uploaded == ()
    assert order == []


def test_a_rejected_version_may_be_corrected(aws: Any, folder: Path) -> None:
    # Given version 1.0.0 submitted, and the catalog showing that intake rejected it
    dynamodb = boto3.client("dynamodb")
    dynamodb.create_table(
        TableName=CATALOG,
        BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[{"AttributeName": "version_id", "AttributeType": "S"}],
        KeySchema=[{"AttributeName": "version_id", "KeyType": "HASH"}],
    )
    catalog = DynamoCatalog(CATALOG, dynamodb=dynamodb)
    first = plan_submission(folder, version="1.0.0", submitter_id="ana.silva", submitter_email="ana.silva@example.com")
    submit(first, aws, BUCKET, catalog)
    at = datetime(2026, 11, 26, tzinfo=UTC)
    received = CatalogRecord(
        version_id=first.version_id,
        model_group="sentiment-classifier",
        version="1.0.0",
        status=VersionStatus.RECEIVED,
        manifest_uri=f"s3://{BUCKET}/{first.manifest_key}",
        manifest_sha256=first.manifest.sha256,
        created_at=at,
        updated_at=at,
    )
    catalog.transition(catalog.claim(received, replacing=None), VersionStatus.REJECTED, at)

    # When a corrected folder is submitted under the same version
    (folder / "config.json").write_bytes(b'{"labels": ["neg", "pos"]}')
    fixed = plan_submission(folder, version="1.0.0", submitter_id="ana.silva", submitter_email="ana.silva@example.com")
    outcome = submit(fixed, aws, BUCKET, catalog)

    # Then the rejected manifest is replaced, artifacts first
    assert outcome.existing is Existing.REPLACES_REJECTED
    assert outcome.uploaded[-1] == PREFIX + "manifest.json"
    assert stored(aws, PREFIX + "manifest.json") == fixed.manifest.body


def test_a_version_rejected_by_its_gate_cannot_be_resubmitted_and_nothing_is_uploaded(aws: Any, folder: Path) -> None:
    # Given version 1.0.0 submitted, registered, and then rejected by its gate (it has a model package)
    first = plan_submission(folder, version="1.0.0", submitter_id="ana.silva", submitter_email="ana.silva@example.com")
    submit(first, aws, BUCKET)

    class GateRejected:
        def get(self, version_id: str) -> CatalogRecord:
            at = datetime(2026, 11, 26, tzinfo=UTC)
            return CatalogRecord(
                version_id=version_id,
                model_group="sentiment-classifier",
                version="1.0.0",
                status=VersionStatus.REJECTED,
                manifest_uri=f"s3://{BUCKET}/{first.manifest_key}",
                manifest_sha256=first.manifest.sha256,
                model_package_arn="arn:aws:sagemaker:us-east-1:123456789012:model-package/sentiment-classifier/1",
                created_at=at,
                updated_at=at,
            )

    # When a changed folder is submitted under the same version
    (folder / "config.json").write_bytes(b'{"labels": ["neg", "pos"]}')
    changed = plan_submission(
        folder, version="1.0.0", submitter_id="ana.silva", submitter_email="ana.silva@example.com"
    )
    order = recording_puts(aws)

    # Then it is refused before any upload: the judged version's artifacts stay as they were
    with pytest.raises(VersionImmutable, match="gate rejected it"):
        submit(changed, aws, BUCKET, GateRejected())
    assert order == []


def test_a_registered_version_cannot_be_replaced_even_with_the_catalog_at_hand(aws: Any, folder: Path) -> None:
    class Registered:
        def get(self, version_id: str) -> CatalogRecord:
            at = datetime(2026, 11, 26, tzinfo=UTC)
            return CatalogRecord(
                version_id=version_id,
                model_group="sentiment-classifier",
                version="1.0.0",
                status=VersionStatus.REGISTERED,
                manifest_uri="s3://x",
                manifest_sha256="0" * 64,
                created_at=at,
                updated_at=at,
            )

    submit(plan_submission(folder, version="1.0.0", submitter_id="a", submitter_email="a@example.com"), aws, BUCKET)
    (folder / "config.json").write_bytes(b"{}")
    changed = plan_submission(folder, version="1.0.0", submitter_id="a", submitter_email="a@example.com")

    with pytest.raises(VersionImmutable, match="it is Registered"):
        submit(changed, aws, BUCKET, Registered())


def test_a_dry_run_uploads_nothing(aws: Any, folder: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["submit", str(folder), "--version", "1.0.0", "--bucket", BUCKET, "--dry-run", *SUBMITTER])

    captured = capsys.readouterr()
    assert code == 0
    assert keys(aws) == []
    assert f"s3://{BUCKET}/{PREFIX}" in captured.err
    assert json.loads(captured.out)["version"] == "1.0.0"


def test_the_bucket_defaults_to_the_local_clouds(
    aws: Any, folder: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given the outputs a local cloud wrote in the project folder (endpoint left out: moto serves in-process here)
    outputs = tmp_path / ".fmops" / "local" / "outputs.json"
    outputs.parent.mkdir(parents=True)
    outputs.write_text(json.dumps({"ArtifactBucketName": BUCKET, "CatalogTableName": CATALOG}))

    # When submitting without --bucket
    code = main(["submit", str(folder), "--version", "1.0.0", *SUBMITTER])

    # Then the version lands in the local cloud's bucket and the next step needs no extra flags
    assert code == 0
    assert PREFIX + "manifest.json" in keys(aws)
    assert "Next: fmops status sentiment-classifier/1.0.0 --wait-for PendingApproval" in capsys.readouterr().out


def test_a_missing_bucket_is_explained(aws: Any, folder: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["submit", str(folder), "--version", "1.0.0", "--bucket", "no-such-bucket", *SUBMITTER])

    err = capsys.readouterr().err
    assert code == 1
    assert "NoSuchBucket" in err or "404" in err


# ------------------------------------------------------------------ the shipped examples

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def test_the_examples_sample_requests_flow_into_its_manifest(aws: Any, capsys: pytest.CaptureFixture[str]) -> None:
    # When the example is submitted as a dry run
    code = main(["submit", str(EXAMPLES / "sentiment-classifier"), "--version", "1.0.0", "--dry-run", *SUBMITTER])

    # Then its manifest holds the model card's sample requests, each one a smoke test sample
    manifest = json.loads(capsys.readouterr().out)
    assert code == 0
    assert manifest["sample_requests"] == [
        {"name": "clearly-positive", "request": {"text": "I love this product"}},
        {"name": "clearly-negative", "request": {"text": "awful, broke in a day"}},
    ]
    assert [SmokeSample.model_validate(sample).name for sample in manifest["sample_requests"]] == [
        "clearly-positive",
        "clearly-negative",
    ]


def test_the_demos_broken_copy_is_the_example_plus_answers_that_fail_every_smoke_test(aws: Any, tmp_path: Path) -> None:
    from fmops_cli.demo import BROKEN_RESPONSES, broken_copy

    # Given the example and the demo's broken copy of it, planned as two versions of the same group
    example = EXAMPLES / "sentiment-classifier"
    good = plan_submission(example, version="1.0.0", submitter_id="a", submitter_email="a@example.com")
    copy = broken_copy(example, EXAMPLES.parent / BROKEN_RESPONSES, tmp_path)
    broken = plan_submission(copy, version="1.2.0", submitter_id="a", submitter_email="a@example.com")

    # When the broken one is submitted
    submit(broken, aws, BUCKET)

    # Then it is the same model with the same evaluation set and sample requests (so it passes the same gate)
    inventory = {artifact.path: artifact.sha256 for artifact in broken.manifest.manifest.artifacts}
    assert broken.manifest.manifest.model_group == good.manifest.manifest.model_group
    assert {artifact.path: artifact.sha256 for artifact in good.manifest.manifest.artifacts}.items() < inventory.items()
    assert broken.manifest.manifest.evaluation == good.manifest.manifest.evaluation
    assert broken.manifest.manifest.sample_requests == good.manifest.manifest.sample_requests
    # And its one extra artifact, local/responses.json, is where the local model server reads it
    assert set(inventory) - {artifact.path for artifact in good.manifest.manifest.artifacts} == {"local/responses.json"}
    responses = json.loads(stored(aws, "models/sentiment-classifier/1.2.0/local/responses.json"))
    # And it answers every request with an error status and no label
    assert responses == {"default": {"error": "model failed to load"}, "status": 500}
