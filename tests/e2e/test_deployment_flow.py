"""Deployment end to end on the local cloud, from the real template and handlers: an approved version
deploys itself through dev, preprod and prod (each in its own account, each stage after its approval),
a version failing its smoke test is rolled back automatically, approvals that bypassed fmops are
refused, changed artifacts are caught, duplicate events deploy nothing twice, and two versions racing
for one endpoint are serialized."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from typing import Any

import pytest

from fmops_local import LocalCloud

from tests.e2e.test_approval_flow import ANA, BEN, BEN_SLACK, ROOT
from tests.e2e.test_approval_flow import Flow as ApprovalFlow
from tests.unit.builders import CONFIG, WEIGHTS, manifest_document
from tests.unit.promotion.world import GOOD_ROWS, eval_row

pytestmark = pytest.mark.e2e

CHEN, DARA, ELI = "chen.wei@example.com", "dara.novak@example.com", "eli.haddad@example.com"
ACCOUNTS = {"dev": "111111111111", "preprod": "222222222222", "prod": "333333333333"}
SAMPLES = [
    {"name": "clearly-positive", "request": {"text": "I love it"}},
    {"name": "clearly-negative", "request": {"text": "awful"}},
]
FAILING_ROWS = [eval_row("you idiot, it is negative", "negative", latency_ms=90), eval_row("negative", "positive")]
BROKEN = json.dumps({"default": {"error": "model failed to load"}, "status": 500}).encode()


class Flow(ApprovalFlow):
    def __init__(self, cloud: LocalCloud) -> None:
        super().__init__(cloud)
        policies = cloud.outputs["PolicyBucketName"]
        stages = (ROOT / "deployments" / "stages.json").read_bytes()
        self.s3.put_object(Bucket=policies, Key="deployments/stages.json", Body=stages)

    def submit_version(
        self, group: str, version: str, rows: list[dict[str, Any]] = GOOD_ROWS, responses: bytes | None = None
    ) -> str:
        """A version with sample requests; `responses` ships as local/responses.json (what the local model answers)."""
        document = manifest_document(group=group, version=version, task="text-to-text", sample_requests=SAMPLES)
        prefix = f"models/{group}/{version}/"
        files = {"model/weights.bin": WEIGHTS, "config.json": CONFIG, "eval/golden.jsonl": _jsonl(rows)}
        if responses is not None:
            files["local/responses.json"] = responses
        document["artifacts"] = [
            {"path": path, "sha256": hashlib.sha256(body).hexdigest(), "size_bytes": len(body)}
            for path, body in files.items()
        ]
        document["evaluation"] = {"evaluator": "builtin-text", "dataset": "eval/golden.jsonl"}
        for path, body in files.items():
            self.s3.put_object(Bucket=self.bucket, Key=prefix + path, Body=body)
        self.s3.put_object(Bucket=self.bucket, Key=prefix + "manifest.json", Body=json.dumps(document).encode())
        self.cloud.wait_until_idle(timeout=60)
        return f"{group}/{version}"

    def approve(self, email: str, version_id: str) -> None:
        link = self.people.email_link(email, version_id)
        answer = self.people.submit_decision(link, self.people.open_page(link), "approve")
        assert answer.notice == "decided", answer.body[:500]
        self.settle()

    def approve_dev(self, version_id: str) -> None:
        """Ana by e-mail and Ben in Slack: the version becomes Approved, which starts its deployment."""
        assert self.record(version_id)["status"] == "PendingApproval", self.record(version_id)
        self.approve(ANA, version_id)
        approval_id = self.approval_id(version_id, "dev")
        assert self.people.slack_click(BEN_SLACK, approval_id).status == 200
        self.settle()

    def approval_id(self, version_id: str, stage: str) -> str:
        from fmops.adapters.approvals import DynamoApprovalStore
        from fmops.gate.policy import Stage

        approval = DynamoApprovalStore(self.cloud.outputs["ApprovalsTableName"], self.dynamodb).for_stage(
            version_id, Stage(stage)
        )
        assert approval is not None, (version_id, stage)
        return approval.approval_id

    def endpoint(self, group: str, stage: str) -> dict[str, Any] | None:
        sagemaker = self.stage_client("sagemaker", stage)
        try:
            described = sagemaker.describe_endpoint(EndpointName=f"fmops-{group}-{stage}")
        except sagemaker.exceptions.ClientError:
            return None
        config = sagemaker.describe_endpoint_config(EndpointConfigName=described["EndpointConfigName"])
        tags = sagemaker.list_tags(ResourceArn=config["EndpointConfigArn"])["Tags"]
        return {**described, "version_id": {t["Key"]: t["Value"] for t in tags}["fmops:version_id"]}

    def stage_client(self, service: str, stage: str) -> Any:
        sts = self.cloud.session().client("sts", endpoint_url=self.cloud.endpoint_url)
        role = f"arn:aws:iam::{ACCOUNTS[stage]}:role/fmops-deployer"
        credentials = sts.assume_role(RoleArn=role, RoleSessionName="e2e")["Credentials"]
        return self.cloud.session().client(
            service,
            endpoint_url=self.cloud.endpoint_url,
            aws_access_key_id=credentials["AccessKeyId"],
            aws_secret_access_key=credentials["SecretAccessKey"],
            aws_session_token=credentials["SessionToken"],
        )

    def history(self, group: str, stage: str) -> list[Any]:
        from fmops.adapters.deployments import DynamoDeploymentStore
        from fmops.deployment.history import timeline
        from fmops.gate.policy import Stage

        store = DynamoDeploymentStore(self.cloud.outputs["DeploymentsTableName"], self.dynamodb)
        return timeline(store.history(group, Stage(stage)), group, Stage(stage))

    def deployments(self, version_id: str) -> list[dict[str, Any]]:
        arn = self.cloud.outputs["DeploymentStateMachineArn"]
        prefix = version_id.replace("/", "_", 1) + "-"
        executions = self.sfn.list_executions(stateMachineArn=arn)["executions"]
        return [e for e in executions if e["name"].startswith(prefix)]

    def states_entered(self, execution: dict[str, Any]) -> list[str]:
        events = self.sfn.get_execution_history(executionArn=execution["executionArn"], maxResults=1000)["events"]
        return [e["stateEnteredEventDetails"]["name"] for e in events if "stateEnteredEventDetails" in e]

    def audit_facts(self, version_id: str, detail_type: str) -> list[dict[str, Any]]:
        from fmops.adapters.dynamodb import DynamoAuditLog

        log = DynamoAuditLog(self.cloud.outputs["AuditTableName"], self.dynamodb)
        return [r.facts for r in log.for_version(version_id) if r.detail_type == detail_type]

    def put_package_event(self, package_arn: str, **detail: Any) -> None:
        """SageMaker's state change for a package, as it would arrive again (a re-sent or late event)."""
        described = self.sagemaker.describe_model_package(ModelPackageName=package_arn)
        body = {
            "ModelPackageGroupName": described["ModelPackageGroupName"],
            "ModelPackageArn": package_arn,
            "ModelApprovalStatus": described["ModelApprovalStatus"],
            "CustomerMetadataProperties": described.get("CustomerMetadataProperties", {}),
            **detail,
        }
        self.put(body, source="aws.sagemaker", detail_type="SageMaker Model Package State Change", bus="default")
        self.settle()


