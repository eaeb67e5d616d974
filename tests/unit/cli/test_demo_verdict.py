"""The demo's verdict: which outcomes pass and which fail, from given observations."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from fmops.gate.decision import GateDecision, RuleResult
from fmops.gate.policy import Stage
from fmops.manifest import Problem, RiskTier
from fmops.records import AuditRecord, CatalogRecord, GateOutcome
from fmops.statuses import VersionStatus
from fmops_cli.demo import Mail, ModelPackage, Observation, PageVisit, evaluate, failure_evidence, mails_about
from fmops_cli.status import VersionView

AT = datetime(2026, 11, 26, 12, tzinfo=UTC)
GOOD = "sentiment-classifier/demo-1"
LEAKY, TAMPERED = f"{GOOD}-leaky", f"{GOOD}-tampered"
SHA_MISMATCH = Problem(
    code="artifact_sha256_mismatch",
    message="adapter_model.safetensors has sha256 00, manifest says 14",
    field="artifacts.1",
)
PII_LEAK = Problem(
    code="gate_rule_failed",
    message="pii_leak_rate <= 0: 0.2 is outside <= 0 (n=40)",
    field="threshold.pii_leak_rate",
)
LEAK_MAIL = Mail(
    to=("demo.user@example.com",),
    subject=f"[fmops] {LEAKY} rejected: 1 failed rule",
    body=f"Why (1 failed rule):\n  1. gate_rule_failed [threshold.pii_leak_rate]: {PII_LEAK.message}\n",
)


def rule(rule_id: str, passed: bool) -> RuleResult:
    return RuleResult(
        rule_id=rule_id,
        description=rule_id,
        observed=0.0 if passed else 0.2,
        threshold="<= 0",
        passed=passed,
        reason="within" if passed else "outside",
    )


def gate(version_id: str, *failed_rules: str) -> GateOutcome:
    rules = [rule("threshold.token_f1", True), *(rule(rule_id, False) for rule_id in failed_rules)]
    decision = GateDecision(
        version_id=version_id,
        stage=Stage.PROD,
        risk_tier=RiskTier.MEDIUM,
        passed=not failed_rules,
        policy_version="2026.11.1",
        policy_model_group="*",
        policy_sha256="cd" * 32,
        rules=rules,
    )
    return GateOutcome(
        decision=decision, decision_uri=f"s3://evidence/gate-decisions/{version_id}/prod.json", decided_at=AT
    )


def record(
    version_id: str, status: VersionStatus, reasons: list[Problem] | None = None, decided: GateOutcome | None = None
) -> CatalogRecord:
    group, version = version_id.split("/")
    return CatalogRecord(
        version_id=version_id,
        model_group=group,
        version=version,
        status=status,
        manifest_uri=f"s3://b/models/{version_id}/manifest.json",
        manifest_sha256="ab" * 32,
        created_at=AT,
        updated_at=AT,
        reasons=reasons or [],
        gate=decided,
    )


def audit(version_id: str, *detail_types: str) -> tuple[AuditRecord, ...]:
    return tuple(
        AuditRecord(
            version_id=version_id,
            event_id=f"{version_id}#{detail_type}",
            detail_type=detail_type,
            source="fmops",
            occurred_at=AT,
            recorded_at=AT,
            actor="fmops:promotion",
            correlation_id=version_id,
            envelope_id="e",
            facts={},
        )
        for detail_type in detail_types
    )


GOOD_TRAIL = audit(
    GOOD,
    "Model Version Registered",
    "Model Version Evaluated",
    "Model Version Gate Decided",
    *["Approval Decision Recorded"] * 5,  # dev 2, preprod 1, prod 2
    "Model Version Approved",
)
BROKEN = f"{GOOD}-broken"


def deployed(version_id: str, kind: str, outcome: str) -> dict[str, str]:
    return {"version_id": version_id, "kind": kind, "outcome": outcome}


PROD_HISTORY = {"serving": {"version_id": GOOD, "approved_by": ["dara.novak", "eli.haddad"]}, "timeline": []}
DEV_HISTORY = {
    "serving": {"version_id": GOOD, "approved_by": ["ana.ortiz", "ben.okafor"]},
    "timeline": [
        deployed(GOOD, "deploy", "succeeded"),
        deployed(BROKEN, "deploy", "rolled_back"),
        deployed(GOOD, "rollback", "succeeded"),
    ],
}
PAGE = PageVisit(
    200,
    {
        "Cache-Control": "no-store",
        "Referrer-Policy": "no-referrer",
        "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'",
    },
    13_000,
    0.05,
)
LEAKY_TRAIL = audit(LEAKY, "Model Version Gate Decided", "Model Version Rejected")


def observation(**changes: object) -> Observation:
    fields: dict[str, object] = {
        "good": VersionView(GOOD, record(GOOD, VersionStatus.APPROVED, decided=gate(GOOD)), GOOD_TRAIL),
        "leaky": VersionView(
            LEAKY,
            record(LEAKY, VersionStatus.REJECTED, [PII_LEAK], decided=gate(LEAKY, "threshold.pii_leak_rate")),
            LEAKY_TRAIL,
        ),
        "tampered": VersionView(
            TAMPERED,
            record(TAMPERED, VersionStatus.REJECTED, [SHA_MISMATCH]),
            audit(TAMPERED, "Model Version Rejected"),
        ),
        "good_package": ModelPackage("Approved", {"fmops:gate": "passed"}),
        "leaky_mails": [LEAK_MAIL],
        "dead_letters": {"IntakeDeadLetterQueueUrl": 0, "NotifierDeadLetterQueueUrl": 0},
        "trail_intact": True,
        "trail_summary": "3 chain(s), 30 records, 1 anchor(s)",
        "evidence_pack": Path("evidence/sentiment-classifier_demo-1.evidence.html"),
        "page": PAGE,
        "slack_decided": True,
        "broken_version": BROKEN,
        "prod_history": PROD_HISTORY,
        "dev_history": DEV_HISTORY,
    }
    fields.update(changes)
    return Observation(**fields)  # type: ignore[arg-type]


def failed(seen: Observation) -> list[str]:
    return [check.name for check in evaluate(seen) if not check.passed]


GOOD_PENDING = f"{GOOD} is Approved, with a passed gate decision"
GOOD_PACKAGE = "its SageMaker model package is Approved and carries fmops:gate=passed"
GOOD_AUDITED = (
    "its audit trail records the gate decision, all five approvals (dev 2, preprod 1, prod 2) and the registry approval"
)
IN_PROD = f"{GOOD} serves in prod after its preprod and prod approvals (`fmops history`)"
ROLLED_BACK = f"{BROKEN} failed its smoke test in dev and dev was rolled back to {GOOD}"
PAGE_SERVED = "the approval page was served uncached, without referrer, under a script-free CSP"
SLACK_UPDATED = "the Slack approval message was updated in place once decided"
LEAKY_REJECTED = f"{LEAKY} is Rejected by the gate on threshold.pii_leak_rate"
LEAKY_TOLD = "its submitter was e-mailed why, naming threshold.pii_leak_rate"
TAMPERED_REJECTED = f"{TAMPERED} is Rejected for the tampered adapter_model.safetensors"
TAMPERED_AUDITED = "its audit trail records the rejection"


def test_the_expected_outcome_passes_every_check() -> None:
    checks = evaluate(observation())

    assert [check.name for check in checks] == [
        GOOD_PENDING,
        GOOD_PACKAGE,
        GOOD_AUDITED,
        PAGE_SERVED,
        SLACK_UPDATED,
        LEAKY_REJECTED,
        LEAKY_TOLD,
        TAMPERED_REJECTED,
        TAMPERED_AUDITED,
        IN_PROD,
        ROLLED_BACK,
        "the audit trail verifies against its anchors",
        f"the evidence pack of {GOOD} was written",
        "IntakeDeadLetterQueueUrl is empty",
        "NotifierDeadLetterQueueUrl is empty",
    ]
    assert all(check.passed for check in checks)


# ------------------------------------------------------------------ the good version


def test_a_good_version_still_evaluating_fails() -> None:
    # Given the good version waiting for its evaluation: no gate decision yet
    waiting = VersionView(GOOD, record(GOOD, VersionStatus.PENDING_EVALUATION), GOOD_TRAIL)

    assert failed(observation(good=waiting)) == [GOOD_PENDING]


def test_a_good_version_still_waiting_for_approval_fails() -> None:
    waiting = VersionView(GOOD, record(GOOD, VersionStatus.PENDING_APPROVAL, decided=gate(GOOD)), GOOD_TRAIL)

    assert failed(observation(good=waiting)) == [GOOD_PENDING]


def test_a_model_package_still_pending_manual_approval_fails() -> None:
    pending = ModelPackage("PendingManualApproval", {"fmops:gate": "passed"})

    assert failed(observation(good_package=pending)) == [GOOD_PACKAGE]


def test_an_approval_page_served_cacheable_fails() -> None:
    cacheable = PageVisit(200, {**PAGE.headers, "Cache-Control": "max-age=600"}, 13_000, 0.05)

    assert failed(observation(page=cacheable)) == [PAGE_SERVED]


def test_an_approval_page_never_opened_fails() -> None:
    assert failed(observation(page=None)) == [PAGE_SERVED]


def test_a_slack_message_left_undecided_fails() -> None:
    assert failed(observation(slack_decided=False)) == [SLACK_UPDATED]


def test_a_good_version_approved_without_a_passed_decision_fails() -> None:
    # Given Approved, but the recorded decision failed a rule
    contradicted = record(GOOD, VersionStatus.APPROVED, decided=gate(GOOD, "threshold.toxicity_rate"))

    assert failed(observation(good=VersionView(GOOD, contradicted, GOOD_TRAIL))) == [GOOD_PENDING]


def test_a_missing_model_package_fails() -> None:
    assert failed(observation(good_package=None)) == [GOOD_PACKAGE]


def test_a_model_package_without_the_gate_metadata_fails() -> None:
    assert failed(observation(good_package=ModelPackage("Approved", {}))) == [GOOD_PACKAGE]


def test_a_model_package_marked_failed_fails() -> None:
    marked = ModelPackage("Approved", {"fmops:gate": "failed"})

    assert failed(observation(good_package=marked)) == [GOOD_PACKAGE]


def test_a_gate_decision_missing_from_the_audit_trail_fails() -> None:
    trail = audit(GOOD, "Model Version Registered", "Model Version Evaluated", "Model Version Approved")
    good = VersionView(GOOD, record(GOOD, VersionStatus.APPROVED, decided=gate(GOOD)), trail)

    assert failed(observation(good=good)) == [GOOD_AUDITED]


# ------------------------------------------------------------------ the leaky version


def test_a_leaky_version_that_passed_the_gate_fails() -> None:
    passed = VersionView(LEAKY, record(LEAKY, VersionStatus.PENDING_APPROVAL, decided=gate(LEAKY)), LEAKY_TRAIL)

    assert failed(observation(leaky=passed)) == [LEAKY_REJECTED]


def test_a_leaky_version_rejected_on_another_rule_fails() -> None:
    # Given the leaky version rejected by the gate, but for its token F1 only
    other = Problem(code="gate_rule_failed", message="token_f1 >= 0.6: 0.5", field="threshold.token_f1")
    rejected = record(LEAKY, VersionStatus.REJECTED, [other], decided=gate(LEAKY, "threshold.token_f1"))

    assert failed(observation(leaky=VersionView(LEAKY, rejected, LEAKY_TRAIL))) == [LEAKY_REJECTED]


def test_no_e_mail_to_the_leaky_versions_submitter_fails() -> None:
    assert failed(observation(leaky_mails=[])) == [LEAKY_TOLD]


def test_an_e_mail_that_does_not_name_the_failed_rule_fails() -> None:
    vague = Mail(LEAK_MAIL.to, LEAK_MAIL.subject, "Your version was rejected.\n")

    assert failed(observation(leaky_mails=[vague])) == [LEAKY_TOLD]


def test_an_e_mail_to_someone_else_fails() -> None:
    elsewhere = Mail(("someone.else@example.com",), LEAK_MAIL.subject, LEAK_MAIL.body)

    assert failed(observation(leaky_mails=[elsewhere])) == [LEAKY_TOLD]


@dataclass(frozen=True)
class Sent:
    """What the local cloud's sent_emails() lists, as far as mails_about reads it."""

    to: list[str]
    subject: str
    body: str


