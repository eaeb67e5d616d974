"""The approval store's contract, run against the in-memory fake and the DynamoDB adapter (moto),
so that unit tests on the fake stand for the adapter; and the KMS token vault."""

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3
import pytest

from fmops.adapters.approvals import DynamoApprovalStore, KmsTokenVault, TokenSealBroken
from fmops.approvals.directory import parse_directory
from fmops.approvals.engine import Accepted, Channel, Verdict, decide, open_stage
from fmops.approvals.links import LinkRecord, issue_link
from fmops.approvals.rules import parse_rules
from fmops.approvals.store import ApprovalStore, StoredApproval
from fmops.errors import ConcurrentModification
from fmops.gate.policy import Stage

from tests.integration.tables import create_table
from tests.unit.fakes import InMemoryApprovalStore

ROOT = Path(__file__).resolve().parents[2]
RULES = parse_rules((ROOT / "approvals" / "rules.json").read_bytes())
DIRECTORY = parse_directory((ROOT / "approvals" / "directory.json").read_bytes())
AT = datetime(2026, 11, 26, 12, tzinfo=UTC)
VERSION = "sentiment/1.0.0"
ROLLBACK = "rollback:sentiment--1.0.0--rollback-prod-20261127T0400"
TABLE = "approvals"


@pytest.fixture(params=["memory", "dynamodb"])
def store(request: pytest.FixtureRequest) -> ApprovalStore:
    if request.param == "memory":
        return InMemoryApprovalStore()
    request.getfixturevalue("mocked_aws")
    dynamodb = boto3.client("dynamodb")
    return DynamoApprovalStore(create_table(dynamodb, "ApprovalsTable", TABLE), dynamodb)


def approval(
    approval_id: str, stage: Stage = Stage.PROD, version_id: str = VERSION, occasion: str | None = None
) -> StoredApproval:
    state = open_stage(
        version_id=version_id,
        stage=stage,
        rules=RULES,
        directory=DIRECTORY,
        submitter="ana.ortiz",
        submitter_email="ana.ortiz@example.com",
        requested_at=AT,
    )
    return StoredApproval(
        approval_id=approval_id,
        state=state,
        sealed_task_token=b"\x00sealed\xff" + approval_id.encode(),
        execution_name=f"promote-{approval_id}",
        occasion=occasion,
    )


def approve(read: StoredApproval, approver_id: str, at: datetime = AT + timedelta(hours=1)) -> Accepted:
    outcome = decide(read.state, approver_id, Verdict.APPROVE, None, Channel.EMAIL, at, directory=DIRECTORY)
    assert isinstance(outcome, Accepted), outcome
    return outcome


def link_for(approval_id: str, approver_id: str, expires_at: datetime = AT + timedelta(days=5)) -> LinkRecord:
    return issue_link(approval_id=approval_id, approver_id=approver_id, issued_at=AT, expires_at=expires_at).record


# ------------------------------------------------------------------ contract (fake and adapter)


def test_a_stage_keeps_the_approval_opened_first(store: ApprovalStore) -> None:
    # Given an approval opened for the prod stage of a version
    first = store.open(approval("approval-first"))

    # When another approval is opened for the same version and stage
    second = store.open(approval("approval-second"))

    # Then the first one is returned and stands, and the second one was not stored
    assert first.revision == 1
    assert second == first
    assert store.get("approval-first") == first
    assert store.get("approval-second") is None
    assert store.for_stage(VERSION, Stage.PROD) == first
    assert store.for_stage(VERSION, Stage.DEV) is None


def test_an_occasion_gets_an_approval_of_its_own_beside_the_stages(store: ApprovalStore) -> None:
    # Given the version's own prod approval, decided and resumed
    own = store.open(approval("approval-own"))
    own = store.save(own.model_copy(update={"resumed_at": AT + timedelta(days=1)}), own)

    # When a rollback opens prod of the same version, twice, and another rollback once
    rollback = store.open(approval("approval-rollback", occasion=ROLLBACK))
    retried = store.open(approval("approval-rollback-again", occasion=ROLLBACK))
    other = store.open(approval("approval-other-rollback", occasion="rollback:sentiment--1.0.0--r2"))

    # Then each occasion has one approval, and the stage's own is still the one without occasion
    assert rollback.occasion == ROLLBACK and rollback.revision == 1
    assert retried == rollback and store.get("approval-rollback-again") is None
    assert other.approval_id == "approval-other-rollback"
    assert store.for_stage(VERSION, Stage.PROD) == own
    assert store.for_stage(VERSION, Stage.PROD, ROLLBACK) == rollback
    assert store.for_stage(VERSION, Stage.PROD, "rollback:sentiment--1.0.0--r2") == other
    assert store.for_stage(VERSION, Stage.PREPROD, ROLLBACK) is None
    assert store.for_stage(VERSION, Stage.PROD, "rollback:never") is None
    assert sorted(a.approval_id for a in store.unresumed()) == ["approval-other-rollback", "approval-rollback"]


