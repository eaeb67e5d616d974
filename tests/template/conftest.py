"""Fixtures of the template checks: the repository, the decoded template and a python3.12 for sam build."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
from cfnlint.decode import decode

REPO_ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return REPO_ROOT


@pytest.fixture(scope="session")
def template() -> dict[str, Any]:
    """template.yaml as CloudFormation sees it (short-form intrinsics become {"Ref": ...} dicts)."""
    decoded, problems = decode(str(REPO_ROOT / "template.yaml"))
    assert not problems, "template.yaml does not parse:\n" + "\n".join(str(p) for p in problems)
    assert decoded is not None
    return dict(decoded)


def _python312_bin() -> Path | None:
    # A pyenv shim named python3.12 can sit on PATH without working, so try it before trusting it.
    exe = shutil.which("python3.12")
    if exe:
        probe = subprocess.run(
            [exe, "-c", "import sys; print(sys.executable)"], capture_output=True, text=True, check=False
        )
        if probe.returncode == 0:
            return Path(probe.stdout.strip()).parent
    pyenv = shutil.which("pyenv")
    if pyenv:
        listed = subprocess.run([pyenv, "versions", "--bare"], capture_output=True, text=True, check=False).stdout
        versions = [v for v in listed.split() if re.fullmatch(r"3\.12\.\d+", v)]
        if versions:
            newest = max(versions, key=lambda v: tuple(int(part) for part in v.split(".")))
            prefix = subprocess.run([pyenv, "prefix", newest], capture_output=True, text=True, check=True).stdout
            return Path(prefix.strip()) / "bin"
    return None


@pytest.fixture(scope="session")
def python312_bin() -> Path:
    """Directory holding a working python3.12, which `sam build` needs for the python3.12 runtime."""
    found = _python312_bin()
    if found is None:
        pytest.fail("sam build needs Python 3.12: put python3.12 on PATH (or install 3.12 with pyenv)")
    return found
