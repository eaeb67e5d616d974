"""Tell the submitter of a rejected model version why, by e-mail, with every reason.

The recipient comes only from the catalog (the address the manifest declared), never from
the event: anyone who can put an event on the bus must not be able to choose who gets mail.
The message is built from the event's reasons and a few catalog fields named one by one,
so nothing server-side (the evaluation task token, artifact contents) can leak into it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

from fmops.events import ModelVersionRejected
from fmops.manifest import Problem
from fmops.ports import Catalog, Notifier
from fmops.records import CatalogRecord
from fmops.statuses import VersionStatus

GATE_RULE_FAILED = "gate_rule_failed"
# Rejection codes whose story the approval notifier e-mails on "Approval Stage Decided".
DECIDED_BY_APPROVERS = frozenset({"approval_rejected", "approval_expired"})
# A reason can quote an evaluator's failure text; an e-mail line stays readable.
MAX_REASON_CHARS = 1000
_CONTROL = re.compile(r"[\x00-\x1f\x7f]+")


class Delivery(StrEnum):
    SENT = "sent"
    NO_CATALOG_RECORD = "no_catalog_record"  # e.g. a manifest outside models/<group>/<version>/
    NO_SUBMITTER_EMAIL = "no_submitter_email"  # e.g. the manifest could not be parsed
    SUPERSEDED = "superseded"  # a corrected manifest was uploaded since: this rejection is history
    # An approver rejected it, or nobody decided in time: the approval notifier already told the
    # submitter who decided, when and why ("Approval Stage Decided"); a second e-mail adds nothing.
    TOLD_BY_APPROVALS = "told_by_approvals"


@dataclass(frozen=True)
class NotificationDeps:
    catalog: Catalog
    notifier: Notifier
    stage: str | None = None  # the control plane's stage, so dev and prod mail are told apart


@dataclass(frozen=True)
class NotificationOutcome:
    delivery: Delivery
    version_id: str
    reasons: int

    @property
    def sent(self) -> bool:
        return self.delivery == Delivery.SENT

    def as_dict(self) -> dict[str, object]:
        # No recipient: an e-mail address is personal data and this ends up in logs.
        return {"delivery": self.delivery.value, "version_id": self.version_id, "reasons": self.reasons}


@dataclass(frozen=True)
class Email:
    subject: str
    text: str


def notify_rejection(event: ModelVersionRejected, deps: NotificationDeps) -> NotificationOutcome:
    """E-mail the version's submitter every reason it was rejected, or say why no one can be told."""
    record = deps.catalog.get(event.version_id)

    def outcome(delivery: Delivery) -> NotificationOutcome:
        return NotificationOutcome(delivery, event.version_id, len(event.reasons))

    if record is None:
        return outcome(Delivery.NO_CATALOG_RECORD)
    if _superseded(event, record):
        return outcome(Delivery.SUPERSEDED)
    if not record.submitter_email:
        return outcome(Delivery.NO_SUBMITTER_EMAIL)
    if event.reasons and all(reason.code in DECIDED_BY_APPROVERS for reason in event.reasons):
        return outcome(Delivery.TOLD_BY_APPROVALS)
    email = render_rejection(event, record, deps.stage)
    deps.notifier.send(record.submitter_email, email.subject, email.text)
    return outcome(Delivery.SENT)


def render_rejection(event: ModelVersionRejected, record: CatalogRecord, stage: str | None = None) -> Email:
    """The plain-text e-mail: what was rejected, one line per reason in order, what to do next."""
    version_id = _one_line(record.version_id)
    subject = f"[fmops] {version_id} rejected: {_count(event.reasons)}"
    control_plane = f"fmops {stage}" if stage else "fmops"

    lines = [f"Model version {version_id} was rejected by {control_plane}.", ""]
    lines += [f"Version:        {version_id}"]
    if record.kind:
        lines += [f"Kind:           {record.kind}"]
    if record.risk_tier:
        lines += [f"Risk tier:      {record.risk_tier}"]
    if record.model_package_arn:
        lines += [f"Model package:  {record.model_package_arn}"]
    lines += [f"Manifest:       {_one_line(event.manifest_uri)}"]
    lines += [f"Rejected at:    {event.occurred_at.isoformat()} by {_one_line(event.actor)}", ""]

    lines += [f"Why ({_count(event.reasons)}):"]
    lines += [f"  {number}. {_reason_line(reason)}" for number, reason in enumerate(event.reasons, start=1)]
    lines += [""]

    lines += ["What to do next:"]
    if record.model_package_arn is None:
        lines += ["  - Fix what is listed above and upload the version again (fmops submit), or submit a new version."]
    else:
        lines += ["  - Versions are immutable: fix what is listed above and submit a new version (fmops submit)."]
    if any(reason.code == GATE_RULE_FAILED for reason in event.reasons):
        lines += [f"  - The gate's decision table: fmops policy explain {version_id}"]
    lines += [f"  - The version's timeline: fmops status {version_id}", ""]

    submitter = f" ({_one_line(record.submitter)})" if record.submitter else ""
    lines += [f"You receive this because you submitted this version{submitter}."]
    return Email(subject=subject, text="\n".join(lines) + "\n")


def _superseded(event: ModelVersionRejected, record: CatalogRecord) -> bool:
    # A late or replayed event must not mail whoever submitted the version's next manifest.
    if record.status != VersionStatus.REJECTED:
        return True
    return event.manifest_sha256 is not None and event.manifest_sha256 != record.manifest_sha256


def _reason_line(reason: Problem) -> str:
    field = f" [{_one_line(reason.field)}]" if reason.field else ""
    message = _one_line(reason.message)
    if len(message) > MAX_REASON_CHARS:
        message = message[: MAX_REASON_CHARS - 1] + "…"
    return f"{_one_line(reason.code)}{field}: {message}"


def _count(reasons: list[Problem]) -> str:
    noun = "failed rule" if all(reason.code == GATE_RULE_FAILED for reason in reasons) else "reason"
    return f"{len(reasons)} {noun}{'' if len(reasons) == 1 else 's'}"


def _one_line(text: str) -> str:
    # Event text must not add lines (or headers, for the subject) of its own.
    return _CONTROL.sub(" ", text).strip()
