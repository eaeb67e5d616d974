"""What every benchmark of `make bench` hands to the runner: one section of bench/results.json and .md.

Each benchmark module has `run(size: Size) -> Section`. `Size.FULL` is what `make bench` measures;
`Size.TINY` runs the same code on a few items, so a test keeps the benchmark code working without
timing anything (tests/bench). Figures are measured side by side in one run: on a noisy machine only
ratios mean something, so a target is stated as a ratio wherever the issue does.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any


class Size(StrEnum):
    FULL = "full"
    TINY = "tiny"


@dataclass(frozen=True)
class Figure:
    """One line of the summary table: what, the value measured, the target, whether it is met (None: no target)."""

    name: str
    value: str
    target: str = ""
    met: bool | None = None


@dataclass
class Section:
    key: str  # the key in results.json, e.g. "cold_import"
    title: str
    method: str  # how it was measured, in a few sentences (goes into results.md)
    results: dict[str, Any]  # everything measured, JSON-serialisable
    figures: list[Figure] = field(default_factory=list)
    details_markdown: str = ""  # tables and notes for results.md, below the method

    def as_json(self) -> dict[str, Any]:
        return {
            "title": self.title,
            "method": self.method,
            "results": self.results,
            "summary": [figure.__dict__ for figure in self.figures],
        }


def spread(samples: list[float]) -> dict[str, float]:
    """Median, min, max, p90 and the interquartile range of timing samples (in their unit)."""
    ordered = sorted(samples)
    quartiles = statistics.quantiles(ordered, n=4) if len(ordered) >= 2 else [ordered[0]] * 3
    deciles = statistics.quantiles(ordered, n=10) if len(ordered) >= 2 else [ordered[0]] * 9
    return {
        "median": statistics.median(ordered),
        "min": ordered[0],
        "max": ordered[-1],
        "p90": deciles[8],
        "iqr": quartiles[2] - quartiles[0],
        "n": len(ordered),
    }


def percentile(samples: list[float], q: float) -> float:
    """The q-th percentile (0 < q < 100) by linear interpolation."""
    ordered = sorted(samples)
    if len(ordered) == 1:
        return ordered[0]
    position = (len(ordered) - 1) * q / 100
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def markdown_table(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)
