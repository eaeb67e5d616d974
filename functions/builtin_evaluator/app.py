"""Built-in evaluator: "Model Version Evaluation Requested" (builtin-text) -> metrics of the eval/ set."""

from functools import cache

from aws_lambda_powertools import Logger, Tracer
from aws_lambda_powertools.utilities.parser import event_parser
from aws_lambda_powertools.utilities.parser.models import EventBridgeModel
from aws_lambda_powertools.utilities.typing import LambdaContext

from fmops.adapters.events import EventBridgeBus
from fmops.adapters.s3 import S3ArtifactStore, S3EvidenceStore
from fmops.clock import SystemClock
from fmops.evaluation import builtin
from fmops.events import EvaluationRequested
from fmops.settings import BuiltinEvaluatorSettings, load

logger = Logger()
tracer = Tracer()


class EvaluationRequestedEnvelope(EventBridgeModel):
    detail: EvaluationRequested


@cache
def deps() -> builtin.EvaluatorDeps:
    settings = load(BuiltinEvaluatorSettings)
    return builtin.EvaluatorDeps(
        artifacts=S3ArtifactStore(),
        evidence=S3EvidenceStore(settings.evidence_bucket),
        bus=EventBridgeBus(settings.event_bus_name),
        clock=SystemClock(),
    )


@logger.inject_lambda_context(correlation_id_path="detail.correlation_id", clear_state=True)
@tracer.capture_lambda_handler(capture_response=False)
@event_parser(model=EvaluationRequestedEnvelope)
def handler(event: EvaluationRequestedEnvelope, context: LambdaContext) -> dict[str, object]:
    report = builtin.evaluate_builtin(event.detail, deps())
    logger.info("built-in evaluation reported", outcome=report.outcome.value, metrics=len(report.metrics))
    return {"version_id": report.version_id, "outcome": report.outcome.value, "event_id": report.event_id}
