"""Slack interactivity: a signed Approve/Reject click (or the reject modal) -> the same rules as the page."""

from functools import cache
from typing import Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.utilities.parser import event_parser
from aws_lambda_powertools.utilities.parser.models import APIGatewayProxyEventModel
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import SecretBytes

from fmops.adapters.approvals import DynamoApprovalStore
from fmops.adapters.events import EventBridgeBus
from fmops.adapters.s3 import S3PolicyStore
from fmops.adapters.secrets import SecretsManagerSecrets
from fmops.adapters.slack import SlackWebApi
from fmops.approvals import slack_endpoint
from fmops.approvals.deciding import DecisionDeps, SlackRequest
from fmops.approvals.web import request_body
from fmops.clock import SystemClock
from fmops.settings import SlackInteractivitySettings, load

logger = Logger()
tracer = Tracer()
metrics = Metrics()


@cache
def deps() -> slack_endpoint.SlackDeps:
    settings = load(SlackInteractivitySettings)
    secrets = SecretsManagerSecrets()

    def signing_secret() -> SecretBytes:
        return secrets.get(settings.slack_signing_secret_arn)

    def bot_token() -> SecretBytes:
        return secrets.get(settings.slack_bot_token_arn)

    return slack_endpoint.SlackDeps(
        decisions=DecisionDeps(
            approvals=DynamoApprovalStore(settings.approvals_table),
            config=S3PolicyStore(settings.policy_bucket),
            bus=EventBridgeBus(settings.event_bus_name),
            clock=SystemClock(),
        ),
        signing_secret=signing_secret,
        slack=SlackWebApi(bot_token, settings.slack_api_url),
    )


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
@tracer.capture_lambda_handler(capture_response=False)
@event_parser(model=APIGatewayProxyEventModel)
def handler(event: APIGatewayProxyEventModel, context: LambdaContext) -> dict[str, Any]:
    # The raw bytes exactly as Slack signed them: never a re-serialised payload.
    request = SlackRequest(
        headers=dict(event.headers or {}),
        body=request_body(event.body, event.isBase64Encoded),
        request_id=event.requestContext.requestId,
    )
    answer = slack_endpoint.handle(request, deps())
    outcome = answer.outcome.as_dict() if answer.outcome else {"code": "modal_opened"}
    logger.info("slack interaction handled", extra={"status": answer.status, **outcome})
    return answer.proxy()
