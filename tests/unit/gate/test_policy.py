import hashlib
import json
from typing import Any

import pytest

from fmops.errors import FmopsError
from fmops.gate.policy import (
    MAX_POLICY_BYTES,
    Bound,
    PolicyInvalid,
    Stage,
    Threshold,
    canonical_json,
    parse_policy,
    policy_file_names,
    policy_hash,
    policy_json_schema,
)
from fmops.manifest import DataClassification, RiskTier

from tests.unit.gate.builders import POLICIES_DIR, encode, policy, policy_document


def problems_of(raw: bytes) -> list[tuple[str, str]]:
    with pytest.raises(PolicyInvalid) as caught:
        parse_policy(raw)
    return [(problem.path, problem.message) for problem in caught.value.problems]


def with_threshold(name: str, bound: dict[str, Any]) -> bytes:
    return encode(policy_document(thresholds={name: bound}))


# ------------------------------------------------------------------------------ valid policies


@pytest.mark.parametrize("path", sorted(POLICIES_DIR.glob("*.json")), ids=lambda p: p.name)
def test_every_shipped_policy_file_is_valid(path: Any) -> None:
    # Given a policy file shipped in policies/
    raw = path.read_bytes()

    # When it is parsed
    parsed = parse_policy(raw)

    # Then it is valid and its name says which group it governs
    expected_group = "*" if path.name == "default.json" else path.stem
    assert parsed.model_group == expected_group


def test_the_shipped_default_matches_its_intent() -> None:
    # Given the default policy
    default = parse_policy((POLICIES_DIR / "default.json").read_bytes())

    # Then it governs every group, forbids restricted data in prod and guards token_f1 against regression
    assert default.is_default and default.applies_to("any-group")
    assert default.thresholds["token_f1"].for_tier(RiskTier.HIGH) == Bound(min=0.7)
    assert default.thresholds["toxicity_rate"].for_tier(RiskTier.HIGH) == Bound(max=0.0)
    assert default.forbidden_classifications[Stage.PROD] == [DataClassification.RESTRICTED]
    assert default.champion_challenger is not None
    assert default.champion_challenger.primary_metric == "token_f1"
    assert default.champion_challenger.max_regression == 0.02
    assert default.champion_challenger.direction_higher_is_better is True


def test_a_policy_with_only_its_identity_is_valid_and_empty() -> None:
    # Given a policy that states only its schema, version and group
    raw = b'{"schema_version": "1", "policy_version": "0.1", "model_group": "sentiment"}'

    # When it is parsed
    parsed = parse_policy(raw)

    # Then it has no rules and applies only to its own group
    assert parsed.thresholds == {} and parsed.required_fields == [] and parsed.champion_challenger is None
    assert parsed.applies_to("sentiment") and not parsed.applies_to("other")


def test_custom_metrics_may_have_any_unit_and_range() -> None:
    # Given thresholds on metrics fmops does not know, with and without a unit
    raw = encode(
        policy_document(
            thresholds={"answer_quality": {"min": 3.5, "unit": "score"}, "drift_index": {"min": -2, "max": 2}},
            champion_challenger={"primary_metric": "answer_quality", "max_regression": 0.5, "higher_is_better": True},
        )
    )

    # When it is parsed
    parsed = parse_policy(raw)

    # Then the bounds are kept as written
    assert parsed.thresholds["drift_index"].for_tier(RiskTier.LOW) == Bound(min=-2, max=2)


def test_a_range_bound_is_allowed() -> None:
    parsed = parse_policy(with_threshold("refusal_rate", {"min": 0.01, "max": 0.2}))

    assert parsed.thresholds["refusal_rate"].describe() == "between 0.01 and 0.2"


# ------------------------------------------------------------------------------ tier resolution


def test_a_tier_override_replaces_the_base_bound_only_for_that_tier() -> None:
    # Given a threshold with a base bound and an override for high-risk models
    threshold = Threshold(min=0.6, tiers={RiskTier.HIGH: Bound(min=0.7)})

    # Then high resolves to the override, and tiers without one to the base
    assert threshold.for_tier(RiskTier.HIGH) == Bound(min=0.7)
    assert threshold.for_tier(RiskTier.MEDIUM) == Bound(min=0.6)
    assert threshold.for_tier(RiskTier.LOW) == Bound(min=0.6)


