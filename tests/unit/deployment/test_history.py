import hashlib
import random
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from pydantic import ValidationError

from fmops.deployment.history import (
    ConflictingDeploymentRecords,
    DeploymentKind,
    DeploymentOutcome,
    DeploymentRecord,
    rollback_target,
    serving_at,
    timeline,
)
from fmops.errors import FmopsError
from fmops.gate.policy import Stage

GROUP = "sentiment"
DAY = datetime(2026, 3, 1, tzinfo=UTC)


def at(day: int, hour: int, minute: int = 0) -> datetime:
    return DAY + timedelta(days=day - 1, hours=hour, minutes=minute)


def record(
    deployment_id: str,
    version: str,
    started: datetime,
    minutes: int = 20,
    *,
    outcome: DeploymentOutcome = DeploymentOutcome.SUCCEEDED,
    kind: DeploymentKind = DeploymentKind.DEPLOY,
    approved: bool = True,
    **overrides: Any,
) -> DeploymentRecord:
    fields: dict[str, Any] = {
        "deployment_id": deployment_id,
        "kind": kind,
        "version_id": f"{GROUP}/{version}",
        "model_group": GROUP,
        "stage": Stage.PROD,
        "outcome": outcome,
        "started_at": started,
        "finished_at": started + timedelta(minutes=minutes),
        "approved_by": ["ana.ortiz", "ben.okafor"] if approved else [],
        "approval_id": f"approval-{version}-prod" if approved else None,
        "evidence_uri": f"s3://fmops-evidence/{GROUP}/{version}/gate.json",
        "artifact_sha256": hashlib.sha256(version.encode()).hexdigest(),
        "endpoint_config_name": f"fmops-{GROUP}-prod-{version.replace('.', '-')}",
        "reason": None if outcome is DeploymentOutcome.SUCCEEDED and kind is DeploymentKind.DEPLOY else "why",
    }
    fields.update(overrides)
    return DeploymentRecord(**fields)


# The prod story of the group:
# 1 March 09:00-09:20  1.0.0 deployed
# 2 March 10:00-10:15  2.0.0 deployed, smoke test failed: rolled back
# 2 March 10:15-10:25  rollback to 1.0.0 (automatic, under 1.0.0's approval)
# 3 March 08:00-08:05  3.0.0 failed: the deploy role could not be assumed (nothing changed)
# 4 March 12:00-12:30  4.0.0 deployed
V1 = record("d-1", "1.0.0", at(1, 9))
V2_ROLLED_BACK = record(
    "d-2", "2.0.0", at(2, 10), 15, outcome=DeploymentOutcome.ROLLED_BACK, replaced_version_id=f"{GROUP}/1.0.0"
)
BACK_TO_V1 = record(
    "d-2-rollback",
    "1.0.0",
    at(2, 10, 15),
    10,
    kind=DeploymentKind.ROLLBACK,
    replaced_version_id=f"{GROUP}/2.0.0",
    reason="smoke test failed (1 of 3 samples): greeting: HTTP 500 (12 bytes)",
)
V3_FAILED = record("d-3", "3.0.0", at(3, 8), 5, outcome=DeploymentOutcome.FAILED, reason="AccessDenied on AssumeRole")
V4 = record("d-4", "4.0.0", at(4, 12), 30, replaced_version_id=f"{GROUP}/1.0.0")
STORY = [V1, V2_ROLLED_BACK, BACK_TO_V1, V3_FAILED, V4]


def arriving_badly(records: list[DeploymentRecord]) -> list[DeploymentRecord]:
    """The records as an at-least-once store hands them over: shuffled, some twice."""
    delivered = [*records, *records[::2]]
    random.Random(6).shuffle(delivered)
    return delivered


# ------------------------------------------------------------------------------ serving_at


@pytest.mark.parametrize("records", [STORY, arriving_badly(STORY)], ids=["in-order", "shuffled-and-duplicated"])
@pytest.mark.parametrize(
    ("moment", "version", "since", "deployment_id"),
    [
        pytest.param(at(1, 8), None, None, None, id="before-any-deployment"),
        pytest.param(at(1, 9, 10), None, None, None, id="during-the-first-deployment"),
        pytest.param(at(1, 9, 20), "1.0.0", at(1, 9, 20), "d-1", id="the-moment-it-finished"),
        pytest.param(at(2, 10, 5), "1.0.0", at(1, 9, 20), "d-1", id="between-deployments"),
        pytest.param(at(2, 10, 20), "1.0.0", at(1, 9, 20), "d-1", id="while-rolling-back"),
        pytest.param(at(2, 11), "1.0.0", at(2, 10, 25), "d-2-rollback", id="after-the-rollback"),
        pytest.param(at(3, 9), "1.0.0", at(2, 10, 25), "d-2-rollback", id="after-a-failed-deploy"),
        pytest.param(at(5, 0), "4.0.0", at(4, 12, 30), "d-4", id="after-the-next-deploy"),
    ],
)
def test_what_served_prod_at_a_moment(
    records: list[DeploymentRecord],
    moment: datetime,
    version: str | None,
    since: datetime | None,
    deployment_id: str | None,
) -> None:
    # Given the prod story of a group (see STORY), possibly shuffled and duplicated
    # When someone asks what served prod at a moment
    serving = serving_at(records, GROUP, Stage.PROD, moment)

    # Then the answer is the version put there by the latest success finished by then, and since when
    if version is None:
        assert serving is None
        return
    assert serving is not None
    assert (serving.version_id, serving.since, serving.deployment.deployment_id) == (
        f"{GROUP}/{version}",
        since,
        deployment_id,
    )


