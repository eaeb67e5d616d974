"""From registration to PendingApproval or Rejected: evaluation reports, the gate and failures, on fakes."""

from __future__ import annotations

import json
from typing import Any

import pytest

from fmops import promotion
from fmops.errors import EvaluationNotRequestedYet, NotAwaitingEvaluation
from fmops.evaluation.results import ReportOutcome
from fmops.events import EvaluationCompleted, EvaluationOutcome, EvaluationResultRejected, ModelVersionRejected
from fmops.metrics import builtin_metric
from fmops.statuses import VersionStatus

from tests.unit.builders import BUCKET
from tests.unit.promotion.world import GOOD_ROWS, TOKEN, World, eval_row, jsonl

VERSION_ID = "sentiment/1.0.0"
TOKEN_1 = f"{TOKEN}:{VERSION_ID}"


def external_report(version_id: str = VERSION_ID, **changes: Any) -> dict[str, Any]:
    report = EvaluationCompleted(
        event_id=f"{version_id}#eval#nightly-7",
        correlation_id=version_id,
        version_id=version_id,
        occurred_at="2026-11-26T12:30:00Z",  # type: ignore[arg-type]
        actor="ci:nightly-eval",
        evaluator="ci:nightly-eval",
        outcome=EvaluationOutcome.SUCCEEDED,
        metrics=[
            builtin_metric("token_f1", 0.71, 500),
            builtin_metric("toxicity_rate", 0.002, 500),
            builtin_metric("pii_leak_rate", 0.0, 500),
            builtin_metric("refusal_rate", 0.01, 500),
            builtin_metric("latency_p95_ms", 900.0, 500),
        ],
        evidence_uri="s3://ml-eval/sentiment/1.0.0/nightly-7.json",
    ).model_dump(mode="json")
    report.update(changes)
    return report


# ------------------------------------------------------------------ the happy path


def test_a_version_that_meets_its_policy_waits_for_approval_with_its_decision_everywhere() -> None:
    world = World()

    started = world.through_the_gate()

    record = world.record()
    assert record.status == VersionStatus.PENDING_APPROVAL
    assert record.gate is not None and record.gate.decision.passed
    # the decision table is in the catalog, the evidence store, the model package and on the bus
    assert record.gate.decision_uri == "s3://evidence-bucket/gate-decisions/sentiment/1.0.0/prod.json"
    stored = world.evidence.documents["gate-decisions/sentiment/1.0.0/prod.json"]
    assert stored["decision"] == record.gate.decision.model_dump(mode="json")
    assert stored["policy_file"] == "default.json"
    properties = world.registry.properties[str(record.model_package_arn)]
    assert properties["fmops:gate"] == "passed"
    assert properties["fmops:gate_policy"] == "*@2026.11.1"
    assert properties["fmops:gate_policy_sha256"] == record.gate.decision.policy_sha256
    decided = world.bus.of_type("Model Version Gate Decided")
    assert [event.status for event in decided] == ["PendingApproval"]  # type: ignore[attr-defined]
    assert not world.bus.of_type("Model Version Rejected")
    # and the waiting task was resumed exactly once, with no metrics in the token's answer
    assert world.callbacks.answers == [
        (TOKEN_1, "success", {"version_id": VERSION_ID, "evaluation_event_id": f"{VERSION_ID}#evaluation#builtin-text"})
    ]
    assert started.version_id == VERSION_ID


def test_the_builtin_evaluator_reports_hand_computed_metrics_and_keeps_its_evidence() -> None:
    world = World()
    requested = world.start(world.register())

    report = world.evaluate(requested)

    values = {metric.name: metric.value for metric in report.metrics}
    # 3 of 4 exact; the 4th ("mostly negative" vs "negative") has precision 1/2, recall 1 -> F1 2/3
    assert values["exact_match"] == 0.75
    assert values["token_f1"] == pytest.approx((3 + 2 / 3) / 4)
    assert values["toxicity_rate"] == 0.0
    assert values["latency_p50_ms"] == 150  # nearest rank: ceil(0.5 * 4) = 2nd of 120, 150, 180, 240
    assert values["latency_p95_ms"] == 240
    # (163 input tokens * 0.0005 + 9 output tokens * 0.0015) / 172 tokens, per 1,000 tokens
    assert values["cost_per_1k_tokens_usd"] == pytest.approx((163 * 0.0005 + 9 * 0.0015) / 172)
    assert {metric.sample_size for metric in report.metrics} == {4}
    evidence = world.evidence.documents["evaluations/sentiment/1.0.0/builtin-text.json"]
    assert evidence["dataset"] == {"path": "eval/golden.jsonl", "sha256": report_dataset_sha(world)}
    assert report.evidence_uri == "s3://evidence-bucket/evaluations/sentiment/1.0.0/builtin-text.json"