def test_an_occasion_is_kept_through_saves(store: ApprovalStore) -> None:
    opened = store.open(approval("approval-occasion", occasion=ROLLBACK))

    saved = store.save(opened.model_copy(update={"slack_ts": "1700000000.000001"}), opened)
    recorded = store.record_decision(saved, approve(saved, "chen.wei"), None, AT + timedelta(hours=1))

    assert store.get("approval-occasion") == recorded
    assert recorded.occasion == ROLLBACK


def test_an_approval_reads_back_as_stored(store: ApprovalStore) -> None:
    opened = store.open(approval("approval-roundtrip"))
    decided = approve(opened, "chen.wei")
    with_everything = opened.model_copy(
        update={"state": decided.state, "slack_channel": "C0APPROVALS", "slack_ts": "1700000000.000001"}
    )

    saved = store.save(with_everything, opened)

    assert store.get("approval-roundtrip") == saved
    assert saved.sealed_task_token == b"\x00sealed\xffapproval-roundtrip"
    assert saved.revision == 2


def test_a_save_from_a_stale_read_is_refused(store: ApprovalStore) -> None:
    # Given an approval saved once since it was read
    opened = store.open(approval("approval-stale"))
    saved = store.save(opened.model_copy(update={"slack_ts": "1700000000.000001"}), opened)

    # When a writer that read the first revision saves
    with pytest.raises(ConcurrentModification):
        store.save(opened.model_copy(update={"slack_ts": "1700000000.000002"}), opened)

    # Then the first save stands
    assert store.get("approval-stale") == saved


def test_saving_an_approval_that_was_never_opened_is_refused(store: ApprovalStore) -> None:
    never_opened = approval("approval-never").model_copy(update={"revision": 1})

    with pytest.raises(ConcurrentModification):
        store.save(never_opened, never_opened)

    assert store.get("approval-never") is None


def test_a_decision_is_recorded_with_the_new_state(store: ApprovalStore) -> None:
    opened = store.open(approval("approval-decided"))
    accepted = approve(opened, "chen.wei")

    recorded = store.record_decision(opened, accepted, None, AT + timedelta(hours=1))

    assert recorded.state == accepted.state
    assert recorded.revision == opened.revision + 1
    assert store.get("approval-decided") == recorded


def test_an_approver_decides_once_even_from_a_fresh_read(store: ApprovalStore) -> None:
    # Given chen's decision recorded
    opened = store.open(approval("approval-twice"))
    accepted = approve(opened, "chen.wei")
    recorded = store.record_decision(opened, accepted, None, AT + timedelta(hours=1))

    # When the same decision is recorded again from the current revision (a racing second writer)
    with pytest.raises(ConcurrentModification):
        store.record_decision(recorded, accepted, None, AT + timedelta(hours=2))

    # Then nothing changed
    assert store.get("approval-twice") == recorded


def test_a_decision_from_a_stale_read_writes_nothing(store: ApprovalStore) -> None:
    # Given an approval that moved on after it was read, and chen's e-mail link
    opened = store.open(approval("approval-stale-decision"))
    moved_on = store.save(opened.model_copy(update={"slack_ts": "1700000000.000001"}), opened)
    link = link_for("approval-stale-decision", "chen.wei")
    store.put_link(link)
    accepted = approve(opened, "chen.wei")

    # When chen's decision is recorded against the stale read
    with pytest.raises(ConcurrentModification):
        store.record_decision(opened, accepted, link, AT + timedelta(hours=1))

    # Then neither the approval, nor the link, nor the decision was written:
    # the same decision and link are recorded fine from the current revision
    assert store.get("approval-stale-decision") == moved_on
    assert store.get_link(link.link_id) == link
    recorded = store.record_decision(moved_on, approve(moved_on, "chen.wei"), link, AT + timedelta(hours=1))
    assert recorded.revision == moved_on.revision + 1


