"""The approval page over HTTP: GET/HEAD show the evidence, POST decides. API Gateway proxy in, HTML out.

    GET  /approvals/{approval_id}?approver=<id>&token=<link token>   the evidence page (changes nothing)
    HEAD (same)                                                       the same status and headers, no body
    POST /approvals/{approval_id}   form: approver, token, csrf_token, verdict, reason

The link token is never logged or echoed back except into the form of the page rendered for it;
the POST carries it in the body, not the URL. Every response carries `page.PAGE_HEADERS`
(no-store, no-referrer, a CSP without scripts, no framing).
"""

from __future__ import annotations

import base64
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs

from pydantic import SecretBytes

from fmops.approvals import deciding
from fmops.approvals.config import load_directory
from fmops.approvals.csrf import FORM_FIELD, csrf_token
from fmops.approvals.deciding import DecisionDeps, LinkVisit, Outcome
from fmops.approvals.directory import ApproverDirectory
from fmops.approvals.engine import Channel, StageOutcome, Verdict
from fmops.approvals.page import (
    NOTICE_STATUS,
    PAGE_HEADERS,
    DecisionLine,
    EvidencePage,
    NoticeKind,
    decided_message,
    render_evidence_page,
    render_notice,
)
from fmops.approvals.store import StoredApproval
from fmops.ports import ArtifactStore, Catalog
from fmops.registered import registered_manifest

MAX_FORM_BYTES = 16 * 1024

# Refusal code -> the page that explains it. Codes not listed get the generic error page.
_NOTICES: dict[str, tuple[NoticeKind, str]] = {
    "unknown_link": (NoticeKind.INVALID_LINK, "This link is not valid"),
    "tampered": (NoticeKind.INVALID_LINK, "This link is not valid"),
    "malformed_request": (NoticeKind.INVALID_LINK, "This link is not valid"),
    deciding.UNKNOWN_APPROVAL: (NoticeKind.INVALID_LINK, "This link is not valid"),
    "expired": (NoticeKind.EXPIRED, "This approval has expired"),
    "already_used": (NoticeKind.ALREADY_USED, "This link was already used"),
    "not_yours": (NoticeKind.NOT_YOURS, "This link is not yours"),
    "csrf_missing": (NoticeKind.FORBIDDEN, "The form could not be verified"),
    "csrf_mismatch": (NoticeKind.FORBIDDEN, "The form could not be verified"),
    "stage_already_decided": (NoticeKind.ALREADY_DECIDED, "This approval is already decided"),
    deciding.PROMOTION_ENDED: (NoticeKind.ALREADY_DECIDED, "This approval is closed"),
    "already_decided_by_you": (NoticeKind.ALREADY_DECIDED, "You already decided"),
    "submitter_cannot_approve": (NoticeKind.NOT_YOURS, "You cannot decide your own version"),
    "not_an_approver": (NoticeKind.NOT_YOURS, "You are not an approver"),
    "not_in_stage_groups": (NoticeKind.NOT_YOURS, "You may not decide this stage"),
    "approved_earlier_stage": (NoticeKind.NOT_YOURS, "Someone else must decide this stage"),
    "reason_required": (NoticeKind.ERROR, "A rejection needs a reason"),
    "reason_too_long": (NoticeKind.ERROR, "The reason is too long"),
}
# The person can fix these by going back: a client error, not a server one.
_BAD_REQUEST = frozenset({"reason_required", "reason_too_long", "malformed_request"})


@dataclass(frozen=True)
class PageRequest:
    method: str
    approval_id: str
    path: str  # as the browser sees it (with the API stage prefix): the form posts back to it
    query: Mapping[str, str]
    body: bytes
    request_id: str


@dataclass(frozen=True)
class PageDeps:
    decisions: DecisionDeps
    catalog: Catalog
    artifacts: ArtifactStore
    csrf_key: Callable[[], SecretBytes]


@dataclass(frozen=True)
class Response:
    status: int
    html: str
    outcome: Outcome

    def proxy(self, head: bool = False) -> dict[str, Any]:
        return {"statusCode": self.status, "headers": dict(PAGE_HEADERS), "body": "" if head else self.html}


def serve(request: PageRequest, deps: PageDeps) -> Response:
    if request.method in ("GET", "HEAD"):
        return _show(request, deps)
    if request.method == "POST":
        return _decide(request, deps)
    raise ValueError(f"unsupported method {request.method}")


def _show(request: PageRequest, deps: PageDeps) -> Response:
    visit = _visit(request, request.query)
    if visit is None:
        return _refused(request, deps, "the link is incomplete: open the whole link from the e-mail")
    outcome = deciding.view(visit, request.method, deps.decisions)
    if not outcome.accepted or outcome.approval is None or outcome.link is None:
        return _notice(outcome)
    approval = outcome.approval
    if approval.state.outcome is not StageOutcome.PENDING or approval.resumed_at is not None:
        message = f"The {approval.stage.value} approval of {approval.version_id} is {approval.state.outcome.value}."
        return _notice(
            Outcome(False, "stage_already_decided", message, approval), title="This approval is already decided"
        )
    key = deps.csrf_key()
    hidden = {"approver": visit.approver_id, "token": visit.token, FORM_FIELD: csrf_token(key, outcome.link)}
    page = evidence_page(approval, visit.approver_id, hidden, request.path, deps)
    return Response(200, render_evidence_page(page), outcome)


