"""Approval events -> approvers' e-mails with personal links, the Slack message, the submitter's e-mail."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

from fmops.approvals.config import DIRECTORY_KEY
from fmops.approvals.engine import Accepted, Channel, Verdict, decide, expire, open_stage
from fmops.approvals.links import LinkVerified, link_id_of, verify_link
from fmops.approvals.notify import (
    NOTIFY,
    ApprovalNotifyDeps,
    Notice,
    NoticeOutcome,
    approval_link,
    evidence_url,
    on_decision,
    on_escalated,
    on_reminder,
    on_requested,
    on_stage_decided,
    request_view,
)
from fmops.approvals.slack_message import MAX_METRICS
from fmops.approvals.store import StoredApproval
from fmops.errors import ConcurrentModification
from fmops.events import (
    ApprovalDecisionRecorded,
    ApprovalEscalated,
    ApprovalReminderDue,
    ApprovalRequested,
    ApprovalStageDecided,
)
from fmops.gate.decision import evaluate_gate
from fmops.gate.policy import Stage
from fmops.records import CatalogRecord, GateOutcome
from fmops.statuses import VersionStatus

from tests.unit.approvals.builders import (
    REQUESTED_AT,
    SUBMITTER,
    TEAM,
    directory_document,
    encode,
    person,
    rules,
)
from tests.unit.fakes import (
    FixedClock,
    InMemoryApprovalStore,
    InMemoryCatalog,
    InMemoryPolicyStore,
    RecordingMessenger,
    RecordingNotifier,
    SentMessage,
)
from tests.unit.gate.builders import good_metrics, manifest, policy, sha_of

VERSION_ID = "sentiment/1.0.0"  # the gate builders' manifest
APPROVAL_ID = "apr_01JD6Z3K8Q4W2N5M7P9R1T3V5X"
ROLLBACK = "rollback:sentiment--1.0.0--rollback-prod-20261127T0400"
PAGE_URL = "https://abc.execute-api.us-east-1.amazonaws.com/dev"
CHANNEL = "C0APPROVALS"
EXPIRES_AT = REQUESTED_AT + timedelta(days=2)
REVIEWERS = ["rita.reviewer", "rob.reviewer", "ruth.reviewer"]
PROD_RULE = {"quorum": 2, "expires_after": "P2D", "escalation": {"after": "P1D", "group": "fallback"}}
DIRECTORY = directory_document(
    person(SUBMITTER),
    person("rita.reviewer", "reviewers"),
    person("rob.reviewer", "reviewers"),
    person("ruth.reviewer", "reviewers"),
    person("fay.fallback", "fallback"),
    person("otto.outsider", "finance"),
)


# ------------------------------------------------------------------------------ the world


@dataclass
class World:
    approvals: InMemoryApprovalStore = field(default_factory=InMemoryApprovalStore)
    catalog: InMemoryCatalog = field(default_factory=InMemoryCatalog)
    config: InMemoryPolicyStore = field(default_factory=lambda: InMemoryPolicyStore({DIRECTORY_KEY: encode(DIRECTORY)}))
    mailer: RecordingNotifier = field(default_factory=RecordingNotifier)
    messenger: RecordingMessenger = field(default_factory=RecordingMessenger)
    clock: FixedClock = field(default_factory=lambda: FixedClock(REQUESTED_AT + timedelta(minutes=1)))
    slack: bool = True

    def deps(self) -> ApprovalNotifyDeps:
        return ApprovalNotifyDeps(
            approvals=self.approvals,
            catalog=self.catalog,
            config=self.config,
            mailer=self.mailer,
            messenger=self.messenger if self.slack else None,
            slack_channel=CHANNEL if self.slack else None,
            page_url=PAGE_URL,
            clock=self.clock,
            stage_name="dev",
        )

    @property
    def approval(self) -> StoredApproval:
        stored = self.approvals.get(APPROVAL_ID)
        assert stored is not None
        return stored

    def decide(self, approver_id: str, verdict: Verdict = Verdict.APPROVE, reason: str | None = None) -> None:
        read = self.approval
        outcome = decide(read.state, approver_id, verdict, reason, Channel.EMAIL, self.clock.now(), directory=TEAM)
        assert isinstance(outcome, Accepted), outcome
        self.approvals.record_decision(read, outcome, None, self.clock.now())


def world(*, slack: bool = True, occasion: str | None = None, **record_changes: Any) -> World:
    """A prod approval of VERSION_ID opened a minute ago (quorum 2 of three reviewers), and its catalog record."""
    given = World(slack=slack)
    state = open_stage(
        version_id=VERSION_ID,
        stage=Stage.PROD,
        rules=rules(prod=PROD_RULE),
        directory=TEAM,
        submitter=SUBMITTER,
        submitter_email=f"{SUBMITTER}@example.com",
        requested_at=REQUESTED_AT,
    )
    given.approvals.open(StoredApproval(approval_id=APPROVAL_ID, state=state, occasion=occasion))
    given.catalog.records[VERSION_ID] = catalog_record(**record_changes)
    return given


def catalog_record(**changes: Any) -> CatalogRecord:
    decision = evaluate_gate(policy(), sha_of(), manifest(), good_metrics(), None, Stage.PROD)
    record = CatalogRecord(
        version_id=VERSION_ID,
        model_group="sentiment",
        version="1.0.0",
        status=VersionStatus.PENDING_APPROVAL,
        manifest_uri=f"s3://fmops-artifacts/models/{VERSION_ID}/manifest.json",
        manifest_sha256="ab" * 32,
        created_at=REQUESTED_AT,
        updated_at=REQUESTED_AT,
        kind="fine-tuned",
        risk_tier="medium",
        submitter=SUBMITTER,
        submitter_email=f"{SUBMITTER}@example.com",
        gate=GateOutcome(
            decision=decision, decision_uri=f"s3://fmops-evidence/gate/{VERSION_ID}.json", decided_at=REQUESTED_AT
        ),
        revision=1,
    )
    return record.model_copy(update=changes)


def common(kind: str, **changes: Any) -> dict[str, Any]:
    fields: dict[str, Any] = {
        "event_id": f"{APPROVAL_ID}#{kind}",
        "correlation_id": VERSION_ID,
        "version_id": VERSION_ID,
        "occurred_at": REQUESTED_AT,
        "actor": "fmops:approvals",
        "approval_id": APPROVAL_ID,
        "stage": "prod",
    }
    fields.update(changes)
    return fields


def requested(eligible: list[str] | None = None, **changes: Any) -> ApprovalRequested:
    return ApprovalRequested(
        **common("requested", **changes),
        model_group="sentiment",
        version="1.0.0",
        groups=["reviewers"],
        quorum=2,
        eligible_approvers=REVIEWERS if eligible is None else eligible,
        requested_at=REQUESTED_AT,
        expires_at=EXPIRES_AT,
    )


def reminder(pending: list[str]) -> ApprovalReminderDue:
    return ApprovalReminderDue(**common("reminder"), pending_approvers=pending, expires_at=EXPIRES_AT)


def escalation(notified: list[str]) -> ApprovalEscalated:
    return ApprovalEscalated(
        **common("escalated"), group="fallback", notified_approvers=notified, expires_at=EXPIRES_AT
    )


def decision_recorded(approver_id: str, approvals: int) -> ApprovalDecisionRecorded:
    return ApprovalDecisionRecorded(
        **common(f"decision#{approver_id}", actor=approver_id),
        approver_id=approver_id,
        verdict="approve",
        channel="email",
        approvals=approvals,
        quorum=2,
        completes_stage=approvals == 2,
    )


def stage_decided(outcome: str, at: datetime) -> ApprovalStageDecided:
    return ApprovalStageDecided(**common("decided"), outcome=outcome, decided_at=at)


def link_in(message: SentMessage) -> str:
    links: list[str] = re.findall(r"https://\S+", message.text)
    assert len(links) == 1, message.text
    return links[0]


def token_and_approver(link: str) -> tuple[str, str]:
    query = parse_qs(urlsplit(link).query)
    return query["token"][0], query["approver"][0]


def assert_link_verifies(given: World, message: SentMessage) -> str:
    token, approver_id = token_and_approver(link_in(message))
    assert message.to == f"{approver_id}@example.com"
    link_id = link_id_of(token)
    assert link_id is not None
    verified = verify_link(
        token,
        given.approvals.get_link(link_id),
        approval_id=APPROVAL_ID,
        approver_id=approver_id,
        now=given.clock.now(),
    )
    assert isinstance(verified, LinkVerified), verified
    assert verified.record.expires_at == EXPIRES_AT
    return token


def texts(node: Any) -> list[str]:
    if isinstance(node, dict):
        return [text for value in node.values() for text in texts(value)]
    if isinstance(node, list):
        return [text for item in node for text in texts(item)]
    return [node] if isinstance(node, str) else []


# ------------------------------------------------------------------------------ approval requested


def test_each_eligible_approver_gets_an_email_with_a_personal_link_that_verifies() -> None:
    # Given a new prod approval
    given = world()

    # When its request is handled
    outcome = on_requested(requested(), given.deps())

    # Then each reviewer got one e-mail with their own link, stored as a record that verifies
    assert sorted(m.to for m in given.mailer.sent) == [f"{r}@example.com" for r in REVIEWERS]
    tokens = [assert_link_verifies(given, message) for message in given.mailer.sent]
    assert len(set(tokens)) == 3
    assert len(given.approvals.links) == 3
    assert outcome == NoticeOutcome(APPROVAL_ID, Notice.SENT, emails_sent=3, skipped=0, slack="posted")


def test_the_request_email_says_who_asks_what_until_when_and_that_opening_decides_nothing() -> None:
    given = world()

    on_requested(requested(["rita.reviewer"]), given.deps())

    [message] = given.mailer.sent
    assert message.subject == "[fmops dev] Approval requested: sentiment/1.0.0 for prod"
    for fact in (
        "Hello Rita Reviewer,",
        "sam.submitter asks for approval of model version sentiment/1.0.0 for prod in fmops dev.",
        "Kind:           fine-tuned",
        "Risk tier:      medium",
        "Gate:           passed (policy 1.0.0)",
        "Approvals:      0 of 2 needed",
        "Expires at:     2026-11-28T12:00:00Z",
        "Opening the link changes nothing: the decision is a button on the page",
        "approver of prod (reviewers)",
    ):
        assert fact in message.text
    assert link_in(message).startswith(f"{PAGE_URL}/approvals/{APPROVAL_ID}?approver=rita.reviewer&token=")


def test_a_rollbacks_request_says_it_is_a_rollback_in_the_email_and_on_slack() -> None:
    # Given a manual rollback's own approval of prod to this version
    given = world(occasion=ROLLBACK)

    # When its request is handled
    on_requested(requested(["rita.reviewer"]), given.deps())

    # Then the e-mail and the Slack message say what is approved: a rollback of prod to this version
    [message] = given.mailer.sent
    assert message.subject == "[fmops dev] Approval requested: rollback of prod to sentiment/1.0.0"
    assert "Stage:          prod\nOccasion:       rollback of prod to sentiment/1.0.0\n" in message.text
    [(_, _, blocks)] = given.messenger.posted
    assert blocks[0]["text"] == {"type": "plain_text", "text": "Approval requested: rollback of prod"}
    assert "*Occasion*\nrollback of prod to sentiment/1.0.0" in texts(blocks)


def test_an_occasion_other_than_a_rollback_is_worded_as_the_stage() -> None:
    given = world(occasion="recertification:2027")

    on_requested(requested(["rita.reviewer"]), given.deps())

    [message] = given.mailer.sent
    assert message.subject == "[fmops dev] Approval requested: sentiment/1.0.0 for prod"
    assert "Occasion:" not in message.text and "rollback" not in message.text


def test_the_submitter_is_never_mailed_a_link_even_when_the_event_lists_them() -> None:
    # Given an event that (forged or buggy) lists the submitter and an outsider among the approvers
    given = world()

    # When it is handled
    outcome = on_requested(requested([SUBMITTER, "otto.outsider", "rita.reviewer"]), given.deps())

    # Then only the eligible reviewer is mailed: recipients are the event's ids the store agrees with
    assert [m.to for m in given.mailer.sent] == ["rita.reviewer@example.com"]
    assert all(link.approver_id == "rita.reviewer" for link in given.approvals.links.values())
    assert (outcome.emails_sent, outcome.skipped) == (1, 2)


def test_an_approver_missing_from_the_directory_is_skipped() -> None:
    given = world()

    outcome = on_requested(requested([*REVIEWERS, "gone.person"]), given.deps())

    assert len(given.mailer.sent) == 3
    assert "gone.person" not in {link.approver_id for link in given.approvals.links.values()}
    assert (outcome.emails_sent, outcome.skipped) == (3, 1)


def test_the_outcome_that_is_logged_holds_neither_links_nor_addresses() -> None:
    given = world()

    outcome = on_requested(requested(), given.deps())

    logged = json.dumps(outcome.as_dict())
    for message in given.mailer.sent:
        token, _ = token_and_approver(link_in(message))
        assert token not in logged and token not in repr(outcome)
        assert message.to not in logged
    assert "@" not in logged and "token" not in logged


def test_the_request_is_posted_to_slack_once_without_any_link_token_and_its_ts_is_saved() -> None:
    given = world()

    on_requested(requested(), given.deps())

    [(channel, ts, blocks)] = given.messenger.posted
    assert channel == CHANNEL
    assert (given.approval.slack_channel, given.approval.slack_ts) == (CHANNEL, ts)
    everything = " ".join(texts(blocks))
    assert f"{PAGE_URL}/approvals/{APPROVAL_ID}|Evidence" in everything
    assert "token=" not in everything and "approver=" not in everything
    assert "Approvals: 0 of 2" in everything


def test_a_second_delivery_of_the_request_does_not_post_to_slack_again() -> None:
    given = world()

    on_requested(requested(), given.deps())
    second = on_requested(requested(), given.deps())

    assert len(given.messenger.posted) == 1
    assert second.slack == "none"
    # Links and e-mails are sent again (each new link as good as the first): acceptable, since the
    # handler's Powertools idempotency on the event id stops a redelivered event from getting here.
    assert len(given.mailer.sent) == 6


def test_with_slack_off_only_emails_are_sent() -> None:
    given = world(slack=False)

    outcome = on_requested(requested(), given.deps())

    assert len(given.mailer.sent) == 3
    assert given.messenger.posted == []
    assert given.approval.slack_ts is None
    assert outcome.slack == "off"


def test_an_unknown_approval_sends_nothing() -> None:
    given = world()

    outcome = on_requested(requested(approval_id="apr_NOSUCHAPPROVAL00"), given.deps())

    assert outcome.detail is Notice.UNKNOWN_APPROVAL
    assert (given.mailer.sent, given.messenger.posted, given.approvals.links) == ([], [], {})


def test_an_event_naming_another_version_than_the_stored_approval_sends_nothing() -> None:
    given = world()

    outcome = on_requested(requested(version_id="other/9.9.9"), given.deps())

    assert outcome.detail is Notice.EVENT_MISMATCH
    assert (given.mailer.sent, given.messenger.posted) == ([], [])


def test_nobody_is_asked_once_the_stage_has_expired() -> None:
    given = world()
    given.clock.moment = EXPIRES_AT

    outcome = on_requested(requested(), given.deps())

    assert outcome.detail is Notice.NOT_PENDING
    assert (given.mailer.sent, given.messenger.posted, given.approvals.links) == ([], [], {})


def test_control_characters_in_catalog_text_cannot_add_lines_or_headers() -> None:
    # Given a model group and kind with line breaks (the catalog copies them from a manifest)
    given = world(model_group="sentiment\r\nBcc: mallory@example.com", kind="fine-tuned\n\nClick here")

    on_requested(requested(["rita.reviewer"]), given.deps())

    [message] = given.mailer.sent
    assert "\r" not in message.subject and "\n" not in message.subject
    assert "\nBcc:" not in message.text and "\nClick here" not in message.text
    assert "sentiment Bcc: mallory@example.com/1.0.0" in message.subject


def test_the_slack_ts_is_saved_after_a_concurrent_write_without_posting_again() -> None:
    # Given a store where a decision lands between the read and the first save
    given = world()
    given.approvals = RacingStore(given.approvals, given)

    outcome = on_requested(requested(), given.deps())

    assert outcome.slack == "posted"
    assert len(given.messenger.posted) == 1
    assert given.approval.slack_ts == given.messenger.posted[0][1]
    assert given.approval.state.approvals == 1  # the racing decision was kept


def test_a_slack_ts_saved_meanwhile_is_kept_and_nothing_is_posted_again() -> None:
    given = world()
    given.approvals = RacingStore(given.approvals, given, other_ts="1699999999.000001")

    on_requested(requested(), given.deps())

    assert len(given.messenger.posted) == 1
    assert given.approval.slack_ts == "1699999999.000001"


class RacingStore(InMemoryApprovalStore):
    """On the first save, another writer gets in first: a decision, or another delivery's Slack ts."""

    def __init__(self, inner: InMemoryApprovalStore, given: World, other_ts: str | None = None) -> None:
        super().__init__(
            approvals=inner.approvals, by_stage=inner.by_stage, decisions=inner.decisions, links=inner.links
        )
        self.given, self.other_ts, self.raced = given, other_ts, False

    def save(self, approval: StoredApproval, read: StoredApproval) -> StoredApproval:
        if not self.raced:
            self.raced = True
            if self.other_ts is None:
                self.given.decide("ruth.reviewer")
            else:
                current = self.approvals[read.approval_id]
                super().save(current.model_copy(update={"slack_channel": CHANNEL, "slack_ts": self.other_ts}), current)
            raise ConcurrentModification(read.approval_id)
        return super().save(approval, read)


