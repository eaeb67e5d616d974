"""The metric contract shared by every evaluator and the gate: one model, one catalogue of built-in metrics.

The built-in evaluator produces these, external evaluators report them, and gate policies set
bounds on them; keeping the units and directions in one place is what lets a policy's bound on
`cost_per_1k_tokens_usd` meet the value the evaluator computed.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field, model_validator

METRIC_NAME_PATTERN = r"^[a-z][a-z0-9_]{0,63}$"


class MetricUnit(StrEnum):
    RATIO = "ratio"  # a share in [0, 1]
    MS = "ms"
    USD = "usd"
    COUNT = "count"
    SCORE = "score"  # any scale a custom evaluator defines; may be negative


NON_NEGATIVE_UNITS = frozenset({MetricUnit.MS, MetricUnit.USD, MetricUnit.COUNT})


@dataclass(frozen=True)
class MetricSpec:
    unit: MetricUnit
    higher_is_better: bool


# The metrics fmops' built-in text evaluator computes; evaluators and policies may add custom ones.
BUILTIN_METRICS: dict[str, MetricSpec] = {
    "exact_match": MetricSpec(MetricUnit.RATIO, higher_is_better=True),
    "token_f1": MetricSpec(MetricUnit.RATIO, higher_is_better=True),
    "rouge_l": MetricSpec(MetricUnit.RATIO, higher_is_better=True),
    "toxicity_rate": MetricSpec(MetricUnit.RATIO, higher_is_better=False),
    "pii_leak_rate": MetricSpec(MetricUnit.RATIO, higher_is_better=False),
    "refusal_rate": MetricSpec(MetricUnit.RATIO, higher_is_better=False),
    "latency_p50_ms": MetricSpec(MetricUnit.MS, higher_is_better=False),
    "latency_p95_ms": MetricSpec(MetricUnit.MS, higher_is_better=False),
    "cost_per_1k_tokens_usd": MetricSpec(MetricUnit.USD, higher_is_better=False),
}


class Metric(BaseModel):
    """One measured metric of a model version. Rejects NaN and infinities, ratios outside [0, 1],
    negative durations, costs and counts, and a missing sample size."""

    model_config = ConfigDict(defer_build=True, extra="forbid", frozen=True)

    name: str = Field(pattern=METRIC_NAME_PATTERN)
    value: float = Field(allow_inf_nan=False)
    unit: MetricUnit
    sample_size: int = Field(ge=1, description="Rows or requests the value was computed from.")
    higher_is_better: bool

    @model_validator(mode="after")
    def _value_fits_its_unit(self) -> Metric:
        if self.unit == MetricUnit.RATIO and not 0.0 <= self.value <= 1.0:
            raise ValueError(f"metric '{self.name}' is a ratio and must lie in [0, 1], got {self.value}")
        if self.unit in NON_NEGATIVE_UNITS and self.value < 0:
            raise ValueError(f"metric '{self.name}' in {self.unit.value} cannot be negative, got {self.value}")
        spec = BUILTIN_METRICS.get(self.name)
        if spec is not None and (spec.unit, spec.higher_is_better) != (self.unit, self.higher_is_better):
            better = "higher" if spec.higher_is_better else "lower"
            raise ValueError(f"metric '{self.name}' is built in: measured in {spec.unit.value}, {better} is better")
        return self


def builtin_metric(name: str, value: float, sample_size: int) -> Metric:
    """A built-in metric, with its unit and direction from the catalogue."""
    spec = BUILTIN_METRICS[name]
    return Metric(
        name=name, value=value, unit=spec.unit, sample_size=sample_size, higher_is_better=spec.higher_is_better
    )
