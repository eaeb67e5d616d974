"""The approval's life around the people: opening it, resuming the promotion, and its timer.

- `request_approval` (the RequestApproval step, `.waitForTaskToken`, of the promotion for dev
  and of the deployment for preprod, prod and a manual rollback's own approval): opens the
  stage with the rules and directory of the moment, seals the task token under the approval id,
  and announces "Approval Requested" (the notifier e-mails links and posts to Slack).
- `resume` (on "Approval Stage Decided"): the one place that unseals a task token. It claims
  the approval (`resumed_at`, a conditional write) before it answers Step Functions, so
  duplicate deliveries answer once. Approved -> SendTaskSuccess; rejected or expired ->
  SendTaskFailure `ApprovalRejected` / `ApprovalExpired`, which RejectVersion turns into reasons.
- `sweep` (every few minutes): expires stages past their expiry (failing closed), sends due
  reminders and escalations, resumes decided stages whose event was lost, and heartbeats the
  waiting tasks. The promotion's HeartbeatSeconds turns a timer that stopped into a rejection
  ("approval_lost") instead of a wait nobody watches.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from pydantic import BaseModel, ConfigDict, Field

from fmops.approvals import OCCASION_PATTERN, engine
from fmops.approvals.config import load_directory, load_rules
from fmops.approvals.directory import ApproverDirectory
from fmops.approvals.engine import StageApproval, StageOutcome, Verdict
from fmops.approvals.store import ApprovalStore, StoredApproval, TokenVault, new_approval_id, stage_key
from fmops.clock import Clock
from fmops.errors import ConcurrentModification, NotAwaitingApproval, VersionNotFound
from fmops.events import (
    ApprovalEscalated,
    ApprovalReminderDue,
    ApprovalRequested,
    ApprovalStageDecided,
)
from fmops.gate.policy import Stage
from fmops.ports import Catalog, EventBus, PolicyStore, TaskCallbacks
from fmops.statuses import VersionStatus

ACTOR = "fmops:approvals"
# A decided stage whose "Approval Stage Decided" has not resumed the promotion after this long
# is resumed by the timer: the event path gets the first chance, the timer is the backstop.
RESUME_GRACE = timedelta(minutes=5)
MAX_ATTEMPTS = 5


class ApprovalWait(BaseModel):
    """Input of RequestApproval: which stage of which version, and the waiting task's token."""

    model_config = ConfigDict(defer_build=True, frozen=True)

    version_id: str
    correlation_id: str
    stage: Stage
    execution_name: str
    task_token: str = Field(min_length=1, repr=False)
    occasion: str | None = Field(
        default=None,
        pattern=OCCASION_PATTERN,
        description="None: the version's own approval of the stage. Set (a manual rollback's "
        '"rollback:<deployment id>"): an approval of its own, even when the stage was approved before.',
    )


@dataclass(frozen=True)
class RequestDeps:
    catalog: Catalog
    approvals: ApprovalStore
    config: PolicyStore
    vault: TokenVault
    bus: EventBus
    clock: Clock


