"""`fmops status` against DynamoDB (moto): the catalog record and the audit trail, by name or via a stack."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest

from fmops.adapters.dynamodb import DynamoAuditLog, DynamoCatalog
from fmops.manifest import Problem
from fmops.records import AuditRecord, CatalogRecord
from fmops.statuses import VersionStatus
from fmops_cli.main import main

from tests.integration.tables import create_table

AT = datetime(2026, 11, 26, 12, tzinfo=UTC)
GOOD = "sentiment-classifier/1.0.0"
BAD = "sentiment-classifier/1.0.1"
PACKAGE = "arn:aws:sagemaker:us-east-1:123456789012:model-package/sentiment-classifier/1"
TABLES = ["--catalog-table", "catalog", "--audit-table", "audit"]
STACK_TEMPLATE = {
    "Resources": {
        "CatalogTable": {
            "Type": "AWS::DynamoDB::Table",
            "Properties": {
                "TableName": "stack-catalog",
                "BillingMode": "PAY_PER_REQUEST",
                "AttributeDefinitions": [{"AttributeName": "version_id", "AttributeType": "S"}],
                "KeySchema": [{"AttributeName": "version_id", "KeyType": "HASH"}],
            },
        },
    },
    "Outputs": {
        "CatalogTableName": {"Value": {"Ref": "CatalogTable"}},
        "AuditTableName": {"Value": "audit"},
    },
}


@pytest.fixture
def dynamodb(mocked_aws: None) -> Iterator[Any]:
    client: Any = boto3.client("dynamodb")
    create_table(client, "CatalogTable", "catalog")
    create_table(client, "AuditTable", "audit")
    yield client


def record_version(client: Any, version_id: str, final: VersionStatus, table: str = "catalog", **changes: Any) -> None:
    """Write a version's catalog record through the runtime's own adapter, as intake would."""
    catalog = DynamoCatalog(table, dynamodb=client)
    group, version = version_id.split("/")
    received = CatalogRecord(
        version_id=version_id,
        model_group=group,
        version=version,
        status=VersionStatus.RECEIVED,
        manifest_uri=f"s3://fmops-artifacts/models/{version_id}/manifest.json",
        manifest_sha256="ab" * 32,
        created_at=AT,
        updated_at=AT,
    )
    record = catalog.claim(received, replacing=None)
    path = {
        VersionStatus.REGISTERED: [VersionStatus.REGISTERED],
        VersionStatus.PENDING_EVALUATION: [VersionStatus.REGISTERED, VersionStatus.PENDING_EVALUATION],
        VersionStatus.REJECTED: [VersionStatus.REJECTED],
    }[final]
    for index, status in enumerate(path, start=1):
        record = catalog.transition(record, status, AT + timedelta(seconds=index), **changes)


def audit(client: Any, version_id: str, detail_type: str, seconds: int, actor: str, **facts: Any) -> None:
    DynamoAuditLog("audit", dynamodb=client).append(
        AuditRecord(
            version_id=version_id,
            event_id=f"{version_id}#{detail_type}",
            detail_type=detail_type,
            source="fmops",
            occurred_at=AT + timedelta(seconds=seconds),
            recorded_at=AT + timedelta(seconds=seconds, milliseconds=5),
            actor=actor,
            correlation_id=version_id,
            envelope_id=f"envelope-{seconds}",
            facts=facts,
        ),
        chain=version_id.split("/")[0],
    )


def registered_version(client: Any) -> None:
    record_version(
        client,
        GOOD,
        VersionStatus.PENDING_EVALUATION,
        model_package_arn=PACKAGE,
        kind="adapter",
        risk_tier="medium",
        submitter="ana.silva",
        execution_name="sentiment-classifier_1.0.0",
    )
    # Written newest first: the timeline must still come out in time order.
    audit(
        client,
        GOOD,
        "Model Version Promotion Started",
        2,
        "fmops:promotion",
        execution_name="sentiment-classifier_1.0.0",
    )
    audit(
        client,
        GOOD,
        "Model Version Registered",
        1,
        "ana.silva",
        model_package_arn=PACKAGE,
        kind="adapter",
        risk_tier="medium",
        manifest_sha256="ab" * 32,
    )


def rejected_version(client: Any) -> None:
    reason = Problem(
        code="artifact_sha256_mismatch", message="weights.bin has sha256 00, manifest says ab", field="artifacts.0"
    )
    record_version(client, BAD, VersionStatus.REJECTED, reasons=[reason])
    audit(client, BAD, "Model Version Rejected", 1, "fmops:intake", reasons=[reason.model_dump()])


def test_status_shows_the_version_and_its_timeline(dynamodb: Any, capsys: pytest.CaptureFixture[str]) -> None:
    # Given a registered version whose promotion started
    registered_version(dynamodb)

    # When its status is asked for
    code = main(["status", GOOD, *TABLES])

    # Then the status, the package and both events, oldest first, are shown
    out = capsys.readouterr().out
    assert code == 0
    assert "  status           PendingEvaluation" in out
    assert f"  model package    {PACKAGE}" in out
    assert out.index("Model Version Registered  by ana.silva") < out.index("Model Version Promotion Started")


def test_status_json_is_machine_readable(dynamodb: Any, capsys: pytest.CaptureFixture[str]) -> None:
    registered_version(dynamodb)

    assert main(["status", GOOD, "--json", *TABLES]) == 0

    document = json.loads(capsys.readouterr().out)
    assert document["status"] == "PendingEvaluation"
    assert document["model_package_arn"] == PACKAGE
    assert [entry["detail_type"] for entry in document["timeline"]] == [
        "Model Version Registered",
        "Model Version Promotion Started",
    ]


def test_a_rejected_version_shows_why(dynamodb: Any, capsys: pytest.CaptureFixture[str]) -> None:
    rejected_version(dynamodb)

    assert main(["status", BAD, *TABLES]) == 0

    out = capsys.readouterr().out
    assert "  status           Rejected" in out
    assert "artifact_sha256_mismatch: artifacts.0: weights.bin has sha256 00, manifest says ab" in out


def test_an_unknown_version_exits_1_with_a_clear_message(dynamodb: Any, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["status", "sentiment-classifier/9.9.9", *TABLES])

    captured = capsys.readouterr()
    assert code == 1
    assert captured.out == ""
    assert "no model version sentiment-classifier/9.9.9 is known" in captured.err


def test_waiting_for_registered_succeeds_once_past_it(dynamodb: Any, capsys: pytest.CaptureFixture[str]) -> None:
    registered_version(dynamodb)

    assert main(["status", GOOD, "--wait-for", "Registered", "--timeout", "5", *TABLES]) == 0
    assert "  status           PendingEvaluation" in capsys.readouterr().out


def test_waiting_for_registered_fails_at_once_when_rejected(dynamodb: Any, capsys: pytest.CaptureFixture[str]) -> None:
    rejected_version(dynamodb)

    code = main(["status", BAD, "--wait-for", "Registered", "--timeout", "60", *TABLES])

    err = capsys.readouterr().err
    assert code == 1
    assert f"{BAD} is Rejected, so it will not reach Registered" in err


def test_waiting_for_a_version_never_submitted_times_out(dynamodb: Any, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["status", "x/1", "--wait-for", "Registered", "--timeout", "0.2", "--interval", "0.1", *TABLES])

    assert code == 3
    assert "x/1 did not reach Registered within 0.2s (it is no record)" in capsys.readouterr().err


def test_tables_can_come_from_a_deployed_stacks_outputs(dynamodb: Any, capsys: pytest.CaptureFixture[str]) -> None:
    # Given a stack whose Outputs name the catalog and audit tables, and a version recorded in them
    boto3.client("cloudformation").create_stack(StackName="fmops-dev", TemplateBody=json.dumps(STACK_TEMPLATE))
    record_version(
        dynamodb,
        GOOD,
        VersionStatus.REGISTERED,
        table="stack-catalog",
        model_package_arn=PACKAGE,
        kind="adapter",
        risk_tier="medium",
        submitter="ana.silva",
        execution_name="x",
    )

    # When the status is asked for with --stack only
    code = main(["status", GOOD, "--stack", "fmops-dev"])

    # Then the stack's tables were used
    assert code == 0
    assert "  status           Registered" in capsys.readouterr().out


def test_an_unknown_stack_is_explained(dynamodb: Any, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["status", GOOD, "--stack", "nope"]) == 1
    assert "stack 'nope' was not found in us-east-1" in capsys.readouterr().err


def test_a_missing_table_is_explained(dynamodb: Any, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["status", GOOD, "--catalog-table", "missing", "--audit-table", "audit"])

    err = capsys.readouterr().err
    assert code == 1
    assert "ResourceNotFoundException" in err
    assert "--catalog-table" in err
