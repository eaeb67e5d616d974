from datetime import UTC, datetime
from typing import Any

import pytest

from fmops.deployment.trigger import (
    PackageStateChange,
    TriggerDecision,
    TriggerOutcome,
    decide_trigger,
)
from fmops.gate.decision import GateDecision, RuleResult
from fmops.gate.policy import Stage
from fmops.manifest import RiskTier
from fmops.records import CatalogRecord, GateOutcome
from fmops.statuses import VersionStatus

AT = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
VERSION_ID = "sentiment/1.0.0"
PACKAGE = "arn:aws:sagemaker:us-east-1:123456789012:model-package/sentiment/1"


def gate(passed: bool = True) -> GateOutcome:
    rule = RuleResult(
        rule_id="threshold.token_f1",
        description="token_f1 >= 0.6",
        observed=0.95 if passed else 0.4,
        threshold=">= 0.6",
        passed=passed,
        reason="within" if passed else "below the minimum",
    )
    decision = GateDecision(
        version_id=VERSION_ID,
        stage=Stage.PROD,
        risk_tier=RiskTier.MEDIUM,
        passed=passed,
        policy_version="2026.11.1",
        policy_model_group="*",
        policy_sha256="cd" * 32,
        rules=[rule],
    )
    return GateOutcome(decision=decision, decision_uri=f"s3://evidence/gate-decisions/{VERSION_ID}.json", decided_at=AT)


def catalog(status: VersionStatus = VersionStatus.APPROVED, **overrides: Any) -> CatalogRecord:
    fields: dict[str, Any] = {
        "version_id": VERSION_ID,
        "model_group": "sentiment",
        "version": "1.0.0",
        "status": status,
        "manifest_uri": f"s3://fmops-artifacts/models/{VERSION_ID}/manifest.json",
        "manifest_sha256": "ab" * 32,
        "created_at": AT,
        "updated_at": AT,
        "model_package_arn": PACKAGE,
        "gate": gate(),
    }
    fields.update(overrides)
    return CatalogRecord(**fields)


def change(status: str = "Approved", **overrides: Any) -> PackageStateChange:
    fields: dict[str, Any] = {
        "model_package_group_name": "sentiment",
        "model_package_arn": PACKAGE,
        "model_approval_status": status,
        "version_id": VERSION_ID,
    }
    fields.update(overrides)
    return PackageStateChange(**fields)


def decide(
    event: PackageStateChange | None = None, record: CatalogRecord | None = None, *, started: bool = False
) -> TriggerDecision:
    return decide_trigger(event or change(), record, deployment_started=started)


def test_an_approval_through_fmops_starts_the_deployment() -> None:
    # Given a version that passed its gate and its approvals, and its package turning Approved
    # When the state change arrives for the first time
    decision = decide(change(previous_approval_status="PendingManualApproval"), catalog())

    # Then it deploys, naming the version and package
    assert decision.outcome is TriggerOutcome.DEPLOY and decision.deploys and not decision.refused
    assert (decision.version_id, decision.model_group, decision.model_package_arn) == (VERSION_ID, "sentiment", PACKAGE)
    assert decision.reason == "sentiment/1.0.0 passed its gate and its approvals"


@pytest.mark.parametrize(
    ("status", "previous", "reason"),
    [
        pytest.param("PendingManualApproval", None, "a registration (PendingManualApproval)", id="registration"),
        pytest.param("Rejected", "PendingManualApproval", "status Rejected is not Approved", id="rejected"),
        pytest.param("Rejected", "Approved", "approval withdrawn in the registry (Approved -> Rejected)", id="revoked"),
        pytest.param("PendingManualApproval", "Approved", "approval withdrawn", id="back-to-pending"),
    ],
)
def test_anything_but_approved_deploys_nothing(status: str, previous: str | None, reason: str) -> None:
    # Given a state change to a status other than Approved, for a version fmops would otherwise deploy
    decision = decide(change(status, previous_approval_status=previous), catalog())

    # Then it is ignored, and the reason says which change it was
    assert decision.outcome is TriggerOutcome.IGNORE_NOT_APPROVED
    assert reason in decision.reason and not decision.refused


