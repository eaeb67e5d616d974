"""Human approvals end to end on the local cloud, from the real template and handlers: a version that
passed its gate is announced by e-mail (local SES) and Slack (stub), approved through the page and a
Slack click, and becomes Approved in the model registry; rejections, forgeries, replays, link
scanners and expiry change nothing they must not, and every attempt is on the record."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from fmops_local import LocalCloud
from fmops_local.approvers import LocalApprover, approval_id_of

from tests.e2e.test_evaluation_flow import ROOT
from tests.e2e.test_evaluation_flow import Flow as EvaluationFlow
from tests.unit.promotion.world import GOOD_ROWS

pytestmark = pytest.mark.e2e

ANA, BEN, CHEN = "ana.ortiz@example.com", "ben.okafor@example.com", "chen.wei@example.com"
BEN_SLACK, CHEN_SLACK, STRANGER_SLACK = "U0EXBENOKA", "U0EXCHENWE", "U0NOTINDIR"


class Flow(EvaluationFlow):
    def __init__(self, cloud: LocalCloud) -> None:
        super().__init__(cloud)
        self.people = LocalApprover(cloud)

    def pending(self, group: str) -> tuple[str, str]:
        """A version that passed its gate and waits for approval; returns it and its approval id."""
        version_id = self.submit(group, rows=GOOD_ROWS)
        assert self.record(version_id)["status"] == "PendingApproval"
        return version_id, approval_id_of(self.people.email_link(ANA, version_id))

    def settle(self) -> None:
        # Decisions fan out: the callback resumes the execution, which runs ApproveVersion or RejectVersion.
        for _ in range(3):
            self.cloud.wait_until_idle(timeout=60)
            time.sleep(0.2)

    def refusals(self, chain: str) -> list[dict[str, Any]]:
        from fmops.adapters.dynamodb import DynamoAuditLog

        log = DynamoAuditLog(self.cloud.outputs["AuditTableName"], self.dynamodb)
        return [r.facts for r in log.for_version(chain) if r.detail_type == "Approval Refused"]

    def tick(self, at: datetime) -> dict[str, Any]:
        """The approval timer's scheduled event at `at` (the local cloud does not fire schedules)."""
        event = json.loads((ROOT / "events" / "scheduled_anchor_tick.json").read_text())
        event["time"] = at.strftime("%Y-%m-%dT%H:%M:%SZ")
        response = self.lambda_.invoke(
            FunctionName=self.cloud.outputs["ApprovalCallbackFunctionName"], Payload=json.dumps(event).encode()
        )
        assert "FunctionError" not in response, response["Payload"].read()
        self.settle()
        return dict(json.loads(response["Payload"].read()))


@pytest.fixture(scope="module")
def flow(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Flow]:
    state_dir = tmp_path_factory.mktemp("local-cloud")
    with LocalCloud(project_root=ROOT, port=0, state_dir=state_dir, retry_delay_s=0.05) as cloud:
        yield Flow(cloud)


def test_a_version_approved_through_the_page_and_a_slack_click_is_approved_in_the_registry(flow: Flow) -> None:
    # Given a version that passed its gate: each eligible approver got a link, the channel a message
    version_id, approval_id = flow.pending("e2e-approve")
    assert {mail.to[0] for mail in flow.cloud.sent_emails() if version_id in mail.subject} >= {ANA, BEN, CHEN}
    assert not [m for m in flow.cloud.sent_emails() if version_id in m.subject and "ana.silva" in m.to[0]]
    [message] = [m for m in flow.cloud.slack.messages() if approval_id in json.dumps(m.blocks)]

    # When Ana opens her link and approves on the page
    link = flow.people.email_link(ANA, version_id)
    page = flow.people.open_page(link)
    assert page.status == 200 and 'id="gate-table"' in page.body
    assert page.headers["Cache-Control"] == "no-store" and page.headers["Referrer-Policy"] == "no-referrer"
    decided = flow.people.submit_decision(link, page, "approve")
    flow.settle()
    # Then one of two approvals is recorded and the promotion still waits
    assert decided.status == 200 and decided.notice == "decided" and "1 of 2" in decided.body
    assert flow.record(version_id)["status"] == "PendingApproval"

    # When Ben clicks Approve in Slack
    clicked = flow.people.slack_click(BEN_SLACK, approval_id)
    flow.settle()

    # Then the quorum is reached: the version and its model package are Approved, with who and the evidence
    assert clicked.status == 200
    record = flow.record(version_id)
    assert record["status"] == "Approved"
    package = flow.sagemaker.describe_model_package(ModelPackageName=record["model_package_arn"])
    assert package["ModelApprovalStatus"] == "Approved"
    assert (
        "ana.ortiz (email" in package["ApprovalDescription"] and "ben.okafor (slack" in package["ApprovalDescription"]
    )
    assert record["gate"]["decision_uri"] in package["ApprovalDescription"]
    # the Slack message was updated in place to its decided form
    [updated] = [m for m in flow.cloud.slack.messages() if m.ts == message.ts]
    assert updated.updated and "Approved" in updated.text
    # and every step is in the audit trail, with the approvers as actors
    trail = flow.audit(version_id)
    for detail_type in (
        "Approval Requested",
        "Approval Page Viewed",
        "Approval Decision Recorded",
        "Approval Stage Decided",
        "Model Version Approved",
    ):
        assert detail_type in trail, detail_type
    assert trail.count("Approval Decision Recorded") == 2
    # the execution ended Approved, resumed exactly once
    execution = flow.execution(version_id)
    assert execution["status"] == "SUCCEEDED"
    history = flow.sfn.get_execution_history(executionArn=execution["executionArn"])["events"]
    assert [e["type"] for e in history].count("TaskSucceeded") >= 1
    assert any(e.get("stateEnteredEventDetails", {}).get("name") == "Approved" for e in history)


