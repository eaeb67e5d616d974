"""`make bench`: every benchmark, one after the other, into bench/results.json and bench/results.md.

    .venv/bin/python -m benchmarks.run [--size full|tiny] [--only cold_import,audit,...] [--out bench]

Each benchmark measures side by side in its own run (ratios, never absolute times from another run).
A benchmark that fails is reported as failed in both files (the others still run) and the exit status
is 1. Not part of `make test`; tests/bench runs the same code at the tiny size, without timing anything.
"""

from __future__ import annotations

import argparse
import importlib
import json
import platform
import sys
import time
import traceback
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from benchmarks.report import Figure, Section, Size, markdown_table

ROOT = Path(__file__).resolve().parents[1]
# In the order they run: the quick, CPU-bound ones first, the local cloud ones after, the build last.
BENCHMARKS = ("cold_import", "warm_overhead", "audit", "burst", "cost", "package_size")
NOTES = Path(__file__).with_name("notes.md")  # what was changed after measuring, with before/after ratios


def run_all(size: Size, only: list[str], out: Path) -> int:
    sections: list[Section] = []
    failures: dict[str, str] = {}
    timings: dict[str, float] = {}
    for name in only:
        started = time.perf_counter()
        print(f"==> {name} ({size.value})", flush=True)
        try:
            module = importlib.import_module(f"benchmarks.{name}")
            sections.append(module.run(size))
        except Exception:  # one broken benchmark must not hide the others' results
            failures[name] = traceback.format_exc()
            print(failures[name], file=sys.stderr)
        timings[name] = round(time.perf_counter() - started, 1)
        print(f"    {timings[name]:.1f} s", flush=True)
    out.mkdir(parents=True, exist_ok=True)
    machine = {
        "python": platform.python_version(),
        "machine": platform.machine(),
        "processor": platform.processor() or platform.system(),
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "size": size.value,
        "seconds_per_benchmark": timings,
    }
    document: dict[str, Any] = {
        "machine": machine,
        "sections": {section.key: section.as_json() for section in sections},
        "failed": failures,
    }
    (out / "results.json").write_text(json.dumps(document, indent=2, default=str) + "\n")
    (out / "results.md").write_text(render(sections, failures, machine))
    print(f"wrote {out / 'results.json'} and {out / 'results.md'}")
    return 1 if failures else 0


def render(sections: list[Section], failures: dict[str, str], machine: dict[str, Any]) -> str:
    figures: list[tuple[str, Figure]] = [(section.title, figure) for section in sections for figure in section.figures]
    rows = [[figure.name, figure.value, figure.target or "-", _verdict(figure.met)] for _, figure in figures]
    rows += [[f"{name} benchmark", "FAILED (see below)", "-", "no"] for name in failures]
    lines = [
        "# fmops benchmark results",
        "",
        f"Python {machine['python']} on {machine['machine']} ({machine['processor']}), {machine['when']}, "
        f"size {machine['size']}; seconds per benchmark: "
        + ", ".join(f"{name} {seconds}" for name, seconds in machine["seconds_per_benchmark"].items())
        + ". Produced by `make bench` (benchmarks/run.py); the numbers are in results.json.",
        "",
        "## Summary",
        "",
        markdown_table(["figure", "measured", "target", "met"], rows),
        "",
    ]
    if NOTES.is_file():
        lines += [NOTES.read_text().rstrip(), ""]
    for section in sections:
        lines += [f"## {section.title}", "", "**Method.** " + " ".join(section.method.split()), ""]
        if section.details_markdown:
            lines += [section.details_markdown, ""]
    for name, error in failures.items():
        lines += [f"## {name}: FAILED", "", "```", error.rstrip(), "```", ""]
    return "\n".join(lines)


def _verdict(met: bool | None) -> str:
    return "-" if met is None else ("yes" if met else "**no**")


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--size", choices=[s.value for s in Size], default=Size.FULL.value)
    parser.add_argument("--only", default=",".join(BENCHMARKS), help="comma-separated: " + ", ".join(BENCHMARKS))
    parser.add_argument("--out", type=Path, default=ROOT / "bench")
    args = parser.parse_args()
    only = [name.strip() for name in args.only.split(",") if name.strip()]
    unknown = sorted(set(only) - set(BENCHMARKS))
    if unknown:
        parser.error(f"unknown benchmark(s): {', '.join(unknown)}")
    raise SystemExit(run_all(Size(args.size), only, args.out))


if __name__ == "__main__":
    main()
