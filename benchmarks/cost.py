"""Cost model: what one version costs the control plane, counted from what the local cloud executed.

Two stories, each in the same local cloud, each counted on its own:
(a) a rejected version: the example with the leaky evaluation set (the gate fails it on pii_leak_rate);
(b) a version promoted to prod: the example, approved by dev (2), preprod (1) and prod (2) approvers
    through their e-mailed links, deployed and smoke-tested in all three stages.

Counted, never assumed:
- state transitions: every state entered in the version's promotion and deployment executions;
- Lambda invocations and GB-seconds: the local runtime's record of every invocation (durations are
  local, in-process against moto: an indication of Lambda's, not a measurement of it) times each
  function's memory in template.yaml;
- DynamoDB, EventBridge, S3, KMS, SES and Step Functions API calls made by the functions: moto's request
  recorder logs every request the server receives; a function's requests are those whose User-Agent
  carries Lambda's `exec-env/AWS_Lambda_...` (the benchmark's own uploads, polls and the local cloud's
  bookkeeping are left out). DynamoDB request units: 1 WRU per KiB written per item (2 in a
  transaction), 1 RRU per strongly consistent read (the recorder sees requests, not responses, so a
  Query counts 1 RRU per request: a lower bound).
Priced at the list prices below (us-east-1), each with its source. The model's own endpoints are out.
"""

from __future__ import annotations

import argparse
import base64
import json
import math
import os
import subprocess
import sys
import tempfile
from collections import Counter
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from benchmarks.report import Figure, Section, Size, markdown_table

ROOT = Path(__file__).resolve().parents[1]

# ------------------------------------------------------------------ list prices (us-east-1)
# https://aws.amazon.com/step-functions/pricing/ : Standard workflows, per state transition
STEP_FUNCTIONS_PER_TRANSITION = 0.025 / 1000
# https://aws.amazon.com/lambda/pricing/ : requests, and compute on Arm (the template's architecture)
LAMBDA_PER_REQUEST = 0.20 / 1_000_000
LAMBDA_ARM_PER_GB_SECOND = 0.0000133334
# https://aws.amazon.com/dynamodb/pricing/on-demand/ : on-demand, Standard table class (since 1 Nov 2024)
DYNAMODB_PER_WRITE_UNIT = 0.625 / 1_000_000
DYNAMODB_PER_READ_UNIT = 0.125 / 1_000_000
# https://aws.amazon.com/eventbridge/pricing/ : custom events published, per 64 KB chunk (AWS service events are free)
EVENTBRIDGE_PER_CUSTOM_EVENT = 1.00 / 1_000_000
# https://aws.amazon.com/s3/pricing/ : S3 Standard requests
S3_PER_PUT = 0.005 / 1000  # PUT, COPY, POST, LIST
S3_PER_GET = 0.0004 / 1000  # GET, HEAD and the rest
# https://aws.amazon.com/kms/pricing/ : symmetric key requests
KMS_PER_REQUEST = 0.03 / 10_000
# https://aws.amazon.com/ses/pricing/ : outbound e-mail
SES_PER_EMAIL = 0.10 / 1000
TARGET_TRANSITIONS = 12
TARGET_PROMOTED_USD = 0.0005

FUNCTION_USER_AGENT = "exec-env/AWS_Lambda"
_DYNAMODB_WRITES = {"PutItem", "UpdateItem", "DeleteItem"}
_DYNAMODB_READS = {"GetItem", "Query", "Scan"}
APPROVERS = {
    "dev": ["ana.ortiz@example.com", "ben.okafor@example.com"],
    "preprod": ["chen.wei@example.com"],
    "prod": ["dara.novak@example.com", "eli.haddad@example.com"],
}


# ------------------------------------------------------------------ counting recorded requests
def _body(entry: dict[str, Any]) -> bytes:
    raw = entry.get("body") or ""
    return base64.b64decode(raw) if entry.get("body_encoded") else str(raw).encode()


def _service(headers: dict[str, str]) -> str:
    authorization = headers.get("Authorization", "")
    if "Credential=" not in authorization:
        return "unknown"
    return authorization.split("Credential=", 1)[1].split("/")[3]


