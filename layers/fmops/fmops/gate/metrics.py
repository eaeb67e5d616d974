"""The metric values the gate reads, independent of how evaluation computes them."""

from __future__ import annotations

from typing import Protocol

from pydantic import BaseModel, ConfigDict, Field


class MetricLike(Protocol):
    """One measured metric of a model version, as the gate needs it.

    Evaluation's own result type satisfies this structurally; the gate never imports it.
    """

    @property
    def name(self) -> str: ...
    @property
    def value(self) -> float: ...
    @property
    def unit(self) -> str: ...
    @property
    def sample_size(self) -> int: ...
    @property
    def higher_is_better(self) -> bool: ...


class ObservedMetric(BaseModel):
    """A plain `MetricLike`: for tests, stored champion metrics and the CLI."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(min_length=1, max_length=64)
    value: float = Field(allow_inf_nan=False)
    unit: str = Field(min_length=1, max_length=16)
    sample_size: int = Field(ge=0)
    higher_is_better: bool
