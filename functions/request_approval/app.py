"""RequestApproval: opens a stage's approval, keeps the task token sealed server-side, announces it."""

from functools import cache

from aws_lambda_powertools import Logger, Tracer
from aws_lambda_powertools.utilities.parser import event_parser
from aws_lambda_powertools.utilities.typing import LambdaContext

from fmops.adapters.approvals import DynamoApprovalStore, KmsTokenVault
from fmops.adapters.dynamodb import DynamoCatalog
from fmops.adapters.events import EventBridgeBus
from fmops.adapters.s3 import S3PolicyStore
from fmops.approvals import service
from fmops.clock import SystemClock
from fmops.settings import RequestApprovalSettings, load

logger = Logger()
tracer = Tracer()


@cache
def deps() -> service.RequestDeps:
    settings = load(RequestApprovalSettings)
    return service.RequestDeps(
        catalog=DynamoCatalog(settings.catalog_table),
        approvals=DynamoApprovalStore(settings.approvals_table),
        config=S3PolicyStore(settings.policy_bucket),
        vault=KmsTokenVault(settings.fmops_key_arn),
        bus=EventBridgeBus(settings.event_bus_name),
        clock=SystemClock(),
    )


@logger.inject_lambda_context(correlation_id_path="correlation_id", clear_state=True)
@tracer.capture_lambda_handler(capture_response=False)
@event_parser(model=service.ApprovalWait)
def handler(event: service.ApprovalWait, context: LambdaContext) -> dict[str, str]:
    result = service.request_approval(event, deps())
    logger.info("approval requested", extra={"version_id": event.version_id, "stage": event.stage.value, **result})
    return result
