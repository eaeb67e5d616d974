"""The approval page: evidence, decision form, notices and headers, read as a browser would."""

from __future__ import annotations

import html
from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser
from typing import Any

import pytest
from pydantic import ValidationError

from fmops.approvals.engine import MAX_REASON_CHARS, Channel, Verdict
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
from fmops.gate.decision import GateDecision, RuleResult
from fmops.gate.policy import Stage
from fmops.manifest import Manifest, RiskTier
from fmops.metrics import builtin_metric

from tests.unit.builders import WEIGHTS, manifest_document

APPROVAL_ID = "apr_01JD6Z3K8Q4W2N5M7P9R1T3V5X"
LINK_TOKEN = "Q3VyaW91c2x5U2Vj.dmVyaWZpZXItb2YtYS10ZXN0LWxpbmstbm90LXJlYWwtMTI"  # pragma: allowlist secret (fake)
CSRF = "Y3NyZi10b2tlbi1vZi1hLXRlc3QtcGFnZS1ub3QtcmVhbA"  # pragma: allowlist secret (fake)
NOW = datetime(2026, 11, 27, 9, 0, tzinfo=UTC)
EXPIRES_AT = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)
FORM_ACTION = f"/approvals/{APPROVAL_ID}/decision"
DECISION_URI = "s3://fmops-evidence/gate-decisions/sentiment-classifier/1.4.0/prod.json"
HOSTILE = '<script>alert("x")</script><img src=x onerror=alert(1)> & \' "'
VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}


# ------------------------------------------------------------------------------ builders


def manifest(**overrides: Any) -> Manifest:
    return Manifest.model_validate(manifest_document("sentiment-classifier", "1.4.0", **overrides))


def rule(rule_id: str, passed: bool = True, **changes: Any) -> RuleResult:
    fields: dict[str, Any] = {
        "rule_id": rule_id,
        "description": f"what {rule_id} checks",
        "observed": 0.84,
        "threshold": ">= 0.8",
        "passed": passed,
        "reason": "within the bound" if passed else "outside the bound",
    }
    fields.update(changes)
    return RuleResult(**fields)


def gate(*rules: RuleResult, version_id: str = "sentiment-classifier/1.4.0", stage: Stage = Stage.PROD) -> GateDecision:
    rules = rules or (
        rule("required_field.base_model.licence", observed="apache-2.0", threshold="present"),
        rule("forbidden_classifications.prod", observed="internal", threshold="none of: restricted"),
        rule("threshold.token_f1"),
        rule("threshold.toxicity_rate", observed=0.004, threshold="<= 0.01"),
        rule("champion_challenger.token_f1", threshold=">= 0.79 (production 0.81 - 0.02)"),
    )
    return GateDecision(
        version_id=version_id,
        stage=stage,
        risk_tier=RiskTier.MEDIUM,
        passed=all(r.passed for r in rules),
        policy_version="2026.11.1",
        policy_model_group="*",
        policy_sha256="cd" * 32,
        rules=list(rules),
    )


CANDIDATE = [
    builtin_metric("token_f1", 0.84, 500),
    builtin_metric("toxicity_rate", 0.004, 500),
    builtin_metric("latency_p95_ms", 412, 200),
]
CHAMPION = [
    builtin_metric("token_f1", 0.81, 480),
    builtin_metric("toxicity_rate", 0.002, 480),
    builtin_metric("cost_per_1k_tokens_usd", 0.0021, 480),
]


