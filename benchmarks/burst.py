"""Burst: a fine-tuning sweep registers many model versions at once through the local cloud.

    .venv/bin/python -m benchmarks.burst [--versions 1000] [--deadline 360]

Starts a local cloud and publishes the policies, then uploads every version at once from a pool
of threads: one tiny artifact, then its manifest (last, as the convention requires), spread over
10 model groups (model package groups) as a sweep's trials would be. The manifests name no
evaluation set, so each promotion parks at StartEvaluation, waiting for an external evaluator's
task token: what the control plane does on its own for a new version.

A version is done when intake registered it (model package, catalog), its promotion execution
ran StartPromotion (catalog: PendingEvaluation) and StartEvaluation returned (the execution
waits for its task token). The burst is done when every version is and the local cloud is idle
(`LocalCloud.wait_until_idle`: no async event queued, running or waiting for a retry, no
execution moving; parked ones count as idle), so every audit record is written too. The clock
starts before the first upload and stops then; versions per second = versions / that time.
Then the exactly-once check counts what exists, per version: catalog items with a status of
Registered or later, model packages (by their fmops:version_id), promotion executions, and the
messages in every dead-letter queue. Past the deadline the run stops waiting and reports how
many versions were done by then; it counts while the cloud still works, so the counts differ.
"""

from __future__ import annotations

import argparse
import collections
import hashlib
import json
import os
import platform
import tempfile
import time
import urllib.error
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from botocore.config import Config

from benchmarks.report import Figure, Section, Size, markdown_table, percentile
from fmops_cli.policies import S3PolicyBucket, publish, read_policy_files
from fmops_local import LocalCloud

ROOT = Path(__file__).resolve().parents[1]
VERSIONS = {Size.FULL: 1000, Size.TINY: 5}
# Room for the other benchmarks of `make bench` in its 15 minutes; past it, what was done is reported.
DEADLINE_S = {Size.FULL: 300.0, Size.TINY: 120.0}
GROUPS = 10  # the sweep spreads over a few model package groups: version i goes to group i % GROUPS
UPLOADERS = 8
TARGET_PER_SECOND = 100
POLL_S = 0.5  # between checks for done: each check costs the moto process a little CPU
REGISTERED_OR_LATER = {"Registered", "PendingEvaluation", "Evaluated", "PendingApproval", "Approved"}
PARKED_AT = "StartEvaluationFunction"  # its successful return = the version's promotion waits for a token


@dataclass(frozen=True)
class Version:
    group: str
    name: str
    weights: bytes

    @property
    def version_id(self) -> str:
        return f"{self.group}/{self.name}"

    @property
    def execution_name(self) -> str:
        return f"{self.group}_{self.name}"

    @property
    def prefix(self) -> str:
        return f"models/{self.group}/{self.name}/"

    def manifest(self) -> bytes:
        document = {
            "schema_version": "1",
            "model_group": self.group,
            "version": self.name,
            "kind": "fine-tuned",
            "task": "text-classification",
            "base_model": {"name": "distilbert-base-uncased", "provider": "huggingface", "licence": "apache-2.0"},
            "artifacts": [
                {
                    "path": "model/weights.bin",
                    "sha256": hashlib.sha256(self.weights).hexdigest(),
                    "size_bytes": len(self.weights),
                }
            ],
            "lineage": {
                "datasets": [{"name": "reviews-2026", "uri": "s3://data/reviews/2026/", "classification": "internal"}],
                "code": {"repository": "https://git.example.com/ml/sentiment", "commit": "3f2a9c1"},
            },
            "intended_use": "Route customer reviews by sentiment.",
            "limitations": "English only; not for medical or legal text.",
            "risk_tier": "low",
            "owner_team": "customer-insights",
            "submitter": {"id": "sweep.bot", "email": "sweep.bot@example.com"},
        }
        return json.dumps(document).encode()


def sweep(count: int) -> list[Version]:
    return [
        Version(f"burst-sweep-{i % GROUPS:02d}", f"lr-{i:05d}", f"weights of trial {i}".encode()) for i in range(count)
    ]


@dataclass(frozen=True)
class Timing:
    upload_s: float  # until S3 accepted the last manifest
    parked_s: float | None  # until the last promotion parked at StartEvaluation
    idle_s: float | None  # until the local cloud was idle as well: the burst's wall time
    deadline_s: float
    parked: int  # versions parked at StartEvaluation when the wait ended


def run(size: Size) -> Section:
    return measure(VERSIONS[size], DEADLINE_S[size])