def request_approval(wait: ApprovalWait, deps: RequestDeps) -> dict[str, str]:
    """Open the stage's approval (or find the one a retried step opened) and announce it.

    The approval is the version's own for the stage, or with `wait.occasion` one of its own (a
    manual rollback asks again for a stage approved before). Raises NotAwaitingApproval unless the
    version is in the status the approval is asked in (`awaited_status`).
    Raises QuorumUnreachable, ApprovalConfigMissing or a ConfigInvalid: the promotion's Catch
    rejects the version with the reason, because a stage nobody may approve would only expire.
    """
    record = deps.catalog.get(wait.version_id)
    if record is None:
        raise VersionNotFound(wait.version_id)
    awaited = awaited_status(wait.stage, wait.occasion)
    if record.status != awaited:
        raise NotAwaitingApproval(
            f"{record.version_id} is {record.status.value}, not {awaited.value}: "
            f"its {wait.stage.value} approval is not asked for"
        )
    directory = load_directory(deps.config)
    approval = deps.approvals.for_stage(wait.version_id, wait.stage, wait.occasion)
    if approval is None:
        earlier = earlier_approvers(wait.version_id, wait.stage, deps.approvals)
        state = engine.open_stage(
            version_id=wait.version_id,
            stage=wait.stage,
            rules=load_rules(deps.config),
            directory=directory,
            submitter=record.submitter or "",
            submitter_email=record.submitter_email,
            requested_at=deps.clock.now(),
            earlier_approvers=earlier,
        )
        approval = deps.approvals.open(
            StoredApproval(
                approval_id=new_approval_id(),
                state=state,
                execution_name=wait.execution_name,
                occasion=wait.occasion,
            )
        )
    # A retried step brings a new token: the latest one is the one Step Functions waits on.
    sealed = deps.vault.seal(wait.task_token, approval.approval_id)
    approval = deps.approvals.save(approval.model_copy(update={"sealed_task_token": sealed}), approval)
    state = approval.state
    eligible = directory.eligible(
        state.rule, state.submitter, state.earlier_approvers, submitter_email=state.submitter_email
    )
    deps.bus.publish(
        ApprovalRequested(
            event_id=f"{wait.version_id}#approval-requested#{stage_key(wait.stage, wait.occasion)}",
            correlation_id=wait.correlation_id,
            version_id=wait.version_id,
            occurred_at=state.requested_at,
            actor=ACTOR,
            approval_id=approval.approval_id,
            stage=wait.stage.value,
            model_group=record.model_group,
            version=record.version,
            groups=list(state.rule.groups),
            quorum=state.rule.quorum,
            eligible_approvers=[approver.id for approver in eligible],
            requested_at=state.requested_at,
            expires_at=state.expires_at,
            escalates_at=state.escalates_at,
        )
    )
    return {"approval_id": approval.approval_id, "expires_at": state.expires_at.isoformat()}


def awaited_status(stage: Stage, occasion: str | None) -> VersionStatus:
    """The version's status its approval of `stage` is asked in: the promotion asks dev while the version
    waits for it; the deployment asks preprod and prod, and any occasion's own, of a version dev approved."""
    if stage is Stage.DEV and occasion is None:
        return VersionStatus.PENDING_APPROVAL
    return VersionStatus.APPROVED


def earlier_approvers(version_id: str, stage: Stage, approvals: ApprovalStore) -> set[str]:
    """Who approved the stages before `stage` of this version (for separation of duties).

    Only the version's own approvals count (no occasion): a rollback's approval of prod is not an
    earlier stage of anything."""
    order = list(Stage)
    people: set[str] = set()
    for earlier in order[: order.index(stage)]:
        approval = approvals.for_stage(version_id, earlier)
        if approval is not None:
            people |= {d.approver_id for d in approval.state.decisions if d.verdict is Verdict.APPROVE}
    return people


# ---------------------------------------------------------------- resuming the promotion


@dataclass(frozen=True)
class ResumeDeps:
    approvals: ApprovalStore
    vault: TokenVault
    callbacks: TaskCallbacks
    bus: EventBus
    clock: Clock


@dataclass(frozen=True)
class Resumed:
    approval_id: str
    outcome: str  # approved, rejected, expired; "pending" or "already_resumed" when nothing was sent
    delivered: bool  # False: the execution was gone (timed out, stopped) when we answered

    def as_dict(self) -> dict[str, object]:
        return {"approval_id": self.approval_id, "outcome": self.outcome, "delivered": self.delivered}


def resume(approval_id: str, deps: ResumeDeps) -> Resumed:
    """Answer the waiting promotion for a decided stage, once."""
    for _ in range(MAX_ATTEMPTS):
        approval = deps.approvals.get(approval_id)
        if approval is None:
            raise LookupError(f"no approval {approval_id}")
        state = approval.state
        if approval.resumed_at is not None:
            return Resumed(approval_id, "already_resumed", False)
        if state.outcome is StageOutcome.PENDING:
            return Resumed(approval_id, "pending", False)
        try:
            claimed = deps.approvals.save(approval.model_copy(update={"resumed_at": deps.clock.now()}), approval)
        except ConcurrentModification:
            continue
        try:
            delivered = _answer(claimed, deps)
        except Exception:
            # Step Functions did not take the answer: release the claim so a retry sends it.
            deps.approvals.save(claimed.model_copy(update={"resumed_at": None}), claimed)
            raise
        return Resumed(approval_id, state.outcome.value, delivered)
    raise ConcurrentModification(approval_id)


