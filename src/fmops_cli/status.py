"""`fmops status`: a version's current state (catalog) and its story (audit trail), for people and scripts."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, Protocol

from fmops.audit import timeline as in_time_order
from fmops.manifest import Problem
from fmops.records import AuditRecord, CatalogRecord, StageDeployment
from fmops.statuses import ALLOWED_TRANSITIONS, VersionStatus
from fmops_cli.errors import InputError
from fmops_cli.manifests import format_problem

STATUS_DOCUMENT_VERSION = "1"
# Statuses a version does not leave by itself: waiting for anything else stops here.
# Approved ends the promotion; deployment will carry the version on from there.
TERMINAL_STATUSES = frozenset({VersionStatus.REJECTED, VersionStatus.APPROVED})
_LABEL_WIDTH = 17


class CatalogReader(Protocol):
    def get(self, version_id: str) -> CatalogRecord | None: ...


class AuditReader(Protocol):
    def for_version(self, version_id: str) -> Sequence[AuditRecord]: ...


@dataclass(frozen=True)
class VersionView:
    """What fmops knows about one version: its catalog record (None if none) and its audit records in time order."""

    version_id: str
    record: CatalogRecord | None
    timeline: tuple[AuditRecord, ...] = ()

    @property
    def found(self) -> bool:
        return self.record is not None or bool(self.timeline)

    @property
    def status(self) -> VersionStatus | None:
        return self.record.status if self.record is not None else None


def parse_version_id(text: str) -> str:
    """`<group>/<version>` as typed by the user; an error that shows the expected form otherwise."""
    group, slash, version = text.strip().strip("/").partition("/")
    if not slash or not group or not version or "/" in version:
        raise InputError(
            f"{text!r} is not a version id",
            hint="write it as <model-group>/<version>, e.g. fmops status sentiment-classifier/1.0.0",
        )
    return f"{group}/{version}"


def fetch(version_id: str, catalog: CatalogReader, audit_log: AuditReader) -> VersionView:
    return VersionView(version_id, catalog.get(version_id), tuple(in_time_order(audit_log.for_version(version_id))))


# ------------------------------------------------------------------ text


def render_text(view: VersionView) -> str:
    """The human view printed by `fmops status` (and by the demo)."""
    lines = [view.version_id]
    record = view.record
    if record is None:
        lines.append(_row("status", "unknown: no catalog record (only audit records)"))
    else:
        lines.append(_row("status", record.status.value))
        if record.reasons:
            lines.extend(_rows("reasons", [format_problem(reason) for reason in record.reasons]))
        if record.kind:
            lines.append(_row("kind", record.kind + (f", risk tier {record.risk_tier}" if record.risk_tier else "")))
        if record.submitter:
            lines.append(_row("submitted by", record.submitter))
        lines.append(_row("manifest", record.manifest_uri))
        lines.append(_row("manifest sha256", record.manifest_sha256))
        no_package = "none" if record.status in TERMINAL_STATUSES else "none yet"
        lines.append(_row("model package", record.model_package_arn or no_package))
        if record.execution_name:
            lines.append(_row("promotion", record.execution_name))
        if record.evaluation is not None:
            lines.append(
                _row("evaluated by", f"{record.evaluation.evaluator} (source {record.evaluation.reported_by})")
            )
        if record.gate is not None:
            decision = record.gate.decision
            verdict = (
                "passed" if decision.passed else f"failed {len(decision.failed_rules)} of {len(decision.rules)} rules"
            )
            policy = f"policy {decision.policy_model_group} {decision.policy_version}"
            lines.append(_row("gate", f"{verdict} ({policy}; fmops policy explain {record.version_id})"))
        if record.stages:
            lines.extend(_rows("stages", [_stage_line(stage, entry) for stage, entry in record.stages.items()]))
        lines.append(_row("created", format_time(record.created_at)))
        lines.append(_row("updated", format_time(record.updated_at)))

    count = len(view.timeline)
    lines.append("")
    lines.append(f"Timeline ({count} audit record{'s' if count != 1 else ''})")
    if not view.timeline:
        lines.append("  (none yet: the audit writer records each event shortly after it happens)")
    for entry in view.timeline:
        lines.append(f"  {format_time(entry.occurred_at)}  {entry.detail_type}  by {entry.actor}")
        lines.extend(f"      {fact}" for fact in key_facts(entry))
    return "\n".join(lines)


def _stage_line(stage: str, entry: StageDeployment) -> str:
    why = f": {entry.reason}" if entry.reason else ""
    return f"{stage} {entry.status.value} since {format_time(entry.at)}{why}"


def key_facts(entry: AuditRecord) -> list[str]:
    """The few facts of an audit record worth a line each, by detail-type; other events show their scalars."""
    summarize = _FACT_SUMMARIES.get(entry.detail_type)
    if summarize is None:
        return _generic_facts(entry.facts)
    # The version is the record's key, not one of its facts; a rollback's summary names it (the version put back).
    return summarize({**entry.facts, "version_id": entry.version_id})


def _registered(facts: Mapping[str, Any]) -> list[str]:
    return [
        f"model package {facts.get('model_package_arn')}",
        f"{facts.get('kind')}, risk tier {facts.get('risk_tier')}",
        f"manifest sha256 {facts.get('manifest_sha256')}",
    ]


def _rejected(facts: Mapping[str, Any]) -> list[str]:
    return [format_problem(Problem.model_validate(reason)) for reason in facts.get("reasons", [])]


def _refused(facts: Mapping[str, Any]) -> list[str]:
    return [str(facts.get("reason")), f"refused manifest sha256 {facts.get('manifest_sha256')}"]


def _promotion_started(facts: Mapping[str, Any]) -> list[str]:
    return [f"execution {facts.get('execution_name')}"]


def _evaluation_requested(facts: Mapping[str, Any]) -> list[str]:
    return [f"evaluator {facts.get('evaluator')}, deadline {facts.get('deadline')}"]


def _evaluation_completed(facts: Mapping[str, Any]) -> list[str]:
    if facts.get("outcome") == "failed":
        return [f"{facts.get('evaluator')}: failed: {facts.get('failure_reason')}"]
    return [f"{facts.get('evaluator')}: {len(facts.get('metrics', []))} metrics, evidence {facts.get('evidence_uri')}"]


def _evaluated(facts: Mapping[str, Any]) -> list[str]:
    metrics = ", ".join(f"{m.get('name')}={m.get('value')}" for m in facts.get("metrics", [])[:6])
    return [f"accepted from {facts.get('evaluator')} (source {facts.get('reported_by')})", metrics]


def _result_rejected(facts: Mapping[str, Any]) -> list[str]:
    return [f"{facts.get('code')}: {facts.get('reason')}", f"reported by {facts.get('reported_by')}"]


def _gate_decided(facts: Mapping[str, Any]) -> list[str]:
    decision = facts.get("decision", {})
    failed = [rule.get("rule_id") for rule in decision.get("rules", []) if not rule.get("passed")]
    verdict = "passed" if decision.get("passed") else f"FAILED: {', '.join(failed)}"
    policy = f"{decision.get('policy_model_group')} {decision.get('policy_version')}"
    return [f"{verdict} ({len(decision.get('rules', []))} rules, policy {policy})", f"-> {facts.get('status')}"]


def _artifact_uploaded(facts: Mapping[str, Any]) -> list[str]:
    return [f"{facts.get('uri')} ({facts.get('size')} bytes, S3 version {facts.get('s3_version_id')})"]


def _package_changed(facts: Mapping[str, Any]) -> list[str]:
    return [f"{facts.get('model_approval_status')}: {facts.get('model_package_arn')}"]


def _malformed(facts: Mapping[str, Any]) -> list[str]:
    return [f"{facts.get('received_detail_type')}: {facts.get('error')}", f"detail sha256 {facts.get('detail_sha256')}"]


def _approval_requested(facts: Mapping[str, Any]) -> list[str]:
    return [
        f"{facts.get('stage')}: {facts.get('quorum')} approval(s) from {', '.join(facts.get('groups', []))}, "
        f"expires {facts.get('expires_at')}",
        f"asked: {', '.join(facts.get('eligible_approvers', [])) or 'nobody'}",
    ]


def _approval_viewed(facts: Mapping[str, Any]) -> list[str]:
    return [f"{facts.get('method')} by {facts.get('approver_id')}'s link ({facts.get('stage')})"]


def _approval_decision(facts: Mapping[str, Any]) -> list[str]:
    lines = [
        f"{facts.get('verdict')} by {facts.get('approver_id')} via {facts.get('channel')} "
        f"({facts.get('approvals')} of {facts.get('quorum')}, {facts.get('stage')})"
    ]
    return lines + ([f"reason: {facts.get('reason')}"] if facts.get("reason") else [])


def _approval_refused(facts: Mapping[str, Any]) -> list[str]:
    who = facts.get("approver_id") or "unknown caller"
    return [f"{facts.get('code')} ({who} via {facts.get('channel')}): {facts.get('reason')}"]


def _stage_decided(facts: Mapping[str, Any]) -> list[str]:
    deciders = ", ".join(facts.get("decided_by", [])) or "nobody"
    lines = [f"{facts.get('stage')} {facts.get('outcome')} (decided by {deciders})"]
    return lines + ([f"reason: {facts.get('reason')}"] if facts.get("reason") else [])


def _approval_timer(facts: Mapping[str, Any]) -> list[str]:
    people = facts.get("pending_approvers") or facts.get("notified_approvers") or []
    return [f"{facts.get('stage')}: {', '.join(people) or 'nobody'} notified; expires {facts.get('expires_at')}"]


def _version_approved(facts: Mapping[str, Any]) -> list[str]:
    return [f"model package Approved: {facts.get('model_package_arn')}", str(facts.get("approval_description"))]


def _deployment_approval(facts: Mapping[str, Any]) -> str:
    approvers, approval_id = ", ".join(facts.get("approved_by", [])), facts.get("approval_id")
    if approvers:
        return f"approved by {approvers}" + (f" (approval {approval_id})" if approval_id else "")
    return f"approval {approval_id}, no approvers named" if approval_id else "no stage approval"


def _deployment_endpoint(facts: Mapping[str, Any]) -> str:
    if not facts.get("endpoint_name"):
        return "registry only: no endpoint"
    config = facts.get("endpoint_config_name")
    return f"endpoint {facts.get('endpoint_name')}" + (f", config {config}" if config else "")


def _deployment_started(facts: Mapping[str, Any]) -> list[str]:
    replaces = facts.get("replaces_version_id")
    before = f"replaces {replaces}" if replaces else "first deployment there"
    rollback = " (rollback)" if facts.get("kind") == "rollback" else ""
    return [
        f"{facts.get('stage')}{rollback} ({facts.get('target')}, account {facts.get('account_id')}, "
        f"{facts.get('region')}), {before}",
        _deployment_endpoint(facts),
        _deployment_approval(facts),
    ]


def _deployment_succeeded(facts: Mapping[str, Any]) -> list[str]:
    replaced = facts.get("replaced_version_id")
    smoke = facts.get("smoke_samples", 0)
    checked = f"{smoke} smoke sample(s) passed" if smoke else "no smoke test"
    before = f"replaced {replaced}" if replaced else "first deployment there"
    next_stage = facts.get("next_stage")
    lines = [
        f"{facts.get('stage')} in service ({checked}), {before}",
        _deployment_endpoint(facts),
        _deployment_approval(facts),
        f"next: {next_stage} (after its approval)" if next_stage else "last stage: the deployment is complete",
    ]
    return lines + ([f"evidence {facts.get('evidence_uri')}"] if facts.get("evidence_uri") else [])


def _deployment_failed(facts: Mapping[str, Any]) -> list[str]:
    serves = facts.get("stage_serves")
    return [
        f"{facts.get('code')} ({facts.get('stage')}): {facts.get('reason')}",
        f"{facts.get('stage')} now serves {serves}" if serves else f"{facts.get('stage')} now serves nothing",
    ]


def _deployment_rolled_back(facts: Mapping[str, Any]) -> list[str]:
    how = "automatic" if facts.get("automatic") else "requested"
    return [
        f"{facts.get('stage')} back on {facts.get('version_id')} ({how}): {facts.get('reason')}",
        f"{facts.get('rolled_back_version_id')} taken off; {_deployment_endpoint(facts)}",
        _deployment_approval(facts),
    ]


def _deployment_refused(facts: Mapping[str, Any]) -> list[str]:
    return [f"{facts.get('code')}: {facts.get('reason')}", f"model package {facts.get('model_package_arn')}"]


def _generic_facts(facts: Mapping[str, Any]) -> list[str]:
    lines = []
    for key, value in facts.items():
        text = value if isinstance(value, str) else json.dumps(value, separators=(",", ":"), default=str)
        lines.append(f"{key}: {text if len(text) <= 120 else text[:119] + '…'}")
    return lines


_FACT_SUMMARIES: dict[str, Callable[[Mapping[str, Any]], list[str]]] = {
    "Model Version Registered": _registered,
    "Model Version Rejected": _rejected,
    "Model Version Upload Refused": _refused,
    "Model Version Promotion Started": _promotion_started,
    "Model Version Evaluation Requested": _evaluation_requested,
    "Evaluation Completed": _evaluation_completed,
    "Model Version Evaluated": _evaluated,
    "Evaluation Result Rejected": _result_rejected,
    "Model Version Gate Decided": _gate_decided,
    "Artifact Uploaded": _artifact_uploaded,
    "Model Package State Changed": _package_changed,
    "Malformed Event": _malformed,
    "Approval Requested": _approval_requested,
    "Approval Page Viewed": _approval_viewed,
    "Approval Decision Recorded": _approval_decision,
    "Approval Refused": _approval_refused,
    "Approval Stage Decided": _stage_decided,
    "Approval Reminder Due": _approval_timer,
    "Approval Escalated": _approval_timer,
    "Model Version Approved": _version_approved,
    "Deployment Started": _deployment_started,
    "Deployment Succeeded": _deployment_succeeded,
    "Deployment Failed": _deployment_failed,
    "Deployment Rolled Back": _deployment_rolled_back,
    "Deployment Refused": _deployment_refused,
}


def format_time(moment: datetime) -> str:
    utc = moment.astimezone(UTC) if moment.tzinfo else moment.replace(tzinfo=UTC)
    return utc.strftime("%Y-%m-%d %H:%M:%S.") + f"{utc.microsecond // 1000:03d}Z"


def _row(label: str, value: str) -> str:
    return f"  {label:<{_LABEL_WIDTH}}{value}"


def _rows(label: str, values: list[str]) -> list[str]:
    return [_row(label if index == 0 else "", value) for index, value in enumerate(values)]


# ------------------------------------------------------------------ json


def to_document(view: VersionView) -> dict[str, Any]:
    """The stable machine-readable form (`fmops status --json`). Fields are added, never renamed or removed."""
    record = view.record
    group, _, version = view.version_id.partition("/")
    return {
        "schema_version": STATUS_DOCUMENT_VERSION,
        "version_id": view.version_id,
        "model_group": record.model_group if record else group,
        "version": record.version if record else version,
        "found": view.found,
        "status": record.status.value if record else None,
        "kind": record.kind if record else None,
        "risk_tier": record.risk_tier if record else None,
        "submitter": record.submitter if record else None,
        "manifest_uri": record.manifest_uri if record else None,
        "manifest_sha256": record.manifest_sha256 if record else None,
        "model_package_arn": record.model_package_arn if record else None,
        "execution_name": record.execution_name if record else None,
        "created_at": _iso(record.created_at) if record else None,
        "updated_at": _iso(record.updated_at) if record else None,
        "reasons": [reason.model_dump(mode="json") for reason in record.reasons] if record else [],
        "timeline": [
            {
                "occurred_at": _iso(entry.occurred_at),
                "recorded_at": _iso(entry.recorded_at),
                "detail_type": entry.detail_type,
                "actor": entry.actor,
                "event_id": entry.event_id,
                "source": entry.source,
                "facts": entry.facts,
            }
            for entry in view.timeline
        ],
        # Added with the evaluation issue (new keys go last, existing ones never move).
        "evaluation": record.evaluation.model_dump(mode="json") if record and record.evaluation else None,
        "gate": record.gate.model_dump(mode="json") if record and record.gate else None,
        # Added with the deployment issue: the version's status in each stage it was sent to.
        "stages": {stage: entry.model_dump(mode="json") for stage, entry in record.stages.items()} if record else {},
    }


def _iso(moment: datetime) -> str:
    utc = moment.astimezone(UTC) if moment.tzinfo else moment.replace(tzinfo=UTC)
    return utc.isoformat(timespec="milliseconds").replace("+00:00", "Z")


# ------------------------------------------------------------------ waiting


class WaitOutcome(StrEnum):
    REACHED = "reached"
    STOPPED = "stopped"  # a terminal status other than the one waited for (e.g. Rejected)
    TIMED_OUT = "timed-out"


def has_reached(status: VersionStatus, target: VersionStatus) -> bool:
    """True if `status` is `target` or lies beyond it in the lifecycle (PendingEvaluation is past Registered).

    A terminal status reaches only itself: a version rejected by its gate was registered once,
    but waiting for Registered means waiting for it to go on, and it will not.
    """
    if status in TERMINAL_STATUSES:
        return status == target
    frontier, seen = [target], {target}
    while frontier:
        current = frontier.pop()
        if current == status:
            return True
        if current in TERMINAL_STATUSES:
            continue  # Rejected -> Received is a new attempt, not progress
        for following in ALLOWED_TRANSITIONS[current] - seen:
            seen.add(following)
            frontier.append(following)
    return False


def wait_for(
    poll: Callable[[], VersionView],
    target: VersionStatus,
    timeout: float,
    interval: float = 1.0,
    on_change: Callable[[VersionView], None] | None = None,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> tuple[VersionView, WaitOutcome]:
    """Poll until the version reaches `target` (or beyond), stops in a terminal status, or `timeout` seconds pass."""
    deadline = clock() + timeout
    last_status: object = object()
    while True:
        view = poll()
        if view.status != last_status and on_change is not None:
            on_change(view)
        last_status = view.status
        if view.status is not None:
            if has_reached(view.status, target):
                return view, WaitOutcome.REACHED
            if view.status in TERMINAL_STATUSES:
                return view, WaitOutcome.STOPPED
        remaining = deadline - clock()
        if remaining <= 0:
            return view, WaitOutcome.TIMED_OUT
        sleep(min(interval, remaining))
