"""DynamoDB's atomic conditional writes, which moto's threaded server does not give.

moto 5.2.5 evaluates a ConditionExpression and then writes, with no lock between the two, and
TransactWriteItems checks every condition before applying any put, also unlocked. With
concurrent requests (the server is threaded: workers and tests call it at once) two conditional
appends to one audit chain can both pass `seq = :seq` and the second silently replaces the
first: a fork DynamoDB itself never allows. Reads race with writes too ("dictionary changed size
during iteration"). One re-entrant lock around moto's DynamoDB backend operations makes each
request atomic, as each is in DynamoDB; the local cloud's traffic is small, so it costs nothing.

moto also backs up every table a TransactWriteItems touches, with a deep copy per item, to put it
back if the transaction fails: each audit record (a three-item transaction) copied the whole audit
table three times, which made the audit writer quadratic (`make bench`'s burst: about 1 version/s
at 1,000 versions). Under the lock, remembering the few items the transaction touches is an exact
undo: the tables are no longer copied, and a failed transaction puts those items back.
"""

from __future__ import annotations

import copy
import functools
import threading
import types
from typing import Any

import moto.dynamodb.models as dynamodb_models
from moto.dynamodb.models import DynamoDBBackend
from moto.dynamodb.models.table import Table

from fmops_local.patching import Patcher

_OPERATIONS = (
    "get_item", "put_item", "update_item", "delete_item", "query", "scan",
    "transact_write_items", "transact_get_items", "batch_get_item", "batch_write_item",
)  # fmt: skip
# Re-entrant: TransactWriteItems reads items through get_item while it holds the lock.
_LOCK = threading.RLock()


def install(patcher: Patcher) -> None:
    patcher.wrap(DynamoDBBackend, "transact_write_items", _undo_by_item)  # inside the lock below
    for name in _OPERATIONS:
        patcher.wrap(DynamoDBBackend, name, _serialized)


def _keep_tables(value: Any, memo: dict[int, Any] | None = None) -> Any:
    """moto's deepcopy of a table, made a no-op: the undo log of `_undo_by_item` restores what changed."""
    return value if isinstance(value, Table) else copy.deepcopy(value, memo)


# What moto's DynamoDB models module sees as `copy` during a transaction.
_NO_TABLE_COPIES = types.SimpleNamespace(deepcopy=_keep_tables, copy=copy.copy)


def _undo_by_item(original: Any) -> Any:
    @functools.wraps(original)
    def transact_write_items(backend: DynamoDBBackend, transact_items: list[dict[str, Any]]) -> Any:
        undo = [entry for entry in map(functools.partial(_prior, backend), transact_items) if entry is not None]
        dynamodb_models.copy = _NO_TABLE_COPIES  # type: ignore[attr-defined,assignment]
        try:
            return original(backend, transact_items)
        except Exception:
            for table_name, key, prior in reversed(undo):
                if prior is not None:
                    backend.tables[table_name].put_item(prior.to_json()["Attributes"])
                elif backend.get_item(table_name, key) is not None:
                    backend.delete_item(table_name, key)
            raise
        finally:
            dynamodb_models.copy = copy  # type: ignore[attr-defined]

    return transact_write_items


def _prior(backend: DynamoDBBackend, entry: dict[str, Any]) -> tuple[str, dict[str, Any], Any] | None:
    """(table, key, the item before the transaction or None) for one of its operations."""
    operation = next(iter(entry.values()))
    table = backend.tables.get(operation.get("TableName", ""))
    if table is None:
        return None  # moto refuses the transaction itself
    attributes = operation.get("Item") or operation.get("Key") or {}
    key = {table.hash_key_attr: attributes[table.hash_key_attr]}
    if table.range_key_attr is not None:
        key[table.range_key_attr] = attributes[table.range_key_attr]
    current = backend.get_item(table.name, key)
    return table.name, key, copy.deepcopy(current) if current is not None else None


def _serialized(original: Any) -> Any:
    @functools.wraps(original)
    def operation(*args: Any, **kwargs: Any) -> Any:
        with _LOCK:
            return original(*args, **kwargs)

    return operation
