"""Evaluation results: any evaluator's "Evaluation Completed" -> accepted once, or refused and recorded."""

from functools import cache

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.utilities.parser import event_parser
from aws_lambda_powertools.utilities.typing import LambdaContext

from fmops.adapters.dynamodb import DynamoCatalog
from fmops.adapters.events import EventBridgeBus
from fmops.adapters.stepfunctions import StepFunctionsCallbacks
from fmops.clock import SystemClock
from fmops.evaluation import results
from fmops.events import AnyEnvelope
from fmops.settings import EvaluationResultsSettings, load

logger = Logger()
tracer = Tracer()
metrics = Metrics()


@cache
def deps() -> results.ResultDeps:
    settings = load(EvaluationResultsSettings)
    return results.ResultDeps(
        catalog=DynamoCatalog(settings.catalog_table),
        bus=EventBridgeBus(settings.event_bus_name),
        callbacks=StepFunctionsCallbacks(),
        clock=SystemClock(),
    )


@logger.inject_lambda_context(correlation_id_path="detail.correlation_id", clear_state=True)
@metrics.log_metrics
@tracer.capture_lambda_handler(capture_response=False)
@event_parser(model=AnyEnvelope)
def handler(event: AnyEnvelope, context: LambdaContext) -> dict[str, str | None]:
    # The detail is validated by the domain, so a malformed report is refused on the record, not dropped.
    result = results.receive_evaluation(event.detail, event.source, deps())
    logger.info(
        "evaluation report handled", outcome=result.outcome.value, version_id=result.version_id, code=result.code
    )
    metrics.add_metric(name=f"EvaluationReport{result.outcome.value.title()}", unit="Count", value=1)
    return result.as_dict()
