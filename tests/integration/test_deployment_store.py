"""The deployment store's contract, run against the in-memory fake and the DynamoDB adapter (moto),
so that unit tests on the fake stand for the adapter."""

import hashlib
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import boto3
import pytest

from fmops.adapters.deployments import DynamoDeploymentStore
from fmops.deployment.history import ConflictingDeploymentRecords, DeploymentKind, DeploymentOutcome, DeploymentRecord
from fmops.deployment.store import DeploymentStore
from fmops.gate.policy import Stage

from tests.integration.tables import create_table
from tests.unit.fakes import InMemoryDeploymentStore

AT = datetime(2026, 3, 4, 12, tzinfo=UTC)
GROUP = "sentiment"
VERSION = f"{GROUP}/4.0.0"
LEASE = timedelta(minutes=30)
TABLE = "deployments"


@pytest.fixture(params=["memory", "dynamodb"])
def store(request: pytest.FixtureRequest) -> DeploymentStore:
    if request.param == "memory":
        return InMemoryDeploymentStore()
    request.getfixturevalue("mocked_aws")
    dynamodb = boto3.client("dynamodb")
    return DynamoDeploymentStore(create_table(dynamodb, "DeploymentsTable", TABLE), dynamodb)


def deployment(
    deployment_id: str,
    version: str = "4.0.0",
    *,
    group: str = GROUP,
    stage: Stage = Stage.PROD,
    finished_at: datetime = AT + timedelta(minutes=20),
    **overrides: Any,
) -> DeploymentRecord:
    fields: dict[str, Any] = {
        "deployment_id": deployment_id,
        "kind": DeploymentKind.DEPLOY,
        "version_id": f"{group}/{version}",
        "model_group": group,
        "stage": stage,
        "outcome": DeploymentOutcome.SUCCEEDED,
        "started_at": finished_at - timedelta(minutes=20),
        "finished_at": finished_at,
        "approved_by": ["ana.ortiz", "ben.okafor"],
        "approval_id": f"approval-{version}-{stage.value}",
        "evidence_uri": f"s3://fmops-evidence/{group}/{version}/gate.json",
        "artifact_sha256": hashlib.sha256(version.encode()).hexdigest(),
        "endpoint_config_name": f"fmops-{group}-{stage.value}-{version.replace('.', '-')}",
    }
    fields.update(overrides)
    return DeploymentRecord(**fields)


# ------------------------------------------------------------------ contract (fake and adapter)


def test_a_version_is_claimed_by_its_first_deployment(store: DeploymentStore) -> None:
    # Given a version claimed by a deployment
    assert store.claim_version(VERSION, "deploy-first", AT) == "deploy-first"

    # When another deployment (a duplicate approval event) claims it
    claimed = store.claim_version(VERSION, "deploy-second", AT + timedelta(seconds=1))

    # Then the first deployment keeps it, and other versions are claimed on their own
    assert claimed == "deploy-first"
    assert store.claim_version(f"{GROUP}/5.0.0", "deploy-second", AT) == "deploy-second"


def test_a_deployment_is_recorded_once(store: DeploymentStore) -> None:
    # Given a recorded deployment
    first = deployment("deploy-once")
    assert store.record(first) is True

    # When the same record is stored again (a retried step)
    again = store.record(deployment("deploy-once"))

    # Then nothing more is stored
    assert again is False
    assert store.history(GROUP, Stage.PROD) == [first]


def test_a_different_record_under_a_recorded_id_is_refused(store: DeploymentStore) -> None:
    # Given a recorded deployment
    first = deployment("deploy-conflict")
    store.record(first)

    # When a different record comes with the same deployment id, even with another finished_at
    failed = deployment(
        "deploy-conflict",
        outcome=DeploymentOutcome.FAILED,
        reason="the deploy role could not be assumed",
        finished_at=AT + timedelta(minutes=5),
    )
    with pytest.raises(ConflictingDeploymentRecords):
        store.record(failed)

    # Then the first record stands alone
    assert store.history(GROUP, Stage.PROD) == [first]