def report_dataset_sha(world: World) -> str:
    import hashlib

    return hashlib.sha256(world.store.objects[(BUCKET, "models/sentiment/1.0.0/eval/golden.jsonl")]).hexdigest()


# ------------------------------------------------------------------ the gate says no


def test_a_version_below_its_thresholds_is_rejected_with_every_failed_rule() -> None:
    world = World()
    toxic = [
        eval_row("you idiot, it is negative", "negative", latency_ms=90),
        eval_row("negative", "positive", latency_ms=95),
    ]

    world.through_the_gate(rows=toxic)

    record = world.record()
    assert record.status == VersionStatus.REJECTED
    assert record.gate is not None and not record.gate.decision.passed
    failed = {reason.field for reason in record.reasons}
    assert failed == {"threshold.token_f1", "threshold.toxicity_rate"}
    assert all(reason.code == "gate_rule_failed" for reason in record.reasons)
    rejected = world.bus.of_type("Model Version Rejected")
    assert len(rejected) == 1 and isinstance(rejected[0], ModelVersionRejected)
    assert rejected[0].reasons == record.reasons
    assert world.registry.properties[str(record.model_package_arn)]["fmops:gate"] == "failed"
    assert (
        "threshold.toxicity_rate" in world.registry.properties[str(record.model_package_arn)]["fmops:gate_failed_rules"]
    )


def test_a_group_policy_replaces_the_default_and_a_broken_one_is_never_skipped() -> None:
    world = World()
    group_policy = json.loads(world.policies.files["default.json"])
    group_policy.update(model_group="sentiment", policy_version="9.0.0", thresholds={"token_f1": {"min": 0.99}})
    world.policies.files["sentiment.json"] = json.dumps(group_policy).encode()

    world.through_the_gate()

    decision = world.record().gate
    assert decision is not None and decision.decision.policy_version == "9.0.0"
    assert [reason.field for reason in world.record().reasons] == ["threshold.token_f1"]


def test_an_invalid_group_policy_stops_the_gate_instead_of_falling_back_to_the_default() -> None:
    from fmops.gate.policy import PolicyInvalid

    world = World()
    world.policies.files["sentiment.json"] = b'{"schema_version": "1", "thresholds": {"token_f1": {"min": 2}}}'
    started = world.register()
    world.report(world.evaluate(world.start(started)))

    with pytest.raises(PolicyInvalid):
        world.gate(started)
    assert world.record().status == VersionStatus.EVALUATED  # RejectVersion takes it from here


def test_champion_challenger_compares_with_the_version_serving_in_prod() -> None:
    world = World()
    world.through_the_gate("1.0.0")
    world.catalog.serving_versions[("sentiment", "prod")] = VERSION_ID
    worse = [
        *GOOD_ROWS[:2],
        eval_row("no", "negative", latency_ms=99),
        eval_row("mostly negative", "negative", latency_ms=99),
    ]

    world.through_the_gate("1.1.0", rows=worse)

    challenger = world.record("sentiment/1.1.0")
    assert challenger.status == VersionStatus.REJECTED
    assert [reason.field for reason in challenger.reasons] == ["champion_challenger.token_f1"]
    stored = world.evidence.documents["gate-decisions/sentiment/1.1.0/prod.json"]
    assert stored["champion_version_id"] == VERSION_ID


def test_re_running_the_gate_step_decides_once_and_re_announces_the_same_decision() -> None:
    world = World()
    started = world.through_the_gate()
    decision = world.record().gate

    again = world.gate(started)

    assert again == {"version_id": VERSION_ID, "passed": True, "status": "PendingApproval"}
    assert world.record().gate == decision
    ids = [event.event_id for event in world.bus.of_type("Model Version Gate Decided")]
    assert ids == [f"{VERSION_ID}#gate-decided#prod"] * 2  # same business id: the audit keeps one