def measure(count: int, deadline_s: float) -> Section:
    versions = sweep(count)
    with tempfile.TemporaryDirectory() as state:
        cloud = LocalCloud(ROOT, port=0, state_dir=Path(state))
        cloud.start()
        try:
            section = _burst(cloud, versions, deadline_s)
        finally:
            stop_error = _stop(cloud)
    if stop_error:
        section.results["stop_error"] = stop_error
        section.details_markdown += f"\n\nStopping the local cloud failed after the measurement: {stop_error}."
    return section


def _burst(cloud: LocalCloud, versions: list[Version], deadline_s: float) -> Section:
    outputs = cloud.outputs
    # One client for every uploader (boto3 clients are thread-safe), a connection per thread.
    s3 = cloud.session().client("s3", endpoint_url=cloud.endpoint_url, config=Config(max_pool_connections=UPLOADERS))
    publish(
        read_policy_files(sorted((ROOT / "policies").glob("*.json"))), S3PolicyBucket(outputs["PolicyBucketName"], s3)
    )
    bucket = outputs["ArtifactBucketName"]

    def upload(version: Version) -> None:
        s3.put_object(Bucket=bucket, Key=version.prefix + "model/weights.bin", Body=version.weights)
        s3.put_object(Bucket=bucket, Key=version.prefix + "manifest.json", Body=version.manifest())

    cpu_before = _cpu_seconds()
    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=UPLOADERS) as pool:
        list(pool.map(upload, versions))
    upload_s = time.perf_counter() - started
    timing = _wait_until_done(cloud, len(versions), started, upload_s, deadline_s)
    cpu = {name: seconds - cpu_before.get(name, 0.0) for name, seconds in _cpu_seconds().items()}
    return _section(len(versions), timing, _exactly_once(cloud, versions), _invocations(cloud), cpu)


def _stop(cloud: LocalCloud) -> str | None:
    """Stop the local cloud; a stop that times out is reported, not raised: the measurement is done.

    After a deadline moto may still be busy with the backlog, and LocalCloud.stop resets it over HTTP
    with a 10 s timeout (server.py).
    """
    try:
        cloud.stop()
    except (TimeoutError, urllib.error.URLError) as error:
        return f"{type(error).__name__}: {error}"
    return None


def _wait_until_done(cloud: LocalCloud, count: int, started: float, upload_s: float, deadline_s: float) -> Timing:
    parked_s: float | None = None
    while True:
        parked = _successes(cloud, PARKED_AT)
        if parked_s is None and parked >= count:
            parked_s = time.perf_counter() - started
        try:
            # Returns within two quiet polls when idle; a busy cloud raises at once after the timeout.
            cloud.wait_until_idle(timeout=0.1)
        except TimeoutError:
            if time.perf_counter() - started > deadline_s:
                return Timing(upload_s, parked_s, None, deadline_s, parked)
            time.sleep(POLL_S)
            continue
        idle_s = time.perf_counter() - started
        parked = _successes(cloud, PARKED_AT)
        if parked_s is None and parked >= count:
            parked_s = idle_s
        return Timing(upload_s, parked_s, idle_s, deadline_s, parked)


def _successes(cloud: LocalCloud, function: str) -> int:
    return sum(1 for invocation in cloud.invocations(function) if invocation.error_type is None)


def _cpu_seconds() -> dict[str, float]:
    """CPU seconds (user + system) so far of this process (moto, Step Functions, event delivery, the uploaders)
    and of each function's worker process, from /proc (empty where there is none)."""
    tick = os.sysconf("SC_CLK_TCK")
    this = str(os.getpid())
    cpu: dict[str, float] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()  # after "pid (comm)": state, ppid, ...
            if stat.parent.name != this and fields[1] != this:
                continue
            name = "local cloud process (moto)" if stat.parent.name == this else _worker_name(stat.parent)
        except (OSError, IndexError):
            continue  # the process ended meanwhile
        cpu[name] = cpu.get(name, 0.0) + (int(fields[11]) + int(fields[12])) / tick
    return cpu


def _worker_name(process: Path) -> str:
    arguments = (process / "cmdline").read_bytes().split(b"\0")
    if b"--function-name" in arguments:
        return "worker " + arguments[arguments.index(b"--function-name") + 1].decode()
    return "other child process"


