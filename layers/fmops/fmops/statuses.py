"""The lifecycle of a model version: one state machine of statuses.

Every status change is a conditional transition (expected -> next) in the
catalog, so a duplicate or late event can never move a version backwards.
"""

from enum import StrEnum

from fmops.errors import InvalidTransition


class VersionStatus(StrEnum):
    RECEIVED = "Received"  # intake has claimed the upload and is verifying it
    REGISTERED = "Registered"  # model package exists (PendingManualApproval)
    REJECTED = "Rejected"  # refused at intake; a corrected manifest may be re-uploaded
    PENDING_EVALUATION = "PendingEvaluation"  # promotion started, waiting for metrics


ALLOWED_TRANSITIONS: dict[VersionStatus, frozenset[VersionStatus]] = {
    VersionStatus.RECEIVED: frozenset({VersionStatus.REGISTERED, VersionStatus.REJECTED}),
    VersionStatus.REGISTERED: frozenset({VersionStatus.PENDING_EVALUATION}),
    VersionStatus.REJECTED: frozenset({VersionStatus.RECEIVED}),
    VersionStatus.PENDING_EVALUATION: frozenset(),
}


def check_transition(current: VersionStatus, target: VersionStatus) -> None:
    """Raise InvalidTransition unless the lifecycle allows current -> target."""
    if target not in ALLOWED_TRANSITIONS[current]:
        raise InvalidTransition(f"a version in status {current.value} cannot move to {target.value}")
