"""The approval page in a real browser (Debian's headless chromium, driven by Playwright) on the local cloud:
an approver opens the link e-mailed to her, reads the evidence, approves and sees the confirmation; the used
link and a tampered one get their notices. Screenshots are kept under test-output/approvals/."""

from __future__ import annotations

import urllib.parse
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from playwright.sync_api import Browser, BrowserContext, ConsoleMessage, Page, Request, expect, sync_playwright

from fmops_local import LocalCloud
from fmops_local.approvers import LocalApprover

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "sentiment-classifier"
CHROMIUM = Path("/usr/bin/chromium")  # Debian's; CI installs it (never `playwright install`)
SCREENSHOTS = ROOT / "test-output" / "approvals"
ANA = "ana.ortiz@example.com"
SUBMITTER = "demo.user"

pytestmark = pytest.mark.e2e


@dataclass(frozen=True)
class Pending:
    """The example version waiting for approval, and the link e-mailed to Ana about it."""

    version_id: str
    intended_use: str
    rule_results: dict[str, str]  # rule id -> pass, fail or skip, as the gate recorded it
    link: str

    @property
    def origin(self) -> str:
        return "{0.scheme}://{0.netloc}".format(urllib.parse.urlsplit(self.link))


@dataclass
class Watched:
    """A browser tab, with every request it made and every console or page error it saw."""

    page: Page
    requests: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def foreign_requests(self, origin: str) -> list[str]:
        return [url for url in self.requests if not url.startswith(origin + "/")]


@pytest.fixture(scope="module")
def cloud(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalCloud]:
    state_dir = tmp_path_factory.mktemp("local-cloud")
    with LocalCloud(project_root=ROOT, port=0, state_dir=state_dir, retry_delay_s=0.05) as cloud:
        yield cloud


