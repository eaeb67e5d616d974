"""How fast and how big the approval page is, and how fast the Slack endpoint answers, on the local cloud.

    .venv/bin/python benchmarks/approval_page.py [--views 30]

Starts a local cloud, publishes the policies and approval rules, submits the example version and
waits until it asks for approval. Then it opens Ana's e-mailed link over HTTP: once cold (the
page function's worker process starts: imports, clients), then --views times warm. Opening a
link changes nothing, so every view renders the full evidence page. Reported: the cold time,
the warm median and p95, and the page's size in bytes (HTML, no other assets exist).
Then the Slack interactivity endpoint: --views signed clicks by a Slack user outside the directory
(the whole path: signature, replay key, payload, directory, refusal recorded, ephemeral reply),
and one accepted Approve. Slack wants an answer within 3 seconds. A measurement, not a test.
"""

from __future__ import annotations

import argparse
import platform
import statistics
import tempfile
from pathlib import Path

from fmops.adapters.dynamodb import DynamoCatalog
from fmops_cli.approvals import publish_approvals, read_approval_files
from fmops_cli.config import Connection
from fmops_cli.policies import S3PolicyBucket, publish, read_policy_files
from fmops_cli.submit import plan_submission, submit
from fmops_local import LocalCloud
from fmops_local.approvers import LocalApprover, approval_id_of

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--views", type=int, default=30)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as state, LocalCloud(ROOT, port=0, state_dir=Path(state)) as cloud:
        outputs = cloud.outputs
        connection = Connection(cloud.session(), cloud.endpoint_url, local=True)
        s3 = connection.client("s3")
        bucket = S3PolicyBucket(outputs["PolicyBucketName"], s3)
        publish(read_policy_files(sorted((ROOT / "policies").glob("*.json"))), bucket)
        publish_approvals(read_approval_files(ROOT / "approvals/rules.json", ROOT / "approvals/directory.json"), bucket)
        plan = plan_submission(
            ROOT / "examples/sentiment-classifier",
            version="bench-page",
            submitter_id="demo.user",
            submitter_email="demo.user@example.com",
        )
        submit(
            plan,
            s3,
            outputs["ArtifactBucketName"],
            DynamoCatalog(outputs["CatalogTableName"], connection.client("dynamodb")),
        )
        cloud.wait_until_idle(timeout=120)
        people = LocalApprover(cloud)
        link = people.email_link("ana.ortiz@example.com", plan.version_id)
        cold = people.open_page(link)
        warm = [people.open_page(link) for _ in range(args.views)]
        approval_id = approval_id_of(link)
        slack_cold = people.slack_click("U0NOTINDIR", approval_id)
        slack_warm = [people.slack_click("U0NOTINDIR", approval_id) for _ in range(args.views)]
        slack_approve = people.slack_click("U0EXBENOKA", approval_id)
    assert cold.status == 200 and all(view.status == 200 for view in warm)
    assert slack_approve.status == 200 and all(click.status == 200 for click in slack_warm)
    times = sorted(view.seconds * 1000 for view in warm)
    p95 = times[max(0, round(0.95 * len(times)) - 1)]
    print(f"machine: {platform.processor() or platform.machine()}, Python {platform.python_version()}")
    print(f"approval page: {len(cold.body.encode())} bytes of HTML, no other request")
    print(f"cold (first view, worker starts): {cold.seconds * 1000:.0f} ms")
    print(f"warm ({args.views} views): median {statistics.median(times):.1f} ms, p95 {p95:.1f} ms")
    clicks = sorted(click.seconds * 1000 for click in slack_warm)
    print(
        f"slack endpoint: cold {slack_cold.seconds * 1000:.0f} ms; {args.views} refused clicks: median "
        f"{statistics.median(clicks):.1f} ms, max {clicks[-1]:.1f} ms; "
        f"accepted Approve {slack_approve.seconds * 1000:.1f} ms"
    )


if __name__ == "__main__":
    main()
