"""Reversible patches on moto, so a local cloud leaves moto as it found it."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

_ABSENT = object()


class Patcher:
    def __init__(self) -> None:
        self._originals: list[tuple[Any, str, Any]] = []

    def wrap(self, owner: Any, name: str, make: Callable[[Any], Any]) -> None:
        """Replace owner.name (a class or module attribute) with make(original)."""
        original = getattr(owner, name)
        # Remember what the owner itself held, so an inherited attribute is not copied down on restore.
        self._originals.append((owner, name, vars(owner).get(name, _ABSENT)))
        setattr(owner, name, make(original))

    def restore(self) -> None:
        while self._originals:
            owner, name, held = self._originals.pop()
            if held is _ABSENT:
                delattr(owner, name)
            else:
                setattr(owner, name, held)