def page(**changes: Any) -> EvidencePage:
    fields: dict[str, Any] = {
        "approval_id": APPROVAL_ID,
        "stage": Stage.PROD,
        "manifest": manifest(),
        "gate": gate(),
        "decision_uri": DECISION_URI,
        "champion_version_id": "sentiment-classifier/1.3.2",
        "champion_metrics": CHAMPION,
        "candidate_metrics": CANDIDATE,
        "decisions": [
            DecisionLine(
                approver_display="Rita Reviewer",
                approver_id="rita.reviewer",
                verdict=Verdict.APPROVE,
                channel=Channel.SLACK,
                decided_at=datetime(2026, 11, 26, 15, 30, tzinfo=UTC),
                reason="Metrics and lineage look right.",
            )
        ],
        "approvals": 1,
        "quorum": 2,
        "still_eligible": ["Rob Reviewer", "Ruth Reviewer"],
        "expires_at": EXPIRES_AT,
        "viewer_display": "Rob Reviewer",
        "viewer_id": "rob.reviewer",
        "submitter_id": "ana.silva",
        "form_action": FORM_ACTION,
        "hidden_fields": {"approver": "rob.reviewer", "token": LINK_TOKEN, "csrf_token": CSRF},
        "now": NOW,
    }
    fields.update(changes)
    return EvidencePage(**fields)


class Dom(HTMLParser):
    """Every element with its attributes, the text of each element with an id, and nesting checked."""

    def __init__(self, document: str) -> None:
        super().__init__(convert_charrefs=True)
        self.elements: list[tuple[str, dict[str, str]]] = []
        self.text: dict[str, str] = {}
        self.style = ""
        self.headings: list[str] = []
        self._open: list[tuple[str, str | None]] = []
        self.feed(document)
        self.close()
        assert not self._open, f"unclosed elements: {self._open}"

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self._boundary()
        attributes = {name: value or "" for name, value in attrs}
        self.elements.append((tag, attributes))
        if tag not in VOID:
            self._open.append((tag, attributes.get("id")))
            if "id" in attributes:
                self.text[attributes["id"]] = ""
            if tag == "h2":
                self.headings.append("")

    def handle_endtag(self, tag: str) -> None:
        self._boundary()
        assert self._open and self._open[-1][0] == tag, f"</{tag}> closes {self._open[-1:]}"
        self._open.pop()

    def handle_data(self, data: str) -> None:
        for tag, element_id in self._open:
            if element_id is not None:
                self.text[element_id] += data
            if tag == "style":
                self.style += data
            if tag == "h2":
                self.headings[-1] += data

    def _boundary(self) -> None:
        # Cells and paragraphs read apart, as a browser shows them.
        for _, element_id in self._open:
            if element_id is not None:
                self.text[element_id] += " "

    def words(self, element_id: str) -> str:
        """The element's text, whitespace collapsed."""
        return " ".join(self.text[element_id].split())

    def by_id(self, element_id: str) -> dict[str, str]:
        found = [attrs for _, attrs in self.elements if attrs.get("id") == element_id]
        assert len(found) == 1, f"{len(found)} elements with id {element_id}"
        return found[0]

    def tags(self, tag: str, **attrs: str) -> list[dict[str, str]]:
        return [a for t, a in self.elements if t == tag and all(a.get(k) == v for k, v in attrs.items())]


def set_path(document: dict[str, Any], path: str, value: str) -> None:
    *parents, leaf = path.split(".")
    node: Any = document
    for part in parents:
        node = node[int(part)] if part.isdigit() else node[part]
    node[leaf] = value


def assert_no_active_content(document: str) -> None:
    dom = Dom(document)
    assert "<script" not in document.lower()
    forbidden = {"script", "link", "img", "iframe", "object", "embed", "base", "frame", "svg", "audio", "video"}
    assert not [tag for tag, _ in dom.elements if tag in forbidden]
    for tag, attrs in dom.elements:
        assert not [name for name in attrs if name.startswith("on")], f"event handler on <{tag}>"
        assert not {"src", "href", "srcset", "poster", "http-equiv"} & attrs.keys(), f"<{tag}> loads something"
        for value in attrs.values():
            assert not value.lower().startswith(("http://", "https://", "//", "javascript:", "data:"))
    assert "url(" not in dom.style
    assert "@import" not in dom.style


# ------------------------------------------------------------------------------ the evidence page


