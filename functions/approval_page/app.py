"""Approval page: GET/HEAD show an approver the evidence behind their e-mailed link; POST records the decision."""

from functools import cache
from typing import Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.utilities.parser import event_parser
from aws_lambda_powertools.utilities.parser.models import APIGatewayProxyEventModel
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import SecretBytes

from fmops.adapters.approvals import DynamoApprovalStore
from fmops.adapters.dynamodb import DynamoCatalog
from fmops.adapters.events import EventBridgeBus
from fmops.adapters.s3 import S3ArtifactStore, S3PolicyStore
from fmops.adapters.secrets import SecretsManagerSecrets
from fmops.approvals import web
from fmops.approvals.deciding import DecisionDeps
from fmops.clock import SystemClock
from fmops.settings import ApprovalPageSettings, load

logger = Logger()
tracer = Tracer()
metrics = Metrics()


@cache
def deps() -> web.PageDeps:
    settings = load(ApprovalPageSettings)
    secrets = SecretsManagerSecrets()

    def csrf_key() -> SecretBytes:
        return secrets.get(settings.link_signing_key_arn)

    return web.PageDeps(
        decisions=DecisionDeps(
            approvals=DynamoApprovalStore(settings.approvals_table),
            config=S3PolicyStore(settings.policy_bucket),
            bus=EventBridgeBus(settings.event_bus_name),
            clock=SystemClock(),
        ),
        catalog=DynamoCatalog(settings.catalog_table),
        artifacts=S3ArtifactStore(),
        csrf_key=csrf_key,
    )


# No correlation id from the request: the query string holds the link token, and nothing of it may be logged.
@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
@tracer.capture_lambda_handler(capture_response=False)
@event_parser(model=APIGatewayProxyEventModel)
def handler(event: APIGatewayProxyEventModel, context: LambdaContext) -> dict[str, Any]:
    request = web.PageRequest(
        method=event.httpMethod,
        approval_id=(event.pathParameters or {}).get("approval_id", ""),
        path=event.requestContext.path or event.path,
        query=event.queryStringParameters or {},
        body=web.request_body(event.body, event.isBase64Encoded),
        request_id=event.requestContext.requestId,
    )
    response = web.serve(request, deps())
    logger.info(
        "approval page served",
        extra={"method": request.method, "status": response.status, **response.outcome.as_dict()},
    )
    metrics.add_metric(name=f"ApprovalPage{response.outcome.code.title().replace('_', '')}", unit="Count", value=1)
    return response.proxy(head=request.method == "HEAD")