# ------------------------------------------------------------------ reports that change nothing


def test_a_second_report_from_another_evaluator_is_refused_and_recorded() -> None:
    world = World()
    world.through_the_gate()

    outcome = world.report(external_report(), source="com.example.ci")

    assert (outcome.outcome, outcome.code) == (ReportOutcome.REJECTED, "not_awaiting_evaluation")
    refused = world.bus.of_type("Evaluation Result Rejected")
    assert len(refused) == 1 and isinstance(refused[0], EvaluationResultRejected)
    assert refused[0].reported_by == "com.example.ci"
    assert "was accepted first" in refused[0].reason
    assert world.record().status == VersionStatus.PENDING_APPROVAL
    assert len(world.callbacks.answers) == 1


def test_the_same_report_delivered_again_resends_the_callback_and_changes_nothing() -> None:
    world = World()
    requested = world.start(world.register())
    report = world.evaluate(requested)
    world.report(report)
    revision = world.record().revision

    again = world.report(report)

    assert again.outcome == ReportOutcome.DUPLICATE
    assert world.record().revision == revision
    assert [answer[0] for answer in world.callbacks.answers] == [TOKEN_1, TOKEN_1]  # a spent token is ignored
    assert not world.bus.of_type("Evaluation Result Rejected")


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        (
            {
                "metrics": [
                    {"name": "token_f1", "value": "NaN", "unit": "ratio", "sample_size": 5, "higher_is_better": True}
                ]
            },
            "metrics.0.value",
        ),
        (
            {
                "metrics": [
                    {
                        "name": "toxicity_rate",
                        "value": -0.1,
                        "unit": "ratio",
                        "sample_size": 5,
                        "higher_is_better": False,
                    }
                ]
            },
            "metrics.0",
        ),
        (
            {"metrics": [{"name": "token_f1", "value": 0.7, "unit": "ratio", "higher_is_better": True}]},
            "metrics.0.sample_size",
        ),
        ({"evidence_uri": None}, "evidence_uri"),
        ({"outcome": "failed"}, "failure_reason"),
        ({"schema_version": "2"}, "schema_version"),
    ],
)
def test_malformed_reports_are_refused_with_the_offending_field(changes: dict[str, Any], field: str) -> None:
    world = World()
    world.start(world.register(evaluation={"evaluator": "external"}))

    outcome = world.report(external_report(**changes), source="com.example.ci")

    assert (outcome.outcome, outcome.code) == (ReportOutcome.REJECTED, "malformed_report")
    refused = world.bus.of_type("Evaluation Result Rejected")[0]
    assert isinstance(refused, EvaluationResultRejected)
    assert refused.version_id == VERSION_ID
    assert field.split(".")[0] in refused.reason
    assert world.record().status == VersionStatus.PENDING_EVALUATION
    assert not world.callbacks.answers


def test_reports_for_unknown_or_unaddressable_versions_are_recorded_not_dropped() -> None:
    world = World()

    unknown = world.report(external_report("sentiment/9.9.9"))
    nonsense = world.report({"detail": "not a report"}, source="com.example.ci")

    assert (unknown.outcome, unknown.code, unknown.version_id) == (
        ReportOutcome.REJECTED,
        "unknown_version",
        "sentiment/9.9.9",
    )
    assert (nonsense.code, nonsense.version_id) == ("malformed_report", "unaddressed")
    assert len(world.bus.of_type("Evaluation Result Rejected")) == 2


def test_a_report_whose_correlation_id_is_not_its_version_is_refused() -> None:
    world = World()
    world.start(world.register(evaluation={"evaluator": "external"}))

    outcome = world.report(external_report(correlation_id="sentiment/2.0.0"))

    assert outcome.code == "correlation_mismatch"
    assert world.record().status == VersionStatus.PENDING_EVALUATION


def test_a_report_before_the_promotion_asked_for_it_is_retried_later() -> None:
    world = World()
    promotion.start_promotion(world.register(evaluation={"evaluator": "external"}), world.promotion_deps)

    with pytest.raises(EvaluationNotRequestedYet):
        world.report(external_report())
    assert world.record().status == VersionStatus.PENDING_EVALUATION


