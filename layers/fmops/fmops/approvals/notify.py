"""Approval events in, e-mails with personal single-use links and Slack messages out.

Pure domain: the store, catalog, policy bucket, mailer and messenger are arguments.

Who gets mail is never the event's say. An event names an approval by its opaque id and lists
approver ids; each id must also be in the approver directory and eligible for the stored
approval right now (its groups, minus the submitter, minus earlier-stage approvers when the rule
separates them, minus anyone who already decided). The address comes from the directory, the
submitter's from the catalog. Anyone who can put an event on the bus can therefore make fmops
re-send a link to an approver it would mail anyway, and nothing more.

Each approver gets a new link (`fmops.approvals.links`) per e-mail: the token is written into
the e-mail's text and nowhere else (not into `NoticeOutcome`, a log line or an exception). A
Slack channel message cannot carry personal links, so it points at the approval's page, which
asks for the e-mailed link.

Everything a submitter or an approver wrote (model group, version, kind, submitter id, reasons)
goes into plain-text e-mails with control characters replaced, so it cannot add lines or headers.

Delivery is at least once: a retried event mails again (new links, each as good as the last).
The handler's idempotency keyed on the event id stops that per event; the Slack post is kept to
one per approval by the stored `slack_ts`.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, Literal
from urllib.parse import quote, urlencode

from fmops.approvals.config import load_directory
from fmops.approvals.directory import Approver, ApproverDirectory
from fmops.approvals.engine import StageOutcome, Verdict
from fmops.approvals.links import issue_link
from fmops.approvals.rules import describe
from fmops.approvals.slack_message import (
    MAX_METRICS,
    ApprovalRequestView,
    DecidedView,
    MetricLine,
    approval_request_blocks,
    decided_blocks,
    notification_text,
)
from fmops.approvals.store import ApprovalStore, Messenger, StoredApproval
from fmops.clock import Clock
from fmops.errors import ConcurrentModification
from fmops.events import (
    ApprovalDecisionRecorded,
    ApprovalEscalated,
    ApprovalReminderDue,
    ApprovalRequested,
    ApprovalStageDecided,
    FmopsEventDetail,
)
from fmops.gate.decision import RuleResult
from fmops.gate.policy import plain
from fmops.ports import Catalog, Notifier, PolicyStore
from fmops.records import CatalogRecord

# Saving the Slack message's ts races with decisions on the same item; each try re-reads.
SAVE_ATTEMPTS = 5
# Rules about metrics (value vs threshold); required fields and data classifications are facts,
# shown on the evidence page.
METRIC_RULE_PREFIXES = ("threshold.", "champion_challenger.")
MAX_REASON_CHARS = 1000
_CONTROL = re.compile(r"[\x00-\x1f\x7f]+")

SlackResult = Literal["posted", "updated", "off", "none"]
_RESULTS: dict[StageOutcome, Literal["approved", "rejected", "expired"]] = {
    StageOutcome.APPROVED: "approved",
    StageOutcome.REJECTED: "rejected",
    StageOutcome.EXPIRED: "expired",
}


class Notice(StrEnum):
    SENT = "sent"  # done (possibly nobody left to mail or nothing to update: see the counts)
    UNKNOWN_APPROVAL = "unknown_approval"
    EVENT_MISMATCH = "event_mismatch"  # the event's version or stage is not the stored approval's
    NOT_PENDING = "not_pending"  # decided, expired or resumed: nobody is asked any more
    NOT_DECIDED = "not_decided"  # a "stage decided" event the store does not agree with (yet)
    NO_CATALOG_RECORD = "no_catalog_record"
    NO_SUBMITTER_EMAIL = "no_submitter_email"


@dataclass(frozen=True)
class ApprovalNotifyDeps:
    approvals: ApprovalStore
    catalog: Catalog
    config: PolicyStore  # the policy bucket, holding the approver directory
    mailer: Notifier
    messenger: Messenger | None  # None: Slack is off
    slack_channel: str | None
    page_url: str  # base URL of the approval API, no trailing slash
    clock: Clock
    stage_name: str | None = None  # the control plane's stage, so dev and prod mail are told apart


@dataclass(frozen=True)
class NoticeOutcome:
    """What one event caused. Logged: it holds ids and counts, never an address or a link."""

    approval_id: str
    detail: Notice
    emails_sent: int = 0
    skipped: int = 0  # approver ids of the event not mailed: not in the directory, not eligible, decided
    slack: SlackResult = "none"

    def as_dict(self) -> dict[str, object]:
        return {
            "approval_id": self.approval_id,
            "detail": self.detail.value,
            "emails_sent": self.emails_sent,
            "skipped": self.skipped,
            "slack": self.slack,
        }


# ------------------------------------------------------------------------------ urls and views


def approval_link(page_url: str, approval_id: str, approver_id: str, token: str) -> str:
    """The personal link of one approver: the approval's page, with who they are and their token."""
    query = urlencode({"approver": approver_id, "token": token})
    return f"{evidence_url(page_url, approval_id)}?{query}"