def test_the_page_shows_each_section_and_the_stable_ids_a_browser_test_needs() -> None:
    # Given the evidence of a version waiting for its second prod approval
    document = render_evidence_page(page())

    # When a browser reads it
    dom = Dom(document)

    # Then it is one HTML5 document with a section per kind of evidence
    assert document.startswith('<!DOCTYPE html>\n<html lang="en">')
    assert dom.headings == [
        "Model card",
        "Lineage",
        "Gate decision",
        "Champion vs challenger",
        "Approvals so far",
        "Your decision",
    ]
    assert "Who may still decide" in dom.text["approvals"]
    assert dom.words("approvals").startswith("Approvals so far")
    # And the elements a browser test drives are there, once each
    for element_id in ("model-card", "gate-table", "approvals-count", "decision-form", "approve", "reject", "reason"):
        dom.by_id(element_id)
    card = dom.text["model-card"]
    for fact in (
        "Route customer reviews by sentiment.",
        "English only; not for medical or legal text.",
        "customer-insights",
        "fine-tuned",
        "text-classification",
        "medium",
        "distilbert-base-uncased",
        "huggingface",
        "apache-2.0",
        "ana.silva",
    ):
        assert fact in card, fact


def test_lineage_lists_datasets_with_classification_code_job_and_artifact_hashes() -> None:
    # Given a manifest with a dataset, code, a training job and two artifacts, one of 3 MiB
    big = {"path": "model/shard-1.bin", "sha256": "ab" * 32, "size_bytes": 3 * 1024 * 1024}
    document = manifest_document("sentiment-classifier", "1.4.0")
    document["artifacts"].append(big)

    # When the page is rendered
    lineage = Dom(render_evidence_page(page(manifest=Manifest.model_validate(document)))).text["lineage"]

    # Then each fact is shown as text, hashes in full
    for fact in (
        "reviews-2026",
        "s3://data/reviews/2026/",
        "internal",
        "https://git.example.com/ml/sentiment",
        "3f2a9c1",
        "arn:aws:sagemaker:us-east-1:123456789012:training-job/sentiment-42",
        "model/weights.bin",
        "config.json",
        "ab" * 32,
        "3.0 MiB",
        f"{len(WEIGHTS)} B",
    ):
        assert fact in lineage, fact
    for artifact in document["artifacts"]:
        assert artifact["sha256"] in lineage


MANIFEST_TEXT_FIELDS = [
    "description",
    "task",
    "intended_use",
    "limitations",
    "owner_team",
    "base_model.name",
    "base_model.provider",
    "base_model.licence",
    "lineage.datasets.0.name",
    "lineage.datasets.0.uri",
    "lineage.code.repository",
    "lineage.training_job",
]


@pytest.mark.parametrize("field", MANIFEST_TEXT_FIELDS)
def test_hostile_text_in_a_shown_manifest_field_comes_out_escaped(field: str) -> None:
    # Given a manifest whose field carries markup meant to run in the approver's browser
    document = manifest_document("sentiment-classifier", "1.4.0")
    hostile = f"{field}: {HOSTILE}"
    set_path(document, field, hostile)

    # When the page is rendered
    rendered = render_evidence_page(page(manifest=Manifest.model_validate(document)))

    # Then the text is shown literally and no markup of it survives
    assert html.escape(hostile, quote=True) in rendered
    assert_no_active_content(rendered)


def test_a_hostile_submitter_email_comes_out_escaped() -> None:
    # Given an e-mail address the manifest's pattern lets through, with markup but no spaces
    email = '<script>alert("e")</script>@evil.example'
    rendered = render_evidence_page(page(manifest=manifest(submitter={"id": "ana.silva", "email": email})))

    # Then it is shown as text
    assert html.escape(email) in rendered
    assert_no_active_content(rendered)


