"""`make demo` (python -m fmops_cli.demo): the governed flow through human approval, end to end on the local cloud.

It starts the local cloud in this process and publishes the gate policies in
policies/ and the approval rules and directory in approvals/, as `fmops policy
publish` and `fmops approvals publish` do. Then it submits, with the same
functions `fmops submit` uses:

- the example model version: intake registers it, the built-in evaluator scores
  its eval/golden.jsonl, the gate passes it, and it waits for two approvals.
  The demo approves it the way people do: Ana follows the link e-mailed to her
  (read from the local SES), sees the evidence page and submits its form over
  HTTP; Ben clicks Approve in the Slack message (a request signed like Slack's).
  The model package becomes Approved in the registry. With `interactive`, it
  prints both links and waits for a person to click them instead;
- a regressed copy whose evaluation set shows a retrained adapter echoing
  customers' e-mail addresses (examples/evaluation-sets/sentiment-leaky.jsonl):
  the gate fails it on threshold.pii_leak_rate and its submitter is e-mailed why;
- a tampered copy, altered after hashing: intake rejects it for its sha256;
- once the example is Approved it deploys itself (deployments/stages.json, as
  `fmops deployments publish` puts it): dev, then preprod after Chen's approval,
  then prod after Dara's and Eli's, each stage in its own account; then a second
  version whose model answers every request with HTTP 500
  (examples/local-responses/broken.json) is approved, deployed to dev, fails its
  smoke test and is rolled back automatically; `fmops history` answers what
  serves prod and who let it in.

It shows each outcome as `fmops status` and `fmops policy explain` do, then
checks them, their model package, audit trail and e-mail, and that every
dead-letter queue is empty. Exit status 0 when every check passes, 1 otherwise.
"""

from __future__ import annotations

import shutil
import sys
import tempfile
import textwrap
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from fmops_cli import audit_verify
from fmops_cli.audit_export import EvidenceSources, export_pack
from fmops_cli.config import Connection, find_project_root
from fmops_cli.errors import CliError
from fmops_cli.stage_history import history_document, render_history
from fmops_cli.status import VersionView, fetch, render_text, wait_for
from fmops_cli.submit import SubmissionPlan, describe_plan, plan_submission, submit, upload_artifacts, upload_manifest

EXAMPLE = Path("examples") / "sentiment-classifier"
POLICIES = Path("policies")
GOLDEN_SET = Path("eval") / "golden.jsonl"  # the example's evaluation set, as its model card names it
LEAKY_SET = Path("examples") / "evaluation-sets" / "sentiment-leaky.jsonl"
LEAKY_RULE = "threshold.pii_leak_rate"
TAMPERED_ARTIFACT = "adapter_model.safetensors"
SUBMITTER_ID, SUBMITTER_EMAIL = "demo.user", "demo.user@example.com"
APPROVALS = Path("approvals")
PAGE_APPROVER_EMAIL = "ana.ortiz@example.com"  # approves on the page her e-mailed link opens
SLACK_APPROVER_EMAIL, SLACK_APPROVER_ID = "ben.okafor@example.com", "U0EXBENOKA"  # approves in Slack
INTERACTIVE_TIMEOUT_S = 3600.0
IDLE_TIMEOUT_S = 120.0
STATUS_TIMEOUT_S = 60.0  # intake, evaluation and gate
DEAD_LETTER_SUFFIX = "DeadLetterQueueUrl"
GATE_METADATA_KEY = "fmops:gate"
STEPS = 17
BROKEN_RESPONSES = Path("examples") / "local-responses" / "broken.json"
LOCAL_RESPONSES = Path("local") / "responses.json"  # what the local model server answers from
PREPROD_APPROVER_EMAIL = "chen.wei@example.com"  # ml-leads
PROD_APPROVER_EMAILS = ("dara.novak@example.com", "eli.haddad@example.com")  # model risk, business owner


def project_root() -> Path:
    """The repository holding template.yaml: from the current folder, else from this file's location."""
    found = find_project_root()
    if found is not None:
        return found
    return Path(__file__).resolve().parents[2]


class Narrator:
    def __init__(self, total: int) -> None:
        self._total = total
        self._step = 0

    def step(self, title: str) -> None:
        self._step += 1
        print(f"\n[{self._step}/{self._total}] {title}", flush=True)

    @staticmethod
    def say(text: str) -> None:
        print(textwrap.indent(text, "      "), flush=True)


