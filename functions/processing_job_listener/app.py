"""Processing job listener: SageMaker "Processing Job State Change" -> fmops "Evaluation Completed"."""

from functools import cache

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.utilities.parser import event_parser
from aws_lambda_powertools.utilities.typing import LambdaContext

from fmops.adapters.events import EventBridgeBus
from fmops.adapters.s3 import S3ArtifactStore
from fmops.evaluation.processing_job import (
    ProcessingJobDeps,
    ProcessingJobStateChanged,
    report_processing_job,
)
from fmops.settings import ProcessingJobListenerSettings, load

logger = Logger()
tracer = Tracer()
metrics = Metrics()


@cache
def deps() -> ProcessingJobDeps:
    settings = load(ProcessingJobListenerSettings)
    return ProcessingJobDeps(artifacts=S3ArtifactStore(), bus=EventBridgeBus(settings.event_bus_name))


@logger.inject_lambda_context(correlation_id_path="detail.Environment.FMOPS_VERSION_ID", clear_state=True)
@metrics.log_metrics
@tracer.capture_lambda_handler(capture_response=False)
@event_parser(model=ProcessingJobStateChanged)
def handler(event: ProcessingJobStateChanged, context: LambdaContext) -> dict[str, object]:
    result = report_processing_job(event.detail, deps(), event_time=event.time)
    logger.info(
        "processing job reported",
        outcome=result.outcome.value,
        job_name=result.job_name,
        job_status=event.detail.processing_job_status.value,
        version_id=result.version_id,
        reason=result.reason,
    )
    metrics.add_metric(name=f"ProcessingJob{result.outcome.value.title()}", unit="Count", value=1)
    return result.as_dict()