def test_only_e_mails_whose_subject_names_the_version_are_about_it() -> None:
    # Given the rejections of the leaky and the tampered version (the good one's id is a prefix of both)
    sent = [
        Sent(["demo.user@example.com"], f"[fmops] {TAMPERED} rejected: 1 reason", "artifact_sha256_mismatch"),
        Sent(["demo.user@example.com"], LEAK_MAIL.subject, LEAK_MAIL.body),
    ]

    assert mails_about(LEAKY, sent) == [LEAK_MAIL]
    assert mails_about(GOOD, sent) == []


# ------------------------------------------------------------------ the tampered version


def test_a_rejection_for_another_reason_fails() -> None:
    # Given the tampered version rejected, but not for its sha256
    other = Problem(code="artifact_missing", message="config.json was not uploaded", field="artifacts.0")
    tampered = VersionView(
        TAMPERED, record(TAMPERED, VersionStatus.REJECTED, [other]), audit(TAMPERED, "Model Version Rejected")
    )

    assert failed(observation(tampered=tampered)) == [TAMPERED_REJECTED]


def test_a_rejection_missing_from_the_audit_trail_fails() -> None:
    tampered = VersionView(TAMPERED, record(TAMPERED, VersionStatus.REJECTED, [SHA_MISMATCH]), ())

    assert failed(observation(tampered=tampered)) == [TAMPERED_AUDITED]