# ------------------------------------------------------------------ checks


@dataclass(frozen=True)
class ModelPackage:
    """The SageMaker model package of a version, as far as the checks read it."""

    approval_status: str | None  # moto's update_model_package drops it when the call does not name one
    metadata: Mapping[str, str] = field(default_factory=dict)  # CustomerMetadataProperties
    description: str = ""  # ApprovalDescription: who approved, when, on which evidence


@dataclass(frozen=True)
class Mail:
    """An e-mail the local cloud's SES accepted."""

    to: tuple[str, ...]
    subject: str
    body: str


@dataclass(frozen=True)
class Observation:
    """What the demo found once the local cloud was idle."""

    good: VersionView
    leaky: VersionView
    tampered: VersionView
    good_package: ModelPackage | None  # None: no model package found
    leaky_mails: Sequence[Mail]  # e-mails whose subject names the leaky version
    dead_letters: Mapping[str, int]  # dead-letter queue output name -> messages in it
    trail_intact: bool = False  # `fmops audit verify` found every chain and anchor intact
    trail_summary: str = "not verified"
    evidence_pack: Path | None = None  # the good version's HTML evidence pack, if written
    page: PageVisit | None = None  # the approval page as the first approver's browser got it
    slack_decided: bool = False  # the Slack approval message was updated in place to its decided form
    broken_version: str = ""
    prod_history: Mapping[str, Any] = field(default_factory=dict)  # `fmops history GROUP --stage prod --json`
    dev_history: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class PageVisit:
    """One GET of the approval page: what a browser received."""

    status: int
    headers: Mapping[str, str]
    size_bytes: int
    seconds: float


@dataclass(frozen=True)
class Check:
    name: str
    passed: bool
    detail: str


