"""The evidence pack (`fmops audit export`): what auditors read and check, built from hand-made records."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser
from typing import Any

from fmops.gate.decision import evaluate_gate
from fmops.gate.policy import Stage
from fmops.ledger import ChainHead, record_hash, seal, verify_chain
from fmops.manifest import Manifest
from fmops.metrics import Metric
from fmops.records import AcceptedEvaluation, AuditRecord, CatalogRecord, GateOutcome, SealedRecord
from fmops.statuses import VersionStatus
from fmops_cli.evidence_pack import EvidencePack, Unreadable, build_pack, render_html, render_json

from tests.unit.gate.builders import good_metrics, manifest, shipped

AT = datetime(2026, 11, 26, 12, tzinfo=UTC)
GROUP, VERSION = "sentiment", "1.0.0"
VERSION_ID = f"{GROUP}/{VERSION}"
PACKAGE = "arn:aws:sagemaker:us-east-1:123456789012:model-package/sentiment/1"
EVIDENCE_URI = "s3://fmops-evidence/evaluations/sentiment/1.0.0/builtin-text.json"
DECISION_URI = "s3://fmops-evidence/gate-decisions/sentiment/1.0.0/prod.json"
EVIDENCE = {"evaluator": "fmops:builtin-text", "dataset": {"path": "eval/golden.jsonl", "sha256": "ab" * 32}}
LIFECYCLE = [
    "Model Version Registered",
    "Model Version Promotion Started",
    "Evaluation Completed",
    "Model Version Gate Decided",
]


def catalog_record(card: Manifest, metrics: list[Metric]) -> CatalogRecord:
    """The catalog record of a version the gate judged under the shipped default policy."""
    policy, sha256 = shipped("default.json")
    decision = evaluate_gate(policy, sha256, card, metrics, None, Stage.PROD)
    return CatalogRecord(
        version_id=card.version_id,
        model_group=card.model_group,
        version=card.version,
        status=VersionStatus.PENDING_APPROVAL if decision.passed else VersionStatus.REJECTED,
        manifest_uri=f"s3://fmops-artifacts/models/{card.version_id}/manifest.json",
        manifest_sha256="cd" * 32,
        created_at=AT,
        updated_at=AT + timedelta(minutes=3),
        kind=card.kind.value,
        risk_tier=card.risk_tier.value,
        submitter="ana.silva",
        submitter_email="ana.silva@example.com",
        model_package_arn=PACKAGE,
        evaluation=AcceptedEvaluation(
            event_id=f"{card.version_id}#evaluation#builtin-text",
            evaluator="fmops:builtin-text",
            reported_by="fmops",
            succeeded=True,
            metrics=metrics,
            evidence_uri=EVIDENCE_URI,
            received_at=AT + timedelta(minutes=2),
        ),
        gate=GateOutcome(decision=decision, decision_uri=DECISION_URI, decided_at=AT + timedelta(minutes=3)),
    )


def chain_of_records(detail_types: list[str], version_id: str = VERSION_ID) -> list[SealedRecord]:
    """The version's records, sealed one after the other into its group's chain."""
    sealed: list[SealedRecord] = []
    for index, detail_type in enumerate(detail_types):
        head = ChainHead(chain=GROUP, seq=sealed[-1].seq, hash=sealed[-1].hash) if sealed else None
        record = AuditRecord(
            version_id=version_id,
            event_id=f"{version_id}#{index}",
            detail_type=detail_type,
            source="fmops",
            occurred_at=AT + timedelta(seconds=index),
            recorded_at=AT + timedelta(seconds=index, milliseconds=5),
            actor="ana.silva" if detail_type.startswith("Approval") else "fmops:promotion",
            correlation_id=version_id,
            envelope_id=f"envelope-{index}",
            facts={"index": index, "score": 0.68, "note": "ünïcode"},
        )
        sealed.append(seal(record, GROUP, head))
    return sealed


def pack_of(
    card: Manifest | None = None,
    metrics: list[Metric] | None = None,
    records: list[SealedRecord] | None = None,
    manifest_read: Manifest | Unreadable | None = None,
    evidence: Any = EVIDENCE,
) -> EvidencePack:
    card = card or manifest(group=GROUP, version=VERSION)
    records = records if records is not None else chain_of_records(LIFECYCLE)
    head = ChainHead(chain=GROUP, seq=records[-1].seq, hash=records[-1].hash) if records else None
    report = verify_chain(GROUP, records, head)
    record = catalog_record(card, metrics or good_metrics())
    return build_pack(record, manifest_read or card, evidence, records, report, generated_at=AT + timedelta(hours=1))


class Tables(HTMLParser):
    """The rows of every table on a page: table label -> [(row class, [cell texts])]."""

    def __init__(self) -> None:
        super().__init__()
        self.tables: dict[str, list[tuple[str, list[str]]]] = {}
        self._table: str | None = None
        self._cell: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        named = dict(attrs)
        if tag == "table":
            self._table = named.get("aria-label") or ""
            self.tables.setdefault(self._table, [])
        elif tag == "tr" and self._table is not None:
            self.tables[self._table].append((named.get("class") or "", []))
        elif tag == "td" and self._table is not None:
            self._cell = []

    def handle_endtag(self, tag: str) -> None:
        if tag == "td" and self._cell is not None and self._table is not None:
            self.tables[self._table][-1][1].append("".join(self._cell).strip())
            self._cell = None
        elif tag == "table":
            self._table = None

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell.append(data)


SAFE_TAGS = {
    "html", "head", "meta", "title", "style", "body", "main", "header", "section", "footer", "h1", "h2", "h3", "p",
    "span", "strong", "code", "pre", "table", "thead", "tbody", "tr", "th", "td", "dl", "dt", "dd", "ul", "li",
    "details", "summary",
}  # fmt: skip
SAFE_ATTRIBUTES = {"lang", "charset", "http-equiv", "content", "name", "id", "class", "title", "role", "aria-label"}


class Markup(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: set[str] = set()
        self.attributes: set[str] = set()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.add(tag)
        self.attributes.update(name for name, _ in attrs)


def markup(page: str) -> tuple[set[str], set[str]]:
    """Every tag and attribute name the page really contains (text that looks like markup is not markup)."""
    parser = Markup()
    parser.feed(page)
    return parser.tags, parser.attributes


def tables(page: str) -> dict[str, list[tuple[str, list[str]]]]:
    parser = Tables()
    parser.feed(page)
    return {label: [row for row in rows if row[1]] for label, rows in parser.tables.items()}  # body rows only


def test_a_passed_version_has_its_verdict_decision_and_records_in_the_pack() -> None:
    # Given a version that passed its gate, with four audit records in an intact chain
    # When its pack is built
    pack = pack_of()

    # Then the verdict line says it all, and every section holds what the catalog and the trail hold
    assert pack.verdict == (
        "sentiment/1.0.0 — PendingApproval — gate PASSED under policy * 2026.11.1 — audit chain intact (4 records)"
    )
    assert pack.version.model_package_arn == PACKAGE and pack.version.submitter == "ana.silva"
    assert pack.manifest.card is not None and pack.manifest.card["intended_use"].startswith("Route customer")
    assert [artifact.path for artifact in pack.manifest.artifacts] == ["model/weights.bin", "config.json"]
    assert pack.evaluation is not None and pack.evaluation.evidence == EVIDENCE
    assert {metric.name: metric.sample_size for metric in pack.evaluation.metrics}["token_f1"] == 500
    assert pack.gate is not None and pack.gate.passed and pack.gate.decision_uri == DECISION_URI
    assert [record.seq for record in pack.audit_records] == [1, 2, 3, 4]
    assert pack.chain.ok and pack.chain.first_break is None


def test_every_record_in_the_json_recomputes_to_its_hash_as_docs_audit_md_says() -> None:
    # Given the JSON of a pack
    document = json.loads(render_json(pack_of()))

    # When an auditor hashes each record's canonical JSON without its hash (the recipe in the footer)
    for record in document["audit_records"]:
        content = {key: value for key, value in record.items() if key != "hash"}
        text = json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=False)

        # Then it is the recorded hash, which is also what the ledger computes
        assert hashlib.sha256(text.encode("utf-8")).hexdigest() == record["hash"]
        sealed = SealedRecord.model_validate(record)
        assert record_hash(sealed, sealed.chain, sealed.seq, sealed.prev_hash) == record["hash"]
    assert document["schema_version"] == "1"
    assert EvidencePack.model_validate(document) == pack_of()


def test_the_html_shows_the_verdict_every_rule_and_short_hashes_with_the_full_one_in_a_title() -> None:
    pack = pack_of()

    page = render_html(pack)

    assert f'id="verdict">{pack.verdict}</p>' in page
    assert pack.gate is not None
    rules = tables(page)["decision table"]
    assert [cells[1] for _, cells in rules] == [rule.rule_id for rule in pack.gate.rules]
    assert all(css != "fail" for css, _ in rules)
    records = tables(page)["audit records"]
    assert [cells[3] for _, cells in records] == LIFECYCLE
    for record in pack.audit_records:
        assert f'<code title="{record.hash}">{record.hash[:12]}…</code>' in page
    assert "docs/audit.md" in page and "sort_keys=True" in page


def test_a_failed_gate_highlights_exactly_the_failed_rules() -> None:
    # Given a version whose toxicity and F1 miss the policy
    pack = pack_of(metrics=good_metrics(toxicity_rate=0.3, token_f1=0.4))

    # When its page is rendered
    page = render_html(pack)

    # Then the verdict says how many rules failed and those rows, only those, are marked as failed
    assert pack.gate is not None
    assert "— Rejected — gate FAILED (2 of " in pack.verdict
    failed = [cells[1] for css, cells in tables(page)["decision table"] if css == "fail"]
    assert failed == ["threshold.token_f1", "threshold.toxicity_rate"]
    assert all(cells[0] == "FAIL" for css, cells in tables(page)["decision table"] if css == "fail")
    assert 'class="verdict bad"' in page


def test_model_metadata_is_escaped_everywhere_and_nothing_runs_or_is_fetched() -> None:
    # Given a model card, an evaluation document and an audit fact that carry markup
    attack = "<script>alert(1)</script>"
    card = manifest(group=GROUP, version=VERSION, description=attack, limitations='"><img src=x onerror=alert(2)>')
    records = chain_of_records(LIFECYCLE)
    evidence = {"notes": "</pre><script>alert(3)</script>"}

    # When the page is rendered
    page = render_html(pack_of(card=card, records=records, evidence=evidence))

    # Then the text is shown, escaped, and the page has no script, no image, no link, no fetch
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "&quot;&gt;&lt;img src=x onerror=alert(2)&gt;" in page
    assert "&lt;/pre&gt;&lt;script&gt;alert(3)" in page
    tags, attributes = markup(page)
    assert tags <= SAFE_TAGS, tags - SAFE_TAGS
    assert attributes <= SAFE_ATTRIBUTES, attributes - SAFE_ATTRIBUTES
    style = page.split("<style>")[1].split("</style>")[0]
    assert "url(" not in style and "@import" not in style
    assert "default-src 'none'" in page


def test_approvals_and_deployments_say_none_recorded_until_their_records_exist() -> None:
    # Given a version with no approval or deployment on record
    page = render_html(pack_of())

    # Then both sections say so plainly
    approvals = page.split('id="approvals"')[1].split("</section>")[0]
    deployments = page.split('id="deployments"')[1].split("</section>")[0]
    assert "None recorded." in approvals and "None recorded." in deployments
    assert "“Approval”" in approvals and "“Deployment” or “Rollback”" in deployments


def test_approvals_deployments_and_rollbacks_fill_their_sections_from_audit_records() -> None:
    # Given an approval, a deployment and a rollback on record
    records = chain_of_records([*LIFECYCLE, "Approval Recorded", "Deployment Succeeded", "Rollback Completed"])

    # When the pack is built
    pack = pack_of(records=records)

    # Then they are listed with who did it and through which channel
    assert [(event.detail_type, event.identity, event.channel) for event in pack.approvals] == [
        ("Approval Recorded", "ana.silva", "fmops")
    ]
    assert [event.detail_type for event in pack.deployments] == ["Deployment Succeeded", "Rollback Completed"]
    page = render_html(pack)
    assert [cells[1] for _, cells in tables(page)["approvals"]] == ["Approval Recorded"]
    assert "None recorded." not in page


def test_a_broken_chain_is_shown_at_the_top_and_in_its_section() -> None:
    # Given a chain whose second record was edited after it was sealed
    records = chain_of_records(LIFECYCLE)
    records[1] = records[1].model_copy(update={"actor": "mallory"})

    # When the pack is built and rendered
    pack = pack_of(records=records)
    page = render_html(pack)

    # Then the verdict, a banner and the chain section name the first break
    assert pack.verdict.endswith("— audit chain BROKEN at seq 2 (modified)")
    assert not pack.chain.ok and pack.chain.first_break is not None and pack.chain.first_break.seq == 2
    banner = page.split('role="alert">')[1].split("</p>")[0]
    assert "BROKEN (modified at seq 2)" in banner and "content does not match its hash" in banner
    chain = page.split('id="chain"')[1]
    assert "BROKEN" in chain and "modified at seq 2" in chain


def test_documents_that_cannot_be_read_are_named_with_the_reason_instead() -> None:
    # Given a registered manifest whose bytes are gone and an evidence document that cannot be read
    gone = Unreadable(uri="s3://fmops-artifacts/models/sentiment/1.0.0/manifest.json", reason="no longer registered")
    denied = Unreadable(uri=EVIDENCE_URI, reason="AccessDenied")

    # When the pack is built
    pack = pack_of(manifest_read=gone, evidence=denied)
    page = render_html(pack)

    # Then it says so where the documents would be
    assert pack.manifest.card is None and pack.manifest.unreadable == "no longer registered"
    assert pack.evaluation is not None and pack.evaluation.evidence is None
    assert pack.evaluation.evidence_unreadable == "AccessDenied"
    assert "could not be read: no longer registered" in page and "Not included: AccessDenied" in page
