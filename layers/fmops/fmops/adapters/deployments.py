"""The deployment store on DynamoDB (`DeploymentsTable`), implementing fmops.deployment.store.

One table, four kinds of items:

    record  pk "HISTORY#<model_group>#<stage>"  sk "<finished_at, UTC, microseconds>#<deployment_id>"
            document (the DeploymentRecord as JSON), deployment_id
    unique  pk "DEPLOYMENT#<deployment_id>"  sk "RECORD"           document (the same JSON)
    claim   pk "CLAIM#<version_id>"  sk "CLAIM"                     deployment_id, claimed_at
    lock    pk "LOCK#<model_group>#<stage>"  sk "LOCK"
            holder, version_id, acquired_at, expires_epoch (N)

A record and its uniqueness item are written in one transaction, each only if absent: a deployment
id is recorded once, whatever its finished_at (the record's sort key alone would let a second
record with another finished_at in). The stage is the last part of the history and lock keys and
never contains '#', so no two (group, stage) pairs share a key. Sort keys order a stage's records
by when they finished; readers order them again anyway (`history.timeline`).

`expires_epoch` holds exact decimal seconds (microseconds included), so the lease is compared as
exactly as the in-memory store compares datetimes: a lease runs until `expires_at`, excluded. The
lock is not under a TTL: an expired lock is taken over by the next `acquire`, not deleted.

Every write is conditional (BatchWriteItem would ignore conditions, so it is never used).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from botocore.exceptions import ClientError

from fmops.adapters import error_code
from fmops.adapters.approvals import epoch
from fmops.adapters.dynamodb import DynamoTable
from fmops.deployment.history import ConflictingDeploymentRecords, DeploymentRecord
from fmops.deployment.store import StageLock
from fmops.errors import ConcurrentModification
from fmops.gate.policy import Stage
from fmops.ledger import timestamp

_CONDITION_FAILED = "ConditionalCheckFailedException"
_TRANSACTION_CANCELED = "TransactionCanceledException"
# A cancelled transaction names each failed condition without the "Exception" suffix.
_CANCELLED_ON_CONDITION = "ConditionalCheckFailed"
# Cancellation reasons of a transaction that lost to a concurrent one (nothing failed on its own).
_RACING = {"None", "TransactionConflict"}
_UNIX_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def history_pk(model_group: str, stage: Stage) -> str:
    return f"HISTORY#{model_group}#{stage.value}"


def history_sk(record: DeploymentRecord) -> str:
    return f"{timestamp(record.finished_at)}#{record.deployment_id}"


def deployment_pk(deployment_id: str) -> str:
    return f"DEPLOYMENT#{deployment_id}"


def claim_pk(version_id: str) -> str:
    return f"CLAIM#{version_id}"


def lock_pk(model_group: str, stage: Stage) -> str:
    return f"LOCK#{model_group}#{stage.value}"


def _key(pk: str, sk: str) -> dict[str, Any]:
    return {"pk": {"S": pk}, "sk": {"S": sk}}


def from_epoch(seconds: Decimal) -> datetime:
    """The moment `epoch` wrote, exactly (to the microsecond)."""
    return _UNIX_EPOCH + timedelta(microseconds=int(seconds.scaleb(6)))


def record_item(record: DeploymentRecord) -> dict[str, Any]:
    return {
        **_key(history_pk(record.model_group, record.stage), history_sk(record)),
        "document": {"S": record.model_dump_json()},
        "deployment_id": {"S": record.deployment_id},
    }


def unique_item(record: DeploymentRecord) -> dict[str, Any]:
    return {**_key(deployment_pk(record.deployment_id), "RECORD"), "document": {"S": record.model_dump_json()}}


def lock_item(lock: StageLock) -> dict[str, Any]:
    return {
        **_key(lock_pk(lock.model_group, lock.stage), "LOCK"),
        "holder": {"S": lock.holder},
        "version_id": {"S": lock.version_id},
        "acquired_at": {"S": timestamp(lock.acquired_at)},
        "expires_epoch": {"N": str(epoch(lock.expires_at))},
    }


def _cancellation_reasons(error: ClientError) -> list[str] | None:
    """The per-item reason codes of a cancelled transaction, in request order; None for any other error."""
    if error_code(error) != _TRANSACTION_CANCELED:
        return None
    return [str(reason.get("Code", "None")) for reason in error.response.get("CancellationReasons", [])]


class DynamoDeploymentStore(DynamoTable):
    """fmops.deployment.store.DeploymentStore on the deployments table (layout in the module docstring)."""

    def claim_version(self, version_id: str, deployment_id: str, at: datetime) -> str:
        item = {
            **_key(claim_pk(version_id), "CLAIM"),
            "deployment_id": {"S": deployment_id},
            "claimed_at": {"S": timestamp(at)},
        }
        try:
            self.db.put_item(TableName=self._table, Item=item, ConditionExpression="attribute_not_exists(pk)")
        except ClientError as error:
            if error_code(error) != _CONDITION_FAILED:
                raise
            claim = self._get(claim_pk(version_id), "CLAIM")
            if claim is None:  # unreachable: claims are never deleted
                raise ConcurrentModification(f"the claim of {version_id} vanished") from error
            return str(claim["deployment_id"]["S"])
        return deployment_id

    def record(self, record: DeploymentRecord) -> bool:
        try:
            self.db.transact_write_items(
                TransactItems=[self._put_new(record_item(record)), self._put_new(unique_item(record))]
            )
        except ClientError as error:
            reasons = _cancellation_reasons(error)
            if reasons is None:
                raise
            if _CANCELLED_ON_CONDITION in reasons:
                return self._recorded_already(record, error)
            if set(reasons) <= _RACING:
                # Another writer is recording this deployment right now: a retry finds its record.
                raise ConcurrentModification(f"deployment {record.deployment_id} recorded concurrently") from error
            raise
        return True

    def history(self, model_group: str, stage: Stage) -> list[DeploymentRecord]:
        pages = self.db.get_paginator("query").paginate(
            TableName=self._table,
            KeyConditionExpression="pk = :pk",
            ExpressionAttributeValues={":pk": {"S": history_pk(model_group, stage)}},
            ConsistentRead=True,
        )
        return [DeploymentRecord.model_validate_json(item["document"]["S"]) for page in pages for item in page["Items"]]

    def acquire(
        self, model_group: str, stage: Stage, holder: str, version_id: str, at: datetime, lease: timedelta
    ) -> StageLock | None:
        lock = StageLock.taken(model_group, stage, holder, version_id, at, lease)
        try:
            self.db.put_item(
                TableName=self._table,
                Item=lock_item(lock),
                ConditionExpression="attribute_not_exists(pk) OR holder = :holder OR expires_epoch <= :now",
                ExpressionAttributeValues={":holder": {"S": holder}, ":now": {"N": str(epoch(at))}},
            )
        except ClientError as error:
            if error_code(error) == _CONDITION_FAILED:
                return None  # another holder's lease runs
            raise
        return lock

    def release(self, lock: StageLock) -> None:
        try:
            self.db.delete_item(
                TableName=self._table,
                Key=_key(lock_pk(lock.model_group, lock.stage), "LOCK"),
                ConditionExpression="holder = :holder",
                ExpressionAttributeValues={":holder": {"S": lock.holder}},
            )
        except ClientError as error:
            if error_code(error) != _CONDITION_FAILED:
                raise
            # Free already, or taken over after the lease ran out: the new holder's lock stays.

    def holder(self, model_group: str, stage: Stage) -> StageLock | None:
        item = self._get(lock_pk(model_group, stage), "LOCK")
        if item is None:
            return None
        return StageLock(
            model_group=model_group,
            stage=stage,
            holder=item["holder"]["S"],
            version_id=item["version_id"]["S"],
            acquired_at=datetime.fromisoformat(item["acquired_at"]["S"]),
            expires_at=from_epoch(Decimal(item["expires_epoch"]["N"])),
        )

    def _recorded_already(self, record: DeploymentRecord, error: ClientError) -> bool:
        """False when the stored record of the deployment id is `record`; raises when it differs."""
        unique = self._get(deployment_pk(record.deployment_id), "RECORD")
        if unique is None:  # unreachable: a record and its uniqueness item are written together, never deleted
            raise ConcurrentModification(
                f"deployment {record.deployment_id}: record without uniqueness item"
            ) from error
        stored = DeploymentRecord.model_validate_json(unique["document"]["S"])
        if stored != record:
            raise ConflictingDeploymentRecords(
                f"deployment {record.deployment_id} is recorded already with different content "
                f"({stored.outcome.value} of {stored.version_id}; now {record.outcome.value} of {record.version_id})"
            ) from error
        return False

    def _get(self, pk: str, sk: str) -> dict[str, Any] | None:
        response = self.db.get_item(TableName=self._table, Key=_key(pk, sk), ConsistentRead=True)
        item: dict[str, Any] | None = response.get("Item")
        return item

    def _put_new(self, item: dict[str, Any]) -> dict[str, Any]:
        return {"Put": {"TableName": self._table, "Item": item, "ConditionExpression": "attribute_not_exists(pk)"}}