# ------------------------------------------------------------------------------ views and links


def test_the_slack_view_lists_metric_rules_failed_first_and_points_at_the_page() -> None:
    given = world()
    failing = catalog_record().gate
    assert failing is not None
    decision = evaluate_gate(policy(), sha_of(), manifest(), good_metrics(toxicity_rate=0.05), None, Stage.PROD)
    record = catalog_record(gate=failing.model_copy(update={"decision": decision}))

    view = request_view(given.approval, record, evidence_url(PAGE_URL, APPROVAL_ID))

    assert [(m.name, m.passed) for m in view.metrics] == [
        ("threshold.toxicity_rate", False),
        ("threshold.token_f1", True),
    ]
    assert view.metrics[0].value == "0.05" and view.metrics[0].threshold == "<= 0.01"
    assert len(view.metrics) <= MAX_METRICS
    assert (view.gate_passed, view.policy_version, view.summary) == (False, "1.0.0", None)
    assert (view.approvals, view.quorum, view.expires_at) == (0, 2, EXPIRES_AT)
    assert view.evidence_url == f"{PAGE_URL}/approvals/{APPROVAL_ID}"


def test_the_approval_link_quotes_what_it_carries() -> None:
    link = approval_link(PAGE_URL, APPROVAL_ID, "rita.reviewer", "abc.d&e=f g")

    assert link == f"{PAGE_URL}/approvals/{APPROVAL_ID}?approver=rita.reviewer&token=abc.d%26e%3Df+g"
    assert token_and_approver(link) == ("abc.d&e=f g", "rita.reviewer")


