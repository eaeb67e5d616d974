"""First step of the promotion state machine (called synchronously by Step Functions)."""

from functools import cache

from aws_lambda_powertools import Logger, Tracer
from aws_lambda_powertools.utilities.parser import event_parser
from aws_lambda_powertools.utilities.typing import LambdaContext

from fmops import promotion
from fmops.adapters.dynamodb import DynamoCatalog
from fmops.adapters.events import EventBridgeBus
from fmops.clock import SystemClock
from fmops.events import PromotionInput
from fmops.settings import PromotionSettings, load

logger = Logger()
tracer = Tracer()


@cache
def deps() -> promotion.PromotionDeps:
    settings = load(PromotionSettings)
    return promotion.PromotionDeps(
        catalog=DynamoCatalog(settings.catalog_table), bus=EventBridgeBus(settings.event_bus_name), clock=SystemClock()
    )


@logger.inject_lambda_context(correlation_id_path="correlation_id", clear_state=True)
@tracer.capture_lambda_handler(capture_response=False)
@event_parser(model=PromotionInput)
def handler(event: PromotionInput, context: LambdaContext) -> dict[str, str]:
    return promotion.start_promotion(event, deps())
