"""What one version costs in the control plane, from upload to serving in prod, counted on the local cloud.

    .venv/bin/python benchmarks/promotion_to_prod.py

Starts a local cloud, publishes the policies, the approval rules and the deployment stages, submits
the example version and approves it as people do (dev: Ana and Ben; preprod: Chen; prod: Dara and
Eli, each through the link e-mailed to them), until it serves in prod. Then it counts what ran:

- state transitions: every state entered in the version's promotion and deployment executions
  (Step Functions Standard bills each one);
- Lambda invocations per function, and GB-seconds from the local durations and each function's
  memory in template.yaml (local durations run in-process against moto: an indication, not Lambda's);
- the cost at list prices (us-east-1): the constants below, with their source.

The model's own endpoints, DynamoDB, S3, EventBridge, SES and KMS are left out. A measurement, not a test.
"""

from __future__ import annotations

import tempfile
from collections import Counter
from pathlib import Path
from typing import Any

from samcli.commands._utils.template import get_template_data

from fmops_cli.approvals import publish_approvals, read_approval_files
from fmops_cli.config import Connection
from fmops_cli.deployments import publish_stages, read_stages_file
from fmops_cli.policies import S3PolicyBucket, publish, read_policy_files
from fmops_cli.submit import plan_submission, submit
from fmops_local import LocalCloud
from fmops_local.approvers import LocalApprover

ROOT = Path(__file__).resolve().parents[1]
# https://aws.amazon.com/step-functions/pricing/ (Standard workflows, us-east-1)
STEP_FUNCTIONS_USD_PER_TRANSITION = 0.025 / 1000
# https://aws.amazon.com/lambda/pricing/ (us-east-1, Arm: the template's architecture)
LAMBDA_USD_PER_REQUEST = 0.20 / 1_000_000
LAMBDA_ARM_USD_PER_GB_SECOND = 0.0000133334
APPROVERS = {
    "dev": ["ana.ortiz@example.com", "ben.okafor@example.com"],
    "preprod": ["chen.wei@example.com"],
    "prod": ["dara.novak@example.com", "eli.haddad@example.com"],
}


def function_memory_mb() -> dict[str, int]:
    template = get_template_data(str(ROOT / "template.yaml"))
    default = int(template["Globals"]["Function"].get("MemorySize", 128))
    return {
        name: int(resource["Properties"].get("MemorySize", default))
        for name, resource in template["Resources"].items()
        if resource["Type"] == "AWS::Serverless::Function"
    }


def states_entered(sfn: Any, state_machine_arn: str, prefix: str) -> list[str]:
    names = []
    for execution in sfn.list_executions(stateMachineArn=state_machine_arn)["executions"]:
        if not execution["name"].startswith(prefix):
            continue
        events = sfn.get_execution_history(executionArn=execution["executionArn"], maxResults=1000)["events"]
        names += [e["stateEnteredEventDetails"]["name"] for e in events if "stateEnteredEventDetails" in e]
    return names


def main() -> None:
    with tempfile.TemporaryDirectory() as state, LocalCloud(ROOT, port=0, state_dir=Path(state)) as cloud:
        outputs = cloud.outputs
        connection = Connection(cloud.session(), cloud.endpoint_url, local=True)
        s3 = connection.client("s3")
        bucket = S3PolicyBucket(outputs["PolicyBucketName"], s3)
        publish(read_policy_files(sorted((ROOT / "policies").glob("*.json"))), bucket)
        publish_approvals(read_approval_files(ROOT / "approvals/rules.json", ROOT / "approvals/directory.json"), bucket)
        publish_stages(read_stages_file(ROOT / "deployments/stages.json"), bucket)
        plan = plan_submission(
            ROOT / "examples/sentiment-classifier",
            version="bench-prod",
            submitter_id="demo.user",
            submitter_email="demo.user@example.com",
        )
        version_id = plan.version_id
        submit(plan, s3, outputs["ArtifactBucketName"], None)
        cloud.wait_until_idle(timeout=120)
        people = LocalApprover(cloud)
        for stage, emails in APPROVERS.items():
            for email in emails:
                link = people.email_link(email, version_id)
                decided = people.submit_decision(link, people.open_page(link), "approve")
                assert decided.notice == "decided", f"{email} could not approve {stage}: {decided.body[:300]}"
                cloud.wait_until_idle(timeout=120)

        sfn = connection.client("stepfunctions")
        prefix = version_id.replace("/", "_", 1)
        promotion = states_entered(sfn, outputs["PromotionStateMachineArn"], prefix)
        deployment = states_entered(sfn, outputs["DeploymentStateMachineArn"], prefix + "-")
        assert deployment and deployment[-1] == "Deployed", f"not serving in prod: {deployment}"
        memory = function_memory_mb()
        invocations = {name: cloud.invocations(name) for name in memory}
        counts = Counter({name: len(runs) for name, runs in invocations.items() if runs})
        gb_seconds = sum(
            run.duration_ms / 1000 * memory[name] / 1024 for name, runs in invocations.items() for run in runs
        )

    transitions = len(promotion) + len(deployment)
    requests = sum(counts.values())
    sfn_cost = transitions * STEP_FUNCTIONS_USD_PER_TRANSITION
    lambda_cost = requests * LAMBDA_USD_PER_REQUEST + gb_seconds * LAMBDA_ARM_USD_PER_GB_SECOND
    print(f"version {version_id}: upload -> serving in prod (5 approvers over 3 stages)")
    print(f"state transitions: {transitions} (promotion {len(promotion)}, deployment {len(deployment)})")
    print(f"  promotion:  {' > '.join(promotion)}")
    print(f"  deployment: {' > '.join(deployment)}")
    print(f"Lambda invocations: {requests}")
    for name, count in counts.most_common():
        print(f"  {count:3d}  {name}")
    print(f"Lambda GB-seconds (local durations x template memory): {gb_seconds:.3f}")
    total = sfn_cost + lambda_cost
    print(f"cost at list prices: Step Functions ${sfn_cost:.6f} + Lambda ${lambda_cost:.6f} = ${total:.6f}")


if __name__ == "__main__":
    main()