def _operation(entry: dict[str, Any], service: str) -> str:
    target = entry["headers"].get("X-Amz-Target", "")
    if target:
        return target.rsplit(".", 1)[-1]
    if service == "s3":
        return "PUT" if entry["method"] in ("PUT", "POST", "DELETE") else "GET"
    body = _body(entry).decode(errors="replace")
    for part in body.split("&"):
        if part.startswith("Action="):
            return part.removeprefix("Action=")
    return entry["method"]


def _write_units(item: dict[str, Any]) -> int:
    return max(1, math.ceil(len(json.dumps(item)) / 1024))


def count_requests(lines: Iterable[str]) -> dict[str, Any]:
    """What the functions asked of AWS, from moto's request recording (one JSON object a line)."""
    calls: Counter[str] = Counter()
    wru = rru = custom_events = s3_puts = s3_gets = kms = emails = 0
    for line in lines:
        if not line.strip():
            continue
        entry = json.loads(line)
        headers = entry.get("headers", {})
        if FUNCTION_USER_AGENT not in headers.get("User-Agent", ""):
            continue
        service = _service(headers)
        operation = _operation(entry, service)
        calls[f"{service}:{operation}"] += 1
        if service == "dynamodb":
            request = json.loads(_body(entry) or b"{}")
            if operation in _DYNAMODB_WRITES:
                wru += _write_units(request.get("Item") or request.get("Key") or {})
            elif operation == "TransactWriteItems":
                for item in request.get("TransactItems", []):
                    action = next(iter(item.values()))
                    wru += 2 * _write_units(action.get("Item") or action.get("Key") or {})
            elif operation in _DYNAMODB_READS:
                rru += 1
            elif operation == "TransactGetItems":
                rru += 2 * len(request.get("TransactItems", []))
        elif service == "events" and operation == "PutEvents":
            entries = json.loads(_body(entry) or b"{}").get("Entries", [])
            custom_events += sum(max(1, math.ceil(len(json.dumps(e)) / 65536)) for e in entries)
        elif service == "s3":
            s3_puts += operation == "PUT"
            s3_gets += operation == "GET"
        elif service == "kms":
            kms += 1
        elif service in ("ses", "email"):
            emails += 1
    return {
        "calls": dict(sorted(calls.items())),
        "dynamodb_write_units": wru,
        "dynamodb_read_units": rru,
        "eventbridge_custom_events": custom_events,
        "s3_put_requests": s3_puts,
        "s3_get_requests": s3_gets,
        "kms_requests": kms,
        "ses_emails": emails,
    }


def price(story: dict[str, Any]) -> dict[str, float]:
    requests = story["requests"]
    usd = {
        "step_functions": story["state_transitions"] * STEP_FUNCTIONS_PER_TRANSITION,
        "lambda": story["lambda_invocations"] * LAMBDA_PER_REQUEST
        + story["lambda_gb_seconds"] * LAMBDA_ARM_PER_GB_SECOND,
        "dynamodb": requests["dynamodb_write_units"] * DYNAMODB_PER_WRITE_UNIT
        + requests["dynamodb_read_units"] * DYNAMODB_PER_READ_UNIT,
        "eventbridge": requests["eventbridge_custom_events"] * EVENTBRIDGE_PER_CUSTOM_EVENT,
        "s3": requests["s3_put_requests"] * S3_PER_PUT + requests["s3_get_requests"] * S3_PER_GET,
        "kms": requests["kms_requests"] * KMS_PER_REQUEST,
        "ses": requests["ses_emails"] * SES_PER_EMAIL,
    }
    # What the target covers; S3, KMS and SES are counted beside it.
    usd["core"] = usd["step_functions"] + usd["lambda"] + usd["dynamodb"] + usd["eventbridge"]
    usd["total"] = usd["core"] + usd["s3"] + usd["kms"] + usd["ses"]
    return usd