def evidence_url(page_url: str, approval_id: str) -> str:
    """The approval's page without a link: what a channel message may point at."""
    return f"{page_url.rstrip('/')}/approvals/{quote(approval_id, safe='')}"


def request_view(approval: StoredApproval, record: CatalogRecord, evidence_url: str) -> ApprovalRequestView:
    """The Slack view of a stage's request, from the stored approval and the version's catalog record."""
    gate = record.gate.decision if record.gate is not None else None
    return ApprovalRequestView(
        version_id=approval.version_id,
        kind=record.kind or "-",
        risk_tier=record.risk_tier or "-",
        stage=approval.stage,
        rollback=approval.is_rollback,
        # No gate on record would be a bug upstream: it is shown as not passed rather than hidden.
        gate_passed=gate.passed if gate is not None else False,
        policy_version=gate.policy_version if gate is not None else "not recorded",
        metrics=key_metrics(gate.rules if gate is not None else []),
        summary=None,  # the manifest is not loaded here; the evidence page shows it
        evidence_url=evidence_url,
        approval_id=approval.approval_id,
        expires_at=approval.state.expires_at,
        approvals=approval.state.approvals,
        quorum=approval.state.rule.quorum,
    )


def key_metrics(rules: Sequence[RuleResult]) -> tuple[MetricLine, ...]:
    """The gate's metric rules as metric lines, failed ones first, at most `MAX_METRICS`."""
    applied = [
        rule
        for rule in rules
        if rule.threshold is not None and not rule.skipped and rule.rule_id.startswith(METRIC_RULE_PREFIXES)
    ]
    ordered = sorted(applied, key=lambda rule: rule.passed)  # stable: policy order within each group
    return tuple(
        MetricLine(
            name=rule.rule_id, value=_observed(rule.observed), threshold=rule.threshold or "-", passed=rule.passed
        )
        for rule in ordered[:MAX_METRICS]
    )


# ------------------------------------------------------------------------------ handlers


def on_requested(event: ApprovalRequested, deps: ApprovalNotifyDeps) -> NoticeOutcome:
    """E-mail each eligible approver a personal link, then post the request to Slack once."""
    return _ask(event, event.eligible_approvers, deps, _RequestMail())


def on_reminder(event: ApprovalReminderDue, deps: ApprovalNotifyDeps) -> NoticeOutcome:
    """E-mail each approver who has not decided yet a new personal link, before the request expires."""
    return _ask(event, event.pending_approvers, deps, _ReminderMail())


def on_escalated(event: ApprovalEscalated, deps: ApprovalNotifyDeps) -> NoticeOutcome:
    """E-mail the escalation group's members a personal link, saying why they are asked now."""
    return _ask(event, event.notified_approvers, deps, _EscalationMail())


