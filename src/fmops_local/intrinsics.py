"""CloudFormation intrinsic functions, resolved against what the local cloud created.

samcli has an IntrinsicResolver, but it is built for `sam local`'s best effort:
unknown references silently become logical ids, and Fn::Sub re-resolves the
values of its variable map as if they were logical ids. Deploying needs the
opposite (exact values, loud failures), and the subset CloudFormation
templates use is small.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Callable, Mapping
from typing import Any

NO_VALUE = object()  # AWS::NoValue: the property disappears
_SUB_VARIABLE = re.compile(r"\$\{([^}]+)\}")
_SUB_REFERENCE = re.compile(r"\$\{([^!}][^}]*)\}")  # ${!Literal} escapes a reference


class IntrinsicError(Exception):
    pass


class Resolver:
    """Resolves intrinsics; `lookup(logical_id, attribute)` answers Ref ("Ref") and GetAtt."""

    def __init__(
        self,
        lookup: Callable[[str, str], Any],
        conditions: Mapping[str, Any] | None = None,
        mappings: Mapping[str, Any] | None = None,
    ) -> None:
        self._lookup = lookup
        self._conditions = dict(conditions or {})
        self._mappings = dict(mappings or {})
        self._condition_values: dict[str, bool] = {}

    def resolve(self, node: Any) -> Any:
        value = self._resolve(node)
        return None if value is NO_VALUE else value

    def condition(self, name: str) -> bool:
        if name not in self._condition_values:
            if name not in self._conditions:
                raise IntrinsicError(f"unknown condition {name}")
            self._condition_values[name] = bool(self._resolve(self._conditions[name]))
        return self._condition_values[name]

    def _resolve(self, node: Any) -> Any:
        if isinstance(node, list):
            return [item for item in (self._resolve(i) for i in node) if item is not NO_VALUE]
        if not isinstance(node, dict):
            return node
        if len(node) == 1:
            key, argument = next(iter(node.items()))
            function = self._functions().get(key)
            if function is not None:
                return function(argument)
        resolved = {key: self._resolve(value) for key, value in node.items()}
        return {key: value for key, value in resolved.items() if value is not NO_VALUE}

    def _functions(self) -> dict[str, Callable[[Any], Any]]:
        return {
            "Ref": self._ref,
            "Fn::GetAtt": self._get_att,
            "Fn::Sub": self._sub,
            "Fn::Join": lambda a: str(self._resolve(a[0])).join(str(v) for v in self._resolve(a[1])),
            "Fn::Select": lambda a: self._resolve(a[1])[int(self._resolve(a[0]))],
            "Fn::Split": lambda a: str(self._resolve(a[1])).split(self._resolve(a[0])),
            "Fn::If": self._if,
            "Fn::Equals": lambda a: self._resolve(a[0]) == self._resolve(a[1]),
            "Fn::And": lambda a: all(self._resolve(c) for c in a),
            "Fn::Or": lambda a: any(self._resolve(c) for c in a),
            "Fn::Not": lambda a: not self._resolve(a[0]),
            "Condition": self.condition,
            "Fn::FindInMap": self._find_in_map,
            "Fn::Base64": lambda a: base64.b64encode(str(self._resolve(a)).encode()).decode(),
            "Fn::GetAZs": lambda a: [f"{self._lookup('AWS::Region', 'Ref')}{zone}" for zone in "abc"],
            "Fn::ImportValue": self._import_value,
        }

    def _ref(self, name: Any) -> Any:
        if name == "AWS::NoValue":
            return NO_VALUE
        return self._lookup(str(self._resolve(name)), "Ref")

    def _get_att(self, argument: Any) -> Any:
        if isinstance(argument, str):
            logical_id, attribute = argument.split(".", 1)
        else:
            logical_id, attribute = argument[0], self._resolve(argument[1])
        return self._lookup(logical_id, attribute)

    def _sub(self, argument: Any) -> str:
        text, variables = (argument, {}) if isinstance(argument, str) else (argument[0], argument[1])
        values = {key: self._resolve(value) for key, value in variables.items()}

        def substitute(match: re.Match[str]) -> str:
            name = match.group(1)
            if name.startswith("!"):  # ${!Literal} stays as ${Literal}
                return "${" + name[1:] + "}"
            if name in values:
                return str(values[name])
            if "." in name and not name.startswith("AWS::"):
                logical_id, attribute = name.split(".", 1)
                return str(self._lookup(logical_id, attribute))
            return str(self._lookup(name, "Ref"))

        return _SUB_VARIABLE.sub(substitute, text)

    def _if(self, argument: Any) -> Any:
        name, if_true, if_false = argument
        return self._resolve(if_true if self.condition(name) else if_false)

    def _find_in_map(self, argument: Any) -> Any:
        name, top, second = (self._resolve(a) for a in argument[:3])
        try:
            return self._mappings[name][top][second]
        except KeyError as error:
            raise IntrinsicError(f"Fn::FindInMap {name}/{top}/{second} not found") from error

    @staticmethod
    def _import_value(argument: Any) -> Any:
        raise IntrinsicError("Fn::ImportValue needs another stack; the local cloud deploys one")


def references(value: Any) -> set[str]:
    """Every logical id or parameter a value refers to (Ref, GetAtt, ${...} in Sub), recursively.

    Names bound by an Fn::Sub variable map are local to that Sub, not references."""
    found: set[str] = set()
    if isinstance(value, list):
        for item in value:
            found |= references(item)
    elif isinstance(value, dict):
        for function, argument in value.items():
            if function == "Ref" and isinstance(argument, str):
                found.add(argument)
            elif function == "Fn::GetAtt":
                found.add(argument[0] if isinstance(argument, list) else str(argument).split(".", 1)[0])
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
