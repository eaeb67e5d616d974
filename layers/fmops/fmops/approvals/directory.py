"""The approver directory: who a person is, how to reach them and which approver groups they are in.

Locally a JSON file (`approvals/directory.json`, UTF-8, at most 256 KiB); on AWS the same
document in a table or parameter, read by an adapter::

    {
      "schema_version": "1",
      "approvers": [
        {"id": "ana.ortiz", "display_name": "Ana Ortiz", "email": "ana.ortiz@example.com",
         "slack_user_id": "U04ANAORTZ", "groups": ["ml-engineers"]}
      ]
    }

Ids, e-mail addresses (compared case-insensitively) and Slack user ids each identify one
person: if two entries shared one, a single human could cast two of a quorum's approvals.
Unknown keys and duplicate keys are errors; `parse_directory` reports every problem with its path.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Literal

from pydantic import Field, field_validator, model_validator

from fmops.approvals._config import ConfigInvalid, ConfigProblem, Strict, parse, several
from fmops.approvals.rules import ApprovalRules, ApprovalRulesInvalid, GroupName, StageRule
from fmops.gate.policy import Stage

DIRECTORY_SCHEMA_VERSION = "1"
MAX_DIRECTORY_BYTES = 256 * 1024

# Lower-case so that "Ana.Ortiz" and "ana.ortiz" cannot be two approvers of one quorum.
APPROVER_ID_PATTERN = r"^[a-z0-9][a-z0-9._-]{0,127}$"
EMAIL_PATTERN = r"^[^@\s]+@[^@\s]+\.[^@\s]+$"
SLACK_USER_ID_PATTERN = r"^[UW][A-Z0-9]{2,20}$"


class Approver(Strict):
    id: str = Field(pattern=APPROVER_ID_PATTERN, description="Identity the person signs in with (e.g. SSO user).")
    display_name: str = Field(min_length=1, max_length=256)
    email: str = Field(pattern=EMAIL_PATTERN, max_length=320)
    slack_user_id: str | None = Field(default=None, pattern=SLACK_USER_ID_PATTERN)
    groups: list[GroupName] = Field(
        default_factory=list, description="Empty: known (e.g. a submitter), approves nothing."
    )

    @field_validator("groups")
    @classmethod
    def _groups_named_once(cls, groups: list[str]) -> list[str]:
        duplicates = sorted({g for g in groups if groups.count(g) > 1})
        if duplicates:
            raise ValueError(f"groups listed more than once: {', '.join(duplicates)}")
        return groups

    def in_any(self, groups: Iterable[str]) -> bool:
        return not set(self.groups).isdisjoint(groups)


class ApproverDirectory(Strict):
    """A validated directory. Build it with `parse_directory` to get every problem with its path."""

    schema_version: Literal["1"]
    approvers: list[Approver] = Field(default_factory=list)

    @model_validator(mode="after")
    def _each_identity_names_one_person(self) -> ApproverDirectory:
        problems: list[ConfigProblem] = []
        for key, label in (("id", "id"), ("email", "e-mail"), ("slack_user_id", "Slack user id")):
            first_seen: dict[str, int] = {}
            for index, approver in enumerate(self.approvers):
                value = getattr(approver, key)
                if value is None:
                    continue
                normalised = value.casefold() if key == "email" else value
                if normalised in first_seen:
                    problems.append(
                        ConfigProblem(
                            path=f"$.approvers[{index}].{key}",
                            message=f"{label} {value!r} is already used by $.approvers[{first_seen[normalised]}]",
                        )
                    )
                else:
                    first_seen[normalised] = index
        if problems:
            raise several(problems)
        return self

    def by_id(self, approver_id: str) -> Approver | None:
        return next((a for a in self.approvers if a.id == approver_id), None)

    def by_email(self, email: str) -> Approver | None:
        wanted = email.casefold()
        return next((a for a in self.approvers if a.email.casefold() == wanted), None)

    def by_slack_user_id(self, slack_user_id: str) -> Approver | None:
        return next((a for a in self.approvers if a.slack_user_id == slack_user_id), None)

    def members(self, groups: Iterable[str]) -> list[Approver]:
        """Everyone in at least one of `groups`, in directory order."""
        wanted = set(groups)
        return [a for a in self.approvers if a.in_any(wanted)]

    def eligible(
        self,
        rule: StageRule,
        submitter_id: str,
        earlier_approvers: Iterable[str] = (),
        *,
        submitter_email: str | None = None,
        escalated: bool = False,
    ) -> list[Approver]:
        """Who may decide a stage under `rule`, in directory order.

        Members of the rule's groups (and of its escalation group once `escalated`), minus the
        submitter (`is_submitter`) and, when the rule separates stages, minus `earlier_approvers`
        (ids of people who approved an earlier stage of the same version).
        """
        groups = list(rule.groups)
        if escalated and rule.escalation is not None:
            groups.append(rule.escalation.group)
        excluded = set(earlier_approvers) if rule.separation_of_duties.earlier_stages else set()
        return [
            a
            for a in self.members(groups)
            if a.id not in excluded and not is_submitter(a, submitter_id, submitter_email)
        ]


def is_submitter(approver: Approver, submitter_id: str, submitter_email: str | None) -> bool:
    """True when `approver` is the person who submitted the version.

    Compared by id and by e-mail, both case-insensitively: the manifest's submitter id is
    free text, and a different spelling of one's own name must not open a way around four eyes.
    """
    if approver.id.casefold() == submitter_id.casefold():
        return True
    return submitter_email is not None and approver.email.casefold() == submitter_email.casefold()


class ApproverDirectoryInvalid(ConfigInvalid):
    """An approver directory that cannot be used; `problems` lists every reason, each with its path."""

    what = "approver directory"


def parse_directory(raw: bytes) -> ApproverDirectory:
    """Parse and validate an approver directory, raising `ApproverDirectoryInvalid` with every problem."""
    return parse(raw, ApproverDirectory, MAX_DIRECTORY_BYTES, ApproverDirectoryInvalid)


def quorum_reachable(rules: ApprovalRules, directory: ApproverDirectory) -> list[ConfigProblem]:
    """Problems (paths into the rules file) that would leave a stage waiting until it expires.

    For each stage: a group or escalation group with nobody in it (usually a typo), and a quorum
    larger than the people the stage's groups can supply. With `earlier_stages` separation, the
    worst case is assumed: earlier stages' quorums were met by people who are also in this stage's
    groups. Escalation is not counted: it is a fallback for absent people, not a standing pool.
    The submitter is unknown here; `engine.open_stage` checks the real case when a stage opens.
    """
    problems: list[ConfigProblem] = []
    for stage in Stage:
        rule = rules.rule_for(stage)
        base = f"$.stages.{stage.value}"
        for index, group in enumerate(rule.groups):
            if not directory.members([group]):
                problems.append(ConfigProblem(path=f"{base}.groups[{index}]", message=f"nobody is in group '{group}'"))
        if rule.escalation is not None and not directory.members([rule.escalation.group]):
            problems.append(
                ConfigProblem(path=f"{base}.escalation.group", message=f"nobody is in group '{rule.escalation.group}'")
            )

        pool = {a.id for a in directory.members(rule.groups)}
        excluded = 0
        if rule.separation_of_duties.earlier_stages:
            earlier = [rules.rule_for(s) for s in rules.earlier_stages(stage)]
            earlier_pool: set[str] = set()
            for earlier_rule in earlier:
                groups = list(earlier_rule.groups)
                if earlier_rule.escalation is not None:
                    groups.append(earlier_rule.escalation.group)
                earlier_pool |= {a.id for a in directory.members(groups)}
            excluded = min(len(pool & earlier_pool), sum(r.quorum for r in earlier))
        available = len(pool) - excluded
        if available < rule.quorum:
            detail = f" ({excluded} may have approved an earlier stage)" if excluded else ""
            problems.append(
                ConfigProblem(
                    path=f"{base}.quorum",
                    message=f"quorum {rule.quorum} cannot be reached: groups {', '.join(rule.groups)} "
                    f"can supply at most {available} eligible approver{'s' if available != 1 else ''}{detail}",
                )
            )
    return problems


def assert_quorum_reachable(rules: ApprovalRules, directory: ApproverDirectory) -> None:
    """Raise `ApprovalRulesInvalid` when `quorum_reachable` finds any problem."""
    problems = quorum_reachable(rules, directory)
    if problems:
        raise ApprovalRulesInvalid(problems)
