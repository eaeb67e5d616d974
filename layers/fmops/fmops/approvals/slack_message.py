"""The Slack Block Kit message that asks approvers to decide a stage, and its decided form.

Pure: a view of the request in, a list of blocks out; posting is an adapter's job.

Everything a submitter or an evaluator wrote (model group, version, kind, metric names,
description) is untrusted. It only ever appears in `mrkdwn` text objects, escaped (`&`, `<`,
`>`) so it cannot mention `<!channel>` or hide a link, and with `verbatim: true` so Slack does
not turn a bare URL or `#channel` in it into a link either. Header texts and button labels are
built from fmops' own enums only. Every text is clipped to its Block Kit limit, so an oversized
manifest still yields a message Slack accepts (a refused post would leave a stage nobody hears of).

Buttons carry the opaque approval id and nothing else: whoever can read the channel can read a
button's value, and a Step Functions task token there would let them complete the execution
without going through the approval checks.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, AwareDatetime, BaseModel, ConfigDict, Field, model_validator

from fmops.approvals import APPROVAL_ID_PATTERN
from fmops.gate.policy import Stage

APPROVE_ACTION_ID = "fmops_approve"
REJECT_ACTION_ID = "fmops_reject"

# Block Kit limits (docs.slack.dev/reference/block-kit).
MAX_BLOCKS = 50
MAX_SECTION_TEXT = 3000
MAX_FIELDS = 10
MAX_FIELD_TEXT = 2000
MAX_HEADER_TEXT = 150
MAX_CONTEXT_ELEMENTS = 10
MAX_BUTTON_VALUE = 2000
MAX_BUTTON_TEXT = 75

MAX_METRICS = 6
# A description is context for the approver, not the evidence: the evidence page has it whole.
MAX_SUMMARY_CHARS = 500
# Long enough for a UUID or ULID, far too short for a task token (hundreds of characters).
_APPROVAL_ID = re.compile(APPROVAL_ID_PATTERN)
_URL = re.compile(r"^https?://[^\s<>|]+$")
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")
_ESCAPES = {"&": "&amp;", "<": "&lt;", ">": "&gt;"}
_ELLIPSIS = "…"


def _approval_id(value: str) -> str:
    if not _APPROVAL_ID.fullmatch(value):
        raise ValueError("approval_id must be an opaque id of 8-128 characters [A-Za-z0-9_-]")
    return value


def _evidence_url(value: str) -> str:
    # `|` and `>` would end the link markup early; the URL is ours, but a template typo must not
    # become a broken or misleading link.
    if len(value) > 2000 or not _URL.fullmatch(value):
        raise ValueError("evidence_url must be an http(s) URL without spaces, '<', '>' or '|'")
    return value


class _Frozen(BaseModel):
    model_config = ConfigDict(defer_build=True, frozen=True, extra="forbid")


class MetricLine(_Frozen):
    """One key metric as the approver reads it; the caller formats numbers (it knows their units)."""

    name: str = Field(min_length=1)
    value: str
    threshold: str
    passed: bool


class ApprovalRequestView(_Frozen):
    """What an approver needs to decide one stage of one version, and nothing server-side."""

    version_id: str = Field(min_length=1, description="<model group>/<version>")
    kind: str
    risk_tier: str
    stage: Stage
    rollback: bool = Field(default=False, description="A manual rollback of `stage` to this version.")
    gate_passed: bool
    policy_version: str
    metrics: tuple[MetricLine, ...] = Field(default=(), max_length=MAX_METRICS)
    summary: str | None = Field(default=None, description="The manifest's description; untrusted.")
    evidence_url: Annotated[str, AfterValidator(_evidence_url)]
    approval_id: Annotated[str, AfterValidator(_approval_id)]
    expires_at: AwareDatetime
    approvals: int = Field(ge=0)
    quorum: int = Field(ge=1)

    @property
    def model_group(self) -> str:
        group, _, version = self.version_id.rpartition("/")
        return group if version else self.version_id

    @property
    def version(self) -> str:
        group, _, version = self.version_id.rpartition("/")
        return version if group else self.version_id


class DecidedView(_Frozen):
    """How a stage ended; `decided_by` lists the approvers whose decisions closed it."""

    result: Literal["approved", "rejected", "expired"]
    decided_by: tuple[str, ...] = ()
    decided_at: AwareDatetime
    reason: str | None = None

    @model_validator(mode="after")
    def _deciders_match_result(self) -> DecidedView:
        if self.result == "expired" and self.decided_by:
            raise ValueError("an expired stage was decided by nobody")
        if self.result != "expired" and not self.decided_by:
            raise ValueError(f"a stage {self.result} by someone names them in decided_by")
        return self


def approval_request_blocks(request: ApprovalRequestView) -> list[dict[str, Any]]:
    """The message posted to the approvers' channel: facts, metrics, evidence, Approve/Reject."""
    return [
        _header(f"Approval requested: {_stage_words(request)}"),
        *_facts(request),
        _context(
            f"{_evidence_link(request.evidence_url)}  ·  Approvals: {request.approvals} of {request.quorum}"
            f"  ·  Expires {_slack_date(request.expires_at)}"
        ),
        _decision_buttons(request),
    ]


