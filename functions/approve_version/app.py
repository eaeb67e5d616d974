"""ApproveVersion: the quorum approved; the model package becomes Approved in the registry."""

from functools import cache

from aws_lambda_powertools import Logger, Tracer
from aws_lambda_powertools.utilities.parser import event_parser
from aws_lambda_powertools.utilities.typing import LambdaContext

from fmops import promotion
from fmops.adapters.dynamodb import DynamoCatalog
from fmops.adapters.events import EventBridgeBus
from fmops.adapters.sagemaker import SageMakerRegistry
from fmops.clock import SystemClock
from fmops.settings import ApproveVersionSettings, load

logger = Logger()
tracer = Tracer()


@cache
def deps() -> promotion.ApproveDeps:
    settings = load(ApproveVersionSettings)
    return promotion.ApproveDeps(
        catalog=DynamoCatalog(settings.catalog_table),
        registry=SageMakerRegistry(),
        bus=EventBridgeBus(settings.event_bus_name),
        clock=SystemClock(),
    )


@logger.inject_lambda_context(correlation_id_path="correlation_id", clear_state=True)
@tracer.capture_lambda_handler(capture_response=False)
@event_parser(model=promotion.ApprovalGranted)
def handler(event: promotion.ApprovalGranted, context: LambdaContext) -> dict[str, str]:
    result = promotion.approve_version(event, deps())
    logger.info("version approved", extra=result)
    return result
