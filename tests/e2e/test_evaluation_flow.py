"""Evaluation and gate end to end on the local cloud, from the real template and handlers:
registered -> StartEvaluation (task token) -> built-in / external / SageMaker evaluator -> evaluation results
-> ApplyGate -> PendingApproval, or Rejected with reasons and an e-mail; no report -> timeout, fails closed."""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from fmops_local import LocalCloud

from tests.e2e.test_intake_flow import Flow as IntakeFlow
from tests.unit.builders import CONFIG, WEIGHTS, manifest_document
from tests.unit.promotion.world import GOOD_ROWS, eval_row, jsonl

ROOT = Path(__file__).resolve().parents[2]
TIMEOUT_S = 8  # EvaluationTimeoutSeconds for this cloud: long enough for the built-in evaluator, short for a test
PROCESSING_SAMPLE = json.loads((ROOT / "events" / "sagemaker_processing_job_completed.json").read_text())
EXTERNAL_SAMPLE = json.loads((ROOT / "events" / "external_evaluation_completed.json").read_text())

pytestmark = pytest.mark.e2e


class Flow(IntakeFlow):
    """The intake tests' flow, plus the policy bucket seeded and helpers for reports and the gate."""

    def __init__(self, cloud: LocalCloud) -> None:
        super().__init__(cloud)
        self.events = cloud.session().client("events", endpoint_url=cloud.endpoint_url)
        policies = cloud.outputs["PolicyBucketName"]
        self.s3.put_object(Bucket=policies, Key="default.json", Body=(ROOT / "policies" / "default.json").read_bytes())
        # Versions that pass their gate wait for people: the approval rules and directory must be there.
        for name in ("rules.json", "directory.json"):
            self.s3.put_object(Bucket=policies, Key=f"approvals/{name}", Body=(ROOT / "approvals" / name).read_bytes())

    def submit(self, group: str, rows: list[dict[str, Any]] | None = None, **overrides: Any) -> str:
        """A text-to-text version; with rows it ships eval/golden.jsonl for the built-in evaluator."""
        document = manifest_document(group=group, version="1.0.0", task="text-to-text", **overrides)
        prefix = f"models/{group}/1.0.0/"
        self.s3.put_object(Bucket=self.bucket, Key=prefix + "model/weights.bin", Body=WEIGHTS)
        self.s3.put_object(Bucket=self.bucket, Key=prefix + "config.json", Body=CONFIG)
        if rows is not None:
            dataset = jsonl(rows)
            self.s3.put_object(Bucket=self.bucket, Key=prefix + "eval/golden.jsonl", Body=dataset)
            document["artifacts"].append(
                {"path": "eval/golden.jsonl", "sha256": hashlib.sha256(dataset).hexdigest(), "size_bytes": len(dataset)}
            )
            document["evaluation"] = {"evaluator": "builtin-text", "dataset": "eval/golden.jsonl"}
        self.s3.put_object(Bucket=self.bucket, Key=prefix + "manifest.json", Body=json.dumps(document).encode())
        self.cloud.wait_until_idle(timeout=60)
        return f"{group}/1.0.0"

    def put(
        self, detail: dict[str, Any], source: str, detail_type: str = "Evaluation Completed", bus: str | None = None
    ) -> None:
        entry = {"Source": source, "DetailType": detail_type, "Detail": json.dumps(detail)}
        entry["EventBusName"] = bus or self.cloud.outputs["EventBusName"]
        response = self.events.put_events(Entries=[entry])
        assert response["FailedEntryCount"] == 0, response
        self.cloud.wait_until_idle(timeout=60)

    def record(self, version_id: str) -> dict[str, Any]:
        from fmops.adapters.dynamodb import DynamoCatalog

        record = DynamoCatalog(self.cloud.outputs["CatalogTableName"], self.dynamodb).get(version_id)
        assert record is not None, version_id
        return record.model_dump(mode="json")

    def wait_for_status(self, version_id: str, status: str, timeout: float) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while self.record(version_id)["status"] != status and time.monotonic() < deadline:
            time.sleep(0.2)
        self.cloud.wait_until_idle(timeout=60)
        return self.record(version_id)

    def execution(self, version_id: str) -> dict[str, Any]:
        arn = self.cloud.outputs["PromotionStateMachineArn"]
        name = version_id.replace("/", "_")
        [found] = [e for e in self.sfn.list_executions(stateMachineArn=arn)["executions"] if e["name"] == name]
        return dict(found)


@pytest.fixture(scope="module")
def flow(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Flow]:
    state_dir = tmp_path_factory.mktemp("local-cloud")
    overrides = {"EvaluationTimeoutSeconds": str(TIMEOUT_S)}
    with LocalCloud(
        project_root=ROOT, port=0, state_dir=state_dir, retry_delay_s=0.05, parameter_overrides=overrides
    ) as cloud:
        yield Flow(cloud)


def external_report(version_id: str, event_id: str = "nightly-7", **changes: Any) -> dict[str, Any]:
    detail = dict(EXTERNAL_SAMPLE["detail"])
    detail.update(event_id=f"{version_id}#eval#{event_id}", correlation_id=version_id, version_id=version_id, **changes)
    return detail


