"""People deciding: by an e-mailed link (the approval page) or by a Slack button, under one set of rules.

Every attempt ends in exactly one event: "Approval Decision Recorded" (plus "Approval Stage
Decided" from the one writer whose decision completes the stage), "Approval Page Viewed", or
"Approval Refused" with the code. A refused attempt writes nothing else.

Concurrency: the decision, the stage's new state and the link's single use are one conditional
transaction on the revision read (`ApprovalStore.record_decision`). When two approvers click at
the same moment, one transaction wins; the other re-reads and is judged again by the engine,
which now sees the stage decided (or counts its approval towards the quorum). So exactly one
writer completes a stage, and only that writer announces it (and so resumes the promotion).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime

from pydantic import SecretBytes

from fmops.approvals import engine
from fmops.approvals.config import load_directory
from fmops.approvals.csrf import CsrfRefusal, verify_csrf
from fmops.approvals.directory import ApproverDirectory
from fmops.approvals.engine import Accepted, Channel, Refusal, StageOutcome, Verdict
from fmops.approvals.links import LinkRecord, LinkRefusal, link_id_of, verify_link
from fmops.approvals.service import stage_decided_event
from fmops.approvals.slack_signature import SlackRefusal, verify_slack_request
from fmops.approvals.store import ApprovalStore, StoredApproval
from fmops.clock import Clock
from fmops.errors import ConcurrentModification
from fmops.events import ApprovalDecisionRecorded, ApprovalPageViewed, ApprovalRefused
from fmops.ledger import UNADDRESSED_CHAIN
from fmops.ports import EventBus, PolicyStore

MAX_ATTEMPTS = 5
UNKNOWN_APPROVAL = "unknown_approval"
PROMOTION_ENDED = "promotion_ended"
SLACK_REPLAYED = "replayed_request"
SLACK_INVALID = "invalid_interaction"


@dataclass(frozen=True)
class DecisionDeps:
    approvals: ApprovalStore
    config: PolicyStore
    bus: EventBus
    clock: Clock


@dataclass(frozen=True)
class Outcome:
    """What happened to one attempt; `approval` is the state after it (None when unknown)."""

    accepted: bool
    code: str  # "recorded", "viewed", or the refusal code
    message: str
    approval: StoredApproval | None = None
    link: LinkRecord | None = None
    completes_stage: bool = False

    def as_dict(self) -> dict[str, object]:
        return {
            "accepted": self.accepted,
            "code": self.code,
            "approval_id": self.approval.approval_id if self.approval else None,
            "completes_stage": self.completes_stage,
        }


@dataclass(frozen=True)
class Attempt:
    approval_id: str
    approver_id: str
    verdict: Verdict
    reason: str | None
    channel: Channel
    request_id: str


def decide(
    attempt: Attempt,
    deps: DecisionDeps,
    *,
    directory: ApproverDirectory | None = None,
    link: LinkRecord | None = None,
    recheck_link: Callable[[], LinkRefusal | LinkRecord] | None = None,
) -> Outcome:
    """Judge and record one person's decision, re-judging after a lost race (see the module docstring)."""
    directory = directory or load_directory(deps.config)
    for _ in range(MAX_ATTEMPTS):
        approval = deps.approvals.get(attempt.approval_id)
        if approval is None:
            return refuse(attempt, deps, UNKNOWN_APPROVAL, "no such approval", None)
        if approval.resumed_at is not None and approval.state.outcome is StageOutcome.PENDING:
            # The promotion stopped waiting (stopped by an operator, or its wait ran out): nothing to decide.
            message = f"the promotion of {approval.version_id} no longer waits for this approval"
            return refuse(attempt, deps, PROMOTION_ENDED, message, approval)
        now = deps.clock.now()
        judged = engine.decide(
            approval.state,
            attempt.approver_id,
            attempt.verdict,
            attempt.reason,
            attempt.channel,
            now,
            directory=directory,
        )
        if isinstance(judged, Refusal):
            return refuse(attempt, deps, judged.code.value, judged.message, approval)
        try:
            stored = deps.approvals.record_decision(approval, judged, link, now)
        except ConcurrentModification:
            if recheck_link is not None:
                rechecked = recheck_link()
                if isinstance(rechecked, LinkRefusal):
                    return refuse(attempt, deps, rechecked.code.value, rechecked.message, approval)
                link = rechecked
            continue
        _announce(stored, judged, attempt, deps.bus)
        return Outcome(
            accepted=True,
            code="recorded",
            message=_recorded_message(stored, judged),
            approval=stored,
            link=link,
            completes_stage=judged.completes_stage,
        )
    raise ConcurrentModification(attempt.approval_id)


