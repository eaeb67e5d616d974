"""The audit trail's tamper evidence end to end on the local cloud: real audit writer, real anchor writer,
`fmops audit verify` against the tables and the Object Lock bucket, then tampering done straight in DynamoDB.

Each tampering test works on its own model group, so the chains do not interfere.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from fmops.adapters.dynamodb import HEADS_PK, DynamoAuditLog, record_item, seq_sk, to_item
from fmops.errors import ConcurrentModification
from fmops.ledger import ChainHead, seal, verify_chain
from fmops.records import AuditRecord, SealedRecord
from fmops_cli.main import main
from fmops_local import LocalCloud

from tests.e2e.test_intake_flow import Flow
from tests.unit.builders import manifest_document

ROOT = Path(__file__).resolve().parents[2]
REGISTERED = json.loads((ROOT / "events" / "fmops_model_version_registered.json").read_text())
RETENTION_DAYS = 2557  # the template's default AnchorRetentionDays

pytestmark = pytest.mark.e2e


class AuditFlow(Flow):
    """The intake flow, plus the anchor writer, `fmops audit verify` and direct access to the audit table."""

    def __init__(self, cloud: LocalCloud) -> None:
        super().__init__(cloud)
        self.table = cloud.outputs["AuditTableName"]
        self.anchor_bucket = cloud.outputs["AnchorBucketName"]
        self.log = DynamoAuditLog(self.table, self.dynamodb)
        self.anchors_written = 0

    def submit(self, group: str) -> str:
        self.upload(manifest_document(group=group, version="1.0.0"))
        return group

    def anchor(self) -> dict[str, Any]:
        """Run the scheduled anchor writer now (the local cloud does not fire schedules)."""
        response = self.lambda_.invoke(FunctionName=self.cloud.ref("AnchorWriterFunction"), Payload=b"{}")
        payload: dict[str, Any] = json.loads(response["Payload"].read())
        assert "FunctionError" not in response, payload
        self.anchors_written += 1
        return payload

    def verify(self, capsys: pytest.CaptureFixture[str], group: str) -> tuple[int, dict[str, Any]]:
        capsys.readouterr()
        connection = ["--endpoint-url", self.cloud.endpoint_url, "--region", self.cloud.outputs["AwsRegion"]]
        resources = ["--audit-table", self.table, "--anchor-bucket", self.anchor_bucket]
        code = main(["audit", "verify", group, "--json", *connection, *resources])
        return code, json.loads(capsys.readouterr().out)

    def records(self, chain: str) -> list[SealedRecord]:
        return list(self.log.chain(chain))

    def put_record(self, record: SealedRecord, **overrides: str) -> None:
        item = record_item(record)
        item.update({key: {"S": value} for key, value in overrides.items()})
        self.dynamodb.put_item(TableName=self.table, Item=item)

    def delete_record(self, chain: str, seq: int) -> None:
        self.dynamodb.delete_item(TableName=self.table, Key=to_item({"pk": f"CHAIN#{chain}", "sk": seq_sk(seq)}))

    def set_head(self, head: ChainHead) -> None:
        item = to_item({"pk": HEADS_PK, "sk": head.chain, "seq": head.seq, "hash": head.hash})
        self.dynamodb.put_item(TableName=self.table, Item=item)


@pytest.fixture(scope="module")
def flow(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AuditFlow]:
    state_dir = tmp_path_factory.mktemp("local-cloud")
    with LocalCloud(project_root=ROOT, port=0, state_dir=state_dir, retry_delay_s=0.05) as cloud:
        yield AuditFlow(cloud)


@pytest.fixture(autouse=True)
def local_credentials(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    # The CLI connects with boto3's standard configuration: give it the local cloud's fake credentials.
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "fmops-local")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "fmops-local")
    for name in ("AWS_PROFILE", "AWS_ENDPOINT_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)


def anchored_group(flow: AuditFlow, capsys: pytest.CaptureFixture[str], group: str) -> list[SealedRecord]:
    """A submitted version's chain, anchored and verified intact: the starting point of every tampering test."""
    flow.submit(group)
    flow.anchor()
    code, report = flow.verify(capsys, group)
    assert code == 0 and report["ok"], report
    records = flow.records(group)
    assert len(records) >= 4, [r.detail_type for r in records]
    return records


