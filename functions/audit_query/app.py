"""Audit API: the auditors' questions over HTTPS (API Gateway, IAM-authorized), answered a page at a time."""

from collections.abc import Callable
from functools import cache
from typing import Any
from urllib.parse import unquote

from aws_lambda_powertools import Logger, Tracer
from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response, content_types
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from fmops.adapters.audit_queries import AuditQueries
from fmops.audit_queries import DEFAULT_LIMIT, InvalidQuery, Page, page_document, parse_day, parse_period
from fmops.settings import AuditQuerySettings, load

logger = Logger()
tracer = Tracer()
app = APIGatewayRestResolver()


@cache
def queries() -> AuditQueries:
    return AuditQueries(load(AuditQuerySettings).audit_table)


# API Gateway hands path parameters decoded; the local API server hands them as sent. Decoding once
# more is harmless for both: no group, version, actor or detail-type contains '%'.
@app.get("/audit/versions/<group>/<version>")
def by_version(group: str, version: str) -> dict[str, Any]:
    return _page(lambda limit, cursor: queries().by_version(f"{unquote(group)}/{unquote(version)}", limit, cursor))


@app.get("/audit/actors/<actor>")
def by_actor(actor: str) -> dict[str, Any]:
    period = parse_period(_param("from"), _param("to"))
    return _page(lambda limit, cursor: queries().by_actor(unquote(actor), period, limit, cursor))


@app.get("/audit/days/<day>")
def by_day(day: str) -> dict[str, Any]:
    date = parse_day(unquote(day))
    return _page(lambda limit, cursor: queries().by_day(date, limit, cursor))


@app.get("/audit/types/<detail_type>")
def by_type(detail_type: str) -> dict[str, Any]:
    period = parse_period(_param("from"), _param("to"), required=True)
    return _page(lambda limit, cursor: queries().by_type(unquote(detail_type), period, limit, cursor))


@app.exception_handler(InvalidQuery)
def invalid_query(error: InvalidQuery) -> Response[Any]:
    logger.info("audit query refused", extra={"reason": type(error).__name__})
    return Response(status_code=400, content_type=content_types.APPLICATION_JSON, body={"message": str(error)})


def _page(ask: Callable[[int, str | None], Page]) -> dict[str, Any]:
    text = _param("limit")
    if text is not None and not text.strip().isdigit():
        raise InvalidQuery(f"limit must be a whole number from 1 to 1000, not {text!r}")
    page = ask(int(text) if text is not None else DEFAULT_LIMIT, _param("cursor") or None)
    # Who asked is in the API's access log; here only what the answer cost (never the records).
    logger.info("audit query answered", extra=page.stats.as_dict())
    return page_document(page)


def _param(name: str) -> str | None:
    value: str | None = app.current_event.get_query_string_value(name)
    return value


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST, clear_state=True)
@tracer.capture_lambda_handler(capture_response=False)
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)
