"""The auditors' queries end to end on the local cloud: versions submitted through the real flow, then every
question asked of the real audit table through the adapter, `fmops audit query` and the audit API over HTTP.

What each question should return is worked out from the chains themselves (read from the table by key, not
through the indexes), and checked against the events the flow is known to record.
"""

from __future__ import annotations

import csv
import io
import itertools
import json
import urllib.error
import urllib.parse
import urllib.request
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from fmops.adapters.audit_queries import AuditQueries
from fmops.adapters.dynamodb import DynamoAuditLog
from fmops.audit_queries import Page, Period, record_document
from fmops.ledger import timestamp
from fmops.records import SealedRecord
from fmops_cli.main import main
from fmops_local import LocalCloud

from tests.e2e.test_evaluation_flow import Flow
from tests.unit.builders import manifest_document
from tests.unit.promotion.world import GOOD_ROWS

ROOT = Path(__file__).resolve().parents[2]
RICH = "audit-q-eval/1.0.0"  # evaluated by the built-in evaluator and gated: the version with the most records
OTHERS = ("audit-q-eval/1.1.0", "audit-q-intake/1.0.0", "audit-q-intake/2.0.0")

pytestmark = pytest.mark.e2e


class QueryFlow(Flow):
    def __init__(self, cloud: LocalCloud) -> None:
        super().__init__(cloud)
        self.table = cloud.outputs["AuditTableName"]
        self.queries = AuditQueries(self.table, self.dynamodb)
        self.api_url = cloud.outputs["AuditApiUrl"]

    def truth(self) -> list[SealedRecord]:
        """Every record of every chain, read by key from the table, in time order (the queries' own order)."""
        log = DynamoAuditLog(self.table, self.dynamodb)
        records = [record for head in log.heads() for record in log.chain(head.chain)]
        return sorted(records, key=lambda r: (timestamp(r.occurred_at), r.chain, r.seq))

    def cli(self, capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
        capsys.readouterr()
        connection = ["--endpoint-url", self.cloud.endpoint_url, "--region", self.cloud.outputs["AwsRegion"]]
        code = main(["audit", "query", *args, *connection, "--audit-table", self.table])
        captured = capsys.readouterr()
        return code, captured.out, captured.err

    def api(self, path: str, **params: str | int) -> tuple[int, dict[str, Any]]:
        query = f"?{urllib.parse.urlencode(params)}" if params else ""
        url = self.api_url + urllib.parse.quote(path) + query
        try:
            with urllib.request.urlopen(url, timeout=30) as response:
                return response.status, json.loads(response.read())
        except urllib.error.HTTPError as error:
            return error.code, json.loads(error.read())


@pytest.fixture(scope="module")
def flow(tmp_path_factory: pytest.TempPathFactory) -> Iterator[QueryFlow]:
    state_dir = tmp_path_factory.mktemp("local-cloud")
    with LocalCloud(project_root=ROOT, port=0, state_dir=state_dir, retry_delay_s=0.05) as cloud:
        flow = QueryFlow(cloud)
        # Given versions in two model groups: one evaluated and gated, three only through intake
        flow.submit("audit-q-eval", rows=GOOD_ROWS)
        for version_id in OTHERS:
            group, version = version_id.split("/")
            flow.upload(manifest_document(group=group, version=version))
        yield flow


@pytest.fixture(autouse=True)
def local_credentials(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "fmops-local")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "fmops-local")
    for name in ("AWS_PROFILE", "AWS_ENDPOINT_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)


Ask = Callable[[int, str | None], Page]


def questions(flow: QueryFlow) -> dict[str, tuple[Ask, list[SealedRecord]]]:
    """Each query pattern, with the records it must return (in time order)."""
    truth = flow.truth()
    actor, _ = Counter(r.actor for r in truth).most_common(1)[0]
    day = truth[0].occurred_at.date()
    start, end = truth[0].occurred_at, truth[-1].occurred_at
    middle = truth[len(truth) // 2].occurred_at
    late = Period(middle, end + timedelta(seconds=1))
    q = flow.queries
    return {
        "version": (lambda n, c: q.by_version(RICH, n, c), [r for r in truth if r.version_id == RICH]),
        "actor": (lambda n, c: q.by_actor(actor, None, n, c), [r for r in truth if r.actor == actor]),
        "actor in a period": (
            lambda n, c: q.by_actor(actor, late, n, c),
            [r for r in truth if r.actor == actor and r.occurred_at >= middle],
        ),
        "day": (lambda n, c: q.by_day(day, n, c), [r for r in truth if r.occurred_at.date() == day]),
        "type in a period": (
            lambda n, c: q.by_type("Artifact Uploaded", Period(start, end), n, c),
            [r for r in truth if r.detail_type == "Artifact Uploaded"],
        ),
        "type in a later period": (
            lambda n, c: q.by_type("Model Version Registered", late, n, c),
            [r for r in truth if r.detail_type == "Model Version Registered" and r.occurred_at >= middle],
        ),
    }


PATTERNS = ("version", "actor", "actor in a period", "day", "type in a period", "type in a later period")


def walk(ask: Ask, limit: int) -> list[Page]:
    pages = [ask(limit, None)]
    while pages[-1].cursor is not None:
        pages.append(ask(limit, pages[-1].cursor))
        assert len(pages) < 500
    return pages


# ------------------------------------------------------------------------------ the adapter


def test_the_flow_recorded_what_the_version_query_returns(flow: QueryFlow) -> None:
    # When a version's records are asked for
    page = flow.queries.by_version(RICH)

    # Then they are the events of its submission, evaluation and gate, in time order
    types = [r.detail_type for r in page.records]
    for expected in (
        "Artifact Uploaded",
        "Model Version Registered",
        "Model Package State Changed",
        "Model Version Promotion Started",
        "Model Version Evaluation Requested",
    ):
        assert expected in types, types
    assert types.count("Artifact Uploaded") == 4  # weights, config, the evaluation set, the manifest
    assert len(page.records) >= 10
    assert [timestamp(r.occurred_at) for r in page.records] == sorted(timestamp(r.occurred_at) for r in page.records)
    # And no other version's record is among them
    assert {r.version_id for r in page.records} == {RICH}


@pytest.mark.parametrize("pattern", PATTERNS)
def test_each_question_returns_exactly_its_records_in_time_order(flow: QueryFlow, pattern: str) -> None:
    ask, expected = questions(flow)[pattern]
    assert expected, "the flow should have recorded something for this question"

    page = ask(1000, None)

    assert [r.event_id for r in page.records] == [r.event_id for r in expected]
    assert page.records == expected  # every field, hashes included, as stored
    # read by key, no filter: DynamoDB scanned exactly the items it returned
    assert page.stats.scanned == page.stats.read
    if pattern != "day":
        assert page.stats.scanned == page.stats.returned == len(expected)
        assert page.stats.requests == 1
    else:
        assert page.stats.requests == 8  # one Query per shard of the day
    assert page.stats.read_capacity_units > 0


@pytest.mark.parametrize("limit", [1, 3])
@pytest.mark.parametrize("pattern", PATTERNS)
def test_paging_walks_every_record_once_and_a_cursor_gives_the_same_page_again(
    flow: QueryFlow, pattern: str, limit: int
) -> None:
    ask, expected = questions(flow)[pattern]

    # When the answer is walked a few records at a time
    pages = walk(ask, limit)

    # Then every record comes once, none is missing, in order, and no page is over the limit
    walked = [r.event_id for page in pages for r in page.records]
    assert walked == [r.event_id for r in expected]
    assert len(set(walked)) == len(walked)
    assert all(len(page.records) <= limit for page in pages)
    assert all(page.stats.scanned == page.stats.read for page in pages)
    # And a cursor, used again, gives the same page and the same next cursor
    for earlier, later in itertools.pairwise(pages):
        assert earlier.cursor is not None
        again = ask(limit, earlier.cursor)
        assert (again.records, again.cursor) == (later.records, later.cursor)


# ------------------------------------------------------------------------------ the CLI


def test_the_cli_prints_a_table_with_the_cursor_and_statistics_on_stderr(
    flow: QueryFlow, capsys: pytest.CaptureFixture[str]
) -> None:
    expected = flow.queries.by_version(RICH).records

    code, out, err = flow.cli(capsys, "--version", RICH, "--limit", "4")

    assert code == 0
    header, *rows = out.splitlines()
    assert header.split() == ["time", "group/seq", "detail-type", "actor", "version", "event", "id"]
    assert len(rows) == 4
    for row, record in zip(rows, expected, strict=False):
        assert row.startswith(timestamp(record.occurred_at)) and f"{record.chain}/{record.seq}" in row
        assert record.event_id in row
    # the next cursor and the statistics go to stderr, so stdout stays the data
    cursor = next(line for line in err.splitlines() if line.startswith("next page: --cursor ")).split()[-1]
    assert "4 record(s) returned, 4 item(s) scanned" in err and "read capacity unit" in err
    code, out, _ = flow.cli(capsys, "--version", RICH, "--limit", "4", "--cursor", cursor)
    assert code == 0 and expected[4].event_id in out.splitlines()[1]


def test_the_cli_prints_json_with_hashes_cursor_and_statistics(
    flow: QueryFlow, capsys: pytest.CaptureFixture[str]
) -> None:
    actor = flow.queries.by_version(RICH).records[0].actor
    expected = flow.queries.by_actor(actor, None, 1000).records

    code, out, _ = flow.cli(capsys, "--actor", actor, "--format", "json", "--limit", "1000")

    assert code == 0
    document = json.loads(out)
    assert document["records"] == [record_document(r) for r in expected]
    assert all(len(r["hash"]) == 64 and len(r["prev_hash"]) == 64 for r in document["records"])
    assert document["cursor"] is None
    assert document["statistics"]["items_returned"] == document["statistics"]["items_scanned"] == len(expected)


def test_the_cli_writes_csv_with_every_field_of_every_record(
    flow: QueryFlow, capsys: pytest.CaptureFixture[str]
) -> None:
    truth = flow.truth()
    day = truth[0].occurred_at.date()
    expected = [r for r in truth if r.occurred_at.date() == day]

    code, out, err = flow.cli(capsys, "--day", day.isoformat(), "--format", "csv")

    assert code == 0 and "item(s) scanned" in err
    rows = list(csv.DictReader(io.StringIO(out)))
    assert [row["hash"] for row in rows] == [r.hash for r in expected]
    first = rows[0]
    assert set(first) >= {"chain", "seq", "prev_hash", "hash", "event_id", "occurred_at", "actor", "facts"}
    assert json.loads(first["facts"]) == expected[0].facts
    assert first["occurred_at"] == timestamp(expected[0].occurred_at)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--type", "Artifact Uploaded"], "--type needs a period"),
        (["--day", "26/11/2026"], "YYYY-MM-DD"),
        (["--actor", "ana", "--from", "2026-12-01", "--to", "2026-11-01"], "is after to"),
        (["--version", RICH, "--limit", "0"], "from 1 to 1000"),
        (["--version", RICH, "--cursor", "garbage!"], "cursor"),
        (["--version", "no-slash"], "not a version id"),
    ],
)
def test_the_cli_refuses_bad_input_with_a_clear_message(
    flow: QueryFlow, capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    code, _, err = flow.cli(capsys, *args)
    assert code == 2 and message in err


# ------------------------------------------------------------------------------ the API


def test_the_api_answers_the_same_questions_over_http(flow: QueryFlow) -> None:
    truth = flow.truth()
    actor = flow.queries.by_version(RICH).records[0].actor
    day = truth[0].occurred_at.date().isoformat()
    start, end = timestamp(truth[0].occurred_at), timestamp(truth[-1].occurred_at)
    group, version = RICH.split("/")
    cases = {
        f"/audit/versions/{group}/{version}": ({}, flow.queries.by_version(RICH, 1000)),
        f"/audit/actors/{actor}": ({}, flow.queries.by_actor(actor, None, 1000)),
        f"/audit/days/{day}": ({}, flow.queries.by_day(truth[0].occurred_at.date(), 1000)),
        "/audit/types/Model Version Registered": (
            {"from": start, "to": end},
            flow.queries.by_type("Model Version Registered", Period(truth[0].occurred_at, truth[-1].occurred_at), 1000),
        ),
    }
    for path, (params, page) in cases.items():
        status, document = flow.api(path, limit=1000, **params)
        assert status == 200, (path, document)
        assert document["records"] == [record_document(r) for r in page.records], path
        assert document["cursor"] is None
        assert document["statistics"]["items_scanned"] == document["statistics"]["items_read"]


def test_the_api_pages_with_the_same_cursors(flow: QueryFlow) -> None:
    group, version = RICH.split("/")
    path = f"/audit/versions/{group}/{version}"
    expected = [record_document(r) for r in flow.queries.by_version(RICH, 1000).records]
    walked, cursor = [], None
    while True:
        status, document = flow.api(path, limit=3, **({"cursor": cursor} if cursor else {}))
        assert status == 200
        walked += document["records"]
        if cursor:
            assert flow.api(path, limit=3, cursor=cursor)[1] == document  # the same cursor, the same page
        cursor = document["cursor"]
        if cursor is None:
            break
    assert walked == expected


@pytest.mark.parametrize(
    ("path", "params", "message"),
    [
        ("/audit/days/2026-02-30", {}, "YYYY-MM-DD"),
        ("/audit/types/Artifact Uploaded", {"from": "2026-11-01"}, "both from and to"),
        ("/audit/actors/ana.silva", {"from": "2026-11-30", "to": "2026-11-01"}, "is after to"),
        ("/audit/actors/ana.silva", {"limit": "many"}, "limit must be"),
        ("/audit/actors/ana.silva", {"limit": "5000"}, "from 1 to 1000"),
        ("/audit/actors/ana.silva", {"cursor": "not-a-cursor"}, "cursor"),
    ],
)
def test_the_api_answers_400_with_a_clear_message_on_bad_input(
    flow: QueryFlow, path: str, params: dict[str, str], message: str
) -> None:
    status, document = flow.api(path, **params)
    assert status == 400 and message in document["message"], document