def _answer(approval: StoredApproval, deps: ResumeDeps) -> bool:
    if approval.sealed_task_token is None:
        return False  # the step never stored its token: the promotion's heartbeat ends the wait
    token = deps.vault.unseal(approval.sealed_task_token, approval.approval_id)
    state = approval.state
    if state.outcome is StageOutcome.APPROVED:
        return deps.callbacks.succeed(token, approved_output(approval))
    if state.outcome is StageOutcome.REJECTED:
        rejection = state.rejection
        who = rejection.approver_id if rejection else "an approver"
        reason = rejection.reason if rejection and rejection.reason else "no reason given"
        return deps.callbacks.fail(
            token, "ApprovalRejected", f"{who} rejected the {state.stage.value} approval: {reason}"
        )
    return deps.callbacks.fail(
        token,
        "ApprovalExpired",
        f"the {state.stage.value} approval expired at {state.expires_at.isoformat()} with "
        f"{state.approvals} of {state.rule.quorum} approvals",
    )


def approved_output(approval: StoredApproval) -> dict[str, object]:
    """What RequestApproval hands to the next step (ApproveVersion, the deployment): no tokens, only
    facts; "occasion" only when the approval has one."""
    state = approval.state
    output: dict[str, object] = {
        "approval_id": approval.approval_id,
        "stage": state.stage.value,
        "approvers": [
            {"id": d.approver_id, "channel": d.channel.value, "decided_at": d.decided_at.isoformat()}
            for d in state.decisions
            if d.verdict is Verdict.APPROVE
        ],
    }
    if approval.occasion is not None:
        output["occasion"] = approval.occasion
    return output


# ---------------------------------------------------------------- the timer


@dataclass(frozen=True)
class SweepDeps:
    approvals: ApprovalStore
    config: PolicyStore
    vault: TokenVault
    callbacks: TaskCallbacks
    bus: EventBus
    clock: Clock


@dataclass
class SweepReport:
    looked_at: int = 0
    expired: int = 0
    reminded: int = 0
    escalated: int = 0
    resumed: int = 0
    heartbeats: int = 0
    lost: int = 0  # the waiting task was gone: closed without an answer

    def as_dict(self) -> dict[str, int]:
        return dict(vars(self))


def sweep(now: datetime, deps: SweepDeps) -> SweepReport:
    """One pass of the timer over every approval whose promotion still waits (`now`: the tick's time).

    Each approval is re-read before the timer acts on it (the index it is listed from lags), and a
    write lost to a decision landing meanwhile skips only that approval: the next tick looks again.
    """
    report = SweepReport()
    listed_approvals = list(deps.approvals.unresumed())
    # Read once per tick, and only when there is something to look at.
    directory = load_directory(deps.config) if listed_approvals else None
    for listed in listed_approvals:
        approval = deps.approvals.get(listed.approval_id)
        if approval is None or approval.resumed_at is not None:
            continue
        report.looked_at += 1
        try:
            assert directory is not None  # loaded above: the list is not empty
            _tick(approval, now, deps, report, directory)
        except ConcurrentModification:
            continue
    return report


