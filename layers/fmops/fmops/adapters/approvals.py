"""Approvals on DynamoDB (`ApprovalsTable`) and task tokens sealed with KMS.

One table, five kinds of items:

    approval  pk "APPROVAL#<approval_id>"  sk "APPROVAL"
              document (the StoredApproval as JSON, without sealed_task_token and revision, and
              without occasion when None), sealed_task_token (B, absent when None), revision (N),
              version_id, stage, occasion (absent when None), unresumed = "open" only while
              resumed_at is None
    decision  pk "APPROVAL#<approval_id>"  sk "DECISION#<approver_id>"   document (Decision JSON)
    claim     pk "STAGE#<version_id>#<stage>"  sk "STAGE"               approval_id
              (the version's own approval of the stage), or sk "OCCASION#<occasion>" (an occasion's,
              e.g. a manual rollback's: its own approval beside the version's)
    link      pk "LINK#<link_id>"  sk "LINK"
              document (LinkRecord JSON), expires_epoch (N), used_at (once used)
    slack     pk "SLACK#<replay_key>"  sk "SLACK"                       expires_ttl (N, the table's TTL)

The sparse index `Unresumed` (hash `unresumed`, range `pk`) holds only approvals whose promotion
was not resumed yet: a write without the attribute takes the item out of it. `expires_epoch`
holds exact decimal seconds (microseconds included) so that a link's expiry is compared as
exactly as the in-memory store compares datetimes; `expires_ttl` is whole seconds, as TTL wants.

Every write is conditional (BatchWriteItem would ignore conditions, so it is never used): a
stage (per occasion) gets one approval, an approver one decision, a link one use and a Slack request one claim;
an approval changes only from the revision its writer read.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from botocore.exceptions import ClientError

from fmops.adapters import client, error_code
from fmops.adapters.dynamodb import DynamoTable
from fmops.approvals.engine import Accepted, Decision
from fmops.approvals.links import LinkRecord, consume
from fmops.approvals.store import StoredApproval
from fmops.errors import ConcurrentModification, FmopsError
from fmops.gate.policy import Stage
from fmops.ledger import timestamp

UNRESUMED_INDEX = "Unresumed"
_OPEN = "open"
_CONDITION_FAILED = "ConditionalCheckFailedException"
_TRANSACTION_CANCELED = "TransactionCanceledException"
# Cancellation reasons of a transaction that lost to another writer (re-read and re-judge).
# Anything else (a validation error, throttling) is not a lost race and propagates as it is.
_LOST_RACE = {"None", "ConditionalCheckFailed", "TransactionConflict"}
_UNIX_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)


def approval_pk(approval_id: str) -> str:
    return f"APPROVAL#{approval_id}"


def stage_pk(version_id: str, stage: Stage) -> str:
    return f"STAGE#{version_id}#{stage.value}"


def stage_sk(occasion: str | None) -> str:
    # The occasion in the sort key: it never runs into a version id, and no occasion keeps the old key.
    return "STAGE" if occasion is None else f"OCCASION#{occasion}"


def link_pk(link_id: str) -> str:
    return f"LINK#{link_id}"


def slack_pk(replay_key: str) -> str:
    return f"SLACK#{replay_key}"


def epoch(moment: datetime) -> Decimal:
    """Seconds since the Unix epoch, exactly (to the microsecond)."""
    return Decimal((moment - _UNIX_EPOCH) // _MICROSECOND).scaleb(-6)


def _key(pk: str, sk: str) -> dict[str, Any]:
    return {"pk": {"S": pk}, "sk": {"S": sk}}


def approval_item(approval: StoredApproval) -> dict[str, Any]:
    # Without an occasion the document is as it was before occasions existed.
    unstored = {"sealed_task_token", "revision", *(["occasion"] if approval.occasion is None else [])}
    item = {
        **_key(approval_pk(approval.approval_id), "APPROVAL"),
        "document": {"S": approval.model_dump_json(exclude=unstored)},
        "revision": {"N": str(approval.revision)},
        "version_id": {"S": approval.version_id},
        "stage": {"S": approval.stage.value},
    }
    if approval.occasion is not None:
        item["occasion"] = {"S": approval.occasion}
    if approval.sealed_task_token is not None:
        item["sealed_task_token"] = {"B": approval.sealed_task_token}
    if approval.resumed_at is None:
        item["unresumed"] = {"S": _OPEN}
    return item


def approval_from_item(item: dict[str, Any]) -> StoredApproval:
    approval = StoredApproval.model_validate_json(item["document"]["S"])
    sealed = item.get("sealed_task_token")
    return approval.model_copy(
        update={
            "sealed_task_token": None if sealed is None else bytes(sealed["B"]),
            "revision": int(item["revision"]["N"]),
        }
    )


def decision_item(approval_id: str, decision: Decision) -> dict[str, Any]:
    return {
        **_key(approval_pk(approval_id), f"DECISION#{decision.approver_id}"),
        "document": {"S": decision.model_dump_json()},
    }


def link_item(link: LinkRecord) -> dict[str, Any]:
    item = {
        **_key(link_pk(link.link_id), "LINK"),
        "document": {"S": link.model_dump_json()},
        "expires_epoch": {"N": str(epoch(link.expires_at))},
    }
    if link.used_at is not None:
        item["used_at"] = {"S": timestamp(link.used_at)}
    return item


def _lost_race(reasons: list[str]) -> bool:
    return all(reason in _LOST_RACE for reason in reasons)


def _cancellation_reasons(error: ClientError) -> list[str] | None:
    """The per-item reason codes of a cancelled transaction, in request order; None for any other error."""
    if error_code(error) != _TRANSACTION_CANCELED:
        return None
    return [str(reason.get("Code", "None")) for reason in error.response.get("CancellationReasons", [])]


class DynamoApprovalStore(DynamoTable):
    """fmops.approvals.store.ApprovalStore on the approvals table (layout in the module docstring)."""

    def open(self, approval: StoredApproval) -> StoredApproval:
        stored = approval.model_copy(update={"revision": 1})
        claim = {
            **_key(stage_pk(stored.version_id, stored.stage), stage_sk(stored.occasion)),
            "approval_id": {"S": stored.approval_id},
        }
        try:
            self.db.transact_write_items(TransactItems=[self._put_new(claim), self._put_new(approval_item(stored))])
        except ClientError as error:
            reasons = _cancellation_reasons(error)
            if reasons is None:
                raise
            if reasons[:1] == ["ConditionalCheckFailed"]:
                # The stage has its approval already: that one stands, this one is dropped.
                existing = self.for_stage(stored.version_id, stored.stage, stored.occasion)
                if existing is None:  # unreachable: claim and approval are written together, never deleted
                    raise ConcurrentModification(
                        f"{stored.version_id} {stored.stage_key}: claim without approval"
                    ) from error
                return existing
            if set(reasons) <= {"None", "TransactionConflict"}:
                raise ConcurrentModification(f"{stored.version_id} {stored.stage_key} opened concurrently") from error
            raise  # the approval id is taken (never, at 128 random bits), or not a race at all
        return stored

    def get(self, approval_id: str) -> StoredApproval | None:
        item = self._get(approval_pk(approval_id), "APPROVAL")
        return None if item is None else approval_from_item(item)

    def for_stage(self, version_id: str, stage: Stage, occasion: str | None = None) -> StoredApproval | None:
        claim = self._get(stage_pk(version_id, stage), stage_sk(occasion))
        return None if claim is None else self.get(claim["approval_id"]["S"])

    def save(self, approval: StoredApproval, read: StoredApproval) -> StoredApproval:
        if approval.approval_id != read.approval_id:
            raise ValueError(f"saving approval {approval.approval_id} over another one ({read.approval_id})")
        stored = approval.model_copy(update={"revision": read.revision + 1})
        try:
            self.db.put_item(TableName=self._table, **self._replacing(stored, read))
        except ClientError as error:
            if error_code(error) == _CONDITION_FAILED:
                raise ConcurrentModification(f"approval {read.approval_id} changed concurrently") from error
            raise
        return stored

    def record_decision(
        self, read: StoredApproval, accepted: Accepted, link: LinkRecord | None, at: datetime
    ) -> StoredApproval:
        stored = read.model_copy(update={"state": accepted.state, "revision": read.revision + 1})
        items = [
            self._put_new(decision_item(read.approval_id, accepted.decision)),
            {"Put": {"TableName": self._table, **self._replacing(stored, read)}},
        ]
        if link is not None:
            items.append(self._use_link(link, at))
        try:
            self.db.transact_write_items(TransactItems=items)
        except ClientError as error:
            reasons = _cancellation_reasons(error)
            if reasons is not None and _lost_race(reasons):
                raise ConcurrentModification(
                    f"decision of {accepted.decision.approver_id} on approval {read.approval_id} not recorded: "
                    f"already decided, approval changed or link used or expired ({', '.join(reasons)})"
                ) from error
            raise
        return stored

    def unresumed(self) -> Iterator[StoredApproval]:
        # Index reads are eventually consistent: an approval opened or resumed a moment ago may be
        # missing or still listed. The timer re-reads each one (get) before acting on it.
        pages = self.db.get_paginator("query").paginate(
            TableName=self._table,
            IndexName=UNRESUMED_INDEX,
            KeyConditionExpression="unresumed = :open",
            ExpressionAttributeValues={":open": {"S": _OPEN}},
        )
        for page in pages:
            for item in page["Items"]:
                yield approval_from_item(item)

    def put_link(self, link: LinkRecord) -> None:
        try:
            self.db.put_item(
                TableName=self._table, Item=link_item(link), ConditionExpression="attribute_not_exists(pk)"
            )
        except ClientError as error:
            if error_code(error) == _CONDITION_FAILED:
                raise ConcurrentModification(f"link {link.link_id} exists already") from error
            raise

    def get_link(self, link_id: str) -> LinkRecord | None:
        item = self._get(link_pk(link_id), "LINK")
        return None if item is None else LinkRecord.model_validate_json(item["document"]["S"])

    def claim_slack_request(self, replay_key: str, expires_at: datetime) -> bool:
        # TTL deletes within days after expiry, never before: a replay inside the window is refused.
        item = {**_key(slack_pk(replay_key), "SLACK"), "expires_ttl": {"N": str(math.ceil(epoch(expires_at)))}}
        try:
            self.db.put_item(TableName=self._table, Item=item, ConditionExpression="attribute_not_exists(pk)")
        except ClientError as error:
            if error_code(error) == _CONDITION_FAILED:
                return False
            raise
        return True

    def _get(self, pk: str, sk: str) -> dict[str, Any] | None:
        response = self.db.get_item(TableName=self._table, Key=_key(pk, sk), ConsistentRead=True)
        item: dict[str, Any] | None = response.get("Item")
        return item

    def _put_new(self, item: dict[str, Any]) -> dict[str, Any]:
        return {"Put": {"TableName": self._table, "Item": item, "ConditionExpression": "attribute_not_exists(pk)"}}

    def _replacing(self, stored: StoredApproval, read: StoredApproval) -> dict[str, Any]:
        """Put arguments writing `stored` only over the revision `read` (fails when absent or moved on)."""
        return {
            "Item": approval_item(stored),
            "ConditionExpression": "revision = :read_revision",
            "ExpressionAttributeValues": {":read_revision": {"N": str(read.revision)}},
        }

    def _use_link(self, link: LinkRecord, at: datetime) -> dict[str, Any]:
        consumed = consume(link, at)
        return {
            "Update": {
                "TableName": self._table,
                "Key": _key(link_pk(link.link_id), "LINK"),
                "UpdateExpression": "SET used_at = :at, document = :consumed_document",
                "ConditionExpression": "attribute_exists(pk) AND attribute_not_exists(used_at) "
                "AND expires_epoch > :at_epoch",
                "ExpressionAttributeValues": {
                    ":at": {"S": timestamp(at)},
                    ":consumed_document": {"S": consumed.model_dump_json()},
                    ":at_epoch": {"N": str(epoch(at))},
                },
            }
        }


class TokenSealBroken(FmopsError):
    """A sealed task token that does not open under the fmops key for this approval: altered, or sealed
    for another approval. Never retry: the stored token is unusable (or not this approval's)."""


# Wrong context or altered bytes (InvalidCiphertext), or sealed under another key (IncorrectKey).
# Anything else (access denied, throttling, KMS unavailable) is not about the sealed bytes.
_SEAL_BROKEN = {"InvalidCiphertextException", "IncorrectKeyException"}


def _context(approval_id: str) -> dict[str, str]:
    return {"fmops:approval_id": approval_id}


class KmsTokenVault:
    """fmops.approvals.store.TokenVault with KMS: the approval id is the encryption context, so a
    token copied onto another approval's item does not decrypt there."""

    def __init__(self, key_id: str, kms: Any = None) -> None:
        self._key_id = key_id
        self._kms = kms

    @property
    def kms(self) -> Any:
        return self._kms or client("kms")

    def seal(self, token: str, approval_id: str) -> bytes:
        response = self.kms.encrypt(
            KeyId=self._key_id, Plaintext=token.encode("utf-8"), EncryptionContext=_context(approval_id)
        )
        return bytes(response["CiphertextBlob"])

    def unseal(self, sealed: bytes, approval_id: str) -> str:
        try:
            response = self.kms.decrypt(
                CiphertextBlob=sealed, KeyId=self._key_id, EncryptionContext=_context(approval_id)
            )
        except ClientError as error:
            if error_code(error) in _SEAL_BROKEN:
                raise TokenSealBroken(
                    f"the task token stored with approval {approval_id} does not decrypt for it"
                ) from error
            raise
        return bytes(response["Plaintext"]).decode("utf-8")
