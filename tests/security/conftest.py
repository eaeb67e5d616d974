"""Fixtures of the security checks: template.yaml as written and expanded, the scan venv, mutated copies."""

from __future__ import annotations

import copy
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from fmops_security import templates

REPO_ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = REPO_ROOT / "template.yaml"

Template = dict[str, Any]
Mutate = Callable[[Callable[[Template], None]], Path]


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return REPO_ROOT


@pytest.fixture(scope="session")
def template_path() -> Path:
    return TEMPLATE


@pytest.fixture(scope="session")
def raw_template() -> Template:
    """template.yaml as written (SAM), intrinsics in long form. Tests must not modify it: use `mutate`."""
    return templates.load(TEMPLATE)


@pytest.fixture(scope="session")
def expanded_template() -> Template:
    """template.yaml as the SAM translator expands it: the roles, rules and stages `sam deploy` creates."""
    return templates.expand(TEMPLATE)


@pytest.fixture(scope="session")
def scan_bin() -> Path:
    """bin directory of .venv-scan, where checkov and detect-secrets live (`make scan-install`)."""
    bin_dir = REPO_ROOT / ".venv-scan" / "bin"
    missing = [tool for tool in ("checkov", "detect-secrets-hook") if not (bin_dir / tool).is_file()]
    if missing:
        pytest.fail(f"{', '.join(missing)} missing from {bin_dir}: run `make scan-install` (make test does)")
    return bin_dir


@pytest.fixture
def mutate(raw_template: Template, tmp_path: Path) -> Mutate:
    """Apply one change to a copy of template.yaml and write it into tmp_path; returns the copy's path."""

    def apply(change: Callable[[Template], None]) -> Path:
        mutated = copy.deepcopy(raw_template)
        change(mutated)
        return templates.write(mutated, tmp_path / "template.json")

    return apply
