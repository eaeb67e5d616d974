"""Audit writer: every fmops event, artifact upload and model package change -> one link of its model group's chain."""

from functools import cache

from aws_lambda_powertools import Logger, Tracer
from aws_lambda_powertools.utilities.parser import event_parser
from aws_lambda_powertools.utilities.typing import LambdaContext

from fmops import audit
from fmops.adapters.dynamodb import DynamoAuditLog
from fmops.clock import SystemClock
from fmops.events import AnyEnvelope
from fmops.settings import AuditWriterSettings, load

logger = Logger()
tracer = Tracer()


@cache
def deps() -> audit.AuditDeps:
    return audit.AuditDeps(log=DynamoAuditLog(load(AuditWriterSettings).audit_table), clock=SystemClock())


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler(capture_response=False)
@event_parser(model=AnyEnvelope)
def handler(event: AnyEnvelope, context: LambdaContext) -> dict[str, object]:
    # Any source: the domain translates by (source, detail-type) and records a broken event as malformed.
    envelope = audit.Envelope(
        id=event.id, source=event.source, detail_type=event.detail_type, time=event.time, detail=event.detail
    )
    result = audit.record_event(envelope, deps())
    logger.info("audit event handled", extra=result.as_dict())
    return result.as_dict()