def test_a_link_is_used_once(store: ApprovalStore) -> None:
    # Given chen's decision recorded with their link
    opened = store.open(approval("approval-link-once"))
    link = link_for("approval-link-once", "chen.wei")
    store.put_link(link)
    used_at = AT + timedelta(hours=1)
    recorded = store.record_decision(opened, approve(opened, "chen.wei"), link, used_at)
    assert store.get_link(link.link_id) == link.model_copy(update={"used_at": used_at})

    # When another decision comes with the same link
    with pytest.raises(ConcurrentModification):
        store.record_decision(recorded, approve(recorded, "dara.novak"), link, AT + timedelta(hours=2))

    # Then it was not recorded
    assert store.get("approval-link-once") == recorded


def test_a_link_is_expired_from_its_expiry_on(store: ApprovalStore) -> None:
    # Given a link that expires at a moment with microseconds
    expires_at = AT + timedelta(hours=1, microseconds=500_001)
    opened = store.open(approval("approval-link-expired"))
    link = link_for("approval-link-expired", "chen.wei", expires_at=expires_at)
    store.put_link(link)

    # When it is used exactly at its expiry, it is refused and stays unused
    with pytest.raises(ConcurrentModification):
        store.record_decision(opened, approve(opened, "chen.wei", expires_at), link, expires_at)
    assert store.get_link(link.link_id) == link

    # But one microsecond earlier it is accepted
    just_before = expires_at - timedelta(microseconds=1)
    recorded = store.record_decision(opened, approve(opened, "chen.wei", just_before), link, just_before)
    assert store.get("approval-link-expired") == recorded


def test_a_link_that_was_never_stored_is_refused(store: ApprovalStore) -> None:
    opened = store.open(approval("approval-link-unknown"))

    with pytest.raises(ConcurrentModification):
        store.record_decision(
            opened, approve(opened, "chen.wei"), link_for("approval-link-unknown", "chen.wei"), AT + timedelta(hours=1)
        )

    assert store.get("approval-link-unknown") == opened
    assert store.get_link("x" * 16) is None


def test_unresumed_lists_open_approvals_until_they_are_resumed(store: ApprovalStore) -> None:
    # Given two open approvals
    prod = store.open(approval("approval-prod", Stage.PROD))
    dev = store.open(approval("approval-dev", Stage.DEV))
    assert sorted(store.unresumed(), key=lambda a: a.approval_id) == [dev, prod]

    # When one's promotion is resumed
    store.save(prod.model_copy(update={"resumed_at": AT + timedelta(days=1)}), prod)

    # Then only the other is listed
    assert list(store.unresumed()) == [dev]


def test_a_slack_request_is_claimed_once(store: ApprovalStore) -> None:
    expires_at = AT + timedelta(minutes=5)

    assert store.claim_slack_request("slack-v0#1700000000#abc", expires_at) is True
    assert store.claim_slack_request("slack-v0#1700000000#abc", expires_at) is False
    assert store.claim_slack_request("slack-v0#1700000000#abd", expires_at) is True


def test_a_link_is_never_overwritten(store: ApprovalStore) -> None:
    link = link_for("approval-link-put", "chen.wei")
    store.put_link(link)

    with pytest.raises(ConcurrentModification):
        store.put_link(link.model_copy(update={"approver_id": "dara.novak"}))

    assert store.get_link(link.link_id) == link


# ------------------------------------------------------------------ the adapter's item layout


@pytest.fixture
def dynamodb(mocked_aws: None) -> Any:
    client = boto3.client("dynamodb")
    create_table(client, "ApprovalsTable", TABLE)
    return client


def item(dynamodb: Any, pk: str, sk: str) -> dict[str, Any] | None:
    found: dict[str, Any] | None = dynamodb.get_item(TableName=TABLE, Key={"pk": {"S": pk}, "sk": {"S": sk}}).get(
        "Item"
    )
    return found


