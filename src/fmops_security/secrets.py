"""Secrets scan of the repository with detect-secrets, against the committed baseline (.secrets.baseline).

The baseline lists what the scanners flag but a person reviewed and marked a false positive
(`detect-secrets audit .secrets.baseline`): sha256 digests and S3 ids in sample events and tests, a
tokenizer's class name, an AWS error code. It also carries one filter, `--exclude-secrets '^testing$'`:
moto's documented fake credentials, which every test with AWS_SECRET_ACCESS_KEY would otherwise add.
A finding is a secret that the baseline does not list, or a baseline entry nobody has marked a false
positive (an entry added by refreshing the baseline is not a review).

detect-secrets comes from .venv-scan: checkov depends on Bridgecrew's fork of it (bc-detect-secrets),
which installs the same `detect_secrets` package and reads and writes the same baseline format.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fmops_security.findings import Finding

BASELINE = ".secrets.baseline"
# Where secrets could hide: the scan must cover each of these (tests/security checks that it does).
MUST_COVER = (
    "template.yaml",
    "samconfig.toml",
    "src/",
    "layers/",
    "functions/",
    "tests/",
    "docs/",
    "events/",
    "examples/",
)


@dataclass(frozen=True)
class SecretsResult:
    files: list[str]
    findings: list[Finding]
    seconds: float


def repository_files(repo_root: Path) -> list[str]:
    """Files git tracks, plus new files it does not ignore (about to be committed), relative to the root."""
    listed = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z"],
        cwd=repo_root,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split("\0")
    # The baseline holds only hashes of reviewed false positives; deleted-but-tracked files are gone.
    return sorted(name for name in set(listed) if name and name != BASELINE and (repo_root / name).is_file())


def scan(repo_root: Path, files: list[str], scan_bin: Path, baseline: Path | None = None) -> SecretsResult:
    """detect-secrets on `files` (relative to `repo_root`, or absolute) against the baseline."""
    started = time.monotonic()
    baseline = baseline or repo_root / BASELINE
    findings = unreviewed_baseline_entries(baseline)
    with tempfile.TemporaryDirectory() as scratch:
        # The hook rewrites the baseline it is given when line numbers moved: give it a copy.
        copy = Path(scratch) / BASELINE
        shutil.copyfile(baseline, copy)
        result = subprocess.run(
            [str(scan_bin / "detect-secrets-hook"), "--json", "--baseline", str(copy), *files],
            cwd=repo_root,
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )
    # 0: nothing new; 3: nothing new, but the copy's line numbers were refreshed; 1: new secrets.
    if result.returncode == 1:
        report: dict[str, Any] = json.loads(result.stdout)
        for filename, secrets in report.get("results", {}).items():
            for secret in secrets:
                findings.append(
                    Finding("secrets", f"{filename}:{secret['line_number']}", f"{secret['type']} (not in {BASELINE})")
                )
    elif result.returncode not in (0, 3):
        raise RuntimeError(f"detect-secrets-hook exited {result.returncode}:\n{result.stdout}\n{result.stderr}")
    return SecretsResult(files=files, findings=sorted(findings), seconds=time.monotonic() - started)


def unreviewed_baseline_entries(baseline: Path) -> list[Finding]:
    """Baseline entries not marked as false positives: a secret someone acknowledged is still a secret."""
    results: dict[str, list[dict[str, Any]]] = json.loads(baseline.read_text()).get("results", {})
    return [
        Finding(
            "secrets",
            f"{filename}:{secret.get('line_number')}",
            f"{secret.get('type')} is in {BASELINE} but not marked a false positive (detect-secrets audit)",
        )
        for filename, secrets in results.items()
        for secret in secrets
        if secret.get("is_secret") is not False
    ]


def excluded_files_pattern(baseline: Path) -> str | None:
    """The baseline's --exclude-files regex, if any (files it matches are never scanned)."""
    for used in json.loads(baseline.read_text()).get("filters_used", []):
        if used.get("path") == "detect_secrets.filters.regex.should_exclude_file":
            return "|".join(used.get("pattern", []))
    return None