def test_an_override_replaces_the_whole_bound_not_one_side() -> None:
    threshold = Threshold(min=0.01, max=0.2, tiers={RiskTier.LOW: Bound(max=0.5)})

    assert threshold.for_tier(RiskTier.LOW) == Bound(max=0.5)


# ------------------------------------------------------------------------------ invalid policies


@pytest.mark.parametrize(
    ("raw", "path", "message"),
    [
        pytest.param(encode(policy_document(colour="blue")), "$.colour", "unknown key 'colour'", id="unknown-key"),
        pytest.param(
            with_threshold("token_f1", {"minimum": 0.5}),
            "$.thresholds.token_f1.minimum",
            "unknown key 'minimum'",
            id="unknown-threshold-key",
        ),
        pytest.param(
            with_threshold("token_f1", {"min": 0.5, "tiers": {"extreme": {"min": 0.9}}}),
            "$.thresholds.token_f1.tiers.extreme",
            "unknown value \"extreme\": expected 'low', 'medium' or 'high'",
            id="unknown-tier",
        ),
        pytest.param(
            with_threshold("answer_quality", {"min": 3, "unit": "stars"}),
            "$.thresholds.answer_quality.unit",
            'unknown value "stars"',
            id="unknown-unit",
        ),
        pytest.param(
            with_threshold("refusal_rate", {"min": 0.3, "max": 0.1}),
            "$.thresholds.refusal_rate",
            "min (0.3) is greater than max (0.1)",
            id="min-above-max",
        ),
        pytest.param(
            with_threshold("refusal_rate", {"max": 0.2, "tiers": {"low": {"min": 0.5, "max": 0.4}}}),
            "$.thresholds.refusal_rate.tiers.low",
            "min (0.5) is greater than max (0.4)",
            id="min-above-max-in-tier",
        ),
        pytest.param(
            with_threshold("token_f1", {}),
            "$.thresholds.token_f1",
            "a bound needs 'min', 'max' or both",
            id="empty-bound",
        ),
        pytest.param(
            with_threshold("token_f1", {"min": 60}),
            "$.thresholds.token_f1.min",
            "token_f1 is a ratio: bounds must lie in [0, 1], got 60",
            id="ratio-above-one",
        ),
        pytest.param(
            with_threshold("toxicity_rate", {"max": 0.1, "tiers": {"high": {"max": -0.01}}}),
            "$.thresholds.toxicity_rate.tiers.high.max",
            "toxicity_rate is a ratio: bounds must lie in [0, 1], got -0.01",
            id="ratio-negative-in-tier",
        ),
        pytest.param(
            with_threshold("latency_p95_ms", {"max": -1}),
            "$.thresholds.latency_p95_ms.max",
            "latency_p95_ms is measured in 'ms': bounds must be >= 0, got -1",
            id="negative-latency",
        ),
        pytest.param(
            with_threshold("latency_p95_ms", {"max": 2, "unit": "ratio"}),
            "$.thresholds.latency_p95_ms.unit",
            "latency_p95_ms is measured in 'ms', not 'ratio'",
            id="wrong-unit-for-builtin",
        ),
        pytest.param(
            with_threshold("token_f1", {"min": "0.6"}),
            "$.thresholds.token_f1.min",
            "Input should be a valid number",
            id="number-as-string",
        ),
        pytest.param(
            with_threshold("Token-F1", {"min": 0.6}),
            '$.thresholds["Token-F1"]',
            "String should match pattern",
            id="bad-metric-name",
        ),
        pytest.param(
            encode(policy_document(champion_challenger={"primary_metric": "token_f1", "max_regression": -0.01})),
            "$.champion_challenger.max_regression",
            "must be >= 0.0, got -0.01",
            id="negative-margin",
        ),
        pytest.param(
            encode(policy_document(champion_challenger={"primary_metric": "token_f1", "max_regression": 1.5})),
            "$.champion_challenger.max_regression",
            "token_f1 is a ratio: a regression margin above 1 allows anything",
            id="ratio-margin-above-one",
        ),
        pytest.param(
            encode(policy_document(champion_challenger={"primary_metric": "answer_quality", "max_regression": 0.1})),
            "$.champion_challenger.higher_is_better",
            "'answer_quality' is not a built-in metric: say whether higher is better",
            id="custom-primary-without-direction",
        ),
        pytest.param(
            encode(
                policy_document(
                    champion_challenger={
                        "primary_metric": "toxicity_rate",
                        "max_regression": 0,
                        "higher_is_better": True,
                    }
                )
            ),
            "$.champion_challenger.higher_is_better",
            "for toxicity_rate lower is better; remove the key or set it to false",
            id="primary-direction-contradicts-builtin",
        ),
        pytest.param(
            encode(policy_document(forbidden_classifications={"qa": ["restricted"]})),
            "$.forbidden_classifications.qa",
            "unknown value \"qa\": expected 'dev', 'preprod' or 'prod'",
            id="unknown-stage",
        ),
        pytest.param(
            encode(policy_document(forbidden_classifications={"prod": ["secret"]})),
            "$.forbidden_classifications.prod[0]",
            'unknown value "secret"',
            id="unknown-classification",
        ),
        pytest.param(
            encode(policy_document(required_fields=[{"field": "licence"}])),
            "$.required_fields[0].field",
            'unknown value "licence"',
            id="unknown-required-field",
        ),
        pytest.param(
            encode(policy_document(required_fields=[{"field": "intended_use", "kinds": ["llm"]}])),
            "$.required_fields[0].kinds[0]",
            'unknown value "llm"',
            id="unknown-kind",
        ),
        pytest.param(
            encode(policy_document(required_fields=[{"field": "intended_use"}, {"field": "intended_use"}])),
            "$.required_fields",
            "fields required more than once (merge their kinds): intended_use",
            id="field-required-twice",
        ),
        pytest.param(
            encode(policy_document(required_metrics=["token_f1", "token_f1"])),
            "$.required_metrics",
            "metrics listed more than once: token_f1",
            id="metric-required-twice",
        ),
        pytest.param(
            b'{"schema_version": "1", "policy_version": "1", "model_group": "*",'
            b' "thresholds": {"token_f1": {"min": 0.6}, "token_f1": {"min": 0.1}}}',
            "$.thresholds.token_f1",
            "'token_f1' appears more than once in this object",
            id="threshold-for-a-metric-named-twice",
        ),
        pytest.param(
            encode(policy_document(schema_version="2")),
            "$.schema_version",
            "Input should be '1'",
            id="unknown-schema-version",
        ),
        pytest.param(
            encode(policy_document(model_group="not a group!")),
            "$.model_group",
            "String should match pattern",
            id="bad-group",
        ),
        pytest.param(
            encode({k: v for k, v in policy_document().items() if k != "policy_version"}),
            "$.policy_version",
            "required key is missing",
            id="missing-version",
        ),
    ],
)
def test_an_invalid_policy_is_refused_with_its_path_and_a_clear_message(raw: bytes, path: str, message: str) -> None:
    # Given a policy with one mistake
    # When it is parsed
    problems = problems_of(raw)

    # Then the mistake is reported at its JSON path with a message that says what is wrong
    assert [p for p, m in problems if p == path and message in m], problems


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (b"{not json", "policy is not valid JSON"),
        (b'{"schema_version": NaN}', "NaN is not a number a policy can use"),
        (b"\xff\xfe", "policy is not UTF-8"),
        (b"[1, 2]", "a policy must be a JSON object"),
        (b" " * (MAX_POLICY_BYTES + 1), f"policy exceeds {MAX_POLICY_BYTES} bytes"),
    ],
)
def test_an_unreadable_policy_is_refused_with_one_reason(raw: bytes, message: str) -> None:
    problems = problems_of(raw)

    assert len(problems) == 1 and problems[0][0] == "$" and message in problems[0][1]


