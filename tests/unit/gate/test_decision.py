import json
from collections.abc import Sequence

import pytest
from pydantic import ValidationError

from fmops.evaluation import evaluate_text_set
from fmops.gate.decision import GateDecision, GateInputInvalid, RuleResult, decision_table, evaluate_gate
from fmops.gate.policy import Policy, Stage
from fmops.manifest import Manifest, RiskTier
from fmops.metrics import Metric, MetricUnit

from tests.unit.gate.builders import good_metrics, manifest, metric, policy, sha_of, shipped

SHA = "0" * 64


def decide(
    candidate: Sequence[Metric] | None = None,
    champion: Sequence[Metric] | None = None,
    stage: Stage = Stage.PROD,
    version: Manifest | None = None,
    rules: Policy | None = None,
) -> GateDecision:
    default, default_sha = shipped("default.json")
    return evaluate_gate(
        policy=rules or default,
        policy_sha256=SHA if rules else default_sha,
        manifest=version or manifest(),
        metrics=good_metrics() if candidate is None else candidate,
        champion_metrics=champion,
        stage=stage,
    )


def rule(decision: GateDecision, rule_id: str) -> RuleResult:
    (found,) = [r for r in decision.rules if r.rule_id == rule_id]
    return found


# ------------------------------------------------------------------------------ the decision record


def test_a_good_first_version_passes_and_records_every_rule_in_a_stable_order() -> None:
    # Given the default policy, a complete medium-risk fine-tuned model card and good metrics, no champion
    # When the gate decides for prod
    decision = decide()

    # Then it passes, and every rule is recorded in the documented order
    assert decision.passed and decision.failed_rules == []
    assert [r.rule_id for r in decision.rules] == [
        "required_field.base_model.licence",
        "required_field.lineage.datasets[].classification",
        "required_field.intended_use",
        "forbidden_classifications.prod",
        "required_metric.token_f1",
        "required_metric.toxicity_rate",
        "required_metric.pii_leak_rate",
        "threshold.latency_p95_ms",
        "threshold.pii_leak_rate",
        "threshold.refusal_rate",
        "threshold.token_f1",
        "threshold.toxicity_rate",
        "champion_challenger.token_f1",
    ]


def test_the_decision_records_the_policy_it_was_made_under() -> None:
    default, default_sha = shipped("default.json")

    decision = decide()

    assert decision.policy_version == default.policy_version == "2026.11.1"
    assert decision.policy_sha256 == default_sha
    assert decision.policy_model_group == "*"
    assert (decision.version_id, decision.stage, decision.risk_tier.value) == ("sentiment/1.0.0", Stage.PROD, "medium")


def test_the_rule_order_does_not_depend_on_key_order_in_the_file() -> None:
    forward = policy(thresholds={"a_metric": {"min": 0}, "b_metric": {"min": 0}})
    backward = policy(thresholds={"b_metric": {"min": 0}, "a_metric": {"min": 0}})

    ids = [[r.rule_id for r in decide(rules=p).rules] for p in (forward, backward)]

    assert ids[0] == ids[1]
    assert sha_of(thresholds={"a_metric": {"min": 0}, "b_metric": {"min": 0}}) == sha_of(
        thresholds={"b_metric": {"min": 0}, "a_metric": {"min": 0}}
    )


def test_a_decision_cannot_claim_to_pass_with_a_failed_rule() -> None:
    failed = RuleResult(rule_id="x", description="x", observed=None, threshold=None, passed=False, reason="x")

    with pytest.raises(ValidationError, match="every rule passed"):
        GateDecision(
            version_id="g/1",
            stage=Stage.DEV,
            risk_tier=RiskTier.LOW,
            passed=True,
            policy_version="1",
            policy_model_group="*",
            policy_sha256=SHA,
            rules=[failed],
        )


# ------------------------------------------------------------------------------ required fields


def test_a_foundation_model_without_a_licence_fails() -> None:
    # Given a foundation model card that names no base model, hence no licence
    version = manifest(kind="foundation", base_model=None)

    # When the gate decides
    decision = decide(version=version)

    # Then the licence rule fails and says why
    licence = rule(decision, "required_field.base_model.licence")
    assert not decision.passed
    assert (licence.passed, licence.observed) == (False, None)
    assert licence.reason == "base_model.licence is missing or empty in the manifest"


