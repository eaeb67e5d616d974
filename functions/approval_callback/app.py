"""Approval callback: the only function that unseals task tokens. Resumes the promotion when a stage
is decided ("Approval Stage Decided"), and on its schedule expires, reminds, escalates and heartbeats."""

from collections.abc import Callable
from functools import cache

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.utilities.parser import event_parser
from aws_lambda_powertools.utilities.parser.models import EventBridgeModel
from aws_lambda_powertools.utilities.typing import LambdaContext

from fmops.adapters.approvals import DynamoApprovalStore, KmsTokenVault
from fmops.adapters.events import EventBridgeBus
from fmops.adapters.s3 import S3PolicyStore
from fmops.adapters.stepfunctions import StepFunctionsCallbacks
from fmops.approvals import service
from fmops.clock import SystemClock
from fmops.events import ApprovalStageDecided
from fmops.settings import ApprovalCallbackSettings, load

logger = Logger()
tracer = Tracer()
metrics = Metrics()


@cache
def deps() -> service.SweepDeps:
    settings = load(ApprovalCallbackSettings)
    return service.SweepDeps(
        approvals=DynamoApprovalStore(settings.approvals_table),
        config=S3PolicyStore(settings.policy_bucket),
        vault=KmsTokenVault(settings.fmops_key_arn),
        callbacks=StepFunctionsCallbacks(),
        bus=EventBridgeBus(settings.event_bus_name),
        clock=SystemClock(),
    )


def _resume(event: EventBridgeModel) -> dict[str, object]:
    decided = ApprovalStageDecided.model_validate(event.detail)
    d = deps()
    resumed = service.resume(decided.approval_id, service.ResumeDeps(d.approvals, d.vault, d.callbacks, d.bus, d.clock))
    metrics.add_metric(name="ApprovalResumed", unit="Count", value=int(resumed.delivered))
    return resumed.as_dict()


def _sweep(event: EventBridgeModel) -> dict[str, object]:
    # The tick's own time, when later than ours: a late delivery must not expire less than it should.
    d = deps()
    now = max(d.clock.now(), event.time)
    return dict(service.sweep(now, d).as_dict())


_BY_DETAIL_TYPE: dict[str, Callable[[EventBridgeModel], dict[str, object]]] = {
    ApprovalStageDecided.detail_type: _resume,
    "Scheduled Event": _sweep,
}


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
@tracer.capture_lambda_handler(capture_response=False)
@event_parser(model=EventBridgeModel)
def handler(event: EventBridgeModel, context: LambdaContext) -> dict[str, object]:
    result = _BY_DETAIL_TYPE[event.detail_type](event)
    logger.info("approval callback", extra={"detail_type": event.detail_type, **result})
    return result