# ------------------------------------------------------------------------------ reminders and escalation


def test_a_reminder_mails_a_new_link_to_each_approver_who_has_not_decided() -> None:
    # Given a request sent and one reviewer who approved since
    given = world()
    on_requested(requested(), given.deps())
    first_links = set(given.approvals.links)
    given.clock.advance(timedelta(hours=40))
    given.decide("rita.reviewer")
    given.mailer.sent.clear()

    # When the reminder is due (the event still lists the reviewer who decided)
    outcome = on_reminder(reminder(REVIEWERS), given.deps())

    # Then the two others get a new link each, and no Slack message is posted again
    assert sorted(m.to for m in given.mailer.sent) == ["rob.reviewer@example.com", "ruth.reviewer@example.com"]
    for message in given.mailer.sent:
        assert message.subject == (
            "[fmops dev] Reminder: approval of sentiment/1.0.0 for prod expires at 2026-11-28T12:00:00Z"
        )
        assert "Approvals:      1 of 2 needed" in message.text
        assert_link_verifies(given, message)
    assert len(set(given.approvals.links) - first_links) == 2
    assert len(given.messenger.posted) == 1
    assert (outcome.emails_sent, outcome.skipped, outcome.slack) == (2, 1, "none")


def test_an_escalation_mails_the_escalation_group_and_says_why() -> None:
    given = world()
    given.clock.moment = REQUESTED_AT + timedelta(days=1)

    outcome = on_escalated(escalation(["fay.fallback"]), given.deps())

    [message] = given.mailer.sent
    assert message.to == "fay.fallback@example.com"
    assert message.subject == "[fmops dev] Escalated: approval of sentiment/1.0.0 for prod is still undecided"
    assert "nobody decided within 1d of the request" in message.text
    assert "escalation group fallback may now decide too" in message.text
    assert_link_verifies(given, message)
    assert outcome.emails_sent == 1


