"""The built-in evaluator: scores the evaluation set a text-to-text version ships in eval/.

The set is streamed from the artifact store through the JSONL reader (bounded memory: one line
at a time, at most MAX_ROWS rows of MAX_LINE_BYTES each) while its sha256 is computed, so a set
overwritten after registration is caught, not scored. Every outcome becomes one "Evaluation
Completed" report: metrics and their evidence, or the reason the set could not be evaluated.
Errors of the store itself propagate: the asynchronous invocation retries them.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from fmops.clock import Clock
from fmops.errors import ManifestChanged
from fmops.evaluation.dataset import EvaluationSetInvalid, split_lines
from fmops.evaluation.metrics import evaluate_text_set
from fmops.events import EvaluationCompleted, EvaluationOutcome, EvaluationRequested
from fmops.manifest import Manifest, version_prefix
from fmops.metrics import Metric
from fmops.ports import ArtifactStore, EventBus, EvidenceStore
from fmops.registered import registered_manifest, split_s3_uri

EVALUATOR = "fmops:builtin-text"
ACTOR = "fmops:builtin-evaluator"
MAX_ROWS = 100_000
MAX_LINE_BYTES = 64 * 1024
# Bump when a metric's definition or a lexicon changes, so evidence says which rules scored it.
METHOD_VERSION = "1"


@dataclass(frozen=True)
class EvaluatorDeps:
    artifacts: ArtifactStore
    evidence: EvidenceStore
    bus: EventBus
    clock: Clock
    max_rows: int = MAX_ROWS
    max_line_bytes: int = MAX_LINE_BYTES


class _Hashing:
    """Passes chunks through while hashing them, so one read both scores and verifies the set."""

    def __init__(self, chunks: Iterable[bytes]) -> None:
        self._chunks = chunks
        self.digest = hashlib.sha256()

    def __iter__(self) -> Iterator[bytes]:
        for chunk in self._chunks:
            self.digest.update(chunk)
            yield chunk


def evaluate_builtin(request: EvaluationRequested, deps: EvaluatorDeps) -> EvaluationCompleted:
    """Score the version's evaluation set and publish the report (succeeded or failed)."""
    try:
        manifest = registered_manifest(request.manifest_uri, request.manifest_sha256, deps.artifacts)
        report = _score(request, manifest, deps)
    except (ManifestChanged, EvaluationSetInvalid) as error:
        report = _failed(request, str(error), deps)
    deps.bus.publish(report)
    return report


def _score(request: EvaluationRequested, manifest: Manifest, deps: EvaluatorDeps) -> EvaluationCompleted:
    plan = manifest.evaluation
    if plan.dataset is None:
        return _failed(request, "the manifest names no evaluation.dataset for the builtin-text evaluator", deps)
    artifact = next(a for a in manifest.artifacts if a.path == plan.dataset)  # the manifest guarantees it
    bucket, _ = split_s3_uri(request.manifest_uri)
    key = version_prefix(manifest.model_group, manifest.version) + artifact.path
    stream = _Hashing(deps.artifacts.stream(bucket, key))
    pricing = plan.pricing
    metrics = evaluate_text_set(
        split_lines(stream, deps.max_line_bytes),
        max_rows=deps.max_rows,
        max_line_bytes=deps.max_line_bytes,
        price_per_1k_input_tokens=pricing.input_usd_per_1k_tokens if pricing else None,
        price_per_1k_output_tokens=pricing.output_usd_per_1k_tokens if pricing else None,
    )
    actual = stream.digest.hexdigest()
    if actual != artifact.sha256:
        return _failed(
            request,
            f"{artifact.path} changed since registration (sha256 {actual}, registered {artifact.sha256}); "
            "versions are immutable: submit a new version",
            deps,
        )
    evidence_uri = deps.evidence.put_json(
        f"evaluations/{request.version_id}/builtin-text.json",
        _evidence(request, artifact.path, artifact.sha256, metrics, deps.clock),
    )
    return EvaluationCompleted(
        event_id=f"{request.version_id}#evaluation#builtin-text",
        correlation_id=request.version_id,
        version_id=request.version_id,
        occurred_at=deps.clock.now(),
        actor=ACTOR,
        evaluator=EVALUATOR,
        outcome=EvaluationOutcome.SUCCEEDED,
        metrics=metrics,
        evidence_uri=evidence_uri,
    )


def _evidence(
    request: EvaluationRequested, path: str, sha256: str, metrics: list[Metric], clock: Clock
) -> dict[str, object]:
    return {
        "version_id": request.version_id,
        "evaluator": EVALUATOR,
        "method_version": METHOD_VERSION,
        "dataset": {"path": path, "sha256": sha256},
        "metrics": [metric.model_dump(mode="json") for metric in metrics],
        "evaluated_at": clock.now().isoformat(),
    }


def _failed(request: EvaluationRequested, reason: str, deps: EvaluatorDeps) -> EvaluationCompleted:
    return EvaluationCompleted(
        event_id=f"{request.version_id}#evaluation#builtin-text",
        correlation_id=request.version_id,
        version_id=request.version_id,
        occurred_at=deps.clock.now(),
        actor=ACTOR,
        evaluator=EVALUATOR,
        outcome=EvaluationOutcome.FAILED,
        failure_reason=reason[:2000],
    )