# ------------------------------------------------------------------ the stories (in a child process)
def _child(out: Path, recording: Path) -> None:
    from moto.moto_api import recorder

    from fmops_cli.approvals import publish_approvals, read_approval_files
    from fmops_cli.config import Connection
    from fmops_cli.demo import EXAMPLE, LEAKY_SET, leaky_copy
    from fmops_cli.deployments import publish_stages, read_stages_file
    from fmops_cli.policies import S3PolicyBucket, publish, read_policy_files
    from fmops_cli.submit import plan_submission, submit
    from fmops_local import LocalCloud
    from fmops_local.approvers import LocalApprover

    memory = _function_memory_mb()
    with tempfile.TemporaryDirectory() as state, LocalCloud(ROOT, port=0, state_dir=Path(state)) as cloud:
        outputs = cloud.outputs
        connection = Connection(cloud.session(), cloud.endpoint_url, local=True)
        s3 = connection.client("s3")
        bucket = S3PolicyBucket(outputs["PolicyBucketName"], s3)
        publish(read_policy_files(sorted((ROOT / "policies").glob("*.json"))), bucket)
        publish_approvals(read_approval_files(ROOT / "approvals/rules.json", ROOT / "approvals/directory.json"), bucket)
        publish_stages(read_stages_file(ROOT / "deployments/stages.json"), bucket)
        people = LocalApprover(cloud)
        sfn = connection.client("stepfunctions")
        stories: dict[str, Any] = {}

        def story(name: str, folder: Path, version: str, approve: bool) -> None:
            before = {fn: len(cloud.invocations(fn)) for fn in memory}
            recorder.reset_recording()
            recorder.start_recording()
            plan = plan_submission(folder, version=version, submitter_id="demo.user", submitter_email="d@example.com")
            submit(plan, s3, outputs["ArtifactBucketName"], None)
            cloud.wait_until_idle(timeout=180)
            if approve:
                for emails in APPROVERS.values():
                    for email in emails:
                        link = people.email_link(email, plan.version_id)
                        people.submit_decision(link, people.open_page(link), "approve")
                        cloud.wait_until_idle(timeout=180)
            recorder.stop_recording()
            prefix = plan.version_id.replace("/", "_", 1)
            promotion = _states_entered(sfn, outputs["PromotionStateMachineArn"], prefix, exact=True)
            deployment = _states_entered(sfn, outputs["DeploymentStateMachineArn"], prefix + "-", exact=False)
            runs = {fn: cloud.invocations(fn)[before[fn] :] for fn in memory}
            stories[name] = {
                "version_id": plan.version_id,
                "promotion_states": promotion,
                "deployment_states": deployment,
                "state_transitions": len(promotion) + len(deployment),
                "lambda_invocations": sum(len(r) for r in runs.values()),
                "lambda_by_function": {fn: len(r) for fn, r in runs.items() if r},
                "lambda_gb_seconds": sum(i.duration_ms / 1000 * memory[fn] / 1024 for fn, r in runs.items() for i in r),
                "requests": count_requests(recording.read_text().splitlines()),
            }

        with tempfile.TemporaryDirectory() as scratch:
            leaky = leaky_copy(ROOT / EXAMPLE, ROOT / LEAKY_SET, Path(scratch))
            story("rejected", leaky, "cost-rejected", approve=False)
        story("promoted_to_prod", ROOT / EXAMPLE, "cost-prod", approve=True)
    out.write_text(json.dumps(stories))


def _function_memory_mb() -> dict[str, int]:
    from samcli.commands._utils.template import get_template_data

    template = get_template_data(str(ROOT / "template.yaml"))
    default = int(template["Globals"]["Function"].get("MemorySize", 128))
    return {
        name: int(resource["Properties"].get("MemorySize", default))
        for name, resource in template["Resources"].items()
        if resource["Type"] == "AWS::Serverless::Function"
    }


def _states_entered(sfn: Any, arn: str, name: str, exact: bool) -> list[str]:
    entered: list[str] = []
    for execution in sfn.list_executions(stateMachineArn=arn)["executions"]:
        if (execution["name"] != name) if exact else not execution["name"].startswith(name):
            continue
        events = sfn.get_execution_history(executionArn=execution["executionArn"], maxResults=1000)["events"]
        entered += [e["stateEnteredEventDetails"]["name"] for e in events if "stateEnteredEventDetails" in e]
    return entered


