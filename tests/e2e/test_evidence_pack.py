"""The evidence pack end to end on the local cloud: a version goes through intake, the built-in evaluator and
its gate, then `fmops audit export` writes its pack, found as a user finds it (the local cloud's outputs.json);
the JSON must check out against the ledger and the HTML must read right in a real browser (headless chromium)."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from fmops_cli.main import main
from fmops_local import LocalCloud

from tests.e2e.test_evaluation_flow import Flow
from tests.unit.promotion.world import GOOD_ROWS

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = Path("/usr/bin/chromium")  # Debian's; CI installs it (never `playwright install`)
SCREENSHOT = ROOT / "test-output" / "evidence-pack.png"

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder the CLI runs in: the local cloud writes its .fmops/local/outputs.json there."""
    return tmp_path_factory.mktemp("project")


@pytest.fixture(scope="module")
def flow(project: Path) -> Iterator[Flow]:
    # Long enough for the built-in evaluator on a slow machine: this test is about what is recorded.
    overrides = {"EvaluationTimeoutSeconds": "60"}
    with LocalCloud(
        project_root=ROOT,
        port=0,
        state_dir=project / ".fmops" / "local",
        retry_delay_s=0.05,
        parameter_overrides=overrides,
    ) as cloud:
        yield Flow(cloud)


@pytest.fixture(scope="module")
def exported(flow: Flow, project: Path) -> dict[str, Any]:
    """A version that passed its gate, exported with `fmops audit export` from the project folder."""
    version_id = flow.submit("evidence-pack", rows=GOOD_ROWS)
    assert flow.record(version_id)["status"] == "PendingApproval"
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(project)
        code = main(["audit", "export", version_id])
    assert code == 0
    folder = project / "evidence"
    return {
        "version_id": version_id,
        "json": folder / "evidence-pack_1.0.0.evidence.json",
        "html": folder / "evidence-pack_1.0.0.evidence.html",
    }


def test_the_json_holds_the_metrics_the_decision_and_records_whose_hashes_recompute(
    flow: Flow, exported: dict[str, Any]
) -> None:
    from fmops.ledger import record_hash
    from fmops.records import SealedRecord

    # Given the exported pack of a version that passed its gate
    pack = json.loads(exported["json"].read_text(encoding="utf-8"))
    record = flow.record(exported["version_id"])

    # Then it holds the catalog's evaluation and decision, the evidence document and the verdict
    assert pack["verdict"] == (
        "evidence-pack/1.0.0 — PendingApproval — gate PASSED under policy * 2026.11.1 — "
        f"audit chain intact ({pack['chain']['records']} records)"
    )
    assert pack["evaluation"]["metrics"] == record["evaluation"]["metrics"]
    assert {metric["name"] for metric in pack["evaluation"]["metrics"]} >= {"token_f1", "toxicity_rate"}
    assert pack["evaluation"]["evidence"]["dataset"]["path"] == "eval/golden.jsonl"
    assert pack["gate"]["rules"] == record["gate"]["decision"]["rules"]
    assert pack["gate"]["policy_sha256"] == record["gate"]["decision"]["policy_sha256"]
    assert pack["version"]["model_package_arn"] == record["model_package_arn"]
    # the version waits for its approvers: the request is on the record, no decision yet
    assert [a["detail_type"] for a in pack["approvals"]] == ["Approval Requested"] and pack["deployments"] == []
    # and every audit record of the version, each recomputing to its hash
    detail_types = {entry["detail_type"] for entry in pack["audit_records"]}
    assert {"Model Version Registered", "Model Version Gate Decided", "Artifact Uploaded"} <= detail_types
    for entry in pack["audit_records"]:
        sealed = SealedRecord.model_validate(entry)
        assert record_hash(sealed, sealed.chain, sealed.seq, sealed.prev_hash) == entry["hash"], entry["seq"]
        # and by docs/audit.md's recipe, which needs nothing from fmops
        content = json.dumps(
            {key: value for key, value in entry.items() if key != "hash"},
            sort_keys=True,
            separators=(",", ":"),
            ensure_ascii=False,
        )
        assert hashlib.sha256(content.encode("utf-8")).hexdigest() == entry["hash"], entry["seq"]
    assert pack["chain"]["ok"] is True and pack["chain"]["first_break"] is None


def test_the_html_shows_the_verdict_and_the_decision_table_in_a_browser(exported: dict[str, Any]) -> None:
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: install Debian's chromium (apt-get install chromium) to run this test")
    from playwright.sync_api import expect, sync_playwright

    pack = json.loads(exported["json"].read_text(encoding="utf-8"))
    SCREENSHOT.parent.mkdir(exist_ok=True)

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            requests: list[str] = []
            page.on("request", lambda request: requests.append(request.url))
            page.goto(exported["html"].resolve().as_uri())

            expect(page.locator("#verdict")).to_be_visible()
            expect(page.locator("#verdict")).to_have_text(pack["verdict"])
            table = page.get_by_role("table", name="decision table")
            expect(table).to_be_visible()
            expect(table.locator("tbody tr")).to_have_count(len(pack["gate"]["rules"]))
            expect(table.locator("tbody tr.fail")).to_have_count(0)
            expect(page.get_by_role("table", name="audit records").locator("tbody tr")).to_have_count(
                len(pack["audit_records"])
            )
            expect(page.locator("#approvals")).to_contain_text("Approval Requested")
            page.screenshot(path=str(SCREENSHOT), full_page=True)
        finally:
            browser.close()

    assert requests == [exported["html"].resolve().as_uri()]  # self-contained: nothing else was fetched
    assert SCREENSHOT.stat().st_size > 0