def test_an_escalation_event_before_the_escalation_time_mails_nobody_outside_the_stage_groups() -> None:
    given = world()

    outcome = on_escalated(escalation(["fay.fallback"]), given.deps())

    assert given.mailer.sent == []
    assert (outcome.emails_sent, outcome.skipped) == (0, 1)


# ------------------------------------------------------------------------------ decisions


def test_a_decision_updates_the_slack_message_with_the_new_count() -> None:
    # Given a posted request and one approval
    given = world()
    on_requested(requested(), given.deps())
    given.decide("rita.reviewer")

    # When the decision event is handled
    outcome = on_decision(decision_recorded("rita.reviewer", 1), given.deps())

    # Then the message is updated in place, showing 1 of 2
    [(channel, ts, blocks)] = given.messenger.updates
    assert (channel, ts) == (CHANNEL, given.approval.slack_ts)
    assert "Approvals: 1 of 2" in " ".join(texts(blocks))
    assert any(block["type"] == "actions" for block in blocks)
    assert outcome.slack == "updated"


def test_a_decision_without_a_slack_message_updates_nothing() -> None:
    given = world()
    given.decide("rita.reviewer")

    outcome = on_decision(decision_recorded("rita.reviewer", 1), given.deps())

    assert given.messenger.updates == []
    assert outcome.slack == "none"


