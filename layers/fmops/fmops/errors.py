"""Typed domain exceptions. State machines Retry/Catch on these class names."""


class FmopsError(Exception):
    """Base class of every fmops domain error."""


class InvalidTransition(FmopsError):
    """A status change that the version lifecycle does not allow."""


class ConcurrentModification(FmopsError):
    """A conditional write lost against another writer; safe to retry."""


class IntakeInProgress(FmopsError):
    """Another delivery of the same upload holds the intake lease; retry later."""


class VersionNotFound(FmopsError):
    """No catalog record for the requested model version."""


class ArtifactStoreUnavailable(FmopsError):
    """The artifact store could not be read for a transient reason; retry."""


class ManifestChanged(FmopsError):
    """The registered manifest's bytes are no longer in the artifact store."""


class NotAwaitingEvaluation(FmopsError):
    """A promotion step found the version in a status its step does not handle."""


class EvaluationNotRequestedYet(FmopsError):
    """A report arrived before the promotion asked for it (no callback token yet); retry later."""


class NotAwaitingApproval(FmopsError):
    """An approval step found the version in a status other than PendingApproval."""


class ApprovalRejected(FmopsError):
    """An approver rejected the version (the promotion's RequestApproval fails with this name)."""


class ApprovalExpired(FmopsError):
    """Nobody decided before the approval expired: it fails closed."""