def test_the_items_are_laid_out_as_documented(dynamodb: Any) -> None:
    # Given an approval decided by link and a claimed Slack request
    store = DynamoApprovalStore(TABLE, dynamodb)
    opened = store.open(approval("approval-layout"))
    link = link_for("approval-layout", "chen.wei")
    store.put_link(link)
    store.record_decision(opened, approve(opened, "chen.wei"), link, AT + timedelta(hours=1))
    store.claim_slack_request("slack-v0#1700000000#abc", AT + timedelta(minutes=5, microseconds=1))

    # Then the approval keeps its token as binary, outside the document, and is in the index
    stored = item(dynamodb, "APPROVAL#approval-layout", "APPROVAL")
    assert stored is not None
    assert stored["sealed_task_token"] == {"B": b"\x00sealed\xffapproval-layout"}
    assert "sealed_task_token" not in stored["document"]["S"] and "revision" not in stored["document"]["S"]
    assert (stored["revision"], stored["unresumed"]) == ({"N": "2"}, {"S": "open"})
    assert (stored["version_id"], stored["stage"]) == ({"S": VERSION}, {"S": "prod"})
    # the stage claim, the decision, the used link and the Slack key (TTL rounded up to the second)
    assert item(dynamodb, f"STAGE#{VERSION}#prod", "STAGE") is not None
    decision = item(dynamodb, "APPROVAL#approval-layout", "DECISION#chen.wei")
    assert decision is not None and '"approver_id":"chen.wei"' in decision["document"]["S"]
    used = item(dynamodb, f"LINK#{link.link_id}", "LINK")
    assert used is not None and used["used_at"] == {"S": "2026-11-26T13:00:00.000000Z"}
    slack = item(dynamodb, "SLACK#slack-v0#1700000000#abc", "SLACK")
    assert slack is not None and slack["expires_ttl"] == {"N": str(int((AT + timedelta(minutes=5)).timestamp()) + 1)}


def test_an_approval_without_occasion_keeps_the_layout_and_one_with_it_claims_its_own_key(dynamodb: Any) -> None:
    # Given the version's own prod approval and a rollback's
    store = DynamoApprovalStore(TABLE, dynamodb)
    store.open(approval("approval-own"))
    store.open(approval("approval-rollback", occasion=ROLLBACK))

    # Then the version's own is stored as before occasions: claim sk "STAGE", no occasion anywhere
    claim = item(dynamodb, f"STAGE#{VERSION}#prod", "STAGE")
    assert claim is not None and claim["approval_id"] == {"S": "approval-own"}
    own = item(dynamodb, "APPROVAL#approval-own", "APPROVAL")
    assert own is not None and "occasion" not in own and "occasion" not in own["document"]["S"]
    # And the rollback's claims the same stage under its occasion
    claim = item(dynamodb, f"STAGE#{VERSION}#prod", f"OCCASION#{ROLLBACK}")
    assert claim is not None and claim["approval_id"] == {"S": "approval-rollback"}
    rollback = item(dynamodb, "APPROVAL#approval-rollback", "APPROVAL")
    assert rollback is not None and rollback["occasion"] == {"S": ROLLBACK}
    assert f'"occasion":"{ROLLBACK}"' in rollback["document"]["S"]


def test_a_resumed_approval_leaves_the_index_and_loses_an_absent_token(dynamodb: Any) -> None:
    store = DynamoApprovalStore(TABLE, dynamodb)
    opened = store.open(approval("approval-resumed"))

    store.save(opened.model_copy(update={"resumed_at": AT, "sealed_task_token": None}), opened)

    stored = item(dynamodb, "APPROVAL#approval-resumed", "APPROVAL")
    assert stored is not None and "unresumed" not in stored and "sealed_task_token" not in stored
    resumed = store.get("approval-resumed")
    assert resumed is not None and resumed.sealed_task_token is None and resumed.resumed_at == AT


# ------------------------------------------------------------------ KMS token vault


@pytest.fixture
def vault(mocked_aws: None) -> KmsTokenVault:
    kms = boto3.client("kms")
    return KmsTokenVault(kms.create_key(Description="fmops test key")["KeyMetadata"]["KeyId"], kms)


TOKEN = "AQCEAAAAKgAAAAMAAAAAAAAAAUh0ZW4gdGFzayB0b2tlbg==" * 8


def test_a_sealed_token_unseals_for_its_approval(vault: KmsTokenVault) -> None:
    sealed = vault.seal(TOKEN, "approval-token")

    assert vault.unseal(sealed, "approval-token") == TOKEN
    assert TOKEN.encode() not in sealed and TOKEN[:16].encode() not in sealed


def test_a_sealed_token_does_not_unseal_for_another_approval(vault: KmsTokenVault) -> None:
    sealed = vault.seal(TOKEN, "approval-token")

    with pytest.raises(TokenSealBroken):
        vault.unseal(sealed, "approval-other")


def test_an_altered_sealed_token_does_not_unseal(vault: KmsTokenVault) -> None:
    sealed = bytearray(vault.seal(TOKEN, "approval-token"))
    sealed[-1] ^= 0x01

    with pytest.raises(TokenSealBroken):
        vault.unseal(bytes(sealed), "approval-token")
