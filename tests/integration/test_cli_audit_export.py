"""`fmops audit export` against DynamoDB and S3 (moto): files written, exit status, what cannot be read."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3
import pytest

from fmops.adapters.dynamodb import DynamoAuditLog, DynamoCatalog
from fmops.records import AcceptedEvaluation, AuditRecord, CatalogRecord
from fmops.statuses import VersionStatus
from fmops_cli.main import main

from tests.integration.tables import create_table
from tests.unit.builders import manifest_document
from tests.unit.gate.builders import good_metrics

AT = datetime(2026, 11, 26, 12, tzinfo=UTC)
VERSION_ID = "sentiment-classifier/1.0.0"
ARTIFACTS, EVIDENCE = "fmops-artifacts", "fmops-evidence"
FLAGS = ["--catalog-table", "catalog", "--audit-table", "audit", "--evidence-bucket", EVIDENCE]


@pytest.fixture
def aws(mocked_aws: None) -> dict[str, Any]:
    dynamodb: Any = boto3.client("dynamodb")
    s3: Any = boto3.client("s3")
    create_table(dynamodb, "CatalogTable", "catalog")
    create_table(dynamodb, "AuditTable", "audit")
    for bucket in (ARTIFACTS, EVIDENCE):
        s3.create_bucket(Bucket=bucket)
    return {"dynamodb": dynamodb, "s3": s3}


def evaluated_version(aws: dict[str, Any], evidence_uri: str) -> None:
    """A registered version with an accepted evaluation and three audit records."""
    group, version = VERSION_ID.split("/")
    manifest = json.dumps(manifest_document(group=group, version=version)).encode()
    key = f"models/{VERSION_ID}/manifest.json"
    aws["s3"].put_object(Bucket=ARTIFACTS, Key=key, Body=manifest)
    catalog = DynamoCatalog("catalog", dynamodb=aws["dynamodb"])
    record = catalog.claim(
        CatalogRecord(
            version_id=VERSION_ID,
            model_group=group,
            version=version,
            status=VersionStatus.RECEIVED,
            manifest_uri=f"s3://{ARTIFACTS}/{key}",
            manifest_sha256=hashlib.sha256(manifest).hexdigest(),
            created_at=AT,
            updated_at=AT,
        ),
        replacing=None,
    )
    evaluation = AcceptedEvaluation(
        event_id="eval-1",
        evaluator="ci:nightly-eval",
        reported_by="com.example.ci",
        succeeded=True,
        metrics=good_metrics(),
        evidence_uri=evidence_uri,
        received_at=AT,
    )
    catalog.transition(record, VersionStatus.REGISTERED, AT, evaluation=evaluation)
    log = DynamoAuditLog("audit", dynamodb=aws["dynamodb"])
    for index, detail_type in enumerate(["Model Version Registered", "Evaluation Completed", "Model Package Changed"]):
        record_at = AT + timedelta(seconds=index)
        log.append(
            AuditRecord(
                version_id=VERSION_ID,
                event_id=f"{VERSION_ID}#{index}",
                detail_type=detail_type,
                source="fmops",
                occurred_at=record_at,
                recorded_at=record_at,
                actor="fmops:intake",
                correlation_id=VERSION_ID,
                envelope_id=f"envelope-{index}",
                facts={"index": index},
            ),
            chain=group,
        )


def test_an_unknown_version_exits_1_and_writes_nothing(
    aws: dict[str, Any], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["audit", "export", "nobody/9.9.9", "--out", str(tmp_path / "packs"), *FLAGS])

    assert code == 1
    assert "no model version nobody/9.9.9 is known" in capsys.readouterr().err
    assert not (tmp_path / "packs").exists()


def test_the_pack_is_written_with_its_evidence_and_the_paths_and_verdict_printed(
    aws: dict[str, Any], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given an evaluated version whose evidence document is in the evidence bucket
    uri = f"s3://{EVIDENCE}/evaluations/{VERSION_ID}/report.json"
    aws["s3"].put_object(Bucket=EVIDENCE, Key=f"evaluations/{VERSION_ID}/report.json", Body=b'{"rows": 500}')
    evaluated_version(aws, uri)

    # When its pack is exported (default folder: ./evidence)
    code = main(["audit", "export", VERSION_ID, *FLAGS])

    # Then both files are there and the output names them and the verdict
    out = capsys.readouterr().out.splitlines()
    json_path = Path("evidence/sentiment-classifier_1.0.0.evidence.json")
    assert code == 0
    assert out == [
        f"wrote {json_path}",
        f"wrote {json_path.with_suffix('.html')}",
        "sentiment-classifier/1.0.0 — Registered — no gate decision — audit chain intact (3 records)",
    ]
    pack = json.loads(json_path.read_text(encoding="utf-8"))
    assert pack["evaluation"]["evidence"] == {"rows": 500}
    assert pack["manifest"]["card"]["model_group"] == "sentiment-classifier"
    assert [record["seq"] for record in pack["audit_records"]] == [1, 2, 3]


def test_evidence_that_cannot_be_read_is_named_in_the_pack_and_the_export_succeeds(
    aws: dict[str, Any], tmp_path: Path
) -> None:
    # Given evidence kept in a bucket that does not exist (or this identity may not read)
    evaluated_version(aws, "s3://someone-elses-bucket/metrics.json")

    code = main(["audit", "export", VERSION_ID, "--out", str(tmp_path), *FLAGS])

    assert code == 0
    evaluation = json.loads((tmp_path / "sentiment-classifier_1.0.0.evidence.json").read_text())["evaluation"]
    assert evaluation["evidence"] is None
    assert "outside the evidence bucket fmops-evidence" in evaluation["evidence_unreadable"]
    assert "NoSuchBucket" in evaluation["evidence_unreadable"]


def test_a_broken_chain_still_writes_the_pack_showing_the_break_and_exits_1(
    aws: dict[str, Any], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given a version whose second audit record was edited in the table
    evaluated_version(aws, f"s3://{EVIDENCE}/missing.json")
    aws["dynamodb"].update_item(
        TableName="audit",
        Key={"pk": {"S": "CHAIN#sentiment-classifier"}, "sk": {"S": "SEQ#000000000002"}},
        UpdateExpression="SET actor = :who",
        ExpressionAttributeValues={":who": {"S": "mallory"}},
    )

    # When its pack is exported
    code = main(["audit", "export", VERSION_ID, "--out", str(tmp_path), *FLAGS])

    # Then the pack is there, shows the break, and the command fails
    assert code == 1
    streams = capsys.readouterr()
    assert "audit chain BROKEN at seq 2 (modified)" in streams.out
    assert "the audit chain of sentiment-classifier is broken at seq 2 (modified)" in streams.err
    page = (tmp_path / "sentiment-classifier_1.0.0.evidence.html").read_text(encoding="utf-8")
    assert 'role="alert"' in page and "is BROKEN" in page
