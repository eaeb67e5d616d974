"""Policies as code: the rules a model version must meet to be promoted.

A policy is a JSON file (UTF-8, at most 64 KiB), versioned by its owner, one per model
group (`"model_group": "<group>"`) plus a default (`"model_group": "*"`)::

    {
      "schema_version": "1",
      "policy_version": "2026.11.1",
      "model_group": "*",
      "description": "Default gate for text-to-text models.",
      "thresholds": {
        "token_f1":       {"min": 0.6, "tiers": {"high": {"min": 0.7}}},
        "toxicity_rate":  {"max": 0.01, "tiers": {"high": {"max": 0.0}}},
        "refusal_rate":   {"min": 0.0, "max": 0.2},
        "answer_quality": {"min": 3.5, "unit": "score"}
      },
      "required_fields": [
        {"field": "base_model.licence", "kinds": ["foundation", "fine-tuned", "adapter"]},
        {"field": "lineage.datasets[].classification", "kinds": ["classic", "fine-tuned", "adapter"]},
        {"field": "intended_use"}
      ],
      "forbidden_classifications": {"prod": ["restricted"]},
      "required_metrics": ["token_f1", "toxicity_rate"],
      "champion_challenger": {"primary_metric": "token_f1", "max_regression": 0.02}
    }

- `thresholds`: metric name -> bound. A bound has `min`, `max` or both (a range, min <= max),
  inclusive. `tiers` overrides the whole bound for a manifest's risk tier (low/medium/high);
  a tier without an override uses the base bound. `unit` (ratio, ms, usd, count, score) is
  optional; for the built-in metrics (`BUILTIN_METRICS`) it is known, must match if given,
  and ratio bounds must lie in [0, 1], ms and usd bounds be >= 0.
- `required_fields`: manifest facts that must be present (`RequiredField`), optionally only
  for some model kinds (default: every kind).
- `forbidden_classifications`: stage (dev/preprod/prod) -> data classifications that no
  training dataset may carry for a version to be promoted to that stage.
- `required_metrics`: metric names the evaluation must report.
- `champion_challenger`: the candidate's primary metric may be worse than the production
  version's by at most `max_regression` (absolute, >= 0; the boundary passes).
  `higher_is_better` is known for built-in metrics and required for any other.

Unknown keys, duplicate keys, NaN/Infinity are errors. `parse_policy` reports every problem
with its JSON path (`$.thresholds.token_f1.min`). `policy_hash` identifies the exact rules a
decision was made under (see its docstring for the canonical form).
"""

from __future__ import annotations

import hashlib
import json
import re
from decimal import Decimal
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from fmops.errors import FmopsError
from fmops.manifest import VERSION_PATTERN, DataClassification, ModelKind, RiskTier
from fmops.metrics import BUILTIN_METRICS, METRIC_NAME_PATTERN, NON_NEGATIVE_UNITS, MetricUnit

POLICY_SCHEMA_VERSION = "1"
MAX_POLICY_BYTES = 64 * 1024
DEFAULT_POLICY_GROUP = "*"
DEFAULT_POLICY_FILE = "default.json"

POLICY_GROUP_PATTERN = r"^(\*|[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62})$"

MetricName = Annotated[str, Field(pattern=METRIC_NAME_PATTERN, description="Metric name, snake_case.")]
# A JSON number: "0.5" (a string), true, NaN and Infinity are refused rather than coerced.
Number = Annotated[float, Field(strict=True, allow_inf_nan=False)]


def exact(value: float) -> Decimal:
    """The decimal a policy author wrote: via the shortest repr, so 0.70 - 0.02 is exactly 0.68."""
    return Decimal(repr(float(value)))


def plain(value: float | Decimal | None) -> str:
    """A number as people write it: 2000.0 -> '2000', 0.68 -> '0.68', no exponent, no rounding."""
    if value is None:
        return "-"
    number = value if isinstance(value, Decimal) else exact(value)
    text = format(number.normalize(), "f")
    return "0" if text == "-0" else text


class Stage(StrEnum):
    DEV = "dev"
    PREPROD = "preprod"
    PROD = "prod"