def on_decision(event: ApprovalDecisionRecorded, deps: ApprovalNotifyDeps) -> NoticeOutcome:
    """Show the stored approvals count in the stage's Slack message while the stage is pending."""
    found = _load(event.approval_id, event.version_id, event.stage, deps)
    if isinstance(found, NoticeOutcome):
        return found
    approval, record = found
    if approval.state.outcome is not StageOutcome.PENDING:
        # The stage-decided event replaces the message; an update now could overwrite that.
        return NoticeOutcome(approval.approval_id, Notice.NOT_PENDING, slack=_slack_off_or_none(deps))
    if deps.messenger is None:
        return NoticeOutcome(approval.approval_id, Notice.SENT, slack="off")
    if approval.slack_channel is None or approval.slack_ts is None:
        return NoticeOutcome(approval.approval_id, Notice.SENT, slack="none")
    # The count comes from the store, not the event: a late event cannot show an old count.
    view = request_view(approval, record, evidence_url(deps.page_url, approval.approval_id))
    deps.messenger.update(
        approval.slack_channel, approval.slack_ts, notification_text(view), approval_request_blocks(view)
    )
    return NoticeOutcome(approval.approval_id, Notice.SENT, slack="updated")


def on_stage_decided(event: ApprovalStageDecided, deps: ApprovalNotifyDeps) -> NoticeOutcome:
    """Close the Slack message (who decided, no buttons) and tell the submitter how the stage ended."""
    found = _load(event.approval_id, event.version_id, event.stage, deps)
    if isinstance(found, NoticeOutcome):
        return found
    approval, record = found
    state = approval.state
    if state.outcome is StageOutcome.PENDING:
        # The store is written before the event is put: a pending stage means a forged or
        # misrouted event, and announcing an outcome nobody recorded would be worse than silence.
        return NoticeOutcome(approval.approval_id, Notice.NOT_DECIDED, slack=_slack_off_or_none(deps))

    directory = load_directory(deps.config)
    deciders = _deciders(approval)
    decided = DecidedView(
        result=_RESULTS[state.outcome],
        decided_by=tuple(_display_name(directory, approver_id) for approver_id in deciders),
        decided_at=state.closed_at or event.decided_at,
        reason=rejection.reason if (rejection := state.rejection) is not None else None,
    )

    slack: SlackResult = "off" if deps.messenger is None else "none"
    if deps.messenger is not None and approval.slack_channel is not None and approval.slack_ts is not None:
        view = request_view(approval, record, evidence_url(deps.page_url, approval.approval_id))
        deps.messenger.update(
            approval.slack_channel, approval.slack_ts, _decided_text(view, decided), decided_blocks(view, decided)
        )
        slack = "updated"

    if not record.submitter_email:
        return NoticeOutcome(approval.approval_id, Notice.NO_SUBMITTER_EMAIL, slack=slack)
    subject, text = _decided_mail(approval, record, decided, directory, deciders, deps.stage_name)
    deps.mailer.send(record.submitter_email, subject, text)
    return NoticeOutcome(approval.approval_id, Notice.SENT, emails_sent=1, slack=slack)


NOTIFY: dict[str, tuple[type[FmopsEventDetail], Callable[[Any, ApprovalNotifyDeps], NoticeOutcome]]] = {
    ApprovalRequested.detail_type: (ApprovalRequested, on_requested),
    ApprovalReminderDue.detail_type: (ApprovalReminderDue, on_reminder),
    ApprovalEscalated.detail_type: (ApprovalEscalated, on_escalated),
    ApprovalDecisionRecorded.detail_type: (ApprovalDecisionRecorded, on_decision),
    ApprovalStageDecided.detail_type: (ApprovalStageDecided, on_stage_decided),
}
"""The approval notifier's work, by detail-type: the model to parse the detail with and the function."""


# ------------------------------------------------------------------------------ asking approvers


