"""`make demo` end to end: the local cloud, a good and a tampered submission, and the demo's own checks."""

from __future__ import annotations

from pathlib import Path

import pytest

from fmops_cli import demo

ROOT = Path(__file__).resolve().parents[2]


def test_the_demo_passes_on_the_local_cloud(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # When the demo runs against this repository, keeping the local cloud's state in a temporary folder
    code = demo.run(ROOT, state_dir=tmp_path / "local")

    # Then every check passed: registered with a model package, audited, the tampered copy rejected, no dead letters
    out = capsys.readouterr().out
    assert code == 0, out
    assert "FAIL" not in out
    assert "Demo passed: 7 checks" in out
    assert "status           Rejected" in out
    assert "artifact_sha256_mismatch" in out
