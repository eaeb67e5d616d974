"""`to_item` writes exactly what the JSON round trip into boto3's serializer wrote, only faster."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import pytest
from boto3.dynamodb.types import TypeSerializer

from fmops.adapters.dynamodb import from_item, to_item


def reference(document: dict[str, Any]) -> dict[str, Any]:
    """The former implementation: through JSON, floats parsed as decimals, into boto3's serializer."""
    exact = json.loads(json.dumps(document), parse_float=Decimal)
    return {key: TypeSerializer().serialize(value) for key, value in exact.items() if value is not None}


DOCUMENTS = [
    {"version_id": "sentiment/1.0.0", "revision": 3, "announced": False, "lease_until": None},
    {"score": 0.68, "tiny": 1e-07, "huge": 1e16, "negative": -2.5, "whole": 3.0, "zero": 0.0},
    {"nested": {"a": [1, 2.25, "x", None, True, {"deep": [[], {}]}], "b": None}, "empty": "", "list": []},
    {"metrics": [{"name": "token_f1", "value": 0.9523809523809523, "unit": "ratio"}], "ok": True},
    {"keys": {1: "one", False: "no", None: "none", 2.5: "float"}},
    {"tuple": (1, "two", 3.5), "unicode": "Ärger - 😀", "big_int": 2**62},
]


@pytest.mark.parametrize("document", DOCUMENTS)
def test_to_item_matches_the_json_round_trip(document: dict[str, Any]) -> None:
    assert to_item(document) == reference(document)


def test_floats_keep_their_shortest_decimal_form() -> None:
    assert to_item({"x": 0.68})["x"] == {"N": "0.68"}
    assert from_item(to_item({"x": 0.68}))["x"] == Decimal("0.68")


@pytest.mark.parametrize("value", [float("nan"), float("inf")])
def test_numbers_dynamodb_cannot_store_are_refused(value: float) -> None:
    with pytest.raises(Exception, match=r"(?i)infinity|nan"):
        to_item({"x": value})
