"""Deployment trigger: SageMaker "Model Package State Change" -> deploy an approved version, or refuse it."""

from functools import cache

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.utilities.parser import event_parser
from aws_lambda_powertools.utilities.typing import LambdaContext

from fmops.adapters.approvals import DynamoApprovalStore
from fmops.adapters.deployments import DynamoDeploymentStore
from fmops.adapters.dynamodb import DynamoCatalog
from fmops.adapters.events import EventBridgeBus
from fmops.adapters.stepfunctions import StepFunctionsDeployments
from fmops.clock import SystemClock
from fmops.deployment.starting import PackageStateChangeEvent, TriggerDeps, on_package_state_change
from fmops.settings import DeploymentTriggerSettings, load

logger = Logger()
tracer = Tracer()
metrics = Metrics()


@cache
def deps() -> TriggerDeps:
    settings = load(DeploymentTriggerSettings)
    return TriggerDeps(
        catalog=DynamoCatalog(settings.catalog_table),
        store=DynamoDeploymentStore(settings.deployments_table),
        approvals=DynamoApprovalStore(settings.approvals_table),
        workflow=StepFunctionsDeployments(settings.deployment_state_machine_arn),
        bus=EventBridgeBus(settings.event_bus_name),
        clock=SystemClock(),
        poll_seconds=settings.deployment_poll_seconds,
    )


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
@tracer.capture_lambda_handler(capture_response=False)
@event_parser(model=PackageStateChangeEvent)
def handler(event: PackageStateChangeEvent, context: LambdaContext) -> dict[str, object]:
    decision = on_package_state_change(event.change(), deps())
    logger.info("model package state change judged", **decision.model_dump(mode="json"))
    # DeploymentRefused feeds the alarm: an approval that bypassed fmops' gate or approvals.
    name = (
        "DeploymentRefused"
        if decision.refused
        else f"DeploymentTrigger{decision.outcome.value.title().replace('_', '')}"
    )
    metrics.add_metric(name=name, unit="Count", value=1)
    return decision.model_dump(mode="json")
