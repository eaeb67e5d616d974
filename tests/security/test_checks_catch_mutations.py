"""Each security check fails when template.yaml breaks its rule.

Every test applies one change to a copy of template.yaml (tests/security/conftest.py `mutate`), runs
the same check function as the real tests on the copy, and expects the finding that change deserves.
A check that cannot fail here would pass anything.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from fmops_security import apis, checkov, environment, iam, resource_policies, secrets, templates
from fmops_security.findings import Finding, explain

Template = dict[str, Any]
# The `mutate` fixture (conftest.py): applies a change to a copy of template.yaml, returns the copy's path.
Mutate = Callable[[Callable[[Template], None]], Path]

SEND_TASK = list(iam.SEND_TASK_ACTIONS)


def _resources(template: Template) -> dict[str, Any]:
    resources: dict[str, Any] = template["Resources"]
    return resources


def _statements(template: Template, function: str) -> list[dict[str, Any]]:
    """The Statement list of the function's first inline policy (one is added if it has none)."""
    policies = _resources(template)[function]["Properties"].setdefault("Policies", [])
    for policy in policies:
        if isinstance(policy, dict) and "Statement" in policy:
            statements: list[dict[str, Any]] = policy["Statement"]
            return statements
    policies.append({"Statement": []})
    return _statements(template, function)


def _allow(template: Template, function: str, action: str | list[str], resource: Any) -> None:
    _statements(template, function).append({"Effect": "Allow", "Action": action, "Resource": resource})


def _arn(logical_id: str) -> dict[str, Any]:
    return {"Fn::GetAtt": [logical_id, "Arn"]}


def _about(findings: list[Finding], *words: str) -> list[Finding]:
    return [f for f in findings if all(word in f"{f.resource} {f.detail}" for word in words)]


# ------------------------------------------------------------------------------------------------ (a), (b)
def test_a_wildcard_action_fails_the_wildcard_check(mutate: Mutate) -> None:
    # Given the audit writer's first statement also allows dynamodb:*
    def add_wildcard(template: Template) -> None:
        statement = _statements(template, "AuditWriterFunction")[0]
        actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
        statement["Action"] = [*actions, "dynamodb:*"]

    expanded = templates.expand(mutate(add_wildcard))
    # Then the wildcard check names the role and the action, and the audit writer check objects too
    assert _about(iam.wildcard_actions(expanded), "AuditWriterFunctionRole", "dynamodb:*"), explain(
        iam.wildcard_actions(expanded)
    )
    assert _about(iam.audit_writer_is_append_only(expanded), "dynamodb:*")


def test_an_aws_managed_policy_with_wildcards_fails_the_wildcard_check(mutate: Mutate) -> None:
    # Given the intake function also gets an AWS managed policy (its document comes from moto's copy)
    path = mutate(
        lambda t: _resources(t)["IntakeFunction"]["Properties"]["Policies"].append("AmazonDynamoDBFullAccess")
    )
    findings = iam.wildcard_actions(templates.expand(path))
    assert _about(findings, "IntakeFunctionRole", "AmazonDynamoDBFullAccess", "dynamodb:*"), explain(findings)


def test_an_unknown_managed_policy_fails_as_unreadable(mutate: Mutate) -> None:
    path = mutate(
        lambda t: _resources(t)["IntakeFunction"]["Properties"]["Policies"].append(
            "arn:aws:iam::123456789012:policy/SomethingElsewhere"
        )
    )
    findings = iam.unreadable_policies(templates.expand(path))
    assert _about(findings, "IntakeFunctionRole", "SomethingElsewhere"), explain(findings)


def test_a_function_running_as_an_outside_role_fails_as_unreadable(mutate: Mutate) -> None:
    path = mutate(
        lambda t: _resources(t)["StartPromotionFunction"]["Properties"].update(
            Role="arn:aws:iam::123456789012:role/platform-admin"
        )
    )
    findings = iam.unreadable_policies(templates.expand(path))
    assert _about(findings, "StartPromotionFunction", "not a role of this template"), explain(findings)


