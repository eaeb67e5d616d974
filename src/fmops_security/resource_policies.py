"""Resource policies (buckets, queues, topics, keys, function permissions) grant nothing to everyone."""

from __future__ import annotations

from typing import Any

from fmops_security.findings import Finding
from fmops_security.intrinsics import branches

Template = dict[str, Any]

# Resource type -> the property holding its policy document.
_POLICY_DOCUMENTS = {
    "AWS::S3::BucketPolicy": "PolicyDocument",
    "AWS::SQS::QueuePolicy": "PolicyDocument",
    "AWS::SNS::TopicPolicy": "PolicyDocument",
    "AWS::Events::EventBusPolicy": "Statement",
    "AWS::KMS::Key": "KeyPolicy",
    "AWS::SecretsManager::ResourcePolicy": "ResourcePolicy",
}


def public_resource_policies(cfn: Template) -> list[Finding]:
    """No resource policy allows Principal "*" (or {"AWS": "*"}), and no Lambda permission is granted to "*".

    checkov misses a public bucket policy written next to the bucket; S3's BlockPublicPolicy would
    refuse it at deploy time, this refuses it at review time. A service principal with
    aws:SourceAccount/SourceArn conditions is the way to let AWS services in.
    """
    findings = []
    for name, resource in cfn.get("Resources", {}).items():
        kind = resource.get("Type")
        props = resource.get("Properties", {})
        if kind == "AWS::Lambda::Permission" and props.get("Principal") == "*":
            findings.append(Finding("public-resource-policy", name, "invoke permission granted to everyone"))
            continue
        key = _POLICY_DOCUMENTS.get(str(kind))
        if key is None or key not in props:
            continue
        document = props[key]
        statements = (
            document.get("Statement", []) if isinstance(document, dict) and "Statement" in document else document
        )
        for index, statement in enumerate(s for item in _as_list(statements) for s in branches(item)):
            if isinstance(statement, dict) and statement.get("Effect") == "Allow" and _everyone(statement):
                sid = statement.get("Sid") or f"#{index}"
                findings.append(Finding("public-resource-policy", f"{name} statement {sid}", "allows Principal *"))
    return findings


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _everyone(statement: dict[str, Any]) -> bool:
    if "NotPrincipal" in statement:
        return True  # an Allow with NotPrincipal grants everyone else
    principal = statement.get("Principal")
    if principal == "*":
        return True
    return isinstance(principal, dict) and "*" in _as_list(principal.get("AWS", []))