class RequiredField(StrEnum):
    """Manifest facts a policy can require. Strings are absent when empty or blank."""

    BASE_MODEL = "base_model"
    BASE_MODEL_LICENCE = "base_model.licence"
    DATASETS = "lineage.datasets"
    DATASET_CLASSIFICATIONS = "lineage.datasets[].classification"
    CODE = "lineage.code"
    TRAINING_JOB = "lineage.training_job"
    INTENDED_USE = "intended_use"
    LIMITATIONS = "limitations"
    DESCRIPTION = "description"


class PolicyProblem(BaseModel):
    """One reason a policy file was refused, with the JSON path of the offending value."""

    model_config = ConfigDict(defer_build=True, extra="forbid", frozen=True)

    path: str
    message: str


class PolicyInvalid(FmopsError):
    """A policy file that cannot be used; `problems` lists every reason, each with its path."""

    def __init__(self, problems: list[PolicyProblem]) -> None:
        self.problems = problems
        lines = "\n".join(f"  {p.path}: {p.message}" for p in problems)
        super().__init__(f"invalid policy ({len(problems)} problem{'s' if len(problems) != 1 else ''}):\n{lines}")

    @classmethod
    def single(cls, path: str, message: str) -> PolicyInvalid:
        return cls([PolicyProblem(path=path, message=message)])


class _Strict(BaseModel):
    # A misspelt key must not silently drop a rule.
    model_config = ConfigDict(defer_build=True, extra="forbid", frozen=True)


class Bound(_Strict):
    """Inclusive bound on a metric: `min`, `max` or both."""

    min: Number | None = None
    max: Number | None = None

    @model_validator(mode="after")
    def _is_a_usable_bound(self) -> Bound:
        if self.min is None and self.max is None:
            raise ValueError("a bound needs 'min', 'max' or both")
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError(f"min ({self.min}) is greater than max ({self.max})")
        return self

    def describe(self) -> str:
        if self.min is not None and self.max is not None:
            return f"between {plain(self.min)} and {plain(self.max)}"
        if self.min is not None:
            return f">= {plain(self.min)}"
        return f"<= {plain(self.max)}"

    def admits(self, value: float) -> bool:
        return (self.min is None or value >= self.min) and (self.max is None or value <= self.max)


class Threshold(Bound):
    """A metric's bound, with optional per-risk-tier overrides that replace it for that tier."""

    unit: MetricUnit | None = None
    tiers: dict[RiskTier, Bound] = Field(default_factory=dict)

    def for_tier(self, tier: RiskTier) -> Bound:
        return self.tiers.get(tier) or Bound(min=self.min, max=self.max)


class FieldRequirement(_Strict):
    field: RequiredField
    kinds: list[ModelKind] | None = Field(
        default=None, min_length=1, description="Model kinds the requirement applies to; omitted: every kind."
    )

    def applies_to(self, kind: ModelKind) -> bool:
        return self.kinds is None or kind in self.kinds


class ChampionChallenger(_Strict):
    primary_metric: MetricName
    max_regression: Number = Field(ge=0, description="Largest allowed absolute regression against production.")
    higher_is_better: bool | None = Field(default=None, description="Known for built-in metrics; required otherwise.")

    @property
    def direction_higher_is_better(self) -> bool:
        if self.higher_is_better is not None:
            return self.higher_is_better
        return BUILTIN_METRICS[self.primary_metric].higher_is_better


class Policy(_Strict):
    """A validated policy file. Build it with `parse_policy` to get every problem with its path."""

    schema_version: Literal["1"]
    policy_version: str = Field(pattern=VERSION_PATTERN, description="The owner's version label of this policy.")
    model_group: str = Field(pattern=POLICY_GROUP_PATTERN, description="Model group, or '*' for the default.")
    description: str = Field(default="", max_length=4000)
    thresholds: dict[MetricName, Threshold] = Field(default_factory=dict)
    required_fields: list[FieldRequirement] = Field(default_factory=list)
    forbidden_classifications: dict[Stage, list[DataClassification]] = Field(default_factory=dict)
    required_metrics: list[MetricName] = Field(default_factory=list)
    champion_challenger: ChampionChallenger | None = None

    @field_validator("required_metrics")
    @classmethod
    def _metrics_named_once(cls, names: list[str]) -> list[str]:
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise ValueError(f"metrics listed more than once: {', '.join(duplicates)}")
        return names

    @field_validator("required_fields")
    @classmethod
    def _fields_required_once(cls, requirements: list[FieldRequirement]) -> list[FieldRequirement]:
        fields = [r.field.value for r in requirements]
        duplicates = sorted({f for f in fields if fields.count(f) > 1})
        if duplicates:
            raise ValueError(f"fields required more than once (merge their kinds): {', '.join(duplicates)}")
        return requirements

    @model_validator(mode="after")
    def _rules_make_sense_for_their_metrics(self) -> Policy:
        problems = _semantic_problems(self)
        if problems:
            # The structured list travels in ctx so parse_policy can report each path separately.
            raise PydanticCustomError(
                "policy_semantics",
                "{summary}",
                {
                    "summary": "; ".join(f"{p.path}: {p.message}" for p in problems),
                    "problems": [p.model_dump() for p in problems],
                },
            )
        return self

    @property
    def is_default(self) -> bool:
        return self.model_group == DEFAULT_POLICY_GROUP

    def applies_to(self, model_group: str) -> bool:
        return self.is_default or self.model_group == model_group


