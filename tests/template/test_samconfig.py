"""samconfig.toml deploys exactly the stages the template knows, one stack each."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any


def test_one_deploy_environment_per_stage(repo_root: Path, template: dict[str, Any]) -> None:
    # Given the template's Stage values and samconfig.toml
    stages = set(template["Parameters"]["Stage"]["AllowedValues"])
    config = tomllib.loads((repo_root / "samconfig.toml").read_text())
    deployable = {env for env, commands in config.items() if isinstance(commands, dict) and "deploy" in commands}
    # Then every stage, and nothing else, has a deploy environment
    assert deployable == stages
    for stage in stages:
        deploy = config[stage]["deploy"]["parameters"]
        # And each deploys its own stack with its own Stage, in a region
        assert deploy["stack_name"] == f"fmops-{stage}"
        assert deploy["parameter_overrides"] == f"Stage={stage}"
        assert deploy["capabilities"] == "CAPABILITY_IAM"
        assert deploy["resolve_s3"] is True
        assert config[stage]["global"]["parameters"]["region"]


def test_production_changes_are_confirmed(repo_root: Path) -> None:
    config = tomllib.loads((repo_root / "samconfig.toml").read_text())
    assert config["prod"]["deploy"]["parameters"]["confirm_changeset"] is True