def test_a_version_that_meets_its_policy_reaches_pending_approval_with_its_decision_recorded(flow: Flow) -> None:
    version_id = flow.submit("e2e-pass", rows=GOOD_ROWS)

    record = flow.record(version_id)
    assert record["status"] == "PendingApproval"
    assert record["evaluation"]["evaluator"] == "fmops:builtin-text"
    assert record["gate"]["decision"]["passed"] is True
    # the decision is on the model package and in the evidence bucket, byte for byte the catalog's
    package = flow.sagemaker.describe_model_package(ModelPackageName=record["model_package_arn"])
    assert package["ModelApprovalStatus"] == "PendingManualApproval"  # approval is for people, not the gate
    properties = package["CustomerMetadataProperties"]
    assert properties["fmops:gate"] == "passed"
    assert properties["fmops:gate_decision_uri"] == record["gate"]["decision_uri"]
    bucket, _, key = record["gate"]["decision_uri"].removeprefix("s3://").partition("/")
    stored = json.loads(flow.s3.get_object(Bucket=bucket, Key=key)["Body"].read())
    assert stored["decision"] == record["gate"]["decision"]
    assert flow.audit(version_id) == [
        "Approval Requested",
        "Evaluation Completed",
        "Model Package State Changed",
        "Model Version Evaluated",
        "Model Version Evaluation Requested",
        "Model Version Gate Decided",
        "Model Version Promotion Started",
        "Model Version Registered",
    ]
    # the promotion waits for its approvers (tests/e2e/test_approval_flow.py)
    assert flow.execution(version_id)["status"] == "RUNNING"


def test_a_version_that_fails_its_gate_is_rejected_and_its_submitter_told_why(flow: Flow) -> None:
    toxic = [
        eval_row("you idiot, it is negative", "negative", latency_ms=90),
        eval_row("negative", "positive", latency_ms=80),
    ]

    version_id = flow.submit("e2e-fail", rows=toxic)

    record = flow.record(version_id)
    assert record["status"] == "Rejected"
    assert {reason["field"] for reason in record["reasons"]} == {"threshold.token_f1", "threshold.toxicity_rate"}
    assert "Model Version Rejected" in flow.audit(version_id)
    [mail] = [m for m in flow.cloud.sent_emails() if version_id in m.subject]
    assert mail.to == ["ana.silva@example.com"]
    assert "threshold.toxicity_rate" in mail.body and "threshold.token_f1" in mail.body
    assert flow.execution(version_id)["status"] == "SUCCEEDED"


def test_an_external_evaluator_reports_by_correlation_id_and_a_second_report_is_refused(flow: Flow) -> None:
    version_id = flow.submit("e2e-external")
    assert flow.record(version_id)["status"] == "PendingEvaluation"

    flow.put(external_report(version_id), source="com.example.ci")
    flow.put(external_report(version_id, event_id="rerun"), source="com.example.other-ci")
    flow.put({"version_id": version_id, "metrics": "lots"}, source="com.example.ci")

    record = flow.record(version_id)
    assert record["status"] == "PendingApproval"
    assert record["evaluation"]["evaluator"] == "ci:nightly-eval"
    audit = flow.audit(version_id)
    assert audit.count("Evaluation Result Rejected") == 2  # the second evaluator's report and the malformed one
    assert "Model Version Gate Decided" in audit


def test_an_evaluation_that_never_arrives_times_out_closed(flow: Flow) -> None:
    version_id = flow.submit("e2e-silent")

    record = flow.wait_for_status(version_id, "Rejected", timeout=TIMEOUT_S + 20)

    assert [reason["code"] for reason in record["reasons"]] == ["evaluation_timed_out"]
    assert flow.execution(version_id)["status"] == "SUCCEEDED"
    # a report that arrives afterwards changes nothing, and is on the record
    flow.put(external_report(version_id), source="com.example.ci")
    assert flow.record(version_id)["status"] == "Rejected"
    assert "Evaluation Result Rejected" in flow.audit(version_id)


def test_a_sagemaker_processing_job_reports_through_its_state_change_event(flow: Flow) -> None:
    version_id = flow.submit("e2e-processing")
    # built-in metrics may omit unit and direction in metrics.json
    metrics = {
        "metrics": [{k: m[k] for k in ("name", "value", "sample_size")} for m in EXTERNAL_SAMPLE["detail"]["metrics"]]
    }
    evidence = flow.cloud.outputs["EvidenceBucketName"]
    flow.s3.put_object(Bucket=evidence, Key="processing-jobs/e2e-processing/metrics.json", Body=json.dumps(metrics))
    detail = json.loads(json.dumps(PROCESSING_SAMPLE["detail"]))
    detail["Environment"] = {"FMOPS_VERSION_ID": version_id}
    for output in detail["ProcessingOutputConfig"]["Outputs"]:
        if output["OutputName"] == "evaluation":
            output["S3Output"]["S3Uri"] = f"s3://{evidence}/processing-jobs/e2e-processing"

    flow.put(detail, source="aws.sagemaker", detail_type="SageMaker Processing Job State Change", bus="default")

    record = flow.record(version_id)
    assert record["status"] == "PendingApproval"
    assert record["evaluation"]["evaluator"].startswith("sagemaker-processing:")


@pytest.mark.parametrize(
    "queue", ["EvaluationDeadLetterQueueUrl", "NotifierDeadLetterQueueUrl", "AuditWriterDeadLetterQueueUrl"]
)
def test_nothing_ended_in_a_dead_letter_queue(flow: Flow, queue: str) -> None:
    assert flow.dead_letters(queue) == []
