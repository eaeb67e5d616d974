"""What fmops keeps about an approval, and the interfaces of the stores that keep it.

One `StoredApproval` per (version, stage, occasion): the engine's `StageApproval`, the opaque id that
links, Slack buttons and URLs carry, the sealed task token of the waiting promotion, and
where its Slack message is. Every write is conditional on the `revision` read, so two
writers never both win: the loser gets `ConcurrentModification`, re-reads, and re-judges.

The occasion is None for the version's own approval of a stage (the promotion's dev, the
deployment's preprod and prod); a manual rollback names its own ("rollback:<deployment id>"), so
a version whose prod approval was decided long ago is asked for prod again.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from datetime import datetime
from typing import Protocol

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from fmops.approvals import APPROVAL_ID_PATTERN, OCCASION_PATTERN, ROLLBACK_OCCASION_PREFIX
from fmops.approvals.engine import Accepted, StageApproval
from fmops.approvals.links import LinkRecord
from fmops.gate.policy import Stage

APPROVAL_ID_BYTES = 16  # 128 random bits: unguessable, though no check relies on it being secret


def new_approval_id() -> str:
    return secrets.token_urlsafe(APPROVAL_ID_BYTES)


def stage_key(stage: Stage, occasion: str | None) -> str:
    """The stage as approvals are told apart: "prod", or "prod#<occasion>" for an occasion's own.

    Also the stage part of the approval's event ids, so an occasion's events are not taken for
    duplicates of the version's earlier approval of the same stage."""
    return stage.value if occasion is None else f"{stage.value}#{occasion}"


class StoredApproval(BaseModel):
    """One stage's approval as stored: the engine's state plus what the adapters need."""

    model_config = ConfigDict(defer_build=True, frozen=True, extra="forbid")

    approval_id: str = Field(pattern=APPROVAL_ID_PATTERN)
    state: StageApproval
    # The promotion's task token, encrypted under the fmops key with the approval id as context:
    # whoever can read the table still cannot resume an execution.
    # Never serialised (exclude): ciphertext is not JSON, and it belongs in the approvals table only.
    sealed_task_token: bytes | None = Field(default=None, repr=False, exclude=True)
    execution_name: str | None = None
    occasion: str | None = Field(default=None, pattern=OCCASION_PATTERN)
    slack_channel: str | None = None
    slack_ts: str | None = None
    # Set once the waiting promotion was resumed (or found gone): the approval is closed for good.
    resumed_at: AwareDatetime | None = None
    revision: int = 0

    @property
    def version_id(self) -> str:
        return self.state.version_id

    @property
    def stage(self) -> Stage:
        return self.state.stage

    @property
    def stage_key(self) -> str:
        return stage_key(self.stage, self.occasion)

    @property
    def is_rollback(self) -> bool:
        return self.occasion is not None and self.occasion.startswith(ROLLBACK_OCCASION_PREFIX)


class ApprovalStore(Protocol):
    """Approvals, their decisions, e-mail links and Slack replay keys (DynamoDB on AWS)."""

    def open(self, approval: StoredApproval) -> StoredApproval:
        """Store a new approval unless (version, stage, occasion) already has one; returns the stored one."""
        ...

    def get(self, approval_id: str) -> StoredApproval | None: ...

    def for_stage(self, version_id: str, stage: Stage, occasion: str | None = None) -> StoredApproval | None:
        """The approval of (version, stage, occasion); occasion None: the version's own approval of the stage."""
        ...

    def save(self, approval: StoredApproval, read: StoredApproval) -> StoredApproval:
        """Replace `read` (same revision) with `approval`; raises ConcurrentModification otherwise."""
        ...

    def record_decision(
        self, read: StoredApproval, accepted: Accepted, link: LinkRecord | None, at: datetime
    ) -> StoredApproval:
        """In one transaction: the decision (one per approver), the new state (revision of `read`)
        and, for a decision by e-mail link, the link's single use. Any failed condition raises
        ConcurrentModification and writes nothing."""
        ...

    def unresumed(self) -> Iterator[StoredApproval]:
        """Every approval whose promotion has not been resumed yet (the timer's work list)."""
        ...

    def put_link(self, link: LinkRecord) -> None:
        """Store a new link record (never overwrites)."""
        ...

    def get_link(self, link_id: str) -> LinkRecord | None: ...

    def claim_slack_request(self, replay_key: str, expires_at: datetime) -> bool:
        """True the first time a signed Slack request is seen, False for a replay."""
        ...


class TokenVault(Protocol):
    """Encrypts task tokens at rest (KMS on AWS), bound to the approval they belong to."""

    def seal(self, token: str, approval_id: str) -> bytes: ...

    def unseal(self, sealed: bytes, approval_id: str) -> str: ...


class Messenger(Protocol):
    """Posts and updates approval messages in a chat tool (Slack)."""

    def post(self, channel: str, text: str, blocks: list[dict[str, object]]) -> str:
        """Post a message; returns its timestamp id."""
        ...

    def update(self, channel: str, ts: str, text: str, blocks: list[dict[str, object]]) -> None: ...
