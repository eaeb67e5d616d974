"""No secret in the repository: detect-secrets over every file git tracks (or would), against .secrets.baseline."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from fmops_security import secrets
from fmops_security.findings import explain


@pytest.mark.slow
def test_no_secret_in_the_repository(repo_root: Path, scan_bin: Path) -> None:
    # Given every file of the repository, When detect-secrets scans them against the reviewed baseline
    result = secrets.scan(repo_root, secrets.repository_files(repo_root), scan_bin)
    # Then it finds nothing new, and the baseline holds only reviewed false positives
    assert not result.findings, (
        explain(result.findings) + "\nA real secret: remove it and rotate it. A false positive: add "
        "`# pragma: allowlist secret` with a reason on its line, or refresh and audit the baseline "
        "(make secrets-baseline)."
    )


def test_the_scan_covers_every_place_a_secret_could_hide(repo_root: Path) -> None:
    # Given the files the scan reads and the baseline's file exclusions
    files = secrets.repository_files(repo_root)
    excluded = secrets.excluded_files_pattern(repo_root / secrets.BASELINE)
    for place in secrets.MUST_COVER:
        # Then each place has files in the scan
        covered = [name for name in files if name == place or (place.endswith("/") and name.startswith(place))]
        assert covered, f"the secrets scan reads nothing in {place}"
        # And the baseline excludes none of them
        if excluded:
            skipped = [name for name in covered if re.search(excluded, name)]
            assert not skipped, f"{secrets.BASELINE} excludes {skipped}"
