"""`make bench` keeps working: every benchmark runs at its tiny size and both result files are written.

Nothing here times anything or checks a target: the figures of a tiny run mean nothing. What must hold
is the shape: each section present, each summary figure named and valued, the Markdown readable.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from benchmarks.report import Size
from benchmarks.run import BENCHMARKS, run_all

pytestmark = pytest.mark.bench


def test_every_benchmark_runs_at_the_tiny_size_and_both_files_are_written(tmp_path: Path) -> None:
    # When the whole suite runs at its tiny size
    code = run_all(Size.TINY, list(BENCHMARKS), tmp_path)

    # Then no benchmark failed, and results.json holds one section per benchmark, each with its method
    document = json.loads((tmp_path / "results.json").read_text())
    assert document["failed"] == {}, document["failed"]
    assert code == 0
    assert set(document["sections"]) == set(BENCHMARKS)
    for key, section in document["sections"].items():
        assert section["method"].strip(), key
        assert section["summary"], f"{key} has no summary figure"
        assert all(figure["name"] and figure["value"] for figure in section["summary"]), key
    # and results.md has the summary table and one chapter per benchmark
    markdown = (tmp_path / "results.md").read_text()
    assert "| figure | measured | target | met |" in markdown
    assert markdown.count("**Method.**") == len(BENCHMARKS)


def test_a_failing_benchmark_is_reported_and_the_others_still_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import benchmarks.audit

    def broken(size: Size) -> None:
        raise RuntimeError("the machine caught fire")

    monkeypatch.setattr(benchmarks.audit, "run", broken)
    code = run_all(Size.TINY, ["audit", "cold_import"], tmp_path)

    document = json.loads((tmp_path / "results.json").read_text())
    assert code == 1 and "the machine caught fire" in document["failed"]["audit"]
    assert set(document["sections"]) == {"cold_import"}
    assert "## audit: FAILED" in (tmp_path / "results.md").read_text()