def test_the_answer_says_who_let_it_in_and_on_which_evidence() -> None:
    # Given the prod story, after the automatic rollback to 1.0.0
    # When an auditor asks what served on 3 March
    serving = serving_at(STORY, GROUP, Stage.PROD, at(3, 12))

    # Then it names the approvers, the approval, the evidence and the exact artifact digest
    assert serving is not None
    assert serving.approved_by == ["ana.ortiz", "ben.okafor"]
    assert serving.approval_id == "approval-1.0.0-prod"
    assert serving.evidence_uri == "s3://fmops-evidence/sentiment/1.0.0/gate.json"
    assert serving.artifact_sha256 == V1.artifact_sha256
    # And that it serves again because of a rollback, and why
    assert serving.deployment.kind is DeploymentKind.ROLLBACK
    assert serving.deployment.reason is not None and "smoke test failed" in serving.deployment.reason


def test_other_stages_and_groups_do_not_answer_for_prod() -> None:
    # Given a preprod deployment and a deployment of another group, both before prod's first
    preprod = record("p-1", "9.0.0", at(1, 1), stage=Stage.PREPROD)
    other = DeploymentRecord(
        **{**record("o-1", "9.0.0", at(1, 2)).model_dump(), "model_group": "other", "version_id": "other/9.0.0"}
    )

    # Then prod of the group served nothing then, and something only from its own deployment
    assert serving_at([preprod, other, *STORY], GROUP, Stage.PROD, at(1, 8)) is None
    preprod_serving = serving_at([preprod, other, *STORY], GROUP, Stage.PREPROD, at(5, 0))
    assert preprod_serving is not None and preprod_serving.version_id == f"{GROUP}/9.0.0"


def test_a_naive_moment_is_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        serving_at(STORY, GROUP, Stage.PROD, datetime(2026, 3, 3, 12))


def test_two_different_records_under_one_id_are_a_conflict() -> None:
    # Given a record and a different record claiming the same deployment id
    forged = record("d-1", "1.0.0", at(1, 9), approved_by=["mallory"])

    # When the history is read
    with pytest.raises(ConflictingDeploymentRecords, match="d-1 is recorded twice") as caught:
        serving_at([*STORY, forged], GROUP, Stage.PROD, at(5, 0))

    # Then it refuses to answer, with a typed domain error
    assert isinstance(caught.value, FmopsError)


# ------------------------------------------------------------------------------ timeline


def test_the_timeline_lists_each_deployment_once_in_the_order_they_finished() -> None:
    # Given the story delivered shuffled and partly twice, with a preprod record mixed in
    records = [*arriving_badly(STORY), record("p-1", "9.0.0", at(1, 1), stage=Stage.PREPROD)]

    # When the prod timeline is read
    entries = timeline(records, GROUP, Stage.PROD)

    # Then it holds each prod deployment once, oldest first
    assert [entry.deployment_id for entry in entries] == ["d-1", "d-2", "d-2-rollback", "d-3", "d-4"]


def test_a_stage_never_deployed_to_has_an_empty_timeline() -> None:
    assert timeline(STORY, GROUP, Stage.DEV) == []


# ------------------------------------------------------------------------------ rollback_target


def test_a_failing_version_goes_back_to_the_last_approved_version_that_served() -> None:
    # Given the prod story, and 5.0.0 failing its smoke test
    # When the rollback target is chosen
    target = rollback_target(arriving_badly(STORY), GROUP, Stage.PROD, f"{GROUP}/5.0.0")

    # Then it is 4.0.0, the version serving before it
    assert target == V4


def test_a_failed_deploy_and_a_rolled_back_version_are_skipped() -> None:
    # Given the prod story, and 4.0.0 (serving) failing
    # When the rollback target is chosen
    target = rollback_target(STORY, GROUP, Stage.PROD, f"{GROUP}/4.0.0")

    # Then 3.0.0 (its deploy failed, it never served) and 2.0.0 (rolled back) are skipped: 1.0.0,
    # through the record that last put it in service
    assert target == BACK_TO_V1