def decided_blocks(request: ApprovalRequestView, outcome: DecidedView) -> list[dict[str, Any]]:
    """The same message once the stage is closed: who decided and when, and no buttons left."""
    titles = {"approved": "Approved", "rejected": "Rejected", "expired": "Expired"}
    title = titles[outcome.result]
    if outcome.result == "expired":
        line = f"*{title}* without a decision {_slack_date(outcome.decided_at)}: the version is not promoted."
    else:
        deciders = ", ".join(outcome.decided_by)
        line = f"*{title}* by {escape_mrkdwn(deciders)} {_slack_date(outcome.decided_at)}"
    if outcome.reason:
        line += f"\n>{_clip(escape_mrkdwn(_single_line(outcome.reason)), MAX_SECTION_TEXT - len(line) - 2)}"
    return [
        _header(f"{title}: {_stage_words(request)}"),
        *_facts(request),
        _section(line),
        _context(_evidence_link(request.evidence_url)),
    ]


def notification_text(request: ApprovalRequestView) -> str:
    """The message's plain `text`: what notifications and screen readers show instead of blocks."""
    what = (
        f"the rollback of {request.stage.value} to {request.version_id}"
        if request.rollback
        else f"{request.version_id} ({request.stage.value})"
    )
    return _clip(escape_mrkdwn(f"Approval requested for {what}"), MAX_SECTION_TEXT)


def escape_mrkdwn(text: str) -> str:
    """Escape Slack's control characters so untrusted text is shown, never interpreted."""
    return "".join(_ESCAPES.get(char, char) for char in _CONTROL.sub("", text))


# ------------------------------------------------------------------------------ blocks


def _facts(request: ApprovalRequestView) -> list[dict[str, Any]]:
    gate = "passed" if request.gate_passed else "FAILED"
    fields = [
        f"*Model group*\n{escape_mrkdwn(request.model_group)}",
        f"*Version*\n{escape_mrkdwn(request.version)}",
        f"*Kind*\n{escape_mrkdwn(request.kind)}",
        f"*Risk tier*\n{escape_mrkdwn(request.risk_tier)}",
        f"*Stage*\n{request.stage.value}",
        f"*Gate*\n{gate} (policy {escape_mrkdwn(request.policy_version)})",
    ]
    if request.rollback:
        fields.append(f"*Occasion*\nrollback of {request.stage.value} to {escape_mrkdwn(request.version_id)}")
    blocks: list[dict[str, Any]] = [{"type": "section", "fields": [_mrkdwn(field, MAX_FIELD_TEXT) for field in fields]}]
    if request.summary:
        summary = _clip(escape_mrkdwn(request.summary), MAX_SUMMARY_CHARS)
        blocks.insert(0, _section(summary))
    if request.metrics:
        blocks.append(
            {
                "type": "section",
                "text": _mrkdwn("*Key metrics* (value vs threshold)", MAX_SECTION_TEXT),
                "fields": [_mrkdwn(_metric(metric), MAX_FIELD_TEXT) for metric in request.metrics],
            }
        )
    return blocks