@pytest.fixture(scope="module")
def pending(cloud: LocalCloud) -> Pending:
    """The gate policies and approval config published, the example submitted by demo.user, the gate passed."""
    from fmops.adapters.dynamodb import DynamoCatalog
    from fmops_cli.config import Connection
    from fmops_cli.policies import S3PolicyBucket, publish, read_policy_files
    from fmops_cli.submit import plan_submission, submit

    outputs = cloud.outputs
    connection = Connection(cloud.session(), cloud.endpoint_url, local=True)
    s3 = connection.client("s3")
    policies = read_policy_files(sorted((ROOT / "policies").glob("*.json")))
    publish(policies, S3PolicyBucket(outputs["PolicyBucketName"], s3))
    for name in ("rules.json", "directory.json"):
        body = (ROOT / "approvals" / name).read_bytes()
        s3.put_object(Bucket=outputs["PolicyBucketName"], Key=f"approvals/{name}", Body=body)

    catalog = DynamoCatalog(outputs["CatalogTableName"], dynamodb=connection.client("dynamodb"))
    plan = plan_submission(
        EXAMPLE, version="1.0.0-browser", submitter_id=SUBMITTER, submitter_email=f"{SUBMITTER}@example.com"
    )
    submit(plan, s3, outputs["ArtifactBucketName"], catalog)
    cloud.wait_until_idle(timeout=60)

    record = catalog.get(plan.version_id)
    assert record is not None and record.status == "PendingApproval" and record.gate is not None, record
    results = {
        rule.rule_id: "skip" if rule.skipped else ("pass" if rule.passed else "fail")
        for rule in record.gate.decision.rules
    }
    link = LocalApprover(cloud).email_link(ANA, plan.version_id)
    return Pending(plan.version_id, plan.manifest.manifest.intended_use, results, link)


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    # Fail, never skip: a browser test that silently does not run proves nothing (CI installs chromium).
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: install Debian's chromium (apt-get install chromium) to run this test")

    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True)
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture
def context(browser: Browser) -> Iterator[BrowserContext]:
    """A fresh browser profile per test: no cookies, cache or history shared between tests."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    context.set_default_timeout(10_000)
    try:
        yield context
    finally:
        context.close()


def watched(context: BrowserContext) -> Watched:
    tab = Watched(context.new_page())

    def on_console(message: ConsoleMessage) -> None:
        if message.type == "error":
            tab.errors.append(f"console: {message.text} @ {message.location.get('url')}")

    def on_request(request: Request) -> None:
        tab.requests.append(request.url)

    tab.page.on("console", on_console)
    tab.page.on("pageerror", lambda error: tab.errors.append(f"page: {error}"))
    tab.page.on("request", on_request)
    return tab


def status_report(status: int, reason: str, url: str) -> str:
    """What chromium logs, as a console error, when a document it loads answers with a 4xx or 5xx status."""
    return f"console: Failed to load resource: the server responded with a status of {status} ({reason}) @ {url}"


def tampered(link: str) -> str:
    """The link with one character of its token changed (in the middle: every bit there is significant)."""
    parts = urllib.parse.urlsplit(link)
    query = dict(urllib.parse.parse_qsl(parts.query, strict_parsing=True))
    token = query["token"]
    middle = len(token) // 2
    query["token"] = token[:middle] + ("A" if token[middle] != "A" else "B") + token[middle + 1 :]
    return urllib.parse.urlunsplit(parts._replace(query=urllib.parse.urlencode(query)))


def test_an_approver_reads_the_evidence_approves_and_sees_the_confirmation_then_the_link_is_used(
    cloud: LocalCloud, pending: Pending, context: BrowserContext
) -> None:
    tab = watched(context)
    page = tab.page

    # Given the link e-mailed to Ana, when she opens it
    response = page.goto(pending.link)

    # Then the evidence page is served with headers that keep its bearer token to itself
    assert response is not None and response.status == 200
    headers = response.headers
    assert "default-src 'none'" in headers.get("content-security-policy", "")
    assert headers.get("cache-control") == "no-store"
    assert headers.get("referrer-policy") == "no-referrer"
    # and shows the model card, the lineage, every gate rule passed, the approvals so far and the expiry
    expect(page.locator("#model-card")).to_be_visible()
    expect(page.locator("#model-card")).to_contain_text(pending.intended_use)
    expect(page.locator("#lineage")).to_be_visible()
    expect(page.locator("#lineage")).to_contain_text("product-reviews-2026q3")
    # (the example is the first of its group: the champion/challenger rule is skipped, not passed)
    expect(page.locator("#gate-table")).to_be_visible()
    rows = page.locator("#gate-table tbody tr[data-rule-id]")
    shown = {row.get_attribute("data-rule-id"): row.get_attribute("data-result") for row in rows.all()}
    assert shown == pending.rule_results
    passed = list(shown.values()).count("pass")
    assert "fail" not in shown.values() and passed >= 10
    expect(page.locator("#gate-table tbody .badge.pass")).to_have_text(["PASS"] * passed)
    expect(page.locator("#approvals-count")).to_have_text("0 of 2")
    expect(page.locator("#expires")).to_contain_text("Expires at")
    for control in ("#decision-form", "#reason", "#approve", "#reject"):
        expect(page.locator(control)).to_be_visible()
    page.screenshot(path=str(SCREENSHOTS / "evidence-page.png"), full_page=True)

    # When she approves
    with page.expect_response(lambda answer: answer.request.method == "POST") as posted:
        page.locator("#approve").click()
    # Then the confirmation says her approval is one of the two needed
    assert posted.value.status == 200
    assert posted.value.headers.get("cache-control") == "no-store"
    notice = page.locator("#notice")
    expect(notice).to_have_attribute("data-kind", "decided")
    expect(notice).to_contain_text("1 of 2")
    page.screenshot(path=str(SCREENSHOTS / "confirmation.png"), full_page=True)
    # and neither page fetched anything from another origin or raised an error
    assert tab.foreign_requests(pending.origin) == []
    assert tab.errors == []
    cloud.wait_until_idle(timeout=60)

    # When she opens the same link again
    again = page.goto(pending.link)
    # Then it says the link was already used, with no form to decide again
    assert again is not None and again.status == 409
    expect(page.locator("#notice")).to_have_attribute("data-kind", "already_used")
    expect(page.locator("#decision-form")).to_have_count(0)
    page.screenshot(path=str(SCREENSHOTS / "already-used.png"), full_page=True)
    assert tab.foreign_requests(pending.origin) == []
    # the only error is chromium reporting the 409 of the notice itself
    assert tab.errors == [status_report(409, "Conflict", pending.link)]


def test_a_link_with_one_character_of_its_token_changed_is_invalid(pending: Pending, context: BrowserContext) -> None:
    tab = watched(context)
    link = tampered(pending.link)
    # When someone opens Ana's link with one character of its token changed, in a browser of their own
    response = tab.page.goto(link)
    # Then the page says the link is not valid and shows no evidence and no form
    assert response is not None and response.status == 404
    expect(tab.page.locator("#notice")).to_have_attribute("data-kind", "invalid_link")
    expect(tab.page.locator("#model-card")).to_have_count(0)
    expect(tab.page.locator("#decision-form")).to_have_count(0)
    tab.page.screenshot(path=str(SCREENSHOTS / "invalid-link.png"), full_page=True)
    assert tab.foreign_requests(pending.origin) == []
    assert tab.errors == [status_report(404, "Not Found", link)]
