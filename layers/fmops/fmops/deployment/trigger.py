"""Whether a SageMaker "Model Package State Change" starts a deployment.

SageMaker puts that event on the default bus when a model package is created and whenever its
status changes, wherever the change was made: by fmops' Register step, by an API call, or by a
person in SageMaker Studio. fmops deploys only a transition to `Approved` of a version that went
through fmops' own gate and approvals; a Studio approval passes through the same checks as any
other. `decide_trigger` judges one event, from:

- the event detail's fields that matter (`PackageStateChange`), the fmops version id among them
  (the package's `CustomerMetadataProperties["fmops:version_id"]`, set when fmops registered it);
- the catalog record of that version, or None when there is none;
- whether a deployment of that version has already started (the deployment's own conditional
  write is the authority; this check only avoids starting a second one).

Outcomes, in the order they are checked (the first that applies wins):

- `ignore_not_approved`: any status but Approved (a registration in PendingManualApproval, a
  rejection, an approval withdrawn). Nothing to deploy.
- `ignore_unmanaged_group`: no catalog record for the package's fmops version id (or none
  claimed): a group or package fmops does not manage. Not fmops' to deploy.
- `refuse_unapproved` (package mismatch): the package claims an fmops version, but fmops
  registered that version as another package or in another group: nobody approved *this*
  package through fmops.
- `ignore_duplicate`: a deployment of this version already started (a re-sent event, a
  duplicate delivery, a later metadata change of an approved package).
- `refuse_ungated`: Approved in the registry (e.g. in Studio) but the version has no passed
  gate decision.
- `refuse_unapproved`: Approved in the registry but fmops' status is not Approved: nobody
  approved it through fmops' rules (e.g. a Studio approval of a version still PendingApproval).
- `deploy`.

A refusal is never silent: the caller records it in the audit trail (with the package ARN and
the reason) and raises an alarm, because an approval that bypassed fmops is either a mistake or
an attempt to skip governance. The previous status, when known, only words the reason: SageMaker's
event carries the package as it is now, so no decision may depend on what it was before.
"""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field

from fmops.records import CatalogRecord
from fmops.statuses import VersionStatus

APPROVED = "Approved"  # SageMaker's ModelApprovalStatus of an approved package


class TriggerOutcome(StrEnum):
    DEPLOY = "deploy"
    IGNORE_NOT_APPROVED = "ignore_not_approved"
    IGNORE_UNMANAGED_GROUP = "ignore_unmanaged_group"
    IGNORE_DUPLICATE = "ignore_duplicate"
    REFUSE_UNGATED = "refuse_ungated"
    REFUSE_UNAPPROVED = "refuse_unapproved"


REFUSALS = frozenset({TriggerOutcome.REFUSE_UNGATED, TriggerOutcome.REFUSE_UNAPPROVED})


class _Frozen(BaseModel):
    model_config = ConfigDict(defer_build=True, extra="forbid", frozen=True)


class PackageStateChange(_Frozen):
    """The fields of a "SageMaker Model Package State Change" detail that decide a deployment."""

    model_package_group_name: str = Field(description="detail.ModelPackageGroupName")
    model_package_arn: str = Field(description="detail.ModelPackageArn")
    model_approval_status: str = Field(description="detail.ModelApprovalStatus, e.g. Approved")
    previous_approval_status: str | None = Field(default=None, description="When known; only words the reason.")
    version_id: str | None = Field(
        default=None, description='detail.CustomerMetadataProperties["fmops:version_id"]; None if absent.'
    )


class TriggerDecision(_Frozen):
    """What to do with one state-change event, and why (the reason goes into the record)."""

    outcome: TriggerOutcome
    reason: str
    model_group: str
    model_package_arn: str
    version_id: str | None

    @property
    def refused(self) -> bool:
        """True for a refusal: record it and raise an alarm."""
        return self.outcome in REFUSALS

    @property
    def deploys(self) -> bool:
        return self.outcome is TriggerOutcome.DEPLOY


def _same(left: str | None, right: str) -> bool:
    # SageMaker treats names and ARNs case-insensitively (ARNs come back lower-cased).
    return left is not None and left.casefold() == right.casefold()


def decide_trigger(
    change: PackageStateChange, record: CatalogRecord | None, *, deployment_started: bool
) -> TriggerDecision:
    """Decide whether `change` starts a deployment; see the module docstring for the order of the checks.

    Refusals (`refuse_ungated`, `refuse_unapproved`) are to be recorded in the audit trail and alarmed.
    """
    package = change.model_package_arn

    def decision(outcome: TriggerOutcome, reason: str) -> TriggerDecision:
        return TriggerDecision(
            outcome=outcome,
            reason=reason,
            model_group=change.model_package_group_name,
            model_package_arn=package,
            version_id=change.version_id,
        )

    status = change.model_approval_status
    if status != APPROVED:
        previous = change.previous_approval_status
        if previous == APPROVED:
            why = f"approval withdrawn in the registry (Approved -> {status}): nothing deploys"
        elif previous is None and status == "PendingManualApproval":
            why = "a registration (PendingManualApproval): nothing is approved yet"
        else:
            why = f"status {status} is not Approved: nothing deploys"
        return decision(TriggerOutcome.IGNORE_NOT_APPROVED, why)
    if change.version_id is None or record is None:
        claimed = f"fmops version {change.version_id}" if change.version_id else "no fmops version id"
        return decision(
            TriggerOutcome.IGNORE_UNMANAGED_GROUP,
            f"package {package} in group {change.model_package_group_name} has {claimed} in the catalog: "
            "fmops does not manage it",
        )
    if not _same(record.model_package_arn, package) or not _same(record.model_group, change.model_package_group_name):
        return decision(
            TriggerOutcome.REFUSE_UNAPPROVED,
            f"package {package} in group {change.model_package_group_name} claims version {record.version_id}, "
            f"which fmops registered as {record.model_package_arn or 'no package yet'} in group "
            f"{record.model_group}: nobody approved this package through fmops",
        )
    if deployment_started:
        return decision(TriggerOutcome.IGNORE_DUPLICATE, f"a deployment of {record.version_id} has already started")
    if record.gate is None or not record.gate.decision.passed:
        gate = "no gate decision" if record.gate is None else "a failed gate decision"
        return decision(
            TriggerOutcome.REFUSE_UNGATED,
            f"{record.version_id} was approved in the registry but has {gate} (status {record.status.value}): "
            "only a version that passed its gate is deployed",
        )
    if record.status is not VersionStatus.APPROVED:
        return decision(
            TriggerOutcome.REFUSE_UNAPPROVED,
            f"{record.version_id} was approved in the registry but its fmops status is {record.status.value}: "
            "nobody approved it through fmops' approval rules",
        )
    return decision(TriggerOutcome.DEPLOY, f"{record.version_id} passed its gate and its approvals")