def test_an_external_evaluation_is_judged_like_the_builtin_one() -> None:
    world = World()
    started = world.register(evaluation={"evaluator": "external"})
    requested = world.start(started)

    world.report(external_report(), source="com.example.ci")
    world.gate(started)

    assert requested.evaluator == "external"
    assert not world.bus.of_type("Evaluation Completed")  # the built-in evaluator was not involved
    assert world.record().status == VersionStatus.PENDING_APPROVAL
    assert world.record().evaluation is not None
    assert world.record().evaluation.evaluator == "ci:nightly-eval"  # type: ignore[union-attr]


# ------------------------------------------------------------------ evaluations that fail


def test_a_failed_evaluation_rejects_the_version_and_fails_the_waiting_task() -> None:
    world = World()
    world.start(world.register(evaluation={"evaluator": "external"}))

    world.report(
        external_report(outcome="failed", metrics=[], evidence_uri=None, failure_reason="GPU quota exceeded"),
        source="com.example.ci",
    )

    record = world.record()
    assert record.status == VersionStatus.REJECTED
    assert [(r.code, r.message) for r in record.reasons] == [("evaluation_failed", "GPU quota exceeded")]
    assert world.callbacks.answers == [(TOKEN_1, "EvaluationFailed", "GPU quota exceeded")]


@pytest.mark.parametrize(
    ("dataset", "expected"),
    [
        (b"", "empty_evaluation_set"),
        (b'{"prompt": "p", "reference": "r"}\n', "schema_violation: line 1"),
        (b"not json\n", "line_not_json: line 1"),
        (b"x" * 70_000, "line_too_large: line 1"),
    ],
)
def test_an_unusable_evaluation_set_fails_the_evaluation_with_its_reason(dataset: bytes, expected: str) -> None:
    world = World()
    requested = world.start(world.register())
    world.store.objects[(BUCKET, "models/sentiment/1.0.0/eval/golden.jsonl")] = dataset

    report = world.evaluate(requested)

    assert report.outcome == EvaluationOutcome.FAILED
    assert expected in str(report.failure_reason)


def test_an_absurdly_large_set_stops_at_the_row_limit() -> None:
    from fmops.evaluation.builtin import EvaluatorDeps

    world = World()
    requested = world.start(world.register())
    deps = EvaluatorDeps(artifacts=world.store, evidence=world.evidence, bus=world.bus, clock=world.clock, max_rows=3)
    from fmops.evaluation.builtin import evaluate_builtin

    report = evaluate_builtin(requested, deps)

    assert report.outcome == EvaluationOutcome.FAILED
    assert "too_many_rows: line 4: more than 3 rows" in str(report.failure_reason)


def test_an_evaluation_set_overwritten_after_registration_is_not_scored() -> None:
    world = World()
    requested = world.start(world.register())
    world.store.put(BUCKET, "models/sentiment/1.0.0/eval/golden.jsonl", jsonl([eval_row("positive", "positive")]))

    report = world.evaluate(requested)

    assert report.outcome == EvaluationOutcome.FAILED
    assert "changed since registration" in str(report.failure_reason)


def test_the_registered_manifest_is_read_even_after_a_refused_overwrite() -> None:
    world = World()
    started = world.register()
    world.store.put(BUCKET, "models/sentiment/1.0.0/manifest.json", b'{"refused": "overwrite"}')

    world.report(world.evaluate(world.start(started)))
    world.gate(started)

    assert world.record().status == VersionStatus.PENDING_APPROVAL


# ------------------------------------------------------------------ timeouts and failed steps


def failed_step(error: str, cause: str = "") -> promotion.FailedStep:
    return promotion.FailedStep(
        version_id=VERSION_ID, correlation_id=VERSION_ID, error={"Error": error, "Cause": cause}
    )


def test_an_evaluation_that_never_arrives_times_out_closed_and_a_late_report_changes_nothing() -> None:
    world = World()
    world.start(world.register(evaluation={"evaluator": "external"}))

    promotion.reject_failed_step(failed_step("States.Timeout"), world.promotion_deps)
    late = world.report(external_report())

    record = world.record()
    assert record.status == VersionStatus.REJECTED
    assert record.reasons[0].code == "evaluation_timed_out"
    assert "no evaluation arrived before 2026-11-26T13:00:00+00:00" in record.reasons[0].message
    assert late.code == "not_awaiting_evaluation"
    assert not world.callbacks.answers


