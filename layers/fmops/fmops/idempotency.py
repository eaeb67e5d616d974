"""Powertools idempotency, configured once for fmops handlers.

EventBridge retries delivery for up to 24 hours, so a record must outlive that
window (Powertools' default is 1 hour); the catalog's conditional writes on the
business key remain the backstop after it expires.
"""

from collections.abc import Callable
from typing import Any, TypeVar

from aws_lambda_powertools.utilities.idempotency import (
    DynamoDBPersistenceLayer,
    IdempotencyConfig,
    idempotent_function,
)

IDEMPOTENCY_WINDOW_SECONDS = 25 * 60 * 60
CONFIG = IdempotencyConfig(expires_after_seconds=IDEMPOTENCY_WINDOW_SECONDS, raise_on_no_idempotency_key=True)

ResultT = TypeVar("ResultT")


def once(table_name: str, argument: str, function: Callable[..., ResultT]) -> Callable[..., ResultT]:
    """Wrap function so that calls with an equal `argument` value run once within the window."""
    persistence = DynamoDBPersistenceLayer(table_name=table_name)
    wrapped: Any = idempotent_function(data_keyword_argument=argument, persistence_store=persistence, config=CONFIG)(
        function
    )
    return wrapped  # type: ignore[no-any-return]
