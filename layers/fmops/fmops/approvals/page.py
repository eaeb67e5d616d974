"""The e-mailed approval link's page: the evidence an approver reads, the decision form, the notices.

Pure: a view model in, an HTML document out; serving it (and sending `PAGE_HEADERS`) is the
handler's job.

Why it looks the way it does:
- Everything shown comes from people or tools fmops does not control (the manifest, rule texts
  built from it, approvers' reasons, directory names), so every value passes through
  `html.escape(..., quote=True)` on its way into the document, in text and in attribute values.
  Nothing untrusted becomes a link either: a repository or decision URI is shown as text, never
  as `href`, so a `javascript:` or look-alike URL in a manifest cannot be one click away.
- No JavaScript, no external assets, styles inline only: the page works under
  `default-src 'none'; style-src 'unsafe-inline'` and the only thing it can do is post its form
  back to its own origin (`form-action 'self'`). A plain POST form needs no script, and a page
  without script has no script to inject into.
- The link token and the CSRF token ride in hidden inputs of that form, and nowhere else on the
  page: no link carries them, so nothing on the page can leak them through `Referer` (which
  `Referrer-Policy: no-referrer` forbids anyway). In `EvidencePage` they are out of `repr` and
  of `model_dump`, so logging the view does not log a bearer credential.
- GET renders and changes nothing (see `fmops.approvals.links`); the verdict is the submit
  button's value, so one form, one POST, and the server judges it (reason required to reject).
"""

from __future__ import annotations

import html
import re
from datetime import UTC, datetime
from decimal import Decimal
from enum import StrEnum

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, field_validator, model_validator

from fmops.approvals import APPROVAL_ID_PATTERN
from fmops.approvals.engine import MAX_REASON_CHARS, Channel, Verdict
from fmops.gate.decision import GateDecision, RuleResult
from fmops.gate.policy import Stage, exact, plain
from fmops.manifest import Manifest
from fmops.metrics import Metric