def test_a_failed_gate_step_rejects_with_the_lambda_error_message_not_its_stack() -> None:
    world = World()
    started = world.register()
    world.report(world.evaluate(world.start(started)))
    cause = json.dumps(
        {"errorMessage": "no policy for model group 'sentiment'", "errorType": "PolicyNotFound", "stackTrace": ["..."]}
    )

    promotion.reject_failed_step(failed_step("PolicyNotFound", cause), world.promotion_deps)

    reason = world.record().reasons[0]
    assert (reason.code, reason.message) == (
        "gate_policy_missing",
        "PolicyNotFound: no policy for model group 'sentiment'",
    )


def test_reject_version_leaves_a_version_that_was_already_rejected_alone() -> None:
    world = World()
    world.through_the_gate(rows=[eval_row("negative", "positive", latency_ms=80)])
    rejections = len(world.bus.of_type("Model Version Rejected"))

    result = promotion.reject_failed_step(failed_step("States.Timeout"), world.promotion_deps)

    assert result["status"] == "Rejected"
    assert len(world.bus.of_type("Model Version Rejected")) == rejections


@pytest.mark.parametrize(
    ("error", "code"),
    [
        ("ApprovalRejected", "approval_rejected"),
        ("ApprovalExpired", "approval_expired"),
        ("States.Timeout", "approval_lost"),
        ("States.HeartbeatTimeout", "approval_lost"),
        ("QuorumUnreachable", "approval_quorum_unreachable"),
        ("ApprovalConfigMissing", "approval_config_missing"),
    ],
)
def test_a_version_whose_approval_failed_is_rejected_with_an_approval_code(error: str, code: str) -> None:
    # Given a version waiting for approval
    world = World()
    world.through_the_gate()
    assert world.record().status == VersionStatus.PENDING_APPROVAL
    # When its RequestApproval step fails with `error`
    result = promotion.reject_failed_step(failed_step(error), world.promotion_deps)
    # Then it is Rejected, with the approval's reason code (not the evaluation's)
    assert result["status"] == "Rejected"
    assert [reason.code for reason in world.record().reasons] == [code]


def test_start_evaluation_refuses_a_version_that_is_not_pending_evaluation() -> None:
    world = World()
    world.through_the_gate()

    with pytest.raises(NotAwaitingEvaluation):
        world.start(world.workflow.executions["sentiment_1.0.0"])


def test_a_version_rejected_by_its_gate_cannot_be_re_uploaded_with_other_bytes() -> None:
    from fmops import intake

    from tests.unit.builders import manifest_document, upload_version

    world = World()
    world.through_the_gate(rows=[eval_row("negative", "positive", latency_ms=80)])
    assert world.record().status == VersionStatus.REJECTED

    result = intake.register(upload_version(world.store, manifest_document(description="try again")), world.intake_deps)

    assert result.outcome == intake.IntakeOutcome.REFUSED
    assert world.record().status == VersionStatus.REJECTED


# ------------------------------------------------------------------ what people see


def test_fmops_status_shows_the_evaluator_the_gate_and_a_line_per_new_event() -> None:
    from fmops.audit import AuditDeps, Envelope, record_event
    from fmops_cli.status import VersionView, render_text

    from tests.unit.fakes import InMemoryAuditLog

    world = World()
    world.through_the_gate(rows=[eval_row("negative", "positive", latency_ms=80)])
    log = InMemoryAuditLog()
    for event in world.bus.published:
        envelope = Envelope("e", "fmops", event.detail_type, event.occurred_at, event.model_dump(mode="json"))
        record_event(envelope, AuditDeps(log, world.clock))

    text = render_text(VersionView(VERSION_ID, world.record(), tuple(log.records.values())))

    assert "evaluated by     fmops:builtin-text (source fmops)" in text
    assert "gate             failed 1 of 13 rules (policy * 2026.11.1; fmops policy explain sentiment/1.0.0)" in text
    assert "FAILED: threshold.token_f1 (13 rules, policy * 2026.11.1)" in text
    assert "-> Rejected" in text
    assert "token_f1=0.0" in text
    assert TOKEN not in text