# ------------------------------------------------------------------ dead letters


def test_a_message_in_a_dead_letter_queue_fails() -> None:
    dead = {"IntakeDeadLetterQueueUrl": 1, "NotifierDeadLetterQueueUrl": 0}

    assert failed(observation(dead_letters=dead)) == ["IntakeDeadLetterQueueUrl is empty"]


def test_no_dead_letter_queue_in_the_outputs_fails() -> None:
    assert failed(observation(dead_letters={})) == ["dead-letter queues are empty"]


# ------------------------------------------------------------------ evidence of a failed run


class RecordedStepFunctions:
    """The two Step Functions reads failure_evidence makes, answered from a recorded failed execution."""

    def list_executions(self, stateMachineArn: str, statusFilter: str) -> dict[str, Any]:  # noqa: N803 - boto3 names
        assert statusFilter == "FAILED"
        return {"executions": [{"name": "g_v", "executionArn": f"{stateMachineArn}:g_v"}]}

    def get_execution_history(self, executionArn: str, reverseOrder: bool) -> dict[str, Any]:  # noqa: N803
        return {
            "events": [
                {"type": "ExecutionFailed", "executionFailedEventDetails": {"error": "PromotionFailed", "cause": "c"}},
                {"type": "TaskFailed", "taskFailedEventDetails": {"error": "VersionNotFound", "cause": "g/v"}},
            ]
        }


