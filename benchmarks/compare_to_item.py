"""`to_item` before (a JSON round trip into boto3's TypeSerializer) and after, side by side in one process.

    .venv/bin/python -m benchmarks.compare_to_item

The item is a catalog record with its gate decision, the largest item most handlers write. The two
implementations run interleaved, 30 rounds of 200 calls each; the medians and their ratio are printed.
The 'before' implementation is kept here, and tests/unit/test_dynamodb_items.py checks both give the same item.
"""

from __future__ import annotations

import json
import statistics
import time
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from boto3.dynamodb.types import TypeSerializer

from fmops.adapters.dynamodb import to_item

from tests.unit.deployment.test_service import Deployments

_serializer = TypeSerializer()


def before(document: dict[str, Any]) -> dict[str, Any]:
    exact = json.loads(json.dumps(document), parse_float=Decimal)
    return {key: _serializer.serialize(value) for key, value in exact.items() if value is not None}


def main() -> None:
    world = Deployments()
    record = world.world.catalog.get(world.approve("1.0.0"))
    assert record is not None
    document = record.model_dump(mode="json")
    assert before(document) == to_item(document)
    samples: dict[str, list[float]] = {"before": [], "after": []}
    runs: list[tuple[str, Callable[[dict[str, Any]], Any]]] = [("before", before), ("after", to_item)]
    for round_ in range(30):
        for name, convert in runs if round_ % 2 == 0 else list(reversed(runs)):
            started = time.perf_counter_ns()
            for _ in range(200):
                convert(document)
            samples[name].append((time.perf_counter_ns() - started) / 200 / 1000)
    old, new = statistics.median(samples["before"]), statistics.median(samples["after"])
    size = len(json.dumps(document))
    print(f"catalog record with its gate decision ({size} bytes of JSON): before {old:.1f} us, after {new:.1f} us")
    print(f"after/before: {new / old:.2f}")


if __name__ == "__main__":
    main()
