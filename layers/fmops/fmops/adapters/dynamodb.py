"""Catalog and audit log on DynamoDB. Every write is conditional: that is what makes
duplicate deliveries harmless (BatchWriteItem would ignore conditions, so it is never used)."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from datetime import datetime
from decimal import Decimal
from typing import Any

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer
from botocore.exceptions import ClientError

from fmops.adapters import client, error_code
from fmops.errors import ConcurrentModification
from fmops.ledger import ChainHead, canonical_json, seal, timestamp
from fmops.records import AuditRecord, CatalogRecord, SealedRecord
from fmops.statuses import VersionStatus, check_transition

_serializer = TypeSerializer()
_deserializer = TypeDeserializer()
_CONDITION_FAILED = "ConditionalCheckFailedException"
# A cancelled transaction names each failed condition without the "Exception" suffix.
_CANCELLED_ON_CONDITION = "ConditionalCheckFailed"


def to_item(document: dict[str, Any]) -> dict[str, Any]:
    """DynamoDB attributes of a JSON-ready document. DynamoDB numbers are decimals: floats go
    through their shortest repr (0.68 stays 0.68, exactly), never through binary rounding.

    Written out rather than a JSON round trip into boto3's TypeSerializer: every fmops write goes
    through here, and the round trip was the largest cost of the busiest handlers (`make bench`).
    """
    return {key: _attribute(value) for key, value in document.items() if value is not None}


def _attribute(value: Any) -> dict[str, Any]:
    # bool before int: True is an int in Python, and a BOOL in DynamoDB.
    if isinstance(value, str):
        return {"S": value}
    if isinstance(value, bool):
        return {"BOOL": value}
    if isinstance(value, int):
        return {"N": str(value)}
    if isinstance(value, float):
        # The shortest repr, as json.dumps writes it; the serializer refuses NaN, infinities and inexact values.
        return dict(_serializer.serialize(Decimal(repr(value))))
    if value is None:
        return {"NULL": True}
    if isinstance(value, dict):
        return {"M": {_json_key(key): _attribute(item) for key, item in value.items()}}
    if isinstance(value, list | tuple):
        return {"L": [_attribute(item) for item in value]}
    return dict(_serializer.serialize(value))  # Decimal, and anything else the serializer knows


def _json_key(key: Any) -> str:
    """A mapping key as JSON writes it: the documents are JSON-ready, so keys are strings (or what JSON makes one)."""
    return key if isinstance(key, str) else json.dumps(key).strip('"')


def from_item(item: dict[str, Any]) -> dict[str, Any]:
    return {key: _deserializer.deserialize(value) for key, value in item.items()}


def serving_key(model_group: str, stage: str) -> str:
    return f"{model_group}@{stage}"


class DynamoTable:
    """A DynamoDB table by name, with the client created lazily (or given, in tests)."""

    def __init__(self, table_name: str, dynamodb: Any = None) -> None:
        self._table = table_name
        self._dynamodb = dynamodb

    @property
    def db(self) -> Any:
        return self._dynamodb or client("dynamodb")


class DynamoCatalog(DynamoTable):
    def get(self, version_id: str) -> CatalogRecord | None:
        response = self.db.get_item(TableName=self._table, Key=to_item({"version_id": version_id}), ConsistentRead=True)
        item = response.get("Item")
        return CatalogRecord.model_validate(from_item(item)) if item else None

    def claim(self, record: CatalogRecord, replacing: CatalogRecord | None) -> CatalogRecord:
        return self._put_next(record, replacing)

    def transition(
        self, record: CatalogRecord, target: VersionStatus, at: datetime, **changes: object
    ) -> CatalogRecord:
        check_transition(record.status, target)
        updated = record.model_copy(update={**changes, "status": target, "updated_at": at, "lease_until": None})
        return self._put_next(CatalogRecord.model_validate(updated.model_dump()), record)

    def update(self, record: CatalogRecord, at: datetime, **changes: object) -> CatalogRecord:
        updated = record.model_copy(update={**changes, "updated_at": at})
        return self._put_next(CatalogRecord.model_validate(updated.model_dump()), record)

    def mark_announced(self, version_id: str) -> None:
        self.db.update_item(
            TableName=self._table,
            Key=to_item({"version_id": version_id}),
            UpdateExpression="SET announced = :true, revision = revision + :one",
            ConditionExpression="attribute_exists(version_id)",
            ExpressionAttributeValues={":true": {"BOOL": True}, ":one": {"N": "1"}},
        )

    def serving(self, model_group: str, stage: str) -> CatalogRecord | None:
        # The deployment stage keeps a pointer item "<group>@<stage>" -> serving version id
        # ('@' cannot occur in a version id, so pointers never collide with versions).
        response = self.db.get_item(
            TableName=self._table, Key=to_item({"version_id": serving_key(model_group, stage)}), ConsistentRead=True
        )
        pointer = from_item(response["Item"]) if "Item" in response else None
        return self.get(str(pointer["serving_version_id"])) if pointer else None

    def set_serving(self, model_group: str, stage: str, version_id: str | None) -> None:
        key = to_item({"version_id": serving_key(model_group, stage)})
        if version_id is None:
            self.db.delete_item(TableName=self._table, Key=key)
            return
        self.db.put_item(TableName=self._table, Item={**key, "serving_version_id": {"S": version_id}})

    def _put_next(self, record: CatalogRecord, replacing: CatalogRecord | None) -> CatalogRecord:
        """Write record as the next revision of `replacing` (or as a new item), failing if it moved on."""
        kwargs: dict[str, Any] = {"TableName": self._table}
        if replacing is None:
            stored = record.model_copy(update={"revision": 1})
            kwargs["ConditionExpression"] = "attribute_not_exists(version_id)"
        else:
            stored = record.model_copy(update={"revision": replacing.revision + 1})
            kwargs["ConditionExpression"] = "revision = :revision"
            kwargs["ExpressionAttributeValues"] = {":revision": {"N": str(replacing.revision)}}
        kwargs["Item"] = to_item(stored.model_dump(mode="json"))
        try:
            self.db.put_item(**kwargs)
        except ClientError as error:
            if error_code(error) == _CONDITION_FAILED:
                raise ConcurrentModification(f"{record.version_id} changed concurrently") from error
            raise
        return stored


# ------------------------------------------------------------------ audit trail
# One table, three kinds of items (docs/audit.md):
#   record  pk "CHAIN#<chain>"  sk "SEQ#<seq, 12 digits>"  - the chain, in order
#   head    pk "HEADS"          sk "<chain>"              - each chain's last seq and hash
#   claim   pk "EVENT#<event_id>" sk "EVENT"              - the business id, once
# The three are written in one transaction, each conditionally: a duplicate event fails on its
# claim, a concurrent append on the head, so a chain never forks and an event is stored once.
# Records alone carry `time_key`, so only they appear in the query indexes (sparse GSIs).
HEADS_PK = "HEADS"
DAY_SHARDS = 8  # a busy day spreads over 8 partitions of the by-day index
INDEX_BY_VERSION, INDEX_BY_ACTOR, INDEX_BY_DAY, INDEX_BY_TYPE = "ByVersion", "ByActor", "ByDay", "ByType"
_MAX_APPEND_ATTEMPTS = 10
_RECORD_FIELDS = (
    "chain", "seq", "prev_hash", "hash", "event_id", "version_id", "detail_type", "source",
    "occurred_at", "recorded_at", "actor", "correlation_id", "envelope_id",
)  # fmt: skip


def chain_pk(chain: str) -> str:
    return f"CHAIN#{chain}"


def seq_sk(seq: int) -> str:
    return f"SEQ#{seq:012d}"


def time_key(record: SealedRecord) -> str:
    """Sort key of every query index: time order, ties broken by chain position (stable across pages)."""
    return f"{timestamp(record.occurred_at)}#{record.chain}#{record.seq:012d}"


def day_shard(record: SealedRecord) -> str:
    shard = int(hashlib.sha256(record.event_id.encode()).hexdigest()[:8], 16) % DAY_SHARDS
    return f"{timestamp(record.occurred_at)[:10]}#{shard}"


def record_item(record: SealedRecord) -> dict[str, Any]:
    document: dict[str, Any] = {name: getattr(record, name) for name in _RECORD_FIELDS}
    document.update(
        pk=chain_pk(record.chain),
        sk=seq_sk(record.seq),
        occurred_at=timestamp(record.occurred_at),
        recorded_at=timestamp(record.recorded_at),
        # Facts as the exact JSON text hashed: numbers keep their digits, no Decimal round trip.
        facts_json=canonical_json(record.facts).decode(),
        time_key=time_key(record),
        day_shard=day_shard(record),
    )
    return {key: _serializer.serialize(value) for key, value in document.items()}


def record_from_item(item: dict[str, Any]) -> SealedRecord:
    document = from_item(item)
    document["facts"] = json.loads(document.pop("facts_json"))
    document["seq"] = int(document["seq"])
    return SealedRecord.model_validate({key: document[key] for key in (*_RECORD_FIELDS, "facts")})


class DynamoAuditLog(DynamoTable):
    def append(self, record: AuditRecord, chain: str) -> bool:
        for _ in range(_MAX_APPEND_ATTEMPTS):
            if self._claimed(record.event_id):
                return False
            head = self.head(chain)
            sealed = seal(record, chain, head)
            try:
                self.db.transact_write_items(TransactItems=self._append_items(sealed, head))
                return True
            except ClientError as error:
                reasons = [reason.get("Code") for reason in error.response.get("CancellationReasons", [])]
                if error_code(error) != "TransactionCanceledException":
                    raise
                if len(reasons) == 3 and reasons[2] == _CANCELLED_ON_CONDITION:
                    return False  # another delivery of the same event won
                # another event advanced the chain first: read the new head and link to it
        raise ConcurrentModification(f"chain {chain} kept moving during {_MAX_APPEND_ATTEMPTS} attempts")

    def _append_items(self, sealed: SealedRecord, head: ChainHead | None) -> list[dict[str, Any]]:
        new_head = {"pk": HEADS_PK, "sk": sealed.chain, "seq": sealed.seq, "hash": sealed.hash}
        head_condition: dict[str, Any] = {"ConditionExpression": "attribute_not_exists(pk)"}
        if head is not None:
            head_condition = {
                "ConditionExpression": "seq = :seq",
                "ExpressionAttributeValues": {":seq": {"N": str(head.seq)}},
            }
        claim = {"pk": f"EVENT#{sealed.event_id}", "sk": "EVENT", "chain": sealed.chain, "seq": sealed.seq}
        return [
            {
                "Put": {
                    "TableName": self._table,
                    "Item": record_item(sealed),
                    "ConditionExpression": "attribute_not_exists(pk)",
                }
            },
            {"Put": {"TableName": self._table, "Item": to_item(new_head), **head_condition}},
            {
                "Put": {
                    "TableName": self._table,
                    "Item": to_item(claim),
                    "ConditionExpression": "attribute_not_exists(pk)",
                }
            },
        ]

    def _claimed(self, event_id: str) -> bool:
        key = to_item({"pk": f"EVENT#{event_id}", "sk": "EVENT"})
        return "Item" in self.db.get_item(TableName=self._table, Key=key, ConsistentRead=True)

    def head(self, chain: str) -> ChainHead | None:
        response = self.db.get_item(
            TableName=self._table, Key=to_item({"pk": HEADS_PK, "sk": chain}), ConsistentRead=True
        )
        item = response.get("Item")
        if not item:
            return None
        document = from_item(item)
        return ChainHead(chain=chain, seq=int(document["seq"]), hash=str(document["hash"]))

    def heads(self) -> list[ChainHead]:
        """Every chain's head (one Query on the heads partition)."""
        pages = self.db.get_paginator("query").paginate(
            TableName=self._table,
            KeyConditionExpression="pk = :pk",
            ExpressionAttributeValues={":pk": {"S": HEADS_PK}},
            ConsistentRead=True,
        )
        return [
            ChainHead(chain=str(doc["sk"]), seq=int(doc["seq"]), hash=str(doc["hash"]))
            for page in pages
            for doc in map(from_item, page["Items"])
        ]

    def chain(self, chain: str) -> Iterator[SealedRecord]:
        """The chain's records in order, as stored (verify recomputes every hash)."""
        pages = self.db.get_paginator("query").paginate(
            TableName=self._table,
            KeyConditionExpression="pk = :pk",
            ExpressionAttributeValues={":pk": {"S": chain_pk(chain)}},
            ConsistentRead=True,
        )
        for page in pages:
            for item in page["Items"]:
                yield record_from_item(item)

    def for_version(self, version_id: str) -> list[SealedRecord]:
        pages = self.db.get_paginator("query").paginate(
            TableName=self._table,
            IndexName=INDEX_BY_VERSION,
            KeyConditionExpression="version_id = :v",
            ExpressionAttributeValues={":v": {"S": version_id}},
        )
        return [record_from_item(item) for page in pages for item in page["Items"]]