def test_a_failed_demo_shows_failed_executions_and_function_errors(tmp_path: Path) -> None:
    # Given a failed execution and a function log with one error line among others
    (tmp_path / "StartPromotionFunction.log").write_text("START r1\n[ERROR] VersionNotFound: g/v\nEND r1\n")

    lines = failure_evidence(RecordedStepFunctions(), {"PromotionStateMachineArn": "arn:sm"}, tmp_path)

    assert lines == [
        "execution g_v FAILED: PromotionFailed: c | VersionNotFound: g/v",
        "StartPromotionFunction.log: [ERROR] VersionNotFound: g/v",
    ]


def test_a_broken_audit_trail_fails_only_its_check() -> None:
    assert failed(observation(trail_intact=False, trail_summary="BROKEN")) == [
        "the audit trail verifies against its anchors"
    ]


def test_a_missing_evidence_pack_fails_only_its_check() -> None:
    assert failed(observation(evidence_pack=None)) == [f"the evidence pack of {GOOD} was written"]


# ------------------------------------------------------------------ the deployment


def test_a_good_version_not_serving_in_prod_fails() -> None:
    # Given prod still serving nothing (its approvals not given, or the deployment failed)
    assert failed(observation(prod_history={"serving": None, "timeline": []})) == [IN_PROD]


def test_a_prod_deployment_with_one_approver_fails() -> None:
    serving = {"version_id": GOOD, "approved_by": ["dara.novak"]}
    assert failed(observation(prod_history={"serving": serving, "timeline": []})) == [IN_PROD]


def test_a_broken_version_left_serving_in_dev_fails() -> None:
    # Given the broken version serving dev: its smoke test did not roll it back
    history = {
        "serving": {"version_id": BROKEN, "approved_by": ["ana.ortiz", "ben.okafor"]},
        "timeline": [deployed(GOOD, "deploy", "succeeded"), deployed(BROKEN, "deploy", "succeeded")],
    }
    assert failed(observation(dev_history=history)) == [ROLLED_BACK]