CONTENT_SECURITY_POLICY = (
    "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)

PAGE_HEADERS: dict[str, str] = {
    "Content-Type": "text/html; charset=utf-8",
    # The page holds a bearer token in its form: no cache, shared or private, may keep a copy.
    "Cache-Control": "no-store",
    "Pragma": "no-cache",
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Robots-Tag": "noindex, nofollow",
}
"""The headers of every approval page response, evidence page and notices alike."""

# The form's own fields: a hidden field of the same name would decide what the buttons decide.
_FORM_FIELDS = frozenset({"verdict", "reason"})
_HIDDEN_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")
# A path on this origin: `form-action 'self'` would block another origin, but a template slip
# should fail here, loudly, not in the approver's browser.
_FORM_ACTION = re.compile(r"^/(?!/)[^\s\\\"'<>]*$")
_DASH = "—"


class NoticeKind(StrEnum):
    EXPIRED = "expired"
    ALREADY_USED = "already_used"
    NOT_YOURS = "not_yours"
    ALREADY_DECIDED = "already_decided"
    INVALID_LINK = "invalid_link"
    FORBIDDEN = "forbidden"  # the form's CSRF token did not match
    ERROR = "error"
    DECIDED = "decided"  # the confirmation after a recorded decision


NOTICE_STATUS: dict[NoticeKind, int] = {
    NoticeKind.EXPIRED: 410,
    NoticeKind.ALREADY_USED: 409,
    NoticeKind.NOT_YOURS: 403,
    NoticeKind.ALREADY_DECIDED: 409,
    NoticeKind.INVALID_LINK: 404,
    NoticeKind.FORBIDDEN: 403,
    NoticeKind.ERROR: 500,
    NoticeKind.DECIDED: 200,
}
"""The HTTP status to send each notice with."""

_NOTICE_TONE = {
    NoticeKind.DECIDED: "ok",
    NoticeKind.EXPIRED: "warn",
    NoticeKind.ALREADY_USED: "warn",
    NoticeKind.ALREADY_DECIDED: "warn",
    NoticeKind.NOT_YOURS: "bad",
    NoticeKind.INVALID_LINK: "bad",
    NoticeKind.FORBIDDEN: "bad",
    NoticeKind.ERROR: "bad",
}


class _Frozen(BaseModel):
    model_config = ConfigDict(defer_build=True, extra="forbid", frozen=True)


class DecisionLine(_Frozen):
    """One decision already taken on this stage, as the page lists it."""

    approver_display: str
    approver_id: str
    verdict: Verdict
    channel: Channel
    decided_at: AwareDatetime
    reason: str | None = None


class EvidencePage(_Frozen):
    """Everything the evidence page of one approver's link shows, and the form it posts."""

    approval_id: str = Field(pattern=APPROVAL_ID_PATTERN)
    stage: Stage
    rollback: bool = Field(default=False, description="A manual rollback of `stage` to this version.")
    manifest: Manifest
    gate: GateDecision
    decision_uri: str = Field(description="Where the gate decision is recorded; shown as text, never linked.")
    champion_version_id: str | None = Field(default=None, description="The version serving in `stage`, if any.")
    champion_metrics: list[Metric] = Field(default_factory=list)
    candidate_metrics: list[Metric] = Field(default_factory=list)
    decisions: list[DecisionLine] = Field(default_factory=list)
    approvals: int = Field(ge=0)
    quorum: int = Field(ge=1)
    still_eligible: list[str] = Field(default_factory=list, description="Display names of who may still decide.")
    expires_at: AwareDatetime
    viewer_display: str
    viewer_id: str
    submitter_id: str
    form_action: str = Field(description="The path on this origin the decision form posts to.")
    # The link token and the CSRF token: bearer credentials, written only into the form.
    hidden_fields: dict[str, str] = Field(repr=False, exclude=True)
    now: AwareDatetime

    @field_validator("form_action")
    @classmethod
    def _same_origin_path(cls, value: str) -> str:
        if not _FORM_ACTION.fullmatch(value):
            raise ValueError("form_action must be a path on this origin, e.g. /approvals/<id>/decision")
        return value

    @field_validator("hidden_fields")
    @classmethod
    def _plain_names_apart_from_the_form_fields(cls, fields: dict[str, str]) -> dict[str, str]:
        for name in fields:
            if not _HIDDEN_NAME.fullmatch(name) or name in _FORM_FIELDS:
                raise ValueError(f"hidden field names are identifiers other than {', '.join(sorted(_FORM_FIELDS))}")
        return fields

    @model_validator(mode="after")
    def _one_version_one_stage(self) -> EvidencePage:
        # Evidence of another version on this page would have someone approve blind. The gate judges a
        # version for the end of its road (prod), so its stage may differ from the approval's.
        if self.gate.version_id != self.manifest.version_id:
            raise ValueError("the gate decision must be the one of this manifest's version")
        if self.approvals > self.quorum:
            raise ValueError("approvals cannot exceed the quorum: the stage closes when it is reached")
        for whose, metrics in (("candidate", self.candidate_metrics), ("champion", self.champion_metrics)):
            names = [m.name for m in metrics]
            if len(names) != len(set(names)):
                raise ValueError(f"the {whose} metrics list a metric more than once")
        return self


def render_evidence_page(page: EvidencePage) -> str:
    """The complete HTML document of the evidence page, every value escaped."""
    manifest = page.manifest
    title = (
        f"Approve the rollback of {page.stage.value} to {manifest.version_id}"
        if page.rollback
        else f"Approve {manifest.version_id} for {page.stage.value}"
    )
    occasion = (
        f"<p id=occasion><strong>Rollback</strong> of {_e(page.stage.value)} to {_e(manifest.version_id)}: "
        "an approval of its own, apart from the version's earlier one.</p>"
        if page.rollback
        else ""
    )
    body = "".join(
        (
            "<header>",
            f"<p class=muted>fmops approval request · {_e(page.approval_id)}</p>",
            f"<h1>{_e(manifest.version_id)} <span class=arrow>→</span> {_e(page.stage.value)}</h1>",
            occasion,
            f"<p>{_badge(page.gate.passed, 'gate passed', 'gate failed')} ",
            f"<span class=tag>{_e(manifest.kind.value)}</span> ",
            f"<span class=tag>{_e(manifest.risk_tier.value)} risk</span> ",
            f"<span class=tag>{_e(page.approvals)} of {_e(page.quorum)} approvals</span></p>",
            f'<p id="expires">{_expiry(page)}</p>',
            "</header>",
            _model_card(page),
            _lineage(manifest),
            _gate(page),
            _champion(page),
            _approvals(page),
            _form(page),
        )
    )
    return _document(title, body)


def render_notice(
    kind: NoticeKind, title: str, message: str, *, version_id: str | None = None, stage: Stage | None = None
) -> str:
    """A page that says what happened and nothing else: a refusal, an error or a recorded decision.

    `title` and `message` are escaped like everything else; `decided_message` words the
    confirmation of a decision.
    """
    about = ""
    if version_id is not None or stage is not None:
        parts = [f"<strong>{_e(version_id)}</strong>" if version_id is not None else ""]
        if stage is not None:
            parts.append(f"stage <strong>{_e(stage.value)}</strong>")
        about = f"<p class=muted>{' · '.join(p for p in parts if p)}</p>"
    role = "status" if kind is NoticeKind.DECIDED else "alert"
    body = (
        f'<div id="notice" class="notice {_NOTICE_TONE[kind]}" data-kind="{_e(kind.value)}" role="{role}">'
        f"<h1>{_e(title)}</h1>{about}<p class=text>{_e(message)}</p>"
        "<p class=muted>You can close this page.</p></div>"
    )
    return _document(title, body)


def decided_message(verdict: Verdict, approvals: int, quorum: int, stage: Stage) -> str:
    """The DECIDED notice's message: the recorded verdict and where the stage stands now."""
    if verdict is Verdict.REJECT:
        return f"Your rejection is recorded: the {stage.value} stage is rejected and the version is not promoted."
    message = f"Your approval is recorded: {approvals} of {quorum} approvals"
    if approvals >= quorum:
        return f"{message}. The {stage.value} stage is approved."
    missing = quorum - approvals
    return f"{message}. The {stage.value} stage waits for {missing} more approval{'' if missing == 1 else 's'}."


# ------------------------------------------------------------------------------ sections


def _model_card(page: EvidencePage) -> str:
    m = page.manifest
    base = (
        f"{_e(m.base_model.name)} <span class=muted>by</span> {_e(m.base_model.provider)} "
        f"<span class=muted>licence</span> <code>{_e(m.base_model.licence)}</code>"
        if m.base_model is not None
        else _DASH
    )
    rows = (
        ("Description", f"<span class=text>{_e(m.description)}</span>" if m.description.strip() else _DASH),
        ("Intended use", f"<span class=text>{_e(m.intended_use)}</span>"),
        ("Limitations", f"<span class=text>{_e(m.limitations)}</span>"),
        ("Owner team", _e(m.owner_team)),
        ("Kind", _e(m.kind.value)),
        ("Task", _e(m.task)),
        ("Risk tier", _e(m.risk_tier.value)),
        ("Base model", base),
        ("Submitted by", f"{_e(page.submitter_id)} <span class=muted>{_e(m.submitter.email)}</span>"),
    )
    items = "".join(f"<dt>{label}</dt><dd>{value}</dd>" for label, value in rows)
    return f'<section id="model-card"><h2>Model card</h2><dl>{items}</dl></section>'


def _lineage(m: Manifest) -> str:
    lineage = m.lineage
    if lineage.datasets:
        rows = "".join(
            f"<tr><td>{_e(d.name)}</td><td><code>{_e(d.uri)}</code></td>"
            f"<td><span class='tag {_e(d.classification.value)}'>{_e(d.classification.value)}</span></td></tr>"
            for d in lineage.datasets
        )
        datasets = _table("datasets-table", ("Dataset", "URI", "Classification"), rows)
    else:
        datasets = "<p class=muted>No training datasets listed.</p>"
    code = (
        f"<code>{_e(lineage.code.repository)}</code> <span class=muted>at</span> <code>{_e(lineage.code.commit)}</code>"
        if lineage.code is not None
        else _DASH
    )
    job = f"<code>{_e(lineage.training_job)}</code>" if lineage.training_job else _DASH
    artifacts = "".join(
        f"<tr><td><code>{_e(a.path)}</code></td><td><code class=hash>{_e(a.sha256)}</code></td>"
        f"<td class=num>{_e(_size(a.size_bytes))}</td></tr>"
        for a in m.artifacts
    )
    return (
        '<section id="lineage"><h2>Lineage</h2>'
        f"<h3>Training data</h3>{datasets}"
        f"<dl><dt>Code</dt><dd>{code}</dd><dt>Training job</dt><dd>{job}</dd></dl>"
        f"<h3>Artifacts</h3>{_table('artifacts-table', ('Path', 'SHA-256', 'Size'), artifacts)}</section>"
    )


def _gate(page: EvidencePage) -> str:
    gate = page.gate
    rows = "".join(_rule_row(rule) for rule in gate.rules)
    failed = len(gate.failed_rules)
    skipped = sum(1 for rule in gate.rules if rule.skipped)
    summary = (
        f"{len(gate.rules)} rules: {len(gate.rules) - skipped} passed" + (f", {skipped} skipped" if skipped else "")
        if not failed
        else f"{failed} of {len(gate.rules)} rules failed: promotion stays blocked whatever is decided here"
    )
    return (
        '<section id="gate"><h2>Gate decision</h2>'
        f"<p>{_badge(gate.passed, 'passed', 'failed')} {_e(summary)}</p>"
        f"<p class=muted>Policy {_e(gate.policy_model_group)} {_e(gate.policy_version)} · "
        f"sha256 <code class=hash>{_e(gate.policy_sha256)}</code><br>"
        f"Recorded at <code>{_e(page.decision_uri)}</code></p>"
        f"{_table('gate-table', ('Result', 'Rule', 'Observed', 'Threshold', 'Reason'), rows)}</section>"
    )


def _rule_row(rule: RuleResult) -> str:
    result = "skip" if rule.skipped else ("pass" if rule.passed else "fail")
    badge = {"pass": "PASS", "fail": "FAIL", "skip": "SKIPPED"}[result]
    observed = (
        rule.observed if isinstance(rule.observed, str) else (_DASH if rule.observed is None else plain(rule.observed))
    )
    return (
        f'<tr data-rule-id="{_e(rule.rule_id)}" data-result="{result}">'
        f"<td><span class='badge {result}'>{badge}</span></td>"
        f"<td><code>{_e(rule.rule_id)}</code><br><span class=muted>{_e(rule.description)}</span></td>"
        f"<td>{_e(observed)}</td><td>{_e(rule.threshold or _DASH)}</td><td>{_e(rule.reason)}</td></tr>"
    )


def _champion(page: EvidencePage) -> str:
    if page.champion_version_id is None:
        intro = (
            f"<p id=no-champion>No version serving yet in {_e(page.stage.value)}: "
            "nothing to compare with, the candidate's metrics are shown alone.</p>"
        )
        champion: dict[str, Metric] = {}
    else:
        intro = (
            f"<p>Challenger <strong>{_e(page.manifest.version_id)}</strong> against the version serving in "
            f"{_e(page.stage.value)}, <strong>{_e(page.champion_version_id)}</strong>.</p>"
        )
        champion = {m.name: m for m in page.champion_metrics}
    candidate = {m.name: m for m in page.candidate_metrics}
    names = [*candidate, *(name for name in champion if name not in candidate)]
    if not names:
        return f'<section id="champion"><h2>Champion vs challenger</h2>{intro}<p class=muted>No metrics.</p></section>'
    rows = "".join(_metric_row(name, candidate.get(name), champion.get(name)) for name in names)
    table = _table("metrics-table", ("Metric", "Candidate", "Champion", "Delta"), rows)
    return f'<section id="champion"><h2>Champion vs challenger</h2>{intro}{table}</section>'


def _metric_row(name: str, ours: Metric | None, theirs: Metric | None) -> str:
    shown = ours if ours is not None else theirs
    unit = shown.unit.value if shown is not None else ""
    delta, tone = _DASH, ""
    if ours is not None and theirs is not None:
        if ours.unit != theirs.unit:
            delta = f"units differ ({ours.unit.value} vs {theirs.unit.value})"
        else:
            change = exact(ours.value) - exact(theirs.value)
            delta = ("+" if change > 0 else "") + plain(change)
            tone = _direction(change, ours.higher_is_better)
    return (
        f'<tr data-metric="{_e(name)}"><td><code>{_e(name)}</code> <span class=muted>{_e(unit)}</span></td>'
        f"<td class=num>{_metric_value(ours)}</td><td class=num>{_metric_value(theirs)}</td>"
        f"<td class='num {tone}'>{_e(delta)}{f' <span class=muted>({tone})</span>' if tone else ''}</td></tr>"
    )


def _direction(change: Decimal, higher_is_better: bool) -> str:
    if change == 0:
        return "same"
    return "better" if (change > 0) == higher_is_better else "worse"


def _metric_value(metric: Metric | None) -> str:
    if metric is None:
        return _DASH
    return f"{_e(plain(metric.value))} <span class=muted>n={_e(metric.sample_size)}</span>"


def _approvals(page: EvidencePage) -> str:
    if page.decisions:
        rows = "".join(
            f"<tr><td>{_e(d.approver_display)} <span class=muted>{_e(d.approver_id)}</span></td>"
            f"<td><span class='badge {'pass' if d.verdict is Verdict.APPROVE else 'fail'}'>{_e(d.verdict.value)}</span>"
            f"</td><td>{_e(d.channel.value)}</td><td>{_time(d.decided_at)}</td>"
            f"<td class=text>{_e(d.reason) if d.reason else _DASH}</td></tr>"
            for d in page.decisions
        )
        decisions = _table("decisions-table", ("Approver", "Verdict", "Channel", "At", "Reason"), rows)
    else:
        decisions = "<p class=muted>No decisions yet.</p>"
    eligible = (
        "<ul>" + "".join(f"<li>{_e(name)}</li>" for name in page.still_eligible) + "</ul>"
        if page.still_eligible
        else "<p class=muted>Nobody else.</p>"
    )
    return (
        '<section id="approvals"><h2>Approvals so far</h2>'
        f'<p><strong id="approvals-count">{_e(page.approvals)} of {_e(page.quorum)}</strong> approvals '
        "(a single rejection ends the stage)</p>"
        f'{decisions}<h3>Who may still decide</h3><div id="still-eligible">{eligible}</div></section>'
    )


def _form(page: EvidencePage) -> str:
    hidden = "".join(
        f'<input type="hidden" name="{_e(name)}" value="{_e(value)}">' for name, value in page.hidden_fields.items()
    )
    return (
        '<section id="decide"><h2>Your decision</h2>'
        f"<p>Deciding as <strong>{_e(page.viewer_display)}</strong> <span class=muted>{_e(page.viewer_id)}</span>. "
        "This link works once: the decision is final.</p>"
        f'<form id="decision-form" method="post" action="{_e(page.form_action)}" autocomplete="off">{hidden}'
        '<label for="reason">Reason (required to reject, optional to approve)</label>'
        f'<textarea id="reason" name="reason" maxlength="{MAX_REASON_CHARS}" rows="4"></textarea>'
        '<div class=buttons><button type="submit" id="approve" name="verdict" value="approve">Approve</button>'
        '<button type="submit" id="reject" name="verdict" value="reject">Reject</button></div>'
        "</form></section>"
    )


# ------------------------------------------------------------------------------ pieces

_STYLE = """:root{--fg:#1b1f24;--muted:#59636e;--bg:#fff;--panel:#f6f8fa;--line:#d1d9e0;
--ok:#1a7f37;--bad:#cf222e;--warn:#9a6700}
@media (prefers-color-scheme:dark){:root{--fg:#e6edf3;--muted:#9198a1;--bg:#0d1117;--panel:#151b23;
--line:#3d444d;--ok:#3fb950;--bad:#f85149;--warn:#d29922}}
*{box-sizing:border-box}
body{margin:0;background:var(--bg);color:var(--fg);font:15px/1.5 system-ui,-apple-system,"Segoe UI",sans-serif}
main{max-width:60rem;margin:0 auto;padding:1.5rem 1rem 3rem}
h1{font-size:1.5rem;margin:.2rem 0 .6rem;overflow-wrap:anywhere}
h2{font-size:1.15rem;margin:0 0 .6rem}
h3{font-size:1rem;margin:1rem 0 .4rem}
section{border:1px solid var(--line);border-radius:8px;padding:1rem;margin:1rem 0;background:var(--panel)}
dl{display:grid;grid-template-columns:minmax(7rem,max-content) 1fr;gap:.3rem 1rem;margin:.5rem 0}
dt{color:var(--muted)}dd{margin:0;overflow-wrap:anywhere}
table{border-collapse:collapse;width:100%;font-size:.9rem}
.scroll{overflow-x:auto}
th,td{text-align:left;vertical-align:top;padding:.35rem .5rem;border-bottom:1px solid var(--line)}
th{color:var(--muted);font-weight:600}
td{overflow-wrap:anywhere}
.num{text-align:right;white-space:nowrap}
code{font:.85em ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;overflow-wrap:anywhere}
.hash{font-size:.75em}
.muted{color:var(--muted)}
.text{white-space:pre-wrap}
.tag{display:inline-block;border:1px solid var(--line);border-radius:1rem;padding:0 .5rem;font-size:.85rem}
.badge{display:inline-block;white-space:nowrap;border-radius:4px;padding:0 .4rem;font-weight:700;font-size:.8rem}
.badge{color:#fff}
.badge.pass{background:var(--ok)}.badge.fail{background:var(--bad)}.badge.skip{background:var(--muted)}
.better{color:var(--ok)}.worse{color:var(--bad)}
.confidential,.restricted{border-color:var(--warn);color:var(--warn)}
label{display:block;font-weight:600;margin:.5rem 0 .3rem}
textarea{width:100%;font:inherit;padding:.5rem;border:1px solid var(--line);border-radius:6px;
background:var(--bg);color:var(--fg)}
.buttons{display:flex;gap:.75rem;margin-top:.75rem}
button{font:inherit;font-weight:600;padding:.5rem 1.5rem;border-radius:6px;border:0;color:#fff;cursor:pointer}
#approve{background:var(--ok)}#reject{background:var(--bad)}
.notice{border-left:6px solid var(--muted);padding:1rem 1.25rem;margin:2rem 0;background:var(--panel)}
.notice.ok{border-color:var(--ok)}.notice.warn{border-color:var(--warn)}.notice.bad{border-color:var(--bad)}"""


def _document(title: str, body: str) -> str:
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        '<meta name="referrer" content="no-referrer"><meta name="robots" content="noindex, nofollow">'
        f"<title>{_e(title)}</title><style>\n{_STYLE}\n</style></head>"
        f"<body><main>{body}</main></body></html>\n"
    )


