"""The gate decision: every rule of a policy applied to one model version, recorded."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TypedDict

from pydantic import BaseModel, ConfigDict, Field, model_validator

from fmops.errors import FmopsError
from fmops.gate.policy import (
    ChampionChallenger,
    FieldRequirement,
    Policy,
    RequiredField,
    Stage,
    Threshold,
    exact,
    plain,
)
from fmops.manifest import SHA256_PATTERN, Manifest, RiskTier
from fmops.metrics import BUILTIN_METRICS, Metric

# Free-text facts (intended use, ...) are shown shortened: the decision table is for reading.
MAX_OBSERVED_TEXT = 60


class _Head(TypedDict):
    rule_id: str
    description: str


class GateInputInvalid(FmopsError):
    """The gate was called with inputs it cannot judge (wrong policy, ambiguous metrics)."""


class RuleResult(BaseModel):
    """One row of the decision table."""

    model_config = ConfigDict(defer_build=True, extra="forbid", frozen=True)

    rule_id: str
    description: str
    observed: float | str | None = Field(description="What the version showed; None when nothing was there.")
    threshold: str | None = Field(description="What the policy asked for, resolved for the risk tier.")
    passed: bool
    skipped: bool = Field(default=False, description="Not applicable to this version; recorded and passed.")
    reason: str


class GateDecision(BaseModel):
    """The outcome of the gate and the exact policy (version and hash) it was made under."""

    model_config = ConfigDict(defer_build=True, extra="forbid", frozen=True)

    version_id: str
    stage: Stage
    risk_tier: RiskTier
    passed: bool
    policy_version: str
    policy_model_group: str
    policy_sha256: str = Field(pattern=SHA256_PATTERN)
    rules: list[RuleResult]

    @model_validator(mode="after")
    def _passed_only_when_every_rule_passed(self) -> GateDecision:
        if self.passed != all(rule.passed for rule in self.rules):
            raise ValueError("passed must be true exactly when every rule passed")
        return self

    @property
    def failed_rules(self) -> list[RuleResult]:
        return [rule for rule in self.rules if not rule.passed]


def evaluate_gate(
    policy: Policy,
    policy_sha256: str,
    manifest: Manifest,
    metrics: Iterable[Metric],
    champion_metrics: Iterable[Metric] | None,
    stage: Stage,
) -> GateDecision:
    """Apply every rule of `policy` to a candidate version for promotion to `stage`.

    Rules are recorded in a stable order: required fields (policy order), the forbidden
    classifications of `stage`, required metrics (policy order), thresholds (by metric name,
    resolved for the manifest's risk tier), then champion/challenger. `champion_metrics` are
    the production version's; None means there is none yet, and that rule passes, recorded
    as skipped. Raises `GateInputInvalid` if the policy is for another group or a metric is
    reported twice.
    """
    if not policy.applies_to(manifest.model_group):
        raise GateInputInvalid(
            f"policy for model group '{policy.model_group}' cannot judge a version of '{manifest.model_group}'"
        )
    candidate = _by_name(metrics, "candidate")
    champion = _by_name(champion_metrics, "champion") if champion_metrics is not None else None

    rules = [_required_field(requirement, manifest) for requirement in policy.required_fields]
    rules.append(_forbidden_classifications(policy, manifest, stage))
    rules += [_required_metric(name, candidate) for name in policy.required_metrics]
    rules += [
        _threshold(name, policy.thresholds[name], manifest.risk_tier, candidate) for name in sorted(policy.thresholds)
    ]
    if policy.champion_challenger is not None:
        rules.append(_champion_challenger(policy.champion_challenger, candidate, champion))

    return GateDecision(
        version_id=manifest.version_id,
        stage=stage,
        risk_tier=manifest.risk_tier,
        passed=all(rule.passed for rule in rules),
        policy_version=policy.policy_version,
        policy_model_group=policy.model_group,
        policy_sha256=policy_sha256,
        rules=rules,
    )


def _by_name(metrics: Iterable[Metric], whose: str) -> dict[str, Metric]:
    found: dict[str, Metric] = {}
    for metric in metrics:
        if metric.name in found:
            raise GateInputInvalid(f"the {whose} metrics report '{metric.name}' more than once")
        found[metric.name] = metric
    return found


def _short(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= MAX_OBSERVED_TEXT else text[: MAX_OBSERVED_TEXT - 1] + "…"


def _fact(manifest: Manifest, field: RequiredField) -> str | None:
    """The manifest's value for `field` as shown in the table, or None when absent or blank."""
    base, lineage = manifest.base_model, manifest.lineage
    text: str | None
    match field:
        case RequiredField.BASE_MODEL:
            text = f"{base.name} ({base.provider})" if base else None
        case RequiredField.BASE_MODEL_LICENCE:
            text = base.licence if base else None
        case RequiredField.DATASETS:
            text = ", ".join(d.name for d in lineage.datasets)
        case RequiredField.DATASET_CLASSIFICATIONS:
            text = ", ".join(f"{d.name}: {d.classification.value}" for d in lineage.datasets)
        case RequiredField.CODE:
            text = f"{lineage.code.repository}@{lineage.code.commit}" if lineage.code else None
        case RequiredField.TRAINING_JOB:
            text = lineage.training_job
        case RequiredField.INTENDED_USE:
            text = manifest.intended_use
        case RequiredField.LIMITATIONS:
            text = manifest.limitations
        case RequiredField.DESCRIPTION:
            text = manifest.description
    return _short(text) if text and text.strip() else None


def _required_field(requirement: FieldRequirement, manifest: Manifest) -> RuleResult:
    field = requirement.field.value
    kinds = f" (kinds: {', '.join(k.value for k in requirement.kinds)})" if requirement.kinds else ""
    common = _Head(rule_id=f"required_field.{field}", description=f"manifest states {field}{kinds}")
    if not requirement.applies_to(manifest.kind):
        return RuleResult(
            **common,
            observed=None,
            threshold="present",
            passed=True,
            skipped=True,
            reason=f"not required for kind '{manifest.kind.value}'",
        )
    observed = _fact(manifest, requirement.field)
    return RuleResult(
        **common,
        observed=observed,
        threshold="present",
        passed=observed is not None,
        reason="present" if observed is not None else f"{field} is missing or empty in the manifest",
    )


def _forbidden_classifications(policy: Policy, manifest: Manifest, stage: Stage) -> RuleResult:
    forbidden = policy.forbidden_classifications.get(stage, [])
    datasets = manifest.lineage.datasets
    offending = [d for d in datasets if d.classification in forbidden]
    if offending:
        listed = ", ".join(f"{d.name} ({d.classification.value})" for d in offending)
        reason = f"trained on data that may not reach {stage.value}: {listed}"
    elif not forbidden:
        reason = f"the policy forbids no data classification in {stage.value}"
    else:
        reason = "no training dataset carries a forbidden classification"
    return RuleResult(
        rule_id=f"forbidden_classifications.{stage.value}",
        description=f"training data allowed in {stage.value}",
        observed=", ".join(sorted({d.classification.value for d in datasets})) or "no datasets listed",
        threshold=f"none of: {', '.join(c.value for c in forbidden)}" if forbidden else "any",
        passed=not offending,
        reason=reason,
    )


def _required_metric(name: str, candidate: dict[str, Metric]) -> RuleResult:
    metric = candidate.get(name)
    return RuleResult(
        rule_id=f"required_metric.{name}",
        description=f"evaluation reports {name}",
        observed=metric.value if metric is not None else None,
        threshold="reported",
        passed=metric is not None,
        reason=f"reported (n={metric.sample_size})" if metric is not None else "not reported by the evaluation",
    )


def _threshold(name: str, threshold: Threshold, tier: RiskTier, candidate: dict[str, Metric]) -> RuleResult:
    bound = threshold.for_tier(tier)
    resolved = bound.describe() + (f" ({tier.value} tier)" if tier in threshold.tiers else "")
    common = _Head(rule_id=f"threshold.{name}", description=f"{name} {resolved}")
    metric = candidate.get(name)
    if metric is None:
        return RuleResult(
            **common, observed=None, threshold=resolved, passed=False, reason="not reported by the evaluation"
        )
    spec = BUILTIN_METRICS.get(name)
    expected_unit = spec.unit if spec is not None else threshold.unit
    if expected_unit is not None and metric.unit != expected_unit:
        return RuleResult(
            **common,
            observed=metric.value,
            threshold=resolved,
            passed=False,
            reason=f"reported in '{metric.unit.value}', the policy's bound is in '{expected_unit.value}'",
        )
    passed = bound.admits(metric.value)
    return RuleResult(
        **common,
        observed=metric.value,
        threshold=resolved,
        passed=passed,
        reason=f"{plain(metric.value)} is {'within' if passed else 'outside'} {bound.describe()} "
        f"(n={metric.sample_size})",
    )


def _champion_challenger(
    rule: ChampionChallenger, candidate: dict[str, Metric], champion: dict[str, Metric] | None
) -> RuleResult:
    name, margin = rule.primary_metric, rule.max_regression
    higher = rule.direction_higher_is_better
    common = _Head(
        rule_id=f"champion_challenger.{name}",
        description=f"{name} no {'lower' if higher else 'higher'} than production's by more than {plain(margin)}",
    )
    ours = candidate.get(name)
    if champion is None:
        return RuleResult(
            **common,
            observed=ours.value if ours is not None else None,
            threshold=None,
            passed=True,
            skipped=True,
            reason="no version in production: the first version passes this rule",
        )
    theirs = champion.get(name)
    if theirs is None:
        return RuleResult(
            **common,
            observed=ours.value if ours is not None else None,
            threshold=None,
            passed=False,
            reason=f"the production version has no recorded {name}: re-evaluate it to compare",
        )
    limit = exact(theirs.value) - exact(margin) if higher else exact(theirs.value) + exact(margin)
    sign = ">=" if higher else "<="
    threshold = f"{sign} {plain(limit)} (production {plain(theirs.value)} {'-' if higher else '+'} {plain(margin)})"
    if ours is None:
        return RuleResult(
            **common, observed=None, threshold=threshold, passed=False, reason="not reported by the evaluation"
        )
    passed = exact(ours.value) >= limit if higher else exact(ours.value) <= limit
    change = exact(ours.value) - exact(theirs.value)
    signed = ("+" if change > 0 else "") + plain(change)
    return RuleResult(
        **common,
        observed=ours.value,
        threshold=threshold,
        passed=passed,
        reason=f"{plain(ours.value)} vs production {plain(theirs.value)}: change {signed}, "
        f"{'within' if passed else 'beyond'} the allowed regression of {plain(margin)}",
    )


def decision_table(decision: GateDecision) -> str:
    """The decision as a plain-text table (`fmops policy explain G/V`)."""
    header = (
        f"{decision.version_id} -> {decision.stage.value} ({decision.risk_tier.value} risk): "
        f"{'PASSED' if decision.passed else 'FAILED'}\n"
        f"policy {decision.policy_model_group} {decision.policy_version} sha256:{decision.policy_sha256}\n"
    )
    rows = [("RESULT", "RULE", "OBSERVED", "THRESHOLD", "REASON")]
    for rule in decision.rules:
        result = "skip" if rule.skipped else ("pass" if rule.passed else "FAIL")
        observed = rule.observed if isinstance(rule.observed, str) else plain(rule.observed)
        rows.append((result, rule.rule_id, observed, rule.threshold or "-", rule.reason))
    widths = [max(len(row[i]) for row in rows) for i in range(4)]
    lines = ["  ".join([*(cell.ljust(widths[i]) for i, cell in enumerate(row[:4])), row[4]]) for row in rows]
    return header + "\n".join(line.rstrip() for line in lines) + "\n"