def evaluate(seen: Observation, tampered_path: str = TAMPERED_ARTIFACT) -> list[Check]:
    """The demo's verdict, one check per promise of the flow."""
    from fmops.statuses import VersionStatus

    good_record = seen.good.record
    good_gate = good_record.gate if good_record else None
    good_events = {entry.detail_type for entry in seen.good.timeline}
    metadata = seen.good_package.metadata if seen.good_package else {}

    leaky_reasons = seen.leaky.record.reasons if seen.leaky.record else []
    leaky_rule_failed = [r for r in leaky_reasons if r.code == "gate_rule_failed" and r.field == LEAKY_RULE]
    told = [mail for mail in seen.leaky_mails if SUBMITTER_EMAIL in mail.to and LEAKY_RULE in mail.body]

    tampered_reasons = seen.tampered.record.reasons if seen.tampered.record else []
    sha_reasons = [r for r in tampered_reasons if r.code == "artifact_sha256_mismatch" and tampered_path in r.message]
    tampered_events = {entry.detail_type for entry in seen.tampered.timeline}

    timeline = [entry.detail_type for entry in seen.good.timeline]
    page = seen.page
    checks = [
        Check(
            f"{seen.good.version_id} is Approved, with a passed gate decision",
            seen.good.status == VersionStatus.APPROVED and good_gate is not None and good_gate.decision.passed,
            f"status {_status(seen.good)}; gate {_verdict(seen.good)}",
        ),
        Check(
            f"its SageMaker model package is Approved and carries {GATE_METADATA_KEY}=passed",
            seen.good_package is not None
            and seen.good_package.approval_status == "Approved"
            and metadata.get(GATE_METADATA_KEY) == "passed",
            f"approval status {seen.good_package.approval_status or '(not reported)'}, {GATE_METADATA_KEY}="
            f"{metadata.get(GATE_METADATA_KEY, '(not set)')}"
            if seen.good_package
            else "no model package found",
        ),
        Check(
            "its audit trail records the gate decision, all five approvals (dev 2, preprod 1, prod 2) and the "
            "registry approval",
            "Model Version Gate Decided" in good_events
            and timeline.count("Approval Decision Recorded") == 5
            and "Model Version Approved" in good_events,
            f"{len(seen.good.timeline)} audit record(s): {', '.join(sorted(good_events)) or 'none'}",
        ),
        Check(
            "the approval page was served uncached, without referrer, under a script-free CSP",
            page is not None
            and page.status == 200
            and page.headers.get("Cache-Control") == "no-store"
            and page.headers.get("Referrer-Policy") == "no-referrer"
            and "script-src" not in page.headers.get("Content-Security-Policy", "script-src"),
            f"HTTP {page.status}, {page.size_bytes} bytes in {page.seconds * 1000:.0f} ms" if page else "not opened",
        ),
        Check(
            "the Slack approval message was updated in place once decided",
            seen.slack_decided,
            "updated" if seen.slack_decided else "not updated",
        ),
        Check(
            f"{seen.leaky.version_id} is Rejected by the gate on {LEAKY_RULE}",
            seen.leaky.status == VersionStatus.REJECTED and bool(leaky_rule_failed),
            f"status {_status(seen.leaky)}; gate {_verdict(seen.leaky)}; "
            f"reasons {', '.join(_reason(r) for r in leaky_reasons) or 'none'}",
        ),
        Check(
            f"its submitter was e-mailed why, naming {LEAKY_RULE}",
            bool(told),
            f"{len(seen.leaky_mails)} e-mail(s) about it"
            + (f": {told[0].subject!r} to {', '.join(told[0].to)}" if told else ""),
        ),
        Check(
            f"{seen.tampered.version_id} is Rejected for the tampered {tampered_path}",
            seen.tampered.status == VersionStatus.REJECTED and bool(sha_reasons),
            f"status {_status(seen.tampered)}; reasons {', '.join(r.code for r in tampered_reasons) or 'none'}",
        ),
        Check(
            "its audit trail records the rejection",
            "Model Version Rejected" in tampered_events,
            f"{len(seen.tampered.timeline)} audit record(s)",
        ),
        *_deployment_checks(seen),
        Check("the audit trail verifies against its anchors", seen.trail_intact, seen.trail_summary),
        Check(
            f"the evidence pack of {seen.good.version_id} was written",
            seen.evidence_pack is not None,
            str(seen.evidence_pack) if seen.evidence_pack else "no HTML evidence pack",
        ),
    ]
    if not seen.dead_letters:
        checks.append(Check("dead-letter queues are empty", False, f"no *{DEAD_LETTER_SUFFIX} output found"))
    for name, count in sorted(seen.dead_letters.items()):
        checks.append(Check(f"{name} is empty", count == 0, f"{count} message(s)"))
    return checks


def _deployment_checks(seen: Observation) -> list[Check]:
    prod = seen.prod_history.get("serving") or {}
    dev = seen.dev_history.get("timeline") or []
    outcomes = [(record["version_id"], record["kind"], record["outcome"]) for record in dev]
    good, broken = seen.good.version_id, seen.broken_version
    rolled_back = [(good, "deploy", "succeeded"), (broken, "deploy", "rolled_back"), (good, "rollback", "succeeded")]
    return [
        Check(
            f"{good} serves in prod after its preprod and prod approvals (`fmops history`)",
            prod.get("version_id") == good and len(prod.get("approved_by", [])) == 2,
            f"prod serves {prod.get('version_id', 'nothing')}, approved by "
            f"{', '.join(prod.get('approved_by', [])) or 'nobody'}",
        ),
        Check(
            f"{broken} failed its smoke test in dev and dev was rolled back to {good}",
            outcomes[-3:] == rolled_back and (seen.dev_history.get("serving") or {}).get("version_id") == good,
            "; ".join(f"{kind} {version} {outcome}" for version, kind, outcome in outcomes) or "no dev deployments",
        ),
    ]


def _status(view: VersionView) -> str:
    return view.status.value if view.status else "unknown (no catalog record)"


def _verdict(view: VersionView) -> str:
    gate = view.record.gate if view.record else None
    if gate is None:
        return "not decided"
    failed = [rule.rule_id for rule in gate.decision.failed_rules]
    return "passed" if gate.decision.passed else f"failed ({', '.join(failed) or 'no rule named'})"


def _reason(reason: Any) -> str:
    return f"{reason.code} [{reason.field}]" if reason.field else str(reason.code)