def test_hostile_text_from_the_gate_the_approvers_and_the_route_comes_out_escaped() -> None:
    # Given markup in rule texts, a decision's reason, names, the champion's id and the URIs
    hostile_rule = rule(
        f"rule {HOSTILE}", description=f"d {HOSTILE}", observed=f"o {HOSTILE}", threshold=f"t {HOSTILE}"
    )
    decision = DecisionLine(
        approver_display=f"name {HOSTILE}",
        approver_id=f"id {HOSTILE}",
        verdict=Verdict.APPROVE,
        channel=Channel.EMAIL,
        decided_at=NOW,
        reason=f"reason {HOSTILE}",
    )
    view = page(
        gate=gate(hostile_rule),
        decisions=[decision],
        still_eligible=[f"eligible {HOSTILE}"],
        champion_version_id=f"champion {HOSTILE}",
        decision_uri=f"s3://x/{HOSTILE}",
        viewer_display=f"viewer {HOSTILE}",
        viewer_id=f"viewer-id {HOSTILE}",
        submitter_id=f"submitter {HOSTILE}",
        hidden_fields={"approver": "rob", "token": f'"><script>alert(1)</script>{LINK_TOKEN}', "csrf_token": CSRF},
    )

    # When the page is rendered
    rendered = render_evidence_page(view)

    # Then each appears escaped, and the hidden value stays inside its attribute
    for prefix in ("rule", "d", "o", "t", "name", "id", "reason", "eligible", "champion", "viewer", "submitter"):
        assert html.escape(f"{prefix} {HOSTILE}", quote=True) in rendered, prefix
    assert html.escape(f"s3://x/{HOSTILE}", quote=True) in rendered
    assert_no_active_content(rendered)
    token_input = Dom(rendered).tags("input", name="token")
    assert [i["value"] for i in token_input] == [f'"><script>alert(1)</script>{LINK_TOKEN}']


def test_the_page_has_no_script_and_loads_nothing_from_anywhere() -> None:
    # Given the example page, whose manifest names an https repository
    rendered = render_evidence_page(page())

    # Then there is no script, no asset and no link; the repository and decision URI are plain text
    assert_no_active_content(rendered)
    assert "<a " not in rendered
    assert "https://git.example.com/ml/sentiment" in Dom(rendered).text["lineage"]
    assert DECISION_URI in Dom(rendered).text["gate"]
    assert "base64" not in rendered


def test_the_decision_form_posts_both_verdicts_a_reason_and_the_hidden_fields() -> None:
    # Given the page of Rob's link
    dom = Dom(render_evidence_page(page()))

    # Then one form posts to the decision path on this origin
    form = dom.by_id("decision-form")
    assert (form["method"], form["action"]) == ("post", FORM_ACTION)
    # And carries the approver, the link token and the CSRF token as hidden inputs
    hidden = {i["name"]: i["value"] for i in dom.tags("input", type="hidden")}
    assert hidden == {"approver": "rob.reviewer", "token": LINK_TOKEN, "csrf_token": CSRF}
    # And two submit buttons name the verdict
    approve, reject = dom.by_id("approve"), dom.by_id("reject")
    assert (approve["type"], approve["name"], approve["value"]) == ("submit", "verdict", "approve")
    assert (reject["type"], reject["name"], reject["value"]) == ("submit", "verdict", "reject")
    # And a reason box says when it is needed and is bounded like the engine's reason
    reason = dom.by_id("reason")
    assert (reason["name"], reason["maxlength"]) == ("reason", str(MAX_REASON_CHARS)) == ("reason", "2000")
    assert dom.tags("label", **{"for": "reason"})
    assert "Reason (required to reject, optional to approve)" in dom.text["decide"]
    assert "Rob Reviewer" in dom.text["decide"]


def test_the_tokens_stay_out_of_repr_str_and_dumps() -> None:
    # Given a page holding the link token and the CSRF token
    view = page()

    # Then neither shows when the view is printed, logged or dumped
    for shown in (repr(view), str(view), view.model_dump_json(), str(view.model_dump())):
        assert LINK_TOKEN not in shown
        assert CSRF not in shown
    # And both are written into the form, once each
    rendered = render_evidence_page(view)
    assert rendered.count(LINK_TOKEN) == 1
    assert rendered.count(CSRF) == 1


