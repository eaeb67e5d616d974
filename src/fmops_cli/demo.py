"""`make demo` (python -m fmops_cli.demo): the intake flow end to end on the local cloud, unattended.

It starts the local cloud in this process, submits the example model version
with the same functions `fmops submit` uses, shows it as `fmops status` does,
submits a tampered copy that intake must reject, and then checks the outcome:
the good version registered with a SageMaker model package and an audit trail,
the tampered one Rejected for its sha256, and every dead-letter queue empty.
Exit status 0 when every check passes, 1 otherwise.
"""

from __future__ import annotations

import sys
import textwrap
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from fmops_cli.config import Connection, find_project_root
from fmops_cli.errors import CliError
from fmops_cli.status import VersionView, fetch, has_reached, render_text, wait_for
from fmops_cli.submit import SubmissionPlan, describe_plan, plan_submission, submit, upload_artifacts, upload_manifest

EXAMPLE = Path("examples") / "sentiment-classifier"
TAMPERED_ARTIFACT = "adapter_model.safetensors"
SUBMITTER_ID, SUBMITTER_EMAIL = "demo.user", "demo.user@example.com"
IDLE_TIMEOUT_S = 120.0
STATUS_TIMEOUT_S = 30.0
DEAD_LETTER_SUFFIX = "DeadLetterQueueUrl"
STEPS = 6


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
class Observation:
    """What the demo found once the local cloud was idle."""

    good: VersionView
    bad: VersionView
    good_package_status: str | None  # ModelApprovalStatus of the good version's package; None: no package
    dead_letters: Mapping[str, int]  # dead-letter queue output name -> messages in it


@dataclass(frozen=True)
class Check:
    name: str
    passed: bool
    detail: str


def evaluate(seen: Observation, tampered_path: str = TAMPERED_ARTIFACT) -> list[Check]:
    """The demo's verdict, one check per promise of the flow."""
    from fmops.statuses import VersionStatus

    good_status = seen.good.status
    good_events = {entry.detail_type for entry in seen.good.timeline}
    bad_reasons = seen.bad.record.reasons if seen.bad.record else []
    sha_reasons = [r for r in bad_reasons if r.code == "artifact_sha256_mismatch" and tampered_path in r.message]
    bad_events = {entry.detail_type for entry in seen.bad.timeline}
    checks = [
        Check(
            f"{seen.good.version_id} is Registered or further",
            good_status is not None and has_reached(good_status, VersionStatus.REGISTERED),
            f"status {good_status.value if good_status else 'unknown (no catalog record)'}",
        ),
        Check(
            "its SageMaker model package exists",
            seen.good_package_status is not None,
            f"approval status {seen.good_package_status}" if seen.good_package_status else "no model package found",
        ),
        Check(
            "its audit trail records the registration",
            "Model Version Registered" in good_events,
            f"{len(seen.good.timeline)} audit record(s): {', '.join(sorted(good_events)) or 'none'}",
        ),
        Check(
            f"{seen.bad.version_id} is Rejected for the tampered {tampered_path}",
            seen.bad.status == VersionStatus.REJECTED and bool(sha_reasons),
            f"status {seen.bad.status.value if seen.bad.status else 'unknown'}; "
            f"reasons {', '.join(r.code for r in bad_reasons) or 'none'}",
        ),
        Check(
            "its audit trail records the rejection",
            "Model Version Rejected" in bad_events,
            f"{len(seen.bad.timeline)} audit record(s)",
        ),
    ]
    if not seen.dead_letters:
        checks.append(Check("dead-letter queues are empty", False, f"no *{DEAD_LETTER_SUFFIX} output found"))
    for name, count in sorted(seen.dead_letters.items()):
        checks.append(Check(f"{name} is empty", count == 0, f"{count} message(s)"))
    return checks


def model_package_status(sagemaker: Any, arn: str | None) -> str | None:
    from botocore.exceptions import ClientError

    if not arn:
        return None
    try:
        return str(sagemaker.describe_model_package(ModelPackageName=arn)["ModelApprovalStatus"])
    except ClientError:
        return None


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