def model_package(sagemaker: Any, arn: str | None) -> ModelPackage | None:
    from botocore.exceptions import ClientError

    if not arn:
        return None
    try:
        described = sagemaker.describe_model_package(ModelPackageName=arn)
    except ClientError:
        return None
    metadata = described.get("CustomerMetadataProperties") or {}
    status = described.get("ModelApprovalStatus")
    return ModelPackage(
        str(status) if status else None,
        {str(k): str(v) for k, v in metadata.items()},
        str(described.get("ApprovalDescription") or ""),
    )


def mails_about(version_id: str, sent: Sequence[Any]) -> list[Mail]:
    """The e-mails whose subject names `version_id` as a word (demo-X-leaky must not match demo-X)."""
    return [Mail(tuple(mail.to), mail.subject, mail.body) for mail in sent if version_id in mail.subject.split()]


def dead_letter_counts(sqs: Any, outputs: Mapping[str, str]) -> dict[str, int]:
    counts = {}
    for name, url in outputs.items():
        if name.endswith(DEAD_LETTER_SUFFIX):
            attributes = sqs.get_queue_attributes(
                QueueUrl=url,
                AttributeNames=[
                    "ApproximateNumberOfMessages",
                    "ApproximateNumberOfMessagesNotVisible",
                    "ApproximateNumberOfMessagesDelayed",
                ],
            )["Attributes"]
            counts[name] = sum(int(value) for value in attributes.values())
    return counts


def peek_dead_letters(sqs: Any, url: str, limit: int = 3) -> list[str]:
    """A few bodies from a dead-letter queue (left in place), to explain a failed demo."""
    messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=limit, VisibilityTimeout=0).get("Messages", [])
    return [message["Body"][:500] for message in messages]


# ------------------------------------------------------------------ the run


def failure_evidence(sfn: Any, outputs: Mapping[str, str], logs: Path) -> list[str]:
    """What to read when a check fails: failed promotion executions and the functions' error lines."""
    lines = []
    arn = outputs.get("PromotionStateMachineArn")
    failed = sfn.list_executions(stateMachineArn=arn, statusFilter="FAILED")["executions"] if arn else []
    for execution in failed:
        events = sfn.get_execution_history(executionArn=execution["executionArn"], reverseOrder=True)["events"]
        causes = [
            details.get("error", "") + ": " + details.get("cause", "")
            for event in events
            for key, details in event.items()
            if key.endswith("FailedEventDetails")
        ]
        lines.append(f"execution {execution['name']} FAILED: {' | '.join(causes) or 'no cause recorded'}")
    for log in sorted(logs.glob("*.log")) if logs.is_dir() else []:
        lines += [f"{log.name}: {line}" for line in log.read_text(errors="replace").splitlines() if "[ERROR]" in line]
    return lines


def tamper(s3: Any, bucket: str, key: str) -> None:
    """Flip the last byte of an uploaded artifact: same size, different sha256, as a corrupted or altered file."""
    body = bytearray(s3.get_object(Bucket=bucket, Key=key)["Body"].read())
    body[-1] ^= 0xFF
    s3.put_object(Bucket=bucket, Key=key, Body=bytes(body))


def leaky_copy(example: Path, leaky_set: Path, into: Path) -> Path:
    """The example folder with its evaluation set replaced: submitting it hashes the copy, so intake accepts it."""
    copy = into / example.name
    shutil.copytree(example, copy)
    shutil.copyfile(leaky_set, copy / GOLDEN_SET)
    return copy


def broken_copy(example: Path, responses: Path, into: Path) -> Path:
    """The example folder plus `local/responses.json` from `responses`: the same model, answering with errors."""
    copy = into / example.name
    shutil.copytree(example, copy)
    (copy / LOCAL_RESPONSES).parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(responses, copy / LOCAL_RESPONSES)
    return copy


