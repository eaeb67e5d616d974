"""Function environments hold resource names only: a secret is fetched at run time, never configured."""

from __future__ import annotations

from typing import Any

from fmops_security.environment import secrets_in_environment
from fmops_security.findings import explain


def test_no_function_environment_variable_holds_a_secret(expanded_template: dict[str, Any]) -> None:
    # (e) A TOKEN/SECRET/PASSWORD/KEY-like variable holds a Ref/GetAtt/Sub of a resource, not a value
    assert not (findings := secrets_in_environment(expanded_template)), explain(findings)


def test_a_secret_like_variable_may_name_a_secret_resource() -> None:
    # Given a function whose SLACK_BOT_TOKEN_ARN points at a Secrets Manager secret of the template
    cfn = {
        "Resources": {
            "Token": {"Type": "AWS::SecretsManager::Secret", "Properties": {}},
            "Fn": {
                "Type": "AWS::Lambda::Function",
                "Properties": {"Environment": {"Variables": {"SLACK_BOT_TOKEN_ARN": {"Ref": "Token"}}}},
            },
        }
    }
    # Then that is what the check wants
    assert secrets_in_environment(cfn) == []
