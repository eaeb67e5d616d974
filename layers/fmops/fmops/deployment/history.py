"""Deployment history: what served where and when, approved by whom, on which evidence.

Every finished deployment of a version to a stage leaves one `DeploymentRecord`: a deploy (the
version was put on the stage) or a rollback (the stage was put back on an earlier version). The
functions here answer the questions asked of those records, from the records alone:

- `serving_at`: what was serving in a stage at a moment, since when, approved by whom, on which
  evidence ("what was serving in prod on 3 March, and who let it in");
- `rollback_target`: the version an automatic rollback puts the stage back on;
- `timeline`: every deployment of a group to a stage, in order.

Records come from an at-least-once store and a query that may page in any order: they may arrive
out of order and more than once. Each carries its `deployment_id` and is counted once; two
different records under one id are a corrupted history and raise `ConflictingDeploymentRecords`
rather than letting one of them silently answer an auditor.

What serves:
- only a `succeeded` record changes what serves, from its `finished_at` (inclusive);
- a `failed` deploy changed nothing (the stage kept its version);
- a deploy that was `rolled_back` is not counted as serving: its smoke test or its alarms failed
  before the stage settled on it, and the rollback record (kind `rollback`, `succeeded`) makes the
  rolled-back-to version serve again from that rollback's `finished_at`.

A record's `approved_by`, `approval_id` and `evidence_uri` are the approval under which that
deployment ran. A manual rollback carries its own approval; an automatic rollback carries those of
the deployment it restores (the record `rollback_target` returns), so the answer to "approved by
whom" is always the approval of what was actually serving.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from enum import StrEnum

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, model_validator

from fmops.errors import FmopsError
from fmops.gate.policy import Stage
from fmops.manifest import SHA256_PATTERN


class DeploymentKind(StrEnum):
    DEPLOY = "deploy"  # a new version put on the stage
    ROLLBACK = "rollback"  # the stage put back on an earlier version (automatic or `fmops rollback`)


class DeploymentOutcome(StrEnum):
    SUCCEEDED = "succeeded"  # the version serves in the stage from finished_at
    FAILED = "failed"  # nothing changed: the stage kept what it served
    ROLLED_BACK = "rolled_back"  # a deploy that failed after touching the stage; a rollback record follows


class ConflictingDeploymentRecords(FmopsError):
    """Two different records share one deployment id: the history cannot be trusted to answer."""


class DeploymentRecord(BaseModel):
    """One finished deployment of one version to one stage (stored once per `deployment_id`)."""

    model_config = ConfigDict(defer_build=True, extra="forbid", frozen=True)

    deployment_id: str = Field(min_length=1, max_length=512, description="Stable across retries and replays.")
    kind: DeploymentKind
    version_id: str = Field(description="<model group>/<version>: the version put on the stage.")
    model_group: str
    stage: Stage
    outcome: DeploymentOutcome
    started_at: AwareDatetime
    finished_at: AwareDatetime
    approved_by: list[str] = Field(default_factory=list, description="Who approved this deployment; [] if nobody.")
    approval_id: str | None = None
    evidence_uri: str | None = Field(default=None, description="The evidence the approvers saw (gate decision...).")
    artifact_sha256: str = Field(pattern=SHA256_PATTERN, description="sha256 of the version's registered manifest.")
    endpoint_config_name: str | None = Field(default=None, description="None for a registry-only stage.")
    replaced_version_id: str | None = Field(default=None, description="What served before; None on a first deploy.")
    reason: str | None = Field(default=None, max_length=2000, description="Why it failed or was rolled back.")
    code: str | None = Field(default=None, description="Why it failed, as a code (smoke_test_failed, ...).")
    requested_at: AwareDatetime | None = Field(
        default=None, description="When the deployment was asked for (orders two racing for one stage)."
    )

    @model_validator(mode="after")
    def _consistent(self) -> DeploymentRecord:
        if not self.version_id.startswith(f"{self.model_group}/"):
            raise ValueError(f"version {self.version_id} is not in model group {self.model_group}")
        if self.finished_at < self.started_at:
            raise ValueError("finished_at must not be before started_at")
        if self.replaced_version_id == self.version_id:
            raise ValueError("a deployment cannot replace the version it deploys")
        if self.kind is DeploymentKind.ROLLBACK:
            if self.replaced_version_id is None:
                raise ValueError("a rollback names the version it rolled back from (replaced_version_id)")
            if self.outcome is DeploymentOutcome.ROLLED_BACK:
                raise ValueError("a rollback either succeeded or failed; it is not itself rolled back")
        if (self.kind is DeploymentKind.ROLLBACK or self.outcome is not DeploymentOutcome.SUCCEEDED) and not (
            self.reason and self.reason.strip()
        ):
            raise ValueError(f"a {self.outcome.value} {self.kind.value} records its reason")
        return self

    @property
    def approved(self) -> bool:
        """True when somebody approved this deployment through fmops (an approval id and its approvers)."""
        return bool(self.approved_by) and self.approval_id is not None

    @property
    def served(self) -> bool:
        """True when the stage served this record's version from `finished_at`."""
        return self.outcome is DeploymentOutcome.SUCCEEDED


