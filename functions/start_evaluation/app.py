"""StartEvaluation: keeps the task token server-side and announces that the version waits for metrics."""

from functools import cache

from aws_lambda_powertools import Logger, Tracer
from aws_lambda_powertools.utilities.parser import event_parser
from aws_lambda_powertools.utilities.typing import LambdaContext

from fmops import promotion
from fmops.adapters import wiring

logger = Logger()
tracer = Tracer()
deps = cache(wiring.promotion_deps)  # built on first use, once per process


@logger.inject_lambda_context(correlation_id_path="correlation_id", clear_state=True)
@tracer.capture_lambda_handler(capture_response=False)
@event_parser(model=promotion.EvaluationWait)
def handler(event: promotion.EvaluationWait, context: LambdaContext) -> dict[str, str]:
    return promotion.request_evaluation(event, deps())
