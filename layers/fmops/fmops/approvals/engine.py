"""The approval decision engine: pure functions over one stage's approval state.

A version that passed its gate waits, per stage, for people to decide. `open_stage` starts
the wait; `decide` judges one person's approve/reject and returns either `Accepted` (a new
state, and `completes_stage` when this decision reaches the quorum or rejects) or a `Refusal`
(code and human message; the state is unchanged and the adapter records the attempt).
`due_reminders`/`reminded`, `escalation_due`/`escalated` and `expire` drive the timers.
Nothing here reads a clock or does I/O: every moment is an argument.

Rules of a decision (checked in this order, the first that applies is the refusal):
one decision per approver per stage; nothing after the stage was approved, rejected or expired
(exactly at `expires_at` is expired); the submitter never decides their own version (neither
approve nor reject: withdrawing is another action); only people in the directory; with
`earlier_stages` separation, nobody who approved an earlier stage; only members of the stage's
groups (plus the escalation group from `escalates_at`); a rejection needs a reason. People
outside the eligible list cannot reject either: rejecting is the safe direction, but letting
anyone end a stage would let anyone block a release.

How the outputs map to conditional writes (`fmops.adapters.approvals` enforces atomicity;
this engine only decides what each writer may attempt):

- An accepted decision is one transaction (`ApprovalStore.record_decision`): the decision item,
  put with `attribute_not_exists` (one per approver, however many arrive at once), the stage's new
  state under the condition `revision = <the revision read>`, and, for an e-mailed link, the
  link's single use (`used_at` not set, not expired).
- Two writers that read the same revision cannot both commit: the loser re-reads and runs
  `decide` again, which now counts the winner's decision (or refuses `stage_already_decided`
  when the winner completed the stage). So exactly one writer sees `completes_stage` and
  resumes the waiting promotion.
- `expire` is written the same way by the approval timer; it loses to a decision that got in
  first, and a decision loses to it.
- A refusal writes only an attempt record (audit), never the stage.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, model_validator

from fmops.approvals.directory import ApproverDirectory, is_submitter
from fmops.approvals.rules import ApprovalRules, StageRule
from fmops.errors import FmopsError
from fmops.gate.policy import Stage

MAX_REASON_CHARS = 2000


class StageOutcome(StrEnum):
    PENDING = "pending"
    APPROVED = "approved"
    REJECTED = "rejected"
    EXPIRED = "expired"  # on_timeout "reject": fails closed, the version is not promoted


class Verdict(StrEnum):
    APPROVE = "approve"
    REJECT = "reject"


class Channel(StrEnum):
    EMAIL = "email"
    SLACK = "slack"
    CONSOLE = "console"


class RefusalCode(StrEnum):
    NOT_AN_APPROVER = "not_an_approver"
    NOT_IN_STAGE_GROUPS = "not_in_stage_groups"
    SUBMITTER_CANNOT_APPROVE = "submitter_cannot_approve"
    APPROVED_EARLIER_STAGE = "approved_earlier_stage"
    ALREADY_DECIDED_BY_YOU = "already_decided_by_you"
    STAGE_ALREADY_DECIDED = "stage_already_decided"
    EXPIRED = "expired"
    REASON_REQUIRED = "reason_required"
    # A reason goes into the audit trail and an item of bounded size.
    REASON_TOO_LONG = "reason_too_long"


class QuorumUnreachable(FmopsError):
    """Opening a stage whose eligible approvers are fewer than its quorum: it could only expire."""


class _Frozen(BaseModel):
    model_config = ConfigDict(defer_build=True, extra="forbid", frozen=True)


class Decision(_Frozen):
    """One accepted decision of one approver for one stage."""

    approver_id: str
    verdict: Verdict
    reason: str | None = Field(default=None, max_length=MAX_REASON_CHARS)
    channel: Channel
    decided_at: AwareDatetime


class StageApproval(_Frozen):
    """The approval state of one stage of one version."""

    version_id: str
    stage: Stage
    submitter: str
    submitter_email: str | None = None
    requested_at: AwareDatetime
    expires_at: AwareDatetime
    rule: StageRule
    earlier_approvers: frozenset[str] = Field(
        default_factory=frozenset, description="Ids of people who approved earlier stages of this version."
    )
    decisions: tuple[Decision, ...] = ()
    outcome: StageOutcome = StageOutcome.PENDING
    closed_at: AwareDatetime | None = None
    reminders_sent: tuple[timedelta, ...] = ()
    escalated_at: AwareDatetime | None = None

    @model_validator(mode="after")
    def _expires_after_the_request(self) -> StageApproval:
        if self.expires_at <= self.requested_at:
            raise ValueError("expires_at must be after requested_at")
        return self

    @property
    def approvals(self) -> int:
        return sum(1 for d in self.decisions if d.verdict is Verdict.APPROVE)

    @property
    def escalates_at(self) -> datetime | None:
        """From this moment the escalation group may decide too (None: the rule does not escalate)."""
        escalation = self.rule.escalation
        return None if escalation is None else self.requested_at + escalation.after

    @property
    def rejection(self) -> Decision | None:
        return next((d for d in self.decisions if d.verdict is Verdict.REJECT), None)

    def decision_by(self, approver_id: str) -> Decision | None:
        return next((d for d in self.decisions if d.approver_id == approver_id), None)

    def groups_at(self, at: datetime) -> list[str]:
        """The groups whose members may decide at `at`."""
        escalates_at = self.escalates_at
        groups = list(self.rule.groups)
        if self.rule.escalation is not None and escalates_at is not None and at >= escalates_at:
            groups.append(self.rule.escalation.group)
        return groups


class Accepted(_Frozen):
    kind: Literal["accepted"] = "accepted"
    decision: Decision
    state: StageApproval
    completes_stage: bool = Field(description="True exactly when this decision reaches the quorum or rejects.")


class Refusal(_Frozen):
    """A decision that was not taken: the state is unchanged; the adapter records the attempt."""

    kind: Literal["refused"] = "refused"
    code: RefusalCode
    message: str
    version_id: str
    stage: Stage
    approver_id: str
    verdict: Verdict
    channel: Channel
    at: AwareDatetime


DecisionOutcome = Accepted | Refusal


def open_stage(
    *,
    version_id: str,
    stage: Stage,
    rules: ApprovalRules,
    directory: ApproverDirectory,
    submitter: str,
    submitter_email: str | None,
    requested_at: datetime,
    earlier_approvers: Iterable[str] = (),
) -> StageApproval:
    """Start waiting for `stage`'s approvals, or raise `QuorumUnreachable` if nobody could reach it.

    Counts the escalation group too: a stage that can complete once escalated is slow, not stuck.
    """
    rule = rules.rule_for(stage)
    earlier = frozenset(earlier_approvers)
    eligible = directory.eligible(rule, submitter, earlier, submitter_email=submitter_email, escalated=True)
    if len(eligible) < rule.quorum:
        raise QuorumUnreachable(
            f"{stage.value} approval of {version_id} needs {rule.quorum} approvers but only {len(eligible)} "
            f"of groups {', '.join(rule.groups)} may decide"
        )
    return StageApproval(
        version_id=version_id,
        stage=stage,
        submitter=submitter,
        submitter_email=submitter_email,
        requested_at=requested_at,
        expires_at=requested_at + rule.expires_after,
        rule=rule,
        earlier_approvers=earlier,
    )


def decide(
    state: StageApproval,
    approver_id: str,
    decision: Verdict,
    reason: str | None,
    channel: Channel,
    at: datetime,
    *,
    directory: ApproverDirectory,
) -> DecisionOutcome:
    """Judge one person's decision on a stage; see the module docstring for the rules and their order."""
    reason = (reason or "").strip() or None

    def refuse(code: RefusalCode, message: str) -> Refusal:
        return Refusal(
            code=code,
            message=message,
            version_id=state.version_id,
            stage=state.stage,
            approver_id=approver_id,
            verdict=decision,
            channel=channel,
            at=at,
        )

    what = f"the {state.stage.value} approval of {state.version_id}"
    earlier = state.decision_by(approver_id)
    if earlier is not None:
        return refuse(
            RefusalCode.ALREADY_DECIDED_BY_YOU,
            f"you already decided {what} ({earlier.verdict.value}, {earlier.decided_at.isoformat()}); "
            "each approver decides once",
        )
    if state.outcome in (StageOutcome.APPROVED, StageOutcome.REJECTED):
        closed = state.closed_at.isoformat() if state.closed_at else "earlier"
        return refuse(RefusalCode.STAGE_ALREADY_DECIDED, f"{what} was already {state.outcome.value} ({closed})")
    if state.outcome is StageOutcome.EXPIRED or at >= state.expires_at:
        return refuse(
            RefusalCode.EXPIRED,
            f"{what} expired at {state.expires_at.isoformat()}; the version was not promoted",
        )

    approver = directory.by_id(approver_id)
    if approver_id.casefold() == state.submitter.casefold() or (
        approver is not None and is_submitter(approver, state.submitter, state.submitter_email)
    ):
        return refuse(
            RefusalCode.SUBMITTER_CANNOT_APPROVE,
            f"you submitted {state.version_id}: someone else must decide its {state.stage.value} approval",
        )
    if approver is None:
        return refuse(RefusalCode.NOT_AN_APPROVER, f"'{approver_id}' is not in the approver directory")
    if state.rule.separation_of_duties.earlier_stages and approver.id in state.earlier_approvers:
        return refuse(
            RefusalCode.APPROVED_EARLIER_STAGE,
            f"you approved an earlier stage of {state.version_id}; its {state.stage.value} approval "
            "needs different people",
        )
    groups = state.groups_at(at)
    if not approver.in_any(groups):
        return refuse(
            RefusalCode.NOT_IN_STAGE_GROUPS,
            f"{what} is decided by members of {', '.join(groups)}; "
            f"you are in {', '.join(approver.groups) or 'no approver group'}",
        )
    if decision is Verdict.REJECT and reason is None:
        return refuse(RefusalCode.REASON_REQUIRED, "a rejection needs a reason the submitter can act on")
    if reason is not None and len(reason) > MAX_REASON_CHARS:
        return refuse(
            RefusalCode.REASON_TOO_LONG, f"a reason is at most {MAX_REASON_CHARS} characters, got {len(reason)}"
        )

    accepted = Decision(approver_id=approver.id, verdict=decision, reason=reason, channel=channel, decided_at=at)
    decisions = (*state.decisions, accepted)
    outcome = StageOutcome.PENDING
    if decision is Verdict.REJECT:
        outcome = StageOutcome.REJECTED
    elif sum(1 for d in decisions if d.verdict is Verdict.APPROVE) >= state.rule.quorum:
        outcome = StageOutcome.APPROVED
    completes = outcome is not StageOutcome.PENDING
    new_state = state.model_copy(
        update={"decisions": decisions, "outcome": outcome, "closed_at": at if completes else None}
    )
    return Accepted(decision=accepted, state=new_state, completes_stage=completes)