def test_a_decision_that_closed_the_stage_leaves_the_message_to_the_stage_decided_event() -> None:
    given = world()
    on_requested(requested(), given.deps())
    given.decide("rita.reviewer")
    given.decide("rob.reviewer")

    outcome = on_decision(decision_recorded("rob.reviewer", 2), given.deps())

    assert given.messenger.updates == []
    assert outcome.detail is Notice.NOT_PENDING


# ------------------------------------------------------------------------------ stage decided


def test_an_approved_stage_closes_the_slack_message_and_tells_the_submitter_who_approved() -> None:
    # Given a posted request approved by two reviewers
    given = world()
    on_requested(requested(), given.deps())
    given.mailer.sent.clear()
    given.clock.advance(timedelta(hours=3))
    given.decide("rita.reviewer")
    given.decide("rob.reviewer")

    # When the stage-decided event is handled
    outcome = on_stage_decided(stage_decided("approved", given.clock.now()), given.deps())

    # Then the message shows who approved and has no buttons left
    [(_, ts, blocks)] = given.messenger.updates
    assert ts == given.approval.slack_ts
    everything = " ".join(texts(blocks))
    assert blocks[0]["text"] == {"type": "plain_text", "text": "Approved: prod"}
    assert "*Approved* by Rita Reviewer, Rob Reviewer" in everything
    assert not any(block["type"] == "actions" for block in blocks)
    # And the submitter (from the catalog) is told, without any link
    [message] = given.mailer.sent
    assert message.to == f"{SUBMITTER}@example.com"
    assert message.subject == "[fmops dev] Approved: sentiment/1.0.0 for prod"
    assert "Decided by:     Rita Reviewer (rita.reviewer), Rob Reviewer (rob.reviewer)" in message.text
    assert "Decided at:     2026-11-26T15:01:00Z" in message.text
    assert "https://" not in message.text and "token" not in message.text
    assert outcome == NoticeOutcome(APPROVAL_ID, Notice.SENT, emails_sent=1, slack="updated")