def _jsonl(rows: list[dict[str, Any]]) -> bytes:
    return b"".join(json.dumps(row).encode() + b"\n" for row in rows)


@pytest.fixture(scope="module")
def flow(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Flow]:
    state_dir = tmp_path_factory.mktemp("local-cloud")
    with LocalCloud(project_root=ROOT, port=0, state_dir=state_dir, retry_delay_s=0.05) as cloud:
        yield Flow(cloud)


def test_an_approved_version_deploys_through_dev_preprod_and_prod_each_after_its_approval(flow: Flow) -> None:
    # Given a version approved by its dev quorum
    version_id = flow.submit_version("e2e-deploy", "1.0.0")
    flow.approve_dev(version_id)

    # Then it serves in dev, in the dev account, and its deployment waits for the preprod approval
    assert flow.record(version_id)["status"] == "Approved"
    dev = flow.endpoint("e2e-deploy", "dev")
    assert dev is not None and dev["EndpointStatus"] == "InService" and dev["version_id"] == version_id
    assert ACCOUNTS["dev"] in dev["EndpointArn"]
    assert flow.endpoint("e2e-deploy", "preprod") is None
    [execution] = flow.deployments(version_id)
    assert execution["status"] == "RUNNING" and flow.states_entered(execution)[-1] == "ApproveStage"
    assert flow.record(version_id)["stages"]["dev"]["status"] == "serving"

    # When Chen (ml-leads) approves preprod, then Dara (model-risk) and Eli (business owners) approve prod
    flow.approve(CHEN, version_id)
    preprod = flow.endpoint("e2e-deploy", "preprod")
    assert preprod is not None and preprod["version_id"] == version_id and ACCOUNTS["preprod"] in preprod["EndpointArn"]
    assert flow.endpoint("e2e-deploy", "prod") is None
    flow.approve(DARA, version_id)
    assert flow.endpoint("e2e-deploy", "prod") is None  # quorum 2: one approval is not enough
    flow.approve(ELI, version_id)

    # Then it serves in prod, in the prod account, and the execution ended Deployed
    prod = flow.endpoint("e2e-deploy", "prod")
    assert prod is not None and prod["version_id"] == version_id and ACCOUNTS["prod"] in prod["EndpointArn"]
    [execution] = flow.deployments(version_id)
    assert execution["status"] == "SUCCEEDED" and flow.states_entered(execution)[-1] == "Deployed"
    stages = flow.record(version_id)["stages"]
    assert {stage: entry["status"] for stage, entry in stages.items()} == {
        "dev": "serving",
        "preprod": "serving",
        "prod": "serving",
    }
    # and each stage's history says who let it in, on which evidence, with the artifact digest
    [prod_record] = flow.history("e2e-deploy", "prod")
    assert prod_record.outcome.value == "succeeded" and sorted(prod_record.approved_by) == ["dara.novak", "eli.haddad"]
    assert prod_record.evidence_uri == flow.record(version_id)["gate"]["decision_uri"]
    assert prod_record.artifact_sha256 == flow.record(version_id)["manifest_sha256"]
    [dev_record] = flow.history("e2e-deploy", "dev")
    assert sorted(dev_record.approved_by) == ["ana.ortiz", "ben.okafor"]
    # and the audit trail holds every start and success, with the endpoint configuration
    started = flow.audit_facts(version_id, "Deployment Started")
    assert sorted(fact["stage"] for fact in started) == ["dev", "preprod", "prod"]
    succeeded = flow.audit_facts(version_id, "Deployment Succeeded")
    assert {fact["stage"]: fact["endpoint_config_name"] for fact in succeeded}["prod"] == prod["EndpointConfigName"]