def test_a_fine_tuned_model_shows_its_licence() -> None:
    licence = rule(decide(), "required_field.base_model.licence")

    assert (licence.passed, licence.observed, licence.threshold) == (True, "apache-2.0", "present")


def test_a_requirement_for_other_kinds_is_recorded_as_skipped() -> None:
    # Given a prompt template, for which the default asks neither licence nor dataset classification
    version = manifest(kind="prompt-template", base_model=None, lineage={"datasets": []})

    decision = decide(version=version)

    licence = rule(decision, "required_field.base_model.licence")
    assert decision.passed
    assert (licence.passed, licence.skipped, licence.reason) == (True, True, "not required for kind 'prompt-template'")


def test_a_fine_tuned_model_without_classified_training_data_fails() -> None:
    decision = decide(version=manifest(lineage={"datasets": []}))

    classification = rule(decision, "required_field.lineage.datasets[].classification")
    assert not decision.passed and not classification.passed and classification.observed is None


def test_the_dataset_classifications_are_shown() -> None:
    classification = rule(decide(), "required_field.lineage.datasets[].classification")

    assert classification.observed == "reviews-2026: internal"


def test_a_blank_intended_use_counts_as_missing() -> None:
    decision = decide(version=manifest(intended_use="   "))

    assert not rule(decision, "required_field.intended_use").passed


def test_a_long_intended_use_is_shortened_in_the_record() -> None:
    observed = rule(decide(version=manifest(intended_use="x" * 500)), "required_field.intended_use").observed

    assert isinstance(observed, str) and len(observed) == 60 and observed.endswith("…")


# ------------------------------------------------------------------------------ forbidden classifications


def restricted_training_data() -> Manifest:
    return manifest(
        lineage={
            "datasets": [
                {"name": "tickets", "uri": "s3://data/tickets/", "classification": "restricted"},
                {"name": "faq", "uri": "s3://data/faq/", "classification": "public"},
            ]
        }
    )


def test_restricted_training_data_cannot_reach_prod() -> None:
    # Given a version trained on restricted data
    # When it is gated for prod
    decision = decide(version=restricted_training_data(), stage=Stage.PROD)

    # Then the forbidden-classification rule fails, naming the dataset
    forbidden = rule(decision, "forbidden_classifications.prod")
    assert not decision.passed
    assert (forbidden.passed, forbidden.observed, forbidden.threshold) == (
        False,
        "public, restricted",
        "none of: restricted",
    )
    assert forbidden.reason == "trained on data that may not reach prod: tickets (restricted)"


def test_restricted_training_data_may_reach_dev_when_the_policy_allows_it() -> None:
    decision = decide(version=restricted_training_data(), stage=Stage.DEV)

    forbidden = rule(decision, "forbidden_classifications.dev")
    assert decision.passed
    assert (forbidden.passed, forbidden.threshold) == (True, "any")
    assert forbidden.reason == "the policy forbids no data classification in dev"


def test_only_the_target_stage_is_checked() -> None:
    decision = decide(stage=Stage.PREPROD)

    assert [r.rule_id for r in decision.rules if r.rule_id.startswith("forbidden")] == [
        "forbidden_classifications.preprod"
    ]


def test_allowed_training_data_passes_a_stage_with_forbidden_classifications() -> None:
    forbidden = rule(decide(stage=Stage.PROD), "forbidden_classifications.prod")

    assert forbidden.passed and forbidden.reason == "no training dataset carries a forbidden classification"


# ------------------------------------------------------------------------------ required metrics and thresholds


def test_a_required_metric_missing_from_the_evaluation_fails() -> None:
    candidate = [m for m in good_metrics() if m.name != "pii_leak_rate"]

    decision = decide(candidate=candidate)

    required = rule(decision, "required_metric.pii_leak_rate")
    assert not decision.passed
    assert (required.passed, required.observed, required.reason) == (False, None, "not reported by the evaluation")
    assert rule(decision, "required_metric.token_f1").reason == "reported (n=500)"


def test_a_threshold_without_its_metric_fails() -> None:
    candidate = [m for m in good_metrics() if m.name != "latency_p95_ms"]

    latency = rule(decide(candidate=candidate), "threshold.latency_p95_ms")

    assert (latency.passed, latency.observed, latency.threshold) == (False, None, "<= 2000")
    assert latency.reason == "not reported by the evaluation"


