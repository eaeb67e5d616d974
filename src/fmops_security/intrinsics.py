"""Just enough of CloudFormation's intrinsic functions to tell which resource a value points at."""

from __future__ import annotations

import json
import re
from typing import Any

_WHOLE_SUB = re.compile(r"^\$\{([A-Za-z0-9]+(?:\.[A-Za-z0-9.]+)?)\}$")


def branches(value: Any) -> list[Any]:
    """Both branches of an Fn::If (recursively), without AWS::NoValue; any other value as is."""
    if isinstance(value, dict) and set(value) == {"Fn::If"}:
        _condition, when_true, when_false = value["Fn::If"]
        return branches(when_true) + branches(when_false)
    if value == {"Ref": "AWS::NoValue"}:
        return []
    return [value]


def referenced_logical_id(value: Any) -> str | None:
    """X for {"Ref": X}, {"Fn::GetAtt": [X, attr]}, {"Fn::GetAtt": "X.attr"} or {"Fn::Sub": "${X...}"}."""
    if not isinstance(value, dict) or len(value) != 1:
        return None
    ((function, argument),) = value.items()
    if function == "Ref" and isinstance(argument, str):
        return argument
    if function == "Fn::GetAtt":
        if isinstance(argument, list) and argument and isinstance(argument[0], str):
            return argument[0]
        if isinstance(argument, str):
            return argument.split(".", 1)[0]
    if function == "Fn::Sub" and isinstance(argument, str):
        match = _WHOLE_SUB.match(argument)
        if match:
            return match.group(1).split(".", 1)[0]
    return None


def reference_key(value: Any) -> str:
    """A comparable spelling of a value: "X" for a Ref, "X.Arn" for a GetAtt or "${X.Arn}", else the value."""
    if isinstance(value, str):
        return value
    if isinstance(value, dict) and len(value) == 1:
        ((function, argument),) = value.items()
        if function == "Ref" and isinstance(argument, str):
            return argument
        if function == "Fn::GetAtt":
            parts = argument if isinstance(argument, list) else str(argument).split(".", 1)
            return ".".join(str(part) for part in parts)
        if function == "Fn::Sub" and isinstance(argument, str):
            match = _WHOLE_SUB.match(argument)
            if match:
                return match.group(1)
    return json.dumps(value, sort_keys=True)