def _announce(stored: StoredApproval, judged: Accepted, attempt: Attempt, bus: EventBus) -> None:
    state = stored.state
    decision = judged.decision
    bus.publish(
        ApprovalDecisionRecorded(
            event_id=f"{stored.version_id}#approval-decision#{stored.stage_key}#{decision.approver_id}",
            correlation_id=stored.version_id,
            version_id=stored.version_id,
            occurred_at=decision.decided_at,
            actor=decision.approver_id,
            approval_id=stored.approval_id,
            stage=state.stage.value,
            approver_id=decision.approver_id,
            verdict=decision.verdict.value,
            reason=decision.reason,
            channel=decision.channel.value,
            approvals=state.approvals,
            quorum=state.rule.quorum,
            completes_stage=judged.completes_stage,
        )
    )
    if judged.completes_stage:
        bus.publish(stage_decided_event(stored))


def _recorded_message(stored: StoredApproval, judged: Accepted) -> str:
    state = stored.state
    if state.outcome is StageOutcome.APPROVED:
        return (
            f"Approved: {state.approvals} of {state.rule.quorum} approvals, the {state.stage.value} stage is approved"
        )
    if state.outcome is StageOutcome.REJECTED:
        return f"Rejected: the {state.stage.value} approval of {stored.version_id} is rejected"
    return f"Your approval is recorded: {state.approvals} of {state.rule.quorum} approvals"


def refuse(attempt: Attempt, deps: DecisionDeps, code: str, message: str, approval: StoredApproval | None) -> Outcome:
    """Record a refused attempt (nothing else is written) and report it."""
    publish_refusal(
        deps.bus,
        deps.clock.now(),
        code=code,
        reason=message,
        channel=attempt.channel,
        request_id=attempt.request_id,
        approval=approval,
        approval_id=attempt.approval_id,
        approver_id=attempt.approver_id,
    )
    return Outcome(accepted=False, code=code, message=message, approval=approval)


def publish_refusal(
    bus: EventBus,
    at: datetime,
    *,
    code: str,
    reason: str,
    channel: Channel,
    request_id: str,
    approval: StoredApproval | None,
    approval_id: str | None,
    approver_id: str | None,
) -> None:
    # A refusal about no known approval still goes on the record, in the chain of unaddressed events.
    version_id = approval.version_id if approval else UNADDRESSED_CHAIN
    bus.publish(
        ApprovalRefused(
            event_id=f"{version_id}#approval-refused#{request_id}",
            correlation_id=version_id,
            version_id=version_id,
            occurred_at=at,
            actor=approver_id or "anonymous",
            approval_id=approval.approval_id if approval else approval_id,
            stage=approval.stage.value if approval else None,
            approver_id=approver_id,
            channel=channel.value,
            code=code,
            reason=reason[:1000],
            request_id=request_id,
        )
    )


# ---------------------------------------------------------------- the e-mailed link


@dataclass(frozen=True)
class LinkVisit:
    """A request that presents an e-mailed link: whose, for which approval, with which token."""

    approval_id: str
    approver_id: str
    token: str
    request_id: str


def _attempt(visit: LinkVisit, verdict: Verdict = Verdict.APPROVE, reason: str | None = None) -> Attempt:
    return Attempt(visit.approval_id, visit.approver_id, verdict, reason, Channel.EMAIL, visit.request_id)


def check_link(visit: LinkVisit, deps: DecisionDeps) -> LinkRefusal | LinkRecord:
    link_id = link_id_of(visit.token)
    record = deps.approvals.get_link(link_id) if link_id else None
    verified = verify_link(
        visit.token, record, approval_id=visit.approval_id, approver_id=visit.approver_id, now=deps.clock.now()
    )
    return verified if isinstance(verified, LinkRefusal) else verified.record