def test_a_version_that_fails_its_smoke_test_is_rolled_back_to_the_last_approved_one(flow: Flow) -> None:
    # Given version 1 serving in dev
    good = flow.submit_version("e2e-rollback", "1.0.0")
    flow.approve_dev(good)
    before = flow.endpoint("e2e-rollback", "dev")
    assert before is not None and before["version_id"] == good

    # When version 2, whose model answers every request with an error, is approved
    broken = flow.submit_version("e2e-rollback", "2.0.0", responses=BROKEN)
    flow.approve_dev(broken)

    # Then dev is back on version 1's endpoint configuration, and version 2 went no further
    after = flow.endpoint("e2e-rollback", "dev")
    assert after is not None and after["version_id"] == good
    assert after["EndpointConfigName"] == before["EndpointConfigName"]
    [execution] = flow.deployments(broken)
    assert execution["status"] == "SUCCEEDED" and flow.states_entered(execution)[-1] == "Stopped"
    assert "ApproveStage" not in flow.states_entered(execution)
    # and the history says so: version 2 rolled back (why), then the rollback to version 1 (its approvers)
    records = flow.history("e2e-rollback", "dev")
    assert [(r.version_id, r.kind.value, r.outcome.value) for r in records] == [
        (good, "deploy", "succeeded"),
        (broken, "deploy", "rolled_back"),
        (good, "rollback", "succeeded"),
    ]
    assert "smoke test failed" in (records[1].reason or "") and "http_status" not in (records[1].reason or "x")
    assert sorted(records[2].approved_by) == ["ana.ortiz", "ben.okafor"]
    # and the catalog and the audit trail too
    assert flow.record(broken)["stages"]["dev"]["status"] == "rolled_back"
    assert flow.record(good)["stages"]["dev"]["status"] == "serving"
    [failed] = flow.audit_facts(broken, "Deployment Failed")
    assert failed["code"] == "smoke_test_failed" and failed["stage_serves"] == good
    [rolled_back] = flow.audit_facts(good, "Deployment Rolled Back")
    assert rolled_back["rolled_back_version_id"] == broken and rolled_back["automatic"] is True