def test_the_gate_table_lists_every_rule_with_pass_fail_or_skipped() -> None:
    # Given a gate that failed one rule and skipped the champion comparison
    rules = (
        rule("threshold.token_f1"),
        rule("threshold.toxicity_rate", passed=False, observed=0.02, threshold="<= 0.01"),
        rule("champion_challenger.token_f1", skipped=True, threshold=None, reason="no version in production"),
    )
    dom = Dom(render_evidence_page(page(gate=gate(*rules))))

    # Then each rule has a row, in order, with its result
    rows = [(r["data-rule-id"], r["data-result"]) for r in dom.tags("tr") if "data-rule-id" in r]
    assert rows == [
        ("threshold.token_f1", "pass"),
        ("threshold.toxicity_rate", "fail"),
        ("champion_challenger.token_f1", "skip"),
    ]
    table = dom.text["gate-table"]
    assert (table.count("PASS"), table.count("FAIL"), table.count("SKIPPED")) == (1, 1, 1)
    assert "0.02" in table and "<= 0.01" in table
    # And the gate's failure is not dressed up as a pass
    assert "FAILED" in dom.text["gate"]
    assert "1 of 3 rules failed" in dom.text["gate"]
    assert "sha256" in dom.text["gate"] and "cd" * 32 in dom.text["gate"]


def test_a_passed_gate_says_so_with_its_policy() -> None:
    gate_text = Dom(render_evidence_page(page())).text["gate"]
    assert "PASSED" in gate_text
    assert "5 rules: 5 passed" in gate_text
    assert "2026.11.1" in gate_text


def test_candidate_and_champion_metrics_side_by_side_with_their_delta() -> None:
    # Given a version serving in prod with metrics of its own
    dom = Dom(render_evidence_page(page()))

    # Then each metric of either version has one row: candidate, champion, signed delta, direction
    rows = {r["data-metric"] for r in dom.tags("tr") if "data-metric" in r}
    assert rows == {"token_f1", "toxicity_rate", "latency_p95_ms", "cost_per_1k_tokens_usd"}
    champion = dom.words("champion")
    assert "sentiment-classifier/1.3.2" in champion
    assert "token_f1 ratio 0.84 n=500 0.81 n=480 +0.03 (better)" in champion
    assert "toxicity_rate ratio 0.004 n=500 0.002 n=480 +0.002 (worse)" in champion
    # And a metric only one side reports has a dash where the other's would be
    assert "latency_p95_ms ms 412 n=200 — —" in champion
    assert "cost_per_1k_tokens_usd usd — 0.0021 n=480 —" in champion
    assert "no version serving yet" not in champion.lower()


def test_without_a_champion_the_page_says_no_version_is_serving_yet() -> None:
    # Given the first version of a model group
    dom = Dom(render_evidence_page(page(champion_version_id=None, champion_metrics=[])))

    # Then there is nothing to compare with, and the candidate's metrics are shown alone
    assert "No version serving yet in prod" in dom.text["no-champion"]
    champion = dom.words("metrics-table")
    assert "token_f1 ratio 0.84 n=500 — —" in champion


def test_a_rollbacks_page_says_it_approves_a_rollback() -> None:
    # Given a manual rollback's own approval of prod to this version
    rendered = render_evidence_page(page(rollback=True))

    # Then the title and the header say what is approved
    dom = Dom(rendered)
    assert "<title>Approve the rollback of prod to sentiment-classifier/1.4.0</title>" in rendered
    assert dom.words("occasion").startswith("Rollback of prod to sentiment-classifier/1.4.0")
    # And a version's own approval has no such line
    assert 'id="occasion"' not in render_evidence_page(page()) and "id=occasion" not in render_evidence_page(page())


