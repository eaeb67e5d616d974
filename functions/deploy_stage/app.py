"""DeployStage: the deployment state machine's one worker; starts, checks, settles or abandons a stage."""

from functools import cache

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.utilities.parser import event_parser
from aws_lambda_powertools.utilities.typing import LambdaContext

from fmops.adapters.deployment import StageSessions, target_for
from fmops.adapters.deployments import DynamoDeploymentStore
from fmops.adapters.dynamodb import DynamoCatalog
from fmops.adapters.events import EventBridgeBus
from fmops.adapters.s3 import S3ArtifactStore, S3PolicyStore
from fmops.clock import SystemClock
from fmops.deployment.config import StageConfig
from fmops.deployment.service import DeploymentDeps, StageStep, advance
from fmops.deployment.targets import DeploymentTarget
from fmops.settings import DeployStageSettings, load

logger = Logger()
tracer = Tracer()
metrics = Metrics()


@cache
def deps() -> DeploymentDeps:
    settings = load(DeployStageSettings)
    sessions = StageSessions()

    def targets(stage: StageConfig) -> DeploymentTarget:
        return target_for(stage, sessions.session_for(stage))

    return DeploymentDeps(
        catalog=DynamoCatalog(settings.catalog_table),
        store=DynamoDeploymentStore(settings.deployments_table),
        artifacts=S3ArtifactStore(),
        config=S3PolicyStore(settings.policy_bucket),
        targets=targets,
        bus=EventBridgeBus(settings.event_bus_name),
        clock=SystemClock(),
    )


@logger.inject_lambda_context(correlation_id_path="correlation_id", clear_state=True)
@metrics.log_metrics
@tracer.capture_lambda_handler(capture_response=False)
@event_parser(model=StageStep)
def handler(event: StageStep, context: LambdaContext) -> dict[str, object]:
    step = advance(event, deps())
    logger.info(
        "deployment step",
        deployment_id=step.deployment_id,
        stage=step.stage.value,
        outcome=step.outcome.value if step.outcome else None,
        code=step.code,
    )
    if step.code is not None:  # DeploymentDigestMismatch feeds the alarm: artifacts changed after approval
        metrics.add_metric(name=f"Deployment{step.code.title().replace('_', '')}", unit="Count", value=1)
    return step.model_dump(mode="json")