def test_a_studio_approval_of_a_version_that_skipped_its_approvals_is_refused_and_recorded(flow: Flow) -> None:
    # Given a version still waiting for its approvers, and one that failed its gate
    pending, _ = flow.pending("e2e-studio")
    ungated = flow.submit_version("e2e-studio-ungated", "1.0.0", rows=FAILING_ROWS)
    assert flow.record(ungated)["status"] == "Rejected"

    # When someone approves both packages directly in the registry (SageMaker Studio)
    for version_id in (pending, ungated):
        package = flow.record(version_id)["model_package_arn"]
        flow.sagemaker.update_model_package(ModelPackageArn=package, ModelApprovalStatus="Approved")
    flow.settle()

    # Then neither deploys, and each refusal is in the audit trail with its reason
    for version_id, code in ((pending, "refuse_unapproved"), (ungated, "refuse_ungated")):
        assert flow.deployments(version_id) == []
        [refused] = flow.audit_facts(version_id, "Deployment Refused")
        assert refused["code"] == code and version_id in refused["reason"]
    assert flow.endpoint("e2e-studio", "dev") is None


def test_an_artifact_changed_after_approval_is_refused_before_anything_is_deployed(flow: Flow) -> None:
    # Given a version waiting for approval, whose weights are then overwritten in the bucket
    version_id = flow.submit_version("e2e-digest", "1.0.0")
    flow.s3.put_object(Bucket=flow.bucket, Key="models/e2e-digest/1.0.0/model/weights.bin", Body=b"other weights")

    # When it is approved
    flow.approve_dev(version_id)

    # Then nothing is deployed, and the refusal says which artifact changed
    assert flow.endpoint("e2e-digest", "dev") is None
    [failed] = flow.audit_facts(version_id, "Deployment Failed")
    assert failed["code"] == "digest_mismatch" and "model/weights.bin" in failed["reason"]
    assert flow.record(version_id)["stages"]["dev"]["status"] == "failed"
    assert flow.history("e2e-digest", "dev") == []


def test_duplicate_late_and_foreign_state_change_events_deploy_nothing_twice(flow: Flow) -> None:
    # Given a version deployed to dev (its deployment waiting for preprod)
    version_id = flow.submit_version("e2e-dupes", "1.0.0")
    flow.approve_dev(version_id)
    package = flow.record(version_id)["model_package_arn"]
    assert len(flow.deployments(version_id)) == 1

    # When SageMaker's Approved event arrives again, an older PendingManualApproval one arrives late,
    # and an Approved event names a package fmops does not manage
    flow.put_package_event(package)
    flow.put_package_event(package, ModelApprovalStatus="PendingManualApproval")
    flow.put_package_event(package, CustomerMetadataProperties={"fmops:version_id": "e2e-dupes/9.9.9"})

    # Then there is still one deployment and one dev record, and the endpoint never moved
    assert len(flow.deployments(version_id)) == 1
    assert [r.version_id for r in flow.history("e2e-dupes", "dev")] == [version_id]
    assert len(flow.audit_facts(version_id, "Deployment Started")) == 1


def test_two_versions_racing_for_one_endpoint_are_serialized_and_the_later_approval_wins(flow: Flow) -> None:
    from datetime import UTC, datetime, timedelta

    from fmops.adapters.deployments import DynamoDeploymentStore
    from fmops.gate.policy import Stage

    store = DynamoDeploymentStore(flow.cloud.outputs["DeploymentsTableName"], flow.dynamodb)
    first = flow.submit_version("e2e-race", "1.0.0")
    second = flow.submit_version("e2e-race", "2.0.0")
    # Given the dev stage held by another deployment for a few seconds (a lease: it lapses by itself)
    held_until = datetime.now(UTC) + timedelta(seconds=8)
    held = store.acquire("e2e-race", Stage.DEV, "operator-hold", first, datetime.now(UTC), timedelta(seconds=8))
    assert held is not None

    # When both versions get their quorum at the same time, one after the other
    for version_id in (first, second):
        link = flow.people.email_link(ANA, version_id)
        assert flow.people.submit_decision(link, flow.people.open_page(link), "approve").notice == "decided"
        assert flow.people.slack_click(BEN_SLACK, flow.approval_id(version_id, "dev")).status == 200
    flow.settle()

    # Then neither touched the stage while it was held, the later approval serves,
    # the other was replaced or superseded, and nothing is half-way
    records = flow.history("e2e-race", "dev")
    assert records and all(r.started_at >= held_until - timedelta(seconds=1) for r in records)
    assert all(r.outcome.value == "succeeded" for r in records) and records[-1].version_id == second
    serving = flow.endpoint("e2e-race", "dev")
    assert serving is not None and serving["version_id"] == second
    assert flow.record(first)["stages"]["dev"]["status"] in {"replaced", "superseded"}
    assert flow.record(second)["stages"]["dev"]["status"] == "serving"
    lock = store.holder("e2e-race", Stage.DEV)
    assert lock is None or lock.holder != "operator-hold"


