"""The evidence pack of a model version (`fmops audit export`): what an auditor needs to judge how the
version reached its status, as one JSON document and one self-contained HTML page.

Pure: the command reads the catalog, S3 and the audit trail and hands the results in; nothing here does
I/O. Everything in a manifest or an evaluation document is untrusted text, so the HTML escapes every value.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import UTC, datetime
from html import escape
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from fmops.gate.decision import RuleResult
from fmops.gate.policy import plain
from fmops.ledger import ChainBreak, ChainReport, timestamp
from fmops.manifest import Artifact, Manifest, Problem
from fmops.metrics import Metric
from fmops.records import CatalogRecord, SealedRecord
from fmops.statuses import VersionStatus
from fmops_cli import __version__
from fmops_cli.status import format_time

PACK_SCHEMA_VERSION: Literal["1"] = "1"
# Approvals and deployments are audit records like any other; their detail-types name them.
APPROVAL_PREFIXES = ("Approval",)
DEPLOYMENT_PREFIXES = ("Deployment", "Rollback")
ANCHORS_NOTE = (
    "This pack checks the chain against its head only; `fmops audit verify` also checks it against "
    "the chain heads anchored in write-once storage, which catches a chain rewritten consistently."
)
RECOMPUTE_RECIPE = """\
import hashlib, json

pack = json.load(open("PACK.evidence.json", encoding="utf-8"))
for record in pack["audit_records"]:
    content = {key: value for key, value in record.items() if key != "hash"}
    text = json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    assert hashlib.sha256(text.encode("utf-8")).hexdigest() == record["hash"], record["seq"]