def _semantic_problems(policy: Policy) -> list[PolicyProblem]:
    problems: list[PolicyProblem] = []
    for name, threshold in policy.thresholds.items():
        base = f"$.thresholds.{name}"
        spec = BUILTIN_METRICS.get(name)
        if spec is not None and threshold.unit is not None and threshold.unit != spec.unit:
            problems.append(
                PolicyProblem(
                    path=f"{base}.unit",
                    message=f"{name} is measured in '{spec.unit.value}', not '{threshold.unit.value}'",
                )
            )
        unit = spec.unit if spec is not None else threshold.unit
        bounds: list[tuple[str, Bound]] = [(base, threshold)]
        bounds += [(f"{base}.tiers.{tier.value}", bound) for tier, bound in threshold.tiers.items()]
        for path, bound in bounds:
            for key in ("min", "max"):
                value = getattr(bound, key)
                message = _out_of_range(name, unit, value)
                if message:
                    problems.append(PolicyProblem(path=f"{path}.{key}", message=message))

    rule = policy.champion_challenger
    if rule is not None:
        spec = BUILTIN_METRICS.get(rule.primary_metric)
        base = "$.champion_challenger"
        if spec is None and rule.higher_is_better is None:
            problems.append(
                PolicyProblem(
                    path=f"{base}.higher_is_better",
                    message=f"'{rule.primary_metric}' is not a built-in metric: say whether higher is better",
                )
            )
        if spec is not None and rule.higher_is_better is not None and rule.higher_is_better != spec.higher_is_better:
            better = "higher" if spec.higher_is_better else "lower"
            problems.append(
                PolicyProblem(
                    path=f"{base}.higher_is_better",
                    message=f"for {rule.primary_metric} {better} is better; remove the key or set it to "
                    f"{str(spec.higher_is_better).lower()}",
                )
            )
        custom = policy.thresholds.get(rule.primary_metric)
        unit = spec.unit if spec is not None else (custom.unit if custom is not None else None)
        if unit == MetricUnit.RATIO and rule.max_regression > 1:
            problems.append(
                PolicyProblem(
                    path=f"{base}.max_regression",
                    message=f"{rule.primary_metric} is a ratio: a regression margin above 1 allows anything",
                )
            )
    return problems


def _out_of_range(name: str, unit: MetricUnit | None, value: float | None) -> str | None:
    if value is None:
        return None
    if unit == MetricUnit.RATIO and not 0 <= value <= 1:
        return f"{name} is a ratio: bounds must lie in [0, 1], got {plain(value)}"
    if unit in NON_NEGATIVE_UNITS and value < 0:
        return f"{name} is measured in '{unit.value}': bounds must be >= 0, got {plain(value)}"
    return None


# ------------------------------------------------------------------------------ parsing


class _JsonObject(dict[str, Any]):
    """A JSON object that remembers the keys it saw more than once (json keeps the last)."""

    duplicates: list[str]


def _object_hook(pairs: list[tuple[str, Any]]) -> _JsonObject:
    obj = _JsonObject(pairs)
    keys = [key for key, _ in pairs]
    obj.duplicates = sorted({key for key in keys if keys.count(key) > 1})
    return obj


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a number a policy can use")