def run(root: Path, state_dir: Path | None = None, interactive: bool = False) -> int:
    """Run the demo against the project at `root`; the local cloud keeps its state in `state_dir`.

    interactive: print the approval links and wait for a person to approve, instead of approving unattended.
    """
    from fmops.adapters.deployments import DynamoDeploymentStore
    from fmops.adapters.dynamodb import DynamoAuditLog, DynamoCatalog
    from fmops.gate.policy import Stage
    from fmops.statuses import VersionStatus
    from fmops_cli.policies import S3PolicyBucket, publish, read_policy_files, record_with_decision, render_explanation

    try:
        from fmops_local import LocalCloud
    except ImportError as error:
        print(f"fmops demo: the local cloud (fmops_local) is not available: {error}", file=sys.stderr)
        return 1

    from fmops_cli.approvals import publish_approvals, read_approval_files
    from fmops_cli.deployments import DEFAULT_STAGES, publish_stages, read_stages_file

    approval_files = read_approval_files(root / APPROVALS / "rules.json", root / APPROVALS / "directory.json")
    stages_file = read_stages_file(root / DEFAULT_STAGES)
    narrator = Narrator(STEPS)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    good_version, leaky_version, tampered_version = f"demo-{stamp}", f"demo-{stamp}-leaky", f"demo-{stamp}-tampered"
    broken_version = f"demo-{stamp}-broken"
    example = root / EXAMPLE
    policy_paths = sorted((root / POLICIES).glob("*.json"))  # every file is valid before the cloud starts
    policy_files = read_policy_files(policy_paths)
    print("fmops demo: a model version from upload, through evaluation, its gate and two approvers, on the local cloud")

    narrator.step("Starting the local cloud (template.yaml deployed on moto, functions run locally)")
    if state_dir is None:
        state_dir = root / ".fmops" / "local"
        if (state_dir / "outputs.json").exists():
            # `fmops local up` is running: keep its outputs.json, which its users' commands read.
            state_dir = root / ".fmops" / "demo"
    # Interactive: the approval timer must heartbeat the waiting promotion while a person takes their time.
    with LocalCloud(project_root=root, port=0, state_dir=state_dir, fire_schedules=interactive) as cloud:
        from fmops_local.approvers import LocalApprover, approval_id_of

        outputs: dict[str, str] = dict(cloud.outputs)
        connection = Connection(cloud.session(), cloud.endpoint_url, local=True)
        s3 = connection.client("s3")
        dynamodb = connection.client("dynamodb")
        bucket = outputs["ArtifactBucketName"]
        catalog = DynamoCatalog(outputs["CatalogTableName"], dynamodb=dynamodb)
        audit_log = DynamoAuditLog(outputs["AuditTableName"], dynamodb=dynamodb)
        narrator.say(
            f"endpoint {cloud.endpoint_url}\nartifact bucket {bucket}, policy bucket {outputs['PolicyBucketName']}\n"
            f"catalog table {outputs['CatalogTableName']}, audit table {outputs['AuditTableName']}"
        )

        def settle(version_id: str, target: VersionStatus) -> VersionView:
            try:
                cloud.wait_until_idle(timeout=IDLE_TIMEOUT_S)
            except TimeoutError as busy:
                narrator.say(f"warning: {busy}")  # the checks below say what did not happen
            view, _ = wait_for(lambda: fetch(version_id, catalog, audit_log), target, STATUS_TIMEOUT_S, 0.5)
            return view

        def submit_copy(copy: Callable[[Path], Path], version: str) -> SubmissionPlan:
            """Submit a changed copy of the example, made in a temporary folder by `copy`."""
            with tempfile.TemporaryDirectory(prefix="fmops-demo-") as scratch:
                plan = plan_submission(
                    copy(Path(scratch)), version=version, submitter_id=SUBMITTER_ID, submitter_email=SUBMITTER_EMAIL
                )
                submit(plan, s3, bucket, catalog)
            return plan

        def explain(version_id: str) -> str:
            try:
                return render_explanation(record_with_decision(version_id, catalog, lambda _: "fmops status"))
            except CliError as none:
                return f"no decision table: {none.message}"  # the checks below fail and say why

        narrator.step(f"Publishing the gate policies in {POLICIES}/ (what `fmops policy publish` does)")
        for publication in publish(policy_files, S3PolicyBucket(outputs["PolicyBucketName"], s3)):
            policy = publication.file.policy
            group = "* (every model group without its own file)" if policy.is_default else policy.model_group
            narrator.say(
                f"{publication.file.path.relative_to(root)} -> {publication.uri}: {publication.outcome.value}\n"
                f"  group {group}, policy_version {policy.policy_version}\n"
                f"  sha256 {publication.file.sha256}"
            )
        for published in publish_approvals(approval_files, S3PolicyBucket(outputs["PolicyBucketName"], s3)):
            narrator.say(f"{published.path.relative_to(root)} -> {published.uri}: {published.outcome.value}")
        published = publish_stages(stages_file, S3PolicyBucket(outputs["PolicyBucketName"], s3))
        narrator.say(f"{published.path.relative_to(root)} -> {published.uri}: {published.outcome.value}")

        narrator.step(f"Submitting {EXAMPLE} as version {good_version} (what `fmops submit` does)")
        good = plan_submission(
            example, version=good_version, submitter_id=SUBMITTER_ID, submitter_email=SUBMITTER_EMAIL
        )
        submit(good, s3, bucket, catalog)  # no progress display: the narration lists the files
        narrator.say(f"uploaded the artifacts, then the manifest, to {describe_plan(good, bucket)}")

        narrator.step(
            f"Intake registers it, the built-in evaluator scores {GOLDEN_SET}, the gate judges the metrics;\n"
            f"      `fmops status {good.version_id}`, then `fmops policy explain {good.version_id}`:"
        )
        good_view = settle(good.version_id, VersionStatus.PENDING_APPROVAL)
        narrator.say(render_text(good_view))
        narrator.say("\n" + explain(good.version_id))

        narrator.step(
            "It waits for two approvers (approvals/rules.json, stage dev): e-mails and a Slack message went out"
        )
        people = LocalApprover(cloud)
        page_link = people.email_link(PAGE_APPROVER_EMAIL, good.version_id)
        slack_link = people.email_link(SLACK_APPROVER_EMAIL, good.version_id)
        for sent in cloud.sent_emails():
            if sent.to == [PAGE_APPROVER_EMAIL] and good.version_id in sent.subject.split():
                narrator.say(f"The e-mail {PAGE_APPROVER_EMAIL} received:\nSubject: {sent.subject}\n\n{sent.body}")
        for message in cloud.slack.messages():
            narrator.say(f"Slack #{message.channel}: {message.text}")

        if interactive:
            # Opening a link changes nothing (mail scanners do it all the time): look at what a browser gets.
            page = people.open_page(page_link)
            page_visit = PageVisit(page.status, page.headers, len(page.body.encode()), page.seconds)
            narrator.step("Approve it yourself: open both links in a browser (each approver has their own)")
            narrator.say(f"{PAGE_APPROVER_EMAIL}:\n  {page_link}\n{SLACK_APPROVER_EMAIL}:\n  {slack_link}")
            narrator.say("waiting for two approvals (Ctrl-C stops the demo)...")
            good_view, _ = wait_for(
                lambda: fetch(good.version_id, catalog, audit_log), VersionStatus.APPROVED, INTERACTIVE_TIMEOUT_S, 1.0
            )
        else:
            narrator.step(
                f"{PAGE_APPROVER_EMAIL} follows her link and approves on the page; {SLACK_APPROVER_EMAIL} clicks "
                "Approve in Slack"
            )
            narrator.say("(by hand instead: `fmops local demo --interactive` prints the links and waits for you)")
            page = people.open_page(page_link)
            page_visit = PageVisit(page.status, page.headers, len(page.body.encode()), page.seconds)
            narrator.say(
                f"GET {page_link.split('?')[0]}?approver=...&token=...: HTTP {page.status}, "
                f"{page_visit.size_bytes} bytes, {page.seconds * 1000:.0f} ms"
            )
            decided = people.submit_decision(page_link, page, "approve")
            narrator.say(f"POST the page's form (verdict approve, CSRF token): HTTP {decided.status} {decided.notice}")
            settle(good.version_id, VersionStatus.PENDING_APPROVAL)
            clicked = people.slack_click(SLACK_APPROVER_ID, approval_id_of(page_link))
            narrator.say(f"Slack click (signed v0 request) by {SLACK_APPROVER_ID}: HTTP {clicked.status}")
            good_view = settle(good.version_id, VersionStatus.APPROVED)
        narrator.say(render_text(good_view))
        package = model_package(
            connection.client("sagemaker"), good_view.record.model_package_arn if good_view.record else None
        )
        if package is not None:
            narrator.say(f"model package: {package.approval_status}\n  {package.description}")

        group = good.manifest.manifest.model_group
        deployments = DynamoDeploymentStore(outputs["DeploymentsTableName"], dynamodb)

        def history(stage: Stage) -> dict[str, Any]:
            try:
                cloud.wait_until_idle(timeout=IDLE_TIMEOUT_S)
            except TimeoutError as busy:
                narrator.say(f"warning: {busy}")
            return history_document(deployments.history(group, stage), group, stage, None)

        def approve_by_email(email: str, version_id: str) -> None:
            link = people.email_link(email, version_id)
            decided = people.submit_decision(link, people.open_page(link), "approve")
            narrator.say(f"{email} approves through her or his e-mailed link: HTTP {decided.status} {decided.notice}")

        narrator.step(
            f"The registry's Approved starts its deployment: dev first (deployments/stages.json), then it waits\n"
            f"      for the preprod approval; `fmops history {group} --stage dev`:"
        )
        narrator.say(render_history(history(Stage.DEV)))

        narrator.step(f"{PREPROD_APPROVER_EMAIL} approves preprod; {' and '.join(PROD_APPROVER_EMAILS)} approve prod")
        narrator.say("(approvals/rules.json: preprod needs one ml-lead; prod one of model risk and one business owner)")
        approve_by_email(PREPROD_APPROVER_EMAIL, good.version_id)
        history(Stage.PREPROD)
        for email in PROD_APPROVER_EMAILS:
            approve_by_email(email, good.version_id)
        narrator.say(f"\n`fmops history {group} --stage prod`:\n" + render_history(history(Stage.PROD)))

        narrator.step(
            f"Submitting {broken_version}: the same model, but its endpoint answers every request with HTTP 500"
        )
        broken = submit_copy(lambda scratch: broken_copy(example, root / BROKEN_RESPONSES, scratch), broken_version)
        narrator.say(f"a copy of {EXAMPLE} with {BROKEN_RESPONSES} as {LOCAL_RESPONSES} (what the local model answers)")
        settle(broken.version_id, VersionStatus.PENDING_APPROVAL)
        approve_by_email(PAGE_APPROVER_EMAIL, broken.version_id)
        approve_by_email(SLACK_APPROVER_EMAIL, broken.version_id)
        settle(broken.version_id, VersionStatus.APPROVED)

        narrator.step(f"It deploys to dev, fails its smoke test, and dev goes back on {good.version_id} by itself:")
        narrator.say(render_history(history(Stage.DEV)))

        narrator.step(
            f"Submitting a regressed retrain as {leaky_version}: its answers echo customers' e-mail addresses"
        )
        leaky = submit_copy(lambda scratch: leaky_copy(example, root / LEAKY_SET, scratch), leaky_version)
        narrator.say(
            f"a copy of {EXAMPLE} with {GOLDEN_SET} replaced by {LEAKY_SET}\n"
            f"(the artifacts' sha256 come from the copy, so intake accepts it); {describe_plan(leaky, bucket)}"
        )

        narrator.step(f"The gate must fail it on {LEAKY_RULE}; `fmops policy explain {leaky.version_id}`:")
        settle(leaky.version_id, VersionStatus.REJECTED)
        narrator.say(explain(leaky.version_id))
        leaky_mails = mails_about(leaky.version_id, cloud.sent_emails())
        for mail in leaky_mails:
            narrator.say(f"\nThe e-mail {', '.join(mail.to)} received:\nSubject: {mail.subject}\n\n{mail.body}")
        if not leaky_mails:
            narrator.say(f"\nno e-mail names {leaky.version_id} in its subject")

        narrator.step(f"Submitting a tampered copy as {tampered_version}: {TAMPERED_ARTIFACT} altered after hashing")
        tampered = plan_submission(
            example, version=tampered_version, submitter_id=SUBMITTER_ID, submitter_email=SUBMITTER_EMAIL
        )
        _submit_tampered(tampered, s3, bucket)
        narrator.say(
            f"the manifest lists the original sha256 of {TAMPERED_ARTIFACT}; the bucket holds other bytes of the "
            "same size,\nas after a corrupted transfer or an unauthorised change"
        )

        narrator.step(f"Intake must reject it; `fmops status {tampered.version_id}`:")
        tampered_view = settle(tampered.version_id, VersionStatus.REJECTED)
        narrator.say(render_text(tampered_view))

        narrator.step("Anchoring every chain head in write-once storage, then `fmops audit verify`:")
        trail = _anchor_and_verify(cloud, connection, outputs, audit_log)
        narrator.say(audit_verify.render_text(trail))

        narrator.step(f"Exporting the evidence pack of {good.version_id} (`fmops audit export`)")
        exported = export_pack(
            good.version_id,
            EvidenceSources(catalog, audit_log, s3, outputs.get("EvidenceBucketName")),
            cloud.state_dir / "evidence",
        )
        narrator.say(f"{exported.pack.verdict}\n{exported.json_path}\n{exported.html_path}  (open it in a browser)")

        narrator.step("Checking the outcome")
        sqs = connection.client("sqs")
        good_view = fetch(good.version_id, catalog, audit_log)
        seen = Observation(
            good=good_view,
            leaky=fetch(leaky.version_id, catalog, audit_log),
            tampered=fetch(tampered.version_id, catalog, audit_log),
            good_package=model_package(
                connection.client("sagemaker"), good_view.record.model_package_arn if good_view.record else None
            ),
            leaky_mails=mails_about(leaky.version_id, cloud.sent_emails()),
            dead_letters=dead_letter_counts(sqs, outputs),
            trail_intact=trail.ok,
            trail_summary=f"{len(trail.chains)} chain(s), {sum(c.records for c in trail.chains)} records, "
            f"{trail.anchors_read} anchor(s)" + ("" if trail.ok else ": BROKEN (see above)"),
            evidence_pack=exported.html_path if exported.html_path.is_file() else None,
            page=page_visit,
            slack_decided=any(m.updated and "Approved" in m.text for m in cloud.slack.messages()),
            broken_version=broken.version_id,
            prod_history=history(Stage.PROD),
            dev_history=history(Stage.DEV),
        )
        checks = evaluate(seen)
        for check in checks:
            narrator.say(f"{'ok  ' if check.passed else 'FAIL'}  {check.name}: {check.detail}")
        for name, count in seen.dead_letters.items():
            if count:
                for body in peek_dead_letters(sqs, outputs[name]):
                    narrator.say(f"      {name}: {body}")
        if not all(check.passed for check in checks):
            for line in failure_evidence(connection.client("stepfunctions"), outputs, cloud.state_dir / "logs"):
                narrator.say(f"      {line}")

    failed = [check for check in checks if not check.passed]
    if failed:
        print(f"\nDemo FAILED: {len(failed)} of {len(checks)} checks did not pass (see above).", file=sys.stderr)
        return 1
    print(
        f"\nDemo passed: {len(checks)} checks. Try it by hand: `fmops local up`, then the commands in "
        "examples/README.md;\nhow evaluation and the gate work: docs/evaluation.md and docs/policies.md; "
        "approvals: docs/approvals.md; deployment: docs/deployment.md; the audit trail: docs/audit.md."
    )
    return 0


