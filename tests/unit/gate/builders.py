"""Valid policies, manifests and metrics for gate tests; each test changes only what it is about."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

from fmops.gate.policy import Policy, parse_policy, policy_hash
from fmops.manifest import Manifest
from fmops.metrics import BUILTIN_METRICS, Metric, MetricUnit

from tests.unit.builders import manifest_document

POLICIES_DIR = Path(__file__).resolve().parents[3] / "policies"


def policy_document(**overrides: Any) -> dict[str, Any]:
    document: dict[str, Any] = {
        "schema_version": "1",
        "policy_version": "1.0.0",
        "model_group": "*",
        "description": "test policy",
        "thresholds": {
            "token_f1": {"min": 0.6, "tiers": {"high": {"min": 0.7}}},
            "toxicity_rate": {"max": 0.01},
        },
        "required_fields": [
            {"field": "base_model.licence", "kinds": ["foundation", "fine-tuned", "adapter"]},
            {"field": "intended_use"},
        ],
        "forbidden_classifications": {"prod": ["restricted"]},
        "required_metrics": ["token_f1"],
        "champion_challenger": {"primary_metric": "token_f1", "max_regression": 0.02},
    }
    document = copy.deepcopy(document)
    document.update(overrides)
    return document


def encode(document: dict[str, Any]) -> bytes:
    return json.dumps(document).encode()


def policy(**overrides: Any) -> Policy:
    return parse_policy(encode(policy_document(**overrides)))


def sha_of(**overrides: Any) -> str:
    return policy_hash(encode(policy_document(**overrides)))


def shipped(name: str) -> tuple[Policy, str]:
    raw = (POLICIES_DIR / name).read_bytes()
    return parse_policy(raw), policy_hash(raw)


def manifest(**overrides: Any) -> Manifest:
    return Manifest.model_validate(manifest_document(**overrides))


def metric(name: str, value: float, unit: MetricUnit | None = None, sample_size: int = 500) -> Metric:
    """A built-in metric as the evaluator reports it; any other name is a custom score (higher is better)."""
    spec = BUILTIN_METRICS.get(name)
    return Metric(
        name=name,
        value=value,
        unit=unit or (spec.unit if spec else MetricUnit.SCORE),
        sample_size=sample_size,
        higher_is_better=spec.higher_is_better if spec else True,
    )


def good_metrics(**values: float) -> list[Metric]:
    """Metrics that pass the shipped default policy at every tier; keyword arguments replace values."""
    base = {
        "token_f1": 0.75,
        "toxicity_rate": 0.0,
        "pii_leak_rate": 0.0,
        "refusal_rate": 0.05,
        "latency_p95_ms": 900.0,
    }
    base.update(values)
    return [metric(name, value) for name, value in base.items()]
