"""Approval rules as code: who must approve a model version for each stage, and by when.

A rules file (`approvals/rules.json`, UTF-8, at most 64 KiB) names a rule for every stage::

    {
      "schema_version": "1",
      "stages": {
        "prod": {
          "groups": ["model-risk", "business-owners"],
          "quorum": 2,
          "separation_of_duties": {"submitter": true, "earlier_stages": true},
          "expires_after": "P5D",
          "reminders": ["P2D", "PT12H"],
          "escalation": {"after": "P3D", "group": "release-managers"},
          "on_timeout": "reject"
        },
        "dev": {...}, "preprod": {...}
      }
    }

- Every stage (dev, preprod, prod) needs a rule: a stage without one would either wait
  forever or be skipped silently, and neither is a decision anyone made.
- `groups`: approver groups (see `fmops.approvals.directory`) whose members may decide.
- `quorum`: distinct approvals needed, counted across all the groups (1..10). Whether the
  directory holds enough people is checked by `directory.quorum_reachable`.
- `separation_of_duties.submitter` is always true; `false` is refused. Four eyes is the point of
  an approval: a switch to turn it off would be found and used under deadline pressure.
  `earlier_stages: true` also excludes whoever approved an earlier stage of the same version.
- Durations are ISO-8601 (`P2D`, `PT4H`, `P1DT12H`, `PT30M`; weeks, days, hours, minutes,
  seconds: no years or months, whose length varies) or a whole number of seconds.
  `expires_after` lies in [1 minute, 30 days].
- `reminders`: offsets *before* expiry at which pending approvers are reminded; each > 0 and
  shorter than `expires_after` (so it falls after the request), each listed once.
- `escalation` (optional): `after` this long (from the request, shorter than `expires_after`)
  without the stage being decided, members of `group` are notified and may decide too.
- `on_timeout`: only `"reject"`. An approval nobody gave is not an approval: an expired stage
  fails closed and the version is not promoted.

Unknown keys, duplicate keys and NaN/Infinity are errors; `parse_rules` reports every problem
with its JSON path (`$.stages.prod.quorum`).
"""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Annotated, Any, Literal

from pydantic import BeforeValidator, Field, field_validator, model_validator

from fmops.approvals._config import ConfigInvalid, ConfigProblem, Strict, parse, several
from fmops.gate.policy import Stage

RULES_SCHEMA_VERSION = "1"
MAX_RULES_BYTES = 64 * 1024
MAX_QUORUM = 10
MIN_EXPIRY = timedelta(minutes=1)
MAX_EXPIRY = timedelta(days=30)

# Shared with the directory: lower-case, so "Model-Risk" cannot silently name a second group.
APPROVER_GROUP_PATTERN = r"^[a-z0-9](-?[a-z0-9]){0,62}$"
GroupName = Annotated[str, Field(pattern=APPROVER_GROUP_PATTERN, description="Approver group, kebab-case.")]

_ISO_DURATION = re.compile(
    r"P(?:(?P<weeks>\d+)W)?(?:(?P<days>\d+)D)?(?:T(?:(?P<hours>\d+)H)?(?:(?P<minutes>\d+)M)?(?:(?P<seconds>\d+)S)?)?"
)


def parse_duration(value: Any) -> timedelta:
    """An ISO-8601 duration (`P2D`, `PT4H30M`) or a whole number of seconds, as a timedelta."""
    if isinstance(value, timedelta):
        return value
    # bool is an int in Python; `true` seconds is a typo, not a duration.
    if isinstance(value, int) and not isinstance(value, bool):
        return timedelta(seconds=value)
    if isinstance(value, str):
        match = _ISO_DURATION.fullmatch(value)
        if match and value not in ("P", "PT") and not value.endswith("T"):
            parts = {name: int(number) for name, number in match.groupdict().items() if number is not None}
            return timedelta(**parts)
    raise ValueError(
        f"{value!r} is not a duration: use ISO-8601 weeks/days/hours/minutes/seconds (e.g. 'P2D', 'PT4H') "
        "or a whole number of seconds"
    )


Duration = Annotated[timedelta, BeforeValidator(parse_duration)]


def describe(duration: timedelta) -> str:
    """A duration as people read it: '2d 4h', '1m 30s'."""
    seconds = int(duration.total_seconds())
    parts = []
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        count, seconds = divmod(seconds, size)
        if count:
            parts.append(f"{count}{unit}")
    return " ".join(parts) or "0s"