def _e(value: object) -> str:
    return html.escape(str(value), quote=True)


def _table(table_id: str, headers: tuple[str, ...], rows: str) -> str:
    head = "".join(f"<th scope=col>{_e(h)}</th>" for h in headers)
    return f'<div class=scroll><table id="{table_id}"><thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table></div>'


def _badge(passed: bool, yes: str, no: str) -> str:
    return (
        f"<span class='badge pass'>{_e(yes.upper())}</span>"
        if passed
        else f"<span class='badge fail'>{_e(no.upper())}</span>"
    )


def _time(at: datetime) -> str:
    iso = at.astimezone(UTC).isoformat(timespec="seconds")
    return f'<time datetime="{_e(iso)}">{_e(iso)}</time>'


def _expiry(page: EvidencePage) -> str:
    return f"Expires at {_time(page.expires_at)} ({_e(_relative(page.now, page.expires_at))})"


def _relative(now: datetime, then: datetime) -> str:
    seconds = int((then - now).total_seconds())
    if seconds <= 0:
        return "expired"
    if seconds < 60:
        return "in less than a minute"
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes = rest // 60
    parts = [(days, "day"), (hours, "hour"), (minutes, "minute")]
    first = next(i for i, (n, _) in enumerate(parts) if n)
    # The largest unit and the next one: "in 1 day 3 hours", never "in 1 day 5 minutes".
    shown = [f"{n} {unit}{'' if n == 1 else 's'}" for n, unit in parts[first : first + 2] if n]
    return "in " + " ".join(shown)


def _size(size_bytes: int) -> str:
    if size_bytes < 1024:
        return f"{size_bytes} B"
    value, units = float(size_bytes), ["KiB", "MiB", "GiB", "TiB"]
    value /= 1024
    while value >= 1024 and len(units) > 1:
        value /= 1024
        units.pop(0)
    return f"{value:.1f} {units[0]}"