def _load_json(raw: bytes) -> Any:
    if len(raw) > MAX_POLICY_BYTES:
        raise PolicyInvalid([PolicyProblem(path="$", message=f"policy exceeds {MAX_POLICY_BYTES} bytes")])
    try:
        return json.loads(raw.decode("utf-8"), object_pairs_hook=_object_hook, parse_constant=_reject_constant)
    except UnicodeDecodeError as error:
        raise PolicyInvalid([PolicyProblem(path="$", message=f"policy is not UTF-8: {error}")]) from error
    except ValueError as error:  # JSONDecodeError is a ValueError, and so is a NaN/Infinity literal
        raise PolicyInvalid([PolicyProblem(path="$", message=f"policy is not valid JSON: {error}")]) from error


def _duplicate_key_problems(node: Any, path: str = "$") -> list[PolicyProblem]:
    problems: list[PolicyProblem] = []
    if isinstance(node, _JsonObject):
        problems += [
            PolicyProblem(path=_join(path, key), message=f"'{key}' appears more than once in this object")
            for key in node.duplicates
        ]
        for key, value in node.items():
            problems += _duplicate_key_problems(value, _join(path, key))
    elif isinstance(node, list):
        for index, item in enumerate(node):
            problems += _duplicate_key_problems(item, f"{path}[{index}]")
    return problems


def _join(path: str, key: str | int) -> str:
    if isinstance(key, int):
        return f"{path}[{key}]"
    if re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", key):
        return f"{path}.{key}"
    return f"{path}[{json.dumps(key)}]"


def _problems_from(error: ValidationError) -> list[PolicyProblem]:
    problems: list[PolicyProblem] = []
    for detail in error.errors(include_url=False):
        if detail["type"] == "policy_semantics":
            problems += [PolicyProblem.model_validate(p) for p in detail["ctx"]["problems"]]
            continue
        path = "$"
        for part in detail["loc"]:
            if part == "[key]":  # pydantic's marker for "the key itself was invalid"
                continue
            path = _join(path, part)
        message = str(detail["msg"])
        kind, ctx = detail["type"], detail.get("ctx", {})
        if kind == "extra_forbidden":
            message = f"unknown key '{detail['loc'][-1]}'"
        elif kind == "missing":
            message = "required key is missing"
        elif kind == "enum":
            message = f"unknown value {json.dumps(detail['input'])}: expected {ctx['expected']}"
        elif kind == "greater_than_equal":
            message = f"must be >= {ctx['ge']}, got {detail['input']}"
        elif message.startswith("Value error, "):
            message = message.removeprefix("Value error, ")
        problems.append(PolicyProblem(path=path, message=message))
    return problems


def parse_policy(raw: bytes) -> Policy:
    """Parse and validate a policy file, raising `PolicyInvalid` with every problem found."""
    document = _load_json(raw)
    if not isinstance(document, dict):
        raise PolicyInvalid([PolicyProblem(path="$", message="a policy must be a JSON object")])
    problems = _duplicate_key_problems(document)
    policy: Policy | None = None
    try:
        policy = Policy.model_validate(document)
    except ValidationError as error:
        problems += _problems_from(error)
    if problems or policy is None:
        raise PolicyInvalid(problems)
    return policy


def canonical_json(raw: bytes) -> bytes:
    """The canonical form hashed by `policy_hash`.

    The file's JSON value re-serialised with keys sorted at every level, no insignificant
    whitespace (separators ',' and ':'), non-ASCII characters kept as UTF-8 (not \\u escapes)
    and numbers as Python prints them (`0.60` -> `0.6`, but `1` and `1.0` stay distinct).
    Reformatting or reordering keys keeps the hash; changing any value or list order does not.
    """
    document = _load_json(raw)
    return json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def policy_hash(raw: bytes) -> str:
    """Lower-case hex SHA-256 of `canonical_json(raw)`; recorded in every gate decision."""
    return hashlib.sha256(canonical_json(raw)).hexdigest()


def policy_file_names(model_group: str) -> list[str]:
    """The policy files to look for, in order: the group's own, then the default."""
    return [f"{model_group}.json", DEFAULT_POLICY_FILE]


def policy_json_schema() -> dict[str, Any]:
    """The published JSON Schema of policy files (for editors; semantic checks are in `parse_policy`)."""
    schema = Policy.model_json_schema(mode="validation")
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["$id"] = f"https://fmops.dev/schemas/policy/v{POLICY_SCHEMA_VERSION}.json"
    return schema