def test_a_link_scanner_opening_a_link_ten_times_decides_nothing(flow: Flow) -> None:
    version_id, _ = flow.pending("e2e-scanner")
    link = flow.people.email_link(BEN, version_id)
    # When a mail scanner fetches the link ten times (HEAD and GET)
    answers = [flow.people.open_page(link, "HEAD" if i % 2 else "GET") for i in range(10)]
    flow.settle()
    # Then nothing was decided and the link still works for its owner
    assert {a.status for a in answers} == {200}
    assert flow.audit(version_id).count("Approval Page Viewed") == 10
    assert "Approval Decision Recorded" not in flow.audit(version_id)
    page = flow.people.open_page(link)
    assert flow.people.submit_decision(link, page, "approve").notice == "decided"


def test_a_used_tampered_or_foreign_link_is_refused_and_recorded(flow: Flow) -> None:
    version_id, _ = flow.pending("e2e-links")
    link = flow.people.email_link(ANA, version_id)
    page = flow.people.open_page(link)
    assert flow.people.submit_decision(link, page, "approve").notice == "decided"
    flow.settle()
    # a used link, a link whose secret was altered, and Ana's link presented as Chen's
    used = flow.people.open_page(link)
    tampered = flow.people.open_page(link[:-1] + ("A" if link[-1] != "A" else "B"))
    foreign = flow.people.open_page(link.replace("approver=ana.ortiz", "approver=chen.wei"))
    replayed = flow.people.submit_decision(link, page, "approve")
    flow.settle()
    assert (used.status, used.notice) == (409, "already_used")
    assert (tampered.status, tampered.notice) == (404, "invalid_link")
    assert (foreign.status, foreign.notice) == (403, "not_yours")
    assert (replayed.status, replayed.notice) == (409, "already_used")
    codes = [facts["code"] for facts in flow.refusals(version_id)]
    assert codes.count("already_used") == 2 and "tampered" in codes and "not_yours" in codes
    assert flow.record(version_id)["status"] == "PendingApproval"


def test_a_post_without_the_page_csrf_token_is_refused(flow: Flow) -> None:
    version_id, _ = flow.pending("e2e-csrf")
    link = flow.people.email_link(ANA, version_id)
    page = flow.people.open_page(link)
    forged = page.body.replace('name="csrf_token"', 'name="csrf_token_gone"')
    from fmops_local.approvers import HttpAnswer

    answer = flow.people.submit_decision(link, HttpAnswer(200, {}, forged, 0.0), "approve")
    flow.settle()
    assert (answer.status, answer.notice) == (403, "forbidden")
    assert "csrf_missing" in [facts["code"] for facts in flow.refusals(version_id)]
    assert "Approval Decision Recorded" not in flow.audit(version_id)