@pytest.mark.parametrize(
    ("tier", "token_f1", "passed", "threshold"),
    [
        ("medium", 0.65, True, ">= 0.6"),
        ("high", 0.65, False, ">= 0.7 (high tier)"),
        ("high", 0.7, True, ">= 0.7 (high tier)"),
        ("low", 0.6, True, ">= 0.6"),
        ("low", 0.5999, False, ">= 0.6"),
    ],
)
def test_a_threshold_is_resolved_for_the_risk_tier(tier: str, token_f1: float, passed: bool, threshold: str) -> None:
    # Given a version of a risk tier with a token_f1 score
    # When the gate decides
    result = rule(
        decide(candidate=good_metrics(token_f1=token_f1), version=manifest(risk_tier=tier)), "threshold.token_f1"
    )

    # Then the bound applied is the tier's override if any, else the base, and the value at the bound passes
    assert (result.passed, result.threshold, result.observed) == (passed, threshold, token_f1)


def test_a_failed_threshold_says_by_what() -> None:
    toxicity = rule(decide(candidate=good_metrics(toxicity_rate=0.05)), "threshold.toxicity_rate")

    assert not toxicity.passed
    assert toxicity.reason == "0.05 is outside <= 0.01 (n=500)"
    assert toxicity.description == "toxicity_rate <= 0.01"


def test_a_low_risk_version_gets_the_relaxed_latency_bound() -> None:
    version = manifest(risk_tier="low")

    latency = rule(decide(candidate=good_metrics(latency_p95_ms=4000), version=version), "threshold.latency_p95_ms")

    assert latency.passed and latency.threshold == "<= 5000 (low tier)"


def test_a_custom_metric_reported_in_another_unit_fails_rather_than_being_misread() -> None:
    # Given a policy bounding a custom score, and an evaluator reporting it as a ratio
    candidate = [*good_metrics(), metric("drift_index", 0.9, unit=MetricUnit.RATIO)]
    rules = policy(
        thresholds={"drift_index": {"max": 2, "unit": "score"}}, required_metrics=[], champion_challenger=None
    )

    drift = rule(decide(candidate=candidate, rules=rules), "threshold.drift_index")

    assert not drift.passed and drift.reason == "reported in 'ratio', the policy's bound is in 'score'"


def test_a_range_threshold_fails_on_either_side() -> None:
    support, support_sha = shipped("support-assistant.json")

    def refusal(value: float) -> RuleResult:
        decision = evaluate_gate(
            support,
            support_sha,
            manifest(group="support-assistant"),
            good_metrics(refusal_rate=value),
            None,
            Stage.PROD,
        )
        return rule(decision, "threshold.refusal_rate")

    assert [refusal(v).passed for v in (0.0, 0.01, 0.1, 0.15, 0.16)] == [False, True, True, True, False]
    assert refusal(0.1).threshold == "between 0.01 and 0.15"


# ------------------------------------------------------------------------------ champion / challenger


def test_without_a_champion_the_first_version_passes_and_the_skip_is_recorded() -> None:
    challenge = rule(decide(champion=None), "champion_challenger.token_f1")

    assert (challenge.passed, challenge.skipped, challenge.threshold) == (True, True, None)
    assert challenge.reason == "no version in production: the first version passes this rule"


@pytest.mark.parametrize(
    ("candidate", "champion", "passed"),
    [
        (0.80, 0.70, True),  # better
        (0.69, 0.70, True),  # worse, within the margin
        (0.68, 0.70, True),  # exactly at the margin: 0.70 - 0.68 is 0.020000000000000018 in floats
        (0.6799, 0.70, False),  # just beyond it
        (0.60, 0.70, False),
    ],
)
def test_the_candidate_may_regress_by_at_most_the_margin(candidate: float, champion: float, passed: bool) -> None:
    # Given a production version with a token_f1 score, and a margin of 0.02
    # When a candidate is gated against it
    challenge = rule(
        decide(candidate=good_metrics(token_f1=candidate), champion=good_metrics(token_f1=champion)),
        "champion_challenger.token_f1",
    )

    # Then it passes when no worse than production by more than the margin, boundary included
    assert (challenge.passed, challenge.skipped, challenge.observed) == (passed, False, candidate)
    assert challenge.threshold == ">= 0.68 (production 0.7 - 0.02)"