"""
SHORT_HASH = 12


class _Section(BaseModel):
    model_config = ConfigDict(frozen=True)


class Unreadable(_Section):
    """A document the pack should hold but could not read, and why: the pack says so instead of failing."""

    uri: str
    reason: str


class VersionSection(_Section):
    version_id: str
    model_group: str
    version: str
    status: VersionStatus
    kind: str | None
    risk_tier: str | None
    submitter: str | None
    submitter_email: str | None
    model_package_arn: str | None
    promotion_execution: str | None
    created_at: datetime
    updated_at: datetime
    reasons: list[Problem]


class ManifestSection(_Section):
    """The manifest intake registered (the model card): every field, as registered."""

    uri: str
    sha256: str
    card: dict[str, Any] | None = Field(description="The registered manifest; None when it could not be read.")
    artifacts: list[Artifact]
    unreadable: str | None = None


class EvaluationSection(_Section):
    event_id: str
    evaluator: str
    reported_by: str = Field(description="The EventBridge source that put the report.")
    succeeded: bool
    failure_reason: str | None
    received_at: datetime
    metrics: list[Metric]
    evidence_uri: str | None
    evidence: Any = Field(default=None, description="The evidence document itself, when it could be read.")
    evidence_unreadable: str | None = None


class GateSection(_Section):
    passed: bool
    stage: str
    risk_tier: str
    policy_model_group: str
    policy_version: str
    policy_sha256: str
    decision_uri: str
    decided_at: datetime
    rules: list[RuleResult]


class LifecycleEvent(_Section):
    """An approval, deployment or rollback, as its audit record states it."""

    detail_type: str
    occurred_at: datetime
    identity: str
    channel: str
    seq: int
    event_id: str
    facts: dict[str, Any]


class PackRecord(_Section):
    """An audit record exactly as hashed: timestamps in the canonical text form, so that the SHA-256 of the
    canonical JSON of every field but `hash` is `hash` (docs/audit.md)."""

    chain: str
    seq: int
    prev_hash: str
    hash: str
    event_id: str
    version_id: str
    detail_type: str
    source: str
    occurred_at: str
    recorded_at: str
    actor: str
    correlation_id: str
    envelope_id: str
    facts: dict[str, Any]


class ChainSection(_Section):
    chain: str
    ok: bool
    records: int
    last_seq: int
    first_break: ChainBreak | None
    anchors: str = ANCHORS_NOTE


class EvidencePack(_Section):
    schema_version: Literal["1"] = PACK_SCHEMA_VERSION
    generated_at: datetime
    generated_by: str
    verdict: str
    version: VersionSection
    manifest: ManifestSection
    evaluation: EvaluationSection | None
    gate: GateSection | None
    approvals: list[LifecycleEvent]
    deployments: list[LifecycleEvent]
    audit_records: list[PackRecord]
    chain: ChainSection


# ------------------------------------------------------------------ build


def build_pack(
    record: CatalogRecord,
    manifest: Manifest | Unreadable,
    evaluation_evidence: Any,
    audit_records: Iterable[SealedRecord],
    chain_report: ChainReport,
    *,
    generated_at: datetime | None = None,
) -> EvidencePack:
    """The evidence pack of one version.

    `manifest` is the registered manifest or why it could not be read; `evaluation_evidence` the parsed
    evidence document, an `Unreadable`, or None when the evaluation names none; `audit_records` the
    version's records; `chain_report` the verification of its model group's chain.
    """
    records = sorted(audit_records, key=lambda sealed: (sealed.chain, sealed.seq))
    gate = _gate(record)
    chain = ChainSection(
        chain=chain_report.chain,
        ok=chain_report.ok,
        records=chain_report.records,
        last_seq=chain_report.last_seq,
        first_break=chain_report.first_break,
    )
    return EvidencePack(
        generated_at=generated_at or datetime.now(UTC),
        generated_by=f"fmops {__version__}",
        verdict=verdict_line(record.version_id, record.status, gate, chain),
        version=VersionSection(
            version_id=record.version_id,
            model_group=record.model_group,
            version=record.version,
            status=record.status,
            kind=record.kind,
            risk_tier=record.risk_tier,
            submitter=record.submitter,
            submitter_email=record.submitter_email,
            model_package_arn=record.model_package_arn,
            promotion_execution=record.execution_name,
            created_at=record.created_at,
            updated_at=record.updated_at,
            reasons=record.reasons,
        ),
        manifest=_manifest(record, manifest),
        evaluation=_evaluation(record, evaluation_evidence),
        gate=gate,
        approvals=[_lifecycle(sealed) for sealed in records if sealed.detail_type.startswith(APPROVAL_PREFIXES)],
        deployments=[_lifecycle(sealed) for sealed in records if sealed.detail_type.startswith(DEPLOYMENT_PREFIXES)],
        audit_records=[_pack_record(sealed) for sealed in records],
        chain=chain,
    )


def verdict_line(version_id: str, status: VersionStatus, gate: GateSection | None, chain: ChainSection) -> str:
    """e.g. "g/1.0.0 — PendingApproval — gate PASSED under policy * 2026.11.1 — audit chain intact (12 records)"."""
    if gate is None:
        judged = "no gate decision"
    else:
        failed = sum(1 for rule in gate.rules if not rule.passed)
        outcome = "PASSED" if gate.passed else f"FAILED ({failed} of {len(gate.rules)} rules)"
        judged = f"gate {outcome} under policy {gate.policy_model_group} {gate.policy_version}"
    if chain.first_break is None:
        trail = f"audit chain intact ({chain.records} record{'s' if chain.records != 1 else ''})"
    else:
        where = f" at seq {chain.first_break.seq}" if chain.first_break.seq is not None else ""
        trail = f"audit chain BROKEN{where} ({chain.first_break.kind.value})"
    return f"{version_id} — {status.value} — {judged} — {trail}"


def _manifest(record: CatalogRecord, manifest: Manifest | Unreadable) -> ManifestSection:
    if isinstance(manifest, Unreadable):
        return ManifestSection(
            uri=record.manifest_uri, sha256=record.manifest_sha256, card=None, artifacts=[], unreadable=manifest.reason
        )
    return ManifestSection(
        uri=record.manifest_uri,
        sha256=record.manifest_sha256,
        card=manifest.model_dump(mode="json"),
        artifacts=manifest.artifacts,
    )


def _evaluation(record: CatalogRecord, evidence: Any) -> EvaluationSection | None:
    evaluation = record.evaluation
    if evaluation is None:
        return None
    unreadable = evidence.reason if isinstance(evidence, Unreadable) else None
    return EvaluationSection(
        event_id=evaluation.event_id,
        evaluator=evaluation.evaluator,
        reported_by=evaluation.reported_by,
        succeeded=evaluation.succeeded,
        failure_reason=evaluation.failure_reason,
        received_at=evaluation.received_at,
        metrics=evaluation.metrics,
        evidence_uri=evaluation.evidence_uri,
        evidence=None if unreadable is not None else evidence,
        evidence_unreadable=unreadable,
    )


def _gate(record: CatalogRecord) -> GateSection | None:
    if record.gate is None:
        return None
    decision = record.gate.decision
    return GateSection(
        passed=decision.passed,
        stage=decision.stage.value,
        risk_tier=decision.risk_tier.value,
        policy_model_group=decision.policy_model_group,
        policy_version=decision.policy_version,
        policy_sha256=decision.policy_sha256,
        decision_uri=record.gate.decision_uri,
        decided_at=record.gate.decided_at,
        rules=decision.rules,
    )


def _lifecycle(sealed: SealedRecord) -> LifecycleEvent:
    # Approvals can come from the CLI, Studio or an API; an event that names its channel says so,
    # otherwise the event's source is the best available statement of where it came from.
    channel = sealed.facts.get("channel")
    return LifecycleEvent(
        detail_type=sealed.detail_type,
        occurred_at=sealed.occurred_at,
        identity=sealed.actor,
        channel=str(channel) if channel else sealed.source,
        seq=sealed.seq,
        event_id=sealed.event_id,
        facts=sealed.facts,
    )


def _pack_record(sealed: SealedRecord) -> PackRecord:
    document = sealed.model_dump()
    document.update(occurred_at=timestamp(sealed.occurred_at), recorded_at=timestamp(sealed.recorded_at))
    return PackRecord.model_validate(document)


# ------------------------------------------------------------------ JSON


def render_json(pack: EvidencePack) -> str:
    # Python's json (not pydantic's serializer) so numbers in facts are written as the hash saw them.
    return json.dumps(pack.model_dump(mode="json"), indent=2, ensure_ascii=False, allow_nan=False) + "\n"


# ------------------------------------------------------------------ HTML

_CSS = """
body { font: 15px/1.5 system-ui, -apple-system, "Segoe UI", sans-serif; color: #1f2328; margin: 0;
  background: #f6f8fa; }
main { max-width: 1200px; margin: 0 auto; padding: 24px; background: #fff; }
header { border-bottom: 2px solid #d0d7de; margin-bottom: 16px; }
h1 { font-size: 22px; margin: 0 0 4px; }
h2 { font-size: 18px; margin: 28px 0 8px; border-bottom: 1px solid #d0d7de; padding-bottom: 4px; }
.verdict { font-size: 17px; font-weight: 600; padding: 10px 12px; border-radius: 6px; margin: 8px 0; }
.verdict.good { background: #dafbe1; border: 1px solid #4ac26b; }
.verdict.bad { background: #ffebe9; border: 1px solid #ff8182; }
.banner { background: #ffebe9; border: 2px solid #cf222e; color: #82071e; padding: 10px 12px; border-radius: 6px;
  font-weight: 600; margin: 8px 0; }
.meta { color: #59636e; font-size: 13px; }
table { border-collapse: collapse; width: 100%; margin: 8px 0; font-size: 14px; }
th, td { border: 1px solid #d0d7de; padding: 4px 8px; text-align: left; vertical-align: top; }
th { background: #f6f8fa; }
tr.fail td { background: #ffebe9; }
tr.fail .result { color: #cf222e; font-weight: 700; }
tr.skip td { color: #59636e; }
.result { white-space: nowrap; font-weight: 600; }
table.kv th { width: 200px; }
dl { margin: 0; display: grid; grid-template-columns: max-content 1fr; gap: 2px 12px; }
dt { font-weight: 600; color: #424a53; }
dd { margin: 0; }
ul { margin: 0; padding-left: 18px; }
.nowrap, code, summary { white-space: nowrap; }
code, pre { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; font-size: 13px; }
pre { background: #f6f8fa; border: 1px solid #d0d7de; padding: 8px; overflow-x: auto; white-space: pre-wrap;
  word-break: break-all; }
.none { color: #59636e; font-style: italic; }
.ok { color: #1a7f37; font-weight: 600; }
.broken { color: #cf222e; font-weight: 700; }
footer { margin-top: 32px; border-top: 2px solid #d0d7de; padding-top: 8px; font-size: 14px; }
"""


def _e(value: object) -> str:
    return escape(str(value), quote=True)


def _time(moment: datetime | None) -> str:
    return _e(format_time(moment)) if moment is not None else _none("—")


def _none(text: str = "none") -> str:
    return f'<span class="none">{_e(text)}</span>'


def _number(value: float | None) -> str:
    return _e(plain(value))


def _short(digest: str) -> str:
    return f'<code title="{_e(digest)}">{_e(digest[:SHORT_HASH])}…</code>'


def _value(value: Any) -> str:
    """Any JSON value, nested as definition lists and bullet lists."""
    if isinstance(value, dict):
        if not value:
            return _none()
        return "<dl>" + "".join(f"<dt>{_e(key)}</dt><dd>{_value(item)}</dd>" for key, item in value.items()) + "</dl>"
    if isinstance(value, list):
        if not value:
            return _none()
        return "<ul>" + "".join(f"<li>{_value(item)}</li>" for item in value) + "</ul>"
    if value is None or value == "":
        return _none("—")
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return _number(value)
    return _e(value)


def _kv(rows: list[tuple[str, str]]) -> str:
    """A two-column table; values are HTML already escaped by the caller."""
    body = "".join(f"<tr><th>{_e(label)}</th><td>{html}</td></tr>" for label, html in rows)
    return f'<table class="kv">{body}</table>'


def _table(headers: list[str], rows: list[tuple[str, list[str]]], label: str) -> str:
    """A table; each row is (css class, cells as escaped HTML)."""
    head = "".join(f"<th>{_e(name)}</th>" for name in headers)
    body = "".join(_tr(css, cells) for css, cells in rows)
    return f'<table aria-label="{_e(label)}"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'


def _tr(css: str, cells: list[str]) -> str:
    attribute = f' class="{css}"' if css else ""
    return f"<tr{attribute}>" + "".join(f"<td>{cell}</td>" for cell in cells) + "</tr>"


def render_html(pack: EvidencePack) -> str:
    """One self-contained page: inline CSS, no script, nothing fetched; every value escaped."""
    sections = [
        _header(pack),
        _version_section(pack),
        _manifest_section(pack.manifest),
        _evaluation_section(pack.evaluation),
        _gate_section(pack.gate),
        _approvals_section(pack.approvals),
        _deployments_section(pack.deployments),
        _records_section(pack.audit_records),
        _chain_section(pack.chain),
        _footer(pack),
    ]
    title = f"Evidence pack — {pack.version.version_id}"
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        # No script and no fetch of any kind, even if a value slipped through unescaped.
        "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'\">\n"
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{_e(title)}</title>\n<style>{_CSS}</style>\n</head>\n<body>\n<main>\n"
        + "\n".join(sections)
        + "\n</main>\n</body>\n</html>\n"
    )


def _header(pack: EvidencePack) -> str:
    good = pack.chain.ok and pack.gate is not None and pack.gate.passed
    banner = ""
    if pack.chain.first_break is not None:
        found = pack.chain.first_break
        banner = (
            f'<p class="banner" role="alert">The audit chain of {_e(pack.chain.chain)} is BROKEN '
            f"({_e(found.kind.value)}{f' at seq {found.seq}' if found.seq is not None else ''}): "
            f"{_e(found.detail)}. The records below cannot be trusted as they stand.</p>"
        )
    return (
        f"<header>\n<h1>Evidence pack: {_e(pack.version.version_id)}</h1>\n"
        f'<p class="verdict {"good" if good else "bad"}" id="verdict">{_e(pack.verdict)}</p>\n{banner}'
        f'<p class="meta">Generated {_time(pack.generated_at)} by {_e(pack.generated_by)}; '
        f"pack schema {_e(pack.schema_version)}. The same content, machine-readable, is in the .evidence.json "
        "file next to this page.</p>\n</header>"
    )


def _version_section(pack: EvidencePack) -> str:
    version = pack.version
    rows = [
        ("version", _e(version.version_id)),
        ("status", _e(version.status.value)),
        ("kind", _e(version.kind) if version.kind else _none("—")),
        ("risk tier", _e(version.risk_tier) if version.risk_tier else _none("—")),
        ("submitted by", _e(version.submitter) if version.submitter else _none("—")),
        ("submitter e-mail", _e(version.submitter_email) if version.submitter_email else _none("—")),
        ("model package", _e(version.model_package_arn) if version.model_package_arn else _none()),
        ("promotion execution", _e(version.promotion_execution) if version.promotion_execution else _none()),
        ("created", _time(version.created_at)),
        ("updated", _time(version.updated_at)),
    ]
    if version.reasons:
        reasons = [
            f"{_e(reason.code)}{f' ({_e(reason.field)})' if reason.field else ''}: {_e(reason.message)}"
            for reason in version.reasons
        ]
        rows.append(("reasons", "<ul>" + "".join(f"<li>{reason}</li>" for reason in reasons) + "</ul>"))
    return f'<section id="version">\n<h2>1. The version</h2>\n{_kv(rows)}\n</section>'


def _manifest_section(manifest: ManifestSection) -> str:
    parts = [
        _kv([("manifest", _e(manifest.uri)), ("registered sha256", f"<code>{_e(manifest.sha256)}</code>")]),
    ]
    if manifest.card is None:
        parts.append(f'<p class="banner">The registered manifest could not be read: {_e(manifest.unreadable)}</p>')
    else:
        artifacts = [
            ("", [_e(artifact.path), _e(f"{artifact.size_bytes:,}"), f"<code>{_e(artifact.sha256)}</code>"])
            for artifact in manifest.artifacts
        ]
        parts.append("<h3>Artifacts</h3>")
        parts.append(_table(["path", "size (bytes)", "sha256"], artifacts, "artifacts"))
        parts.append("<h3>Model card</h3>")
        parts.append(_value({key: value for key, value in manifest.card.items() if key != "artifacts"}))
    body = "\n".join(parts)
    return f'<section id="manifest">\n<h2>2. The manifest (model card), as registered</h2>\n{body}\n</section>'


def _evaluation_section(evaluation: EvaluationSection | None) -> str:
    heading = "<h2>3. The evaluation</h2>"
    if evaluation is None:
        return f'<section id="evaluation">\n{heading}\n<p>{_none("No evaluation recorded.")}</p>\n</section>'
    rows = [
        ("evaluator", _e(evaluation.evaluator)),
        ("reported by (event source)", _e(evaluation.reported_by)),
        ("outcome", "succeeded" if evaluation.succeeded else f"failed: {_e(evaluation.failure_reason or '?')}"),
        ("received", _time(evaluation.received_at)),
        ("report event id", _e(evaluation.event_id)),
        ("evidence", _e(evaluation.evidence_uri) if evaluation.evidence_uri else _none()),
    ]
    metrics = [
        (
            "",
            [
                _e(metric.name),
                _number(metric.value),
                _e(metric.unit.value),
                _e(f"{metric.sample_size:,}"),
                "higher" if metric.higher_is_better else "lower",
            ],
        )
        for metric in evaluation.metrics
    ]
    parts = [heading, _kv(rows), "<h3>Metrics</h3>"]
    parts.append(
        _table(["metric", "value", "unit", "sample size", "better when"], metrics, "metrics")
        if metrics
        else f"<p>{_none('No metrics reported.')}</p>"
    )
    parts.append("<h3>Evidence document</h3>")
    if evaluation.evidence_unreadable is not None:
        parts.append(f"<p>Not included: {_e(evaluation.evidence_unreadable)}</p>")
    elif evaluation.evidence is None:
        parts.append(f"<p>{_none('The evaluation names no evidence document.')}</p>")
    else:
        parts.append(f"<pre>{_e(json.dumps(evaluation.evidence, indent=2, ensure_ascii=False))}</pre>")
    body = "\n".join(parts)
    return f'<section id="evaluation">\n{body}\n</section>'


def _gate_section(gate: GateSection | None) -> str:
    heading = "<h2>4. The gate decision</h2>"
    if gate is None:
        return f'<section id="gate">\n{heading}\n<p>{_none("No gate decision recorded.")}</p>\n</section>'
    failed = [rule for rule in gate.rules if not rule.passed]
    outcome = (
        '<span class="ok">PASSED</span>'
        if gate.passed
        else f'<span class="broken">FAILED</span> ({len(failed)} of {len(gate.rules)} rules)'
    )
    rows = [
        ("outcome", outcome),
        ("stage", _e(gate.stage)),
        ("risk tier", _e(gate.risk_tier)),
        ("policy", f"{_e(gate.policy_model_group)} {_e(gate.policy_version)}"),
        ("policy sha256", f"<code>{_e(gate.policy_sha256)}</code>"),
        ("decision document", _e(gate.decision_uri)),
        ("decided", _time(gate.decided_at)),
    ]
    table = _table(
        ["result", "rule", "description", "observed", "threshold", "reason"],
        [_rule_row(rule) for rule in gate.rules],
        "decision table",
    )
    return f'<section id="gate">\n{heading}\n{_kv(rows)}\n<h3>Decision table</h3>\n{table}\n</section>'


def _rule_row(rule: RuleResult) -> tuple[str, list[str]]:
    result, css = ("skip", "skip") if rule.skipped else (("pass", "") if rule.passed else ("FAIL", "fail"))
    if rule.observed is None:
        observed = _none("nothing")
    else:
        observed = _e(rule.observed) if isinstance(rule.observed, str) else _number(rule.observed)
    cells = [
        f'<span class="result">{result}</span>',
        f"<code>{_e(rule.rule_id)}</code>",
        _e(rule.description),
        observed,
        _e(rule.threshold) if rule.threshold else _none("—"),
        _e(rule.reason),
    ]
    return css, cells


def _lifecycle_table(events: list[LifecycleEvent], label: str, what: str, prefixes: tuple[str, ...]) -> str:
    if not events:
        starts = " or ".join(f"“{prefix}”" for prefix in prefixes)
        return (
            f'<p><strong class="none">None recorded.</strong> {_e(what)} appear here from the version\'s audit '
            f"records whose detail-type starts with {_e(starts)}.</p>"
        )
    rows = [
        (
            "",
            [
                _time(event.occurred_at),
                _e(event.detail_type),
                _e(event.identity),
                _e(event.channel),
                _e(event.seq),
                _value(event.facts),
            ],
        )
        for event in events
    ]
    return _table(["when", "event", "identity", "channel", "seq", "facts"], rows, label)


def _approvals_section(approvals: list[LifecycleEvent]) -> str:
    table = _lifecycle_table(approvals, "approvals", "Approvals and their refusals", APPROVAL_PREFIXES)
    return f'<section id="approvals">\n<h2>5. Approvals</h2>\n{table}\n</section>'


def _deployments_section(deployments: list[LifecycleEvent]) -> str:
    table = _lifecycle_table(deployments, "deployments", "Deployments and rollbacks", DEPLOYMENT_PREFIXES)
    return f'<section id="deployments">\n<h2>6. Deployments and rollbacks</h2>\n{table}\n</section>'


def _records_section(records: list[PackRecord]) -> str:
    heading = f"<h2>7. Audit records of this version ({len(records)})</h2>"
    if not records:
        return f'<section id="audit-records">\n{heading}\n<p>{_none("None recorded.")}</p>\n</section>'
    rows = [
        (
            "",
            [
                f'<span class="nowrap">{_e(record.chain)}</span>',
                _e(record.seq),
                f'<span class="nowrap">{_e(record.occurred_at)}</span>',
                _e(record.detail_type),
                _e(record.actor),
                _e(record.source),
                _short(record.prev_hash),
                _short(record.hash),
                f"<details><summary>facts</summary><pre>{_e(json.dumps(record.facts, indent=2, ensure_ascii=False))}"
                "</pre></details>",
            ],
        )
        for record in records
    ]
    table = _table(
        ["chain", "seq", "occurred at", "event", "actor", "source", "prev_hash", "hash", "facts"], rows, "audit records"
    )
    note = (
        '<p class="meta">Hashes are shortened; hover for the full value, or read them in the .evidence.json file. '
        "Other versions of the model group hold the seq numbers missing here.</p>"
    )
    return f'<section id="audit-records">\n{heading}\n{note}\n{table}\n</section>'


def _chain_section(chain: ChainSection) -> str:
    if chain.first_break is None:
        span = f"{chain.records} record(s), seq 1 to {chain.last_seq}, ending at the chain's head"
        outcome = f'<span class="ok">intact</span>: {span}'
        rows = [("result", outcome)]
    else:
        found = chain.first_break
        rows = [
            ("result", '<span class="broken">BROKEN</span>'),
            ("first break", f"{_e(found.kind.value)} at seq {_e(found.seq if found.seq is not None else '?')}"),
            ("detail", _e(found.detail)),
            ("event id", _e(found.event_id) if found.event_id else _none("—")),
            ("records read", _e(chain.records)),
        ]
    rows.insert(0, ("chain (model group)", _e(chain.chain)))
    rows.append(("anchors", _e(chain.anchors)))
    return f'<section id="chain">\n<h2>8. Chain verification</h2>\n{_kv(rows)}\n</section>'


def _footer(pack: EvidencePack) -> str:
    recipe = RECOMPUTE_RECIPE.replace("PACK", f"{pack.version.model_group}_{pack.version.version}")
    return (
        "<footer>\n<h2>How to check a record's hash</h2>\n"
        "<p>Each audit record's <code>hash</code> is the lower-case hex SHA-256 of the canonical JSON of all its "
        "other fields (chain, seq, prev_hash, event_id, version_id, detail_type, source, occurred_at, "
        "recorded_at, actor, correlation_id, envelope_id, facts): keys sorted at every level, separators "
        "<code>,</code> and <code>:</code> without spaces, non-ASCII kept as UTF-8. Its <code>prev_hash</code> is "
        "the hash of the record before it in the chain (64 zeros for the first). The records in the .evidence.json "
        "file are written in exactly that form, so with Python:</p>\n"
        f"<pre>{_e(recipe)}</pre>\n"
        "<p>See docs/audit.md (“Evidence packs”) for the details and other languages. "
        f"{_e(ANCHORS_NOTE)}</p>\n</footer>"
    )
