"""The dev lock and the Lambda layer agree on the runtime's versions, and the lock pins everything."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _requirements(path: Path) -> dict[str, str]:
    """name -> full requirement line, for each non-comment line; names normalised (PEP 503)."""
    lines = (line.split("#", 1)[0].strip() for line in path.read_text().splitlines())
    return {_name(line): line for line in lines if line}


def _name(requirement: str) -> str:
    match = re.match(r"[A-Za-z0-9._-]+", requirement)
    assert match, requirement
    return re.sub(r"[-_.]+", "-", match.group(0)).lower()


def _version(requirement: str) -> str:
    return requirement.split("==", 1)[1].strip()


def test_every_dev_requirement_is_pinned() -> None:
    unpinned = [line for line in _requirements(ROOT / "requirements" / "dev.txt").values() if "==" not in line]
    assert not unpinned


def test_layer_requirements_match_the_layer_project() -> None:
    # The layer is built from requirements.txt (sam build) but installed from pyproject.toml (pip -e).
    project = tomllib.loads((ROOT / "layers" / "fmops" / "pyproject.toml").read_text())["project"]
    declared = {_name(dep): dep for dep in project["dependencies"]}
    assert declared == _requirements(ROOT / "layers" / "fmops" / "requirements.txt")


def test_dev_lock_has_the_layer_versions() -> None:
    # Tests run the runtime against the same versions Lambda will load from the layer.
    lock = _requirements(ROOT / "requirements" / "dev.txt")
    for name, requirement in _requirements(ROOT / "layers" / "fmops" / "requirements.txt").items():
        assert name in lock, f"{name} missing from requirements/dev.txt"
        assert _version(lock[name]) == _version(requirement), f"{name}: layer {requirement}, dev lock {lock[name]}"