def test_a_version_that_served_without_an_fmops_approval_is_skipped() -> None:
    # Given a version 6.0.0 that served after 4.0.0 without anyone approving it through fmops
    unapproved = record("d-6", "6.0.0", at(6, 9), approved=False)

    # When 7.0.0 fails
    target = rollback_target([*STORY, unapproved], GROUP, Stage.PROD, f"{GROUP}/7.0.0")

    # Then the stage goes back to 4.0.0, the last approved one
    assert target == V4


def test_a_version_rolled_back_from_is_never_chosen_again() -> None:
    # Given 0.9.0, then 1.0.0, then 1.1.0 served, until a rollback took prod from 1.1.0 back to 1.0.0
    records = [
        record("a", "0.9.0", at(1, 1)),
        record("b", "1.0.0", at(1, 2)),
        record("c", "1.1.0", at(1, 3)),
        record("c-rollback", "1.0.0", at(1, 4), kind=DeploymentKind.ROLLBACK, replaced_version_id=f"{GROUP}/1.1.0"),
    ]

    # When 1.0.0 fails in its turn
    target = rollback_target(records, GROUP, Stage.PROD, f"{GROUP}/1.0.0")

    # Then 1.1.0, rolled back from, is not returned to: 0.9.0 is
    assert target is not None and target.version_id == f"{GROUP}/0.9.0"


def test_a_failed_rollback_changes_no_version_standing() -> None:
    # Given 1.0.0 and 2.0.0 served, and a rollback from 2.0.0 to 1.0.0 that failed (nothing changed)
    records = [
        record("a", "1.0.0", at(1, 1)),
        record("b", "2.0.0", at(1, 2)),
        record(
            "b-rollback",
            "1.0.0",
            at(1, 3),
            kind=DeploymentKind.ROLLBACK,
            outcome=DeploymentOutcome.FAILED,
            replaced_version_id=f"{GROUP}/2.0.0",
        ),
    ]

    # Then 2.0.0 still serves, a failing 3.0.0 goes back to it, and a failing 2.0.0 to 1.0.0
    serving = serving_at(records, GROUP, Stage.PROD, at(2, 0))
    assert serving is not None and serving.version_id == f"{GROUP}/2.0.0"
    target = rollback_target(records, GROUP, Stage.PROD, f"{GROUP}/3.0.0")
    assert target is not None and target.version_id == f"{GROUP}/2.0.0"
    target = rollback_target(records, GROUP, Stage.PROD, f"{GROUP}/2.0.0")
    assert target is not None and target.deployment_id == "a"


@pytest.mark.parametrize(
    "records",
    [
        pytest.param([], id="no-history"),
        pytest.param([V1], id="only-the-failing-version-served"),
        pytest.param([V3_FAILED], id="only-a-failed-deploy"),
        pytest.param([record("x", "0.1.0", at(1, 1), approved=False)], id="only-an-unapproved-version"),
    ],
)
def test_without_a_safe_version_there_is_no_rollback_target(records: list[DeploymentRecord]) -> None:
    assert rollback_target(records, GROUP, Stage.PROD, f"{GROUP}/1.0.0") is None


# ------------------------------------------------------------------------------ record validation


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        pytest.param({"version_id": "other/1.0.0"}, "is not in model group sentiment", id="version-of-another-group"),
        pytest.param({"finished_at": at(1, 8)}, "finished_at must not be before started_at", id="ends-before-start"),
        pytest.param(
            {"replaced_version_id": f"{GROUP}/1.0.0"},
            "cannot replace the version it deploys",
            id="replaces-itself",
        ),
        pytest.param(
            {"kind": DeploymentKind.ROLLBACK, "reason": "asked by the business"},
            "names the version it rolled back from",
            id="rollback-from-nothing",
        ),
        pytest.param(
            {
                "kind": DeploymentKind.ROLLBACK,
                "outcome": DeploymentOutcome.ROLLED_BACK,
                "replaced_version_id": f"{GROUP}/2.0.0",
                "reason": "?",
            },
            "a rollback either succeeded or failed",
            id="rollback-rolled-back",
        ),
        pytest.param(
            {"kind": DeploymentKind.ROLLBACK, "replaced_version_id": f"{GROUP}/2.0.0"},
            "a succeeded rollback records its reason",
            id="rollback-without-reason",
        ),
        pytest.param(
            {"outcome": DeploymentOutcome.FAILED, "reason": " "}, "a failed deploy records its reason", id="no-reason"
        ),
        pytest.param({"artifact_sha256": "ABC"}, "should match pattern", id="artifact-digest"),
        pytest.param({"finished_at": datetime(2026, 3, 1, 10)}, "timezone", id="naive-time"),
        pytest.param({"deployment_id": ""}, "at least 1 character", id="no-deployment-id"),
    ],
)
def test_an_inconsistent_record_is_refused(overrides: dict[str, Any], message: str) -> None:
    fields = {**V1.model_dump(), **overrides}

    with pytest.raises(ValidationError, match=message):
        DeploymentRecord(**fields)