def first_break(report: dict[str, Any]) -> dict[str, Any]:
    [chain] = report["chains"]
    assert chain["ok"] is False, chain
    found: dict[str, Any] = chain["first_break"]
    return found


# ------------------------------------------------------------------------------ intact, anchored


def test_a_submitted_version_is_anchored_write_once_and_verifies(
    flow: AuditFlow, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given a submitted version, when the anchor writer runs
    flow.submit("audit-intact")
    written = flow.anchor()

    # Then `fmops audit verify` finds the chain intact, checked against the anchor
    code, report = flow.verify(capsys, "audit-intact")
    assert code == 0 and report["ok"]
    [chain] = report["chains"]
    head = flow.log.head("audit-intact")
    assert head is not None
    assert (chain["records"], chain["last_seq"], chain["anchors_checked"]) == (head.seq, head.seq, 1)

    # And the anchor writer ran only when invoked: its schedule rule matches no event (S3, SageMaker) on the bus
    assert len(flow.cloud.invocations("AnchorWriterFunction")) == flow.anchors_written

    # And the anchor is in the bucket under COMPLIANCE retention for the configured days
    stored = flow.s3.head_object(Bucket=flow.anchor_bucket, Key=written["key"])
    assert stored["ObjectLockMode"] == "COMPLIANCE"
    expected_until = datetime.now(UTC) + timedelta(days=RETENTION_DAYS)
    assert abs(stored["ObjectLockRetainUntilDate"] - expected_until) < timedelta(minutes=5)
    assert written["key"].startswith("anchors/") and written["key"].endswith("Z.json")

    # And it cannot be deleted: moto enforces COMPLIANCE retention on the object version
    with pytest.raises(ClientError, match="AccessDenied"):
        flow.s3.delete_object(Bucket=flow.anchor_bucket, Key=written["key"], VersionId=stored["VersionId"])
    # (a delete without a version id only adds a delete marker; the locked version is still read back)
    flow.s3.delete_object(Bucket=flow.anchor_bucket, Key=written["key"])
    code, report = flow.verify(capsys, "audit-intact")
    assert code == 0 and report["chains"][0]["anchors_checked"] >= 1


# ------------------------------------------------------------------------------ tampering


def test_a_record_whose_actor_was_changed_is_named(flow: AuditFlow, capsys: pytest.CaptureFixture[str]) -> None:
    records = anchored_group(flow, capsys, "audit-modified")
    target = records[1]

    # When someone with write access changes who did it
    flow.dynamodb.update_item(
        TableName=flow.table,
        Key=to_item({"pk": "CHAIN#audit-modified", "sk": seq_sk(target.seq)}),
        UpdateExpression="SET actor = :mallory",
        ExpressionAttributeValues={":mallory": {"S": "mallory"}},
    )

    # Then verify fails and names that record
    code, report = flow.verify(capsys, "audit-modified")
    assert code == 1 and not report["ok"]
    broken = first_break(report)
    assert (broken["kind"], broken["seq"], broken["event_id"]) == ("modified", target.seq, target.event_id)


def test_a_deleted_record_is_named(flow: AuditFlow, capsys: pytest.CaptureFixture[str]) -> None:
    records = anchored_group(flow, capsys, "audit-deleted")

    flow.delete_record("audit-deleted", 2)

    code, report = flow.verify(capsys, "audit-deleted")
    assert code == 1
    broken = first_break(report)
    assert (broken["kind"], broken["seq"], broken["event_id"]) == ("missing", 3, records[2].event_id)


def test_a_deleted_last_record_is_caught_even_with_the_head_moved_back(
    flow: AuditFlow, capsys: pytest.CaptureFixture[str]
) -> None:
    records = anchored_group(flow, capsys, "audit-truncated")
    last = records[-1]

    # When the last record is deleted and the head rewound to the one before (the chain looks whole)
    flow.delete_record("audit-truncated", last.seq)
    flow.set_head(ChainHead(chain="audit-truncated", seq=records[-2].seq, hash=records[-2].hash))

    # Then the anchor, which saw the last record, says the chain went further
    code, report = flow.verify(capsys, "audit-truncated")
    assert code == 1
    broken = first_break(report)
    assert (broken["kind"], broken["seq"]) == ("truncated", last.seq)


def test_an_inserted_forged_record_is_caught(flow: AuditFlow, capsys: pytest.CaptureFixture[str]) -> None:
    records = anchored_group(flow, capsys, "audit-inserted")
    after = records[1]

    # When a forged approval, correctly sealed onto record 2, is slipped in between records 2 and 3
    forged = seal(
        AuditRecord(
            version_id="audit-inserted/1.0.0", event_id="audit-inserted/1.0.0#approved#forged",
            detail_type="Model Version Approved", source="fmops", occurred_at=after.occurred_at,
            recorded_at=after.recorded_at, actor="mallory", correlation_id="audit-inserted/1.0.0",
            envelope_id="forged", facts={"decision": "approved"},
        ),
        "audit-inserted",
        ChainHead(chain="audit-inserted", seq=after.seq, hash=after.hash),
    )  # fmt: skip
    flow.put_record(forged, sk=seq_sk(after.seq) + "~")

    # Then the real record 3 no longer fits after it, and verify says where
    code, report = flow.verify(capsys, "audit-inserted")
    assert code == 1
    broken = first_break(report)
    assert (broken["kind"], broken["seq"], broken["event_id"]) == ("out_of_place", 3, records[2].event_id)


def test_records_swapped_in_place_are_caught(flow: AuditFlow, capsys: pytest.CaptureFixture[str]) -> None:
    records = anchored_group(flow, capsys, "audit-reordered")
    second, third = records[1], records[2]

    # When two records trade places in the table (each item rewritten under the other's key)
    flow.put_record(third, sk=seq_sk(second.seq))
    flow.put_record(second, sk=seq_sk(third.seq))

    # Then the walk meets seq 3 where seq 2 belongs, and names it
    code, report = flow.verify(capsys, "audit-reordered")
    assert code == 1
    broken = first_break(report)
    assert (broken["kind"], broken["seq"], broken["event_id"]) == ("missing", third.seq, third.event_id)
    assert "moved elsewhere" in broken["detail"]


def test_a_chain_rewritten_consistently_is_caught_by_the_anchor(
    flow: AuditFlow, capsys: pytest.CaptureFixture[str]
) -> None:
    records = anchored_group(flow, capsys, "audit-rewritten")

    # When record 2's actor is changed and every record re-sealed onto the one before, the head updated too
    head: ChainHead | None = None
    for old in records:
        plain = AuditRecord.model_validate(old.model_dump(exclude={"chain", "seq", "prev_hash", "hash"}))
        if old.seq == 2:
            plain = plain.model_copy(update={"actor": "mallory"})
        rewritten = seal(plain, "audit-rewritten", head)
        flow.put_record(rewritten)
        head = ChainHead(chain="audit-rewritten", seq=rewritten.seq, hash=rewritten.hash)
    assert head is not None
    flow.set_head(head)
    # (alone, the rewritten chain is self-consistent)
    assert verify_chain("audit-rewritten", flow.records("audit-rewritten"), head).ok

    # Then the head the anchor recorded no longer matches
    code, report = flow.verify(capsys, "audit-rewritten")
    assert code == 1
    broken = first_break(report)
    assert (broken["kind"], broken["seq"]) == ("anchor_mismatch", records[-1].seq)


# ------------------------------------------------------------------------------ the writer's guarantees


def test_the_same_event_put_100_times_is_recorded_once(flow: AuditFlow, capsys: pytest.CaptureFixture[str]) -> None:
    # Given one "Model Version Registered" event, put 100 times on the fmops bus (10 puts of 10 entries)
    detail = dict(REGISTERED["detail"])
    detail.update(event_id="audit-dupes/1.0.0#registered", version_id="audit-dupes/1.0.0")
    detail.update(correlation_id="audit-dupes/1.0.0", model_group="audit-dupes")
    entry = {
        "Source": "fmops",
        "DetailType": "Model Version Registered",
        "Detail": json.dumps(detail),
        "EventBusName": flow.cloud.outputs["EventBusName"],
    }
    events = flow.cloud.session().client("events", endpoint_url=flow.cloud.endpoint_url)
    for _ in range(10):
        assert events.put_events(Entries=[entry] * 10)["FailedEntryCount"] == 0
    flow.cloud.wait_until_idle(timeout=120)

    # Then the chain holds it once, and verifies
    records = flow.records("audit-dupes")
    assert [(r.seq, r.event_id) for r in records] == [(1, "audit-dupes/1.0.0#registered")]
    flow.anchor()
    assert flow.verify(capsys, "audit-dupes")[0] == 0


def test_two_writers_appending_to_one_chain_at_once_leave_no_gap_and_no_fork(flow: AuditFlow) -> None:
    # Given two writers (as two audit writer instances would be), each with its own client
    chain, per_writer = "audit-race", 50
    start = threading.Barrier(2)
    errors: list[BaseException] = []

    def writer(name: str) -> None:
        client = flow.cloud.session().client("dynamodb", endpoint_url=flow.cloud.endpoint_url)
        log = DynamoAuditLog(flow.table, client)
        start.wait()
        try:
            for n in range(per_writer):
                at = datetime.now(UTC)
                record = AuditRecord(
                    version_id=f"{chain}/1.0.0", event_id=f"{chain}#{name}#{n}", detail_type="Race",
                    source="test", occurred_at=at, recorded_at=at, actor=name,
                    correlation_id=f"{chain}/1.0.0", envelope_id=f"{name}-{n}", facts={"n": n},
                )  # fmt: skip
                assert log.append(record, chain)
        except BaseException as error:  # surfaced below, with the thread's name
            errors.append(error)

    # When both append 50 events to the same chain at the same time
    threads = [threading.Thread(target=writer, args=(name,)) for name in ("left", "right")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not errors, errors

    # Then the chain runs 1..100 with every record linked to the one before, and the head is its last
    records = flow.records(chain)
    assert [r.seq for r in records] == list(range(1, 2 * per_writer + 1))
    assert len({r.event_id for r in records}) == 2 * per_writer
    assert verify_chain(chain, records, flow.log.head(chain)).ok


def test_the_writer_cannot_overwrite_an_existing_record(flow: AuditFlow, capsys: pytest.CaptureFixture[str]) -> None:
    # Given a chain, and a writer that believes the head is one record behind (so it seals onto an old link)
    records = anchored_group(flow, capsys, "audit-overwrite")
    stale = ChainHead(chain="audit-overwrite", seq=records[-2].seq, hash=records[-2].hash)

    class StaleHead(DynamoAuditLog):
        def head(self, chain: str) -> ChainHead | None:
            return stale

    at = datetime.now(UTC)
    intruder = AuditRecord(
        version_id="audit-overwrite/1.0.0", event_id="audit-overwrite/1.0.0#late", detail_type="Late",
        source="test", occurred_at=at, recorded_at=at, actor="mallory",
        correlation_id="audit-overwrite/1.0.0", envelope_id="late", facts={},
    )  # fmt: skip

    # When it appends through the writer's code path: its conditional put of seq N is refused every time
    with pytest.raises(ConcurrentModification):
        StaleHead(flow.table, flow.dynamodb).append(intruder, "audit-overwrite")

    # Then record N is the one that was there, and the chain still verifies
    assert flow.records("audit-overwrite") == records
    assert flow.verify(capsys, "audit-overwrite")[0] == 0
