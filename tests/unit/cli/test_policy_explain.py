"""`fmops policy explain`: data scientists read the gate's decision for their version (catalog on moto)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws

from fmops.adapters.dynamodb import DynamoCatalog
from fmops.gate.decision import GateDecision, decision_table, evaluate_gate
from fmops.gate.policy import Stage
from fmops.records import AcceptedEvaluation, CatalogRecord, GateOutcome
from fmops.statuses import VersionStatus
from fmops_cli.main import main

from tests.unit.gate.builders import good_metrics, manifest, shipped

AT = datetime(2026, 11, 26, 12, tzinfo=UTC)
TABLE = "fmops-catalog"
VERSION = "sentiment/1.0.0"
DECISION_URI = "s3://fmops-evidence/decisions/sentiment/1.0.0.json"


@pytest.fixture
def catalog(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[DynamoCatalog]:
    """The catalog table in moto, named by the local cloud's outputs (no endpoint: moto is in-process)."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    outputs = tmp_path / ".fmops" / "local" / "outputs.json"
    outputs.parent.mkdir(parents=True)
    outputs.write_text(json.dumps({"CatalogTableName": TABLE, "AwsRegion": "us-east-1"}))
    with mock_aws():
        dynamodb: Any = boto3.client("dynamodb", region_name="us-east-1")
        dynamodb.create_table(
            TableName=TABLE,
            BillingMode="PAY_PER_REQUEST",
            AttributeDefinitions=[{"AttributeName": "version_id", "AttributeType": "S"}],
            KeySchema=[{"AttributeName": "version_id", "KeyType": "HASH"}],
        )
        yield DynamoCatalog(TABLE, dynamodb=dynamodb)


def evaluation(succeeded: bool = True, **metrics: float) -> AcceptedEvaluation:
    return AcceptedEvaluation(
        event_id="eval-1",
        evaluator="builtin",
        reported_by="fmops",
        succeeded=succeeded,
        metrics=good_metrics(**metrics) if succeeded else [],
        evidence_uri="s3://fmops-evidence/evaluations/sentiment/1.0.0/results.json",
        failure_reason=None if succeeded else "the processing job ran out of memory",
        received_at=AT + timedelta(minutes=5),
    )


def decide(**metrics: float) -> GateDecision:
    policy, sha256 = shipped("default.json")
    return evaluate_gate(policy, sha256, manifest(), good_metrics(**metrics), None, Stage.PROD)


def record(catalog: DynamoCatalog, *path: VersionStatus, **changes: Any) -> None:
    """Store VERSION as intake and the promotion would: Received, then each status of `path`; `changes` last."""
    group, version = VERSION.split("/")
    stored = catalog.claim(
        CatalogRecord(
            version_id=VERSION,
            model_group=group,
            version=version,
            status=VersionStatus.RECEIVED,
            manifest_uri=f"s3://fmops-artifacts/models/{VERSION}/manifest.json",
            manifest_sha256="ab" * 32,
            created_at=AT,
            updated_at=AT,
        ),
        replacing=None,
    )
    for index, status in enumerate(path, start=1):
        last = index == len(path)
        stored = catalog.transition(stored, status, AT + timedelta(minutes=index), **(changes if last else {}))


EVALUATED = (VersionStatus.REGISTERED, VersionStatus.PENDING_EVALUATION, VersionStatus.EVALUATED)


def judged(catalog: DynamoCatalog, decision: GateDecision) -> None:
    final = VersionStatus.PENDING_APPROVAL if decision.passed else VersionStatus.REJECTED
    gate = GateOutcome(decision=decision, decision_uri=DECISION_URI, decided_at=AT + timedelta(minutes=6))
    record(catalog, *EVALUATED, final, evaluation=evaluation(), gate=gate)


def test_explain_prints_the_table_of_a_passed_decision_with_its_evidence(
    catalog: DynamoCatalog, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given a version whose gate passed
    decision = decide()
    judged(catalog, decision)

    # When its decision is explained
    code = main(["policy", "explain", VERSION])

    # Then the decision table is shown, with where the decision is kept and when it was made
    out = capsys.readouterr().out
    assert code == 0
    assert decision_table(decision).rstrip("\n") in out
    assert "PASSED" in out
    assert DECISION_URI in out
    assert "2026-11-26 12:06:00.000Z" in out
    assert "PendingApproval" in out


def test_explain_shows_which_rule_failed(catalog: DynamoCatalog, capsys: pytest.CaptureFixture[str]) -> None:
    # Given a version rejected by its gate: token_f1 below the default policy's floor
    decision = decide(token_f1=0.5)
    judged(catalog, decision)

    code = main(["policy", "explain", VERSION])

    out = capsys.readouterr().out
    assert code == 0
    assert "FAILED" in out
    (failed,) = [line for line in out.splitlines() if line.startswith("FAIL ")]
    assert "threshold.token_f1" in failed and "0.5 is outside >= 0.6" in failed


def test_explain_json_is_the_decision_document(catalog: DynamoCatalog, capsys: pytest.CaptureFixture[str]) -> None:
    decision = decide(token_f1=0.5)
    judged(catalog, decision)

    assert main(["policy", "explain", VERSION, "--json"]) == 0

    assert GateDecision.model_validate_json(capsys.readouterr().out) == decision


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        (
            (VersionStatus.REGISTERED, VersionStatus.PENDING_EVALUATION),
            "still PendingEvaluation: the gate runs after the evaluation arrives",
        ),
        ((VersionStatus.REGISTERED,), "still Registered"),
        ((VersionStatus.REJECTED,), "it is Rejected: it was rejected before the gate judged it"),
    ],
)
def test_a_version_without_a_decision_exits_1_with_its_status_and_what_to_wait_for(
    catalog: DynamoCatalog, path: tuple[VersionStatus, ...], expected: str, capsys: pytest.CaptureFixture[str]
) -> None:
    record(catalog, *path)

    code = main(["policy", "explain", VERSION, "--json"])

    captured = capsys.readouterr()
    assert code == 1
    assert captured.out == ""
    assert expected in captured.err
    assert f"hint: fmops status {VERSION}" in captured.err
    if path[-1] is VersionStatus.PENDING_EVALUATION:
        assert "--wait-for PendingApproval" in captured.err


def test_a_failed_evaluation_shows_its_reason(catalog: DynamoCatalog, capsys: pytest.CaptureFixture[str]) -> None:
    record(
        catalog,
        VersionStatus.REGISTERED,
        VersionStatus.PENDING_EVALUATION,
        VersionStatus.REJECTED,
        evaluation=evaluation(succeeded=False),
    )

    code = main(["policy", "explain", VERSION])

    err = capsys.readouterr().err
    assert code == 1
    assert "its evaluation failed (Rejected): the processing job ran out of memory" in err
    assert "s3://fmops-evidence/evaluations/sentiment/1.0.0/results.json" in err


def test_an_unknown_version_exits_1(catalog: DynamoCatalog, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["policy", "explain", "sentiment/9.9.9"])

    assert code == 1
    assert "no model version sentiment/9.9.9 is known" in capsys.readouterr().err


def test_a_malformed_version_id_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["policy", "explain", "sentiment"]) == 2
    assert "is not a version id" in capsys.readouterr().err
