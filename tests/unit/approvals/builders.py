"""Valid approval rules, directories and stage states; each test changes only what it is about."""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from fmops.approvals.directory import ApproverDirectory, parse_directory
from fmops.approvals.engine import StageApproval, open_stage
from fmops.approvals.rules import ApprovalRules, parse_rules
from fmops.gate.policy import Stage

APPROVALS_DIR = Path(__file__).resolve().parents[3] / "approvals"
EXAMPLE_RULES = (APPROVALS_DIR / "rules.json").read_bytes()
EXAMPLE_DIRECTORY = (APPROVALS_DIR / "directory.json").read_bytes()
REQUESTED_AT = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
SUBMITTER = "sam.submitter"


def stage_rule(**overrides: Any) -> dict[str, Any]:
    rule: dict[str, Any] = {
        "groups": ["reviewers"],
        "quorum": 1,
        "separation_of_duties": {"submitter": True, "earlier_stages": False},
        "expires_after": "P2D",
        "reminders": ["PT4H"],
        "on_timeout": "reject",
    }
    rule.update(overrides)
    return rule


def rules_document(**stage_overrides: dict[str, Any]) -> dict[str, Any]:
    """Every stage approved by one reviewer; `prod={...}` replaces keys of that stage's rule."""
    document: dict[str, Any] = {
        "schema_version": "1",
        "stages": {stage.value: stage_rule() for stage in Stage},
    }
    for stage, overrides in stage_overrides.items():
        document["stages"][stage].update(overrides)
    return copy.deepcopy(document)


def person(person_id: str, *groups: str, **overrides: Any) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "id": person_id,
        "display_name": person_id.replace(".", " ").title(),
        "email": f"{person_id}@example.com",
        "groups": list(groups),
    }
    entry.update(overrides)
    return entry


def directory_document(*people: dict[str, Any]) -> dict[str, Any]:
    return {"schema_version": "1", "approvers": list(people)}


def encode(document: dict[str, Any]) -> bytes:
    return json.dumps(document).encode()


def rules(**stage_overrides: dict[str, Any]) -> ApprovalRules:
    return parse_rules(encode(rules_document(**stage_overrides)))


def directory(*people: dict[str, Any]) -> ApproverDirectory:
    return parse_directory(encode(directory_document(*people)))


# The people of engine tests: the submitter (no groups), three reviewers, a fallback, an outsider.
TEAM = directory(
    person(SUBMITTER),
    person("rita.reviewer", "reviewers"),
    person("rob.reviewer", "reviewers"),
    person("ruth.reviewer", "reviewers"),
    person("fay.fallback", "fallback"),
    person("otto.outsider", "finance"),
)


def shipped() -> tuple[ApprovalRules, ApproverDirectory]:
    """The example rules and directory shipped in approvals/."""
    return (
        parse_rules((APPROVALS_DIR / "rules.json").read_bytes()),
        parse_directory((APPROVALS_DIR / "directory.json").read_bytes()),
    )


def stage(
    stage_name: Stage = Stage.PROD,
    earlier_approvers: tuple[str, ...] = (),
    team: ApproverDirectory = TEAM,
    **rule_overrides: Any,
) -> StageApproval:
    """A freshly opened stage under a rule that differs from `stage_rule()` only by `rule_overrides`."""
    return open_stage(
        version_id="sentiment-classifier/1.4.0",
        stage=stage_name,
        rules=rules(**{stage_name.value: rule_overrides}),
        directory=team,
        submitter=SUBMITTER,
        submitter_email=f"{SUBMITTER}@example.com",
        requested_at=REQUESTED_AT,
        earlier_approvers=earlier_approvers,
    )
