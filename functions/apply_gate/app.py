"""ApplyGate: judges the accepted evaluation against the model group's policy."""

from functools import cache
from typing import Any

from aws_lambda_powertools import Logger, Tracer
from aws_lambda_powertools.utilities.parser import event_parser
from aws_lambda_powertools.utilities.typing import LambdaContext

from fmops import promotion
from fmops.adapters.dynamodb import DynamoCatalog
from fmops.adapters.events import EventBridgeBus
from fmops.adapters.s3 import S3ArtifactStore, S3EvidenceStore, S3PolicyStore
from fmops.adapters.sagemaker import SageMakerRegistry
from fmops.clock import SystemClock
from fmops.events import PromotionInput
from fmops.settings import GateSettings, load

logger = Logger()
tracer = Tracer()


@cache
def deps() -> promotion.GateDeps:
    settings = load(GateSettings)
    return promotion.GateDeps(
        catalog=DynamoCatalog(settings.catalog_table),
        artifacts=S3ArtifactStore(),
        policies=S3PolicyStore(settings.policy_bucket),
        evidence=S3EvidenceStore(settings.evidence_bucket),
        registry=SageMakerRegistry(),
        bus=EventBridgeBus(settings.event_bus_name),
        clock=SystemClock(),
    )


@logger.inject_lambda_context(correlation_id_path="correlation_id", clear_state=True)
@tracer.capture_lambda_handler(capture_response=False)
@event_parser(model=PromotionInput)
def handler(event: PromotionInput, context: LambdaContext) -> dict[str, Any]:
    result = promotion.apply_gate(event, deps())
    logger.info("gate decided", passed=result["passed"], status=result["status"])
    return result
