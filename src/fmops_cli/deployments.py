"""`fmops deployments validate` and `fmops deployments publish`: check the deployment stages file and put
it in the policy bucket, where deployments read it. Validation, upload and output follow
`fmops approvals validate|publish` and share their helpers."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from fmops.approvals.rules import describe
from fmops.deployment.config import (
    STAGES_KEY,
    DeploymentStages,
    DeploymentStagesInvalid,
    StageConfig,
    Target,
    parse_stages,
)
from fmops_cli.approvals import (
    ApprovalFile,
    ApprovalPublication,
    _count,
    _lines,
    _read,
    _row,
    publish_approvals,
)
from fmops_cli.errors import InputError
from fmops_cli.policies import PolicyBucket

DEFAULT_STAGES = Path("deployments") / "stages.json"
FORMAT_HELP = "layers/fmops/fmops/deployment/config.py describes the file"


@dataclass(frozen=True)
class StagesFile:
    """A stages file that parsed: its exact bytes (stored as they are) under STAGES_KEY, and what they say."""

    file: ApprovalFile
    stages: DeploymentStages


def check_stages_file(path: Path) -> tuple[StagesFile | None, list[str]]:
    """Parse the stages file; every problem as `<file>: <JSON path>: <why>`."""
    raw, problems = _read(path)
    if raw is None:
        return None, problems
    try:
        stages = parse_stages(raw)
    except DeploymentStagesInvalid as invalid:
        return None, _lines(path, invalid.problems)
    return StagesFile(ApprovalFile(path, STAGES_KEY, raw), stages), []


def read_stages_file(path: Path) -> StagesFile:
    """The file, valid; otherwise one InputError listing every problem (nothing is published)."""
    stages, problems = check_stages_file(path)
    if stages is None:
        raise InputError(
            f"nothing was published: {_count(problems)} in {path}\n" + "\n".join(problems),
            hint=f"fix every problem listed (fmops deployments validate checks the file; {FORMAT_HELP}), "
            "then publish again",
        )
    return stages


def publish_stages(stages: StagesFile, bucket: PolicyBucket) -> ApprovalPublication:
    """Upload the file as STAGES_KEY unless the same bytes are already published."""
    [publication] = publish_approvals([stages.file], bucket)
    return publication


# ------------------------------------------------------------------ rendering


def render_validation(stages: StagesFile) -> str:
    """What the file says, stage by stage, and its hash."""
    lines = [f"{stages.file.path}: valid deployment stages"]
    for config in stages.stages.stages:
        first, *more = _describe_stage(config)
        lines.append(_row(config.stage.value, first))
        lines += [_row("", line) for line in more]
    lines.append(_row("sha256", stages.file.sha256))
    return "\n".join(lines)


def _describe_stage(config: StageConfig) -> list[str]:
    lines = [
        ", ".join([config.target.value, *_sizing(config)]),
        f"account {config.account_id}, {config.region}, deployed by {config.role_arn}",
    ]
    if not config.has_endpoint:
        return [*lines, "no endpoint: nothing to wait for or smoke-test"]
    default = " (the default)" if config.execution_role_arn is None else ""
    lines.append(f"the model runs as {config.model_execution_role_arn}{default}")
    if config.in_service_timeout is not None:
        lines.append(f"InService within {describe(config.in_service_timeout)}, else rolled back")
    if config.smoke_test is not None:
        keys = ", ".join(config.smoke_test.required_keys) or "none"
        lines.append(
            f"smoke test: every sample request answered within {config.smoke_test.max_latency_ms} ms, "
            f"required keys: {keys}"
        )
    return lines


def _sizing(config: StageConfig) -> list[str]:
    if config.target is Target.SAGEMAKER_SERVERLESS:
        return [f"{config.memory_mb} MB", f"max concurrency {config.max_concurrency}"]
    if config.target is Target.REGISTRY_ONLY:
        return []
    sizing = [f"{config.instance_count} x {config.instance_type}"]
    blue_green = config.blue_green
    if blue_green is not None and blue_green.enabled:
        alarms = f"alarms {', '.join(blue_green.alarms)}" if blue_green.alarms else "no alarms"
        sizing.append(f"blue/green ({alarms}, bake {blue_green.bake_minutes} min)")
    elif blue_green is not None:
        sizing.append("blue/green off")
    return sizing
