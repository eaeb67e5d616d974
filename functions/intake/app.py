"""Intake: S3 "Object Created" for a manifest -> registered or rejected model version."""

from collections.abc import Callable
from functools import cache

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.utilities.parser import event_parser
from aws_lambda_powertools.utilities.typing import LambdaContext

from fmops import idempotency, intake
from fmops.adapters.dynamodb import DynamoCatalog
from fmops.adapters.events import EventBridgeBus
from fmops.adapters.s3 import S3ArtifactStore
from fmops.adapters.sagemaker import SageMakerRegistry
from fmops.adapters.stepfunctions import StepFunctionsWorkflow
from fmops.clock import SystemClock
from fmops.events import ManifestUploaded
from fmops.settings import IntakeSettings, load

logger = Logger()
tracer = Tracer()
metrics = Metrics()


@cache
def deps() -> intake.IntakeDeps:
    settings = load(IntakeSettings)
    return intake.IntakeDeps(
        artifacts=S3ArtifactStore(),
        registry=SageMakerRegistry(),
        catalog=DynamoCatalog(settings.catalog_table),
        bus=EventBridgeBus(settings.event_bus_name),
        workflow=StepFunctionsWorkflow(settings.promotion_state_machine_arn),
        clock=SystemClock(),
    )


def _register(upload: intake.Upload) -> dict[str, object]:
    result = intake.register(upload, deps())
    logger.info("intake finished", outcome=result.outcome.value, version_id=result.version_id, status=result.status)
    metrics.add_metric(name=f"Intake{result.outcome.value.title()}", unit="Count", value=1)
    return result.as_dict()


@cache
def register_once() -> Callable[..., dict[str, object]]:
    return idempotency.once(load(IntakeSettings).idempotency_table, "upload", _register)


@logger.inject_lambda_context(correlation_id_path="detail.object.key", clear_state=True)
@metrics.log_metrics
@tracer.capture_lambda_handler(capture_response=False)
@event_parser(model=ManifestUploaded)
def handler(event: ManifestUploaded, context: LambdaContext) -> dict[str, object]:
    idempotency.CONFIG.register_lambda_context(context)
    upload = intake.Upload(
        bucket=event.detail.bucket.name,
        key=event.detail.object.key,
        size=int(event.detail.object.size or 0),
        etag=event.detail.object.etag,
    )
    return register_once()(upload=upload)