def test_approvals_so_far_count_the_decisions_and_who_may_still_decide() -> None:
    # Given one approval of two, by Rita over Slack
    dom = Dom(render_evidence_page(page()))

    # Then the count reads "1 of 2" and Rita's decision is listed
    assert dom.words("approvals-count") == "1 of 2"
    decisions = dom.words("decisions-table")
    assert "Rita Reviewer rita.reviewer approve slack 2026-11-26T15:30:00+00:00" in decisions
    assert "Metrics and lineage look right." in decisions
    # And the people who may still decide are named
    assert [n for n in ("Rob Reviewer", "Ruth Reviewer") if n in dom.text["still-eligible"]] == [
        "Rob Reviewer",
        "Ruth Reviewer",
    ]


def test_no_decisions_yet_and_nobody_left() -> None:
    dom = Dom(render_evidence_page(page(decisions=[], approvals=0, quorum=1, still_eligible=[])))
    assert dom.words("approvals-count") == "0 of 1"
    assert "No decisions yet." in dom.text["approvals"]
    assert "Nobody else." in dom.text["still-eligible"]


@pytest.mark.parametrize(
    ("until_expiry", "relative"),
    [
        (timedelta(days=1, hours=3), "in 1 day 3 hours"),
        (timedelta(days=2, minutes=5), "in 2 days"),
        (timedelta(hours=1, minutes=1), "in 1 hour 1 minute"),
        (timedelta(minutes=45, seconds=30), "in 45 minutes"),
        (timedelta(seconds=30), "in less than a minute"),
        (timedelta(0), "expired"),
        (timedelta(hours=-1), "expired"),
    ],
)
def test_expiry_is_shown_in_iso_and_relative_to_now(until_expiry: timedelta, relative: str) -> None:
    dom = Dom(render_evidence_page(page(now=EXPIRES_AT - until_expiry)))
    assert dom.words("expires") == f"Expires at 2026-11-28T12:00:00+00:00 ({relative})"
    assert dom.tags("time", datetime="2026-11-28T12:00:00+00:00")


def test_the_example_page_stays_small() -> None:
    rendered = render_evidence_page(page())
    assert len(rendered.encode()) < 30 * 1024


# ------------------------------------------------------------------------------ what the view refuses


def test_the_gate_decision_of_another_version_is_refused() -> None:
    with pytest.raises(ValidationError, match="gate decision must be the one"):
        page(gate=gate(version_id="sentiment-classifier/1.3.2"))


def test_the_gate_may_have_judged_another_stage_than_the_one_approved() -> None:
    # Given the gate judged the version for prod (the end of its road) and the approval is for dev
    rendered = render_evidence_page(page(gate=gate(stage=Stage.PROD), stage=Stage.DEV))
    # Then the page shows it
    assert 'id="gate-table"' in rendered


@pytest.mark.parametrize(
    "action", ["https://evil.example/decide", "//evil.example/decide", "approvals/x", "/a b", '/a"onmouseover=x']
)
def test_the_form_posts_only_to_a_path_on_this_origin(action: str) -> None:
    with pytest.raises(ValidationError, match="form_action"):
        page(form_action=action)


@pytest.mark.parametrize("name", ["verdict", "reason", "bad name", '"x', ""])
def test_a_hidden_field_cannot_shadow_the_form_or_break_out_of_its_name(name: str) -> None:
    with pytest.raises(ValidationError, match="hidden field names"):
        page(hidden_fields={name: "x"})


def test_more_approvals_than_the_quorum_or_a_metric_twice_is_refused() -> None:
    with pytest.raises(ValidationError, match="exceed the quorum"):
        page(approvals=3, quorum=2)
    with pytest.raises(ValidationError, match="candidate metrics list a metric more than once"):
        page(candidate_metrics=[*CANDIDATE, CANDIDATE[0]])


# ------------------------------------------------------------------------------ notices and headers


