"""Just enough of CloudFormation's intrinsic functions to tell which resource a value points at."""

from __future__ import annotations

import json
import re
from typing import Any

_WHOLE_SUB = re.compile(r"^\$\{([A-Za-z0-9]+(?:\.[A-Za-z0-9.]+)?)\}$")
_SUB_REFERENCE = re.compile(r"\$\{([^!}][^}]*)\}")


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


def references(value: Any) -> set[str]:
    """Every logical id or parameter a value refers to (Ref, GetAtt, ${...} in Sub), recursively."""
    found: set[str] = set()
    if isinstance(value, list):
        for item in value:
            found |= references(item)
    elif isinstance(value, dict):
        for function, argument in value.items():
            if function == "Ref" and isinstance(argument, str):
                found.add(argument)
            elif function == "Fn::GetAtt":
                target = referenced_logical_id({function: argument})
                if target:
                    found.add(target)
            elif function == "Fn::Sub":
                template, variables = (argument[0], argument[1]) if isinstance(argument, list) else (argument, {})
                local = set(variables) if isinstance(variables, dict) else set()
                if isinstance(template, str):
                    for name in _SUB_REFERENCE.findall(template):
                        if name.split(".", 1)[0] not in local:
                            found.add(name.split(".", 1)[0])
                found |= references(variables)
            else:
                found |= references(argument)
    return found