def _tick(
    approval: StoredApproval, now: datetime, deps: SweepDeps, report: SweepReport, people: ApproverDirectory
) -> None:
    state = approval.state
    if state.outcome is StageOutcome.PENDING and now >= state.expires_at:
        approval = _saved(approval, engine.expire(state, now), deps.approvals)
        _announce_decided(approval, deps.bus)
        report.expired += 1
        state = approval.state
    if state.outcome is not StageOutcome.PENDING:
        closed_at = state.closed_at or now
        if now - closed_at >= RESUME_GRACE or state.outcome is StageOutcome.EXPIRED:
            resume_deps = ResumeDeps(deps.approvals, deps.vault, deps.callbacks, deps.bus, deps.clock)
            if resume(approval.approval_id, resume_deps).outcome == state.outcome.value:
                report.resumed += 1
        return
    due = engine.due_reminders(state, now)
    if due:
        approval = _saved(approval, engine.reminded(state, due), deps.approvals)
        _announce_reminder(approval, _pending_approvers(approval.state, people, now), deps.bus, now)
        report.reminded += 1
    if engine.escalation_due(approval.state, now):
        approval = _saved(approval, engine.escalated(approval.state, now), deps.approvals)
        _announce_escalation(approval, people, deps.bus, now)
        report.escalated += 1
    if approval.sealed_task_token is None:
        return
    token = deps.vault.unseal(approval.sealed_task_token, approval.approval_id)
    if deps.callbacks.heartbeat(token):
        report.heartbeats += 1
    else:
        # The execution stopped waiting (stopped by an operator, timed out): nothing to resume.
        deps.approvals.save(approval.model_copy(update={"resumed_at": now}), approval)
        report.lost += 1


def _saved(approval: StoredApproval, state: StageApproval, approvals: ApprovalStore) -> StoredApproval:
    # A decision that lands meanwhile wins: the timer's write fails and the next tick looks again.
    return approvals.save(approval.model_copy(update={"state": state}), approval)


def _pending_approvers(state: StageApproval, directory: ApproverDirectory, now: datetime) -> list[str]:
    decided = {d.approver_id for d in state.decisions}
    escalated = state.escalates_at is not None and now >= state.escalates_at
    eligible = directory.eligible(
        state.rule, state.submitter, state.earlier_approvers, submitter_email=state.submitter_email, escalated=escalated
    )
    return [approver.id for approver in eligible if approver.id not in decided]


def _announce_decided(approval: StoredApproval, bus: EventBus) -> None:
    bus.publish(stage_decided_event(approval))


def stage_decided_event(approval: StoredApproval) -> ApprovalStageDecided:
    state = approval.state
    rejection = state.rejection
    decided_at = state.closed_at or state.expires_at
    return ApprovalStageDecided(
        event_id=f"{approval.version_id}#approval-decided#{approval.stage_key}",
        correlation_id=approval.version_id,
        version_id=approval.version_id,
        occurred_at=decided_at,
        actor=rejection.approver_id if rejection else ACTOR,
        approval_id=approval.approval_id,
        stage=state.stage.value,
        outcome=state.outcome.value,
        decided_by=[d.approver_id for d in state.decisions],
        reason=rejection.reason if rejection else None,
        decided_at=decided_at,
    )


def _announce_reminder(approval: StoredApproval, pending: Iterable[str], bus: EventBus, now: datetime) -> None:
    state = approval.state
    bus.publish(
        ApprovalReminderDue(
            event_id=f"{approval.version_id}#approval-reminder#{approval.stage_key}#{len(state.reminders_sent)}",
            correlation_id=approval.version_id,
            version_id=approval.version_id,
            occurred_at=now,
            actor=ACTOR,
            approval_id=approval.approval_id,
            stage=state.stage.value,
            pending_approvers=list(pending),
            expires_at=state.expires_at,
        )
    )


def _announce_escalation(approval: StoredApproval, directory: ApproverDirectory, bus: EventBus, now: datetime) -> None:
    state = approval.state
    escalation = state.rule.escalation
    if escalation is None:
        return
    decided = {d.approver_id for d in state.decisions}
    eligible = directory.eligible(
        state.rule, state.submitter, state.earlier_approvers, submitter_email=state.submitter_email, escalated=True
    )
    notified = [a.id for a in eligible if escalation.group in a.groups and a.id not in decided]
    bus.publish(
        ApprovalEscalated(
            event_id=f"{approval.version_id}#approval-escalated#{approval.stage_key}",
            correlation_id=approval.version_id,
            version_id=approval.version_id,
            occurred_at=now,
            actor=ACTOR,
            approval_id=approval.approval_id,
            stage=state.stage.value,
            group=escalation.group,
            notified_approvers=notified,
            expires_at=state.expires_at,
        )
    )