def test_resource_star_fails_the_resource_check(mutate: Mutate) -> None:
    expanded = templates.expand(mutate(lambda t: _allow(t, "StartPromotionFunction", "s3:GetObject", "*")))
    findings = iam.unscoped_resources(expanded)
    assert _about(findings, "StartPromotionFunctionRole", "s3:GetObject"), explain(findings)


def test_log_delivery_on_resource_star_is_for_state_machines_only(mutate: Mutate) -> None:
    # Given a function role (not a state machine's) with a log-delivery action on "*"
    expanded = templates.expand(mutate(lambda t: _allow(t, "IntakeFunction", "logs:CreateLogDelivery", "*")))
    findings = iam.unscoped_resources(expanded)
    assert _about(findings, "IntakeFunctionRole", "logs:CreateLogDelivery"), explain(findings)


# ------------------------------------------------------------------------------------------------ (c)
@pytest.mark.parametrize(
    ("action", "resource"),
    [
        ("dynamodb:UpdateItem", "AuditTable"),
        ("dynamodb:DeleteItem", "AuditTable"),
        ("dynamodb:BatchWriteItem", "AuditTable"),
        ("dynamodb:PutItem", "CatalogTable"),
        ("s3:GetObject", "ArtifactBucket"),
    ],
)
def test_anything_but_appending_to_the_audit_table_fails_the_audit_writer_check(
    mutate: Mutate, action: str, resource: str
) -> None:
    expanded = templates.expand(mutate(lambda t: _allow(t, "AuditWriterFunction", action, _arn(resource))))
    findings = iam.audit_writer_is_append_only(expanded)
    assert _about(findings, "AuditWriterFunctionRole", action), explain(findings)


def test_an_audit_writer_that_cannot_put_fails_the_audit_writer_check(mutate: Mutate) -> None:
    def drop_put_item(template: Template) -> None:
        for statement in _statements(template, "AuditWriterFunction"):
            actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
            statement["Action"] = [a for a in actions if a != "dynamodb:PutItem"] or ["dynamodb:GetItem"]

    findings = iam.audit_writer_is_append_only(templates.expand(mutate(drop_put_item)))
    assert _about(findings, "no dynamodb:PutItem"), explain(findings)


# ------------------------------------------------------------------------------------------------ (d)
@pytest.mark.parametrize("grant", [SEND_TASK, ["states:SendTaskSuccess"], ["states:*"], ["states:SendTask*"]])
def test_send_task_in_any_other_role_fails_the_approval_check(mutate: Mutate, grant: list[str]) -> None:
    expanded = templates.expand(mutate(lambda t: _allow(t, "IntakeFunction", grant, "*")))
    findings = iam.send_task_only_in_callbacks(expanded)
    assert _about(findings, "IntakeFunctionRole", "states:SendTaskSuccess"), explain(findings)


def test_the_approval_callback_alone_may_send_task_results(mutate: Mutate) -> None:
    # Given an approval callback function that sends task results, and the intake function that does too
    def add_callback(template: Template) -> None:
        _resources(template)["ApprovalCallbackFunction"] = {
            "Type": "AWS::Serverless::Function",
            "Properties": {
                "CodeUri": "functions/approval_callback",
                "Handler": "app.handler",
                "Policies": [{"Statement": [{"Effect": "Allow", "Action": SEND_TASK, "Resource": "*"}]}],
            },
        }
        _allow(template, "IntakeFunction", "states:SendTaskFailure", "*")

    expanded = templates.expand(mutate(add_callback))
    # Then only the intake function's grant is a finding: the callback's is the one allowed, "*" included
    findings = iam.send_task_only_in_callbacks(expanded)
    assert findings and all("IntakeFunctionRole" in f.resource for f in findings), explain(findings)
    assert not _about(iam.unscoped_resources(expanded), "ApprovalCallbackFunctionRole")


# ------------------------------------------------------------------------------------------------ (e) and secrets
def _slack_token() -> str:
    # Assembled at run time so that this file holds no token for the repository's own scan to find.
    return "-".join(["xoxb", "1" * 12, "2" * 13, "ab3" * 8])


def _hard_code_a_token(template: Template) -> None:
    environment_ = _resources(template)["IntakeFunction"]["Properties"].setdefault("Environment", {})
    environment_.setdefault("Variables", {})["SLACK_BOT_TOKEN"] = _slack_token()