@pytest.mark.parametrize("kind", list(NoticeKind))
def test_each_notice_names_its_kind_and_shows_its_text_escaped(kind: NoticeKind) -> None:
    # Given a refusal or outcome whose text carries markup
    rendered = render_notice(
        kind, f"Title {HOSTILE}", f"Message {HOSTILE}", version_id="sentiment-classifier/1.4.0", stage=Stage.PROD
    )

    # When a browser reads it
    dom = Dom(rendered)

    # Then one notice element carries the kind, the text is literal and the version and stage are named
    notice = dom.by_id("notice")
    assert notice["data-kind"] == kind.value
    assert f"Title {HOSTILE}" in dom.text["notice"]
    assert f"Message {HOSTILE}" in dom.text["notice"]
    assert "sentiment-classifier/1.4.0" in dom.text["notice"] and "prod" in dom.text["notice"]
    assert_no_active_content(rendered)
    assert rendered.count("<style>") == 1


def test_a_notice_without_version_or_stage_omits_them() -> None:
    dom = Dom(render_notice(NoticeKind.INVALID_LINK, "This link is not valid", "Ask for a new one."))
    assert dom.words("notice") == "This link is not valid Ask for a new one. You can close this page."


def test_the_decided_notice_shows_the_verdict_and_the_progress() -> None:
    # Given Rob's approval is the first of two
    message = decided_message(Verdict.APPROVE, 1, 2, Stage.PROD)
    dom = Dom(render_notice(NoticeKind.DECIDED, "Approval recorded", message, version_id="sentiment-classifier/1.4.0"))

    # Then the confirmation says what was recorded and how far the stage is
    assert "Your approval is recorded: 1 of 2 approvals" in dom.text["notice"]
    assert dom.by_id("notice")["data-kind"] == "decided"
    assert decided_message(Verdict.APPROVE, 2, 2, Stage.PROD).endswith("2 of 2 approvals. The prod stage is approved.")
    assert decided_message(Verdict.REJECT, 0, 2, Stage.PROD).startswith("Your rejection is recorded")


def test_every_notice_kind_has_a_status() -> None:
    assert set(NOTICE_STATUS) == set(NoticeKind)
    assert NOTICE_STATUS[NoticeKind.DECIDED] == 200
    assert all(400 <= status < 600 for kind, status in NOTICE_STATUS.items() if kind is not NoticeKind.DECIDED)


def test_every_page_response_carries_the_security_headers() -> None:
    assert PAGE_HEADERS == {
        "Content-Type": "text/html; charset=utf-8",
        "Cache-Control": "no-store",
        "Pragma": "no-cache",
        "Referrer-Policy": "no-referrer",
        "X-Content-Type-Options": "nosniff",
        "X-Frame-Options": "DENY",
        "Content-Security-Policy": (
            "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
        ),
        "X-Robots-Tag": "noindex, nofollow",
    }


def test_the_csp_allows_no_script_at_all() -> None:
    # Given the policy's directives
    directives = {
        name: values for name, *values in (d.split() for d in PAGE_HEADERS["Content-Security-Policy"].split(";"))
    }

    # Then scripts fall back to default-src 'none', and only styles may be inline
    assert directives["default-src"] == ["'none'"]
    assert not {"script-src", "script-src-elem", "script-src-attr"} & directives.keys()
    assert [name for name, values in directives.items() if "'unsafe-inline'" in values] == ["style-src"]
    assert directives["form-action"] == ["'self'"]
    assert directives["frame-ancestors"] == ["'none'"]
    assert directives["base-uri"] == ["'none'"]


def test_a_passed_gate_counts_its_skipped_rules_apart() -> None:
    # Given a passed gate whose champion comparison was skipped (nothing serves yet)
    rules = (
        rule("threshold.token_f1"),
        rule("champion_challenger.token_f1", skipped=True, threshold=None, reason="no version in production"),
    )
    gate_text = Dom(render_evidence_page(page(gate=gate(*rules)))).text["gate"]
    # Then the summary does not call the skipped rule passed
    assert "2 rules: 1 passed, 1 skipped" in gate_text