# ------------------------------------------------------------------ the section
def run(size: Size) -> Section:
    """Both stories at every size: they are one version each (TINY checks the same code, just as fast)."""
    with tempfile.TemporaryDirectory() as scratch:
        out, recording = Path(scratch) / "stories.json", Path(scratch) / "recording.jsonl"
        # moto's recorder reads its file's path from the environment when moto is imported: a child process.
        env = {**os.environ, "MOTO_RECORDER_FILEPATH": str(recording)}
        command = [sys.executable, "-m", "benchmarks.cost", "--child", str(out), "--recording", str(recording)]
        completed = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=900)
        if completed.returncode != 0:
            raise RuntimeError(f"cost stories failed:\n{completed.stderr[-3000:]}")
        stories = json.loads(out.read_text())
    for story in stories.values():
        story["usd"] = price(story)
    promoted, rejected = stories["promoted_to_prod"], stories["rejected"]
    figures = [
        Figure(
            "state transitions, version promoted to prod",
            str(promoted["state_transitions"]),
            f"<= {TARGET_TRANSITIONS}",
            promoted["state_transitions"] <= TARGET_TRANSITIONS,
        ),
        Figure(
            "cost of a version promoted to prod: Step Functions, Lambda, DynamoDB, EventBridge",
            f"${promoted['usd']['core']:.6f}",
            f"<= ${TARGET_PROMOTED_USD}",
            promoted["usd"]["core"] <= TARGET_PROMOTED_USD,
        ),
        Figure(
            "the same with S3, KMS and SES (e-mails to approvers) added",
            f"${promoted['usd']['total']:.6f}",
        ),
        Figure("cost of a rejected version (all of the above)", f"${rejected['usd']['total']:.6f}"),
    ]
    return Section(
        key="cost",
        title="Cost model: a rejected version and a version promoted to prod",
        method=__doc__ or "",
        results=stories,
        figures=figures,
        details_markdown=_details(stories),
    )


def _details(stories: dict[str, Any]) -> str:
    names = list(stories)
    rows = [
        ["state transitions", *(str(stories[n]["state_transitions"]) for n in names)],
        ["Lambda invocations", *(str(stories[n]["lambda_invocations"]) for n in names)],
        ["Lambda GB-seconds (local durations)", *(f"{stories[n]['lambda_gb_seconds']:.3f}" for n in names)],
        ["DynamoDB write units", *(str(stories[n]["requests"]["dynamodb_write_units"]) for n in names)],
        ["DynamoDB read units (lower bound)", *(str(stories[n]["requests"]["dynamodb_read_units"]) for n in names)],
        ["EventBridge custom events", *(str(stories[n]["requests"]["eventbridge_custom_events"]) for n in names)],
        [
            "S3 PUT / GET requests",
            *(
                f"{stories[n]['requests']['s3_put_requests']} / {stories[n]['requests']['s3_get_requests']}"
                for n in names
            ),
        ],
        ["KMS requests", *(str(stories[n]["requests"]["kms_requests"]) for n in names)],
        ["SES e-mails", *(str(stories[n]["requests"]["ses_emails"]) for n in names)],
    ]
    for part in ("step_functions", "lambda", "dynamodb", "eventbridge", "core", "s3", "kms", "ses", "total"):
        rows.append([f"USD {part}", *(f"{stories[n]['usd'][part]:.7f}" for n in names)])
    text = markdown_table(["per version", *names], rows)
    for name in names:
        story = stories[name]
        text += f"\n\n{name}: promotion {' > '.join(story['promotion_states'])}"
        if story["deployment_states"]:
            text += f"; deployment {' > '.join(story['deployment_states'])}"
        text += "\nLambda: " + ", ".join(f"{fn} {n}" for fn, n in sorted(story["lambda_by_function"].items()))
    return text


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--child", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--recording", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        _child(args.child, args.recording)
        return
    section = run(Size.FULL)
    print(section.details_markdown)


if __name__ == "__main__":
    main()