def test_a_manual_rollback_needs_the_stages_approvers_and_history_answers_for_any_moment(
    flow: Flow, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from datetime import UTC, datetime

    from fmops_cli.main import main

    # Given version 1, then version 2 serving in dev
    first = flow.submit_version("e2e-manual", "1.0.0")
    flow.approve_dev(first)
    between = datetime.now(UTC)
    second = flow.submit_version("e2e-manual", "2.0.0")
    flow.approve_dev(second)
    assert flow.endpoint("e2e-manual", "dev")["version_id"] == second  # type: ignore[index]
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "fmops-local")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "fmops-local")
    connection = [
        "--endpoint-url",
        flow.cloud.endpoint_url,
        "--region",
        "us-east-1",
        "--deployments-table",
        flow.cloud.outputs["DeploymentsTableName"],
    ]

    # When an operator asks for a rollback of dev
    state_machine = ["--state-machine", flow.cloud.outputs["DeploymentStateMachineArn"]]
    assert main(["rollback", "e2e-manual", "--stage", "dev", *connection, *state_machine]) == 0
    assert f"from {second} to {first}" in capsys.readouterr().out
    flow.settle()
    # Then nothing moves before the dev approvers agree on this rollback (a fresh approval)
    assert flow.endpoint("e2e-manual", "dev")["version_id"] == second  # type: ignore[index]
    flow.approve(ANA, first)
    assert flow.endpoint("e2e-manual", "dev")["version_id"] == second  # type: ignore[index]
    flow.approve(BEN, first)

    # Then dev serves version 1 again, and the rollback is on the record with its own approvers
    assert flow.endpoint("e2e-manual", "dev")["version_id"] == first  # type: ignore[index]
    rollback = flow.history("e2e-manual", "dev")[-1]
    assert (rollback.kind.value, rollback.version_id, rollback.replaced_version_id) == ("rollback", first, second)
    assert sorted(rollback.approved_by) == ["ana.ortiz", "ben.okafor"] and rollback.outcome.value == "succeeded"
    # and history answers for any moment: version 1 between the deployments, version 1 again now
    assert main(["history", "e2e-manual", "--stage", "dev", "--at", between.isoformat(), "--json", *connection]) == 0
    then = json.loads(capsys.readouterr().out)
    assert then["serving"]["version_id"] == first and then["timeline"] is None
    assert sorted(then["serving"]["approved_by"]) == ["ana.ortiz", "ben.okafor"]
    assert main(["history", "e2e-manual", "--stage", "dev", *connection]) == 0
    text = capsys.readouterr().out
    assert f"dev served {first}" in text and "rollback" in text and second in text

    # and rolling back to what already serves is refused with a clear message
    assert main(["rollback", "e2e-manual", "--stage", "dev", "--to", first, *connection, *state_machine]) == 2
    assert "nothing to roll back" in capsys.readouterr().err


@pytest.mark.parametrize("queue", ["DeploymentDeadLetterQueueUrl", "ApprovalDeadLetterQueueUrl"])
def test_nothing_ended_in_a_dead_letter_queue(flow: Flow, queue: str) -> None:
    sqs = flow.cloud.session().client("sqs", endpoint_url=flow.cloud.endpoint_url)
    attributes = sqs.get_queue_attributes(QueueUrl=flow.cloud.outputs[queue], AttributeNames=["All"])["Attributes"]
    assert attributes["ApproximateNumberOfMessages"] == "0"
