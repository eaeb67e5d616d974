"""One model version driven through intake and the promotion steps, on in-memory fakes."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fmops import intake, promotion
from fmops.evaluation import builtin, results
from fmops.events import EvaluationCompleted, EvaluationRequested, PromotionInput
from fmops.records import CatalogRecord

from tests.unit.builders import BUCKET, manifest_document, upload_version
from tests.unit.fakes import (
    FakeRegistry,
    FakeWorkflow,
    FixedClock,
    InMemoryArtifactStore,
    InMemoryCatalog,
    InMemoryEvidenceStore,
    InMemoryPolicyStore,
    RecordingBus,
    RecordingCallbacks,
)

POLICIES = Path(__file__).parents[3] / "policies"
TOKEN = "token-of-the-waiting-evaluation-task"  # pragma: allowlist secret (a fake task token)


def eval_row(prediction: str, reference: str, **extra: Any) -> dict[str, Any]:
    return {"prompt": "Classify the review.", "reference": reference, "prediction": prediction, **extra}


GOOD_ROWS = [
    eval_row("positive", "positive", latency_ms=120, input_tokens=40, output_tokens=2),
    eval_row("negative", "negative", latency_ms=150, input_tokens=38, output_tokens=2),
    eval_row("positive", "positive", latency_ms=180, input_tokens=41, output_tokens=2),
    eval_row("mostly negative", "negative", latency_ms=240, input_tokens=44, output_tokens=3),
]


def jsonl(rows: list[dict[str, Any]]) -> bytes:
    return b"".join(json.dumps(row).encode() + b"\n" for row in rows)


@dataclass
class World:
    store: InMemoryArtifactStore = field(default_factory=InMemoryArtifactStore)
    registry: FakeRegistry = field(default_factory=FakeRegistry)
    catalog: InMemoryCatalog = field(default_factory=InMemoryCatalog)
    bus: RecordingBus = field(default_factory=RecordingBus)
    workflow: FakeWorkflow = field(default_factory=FakeWorkflow)
    clock: FixedClock = field(default_factory=FixedClock)
    callbacks: RecordingCallbacks = field(default_factory=RecordingCallbacks)
    evidence: InMemoryEvidenceStore = field(default_factory=InMemoryEvidenceStore)
    policies: InMemoryPolicyStore = field(default_factory=InMemoryPolicyStore)

    def __post_init__(self) -> None:
        self.policies.files["default.json"] = (POLICIES / "default.json").read_bytes()

    # -------------------------------------------------------------- steps
    def register(
        self, version: str = "1.0.0", rows: list[dict[str, Any]] | None = None, **overrides: Any
    ) -> PromotionInput:
        """Upload a text-to-text version with an eval/ set (builtin-text) and run intake on it."""
        dataset = jsonl(GOOD_ROWS if rows is None else rows)
        document = manifest_document(version=version, task="text-to-text", **overrides)
        if "evaluation" not in overrides:
            document["artifacts"].append(
                {"path": "eval/golden.jsonl", "sha256": hashlib.sha256(dataset).hexdigest(), "size_bytes": len(dataset)}
            )
            document["evaluation"] = {
                "evaluator": "builtin-text",
                "dataset": "eval/golden.jsonl",
                "pricing": {"input_usd_per_1k_tokens": 0.0005, "output_usd_per_1k_tokens": 0.0015},
            }
        self.store.put(BUCKET, f"models/sentiment/{version}/eval/golden.jsonl", dataset)
        result = intake.register(upload_version(self.store, document), self.intake_deps)
        assert result.outcome == intake.IntakeOutcome.REGISTERED, result
        return self.workflow.executions[intake.execution_name_for(f"sentiment/{version}")]

    def start(self, promotion_input: PromotionInput, timeout_seconds: int = 3600) -> EvaluationRequested:
        promotion.start_promotion(promotion_input, self.promotion_deps)
        wait = promotion.EvaluationWait(
            version_id=promotion_input.version_id,
            correlation_id=promotion_input.correlation_id,
            task_token=f"{TOKEN}:{promotion_input.version_id}",
            timeout_seconds=timeout_seconds,
        )
        promotion.request_evaluation(wait, self.promotion_deps)
        requested = self.bus.of_type("Model Version Evaluation Requested")[-1]
        assert isinstance(requested, EvaluationRequested)
        return requested

    def evaluate(self, requested: EvaluationRequested) -> EvaluationCompleted:
        return builtin.evaluate_builtin(requested, self.evaluator_deps)

    def report(self, report: EvaluationCompleted | dict[str, Any], source: str = "fmops") -> results.ReportResult:
        detail = report.model_dump(mode="json") if isinstance(report, EvaluationCompleted) else report
        return results.receive_evaluation(detail, source, self.result_deps)

    def gate(self, promotion_input: PromotionInput) -> dict[str, Any]:
        return promotion.apply_gate(promotion_input, self.gate_deps)

    def through_the_gate(self, version: str = "1.0.0", **overrides: Any) -> PromotionInput:
        started = self.register(version, **overrides)
        self.report(self.evaluate(self.start(started)))
        self.gate(started)
        return started

    def record(self, version_id: str = "sentiment/1.0.0") -> CatalogRecord:
        record = self.catalog.get(version_id)
        assert record is not None
        return record

    # -------------------------------------------------------------- deps
    @property
    def intake_deps(self) -> intake.IntakeDeps:
        return intake.IntakeDeps(self.store, self.registry, self.catalog, self.bus, self.workflow, self.clock)

    @property
    def promotion_deps(self) -> promotion.PromotionDeps:
        return promotion.PromotionDeps(catalog=self.catalog, bus=self.bus, clock=self.clock)

    @property
    def evaluator_deps(self) -> builtin.EvaluatorDeps:
        return builtin.EvaluatorDeps(artifacts=self.store, evidence=self.evidence, bus=self.bus, clock=self.clock)

    @property
    def result_deps(self) -> results.ResultDeps:
        return results.ResultDeps(catalog=self.catalog, bus=self.bus, callbacks=self.callbacks, clock=self.clock)

    @property
    def gate_deps(self) -> promotion.GateDeps:
        return promotion.GateDeps(
            catalog=self.catalog,
            artifacts=self.store,
            policies=self.policies,
            evidence=self.evidence,
            registry=self.registry,
            bus=self.bus,
            clock=self.clock,
        )
