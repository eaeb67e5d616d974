"""Audit writer: every event on the fmops bus -> one audit record, deduplicated by business id."""

from functools import cache

from aws_lambda_powertools import Logger, Tracer
from aws_lambda_powertools.utilities.parser import event_parser
from aws_lambda_powertools.utilities.typing import LambdaContext

from fmops import audit
from fmops.adapters.dynamodb import DynamoAuditLog
from fmops.clock import SystemClock
from fmops.events import FmopsEnvelope
from fmops.settings import AuditWriterSettings, load

logger = Logger()
tracer = Tracer()


@cache
def deps() -> audit.AuditDeps:
    return audit.AuditDeps(log=DynamoAuditLog(load(AuditWriterSettings).audit_table), clock=SystemClock())


@logger.inject_lambda_context(correlation_id_path="detail.correlation_id", clear_state=True)
@tracer.capture_lambda_handler(capture_response=False)
@event_parser(model=FmopsEnvelope)
def handler(event: FmopsEnvelope, context: LambdaContext) -> dict[str, object]:
    result = audit.record_event(event.detail_type, event.source, event.id, event.detail, deps())
    logger.info("audit event handled", detail_type=event.detail_type, event_id=result.event_id, stored=result.stored)
    return result.as_dict()
