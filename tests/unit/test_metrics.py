"""The metric contract every evaluator reports and the gate reads."""

import math

import pytest
from pydantic import ValidationError

from fmops.metrics import Metric, MetricUnit, builtin_metric


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"value": math.nan}, "finite"),
        ({"value": math.inf}, "finite"),
        ({"value": 1.5}, r"\[0, 1\]"),
        ({"value": -0.1}, r"\[0, 1\]"),
        ({"value": -1.0, "unit": "ms"}, "negative"),
        ({"value": -0.5, "unit": "usd"}, "negative"),
        ({"sample_size": 0}, "greater than or equal to 1"),
        ({"sample_size": None}, "valid integer"),
        ({"unit": "percent"}, "unit"),
        ({"name": "Exact Match"}, "pattern"),
    ],
)
def test_malformed_metrics_are_rejected(fields: dict[str, object], message: str) -> None:
    document = {"name": "exact_match", "value": 0.5, "unit": "ratio", "sample_size": 10, "higher_is_better": True}
    with pytest.raises(ValidationError, match=message):
        Metric.model_validate({**document, **fields})


def test_a_metric_without_sample_size_is_rejected() -> None:
    with pytest.raises(ValidationError, match="sample_size"):
        Metric.model_validate({"name": "exact_match", "value": 0.5, "unit": "ratio", "higher_is_better": True})


def test_a_latency_may_exceed_one() -> None:
    assert Metric(name="latency_p50_ms", value=1234.5, unit="ms", sample_size=3, higher_is_better=False)


def test_a_custom_score_may_be_negative() -> None:
    assert Metric(name="drift_index", value=-1.5, unit="score", sample_size=10, higher_is_better=False)


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"unit": "ms"}, "built in: measured in ratio, higher is better"),
        ({"higher_is_better": False}, "built in: measured in ratio, higher is better"),
    ],
)
def test_a_built_in_metric_keeps_its_unit_and_direction(fields: dict[str, object], message: str) -> None:
    # An evaluator cannot report token_f1 in another unit or turn its direction: policies rely on both
    document = {"name": "token_f1", "value": 0.5, "unit": "ratio", "sample_size": 10, "higher_is_better": True}
    with pytest.raises(ValidationError, match=message):
        Metric.model_validate({**document, **fields})


def test_built_in_metrics_take_unit_and_direction_from_the_catalogue() -> None:
    cost = builtin_metric("cost_per_1k_tokens_usd", 0.0054, sample_size=4)

    assert (cost.unit, cost.higher_is_better) == (MetricUnit.USD, False)