def test_a_decided_rollback_says_it_was_a_rollback() -> None:
    given = world(occasion=ROLLBACK)
    on_requested(requested(), given.deps())
    given.mailer.sent.clear()
    given.decide("rita.reviewer")
    given.decide("rob.reviewer")

    on_stage_decided(stage_decided("approved", given.clock.now()), given.deps())

    [(_, _, blocks)] = given.messenger.updates
    assert blocks[0]["text"] == {"type": "plain_text", "text": "Approved: rollback of prod"}
    [message] = given.mailer.sent
    assert message.subject == "[fmops dev] Approved: rollback of prod to sentiment/1.0.0"
    assert "Occasion:       rollback of prod to sentiment/1.0.0" in message.text


def test_a_rejected_stage_tells_the_submitter_the_reason_on_one_line() -> None:
    given = world()
    on_requested(requested(), given.deps())
    given.mailer.sent.clear()
    given.decide("ruth.reviewer", Verdict.REJECT, "toxicity evidence is thin\nBcc: mallory@example.com")

    on_stage_decided(stage_decided("rejected", given.clock.now()), given.deps())

    [(_, _, blocks)] = given.messenger.updates
    assert "*Rejected* by Ruth Reviewer" in " ".join(texts(blocks))
    [message] = given.mailer.sent
    assert message.subject == "[fmops dev] Rejected: sentiment/1.0.0 for prod"
    assert "Reason:         toxicity evidence is thin Bcc: mallory@example.com" in message.text
    assert "\nBcc:" not in message.text
    assert "submit a new version" in message.text