def _metric(metric: MetricLine) -> str:
    mark = ":white_check_mark:" if metric.passed else ":x:"
    # Each part is clipped on its own, so a long name cannot push the value and threshold out of the field.
    name = _clip(escape_mrkdwn(_single_line(metric.name)), 200)
    value = _clip(escape_mrkdwn(metric.value), 200)
    threshold = _clip(escape_mrkdwn(metric.threshold), 200)
    return f"{mark} *{name}*\n{value} (threshold {threshold})"


def _decision_buttons(request: ApprovalRequestView) -> dict[str, Any]:
    stage = request.stage.value
    what = f"the rollback of {stage} to this version" if request.rollback else f"this version for {stage}"
    return {
        "type": "actions",
        "elements": [
            _button("Approve", APPROVE_ACTION_ID, request.approval_id, "primary", f"Approve {what}?"),
            _button("Reject", REJECT_ACTION_ID, request.approval_id, "danger", f"Reject {what}?"),
        ],
    }


def _button(label: str, action_id: str, value: str, style: str, question: str) -> dict[str, Any]:
    return {
        "type": "button",
        "action_id": action_id,
        "text": {"type": "plain_text", "text": label[:MAX_BUTTON_TEXT]},
        "value": value[:MAX_BUTTON_VALUE],
        "style": style,
        # A misclick on a production approval cannot be taken back: ask once more.
        "confirm": {
            "title": {"type": "plain_text", "text": f"{label}?"},
            "text": {"type": "plain_text", "text": question},
            "confirm": {"type": "plain_text", "text": label},
            "deny": {"type": "plain_text", "text": "Cancel"},
        },
    }


def _stage_words(request: ApprovalRequestView) -> str:
    # fmops' own words and enum only: headers are plain text, never escaped.
    return f"rollback of {request.stage.value}" if request.rollback else request.stage.value


def _header(text: str) -> dict[str, Any]:
    return {"type": "header", "text": {"type": "plain_text", "text": _clip(text, MAX_HEADER_TEXT)}}


def _section(text: str) -> dict[str, Any]:
    return {"type": "section", "text": _mrkdwn(text, MAX_SECTION_TEXT)}


def _context(text: str) -> dict[str, Any]:
    return {"type": "context", "elements": [_mrkdwn(text, MAX_SECTION_TEXT)]}


def _mrkdwn(text: str, limit: int) -> dict[str, Any]:
    # The text is already escaped; verbatim stops Slack from auto-linking URLs and #channels in it.
    return {"type": "mrkdwn", "text": _clip(text, limit), "verbatim": True}


def _evidence_link(url: str) -> str:
    return f"<{escape_mrkdwn(url)}|Evidence>"


def _slack_date(at: datetime) -> str:
    # Slack shows the reader's local time; the fallback (old clients, notifications) is UTC.
    fallback = at.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")
    return f"<!date^{int(at.timestamp())}^{{date_short_pretty}} {{time}}|{fallback}>"


# ------------------------------------------------------------------------------ text


def _single_line(text: str) -> str:
    return " ".join(text.split())


def _clip(text: str, limit: int) -> str:
    """At most `limit` characters, never cutting an escape (`&amp;`) or date markup in half."""
    if len(text) <= limit:
        return text
    cut = text[: max(limit - len(_ELLIPSIS), 0)]
    # An escape or `<...>` markup opened in the cut-off part and not closed would corrupt the rest.
    amp, semicolon = cut.rfind("&"), cut.rfind(";")
    if amp > semicolon:
        cut = cut[:amp]
    opened, closed = cut.rfind("<"), cut.rfind(">")
    if opened > closed:
        cut = cut[:opened]
    return cut + _ELLIPSIS