_AskEvent = ApprovalRequested | ApprovalReminderDue | ApprovalEscalated


def _ask(event: _AskEvent, approver_ids: Sequence[str], deps: ApprovalNotifyDeps, mail: _ApproverMail) -> NoticeOutcome:
    found = _load(event.approval_id, event.version_id, event.stage, deps)
    if isinstance(found, NoticeOutcome):
        return found
    approval, record = found
    now = deps.clock.now()
    state = approval.state
    if state.outcome is not StageOutcome.PENDING or approval.resumed_at is not None or now >= state.expires_at:
        return NoticeOutcome(approval.approval_id, Notice.NOT_PENDING, skipped=len(approver_ids))

    directory = load_directory(deps.config)
    recipients = _recipients(approval, approver_ids, directory, now)
    for approver in recipients:
        issued = issue_link(
            approval_id=approval.approval_id, approver_id=approver.id, issued_at=now, expires_at=state.expires_at
        )
        deps.approvals.put_link(issued.record)
        link = approval_link(deps.page_url, approval.approval_id, approver.id, issued.token.get_secret_value())
        subject, text = mail.render(approval, record, approver, link, deps.stage_name)
        deps.mailer.send(approver.email, subject, text)

    slack = _post_request(approval, record, deps) if mail.posts_to_slack else _slack_off_or_none(deps)
    skipped = len(set(approver_ids)) - len(recipients)
    return NoticeOutcome(approval.approval_id, Notice.SENT, emails_sent=len(recipients), skipped=skipped, slack=slack)


def _recipients(
    approval: StoredApproval, approver_ids: Sequence[str], directory: ApproverDirectory, now: datetime
) -> list[Approver]:
    """The event's approvers who may decide this stage now and have not, once each, in the event's order."""
    state = approval.state
    escalated = state.escalates_at is not None and now >= state.escalates_at
    eligible = {
        approver.id: approver
        for approver in directory.eligible(
            state.rule,
            state.submitter,
            state.earlier_approvers,
            submitter_email=state.submitter_email,
            escalated=escalated,
        )
        if state.decision_by(approver.id) is None
    }
    return [eligible[approver_id] for approver_id in dict.fromkeys(approver_ids) if approver_id in eligible]


def _post_request(approval: StoredApproval, record: CatalogRecord, deps: ApprovalNotifyDeps) -> SlackResult:
    """Post the request to the channel unless the approval has a message, and remember where it is."""
    if deps.messenger is None or deps.slack_channel is None:
        return "off"
    if approval.slack_ts is not None:
        return "none"
    view = request_view(approval, record, evidence_url(deps.page_url, approval.approval_id))
    ts = deps.messenger.post(deps.slack_channel, notification_text(view), approval_request_blocks(view))
    read: StoredApproval | None = approval
    for _ in range(SAVE_ATTEMPTS):
        if read is None or read.slack_ts is not None:
            # Another delivery posted and saved first: its message is the one kept up to date; ours
            # stays as posted (the Messenger cannot delete), and is never posted again from here.
            return "posted"
        try:
            deps.approvals.save(read.model_copy(update={"slack_channel": deps.slack_channel, "slack_ts": ts}), read)
            return "posted"
        except ConcurrentModification:
            read = deps.approvals.get(approval.approval_id)
    raise ConcurrentModification(
        f"{approval.approval_id}: could not save its Slack message after {SAVE_ATTEMPTS} tries"
    )