def _exactly_once(cloud: LocalCloud, versions: list[Version]) -> dict[str, Any]:
    """What exists after the burst, counted per version id; anything counted twice is a duplicate."""
    outputs = cloud.outputs
    session, endpoint = cloud.session(), cloud.endpoint_url
    dynamodb = session.client("dynamodb", endpoint_url=endpoint)
    sagemaker = session.client("sagemaker", endpoint_url=endpoint)
    sfn = session.client("stepfunctions", endpoint_url=endpoint)
    sqs = session.client("sqs", endpoint_url=endpoint)
    expected = {version.version_id for version in versions}

    catalog: collections.Counter[str] = collections.Counter()
    catalog_statuses: collections.Counter[str] = collections.Counter()
    for item in _pages(dynamodb, "scan", "Items", TableName=outputs["CatalogTableName"]):
        if "status" not in item:
            continue  # a serving pointer, not a version
        catalog_statuses[item["status"]["S"]] += 1
        if item["status"]["S"] in REGISTERED_OR_LATER:
            catalog[item["version_id"]["S"]] += 1

    packages: collections.Counter[str] = collections.Counter()
    for group in sorted({version.group for version in versions}):
        for summary in _pages(sagemaker, "list_model_packages", "ModelPackageSummaryList", ModelPackageGroupName=group):
            described = sagemaker.describe_model_package(ModelPackageName=summary["ModelPackageArn"])
            packages[described.get("CustomerMetadataProperties", {}).get("fmops:version_id", "(none)")] += 1

    executions: collections.Counter[str] = collections.Counter()
    execution_statuses: collections.Counter[str] = collections.Counter()
    version_of = {version.execution_name: version.version_id for version in versions}
    arn = outputs["PromotionStateMachineArn"]
    for execution in _pages(sfn, "list_executions", "executions", stateMachineArn=arn):
        executions[version_of.get(execution["name"], execution["name"])] += 1
        execution_statuses[execution["status"]] += 1

    dead_letters = {}
    for name, url in sorted(outputs.items()):
        if name.endswith("DeadLetterQueueUrl"):
            attributes = sqs.get_queue_attributes(
                QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
            )["Attributes"]
            dead_letters[name.removesuffix("Url")] = sum(int(value) for value in attributes.values())

    def tally(counter: collections.Counter[str]) -> dict[str, int]:
        return {
            "distinct": len(expected & set(counter)),
            "missing": len(expected - set(counter)),
            "duplicates": sum(n - 1 for key, n in counter.items() if key in expected and n > 1),
            "unexpected": sum(n for key, n in counter.items() if key not in expected),
        }

    return {
        "versions": len(versions),
        "catalog": tally(catalog) | {"statuses": dict(catalog_statuses)},
        "packages": tally(packages),
        "executions": tally(executions) | {"statuses": dict(execution_statuses)},
        "dead_letters": dead_letters,
    }


def _pages(client: Any, operation: str, key: str, **parameters: Any) -> Iterator[dict[str, Any]]:
    for page in client.get_paginator(operation).paginate(**parameters):
        yield from page[key]


def _invocations(cloud: LocalCloud) -> dict[str, dict[str, Any]]:
    table = {}
    for function in sorted(cloud.function_environments()):
        records = cloud.invocations(function)
        if not records:
            continue
        warm = [record.duration_ms for record in records if not record.cold_start] or [0.0]
        table[function] = {
            "invocations": len(records),
            "retries": sum(1 for record in records if record.attempt > 1),
            "errors": dict(collections.Counter(record.error_type for record in records if record.error_type)),
            "cold_starts": sum(1 for record in records if record.cold_start),
            "warm_median_ms": round(percentile(warm, 50), 1),
            "warm_p95_ms": round(percentile(warm, 95), 1),
            "busy_s": round(sum(record.duration_ms for record in records) / 1000, 1),
        }
    return table


def _exactly_once_met(counts: dict[str, Any]) -> bool:
    parts = [counts[part] for part in ("catalog", "packages", "executions")]
    every_version = all(part["distinct"] == counts["versions"] for part in parts)
    nothing_else = all(part["duplicates"] == 0 and part["unexpected"] == 0 for part in parts)
    return every_version and nothing_else and not any(counts["dead_letters"].values())


def _section(
    count: int,
    timing: Timing,
    counts: dict[str, Any],
    invocations: dict[str, dict[str, Any]],
    cpu: dict[str, float],
) -> Section:
    per_second = count / timing.idle_s if timing.idle_s is not None else None
    results: dict[str, Any] = {
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
        "versions": count,
        "groups": min(GROUPS, count),
        "uploaders": UPLOADERS,
        "upload_s": round(timing.upload_s, 2),
        "all_parked_s": _round(timing.parked_s),
        "wall_s": _round(timing.idle_s),
        "versions_per_s": _round(per_second),
        "deadline_s": timing.deadline_s,
        "timed_out": timing.idle_s is None,
        "parked_when_done": timing.parked,
        "exactly_once": counts,
        "invocations": invocations,
        "cpu_s": {name: round(seconds, 1) for name, seconds in sorted(cpu.items(), key=lambda item: -item[1])},
    }
    if per_second is not None:
        rate = f"{per_second:.1f}/s ({count:,} in {timing.idle_s:.1f} s)"
    else:
        partial = timing.parked / timing.deadline_s
        rate = f"not done in {timing.deadline_s:.0f} s: {timing.parked:,} of {count:,} parked ({partial:.1f}/s)"
    figures = [
        Figure(
            "versions per second through the local cloud",
            rate,
            f">= {TARGET_PER_SECOND}/s",
            per_second is not None and per_second >= TARGET_PER_SECOND,
        ),
        Figure(
            "exactly once (versions, packages, executions, duplicates, DLQs)",
            _once_summary(counts),
            f"{count:,} of each, 0 duplicates, empty DLQs",
            _exactly_once_met(counts),
        ),
    ]
    return Section(
        key="burst",
        title=f"Burst: {count:,} model versions at once",
        method=" ".join(" ".join(__doc__.split("\n\n")[2:]).split()) if __doc__ else "",
        results=results,
        figures=figures,
        details_markdown=_details(results),
    )


