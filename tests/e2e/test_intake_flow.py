"""Intake end to end on the local cloud, from the real template.yaml and the real handlers:
S3 put -> EventBridge -> intake -> SageMaker registry + catalog + fmops bus + promotion state machine -> audit."""

from __future__ import annotations

import copy
import hashlib
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from fmops_local import LocalCloud

from tests.unit.builders import CONFIG, WEIGHTS, manifest_document

ROOT = Path(__file__).resolve().parents[2]
S3_SAMPLE = json.loads((ROOT / "events" / "s3_manifest_object_created.json").read_text())

pytestmark = pytest.mark.e2e


class Flow:
    """The local cloud plus the clients and outputs a test needs."""

    def __init__(self, cloud: LocalCloud) -> None:
        self.cloud = cloud
        session, endpoint = cloud.session(), cloud.endpoint_url
        self.s3, self.sagemaker, self.dynamodb, self.sfn, self.sqs, self.lambda_ = (
            session.client(service, endpoint_url=endpoint)  # type: ignore[call-overload]
            for service in ("s3", "sagemaker", "dynamodb", "stepfunctions", "sqs", "lambda")
        )
        self.bucket = cloud.outputs["ArtifactBucketName"]

    def upload(self, document: dict[str, Any], raw: bytes | None = None) -> str:
        """Artifacts first, manifest last; returns the manifest key."""
        prefix = f"models/{document['model_group']}/{document['version']}/"
        self.s3.put_object(Bucket=self.bucket, Key=prefix + "model/weights.bin", Body=WEIGHTS)
        self.s3.put_object(Bucket=self.bucket, Key=prefix + "config.json", Body=CONFIG)
        body = raw if raw is not None else json.dumps(document).encode()
        self.s3.put_object(Bucket=self.bucket, Key=prefix + "manifest.json", Body=body)
        self.cloud.wait_until_idle(timeout=60)
        return prefix + "manifest.json"

    def catalog(self, version_id: str) -> dict[str, Any]:
        item = self.dynamodb.get_item(
            TableName=self.cloud.outputs["CatalogTableName"], Key={"version_id": {"S": version_id}}
        ).get("Item", {})
        return {key: next(iter(value.values())) for key, value in item.items()}

    def audit(self, version_id: str, include_uploads: bool = False) -> list[str]:
        """The detail-types of the version's audit records (artifact uploads left out unless asked)."""
        from fmops.adapters.dynamodb import DynamoAuditLog

        records = DynamoAuditLog(self.cloud.outputs["AuditTableName"], self.dynamodb).for_version(version_id)
        return sorted(r.detail_type for r in records if include_uploads or r.detail_type != "Artifact Uploaded")

    def packages(self, group: str) -> list[dict[str, Any]]:
        return list(self.sagemaker.list_model_packages(ModelPackageGroupName=group)["ModelPackageSummaryList"])

    def executions(self) -> list[dict[str, Any]]:
        arn = self.cloud.outputs["PromotionStateMachineArn"]
        return list(self.sfn.list_executions(stateMachineArn=arn)["executions"])

    def dead_letters(self, output: str) -> list[dict[str, Any]]:
        url = self.cloud.outputs[output]
        return list(self.sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", []))


@pytest.fixture(scope="module")
def flow(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Flow]:
    state_dir = tmp_path_factory.mktemp("local-cloud")
    with LocalCloud(project_root=ROOT, port=0, state_dir=state_dir, retry_delay_s=0.05) as cloud:
        yield Flow(cloud)


def test_an_uploaded_version_is_registered_promoted_and_audited(flow: Flow) -> None:
    # Given a valid model version, when its artifacts and then its manifest are uploaded
    flow.upload(manifest_document(group="e2e-valid", version="1.0.0"))

    # Then the version is registered with a pending model package and its promotion has started
    record = flow.catalog("e2e-valid/1.0.0")
    assert record["status"] == "PendingEvaluation"
    [package] = flow.packages("e2e-valid")
    assert package["ModelApprovalStatus"] == "PendingManualApproval"
    assert record["model_package_arn"] == package["ModelPackageArn"]
    described = flow.sagemaker.describe_model_package(ModelPackageName=package["ModelPackageArn"])
    assert described["CustomerMetadataProperties"]["fmops:version_id"] == "e2e-valid/1.0.0"
    # and it waits for an external evaluator (the manifest names no built-in evaluation set)
    [execution] = [e for e in flow.executions() if e["name"] == "e2e-valid_1.0.0"]
    assert execution["status"] == "RUNNING"
    assert flow.audit("e2e-valid/1.0.0") == [
        "Model Package State Changed",
        "Model Version Evaluation Requested",
        "Model Version Promotion Started",
        "Model Version Registered",
    ]
    # and each uploaded object (two artifacts, then the manifest) is on the record with who put it
    assert flow.audit("e2e-valid/1.0.0", include_uploads=True).count("Artifact Uploaded") == 3


def test_an_invalid_version_is_rejected_with_reasons_an_audit_record_and_no_package(flow: Flow) -> None:
    # Given a manifest whose first artifact's sha256 does not match the uploaded bytes
    document = manifest_document(group="e2e-invalid", version="1.0.0")
    document["artifacts"][0]["sha256"] = hashlib.sha256(b"other bytes").hexdigest()

    flow.upload(document)

    record = flow.catalog("e2e-invalid/1.0.0")
    assert record["status"] == "Rejected"
    assert [reason["M"]["code"]["S"] for reason in record["reasons"]] == ["artifact_sha256_mismatch"]
    assert flow.audit("e2e-invalid/1.0.0") == ["Model Version Rejected"]
    assert flow.sagemaker.list_model_package_groups(NameContains="e2e-invalid")["ModelPackageGroupSummaryList"] == []
    assert not [e for e in flow.executions() if e["name"].startswith("e2e-invalid")]


def test_a_manifest_that_is_not_json_is_rejected_not_retried(flow: Flow) -> None:
    document = manifest_document(group="e2e-garbage", version="1.0.0")
    before = len(flow.cloud.invocations("IntakeFunction"))

    flow.upload(document, raw=b"this is not json")

    assert flow.catalog("e2e-garbage/1.0.0")["reasons"][0]["M"]["code"]["S"] == "manifest_not_json"
    [attempt] = flow.cloud.invocations("IntakeFunction")[before:]
    assert attempt.error_type is None


def test_the_same_upload_delivered_100_times_yields_one_version_package_execution_and_record(flow: Flow) -> None:
    # Given a registered version
    key = flow.upload(manifest_document(group="e2e-dupes", version="1.0.0"))
    head = flow.s3.head_object(Bucket=flow.bucket, Key=key)
    event = copy.deepcopy(S3_SAMPLE)
    event["detail"]["bucket"]["name"] = flow.bucket
    event["detail"]["object"].update(key=key, size=head["ContentLength"], etag=head["ETag"].strip('"'))

    # When EventBridge delivers its "Object Created" event 100 more times, asynchronously
    before = len(flow.cloud.invocations("IntakeFunction"))
    for _ in range(100):
        flow.lambda_.invoke(
            FunctionName=flow.cloud.ref("IntakeFunction"), InvocationType="Event", Payload=json.dumps(event)
        )
    flow.cloud.wait_until_idle(timeout=120)

    # Then all 100 ran, nothing happened twice and nothing was lost
    assert len(flow.cloud.invocations("IntakeFunction")) - before == 100
    assert flow.catalog("e2e-dupes/1.0.0")["status"] == "PendingEvaluation"
    assert len(flow.packages("e2e-dupes")) == 1
    assert len([e for e in flow.executions() if e["name"] == "e2e-dupes_1.0.0"]) == 1
    assert flow.audit("e2e-dupes/1.0.0") == [
        "Model Package State Changed",
        "Model Version Evaluation Requested",
        "Model Version Promotion Started",
        "Model Version Registered",
    ]
    assert flow.dead_letters("IntakeDeadLetterQueueUrl") == []


def test_a_different_manifest_for_a_registered_version_is_refused_and_recorded(flow: Flow) -> None:
    flow.upload(manifest_document(group="e2e-immutable", version="1.0.0"))

    flow.upload(manifest_document(group="e2e-immutable", version="1.0.0", intended_use="Changed after the fact."))

    assert flow.catalog("e2e-immutable/1.0.0")["status"] == "PendingEvaluation"
    assert len(flow.packages("e2e-immutable")) == 1
    assert "Model Version Upload Refused" in flow.audit("e2e-immutable/1.0.0")


def test_a_poison_event_ends_in_the_dead_letter_queue_with_its_reason(flow: Flow) -> None:
    # Given an event intake cannot even parse
    poison = {"detail-type": "Object Created", "source": "aws.s3", "detail": {"bucket": "not-an-object"}}

    intake = flow.cloud.ref("IntakeFunction")
    flow.lambda_.invoke(FunctionName=intake, InvocationType="Event", Payload=json.dumps(poison))
    flow.cloud.wait_until_idle(timeout=60)

    # Then after its retries it is in the DLQ with the error that stopped it, and the payload to replay
    [message] = flow.dead_letters("IntakeDeadLetterQueueUrl")
    record = json.loads(message["Body"])
    assert record["requestContext"]["condition"] == "RetriesExhausted"
    assert record["requestContext"]["approximateInvokeCount"] == 3
    assert record["responsePayload"]["errorType"] == "ValidationError"
    assert record["requestPayload"] == poison
