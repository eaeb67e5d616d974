"""What deployment keeps, and the interface of the store that keeps it (DynamoDB on AWS).

- Deployment records (`history.DeploymentRecord`), stored once per `deployment_id` and listed per
  (model group, stage) for `fmops history` and the rollback target.
- One claim per version: the first "Model Package State Change" to Approved starts its
  deployment; duplicates and re-sent events find the claim and do nothing twice.
- One lock per (model group, stage) with a lease: two approved versions of one group racing for
  the same endpoint are serialized; the second waits for the lock, or finds itself superseded.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Protocol

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from fmops.deployment.history import DeploymentRecord
from fmops.gate.policy import Stage


class StageLock(BaseModel):
    """Who may change a stage's endpoint now, and until when (a lease: a crashed holder frees it)."""

    model_config = ConfigDict(defer_build=True, frozen=True, extra="forbid")

    model_group: str
    stage: Stage
    holder: str = Field(description="The deployment id holding the stage.")
    version_id: str
    acquired_at: AwareDatetime
    expires_at: AwareDatetime

    @classmethod
    def taken(
        cls, model_group: str, stage: Stage, holder: str, version_id: str, at: datetime, lease: timedelta
    ) -> StageLock:
        """The lock `holder` asks for at `at` (a renewal is a new acquisition: acquired_at moves to `at`)."""
        if lease <= timedelta(0):
            raise ValueError(f"a lease must be positive, not {lease}")
        return cls(
            model_group=model_group,
            stage=stage,
            holder=holder,
            version_id=version_id,
            acquired_at=at,
            expires_at=at + lease,
        )


class DeploymentStore(Protocol):
    def claim_version(self, version_id: str, deployment_id: str, at: datetime) -> str:
        """Claim the deployment of `version_id` for `deployment_id`; returns the deployment id that holds
        the claim (an earlier one when the version's deployment already started)."""
        ...

    def record(self, record: DeploymentRecord) -> bool:
        """Store a finished deployment once; False when a record with its deployment id exists
        (raises ConflictingDeploymentRecords when that record differs)."""
        ...

    def history(self, model_group: str, stage: Stage) -> list[DeploymentRecord]:
        """Every record of the group in the stage (any order: `history` functions order them)."""
        ...

    def acquire(
        self, model_group: str, stage: Stage, holder: str, version_id: str, at: datetime, lease: timedelta
    ) -> StageLock | None:
        """Take the stage's lock for `holder` (or renew it if `holder` has it); None while another
        holder's lease runs."""
        ...

    def release(self, lock: StageLock) -> None:
        """Free the lock if `lock.holder` still holds it (a lock taken over after its lease is left alone)."""
        ...

    def holder(self, model_group: str, stage: Stage) -> StageLock | None:
        """The current lock of the stage, if any (expired or not)."""
        ...