def _round(value: float | None) -> float | None:
    return round(value, 2) if value is not None else None


def _once_summary(counts: dict[str, Any]) -> str:
    duplicates = sum(counts[part]["duplicates"] for part in ("catalog", "packages", "executions"))
    return (
        f"{counts['catalog']['distinct']:,} versions, {counts['packages']['distinct']:,} packages, "
        f"{counts['executions']['distinct']:,} executions, {duplicates} duplicates, "
        f"{sum(counts['dead_letters'].values())} DLQ messages"
    )


def _details(results: dict[str, Any]) -> str:
    count = results["versions"]

    def phase(name: str, seconds: float | None) -> list[str]:
        return [name, f"{seconds:.1f}", f"{count / seconds:.1f}"] if seconds else [name, "not reached", "-"]

    timing = markdown_table(
        ["from the first upload until", "seconds", "versions/s"],
        [
            phase("S3 accepted the last manifest", results["upload_s"]),
            phase("the last promotion parked at StartEvaluation", results["all_parked_s"]),
            phase("the local cloud was idle (audit trail written): wall time", results["wall_s"]),
        ],
    )
    once = results["exactly_once"]
    exactly = markdown_table(
        ["counted per version", "distinct", "missing", "duplicates", "unexpected"],
        [
            [name, *(str(once[part][key]) for key in ("distinct", "missing", "duplicates", "unexpected"))]
            for name, part in (
                ("catalog items, Registered or later", "catalog"),
                ("model packages", "packages"),
                ("promotion executions", "executions"),
            )
        ],
    )
    dead = markdown_table(
        ["dead-letter queue", "messages"], [[name, str(n)] for name, n in once["dead_letters"].items()]
    )
    functions = markdown_table(
        ["function", "invocations", "retries", "errors", "cold starts", "warm median ms", "warm p95 ms", "busy s"],
        [
            [
                name,
                str(row["invocations"]),
                str(row["retries"]),
                ", ".join(f"{n} {error}" for error, n in row["errors"].items()) or "0",
                *(str(row[key]) for key in ("cold_starts", "warm_median_ms", "warm_p95_ms", "busy_s")),
            ]
            for name, row in results["invocations"].items()
        ],
    )
    wall = results["wall_s"] or results["deadline_s"]
    cpu = markdown_table(
        ["process", "CPU s", "of one core"],
        [[name, f"{seconds:.1f}", f"{seconds / wall:.0%}"] for name, seconds in results["cpu_s"].items()],
    )
    notes = (
        f"{count:,} versions in {results['groups']} model package groups, uploaded by {results['uploaders']} "
        f"threads on {results['machine']['cpus']} CPUs. Catalog statuses: {once['catalog']['statuses']}; "
        f"execution statuses: {once['executions']['statuses']}. Each function runs its invocations one at a "
        "time in one warm worker process, so its busy seconds bound the wall time from below; errors of "
        "StartPromotion are retried by the state machine (not counted as retries, which are async redeliveries)."
    )
    return "\n\n".join([timing, exactly, dead, functions, cpu, notes])


def markdown(section: Section) -> str:
    figures = markdown_table(
        ["figure", "value", "target", "met"],
        [
            [figure.name, figure.value, figure.target, "-" if figure.met is None else ("yes" if figure.met else "no")]
            for figure in section.figures
        ],
    )
    return f"## {section.title}\n\n{section.method}\n\n{figures}\n\n{section.details_markdown}\n"


def main() -> None:
    parser = argparse.ArgumentParser(description="Burst: many model versions at once through the local cloud.")
    parser.add_argument("--versions", type=int, default=VERSIONS[Size.FULL])
    parser.add_argument("--deadline", type=float, default=DEADLINE_S[Size.FULL], help="seconds to wait at most")
    args = parser.parse_args()
    print(markdown(measure(args.versions, args.deadline)))


if __name__ == "__main__":
    main()