def view(visit: LinkVisit, method: str, deps: DecisionDeps) -> Outcome:
    """GET or HEAD on a link: shows the evidence, changes nothing (mail scanners open every link)."""
    checked = check_link(visit, deps)
    approval = deps.approvals.get(visit.approval_id)
    if isinstance(checked, LinkRefusal):
        return refuse(_attempt(visit), deps, checked.code.value, checked.message, approval)
    if approval is None:  # a link whose approval is gone: the table was tampered with or restored
        return refuse(_attempt(visit), deps, UNKNOWN_APPROVAL, "no such approval", None)
    deps.bus.publish(
        ApprovalPageViewed(
            event_id=f"{approval.version_id}#approval-viewed#{visit.request_id}",
            correlation_id=approval.version_id,
            version_id=approval.version_id,
            occurred_at=deps.clock.now(),
            actor=visit.approver_id,
            approval_id=approval.approval_id,
            stage=approval.stage.value,
            approver_id=visit.approver_id,
            method=method,
            request_id=visit.request_id,
        )
    )
    return Outcome(accepted=True, code="viewed", message="", approval=approval, link=checked)


def decide_by_link(
    visit: LinkVisit,
    verdict: Verdict,
    reason: str | None,
    csrf_presented: str | None,
    csrf_key: SecretBytes,
    deps: DecisionDeps,
) -> Outcome:
    """POST from the approval page: the link, then the page's CSRF token, then the engine's rules."""
    attempt = _attempt(visit, verdict, reason)
    checked = check_link(visit, deps)
    if isinstance(checked, LinkRefusal):
        return refuse(attempt, deps, checked.code.value, checked.message, deps.approvals.get(visit.approval_id))
    csrf = verify_csrf(csrf_key, checked, csrf_presented)
    if isinstance(csrf, CsrfRefusal):
        return refuse(attempt, deps, csrf.code.value, csrf.message, deps.approvals.get(visit.approval_id))
    return decide(attempt, deps, link=checked, recheck_link=lambda: check_link(visit, deps))


# ---------------------------------------------------------------- Slack


@dataclass(frozen=True)
class SlackRequest:
    headers: Mapping[str, str]
    body: bytes
    request_id: str


def verify_slack(request: SlackRequest, signing_secret: SecretBytes, deps: DecisionDeps) -> Outcome | None:
    """Slack's signature first, then the replay key; None when the request may be acted on."""
    now = deps.clock.now()
    verified = verify_slack_request(headers=request.headers, body=request.body, signing_secret=signing_secret, now=now)
    if isinstance(verified, SlackRefusal):
        return refuse_slack_request(request.request_id, verified.code.value, verified.message, deps)
    if not deps.approvals.claim_slack_request(verified.replay_key, verified.replay_expires_at):
        return refuse_slack_request(
            request.request_id, SLACK_REPLAYED, "this signed request was already received once", deps
        )
    return None


def refuse_slack_request(request_id: str, code: str, message: str, deps: DecisionDeps) -> Outcome:
    """Record a Slack request fmops will not act on (bad signature, replay, malformed or unknown action)."""
    publish_refusal(
        deps.bus,
        deps.clock.now(),
        code=code,
        reason=message,
        channel=Channel.SLACK,
        request_id=request_id,
        approval=None,
        approval_id=None,
        approver_id=None,
    )
    return Outcome(accepted=False, code=code, message=message)


def decide_by_slack(
    slack_user_id: str,
    approval_id: str,
    verdict: Verdict,
    reason: str | None,
    request_id: str,
    deps: DecisionDeps,
) -> Outcome:
    """A verified Slack user's decision: mapped to a person in the directory, then the engine's rules."""
    directory = load_directory(deps.config)
    approver = directory.by_slack_user_id(slack_user_id)
    approver_id = approver.id if approver else f"slack:{slack_user_id}"
    attempt = Attempt(approval_id, approver_id, verdict, reason, Channel.SLACK, request_id)
    if approver is None:
        message = f"Slack user {slack_user_id} is not in the approver directory"
        return refuse(attempt, deps, engine.RefusalCode.NOT_AN_APPROVER.value, message, deps.approvals.get(approval_id))
    return decide(attempt, deps, directory=directory)
