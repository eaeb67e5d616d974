"""Notifier: "Model Version Rejected" -> an e-mail to the version's submitter, at most once per event."""

from collections.abc import Callable
from functools import cache

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.utilities.parser import event_parser
from aws_lambda_powertools.utilities.typing import LambdaContext

from fmops import idempotency, notifications
from fmops.adapters.dynamodb import DynamoCatalog
from fmops.adapters.ses import SesNotifier
from fmops.events import FmopsEnvelope, ModelVersionRejected
from fmops.settings import NotifierSettings, load

logger = Logger()
tracer = Tracer()
metrics = Metrics()


@cache
def deps() -> notifications.NotificationDeps:
    settings = load(NotifierSettings)
    return notifications.NotificationDeps(
        catalog=DynamoCatalog(settings.catalog_table),
        notifier=SesNotifier(settings.notification_sender),
        stage=settings.stage,
    )


def _notify(event_id: str, rejection: ModelVersionRejected) -> dict[str, object]:
    outcome = notifications.notify_rejection(rejection, deps())
    logger.info(
        "rejection notice handled",
        event_id=event_id,
        version_id=outcome.version_id,
        delivery=outcome.delivery.value,
        reasons=outcome.reasons,
    )
    metrics.add_metric(name=f"RejectionNotice{outcome.delivery.value.title().replace('_', '')}", unit="Count", value=1)
    return outcome.as_dict()


@cache
def notify_once() -> Callable[..., dict[str, object]]:
    # Keyed on the business id only: EventBridge retries and duplicate puts of one rejection send one e-mail.
    return idempotency.once(load(NotifierSettings).idempotency_table, "event_id", _notify)


@logger.inject_lambda_context(correlation_id_path="detail.correlation_id", clear_state=True)
@metrics.log_metrics
@tracer.capture_lambda_handler(capture_response=False)
@event_parser(model=FmopsEnvelope)
def handler(event: FmopsEnvelope, context: LambdaContext) -> dict[str, object]:
    idempotency.CONFIG.register_lambda_context(context)
    rejection = ModelVersionRejected.model_validate(event.detail)
    return notify_once()(event_id=rejection.event_id, rejection=rejection)
