"""Approval notifier: approval events -> personal e-mailed links and the Slack message, once per event."""

from collections.abc import Callable
from functools import cache

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.utilities.parser import event_parser
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import SecretBytes

from fmops import idempotency
from fmops.adapters.approvals import DynamoApprovalStore
from fmops.adapters.dynamodb import DynamoCatalog
from fmops.adapters.s3 import S3PolicyStore
from fmops.adapters.secrets import SecretsManagerSecrets
from fmops.adapters.ses import SesNotifier
from fmops.adapters.slack import SlackWebApi
from fmops.approvals import notify
from fmops.clock import SystemClock
from fmops.events import FmopsEnvelope
from fmops.settings import ApprovalNotifierSettings, load

logger = Logger()
tracer = Tracer()
metrics = Metrics()


@cache
def deps() -> notify.ApprovalNotifyDeps:
    settings = load(ApprovalNotifierSettings)
    secrets = SecretsManagerSecrets()

    def bot_token() -> SecretBytes:
        return secrets.get(settings.slack_bot_token_arn)

    channel = settings.slack_approval_channel
    return notify.ApprovalNotifyDeps(
        approvals=DynamoApprovalStore(settings.approvals_table),
        catalog=DynamoCatalog(settings.catalog_table),
        config=S3PolicyStore(settings.policy_bucket),
        mailer=SesNotifier(settings.notification_sender),
        messenger=SlackWebApi(bot_token, settings.slack_api_url) if channel else None,
        slack_channel=channel,
        page_url=settings.approval_page_url.rstrip("/"),
        clock=SystemClock(),
        stage_name=settings.stage,
    )


def _notify(event_id: str, detail_type: str, detail: dict[str, object]) -> dict[str, object]:
    model, react = notify.NOTIFY[detail_type]
    outcome = react(model.model_validate(detail), deps())
    logger.info(
        "approval notice handled", extra={"event_id": event_id, "detail_type": detail_type, **outcome.as_dict()}
    )
    metrics.add_metric(name="ApprovalEmailsSent", unit="Count", value=outcome.emails_sent)
    return outcome.as_dict()


@cache
def notify_once() -> Callable[..., dict[str, object]]:
    # Keyed on the business id: EventBridge retries and duplicate puts of one event notify once.
    return idempotency.once(load(ApprovalNotifierSettings).idempotency_table, "event_id", _notify)


@logger.inject_lambda_context(correlation_id_path="detail.correlation_id", clear_state=True)
@metrics.log_metrics
@tracer.capture_lambda_handler(capture_response=False)
@event_parser(model=FmopsEnvelope)
def handler(event: FmopsEnvelope, context: LambdaContext) -> dict[str, object]:
    idempotency.CONFIG.register_lambda_context(context)
    event_id = str(event.detail.get("event_id", ""))
    return notify_once()(event_id=event_id, detail_type=event.detail_type, detail=event.detail)