class SeparationOfDuties(Strict):
    # Literal[True]: the submitter can never decide their own version (see the module docstring).
    submitter: Literal[True] = True
    # strict: pydantic would read "yes", "off" or 0 as a boolean; a rule must say true or false.
    earlier_stages: bool = Field(
        default=False,
        strict=True,
        description="Whoever approved an earlier stage of the same version may not decide this one.",
    )

    @field_validator("submitter", mode="before")
    @classmethod
    def _four_eyes_always(cls, value: Any) -> Any:
        if value is False:
            raise ValueError("the submitter can never approve their own version: this cannot be switched off")
        return value


class Escalation(Strict):
    after: Duration = Field(description="Time from the request after which the fallback group may decide too.")
    group: GroupName


class StageRule(Strict):
    """How one stage is approved. Build it through `parse_rules` to get every problem with its path."""

    groups: list[GroupName] = Field(min_length=1)
    quorum: int = Field(strict=True, ge=1, le=MAX_QUORUM, description="Distinct approvals needed.")
    separation_of_duties: SeparationOfDuties = Field(default_factory=SeparationOfDuties)
    expires_after: Duration
    reminders: list[Duration] = Field(default_factory=list, description="Offsets before expiry.")
    escalation: Escalation | None = None
    on_timeout: Literal["reject"] = "reject"

    @field_validator("groups")
    @classmethod
    def _groups_named_once(cls, groups: list[str]) -> list[str]:
        duplicates = sorted({g for g in groups if groups.count(g) > 1})
        if duplicates:
            raise ValueError(f"groups listed more than once: {', '.join(duplicates)}")
        return groups

    @model_validator(mode="after")
    def _timings_fit_the_expiry(self) -> StageRule:
        problems: list[ConfigProblem] = []
        expiry = self.expires_after
        if not MIN_EXPIRY <= expiry <= MAX_EXPIRY:
            problems.append(
                ConfigProblem(
                    path="$.expires_after",
                    message=f"must lie between {describe(MIN_EXPIRY)} and {describe(MAX_EXPIRY)}, "
                    f"got {describe(expiry)}",
                )
            )
        for index, offset in enumerate(self.reminders):
            if not timedelta(0) < offset < expiry:
                problems.append(
                    ConfigProblem(
                        path=f"$.reminders[{index}]",
                        message=f"a reminder is an offset before expiry: it must be > 0 and shorter than "
                        f"expires_after ({describe(expiry)}), got {describe(offset)}",
                    )
                )
            elif offset in self.reminders[:index]:
                problems.append(
                    ConfigProblem(path=f"$.reminders[{index}]", message=f"reminder {describe(offset)} is listed twice")
                )
        if self.escalation is not None:
            if not timedelta(0) < self.escalation.after < expiry:
                problems.append(
                    ConfigProblem(
                        path="$.escalation.after",
                        message=f"escalation must come after the request and before expiry "
                        f"({describe(expiry)}), got {describe(self.escalation.after)}",
                    )
                )
            if self.escalation.group in self.groups:
                problems.append(
                    ConfigProblem(
                        path="$.escalation.group",
                        message=f"'{self.escalation.group}' already approves this stage: escalate to another group",
                    )
                )
        if problems:
            raise several(problems)
        return self


class ApprovalRules(Strict):
    """A validated rules file. Build it with `parse_rules` to get every problem with its path."""

    schema_version: Literal["1"]
    stages: dict[Stage, StageRule]

    @model_validator(mode="after")
    def _every_stage_has_a_rule(self) -> ApprovalRules:
        missing = [stage for stage in Stage if stage not in self.stages]
        if missing:
            raise several(
                [ConfigProblem(path=f"$.stages.{stage.value}", message="every stage needs a rule") for stage in missing]
            )
        return self

    def rule_for(self, stage: Stage) -> StageRule:
        return self.stages[stage]

    def earlier_stages(self, stage: Stage) -> list[Stage]:
        """The stages a version passes before `stage` (in the order of `Stage`)."""
        order = list(Stage)
        return order[: order.index(stage)]


class ApprovalRulesInvalid(ConfigInvalid):
    """An approval rules file that cannot be used; `problems` lists every reason, each with its path."""

    what = "approval rules"


def parse_rules(raw: bytes) -> ApprovalRules:
    """Parse and validate an approval rules file, raising `ApprovalRulesInvalid` with every problem."""
    return parse(raw, ApprovalRules, MAX_RULES_BYTES, ApprovalRulesInvalid)