def test_forged_stale_and_replayed_slack_requests_are_refused_and_recorded(flow: Flow) -> None:
    version_id, approval_id = flow.pending("e2e-slack")
    payload = flow.people.slack_payload(BEN_SLACK, approval_id)
    body, headers = flow.people.slack_request(payload)
    # a bad signature, a request signed six minutes ago, missing headers, a re-serialised body
    bad = flow.people.post_to_slack_endpoint(body, {**headers, "X-Slack-Signature": "v0=" + "0" * 64})
    stale_body, stale_headers = flow.people.slack_request(payload, timestamp=int(time.time()) - 360)
    stale = flow.people.post_to_slack_endpoint(stale_body, stale_headers)
    unsigned = flow.people.post_to_slack_endpoint(body, {"Content-Type": headers["Content-Type"]})
    reserialised = flow.people.post_to_slack_endpoint(body.replace(b"%22%3A+", b"%22%3A"), headers)
    # a valid request, then the very same request again
    valid = flow.people.post_to_slack_endpoint(body, headers)
    replay = flow.people.post_to_slack_endpoint(body, headers)
    flow.settle()

    assert [a.status for a in (bad, stale, unsigned, reserialised)] == [401, 401, 401, 401]
    assert (valid.status, replay.status) == (200, 401)
    codes = [facts["code"] for facts in flow.refusals("_unaddressed")]
    for code in ("bad_signature", "stale_timestamp", "missing_headers", "replayed_request"):
        assert code in codes, code
    # only the valid click counted
    assert flow.audit(version_id).count("Approval Decision Recorded") == 1


def test_a_slack_user_outside_the_directory_cannot_decide(flow: Flow) -> None:
    version_id, approval_id = flow.pending("e2e-stranger")
    answer = flow.people.slack_click(STRANGER_SLACK, approval_id)
    flow.settle()
    assert answer.status == 200  # Slack gets its answer; the person gets an ephemeral "not recorded"
    assert "not_an_approver" in [facts["code"] for facts in flow.refusals(version_id)]
    assert "Approval Decision Recorded" not in flow.audit(version_id)


def test_a_rejection_through_the_page_rejects_the_version_with_the_reason(flow: Flow) -> None:
    version_id, _ = flow.pending("e2e-reject")
    link = flow.people.email_link(CHEN, version_id)
    page = flow.people.open_page(link)
    # a rejection without a reason is refused; with one, it ends the stage
    assert flow.people.submit_decision(link, page, "reject").status == 400
    answer = flow.people.submit_decision(link, page, "reject", reason="latency p95 regressed on long inputs")
    flow.settle()
    assert answer.notice == "decided"
    record = flow.record(version_id)
    assert record["status"] == "Rejected"
    [reason] = record["reasons"]
    assert reason["code"] == "approval_rejected" and "latency p95 regressed" in reason["message"]
    package = flow.sagemaker.describe_model_package(ModelPackageName=record["model_package_arn"])
    assert package.get("ModelApprovalStatus") != "Approved"


def test_an_approval_nobody_decides_expires_and_fails_closed(flow: Flow) -> None:
    version_id, _ = flow.pending("e2e-expiry")
    # When the approval timer ticks after the stage's expiry (rules: P2D)
    report = flow.tick(datetime.now(UTC) + timedelta(days=3))
    # Then the stage expired, the promotion was resumed with a failure, the version is Rejected
    assert report["expired"] >= 1
    record = flow.record(version_id)
    assert record["status"] == "Rejected"
    assert [r["code"] for r in record["reasons"]] == ["approval_expired"]
    # and Ben's link (still within its own lifetime) now shows the approval closed, with no form to decide
    link = flow.people.email_link(BEN, version_id)
    closed = flow.people.open_page(link)
    assert (closed.status, closed.notice) == (409, "already_decided") and "decision-form" not in closed.body


def test_the_timer_heartbeats_and_reminds_pending_approvals(flow: Flow) -> None:
    version_id, _ = flow.pending("e2e-reminder")
    # dev rules: a reminder 4 hours before the 2-day expiry
    report = flow.tick(datetime.now(UTC) + timedelta(days=2) - timedelta(hours=3))
    assert report["heartbeats"] >= 1 and report["reminded"] >= 1
    assert "Approval Reminder Due" in flow.audit(version_id)
    reminders = [m for m in flow.cloud.sent_emails() if version_id in m.subject and "Reminder" in m.subject]
    assert reminders


@pytest.mark.parametrize("queue", ["ApprovalDeadLetterQueueUrl", "NotifierDeadLetterQueueUrl"])
def test_nothing_ended_in_a_dead_letter_queue(flow: Flow, queue: str) -> None:
    attributes = flow.sqs.get_queue_attributes(
        QueueUrl=flow.cloud.outputs[queue], AttributeNames=["ApproximateNumberOfMessages"]
    )["Attributes"]
    assert attributes["ApproximateNumberOfMessages"] == "0"