def test_history_lists_the_records_of_one_group_in_one_stage(store: DeploymentStore) -> None:
    # Given records in two stages of the group, and in another group
    prod = [
        deployment("deploy-prod-1", "1.0.0", finished_at=AT - timedelta(days=3)),
        deployment(
            "deploy-prod-4",
            "4.0.0",
            finished_at=datetime(2026, 3, 4, 14, 20, 0, 1, tzinfo=timezone(timedelta(hours=2))),
        ),
    ]
    dev = deployment("deploy-dev-4", "4.0.0", stage=Stage.DEV)
    other_group = deployment("deploy-other", "4.0.0", group=f"{GROUP}-v2")
    for record in (*prod, dev, other_group):
        store.record(record)

    # Then each group and stage lists only its own
    assert sorted(store.history(GROUP, Stage.PROD), key=lambda r: r.deployment_id) == prod
    assert store.history(GROUP, Stage.DEV) == [dev]
    assert store.history(f"{GROUP}-v2", Stage.PROD) == [other_group]
    assert store.history(GROUP, Stage.PREPROD) == []


def test_a_free_stage_is_locked_by_the_first_holder(store: DeploymentStore) -> None:
    # Given no lock on the stage
    assert store.holder(GROUP, Stage.PROD) is None

    # When a deployment acquires it
    lock = store.acquire(GROUP, Stage.PROD, "deploy-a", VERSION, AT, LEASE)

    # Then it holds the stage until its lease ends
    assert lock is not None
    assert (lock.holder, lock.version_id, lock.acquired_at, lock.expires_at) == ("deploy-a", VERSION, AT, AT + LEASE)
    assert store.holder(GROUP, Stage.PROD) == lock
    assert store.holder(GROUP, Stage.DEV) is None


def test_another_holder_waits_while_the_lease_runs(store: DeploymentStore) -> None:
    # Given the stage locked by deployment a
    lock = store.acquire(GROUP, Stage.PROD, "deploy-a", VERSION, AT, LEASE)

    # When deployment b tries, up to the last microsecond of a's lease
    refused = [
        store.acquire(GROUP, Stage.PROD, "deploy-b", f"{GROUP}/5.0.0", at, LEASE)
        for at in (AT, AT + timedelta(minutes=10), AT + LEASE - timedelta(microseconds=1))
    ]

    # Then it is refused each time and a keeps the stage; another stage is free
    assert refused == [None, None, None]
    assert store.holder(GROUP, Stage.PROD) == lock
    assert store.acquire(GROUP, Stage.DEV, "deploy-b", f"{GROUP}/5.0.0", AT, LEASE) is not None


def test_the_holder_renews_its_lease(store: DeploymentStore) -> None:
    # Given the stage locked by deployment a
    store.acquire(GROUP, Stage.PROD, "deploy-a", VERSION, AT, LEASE)

    # When a acquires it again before its lease ends
    renewed_at = AT + timedelta(minutes=20)
    renewed = store.acquire(GROUP, Stage.PROD, "deploy-a", VERSION, renewed_at, LEASE)

    # Then its lease runs from the renewal, and b is still refused after the first lease's end
    assert renewed is not None and renewed.expires_at == renewed_at + LEASE
    assert store.holder(GROUP, Stage.PROD) == renewed
    assert store.acquire(GROUP, Stage.PROD, "deploy-b", f"{GROUP}/5.0.0", AT + LEASE, LEASE) is None


def test_an_expired_lock_is_taken_over(store: DeploymentStore) -> None:
    # Given the stage locked by deployment a, whose lease ends at a moment with microseconds
    lease = timedelta(minutes=30, microseconds=500_001)
    store.acquire(GROUP, Stage.PROD, "deploy-a", VERSION, AT, lease)

    # When deployment b acquires it exactly when a's lease ends
    taken = store.acquire(GROUP, Stage.PROD, "deploy-b", f"{GROUP}/5.0.0", AT + lease, LEASE)

    # Then b holds the stage
    assert taken is not None and taken.holder == "deploy-b"
    assert store.holder(GROUP, Stage.PROD) == taken