def _decide(request: PageRequest, deps: PageDeps) -> Response:
    form = _form(request.body)
    visit = _visit(request, form) if form is not None else None
    verdict = _verdict(form.get("verdict") if form else None)
    if form is None or visit is None or verdict is None:
        return _refused(request, deps, "the form is incomplete or malformed")
    outcome = deciding.decide_by_link(
        visit, verdict, form.get("reason"), form.get(FORM_FIELD), deps.csrf_key(), deps.decisions
    )
    if not outcome.accepted or outcome.approval is None:
        return _notice(outcome)
    state = outcome.approval.state
    message = decided_message(verdict, state.approvals, state.rule.quorum, state.stage)
    html = render_notice(
        NoticeKind.DECIDED, "Decision recorded", message, version_id=state.version_id, stage=state.stage
    )
    return Response(200, html, outcome)


def evidence_page(
    approval: StoredApproval, viewer_id: str, hidden: dict[str, str], form_action: str, deps: PageDeps
) -> EvidencePage:
    """Everything an approver needs to decide, from the catalog, the registered manifest and the directory."""
    state = approval.state
    record = deps.catalog.get(approval.version_id)
    if record is None or record.gate is None:
        raise LookupError(f"{approval.version_id} has no gate decision to show")
    manifest = registered_manifest(record.manifest_uri, record.manifest_sha256, deps.artifacts)
    champion = deps.catalog.serving(record.model_group, record.gate.decision.stage.value)
    directory = load_directory(deps.decisions.config)
    decided = {d.approver_id for d in state.decisions}
    now = deps.decisions.clock.now()
    eligible = directory.eligible(
        state.rule,
        state.submitter,
        state.earlier_approvers,
        submitter_email=state.submitter_email,
        escalated=state.escalates_at is not None and now >= state.escalates_at,
    )
    return EvidencePage(
        approval_id=approval.approval_id,
        stage=state.stage,
        rollback=approval.is_rollback,
        manifest=manifest,
        gate=record.gate.decision,
        decision_uri=record.gate.decision_uri,
        champion_version_id=champion.version_id if champion else None,
        champion_metrics=list(champion.evaluation.metrics) if champion and champion.evaluation else [],
        candidate_metrics=list(record.evaluation.metrics) if record.evaluation else [],
        decisions=[
            DecisionLine(
                approver_display=_display(directory, d.approver_id),
                approver_id=d.approver_id,
                verdict=d.verdict,
                channel=d.channel,
                decided_at=d.decided_at,
                reason=d.reason,
            )
            for d in state.decisions
        ],
        approvals=state.approvals,
        quorum=state.rule.quorum,
        still_eligible=[a.display_name for a in eligible if a.id not in decided],
        expires_at=state.expires_at,
        viewer_display=_display(directory, viewer_id),
        viewer_id=viewer_id,
        submitter_id=state.submitter,
        form_action=form_action,
        hidden_fields=hidden,
        now=now,
    )


def _display(directory: ApproverDirectory, approver_id: str) -> str:
    approver = directory.by_id(approver_id)
    return approver.display_name if approver else approver_id


def _visit(request: PageRequest, fields: Mapping[str, str]) -> LinkVisit | None:
    approver, token = fields.get("approver"), fields.get("token")
    if not approver or not token:
        return None
    return LinkVisit(request.approval_id, approver, token, request.request_id)


def _verdict(value: str | None) -> Verdict | None:
    try:
        return Verdict(value) if value else None
    except ValueError:
        return None


def _form(body: bytes) -> dict[str, str] | None:
    if len(body) > MAX_FORM_BYTES:
        return None
    try:
        text = body.decode("utf-8")
        fields = parse_qs(text, keep_blank_values=True, strict_parsing=bool(text), max_num_fields=10)
    except (UnicodeDecodeError, ValueError):
        return None
    # A field sent twice is ambiguous (which verdict did they mean?): refuse rather than guess.
    if any(len(values) != 1 for values in fields.values()):
        return None
    return {name: values[0] for name, values in fields.items()}


def request_body(event_body: object, is_base64: bool | None) -> bytes:
    """The raw bytes of an API Gateway proxy event's body (base64-decoded when API Gateway encoded it)."""
    if event_body is None:
        return b""
    if not isinstance(event_body, str):
        raise TypeError("the proxy event's body must be the raw string API Gateway delivers")
    return base64.b64decode(event_body) if is_base64 else event_body.encode("utf-8")


def _refused(request: PageRequest, deps: PageDeps, message: str) -> Response:
    attempt = deciding.Attempt(
        request.approval_id, "anonymous", Verdict.APPROVE, None, Channel.EMAIL, request.request_id
    )
    approval = deps.decisions.approvals.get(request.approval_id)
    return _notice(deciding.refuse(attempt, deps.decisions, "malformed_request", message, approval))


def _notice(outcome: Outcome, title: str | None = None) -> Response:
    kind, default_title = _NOTICES.get(outcome.code, (NoticeKind.ERROR, "Something went wrong"))
    status = 400 if outcome.code in _BAD_REQUEST else NOTICE_STATUS[kind]
    approval = outcome.approval
    html = render_notice(
        kind,
        title or default_title,
        outcome.message,
        version_id=approval.version_id if approval else None,
        stage=approval.stage if approval else None,
    )
    return Response(status, html, outcome)
