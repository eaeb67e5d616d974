"""What a check reports."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, order=True)
class Finding:
    """One problem: which check found it, on which resource (logical id, file or route), and why."""

    check: str
    resource: str
    detail: str

    def __str__(self) -> str:
        return f"[{self.check}] {self.resource}: {self.detail}"


def explain(findings: list[Finding]) -> str:
    """Findings one per line, for an assertion message."""
    return "\n".join(str(finding) for finding in sorted(findings)) or "(none)"
