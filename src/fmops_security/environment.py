"""Function environment variables hold resource names, never secrets."""

from __future__ import annotations

import json
import re
from typing import Any

from fmops_local.intrinsics import references
from fmops_security.findings import Finding
from fmops_security.intrinsics import branches

Template = dict[str, Any]

# Names that announce a secret. A variable so named must point at a resource (a Secrets Manager secret,
# a key) by Ref/GetAtt/Sub; the function reads the secret's value at run time.
SECRET_LIKE_NAME = re.compile(r"TOKEN|SECRET|PASSWORD|PASSWD|CREDENTIAL|KEY", re.IGNORECASE)


def secrets_in_environment(cfn: Template) -> list[Finding]:
    """(e) No function environment variable with a secret-like name holds anything but a resource reference.

    A literal, a parameter (which can carry a NoEcho value) or a {{resolve:...}} dynamic reference
    would all put the secret's value into the function's configuration, readable by anyone who can
    read the function.
    """
    resources: dict[str, dict[str, Any]] = cfn.get("Resources", {})
    parameters = set(cfn.get("Parameters", {}))
    findings = []
    for name, resource in resources.items():
        if resource.get("Type") not in ("AWS::Lambda::Function", "AWS::Serverless::Function"):
            continue
        for variables in branches(resource.get("Properties", {}).get("Environment", {}).get("Variables", {})):
            if not isinstance(variables, dict):
                findings.append(Finding("env-no-secrets", name, "environment variables cannot be read"))
                continue
            for variable, value in variables.items():
                if not SECRET_LIKE_NAME.search(variable):
                    continue
                problem = _not_a_resource_reference(value, set(resources), parameters)
                if problem:
                    findings.append(Finding("env-no-secrets", name, f"{variable}: {problem}"))
    return findings


def _not_a_resource_reference(value: Any, resources: set[str], parameters: set[str]) -> str | None:
    if "{{resolve:" in json.dumps(value):
        return "a {{resolve:...}} dynamic reference puts the secret's value in the environment"
    if not isinstance(value, dict | list):
        return "a literal value; reference the secret resource (its ARN or name) instead"
    referenced = references(value)
    if referenced & parameters:
        return f"refers to parameter(s) {sorted(referenced & parameters)}, which can carry a secret value"
    if not referenced & resources:
        return "refers to no resource of the template"
    return None