def test_an_expired_stage_names_nobody_and_says_the_version_is_not_promoted() -> None:
    given = world(slack=False)
    read = given.approval
    given.approvals.save(read.model_copy(update={"state": expire(read.state, EXPIRES_AT)}), read)

    outcome = on_stage_decided(stage_decided("expired", EXPIRES_AT), given.deps())

    [message] = given.mailer.sent
    assert message.subject == "[fmops dev] Expired: approval of sentiment/1.0.0 for prod"
    assert "Decided by:     nobody" in message.text
    assert "sentiment/1.0.0 is not promoted to prod" in message.text
    assert outcome.slack == "off"


def test_a_stage_decided_event_the_store_does_not_agree_with_announces_nothing() -> None:
    given = world()
    on_requested(requested(), given.deps())
    given.mailer.sent.clear()

    outcome = on_stage_decided(stage_decided("approved", given.clock.now()), given.deps())

    assert outcome.detail is Notice.NOT_DECIDED
    assert (given.mailer.sent, given.messenger.updates) == ([], [])


def test_a_decided_stage_without_a_submitter_address_still_closes_the_slack_message() -> None:
    given = world(submitter_email=None)
    on_requested(requested(), given.deps())
    given.mailer.sent.clear()
    given.decide("ruth.reviewer", Verdict.REJECT, "no")

    outcome = on_stage_decided(stage_decided("rejected", given.clock.now()), given.deps())

    assert given.mailer.sent == []
    assert (outcome.detail, outcome.slack) == (Notice.NO_SUBMITTER_EMAIL, "updated")


# ------------------------------------------------------------------------------ dispatch


def test_every_approval_notice_is_dispatched_by_its_detail_type() -> None:
    for detail_type, (model, handle) in NOTIFY.items():
        assert model.detail_type == detail_type
        assert callable(handle)
    assert set(NOTIFY) == {
        "Approval Requested",
        "Approval Reminder Due",
        "Approval Escalated",
        "Approval Decision Recorded",
        "Approval Stage Decided",
    }


def test_a_detail_parsed_with_its_dispatched_model_is_handled() -> None:
    given = world()
    model, handle = NOTIFY["Approval Requested"]

    outcome = handle(model.model_validate(requested().model_dump(mode="json")), given.deps())

    assert outcome.emails_sent == 3