def test_a_hard_coded_secret_fails_the_environment_check(mutate: Mutate) -> None:
    findings = environment.secrets_in_environment(templates.expand(mutate(_hard_code_a_token)))
    assert _about(findings, "IntakeFunction", "SLACK_BOT_TOKEN", "literal"), explain(findings)


@pytest.mark.parametrize(
    "value",
    [
        {"Ref": "Stage"},  # a parameter can carry a secret value
        "{{resolve:secretsmanager:slack-bot-token}}",  # the secret's value would sit in the configuration
    ],
)
def test_a_secret_value_from_a_parameter_or_dynamic_reference_fails_the_environment_check(
    mutate: Mutate, value: Any
) -> None:
    path = mutate(
        lambda t: _resources(t)["AuditWriterFunction"]["Properties"]["Environment"]["Variables"].update(
            SLACK_SIGNING_SECRET=value
        )
    )
    findings = environment.secrets_in_environment(templates.expand(path))
    assert _about(findings, "AuditWriterFunction", "SLACK_SIGNING_SECRET"), explain(findings)


@pytest.mark.slow
def test_a_hard_coded_secret_fails_the_secrets_scan(mutate: Mutate, repo_root: Path, scan_bin: Path) -> None:
    path = mutate(_hard_code_a_token)
    result = secrets.scan(repo_root, [str(path)], scan_bin)
    assert _about(result.findings, str(path), "Slack Token"), explain(result.findings)


# ------------------------------------------------------------------------------------------------ checkov
@pytest.mark.slow
@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (
            lambda t: _resources(t)["ArtifactBucket"]["Properties"].pop("PublicAccessBlockConfiguration"),
            {"CKV_AWS_53", "CKV_AWS_54", "CKV_AWS_55", "CKV_AWS_56"},
        ),
        (lambda t: _resources(t)["ArtifactBucket"]["Properties"].update(AccessControl="PublicRead"), {"CKV_AWS_20"}),
    ],
    ids=["no-public-access-block", "public-read-acl"],
)
def test_a_public_bucket_fails_checkov(mutate: Mutate, scan_bin: Path, change: Any, expected: set[str]) -> None:
    result = checkov.run(mutate(change), scan_bin)
    failed = {f.check for f in result.failed if f.resource == "AWS::S3::Bucket.ArtifactBucket"}
    assert expected <= failed, f"{result.counts()}\n{explain(result.failed)}"


def test_a_public_bucket_policy_fails_the_resource_policy_check(mutate: Mutate) -> None:
    # checkov 3.3 lets a bucket policy for Principal "*" through; the project's own check does not.
    def open_bucket(template: Template) -> None:
        policy = _resources(template)["ArtifactBucketPolicy"]["Properties"]["PolicyDocument"]
        policy["Statement"].append(
            {
                "Sid": "Everyone",
                "Effect": "Allow",
                "Principal": "*",
                "Action": "s3:GetObject",
                "Resource": {"Fn::Sub": "${ArtifactBucket.Arn}/*"},
            }
        )

    findings = resource_policies.public_resource_policies(templates.expand(mutate(open_bucket)))
    assert _about(findings, "ArtifactBucketPolicy", "Everyone"), explain(findings)


@pytest.mark.slow
def test_an_unencrypted_table_fails_checkov(mutate: Mutate, scan_bin: Path) -> None:
    result = checkov.run(mutate(lambda t: _resources(t)["AuditTable"]["Properties"].pop("SSESpecification")), scan_bin)
    assert ("CKV_AWS_119", "AWS::DynamoDB::Table.AuditTable") in {(f.check, f.resource) for f in result.failed}, (
        explain(result.failed)
    )


@pytest.mark.slow
def test_the_expanded_run_sees_the_roles_sam_generates(mutate: Mutate, scan_bin: Path, tmp_path: Path) -> None:
    # Given a function policy written in SAM (checkov cannot see the role it becomes in the raw template)
    path = mutate(lambda t: _allow(t, "AuditWriterFunction", "dynamodb:*", "*"))
    # When checkov runs on the expanded template, Then it flags the generated role
    result = checkov.run_expanded(path, scan_bin, tmp_path)
    flagged = {f.check for f in result.failed if f.resource == "AWS::IAM::Role.AuditWriterFunctionRole"}
    assert flagged, f"{result.counts()}\n{explain(result.failed)}"


