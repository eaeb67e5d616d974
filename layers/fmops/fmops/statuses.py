"""The lifecycle of a model version: one state machine of statuses.

Every status change is a conditional transition (expected -> next) in the
catalog, so a duplicate or late event can never move a version backwards.
"""

from enum import StrEnum

from fmops.errors import InvalidTransition


class VersionStatus(StrEnum):
    RECEIVED = "Received"  # intake has claimed the upload and is verifying it
    REGISTERED = "Registered"  # model package exists (PendingManualApproval)
    # Refused at intake (no model package: a corrected manifest may be re-uploaded), or failed
    # its evaluation or gate (final: the version is immutable, submit a new version).
    REJECTED = "Rejected"
    PENDING_EVALUATION = "PendingEvaluation"  # promotion started, waiting for metrics
    EVALUATED = "Evaluated"  # metrics accepted, the gate has not judged them yet
    PENDING_APPROVAL = "PendingApproval"  # passed its gate; waits for human approval
    APPROVED = "Approved"  # approved by its quorum; its model package is Approved in the registry


ALLOWED_TRANSITIONS: dict[VersionStatus, frozenset[VersionStatus]] = {
    VersionStatus.RECEIVED: frozenset({VersionStatus.REGISTERED, VersionStatus.REJECTED}),
    VersionStatus.REGISTERED: frozenset({VersionStatus.PENDING_EVALUATION}),
    VersionStatus.REJECTED: frozenset({VersionStatus.RECEIVED}),
    VersionStatus.PENDING_EVALUATION: frozenset({VersionStatus.EVALUATED, VersionStatus.REJECTED}),
    VersionStatus.EVALUATED: frozenset({VersionStatus.PENDING_APPROVAL, VersionStatus.REJECTED}),
    VersionStatus.PENDING_APPROVAL: frozenset({VersionStatus.APPROVED, VersionStatus.REJECTED}),
    VersionStatus.APPROVED: frozenset(),
}


def check_transition(current: VersionStatus, target: VersionStatus) -> None:
    """Raise InvalidTransition unless the lifecycle allows current -> target."""
    if target not in ALLOWED_TRANSITIONS[current]:
        raise InvalidTransition(f"a version in status {current.value} cannot move to {target.value}")