class _ApproverMail:
    posts_to_slack = False

    def subject(self, approval: StoredApproval, record: CatalogRecord) -> str:
        raise NotImplementedError

    def why(self, approval: StoredApproval, approver: Approver) -> str:
        stage, rule = approval.stage.value, approval.state.rule
        stage_groups = {*rule.groups, *([rule.escalation.group] if rule.escalation else [])}
        groups = ", ".join(sorted(set(approver.groups) & stage_groups)) or "its groups"
        return f"You receive this because you are an approver of {stage} ({groups}) in the fmops approver directory."

    def render(
        self, approval: StoredApproval, record: CatalogRecord, approver: Approver, link: str, stage_name: str | None
    ) -> tuple[str, str]:
        state = approval.state
        gate = record.gate.decision if record.gate is not None else None
        gate_line = (
            f"{'passed' if gate.passed else 'FAILED'} (policy {_one_line(gate.policy_version)})"
            if gate is not None
            else "not recorded"
        )
        lines = [
            f"Hello {_one_line(approver.display_name)},",
            "",
            f"{_one_line(state.submitter)} asks for approval of model version {_version(record)} "
            f"for {approval.stage.value} in {_control_plane(stage_name)}.",
            "",
            f"Version:        {_version(record)}",
            f"Stage:          {approval.stage.value}",
            *_occasion_lines(approval, record),
            f"Kind:           {_one_line(record.kind or '-')}",
            f"Risk tier:      {_one_line(record.risk_tier or '-')}",
            f"Gate:           {gate_line}",
            f"Submitted by:   {_one_line(state.submitter)}",
            f"Approvals:      {state.approvals} of {state.rule.quorum} needed (each approver decides once)",
            f"Expires at:     {_utc(state.expires_at)}",
            "",
            "Read the evidence and decide on the page of your personal link:",
            f"  {link}",
            "",
            "Opening the link changes nothing: the decision is a button on the page, and a rejection",
            "needs a reason. The link is yours alone, works for one decision and ends when the request",
            "expires: do not forward it.",
            "",
            self.why(approval, approver),
        ]
        return f"[{_control_plane(stage_name)}] {self.subject(approval, record)}", "\n".join(lines) + "\n"


class _RequestMail(_ApproverMail):
    posts_to_slack = True

    def subject(self, approval: StoredApproval, record: CatalogRecord) -> str:
        return f"Approval requested: {_what(approval, record)}"


class _ReminderMail(_ApproverMail):
    def subject(self, approval: StoredApproval, record: CatalogRecord) -> str:
        return f"Reminder: approval of {_what(approval, record)} expires at {_utc(approval.state.expires_at)}"


class _EscalationMail(_ApproverMail):
    def subject(self, approval: StoredApproval, record: CatalogRecord) -> str:
        return f"Escalated: approval of {_what(approval, record)} is still undecided"

    def why(self, approval: StoredApproval, approver: Approver) -> str:
        escalation = approval.state.rule.escalation
        if escalation is None:  # not eligible then, so not mailed; kept total for the type checker
            return super().why(approval, approver)
        return (
            f"You receive this because nobody decided within {describe(escalation.after)} of the request, "
            f"and members of the escalation group {escalation.group} may now decide too."
        )


# ------------------------------------------------------------------------------ the outcome


def _deciders(approval: StoredApproval) -> list[str]:
    state = approval.state
    if state.outcome is StageOutcome.APPROVED:
        return [d.approver_id for d in state.decisions if d.verdict is Verdict.APPROVE]
    if state.outcome is StageOutcome.REJECTED and state.rejection is not None:
        return [state.rejection.approver_id]
    return []


def _decided_text(view: ApprovalRequestView, decided: DecidedView) -> str:
    if view.rollback:
        return f"{decided.result.title()}: rollback of {view.stage.value} to {view.version_id}"
    return f"{decided.result.title()}: {view.version_id} ({view.stage.value})"