# ------------------------------------------------------------------------------------------------ (f)
def _add_event(template: Template, name: str, event: dict[str, Any]) -> None:
    _resources(template)["AuditWriterFunction"]["Properties"]["Events"][name] = event


@pytest.mark.parametrize("kind", ["Api", "HttpApi"])
def test_a_route_without_iam_auth_fails_the_api_check(mutate: Mutate, kind: str) -> None:
    # Given the audit writer also serves GET /audit/{version_id} on SAM's implicit API, with SAM's defaults
    event = {"Type": kind, "Properties": {"Path": "/audit/{version_id}", "Method": "get"}}
    findings = apis.api_access(templates.expand(mutate(lambda t: _add_event(t, "ReadAudit", event))))
    # Then the route needs IAM authorization, and the stage has neither throttling nor access logs
    assert _about(findings, "GET /audit/{version_id}", "AWS_IAM"), explain(findings)
    assert _about(findings, "throttling") and _about(findings, "access logs"), explain(findings)


def test_a_public_function_url_fails_the_api_check(mutate: Mutate) -> None:
    path = mutate(
        lambda t: _resources(t)["AuditWriterFunction"]["Properties"].update(FunctionUrlConfig={"AuthType": "NONE"})
    )
    findings = apis.api_access(templates.expand(path))
    assert _about(findings, "AuditWriterFunctionUrl"), explain(findings)


def _well_configured_apis(template: Template) -> None:
    logs = _arn("AuditWriterLogGroup")
    _resources(template)["AuditApi"] = {
        "Type": "AWS::Serverless::Api",
        "Properties": {
            "StageName": "v1",
            "OpenApiVersion": "3.0",  # or SAM also deploys a bare stage named "Stage"
            "Auth": {"DefaultAuthorizer": "AWS_IAM"},
            "MethodSettings": [
                {"ResourcePath": "/*", "HttpMethod": "*", "ThrottlingRateLimit": 5, "ThrottlingBurstLimit": 10}
            ],
            "AccessLogSetting": {"DestinationArn": logs, "Format": "$context.requestId"},
        },
    }
    _resources(template)["ApprovalHttpApi"] = {
        "Type": "AWS::Serverless::HttpApi",
        "Properties": {
            "Auth": {"DefaultAuthorizer": "AWS_IAM", "EnableIamAuthorizer": True},
            "DefaultRouteSettings": {"ThrottlingRateLimit": 5, "ThrottlingBurstLimit": 10},
            "AccessLogSettings": {"DestinationArn": logs, "Format": "$context.requestId"},
        },
    }
    rest = {"Path": "/audit/{version_id}", "Method": "get", "RestApiId": {"Ref": "AuditApi"}}
    _add_event(template, "ReadAudit", {"Type": "Api", "Properties": rest})
    http = {"Path": "/approvals/{token}", "Method": "post", "ApiId": {"Ref": "ApprovalHttpApi"}}
    _add_event(template, "Approve", {"Type": "HttpApi", "Properties": http})


def test_apis_with_iam_auth_throttling_and_access_logs_pass_the_api_check(mutate: Mutate) -> None:
    # The control: the same check passes APIs that follow the rules, so the failures above are about the rules
    findings = apis.api_access(templates.expand(mutate(_well_configured_apis)))
    assert not findings, explain(findings)


def test_a_listed_public_route_may_skip_iam_auth(mutate: Mutate) -> None:
    # Given the approval route without authorization (e.g. a signed link) and listed as public
    def open_approvals(template: Template) -> None:
        _well_configured_apis(template)
        approve = _resources(template)["AuditWriterFunction"]["Properties"]["Events"]["Approve"]["Properties"]
        approve["Auth"] = {"Authorizer": "NONE"}

    expanded = templates.expand(mutate(open_approvals))
    # Then it is a finding unless listed, and listed it is not
    assert _about(apis.api_access(expanded), "POST /approvals/{token}")
    listed = {**apis.PUBLIC_ROUTES, "POST /approvals/{token}": "signed single-use link"}
    assert not apis.api_access(expanded, public_routes=listed)