def test_a_release_after_a_takeover_leaves_the_new_lock(store: DeploymentStore) -> None:
    # Given a's lock taken over by b after a's lease ran out
    old = store.acquire(GROUP, Stage.PROD, "deploy-a", VERSION, AT, LEASE)
    assert old is not None
    new = store.acquire(GROUP, Stage.PROD, "deploy-b", f"{GROUP}/5.0.0", AT + LEASE, LEASE)

    # When a, late, releases its lock
    store.release(old)

    # Then b still holds the stage
    assert new is not None
    assert store.holder(GROUP, Stage.PROD) == new


def test_a_release_by_the_holder_frees_the_stage(store: DeploymentStore) -> None:
    # Given the stage locked by deployment a
    lock = store.acquire(GROUP, Stage.PROD, "deploy-a", VERSION, AT, LEASE)
    assert lock is not None

    # When a releases it (twice: a retried step)
    store.release(lock)
    store.release(lock)

    # Then the stage is free for b at once
    assert store.holder(GROUP, Stage.PROD) is None
    assert store.acquire(GROUP, Stage.PROD, "deploy-b", f"{GROUP}/5.0.0", AT + timedelta(minutes=1), LEASE) is not None


def test_a_lease_must_be_positive(store: DeploymentStore) -> None:
    with pytest.raises(ValueError, match="lease"):
        store.acquire(GROUP, Stage.PROD, "deploy-a", VERSION, AT, timedelta(0))

    assert store.holder(GROUP, Stage.PROD) is None


# ------------------------------------------------------------------ the adapter's item layout


@pytest.fixture
def dynamodb(mocked_aws: None) -> Any:
    client = boto3.client("dynamodb")
    create_table(client, "DeploymentsTable", TABLE)
    return client


def item(dynamodb: Any, pk: str, sk: str) -> dict[str, Any] | None:
    found: dict[str, Any] | None = dynamodb.get_item(TableName=TABLE, Key={"pk": {"S": pk}, "sk": {"S": sk}}).get(
        "Item"
    )
    return found


def test_the_items_are_laid_out_as_documented(dynamodb: Any) -> None:
    # Given a record finished at a non-UTC time, a claim and a lock whose lease ends with microseconds
    store = DynamoDeploymentStore(TABLE, dynamodb)
    finished_at = datetime(2026, 3, 4, 14, 20, 0, 1, tzinfo=timezone(timedelta(hours=2)))
    record = deployment("deploy-layout", finished_at=finished_at)
    store.record(record)
    store.claim_version(VERSION, "deploy-layout", AT)
    store.acquire(GROUP, Stage.PROD, "deploy-layout", VERSION, AT, timedelta(minutes=30, microseconds=1))

    # Then the record is listed under its stage, sorted by its UTC finish, and kept once by id
    history = item(dynamodb, f"HISTORY#{GROUP}#prod", "2026-03-04T12:20:00.000001Z#deploy-layout")
    assert history is not None
    assert history["deployment_id"] == {"S": "deploy-layout"}
    assert DeploymentRecord.model_validate_json(history["document"]["S"]) == record
    unique = item(dynamodb, "DEPLOYMENT#deploy-layout", "RECORD")
    assert unique is not None and unique["document"] == history["document"]
    # the version's claim and the stage's lock, its lease in exact decimal seconds
    claim = item(dynamodb, f"CLAIM#{VERSION}", "CLAIM")
    assert claim is not None
    assert (claim["deployment_id"], claim["claimed_at"]) == (
        {"S": "deploy-layout"},
        {"S": "2026-03-04T12:00:00.000000Z"},
    )
    lock = item(dynamodb, f"LOCK#{GROUP}#prod", "LOCK")
    assert lock is not None
    assert (lock["holder"], lock["version_id"]) == ({"S": "deploy-layout"}, {"S": VERSION})
    assert lock["acquired_at"] == {"S": "2026-03-04T12:00:00.000000Z"}
    assert lock["expires_epoch"] == {"N": f"{int((AT + timedelta(minutes=30)).timestamp())}.000001"}