def _decided_mail(
    approval: StoredApproval,
    record: CatalogRecord,
    decided: DecidedView,
    directory: ApproverDirectory,
    deciders: Sequence[str],
    stage_name: str | None,
) -> tuple[str, str]:
    version, stage, what = _version(record), approval.stage.value, _what(approval, record)
    titles = {
        "approved": f"Approved: {what}",
        "rejected": f"Rejected: {what}",
        "expired": f"Expired: approval of {what}",
    }
    people = ", ".join(f"{_display_name(directory, d)} ({_one_line(d)})" for d in deciders) or "nobody"
    lines = [
        f"The {stage} approval of model version {version} was {decided.result} in {_control_plane(stage_name)}.",
        "",
        f"Version:        {version}",
        f"Stage:          {stage}",
        *_occasion_lines(approval, record),
        f"Outcome:        {decided.result}",
        f"Decided by:     {people}",
        f"Decided at:     {_utc(decided.decided_at)}",
    ]
    if decided.reason:
        lines += [f"Reason:         {_reason(decided.reason)}"]
    lines += ["", "What happens next:"]
    if decided.result == "approved":
        lines += [f"  - The promotion of {version} continues past {stage}."]
    elif decided.result == "rejected":
        lines += [
            f"  - {version} is not promoted to {stage}.",
            "  - Versions are immutable: address the reason and submit a new version (fmops submit).",
        ]
    else:
        lines += [
            f"  - Nobody decided before {_utc(approval.state.expires_at)}: {version} is not promoted to {stage}.",
            "  - An approval nobody gave is not an approval: submit a new version (fmops submit) to ask again.",
        ]
    lines += [f"  - The version's timeline: fmops status {version}", ""]
    submitter = f" ({_one_line(record.submitter)})" if record.submitter else ""
    lines += [f"You receive this because you submitted this version{submitter}."]
    return f"[{_control_plane(stage_name)}] {titles[decided.result]}", "\n".join(lines) + "\n"


# ------------------------------------------------------------------------------ helpers


def _load(
    approval_id: str, version_id: str, stage: str, deps: ApprovalNotifyDeps
) -> tuple[StoredApproval, CatalogRecord] | NoticeOutcome:
    approval = deps.approvals.get(approval_id)
    if approval is None:
        return NoticeOutcome(approval_id, Notice.UNKNOWN_APPROVAL)
    if approval.version_id != version_id or approval.stage.value != stage:
        return NoticeOutcome(approval_id, Notice.EVENT_MISMATCH)
    record = deps.catalog.get(approval.version_id)
    if record is None:
        return NoticeOutcome(approval_id, Notice.NO_CATALOG_RECORD)
    return approval, record


def _slack_off_or_none(deps: ApprovalNotifyDeps) -> SlackResult:
    return "off" if deps.messenger is None else "none"


def _display_name(directory: ApproverDirectory, approver_id: str) -> str:
    # Someone removed from the directory since keeps their id in the record of what they decided.
    approver = directory.by_id(approver_id)
    return _one_line(approver.display_name if approver is not None else approver_id)


def _version(record: CatalogRecord) -> str:
    return _one_line(f"{record.model_group}/{record.version}")


def _what(approval: StoredApproval, record: CatalogRecord) -> str:
    """What is approved, as subjects say it: "sentiment/1.0.0 for prod" or "rollback of prod to sentiment/1.0.0"."""
    if approval.is_rollback:
        return f"rollback of {approval.stage.value} to {_version(record)}"
    return f"{_version(record)} for {approval.stage.value}"


def _occasion_lines(approval: StoredApproval, record: CatalogRecord) -> list[str]:
    return [f"Occasion:       {_what(approval, record)}"] if approval.is_rollback else []


def _control_plane(stage_name: str | None) -> str:
    return f"fmops {_one_line(stage_name)}" if stage_name else "fmops"


def _observed(observed: float | str | None) -> str:
    if observed is None:
        return "not reported"
    return observed if isinstance(observed, str) else plain(observed)


def _utc(at: datetime) -> str:
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _reason(text: str) -> str:
    line = _one_line(text)
    return line if len(line) <= MAX_REASON_CHARS else line[: MAX_REASON_CHARS - 1] + "…"


def _one_line(text: str) -> str:
    # Untrusted text must not add lines (or headers, for the subject) of its own.
    return _CONTROL.sub(" ", text).strip()