def due_reminders(state: StageApproval, now: datetime) -> list[timedelta]:
    """Reminder offsets due at `now` and not yet sent, earliest due first.

    A reminder is due from `expires_at - offset` (inclusive) until expiry, only while the stage is
    pending. When a late scheduler finds several due, send one reminder and record them all.
    """
    if state.outcome is not StageOutcome.PENDING or now >= state.expires_at:
        return []
    due = [
        offset
        for offset in state.rule.reminders
        if offset not in state.reminders_sent and now >= state.expires_at - offset
    ]
    return sorted(due, reverse=True)


def reminded(state: StageApproval, offsets: Iterable[timedelta]) -> StageApproval:
    """The state after reminders for `offsets` were sent (so they are not due again)."""
    sent = (*state.reminders_sent, *(o for o in offsets if o not in state.reminders_sent))
    return state.model_copy(update={"reminders_sent": sent})


def escalation_due(state: StageApproval, now: datetime) -> bool:
    """True when the escalation group should be notified now (once; from `escalates_at`, inclusive)."""
    escalates_at = state.escalates_at
    return (
        escalates_at is not None
        and state.outcome is StageOutcome.PENDING
        and state.escalated_at is None
        and escalates_at <= now < state.expires_at
    )


def escalated(state: StageApproval, at: datetime) -> StageApproval:
    """The state after the escalation group was notified."""
    return state.model_copy(update={"escalated_at": at})


def expire(state: StageApproval, now: datetime) -> StageApproval:
    """The stage expired at `now` (from `expires_at`, inclusive) if still pending; otherwise unchanged.

    `on_timeout` is "reject": an expired stage is final and the version is not promoted.
    """
    if state.outcome is not StageOutcome.PENDING or now < state.expires_at:
        return state
    return state.model_copy(update={"outcome": StageOutcome.EXPIRED, "closed_at": state.expires_at})
