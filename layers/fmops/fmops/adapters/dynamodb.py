"""Catalog and audit log on DynamoDB. Every write is conditional: that is what makes
duplicate deliveries harmless (BatchWriteItem would ignore conditions, so it is never used)."""

from __future__ import annotations

import json
from datetime import datetime
from decimal import Decimal
from typing import Any

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer
from botocore.exceptions import ClientError

from fmops.adapters import client, error_code
from fmops.errors import ConcurrentModification
from fmops.records import AuditRecord, CatalogRecord
from fmops.statuses import VersionStatus, check_transition

_serializer = TypeSerializer()
_deserializer = TypeDeserializer()
_CONDITION_FAILED = "ConditionalCheckFailedException"


def to_item(document: dict[str, Any]) -> dict[str, Any]:
    """DynamoDB attributes of a JSON-ready document. DynamoDB numbers are decimals: floats go
    through their shortest repr (0.68 stays 0.68, exactly), never through binary rounding."""
    exact = json.loads(json.dumps(document), parse_float=Decimal)
    return {key: _serializer.serialize(value) for key, value in exact.items() if value is not None}


def from_item(item: dict[str, Any]) -> dict[str, Any]:
    return {key: _deserializer.deserialize(value) for key, value in item.items()}


def serving_key(model_group: str, stage: str) -> str:
    return f"{model_group}@{stage}"


class _Table:
    def __init__(self, table_name: str, dynamodb: Any = None) -> None:
        self._table = table_name
        self._dynamodb = dynamodb

    @property
    def db(self) -> Any:
        return self._dynamodb or client("dynamodb")


class DynamoCatalog(_Table):
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


class DynamoAuditLog(_Table):
    def append(self, record: AuditRecord) -> bool:
        try:
            self.db.put_item(
                TableName=self._table,
                Item=to_item(record.model_dump(mode="json")),
                ConditionExpression="attribute_not_exists(event_id)",
            )
        except ClientError as error:
            if error_code(error) == _CONDITION_FAILED:
                return False
            raise
        return True

    def for_version(self, version_id: str) -> list[AuditRecord]:
        paginator = self.db.get_paginator("query")
        pages = paginator.paginate(
            TableName=self._table,
            KeyConditionExpression="version_id = :v",
            ExpressionAttributeValues={":v": {"S": version_id}},
            ConsistentRead=True,
        )
        return [AuditRecord.model_validate(from_item(item)) for page in pages for item in page["Items"]]
