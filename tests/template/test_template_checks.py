"""The checks that gate template.yaml: cfn-lint with the serverless rules, `sam validate --lint`
and an arm64 `sam build`, each run as `make template-check` runs it, failing with the tool's own output.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.slow

VENV_BIN = Path(sys.executable).parent


def _run(args: list[str], cwd: Path, path_prefix: Path | None = None) -> subprocess.CompletedProcess[str]:
    # Built here rather than in a fixture, so a failure's traceback never prints the environment.
    env = {**os.environ, "SAM_CLI_TELEMETRY": "0"}
    env.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    if path_prefix is not None:
        env["PATH"] = f"{path_prefix}{os.pathsep}{env.get('PATH', '')}"
    return subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, timeout=900, check=False)


def _explain(result: subprocess.CompletedProcess[str]) -> str:
    return (
        f"$ {' '.join(result.args)}\nexit code {result.returncode}\n"
        f"--- stdout ---\n{result.stdout.strip()}\n--- stderr ---\n{result.stderr.strip()}"
    )


def _functions(template: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Properties of each AWS::Serverless::Function, with Globals.Function filled in."""
    defaults = template.get("Globals", {}).get("Function", {})
    return {
        name: {**defaults, **resource.get("Properties", {})}
        for name, resource in template["Resources"].items()
        if resource["Type"] == "AWS::Serverless::Function"
    }


def test_cfn_lint_with_serverless_rules_finds_nothing(repo_root: Path) -> None:
    # Given the template, When cfn-lint runs with the serverless rules appended
    result = _run(
        [str(VENV_BIN / "cfn-lint"), "--append-rules", "cfn_lint_serverless.rules", "--", "template.yaml"],
        repo_root,
    )
    # Then it reports no error and no warning
    assert result.returncode == 0, _explain(result)


def test_sam_validate_lint_passes(repo_root: Path) -> None:
    result = _run([str(VENV_BIN / "sam"), "validate", "--lint", "--template", "template.yaml"], repo_root)
    assert result.returncode == 0, _explain(result)


def test_sam_build_makes_an_arm64_layer_and_every_handler(
    repo_root: Path, python312_bin: Path, template: dict[str, Any], tmp_path: Path
) -> None:
    # Given python3.12 on PATH, When sam build runs into a scratch directory
    build_dir = tmp_path / "build"
    result = _run(
        [
            str(VENV_BIN / "sam"),
            "build",
            "--template",
            "template.yaml",
            "--build-dir",
            str(build_dir),
            "--cache-dir",
            str(tmp_path / "cache"),
            "--no-cached",
        ],
        repo_root,
        python312_bin,
    )
    # Then it succeeds
    assert result.returncode == 0, _explain(result)
    assert (build_dir / "template.yaml").is_file()
    # And the layer holds the runtime package and its compiled dependencies for arm64 (Graviton), not the build host
    layer = build_dir / "RuntimeLayer" / "python"
    assert (layer / "fmops" / "__init__.py").is_file(), f"fmops missing from the built layer: {sorted(layer.iterdir())}"
    native = sorted(p.name for p in layer.glob("pydantic_core/*.so"))
    assert native, "pydantic_core has no compiled module in the built layer"
    assert all("aarch64" in name for name in native), f"pydantic_core built for the wrong architecture: {native}"
    # And every function's handler module is in its built artifact
    for name, props in _functions(template).items():
        module = props["Handler"].rsplit(".", 1)[0].replace(".", "/") + ".py"
        assert (build_dir / name / module).is_file(), f"{name}: {module} missing from the built function"


def test_every_handler_module_exists(repo_root: Path, template: dict[str, Any]) -> None:
    # Given each function's CodeUri and Handler, Then the handler's module file exists in the repository
    missing = []
    for name, props in _functions(template).items():
        module = props["Handler"].rsplit(".", 1)[0].replace(".", "/") + ".py"
        if not (repo_root / props["CodeUri"] / module).is_file():
            missing.append(f"{name}: {props['CodeUri']}/{module}")
    assert not missing, "handler modules missing:\n" + "\n".join(missing)


def test_state_machine_substitutions_match_their_definitions(repo_root: Path, template: dict[str, Any]) -> None:
    # Given each state machine's DefinitionUri and DefinitionSubstitutions
    for name, resource in template["Resources"].items():
        if resource["Type"] != "AWS::Serverless::StateMachine":
            continue
        props = resource["Properties"]
        definition = (repo_root / props["DefinitionUri"]).read_text()
        json.loads(definition)  # Then the definition is valid JSON
        # And every ${placeholder} is substituted, and every substitution is used
        placeholders = set(re.findall(r"\$\{(\w+)\}", definition))
        substitutions = set(props.get("DefinitionSubstitutions", {}))
        unsubstituted, unused = sorted(placeholders - substitutions), sorted(substitutions - placeholders)
        assert not unsubstituted and not unused, f"{name}: not substituted {unsubstituted}, unused {unused}"
