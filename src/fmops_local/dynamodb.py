"""DynamoDB's atomic conditional writes, which moto's threaded server does not give.

moto 5.2.5 evaluates a ConditionExpression and then writes, with no lock between the two, and
TransactWriteItems checks every condition before applying any put, also unlocked. With
concurrent requests (the server is threaded: workers and tests call it at once) two conditional
appends to one audit chain can both pass `seq = :seq` and the second silently replaces the
first: a fork DynamoDB itself never allows. Reads race with writes too ("dictionary changed size
during iteration"). One re-entrant lock around moto's DynamoDB backend operations makes each
request atomic, as each is in DynamoDB; the local cloud's traffic is small, so it costs nothing.
"""

from __future__ import annotations

import functools
import threading
from typing import Any

from moto.dynamodb.models import DynamoDBBackend

from fmops_local.patching import Patcher

_OPERATIONS = (
    "get_item", "put_item", "update_item", "delete_item", "query", "scan",
    "transact_write_items", "transact_get_items", "batch_get_item", "batch_write_item",
)  # fmt: skip
# Re-entrant: TransactWriteItems reads items through get_item while it holds the lock.
_LOCK = threading.RLock()


def install(patcher: Patcher) -> None:
    for name in _OPERATIONS:
        patcher.wrap(DynamoDBBackend, name, _serialized)


def _serialized(original: Any) -> Any:
    @functools.wraps(original)
    def operation(*args: Any, **kwargs: Any) -> Any:
        with _LOCK:
            return original(*args, **kwargs)

    return operation