@pytest.mark.parametrize(
    ("event", "record"),
    [
        pytest.param(change(version_id=None), None, id="package-without-fmops-version-id"),
        pytest.param(
            change(model_package_group_name="hand-made", version_id="hand-made/7"), None, id="version-not-in-catalog"
        ),
        pytest.param(change(version_id=None), catalog(), id="no-version-id-even-with-a-record-at-hand"),
    ],
)
def test_a_package_fmops_does_not_manage_is_ignored(event: PackageStateChange, record: CatalogRecord | None) -> None:
    decision = decide(event, record)

    assert decision.outcome is TriggerOutcome.IGNORE_UNMANAGED_GROUP
    assert "fmops does not manage it" in decision.reason and not decision.refused


def test_a_re_sent_approval_of_a_deploying_version_is_a_duplicate() -> None:
    # Given a version whose deployment already started
    # When the same Approved state change arrives again (or a metadata change re-emits it)
    decision = decide(change(previous_approval_status="Approved"), catalog(), started=True)

    # Then nothing starts twice
    assert decision.outcome is TriggerOutcome.IGNORE_DUPLICATE
    assert decision.reason == "a deployment of sentiment/1.0.0 has already started"


@pytest.mark.parametrize(
    ("record", "detail"),
    [
        pytest.param(catalog(VersionStatus.PENDING_EVALUATION, gate=None), "has no gate decision", id="not-evaluated"),
        pytest.param(catalog(VersionStatus.EVALUATED, gate=None), "has no gate decision", id="evaluated-not-judged"),
        pytest.param(catalog(VersionStatus.REJECTED, gate=gate(passed=False)), "has a failed gate", id="gate-failed"),
    ],
)
def test_a_studio_approval_of_an_ungated_version_is_refused(record: CatalogRecord, detail: str) -> None:
    # Given a version without a passed gate decision, approved by hand in SageMaker Studio
    decision = decide(change(), record)

    # Then the deployment is refused, to be recorded and alarmed
    assert decision.outcome is TriggerOutcome.REFUSE_UNGATED and decision.refused
    assert detail in decision.reason and "only a version that passed its gate is deployed" in decision.reason


def test_a_studio_approval_of_a_version_awaiting_its_approvers_is_refused() -> None:
    # Given a version that passed its gate but still waits for its approvers' quorum
    record = catalog(VersionStatus.PENDING_APPROVAL)

    # When someone approves its package directly in SageMaker Studio
    decision = decide(change(previous_approval_status="PendingManualApproval"), record)

    # Then the deployment is refused: nobody approved it through fmops' rules
    assert decision.outcome is TriggerOutcome.REFUSE_UNAPPROVED and decision.refused
    assert "its fmops status is PendingApproval" in decision.reason


@pytest.mark.parametrize(
    "event",
    [
        pytest.param(change(model_package_arn=PACKAGE.replace("/1", "/2")), id="another-package"),
        pytest.param(change(model_package_group_name="other"), id="another-group"),
    ],
)
def test_a_package_claiming_an_approved_version_it_is_not_is_refused(event: PackageStateChange) -> None:
    # Given an approved version, and another package that claims its fmops version id
    # When that package is approved in the registry (even while the real one is deploying)
    decision = decide(event, catalog(), started=True)

    # Then it is refused, not ignored as a duplicate: nobody approved that package through fmops
    assert decision.outcome is TriggerOutcome.REFUSE_UNAPPROVED and decision.refused
    assert "nobody approved this package through fmops" in decision.reason


def test_a_version_without_a_registered_package_is_refused() -> None:
    decision = decide(change(), catalog(VersionStatus.RECEIVED, model_package_arn=None, gate=None))

    assert decision.outcome is TriggerOutcome.REFUSE_UNAPPROVED
    assert "no package yet" in decision.reason


def test_package_names_compare_as_sagemaker_compares_them() -> None:
    # Given the registry reporting the package ARN and group in another case than fmops recorded
    event = change(model_package_arn=PACKAGE.upper(), model_package_group_name="Sentiment")

    # Then it is the same package
    assert decide(event, catalog()).outcome is TriggerOutcome.DEPLOY


def test_the_checks_apply_in_order() -> None:
    # Given a version that fails every later check at once (ungated, unapproved, already deploying)
    record = catalog(VersionStatus.PENDING_EVALUATION, gate=None)

    # Then not-approved comes first, then duplicate, then ungated
    assert decide(change("Rejected"), record, started=True).outcome is TriggerOutcome.IGNORE_NOT_APPROVED
    assert decide(change(), None, started=True).outcome is TriggerOutcome.IGNORE_UNMANAGED_GROUP
    assert decide(change(), record, started=True).outcome is TriggerOutcome.IGNORE_DUPLICATE
    assert decide(change(), record).outcome is TriggerOutcome.REFUSE_UNGATED
