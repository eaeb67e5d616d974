"""How fast the built-in evaluator scores a 10,000-row evaluation set (a measurement, not a test).

    .venv/bin/python benchmarks/evaluator_throughput.py

Generates a deterministic set (prompts of 20 to 60 words, references of 12 to 30, predictions
of 10 to 32, a third of them exact, with latency and token counts), then times the evaluator's
whole pass, split_lines over 1 MiB chunks plus evaluate_text_set, in-process. Median of 5 runs.
"""

from __future__ import annotations

import json
import random
import statistics
import time
from collections.abc import Iterator

from fmops.evaluation import evaluate_text_set, split_lines

ROWS = 10_000
RUNS = 5
WORDS = [
    "the",
    "customer",
    "asked",
    "about",
    "a",
    "refund",
    "for",
    "the",
    "order",
    "which",
    "arrived",
    "late",
    "and",
    "damaged",
    "so",
    "we",
    "offered",
    "a",
    "replacement",
    "or",
    "full",
    "credit",
    "within",
    "five",
    "business",
    "days",
]


def evaluation_set(rows: int, seed: int = 7) -> bytes:
    rng = random.Random(seed)

    def sentence(length: int) -> str:
        return " ".join(rng.choice(WORDS) for _ in range(length))

    lines = []
    for _ in range(rows):
        reference = sentence(rng.randint(12, 30))
        prediction = reference if rng.random() < 0.3 else sentence(rng.randint(10, 32))
        row = {
            "prompt": sentence(rng.randint(20, 60)),
            "reference": reference,
            "prediction": prediction,
            "latency_ms": round(rng.uniform(80, 900), 1),
            "input_tokens": rng.randint(30, 90),
            "output_tokens": rng.randint(15, 45),
        }
        lines.append(json.dumps(row))
    return ("\n".join(lines) + "\n").encode()


def main() -> None:
    data = evaluation_set(ROWS)

    def chunks() -> Iterator[bytes]:
        for start in range(0, len(data), 1 << 20):
            yield data[start : start + (1 << 20)]

    times = []
    for _ in range(RUNS):
        started = time.perf_counter()
        evaluate_text_set(
            split_lines(chunks(), 65536),
            max_rows=100_000,
            max_line_bytes=65536,
            price_per_1k_input_tokens=0.0005,
            price_per_1k_output_tokens=0.0015,
        )
        times.append(time.perf_counter() - started)
    median = statistics.median(times)
    print(f"set: {ROWS:,} rows, {len(data) / 1e6:.1f} MB")
    print(f"runs (s): {', '.join(f'{t:.3f}' for t in times)}")
    print(f"median {median:.3f} s -> {ROWS / median:,.0f} rows/s")


if __name__ == "__main__":
    main()
