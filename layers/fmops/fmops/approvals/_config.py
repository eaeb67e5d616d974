"""Loading a small JSON configuration file and reporting every problem with its JSON path.

The same approach as `fmops.gate.policy` (whose helpers are private and raise `PolicyInvalid`):
duplicate keys, NaN/Infinity and non-UTF-8 bytes are problems, and pydantic's errors are
turned into one `ConfigProblem` per offending value.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict, ValidationError
from pydantic_core import PydanticCustomError

from fmops.errors import FmopsError

# The error type a model validator raises to report several problems, each with its own path.
SEMANTICS_ERROR = "config_semantics"


class ConfigProblem(BaseModel):
    """One reason a configuration file was refused, with the JSON path of the offending value."""

    model_config = ConfigDict(defer_build=True, extra="forbid", frozen=True)

    path: str
    message: str


class ConfigInvalid(FmopsError):
    """A configuration file that cannot be used; `problems` lists every reason, each with its path."""

    what = "configuration"

    def __init__(self, problems: list[ConfigProblem]) -> None:
        self.problems = problems
        lines = "\n".join(f"  {p.path}: {p.message}" for p in problems)
        plural = "s" if len(problems) != 1 else ""
        super().__init__(f"invalid {self.what} ({len(problems)} problem{plural}):\n{lines}")


class Strict(BaseModel):
    # A misspelt key must not silently drop a rule.
    model_config = ConfigDict(defer_build=True, extra="forbid", frozen=True)


def several(problems: list[ConfigProblem]) -> PydanticCustomError:
    """The error a model validator raises so `parse` can report each problem at its own path.

    Paths are relative to the raising model: "$.reminders[0]" raised by the rule at
    $.stages.prod is reported as "$.stages.prod.reminders[0]".
    """
    return PydanticCustomError(
        SEMANTICS_ERROR,
        "{summary}",
        {
            "summary": "; ".join(f"{p.path}: {p.message}" for p in problems),
            "problems": [p.model_dump() for p in problems],
        },
    )


def join(path: str, key: str | int) -> str:
    if isinstance(key, int):
        return f"{path}[{key}]"
    if re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", key):
        return f"{path}.{key}"
    return f"{path}[{json.dumps(key)}]"


class _JsonObject(dict[str, Any]):
    """A JSON object that remembers the keys it saw more than once (json keeps the last)."""

    duplicates: list[str]


def _object_hook(pairs: list[tuple[str, Any]]) -> _JsonObject:
    obj = _JsonObject(pairs)
    keys = [key for key, _ in pairs]
    obj.duplicates = sorted({key for key in keys if keys.count(key) > 1})
    return obj


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a number a configuration can use")


def _duplicate_key_problems(node: Any, path: str = "$") -> list[ConfigProblem]:
    problems: list[ConfigProblem] = []
    if isinstance(node, _JsonObject):
        problems += [
            ConfigProblem(path=join(path, key), message=f"'{key}' appears more than once in this object")
            for key in node.duplicates
        ]
        for key, value in node.items():
            problems += _duplicate_key_problems(value, join(path, key))
    elif isinstance(node, list):
        for index, item in enumerate(node):
            problems += _duplicate_key_problems(item, f"{path}[{index}]")
    return problems


def _problems_from(error: ValidationError) -> list[ConfigProblem]:
    problems: list[ConfigProblem] = []
    for detail in error.errors(include_url=False):
        path = "$"
        for part in detail["loc"]:
            if part == "[key]":  # pydantic's marker for "the key itself was invalid"
                continue
            path = join(path, part)
        if detail["type"] == SEMANTICS_ERROR:
            # Paths in the ctx are relative to the model that raised ("$" is that model).
            problems += [
                ConfigProblem(path=path + p["path"].removeprefix("$"), message=p["message"])
                for p in detail["ctx"]["problems"]
            ]
            continue
        message = str(detail["msg"])
        kind, ctx = detail["type"], detail.get("ctx", {})
        if kind == "extra_forbidden":
            message = f"unknown key '{detail['loc'][-1]}'"
        elif kind == "missing":
            message = "required key is missing"
        elif kind in ("enum", "literal_error"):
            message = f"unknown value {json.dumps(detail['input'])}: expected {ctx['expected']}"
        elif kind == "greater_than_equal":
            message = f"must be >= {ctx['ge']}, got {detail['input']}"
        elif kind == "less_than_equal":
            message = f"must be <= {ctx['le']}, got {detail['input']}"
        elif message.startswith("Value error, "):
            message = message.removeprefix("Value error, ")
        problems.append(ConfigProblem(path=path, message=message))
    return problems


M = TypeVar("M", bound=BaseModel)


def parse(raw: bytes, model: type[M], max_bytes: int, invalid: Callable[[list[ConfigProblem]], ConfigInvalid]) -> M:
    """Parse `raw` as `model`, raising `invalid(problems)` with every problem found."""

    def refuse(message: str) -> ConfigInvalid:
        return invalid([ConfigProblem(path="$", message=message)])

    if len(raw) > max_bytes:
        raise refuse(f"file exceeds {max_bytes} bytes")
    try:
        document = json.loads(raw.decode("utf-8"), object_pairs_hook=_object_hook, parse_constant=_reject_constant)
    except UnicodeDecodeError as error:
        raise refuse(f"file is not UTF-8: {error}") from error
    except ValueError as error:  # JSONDecodeError is a ValueError, and so is a NaN/Infinity literal
        raise refuse(f"file is not valid JSON: {error}") from error
    if not isinstance(document, dict):
        raise refuse("the file must hold a JSON object")
    problems = _duplicate_key_problems(document)
    parsed: M | None = None
    try:
        parsed = model.model_validate(document)
    except ValidationError as error:
        problems += _problems_from(error)
    if problems or parsed is None:
        raise invalid(problems)
    return parsed