def test_the_challenge_reason_states_the_change() -> None:
    challenge = rule(
        decide(candidate=good_metrics(token_f1=0.6), champion=good_metrics(token_f1=0.7)),
        "champion_challenger.token_f1",
    )

    assert challenge.reason == "0.6 vs production 0.7: change -0.1, beyond the allowed regression of 0.02"


def test_for_a_lower_is_better_metric_the_margin_is_an_increase() -> None:
    # Given a policy guarding p95 latency with a 100 ms margin
    rules = policy(
        champion_challenger={"primary_metric": "latency_p95_ms", "max_regression": 100},
        thresholds={},
        required_metrics=[],
    )
    champion = good_metrics(latency_p95_ms=1000)

    def challenge(latency: float) -> RuleResult:
        decision = decide(candidate=good_metrics(latency_p95_ms=latency), champion=champion, rules=rules)
        return rule(decision, "champion_challenger.latency_p95_ms")

    # Then up to 1100 ms passes and anything slower fails
    assert [challenge(v).passed for v in (800, 1100, 1100.5)] == [True, True, False]
    assert challenge(800).threshold == "<= 1100 (production 1000 + 100)"


def test_a_champion_without_the_primary_metric_fails_the_challenge() -> None:
    champion = [m for m in good_metrics() if m.name != "token_f1"]

    challenge = rule(decide(champion=champion), "champion_challenger.token_f1")

    assert not challenge.passed
    assert challenge.reason == "the production version has no recorded token_f1: re-evaluate it to compare"


def test_a_candidate_without_the_primary_metric_fails_the_challenge() -> None:
    candidate = [m for m in good_metrics() if m.name != "token_f1"]

    challenge = rule(decide(candidate=candidate, champion=good_metrics()), "champion_challenger.token_f1")

    assert not challenge.passed and challenge.reason == "not reported by the evaluation"


# ------------------------------------------------------------------------------ inputs and table


def test_a_policy_for_another_group_cannot_judge_a_version() -> None:
    support, support_sha = shipped("support-assistant.json")

    with pytest.raises(GateInputInvalid, match="'support-assistant' cannot judge a version of 'sentiment'"):
        evaluate_gate(support, support_sha, manifest(), good_metrics(), None, Stage.PROD)


def test_a_metric_reported_twice_is_refused() -> None:
    with pytest.raises(GateInputInvalid, match="candidate metrics report 'token_f1' more than once"):
        decide(candidate=[*good_metrics(), metric("token_f1", 0.1)])


def test_the_built_in_evaluator_s_metrics_meet_the_default_policy_s_bounds() -> None:
    # Given an evaluation set the built-in evaluator scores: exact answers, fast, nothing toxic or leaked
    rows = [
        {"prompt": f"q{i}", "reference": "the answer is yes", "prediction": "the answer is yes", "latency_ms": 300}
        for i in range(20)
    ]
    metrics = evaluate_text_set((json.dumps(row) for row in rows), max_rows=100, max_line_bytes=4096)

    # When the gate judges them under the shipped default policy
    decision = decide(candidate=metrics)

    # Then every threshold found its metric in the unit the policy expects, and passed
    thresholds = [r for r in decision.rules if r.rule_id.startswith("threshold.")]
    assert thresholds and all(r.passed for r in thresholds), [r.reason for r in thresholds if not r.passed]
    assert decision.passed


def test_the_decision_table_lists_every_rule_with_its_result() -> None:
    decision = decide(candidate=good_metrics(toxicity_rate=0.05), champion=good_metrics())

    table = decision_table(decision).splitlines()

    assert table[0] == "sentiment/1.0.0 -> prod (medium risk): FAILED"
    assert table[1].startswith("policy * 2026.11.1 sha256:")
    assert table[2].split() == ["RESULT", "RULE", "OBSERVED", "THRESHOLD", "REASON"]
    assert [line.split()[1] for line in table[3:]] == [r.rule_id for r in decision.rules]
    assert [line.split()[0] for line in table[3:]].count("FAIL") == 1
    assert "FAIL" in next(line for line in table if "threshold.toxicity_rate" in line)


def test_the_decision_table_marks_skipped_rules() -> None:
    table = decision_table(decide(version=manifest(kind="prompt-template", base_model=None)))

    assert next(line for line in table.splitlines() if "champion_challenger" in line).startswith("skip")