class Serving(BaseModel):
    """What served a stage at a moment: the version, since when, and the deployment that put it there."""

    model_config = ConfigDict(defer_build=True, extra="forbid", frozen=True)

    version_id: str
    since: AwareDatetime
    deployment: DeploymentRecord

    @property
    def approved_by(self) -> list[str]:
        return self.deployment.approved_by

    @property
    def approval_id(self) -> str | None:
        return self.deployment.approval_id

    @property
    def evidence_uri(self) -> str | None:
        return self.deployment.evidence_uri

    @property
    def artifact_sha256(self) -> str:
        return self.deployment.artifact_sha256


def _order(record: DeploymentRecord) -> tuple[datetime, datetime, str]:
    # finished_at first: that is when an outcome became fact; the id makes ties deterministic.
    return record.finished_at, record.started_at, record.deployment_id


def _distinct(records: Iterable[DeploymentRecord], model_group: str, stage: Stage) -> list[DeploymentRecord]:
    """The records of one group and stage, each deployment once; raises on conflicting duplicates."""
    by_id: dict[str, DeploymentRecord] = {}
    for record in records:
        if record.model_group != model_group or record.stage is not stage:
            continue
        seen = by_id.setdefault(record.deployment_id, record)
        if seen != record:
            raise ConflictingDeploymentRecords(
                f"deployment {record.deployment_id} is recorded twice with different content "
                f"({seen.outcome.value} of {seen.version_id} and {record.outcome.value} of {record.version_id})"
            )
    return list(by_id.values())


def timeline(records: Iterable[DeploymentRecord], model_group: str, stage: Stage) -> list[DeploymentRecord]:
    """Every deployment of `model_group` to `stage`, each once, in the order they finished."""
    return sorted(_distinct(records, model_group, stage), key=_order)


def serving_at(records: Iterable[DeploymentRecord], model_group: str, stage: Stage, at: datetime) -> Serving | None:
    """What was serving `model_group` in `stage` at `at` (None before its first successful deployment).

    The latest succeeded deploy or rollback finished at or before `at`; see the module docstring.
    """
    if at.tzinfo is None:
        raise ValueError("at must be timezone-aware: a naive time names no moment")
    served = [record for record in timeline(records, model_group, stage) if record.served and record.finished_at <= at]
    if not served:
        return None
    latest = served[-1]
    return Serving(version_id=latest.version_id, since=latest.finished_at, deployment=latest)


def rollback_target(
    records: Iterable[DeploymentRecord], model_group: str, stage: Stage, failing_version_id: str
) -> DeploymentRecord | None:
    """The deployment an automatic rollback restores when `failing_version_id` fails in `stage`.

    The most recent version, other than the failing one, that was approved and served there and
    has not failed there since: a version whose deploy was rolled back, or which a rollback took
    the stage away from, is never chosen again by itself (`fmops rollback --to` may still name it,
    under a new approval); nor is a version that served without an fmops approval. A `failed`
    record changed nothing, so it changes no version's standing either (the rollback re-verifies
    the artifact's digest like any deployment). Returns the record that last put that version in
    service (its approval and evidence go on the rollback record), or None when there is nothing
    safe to return to: the caller then takes the failing version out and records why.
    """
    standing: dict[str, DeploymentRecord] = {}  # version -> the last record that said it is good or bad
    for record in timeline(records, model_group, stage):
        if record.outcome is DeploymentOutcome.FAILED:
            continue
        standing[record.version_id] = record
        if record.kind is DeploymentKind.ROLLBACK and record.replaced_version_id is not None:
            standing[record.replaced_version_id] = record
    candidates = [
        record
        for version_id, record in standing.items()
        if version_id != failing_version_id and record.version_id == version_id and record.served and record.approved
    ]
    return max(candidates, key=_order, default=None)