def test_every_problem_is_reported_not_only_the_first() -> None:
    # Given a policy with several independent mistakes
    document = policy_document(
        colour="blue",
        thresholds={"token_f1": {"min": 0.6, "tiers": {"extreme": {"min": 0.9}}}, "refusal_rate": {}},
        forbidden_classifications={"qa": []},
        required_metrics=["a", "a"],
    )

    # When it is parsed
    paths = {path for path, _ in problems_of(encode(document))}

    # Then each one is reported
    assert paths == {
        "$.colour",
        "$.thresholds.token_f1.tiers.extreme",
        "$.thresholds.refusal_rate",
        "$.forbidden_classifications.qa",
        "$.required_metrics",
    }


def test_every_semantic_problem_is_reported_with_its_own_path() -> None:
    document = policy_document(
        thresholds={"token_f1": {"min": 1.5, "tiers": {"high": {"min": -0.1}}}, "latency_p50_ms": {"max": -5}},
        champion_challenger={"primary_metric": "token_f1", "max_regression": 2, "higher_is_better": False},
    )

    paths = [path for path, _ in problems_of(encode(document))]

    assert paths == [
        "$.thresholds.token_f1.min",
        "$.thresholds.token_f1.tiers.high.min",
        "$.thresholds.latency_p50_ms.max",
        "$.champion_challenger.higher_is_better",
        "$.champion_challenger.max_regression",
    ]