def _anchor_and_verify(cloud: Any, connection: Connection, outputs: Mapping[str, str], audit_log: Any) -> Any:
    """Run the scheduled anchor writer now (the local cloud does not fire schedules), then verify the trail."""
    import json

    from fmops.adapters.s3 import S3AnchorStore

    response = connection.client("lambda").invoke(FunctionName=cloud.ref("AnchorWriterFunction"), Payload=b"{}")
    if response.get("FunctionError"):
        raise CliError(f"the anchor writer failed: {json.loads(response['Payload'].read())}")
    store = S3AnchorStore(outputs["AnchorBucketName"], s3=connection.client("s3"))
    return audit_verify.verify_trail(audit_log, store)


def _submit_tampered(plan: SubmissionPlan, s3: Any, bucket: str) -> None:
    upload_artifacts(plan, s3, bucket)
    tampered = next(artifact for artifact in plan.artifacts if artifact.path == TAMPERED_ARTIFACT)
    tamper(s3, bucket, plan.key_of(tampered))
    upload_manifest(plan, s3, bucket)


def main() -> int:
    """Unattended: no options (`fmops local demo --interactive` waits for a person instead)."""
    try:
        return run(project_root())
    except CliError as error:
        print(f"fmops demo: {error.message}", file=sys.stderr)
        if error.hint:
            print(f"hint: {error.hint}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    raise SystemExit(main())
