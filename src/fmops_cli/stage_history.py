"""`fmops history` and `fmops rollback`: what served a stage when, and putting it back on an earlier version.

`history` answers the auditor's question from the deployment records alone (fmops.deployment.history):
what was serving GROUP in STAGE at a moment, since when, approved by whom, on which evidence, with
the artifact digest and the endpoint configuration; without --at, the stage's whole timeline.

`rollback` asks for a deployment like any other: it starts the deployment state machine for the
version to go back to, and that deployment first asks the stage's approvers (the approval rules of
the stage, a fresh approval of its own), then deploys, smoke-tests and records it.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from fmops.deployment.history import DeploymentRecord, Serving, rollback_target, serving_at, timeline
from fmops.gate.policy import Stage
from fmops_cli.errors import CliError, InputError

STAGES = [stage.value for stage in Stage]


def parse_moment(text: str) -> datetime:
    """An ISO-8601 moment; a date alone or a time without zone is read as UTC (said in the answer)."""
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not an ISO-8601 time such as 2026-03-03 or 2026-03-03T14:00:00Z"
        ) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def history_document(
    records: Sequence[DeploymentRecord], group: str, stage: Stage, at: datetime | None
) -> dict[str, Any]:
    ordered = timeline(records, group, stage)
    moment = at or datetime.now(UTC)
    serving = serving_at(ordered, group, stage, moment)
    return {
        "model_group": group,
        "stage": stage.value,
        "at": moment.isoformat(),
        "serving": _serving(serving),
        "timeline": [record.model_dump(mode="json") for record in ordered] if at is None else None,
    }


def _serving(serving: Serving | None) -> dict[str, Any] | None:
    if serving is None:
        return None
    record = serving.deployment
    return {
        "version_id": serving.version_id,
        "since": serving.since.isoformat(),
        "deployment_id": record.deployment_id,
        "kind": record.kind.value,
        "approved_by": serving.approved_by,
        "approval_id": serving.approval_id,
        "evidence_uri": serving.evidence_uri,
        "artifact_sha256": serving.artifact_sha256,
        "endpoint_config_name": record.endpoint_config_name,
    }


def render_history(document: dict[str, Any]) -> str:
    group, stage, at = document["model_group"], document["stage"], document["at"]
    serving = document["serving"]
    lines = []
    if serving is None:
        lines.append(f"At {at}, nothing fmops deployed was serving {group} in {stage}.")
    else:
        approvers = ", ".join(serving["approved_by"]) or "nobody (no fmops approval)"
        lines += [
            f"At {at}, {stage} served {serving['version_id']} for {group}",
            f"  since        {serving['since']} ({serving['kind']} {serving['deployment_id']})",
            f"  approved by  {approvers} (approval {serving['approval_id'] or '-'})",
            f"  evidence     {serving['evidence_uri'] or '-'}",
            f"  artifact     sha256 {serving['artifact_sha256']} (of the registered manifest)",
            f"  endpoint     configuration {serving['endpoint_config_name'] or '- (registry-only)'}",
        ]
    if document["timeline"]:
        lines += ["", f"Deployments of {group} to {stage}, oldest first:"]
        for record in document["timeline"]:
            why = f": {record['reason']}" if record["reason"] else ""
            lines.append(
                f"  {record['finished_at']}  {record['kind']:<8} {record['version_id']:<28} {record['outcome']}{why}"
            )
    return "\n".join(lines)


def choose_rollback(
    records: Sequence[DeploymentRecord], group: str, stage: Stage, to: str | None, now: datetime
) -> tuple[str, str]:
    """(the version serving now, the version to go back to); raises CliError when there is no sensible target."""
    current = serving_at(records, group, stage, now)
    if current is None:
        raise CliError(f"nothing fmops deployed serves {group} in {stage.value}: there is nothing to roll back")
    if to is None:
        target = rollback_target(records, group, stage, current.version_id)
        if target is None:
            raise CliError(
                f"{stage.value} has no earlier approved version of {group} to go back to",
                hint="name one with --to GROUP/VERSION; `fmops history` lists what served there",
            )
        return current.version_id, target.version_id
    if to == current.version_id:
        raise InputError(f"{to} is what {stage.value} serves now: nothing to roll back")
    if not any(r.version_id == to and r.served for r in timeline(records, group, stage)):
        raise InputError(
            f"{to} never served {group} in {stage.value}: a rollback goes back to a version that served there",
            hint=f"fmops history {group} --stage {stage.value} lists them",
        )
    return current.version_id, to