def test_policy_invalid_is_a_domain_error_that_lists_its_problems() -> None:
    with pytest.raises(PolicyInvalid) as caught:
        parse_policy(encode(policy_document(colour="blue", schema_version="9")))

    assert isinstance(caught.value, FmopsError)
    text = str(caught.value)
    assert text.startswith("invalid policy (2 problems):")
    assert "$.colour: unknown key 'colour'" in text and "$.schema_version:" in text


# ------------------------------------------------------------------------------ hash


def test_the_hash_ignores_key_order_and_whitespace() -> None:
    # Given the same policy written twice, with different key order and layout
    compact = json.dumps(policy_document(), separators=(",", ":")).encode()
    document = policy_document()
    reordered = json.dumps(dict(reversed(list(document.items()))), indent=4).encode()

    # Then both have the same hash
    assert compact != reordered
    assert policy_hash(compact) == policy_hash(reordered)


def test_the_hash_changes_with_any_value_or_list_order() -> None:
    base = policy_hash(encode(policy_document()))

    assert policy_hash(encode(policy_document(policy_version="1.0.1"))) != base
    assert policy_hash(encode(policy_document(required_metrics=["token_f1", "rouge_l"]))) != policy_hash(
        encode(policy_document(required_metrics=["rouge_l", "token_f1"]))
    )


def test_the_hash_is_the_sha256_of_the_documented_canonical_form() -> None:
    raw = '{ "b": [1, 2.50], "a": {"y": "é", "x": null} }'.encode()

    assert canonical_json(raw) == '{"a":{"x":null,"y":"é"},"b":[1,2.5]}'.encode()
    assert policy_hash(raw) == hashlib.sha256(canonical_json(raw)).hexdigest()


def test_the_hash_of_a_shipped_policy_is_stable() -> None:
    raw = (POLICIES_DIR / "default.json").read_bytes()

    assert policy_hash(raw) == policy_hash(json.dumps(json.loads(raw), indent=1, sort_keys=False).encode())


# ------------------------------------------------------------------------------ helpers


def test_a_group_looks_for_its_own_policy_then_the_default() -> None:
    assert policy_file_names("support-assistant") == ["support-assistant.json", "default.json"]


def test_the_json_schema_is_published_with_an_id() -> None:
    schema = policy_json_schema()

    assert schema["$id"] == "https://fmops.dev/schemas/policy/v1.json"
    assert "thresholds" in schema["properties"]


def test_the_builder_policy_is_valid() -> None:
    assert policy().policy_version == "1.0.0"
