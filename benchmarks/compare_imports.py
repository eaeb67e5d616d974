"""Cold import of a few handlers before and after a change, side by side in one run (not part of `make bench`).

    .venv/bin/python -m benchmarks.compare_imports --before <git rev> [--rounds 9]

Checks the `before` revision out into a temporary git worktree, then imports each handler in fresh
processes from both trees, interleaved (before/after, then after/before, round after round), and prints
the medians of the import time and of fmops' own modules' self time (-X importtime), with the ratios.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
HANDLERS = ("audit_writer", "intake", "apply_gate", "deploy_stage", "approval_notifier")
_ENV = {"AWS_DEFAULT_REGION": "us-east-1", "POWERTOOLS_TRACE_DISABLED": "true"}


def _code(tree: Path, handler: str, timed: bool) -> str:
    path = f"sys.path[:0] = [{str(tree / 'functions' / handler)!r}, {str(tree / 'layers' / 'fmops')!r}]"
    if not timed:
        return f"import sys; {path}; import app"
    return f"import sys, time; {path}; t = time.perf_counter(); import app; print((time.perf_counter() - t) * 1000)"


def import_ms(tree: Path, handler: str) -> float:
    env = {"PATH": os.environ.get("PATH", ""), **_ENV}
    done = subprocess.run([sys.executable, "-c", _code(tree, handler, True)], env=env, capture_output=True, text=True)
    return float(done.stdout)


def own_ms(tree: Path, handler: str) -> float:
    env = {"PATH": os.environ.get("PATH", ""), **_ENV}
    command = [sys.executable, "-X", "importtime", "-c", _code(tree, handler, False)]
    stderr = subprocess.run(command, env=env, capture_output=True, text=True).stderr
    total = 0
    for line in stderr.splitlines():
        parts = line.split("|")
        if len(parts) == 3 and (parts[2].strip().startswith("fmops") or parts[2].strip() == "app"):
            total += int(parts[0].split(":")[1])
    return total / 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--before", required=True, help="git revision of the 'before' code")
    parser.add_argument("--rounds", type=int, default=9)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        before = Path(scratch) / "before"
        subprocess.run(["git", "worktree", "add", "-q", "--detach", str(before), args.before], cwd=ROOT, check=True)
        try:
            trees = {"before": before, "after": ROOT}
            samples = {h: {t: ([], []) for t in trees} for h in HANDLERS}
            for round_ in range(args.rounds):
                for handler in HANDLERS:
                    for name in trees if round_ % 2 == 0 else reversed(list(trees)):
                        samples[handler][name][0].append(import_ms(trees[name], handler))
                        samples[handler][name][1].append(own_ms(trees[name], handler))
        finally:
            subprocess.run(["git", "worktree", "remove", "--force", str(before)], cwd=ROOT, check=False)
    print("| handler | import before ms | after ms | after/before | fmops' own before ms | after ms | after/before |")
    print("|---|---|---|---|---|---|---|")
    for handler in HANDLERS:
        (ib, ob), (ia, oa) = (tuple(map(statistics.median, samples[handler][t])) for t in ("before", "after"))
        print(f"| {handler} | {ib:.0f} | {ia:.0f} | {ia / ib:.2f} | {ob:.0f} | {oa:.0f} | {oa / ob:.2f} |")


if __name__ == "__main__":
    main()