def run(root: Path, state_dir: Path | None = None) -> int:
    """Run the demo against the project at `root`; the local cloud keeps its state in `state_dir`."""
    from fmops.adapters.dynamodb import DynamoAuditLog, DynamoCatalog
    from fmops.statuses import VersionStatus

    try:
        from fmops_local import LocalCloud
    except ImportError as error:
        print(f"fmops demo: the local cloud (fmops_local) is not available: {error}", file=sys.stderr)
        return 1

    narrator = Narrator(STEPS)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    good_version, bad_version = f"demo-{stamp}", f"demo-{stamp}-tampered"
    example = root / EXAMPLE
    print("fmops demo: a model version from upload to the model registry, on the local cloud")

    narrator.step("Starting the local cloud (template.yaml deployed on moto, functions run locally)")
    if state_dir is None:
        state_dir = root / ".fmops" / "local"
        if (state_dir / "outputs.json").exists():
            # `fmops local up` is running: keep its outputs.json, which its users' commands read.
            state_dir = root / ".fmops" / "demo"
    with LocalCloud(project_root=root, port=0, state_dir=state_dir) as cloud:
        outputs: dict[str, str] = dict(cloud.outputs)
        connection = Connection(cloud.session(), cloud.endpoint_url, local=True)
        s3 = connection.client("s3")
        dynamodb = connection.client("dynamodb")
        bucket = outputs["ArtifactBucketName"]
        catalog = DynamoCatalog(outputs["CatalogTableName"], dynamodb=dynamodb)
        audit_log = DynamoAuditLog(outputs["AuditTableName"], dynamodb=dynamodb)
        narrator.say(
            f"endpoint {cloud.endpoint_url}\nartifact bucket {bucket}\n"
            f"catalog table {outputs['CatalogTableName']}, audit table {outputs['AuditTableName']}"
        )

        def settle(version_id: str, target: VersionStatus) -> VersionView:
            try:
                cloud.wait_until_idle(timeout=IDLE_TIMEOUT_S)
            except TimeoutError as busy:
                narrator.say(f"warning: {busy}")  # the checks below say what did not happen
            view, _ = wait_for(lambda: fetch(version_id, catalog, audit_log), target, STATUS_TIMEOUT_S, 0.5)
            return view

        narrator.step(f"Submitting {EXAMPLE} as version {good_version} (what `fmops submit` does)")
        good = plan_submission(
            example, version=good_version, submitter_id=SUBMITTER_ID, submitter_email=SUBMITTER_EMAIL
        )
        submit(good, s3, bucket, catalog)  # no progress display: the narration lists the files
        narrator.say(f"uploaded the artifacts, then the manifest, to {describe_plan(good, bucket)}")

        narrator.step(f"Intake, promotion and audit run; then `fmops status {good.version_id}`:")
        good_view = settle(good.version_id, VersionStatus.REGISTERED)
        narrator.say(render_text(good_view))

        narrator.step(f"Submitting a tampered copy as {bad_version}: {TAMPERED_ARTIFACT} altered after hashing")
        bad = plan_submission(example, version=bad_version, submitter_id=SUBMITTER_ID, submitter_email=SUBMITTER_EMAIL)
        _submit_tampered(bad, s3, bucket)
        narrator.say(
            f"the manifest lists the original sha256 of {TAMPERED_ARTIFACT}; the bucket holds other bytes of the "
            "same size,\nas after a corrupted transfer or an unauthorised change"
        )

        narrator.step(f"Intake must reject it; `fmops status {bad.version_id}`:")
        bad_view = settle(bad.version_id, VersionStatus.REJECTED)
        narrator.say(render_text(bad_view))

        narrator.step("Checking the outcome")
        sqs = connection.client("sqs")
        seen = Observation(
            good=fetch(good.version_id, catalog, audit_log),
            bad=fetch(bad.version_id, catalog, audit_log),
            good_package_status=model_package_status(
                connection.client("sagemaker"), good_view.record.model_package_arn if good_view.record else None
            ),
            dead_letters=dead_letter_counts(sqs, outputs),
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
        f"\nDemo passed: {len(checks)} checks. Try it by hand: `fmops local up`, then the commands in docs/manifest.md."
    )
    return 0


def _submit_tampered(plan: SubmissionPlan, s3: Any, bucket: str) -> None:
    upload_artifacts(plan, s3, bucket)
    tampered = next(artifact for artifact in plan.artifacts if artifact.path == TAMPERED_ARTIFACT)
    tamper(s3, bucket, plan.key_of(tampered))
    upload_manifest(plan, s3, bucket)


def main() -> int:
    """Unattended: no options."""
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
