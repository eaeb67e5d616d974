"""API access: IAM authorization on every route but the listed public ones; throttling and access logs on stages."""

from __future__ import annotations

from typing import Any

from fmops_security.findings import Finding
from fmops_security.intrinsics import referenced_logical_id

Template = dict[str, Any]

# Routes that may be called without AWS_IAM authorization, as "METHOD /path": each says what
# authenticates its callers instead (e.g. a Slack signature, a signed single-use link).
PUBLIC_ROUTES: dict[str, str] = {
    "GET /approvals/{approval_id}": "a random single-use link token bound to one approver (shows evidence only)",
    "HEAD /approvals/{approval_id}": "a random single-use link token bound to one approver (shows evidence only)",
    "POST /approvals/{approval_id}": "the approver's link token plus the page's CSRF token, then the approval rules",
    "POST /slack/interactivity": "Slack's v0 request signature (5-minute window, replay key), then the approval rules",
}

_OPERATIONS = {
    "get": "GET",
    "put": "PUT",
    "post": "POST",
    "delete": "DELETE",
    "patch": "PATCH",
    "head": "HEAD",
    "options": "OPTIONS",
    "trace": "TRACE",
    "x-amazon-apigateway-any-method": "ANY",
}


def api_access(cfn: Template, public_routes: dict[str, str] | None = None) -> list[Finding]:
    """(f) Every API route requires AWS_IAM unless it is in `public_routes` (default PUBLIC_ROUTES);
    every API Gateway stage has throttling and access logs; no function URL is public.

    Reads what SAM generates: REST and HTTP APIs as OpenAPI bodies, stages, deployments, plus any
    AWS::ApiGateway::Method, AWS::ApiGatewayV2::Route and AWS::Lambda::Url written by hand.
    """
    public = PUBLIC_ROUTES if public_routes is None else public_routes
    resources: dict[str, dict[str, Any]] = cfn.get("Resources", {})
    findings: list[Finding] = []
    for name, resource in resources.items():
        kind = resource.get("Type")
        props = resource.get("Properties", {})
        if kind in ("AWS::ApiGateway::RestApi", "AWS::ApiGatewayV2::Api"):
            findings += _api_body(name, props, public)
        elif kind == "AWS::ApiGateway::Method":
            route = f"{props.get('HttpMethod', '?')} {_method_path(resources, props)}"
            preflight = _is_preflight(str(props.get("HttpMethod")), props.get("Integration"))
            if props.get("AuthorizationType") != "AWS_IAM" and route not in public and not preflight:
                findings.append(Finding("api-iam-auth", f"{name} ({route})", "AuthorizationType is not AWS_IAM"))
        elif kind == "AWS::ApiGatewayV2::Route":
            route = str(props.get("RouteKey", "?"))
            if props.get("AuthorizationType") != "AWS_IAM" and route not in public:
                findings.append(Finding("api-iam-auth", f"{name} ({route})", "AuthorizationType is not AWS_IAM"))
        elif kind == "AWS::Lambda::Url" and props.get("AuthType") != "AWS_IAM":
            findings.append(Finding("api-iam-auth", name, "function URL without AWS_IAM auth"))
        elif kind == "AWS::ApiGateway::Stage":
            findings += _stage(name, props, _rest_throttled(props), "AccessLogSetting")
        elif kind == "AWS::ApiGatewayV2::Stage":
            settings = props.get("DefaultRouteSettings", {})
            throttled = _has_limits(settings)
            findings += _stage(name, props, throttled, "AccessLogSettings")
        elif kind == "AWS::ApiGateway::Deployment" and props.get("StageName"):
            findings.append(
                Finding(
                    "api-stage-settings",
                    name,
                    f"creates stage {props['StageName']!r} with neither throttling nor access logs "
                    "(SAM adds it unless Globals.Api.OpenApiVersion is '3.0')",
                )
            )
    return findings


def _api_body(name: str, props: dict[str, Any], public: dict[str, str]) -> list[Finding]:
    body = props.get("Body")
    if body is None:
        if "BodyS3Location" in props or "Target" in props:
            return [Finding("api-iam-auth", name, "routes not readable (BodyS3Location or quick-create Target)")]
        return []  # routes are AWS::ApiGateway::Method / AWS::ApiGatewayV2::Route resources, checked on their own
    schemes = {**body.get("securityDefinitions", {}), **body.get("components", {}).get("securitySchemes", {})}
    iam_schemes = {key for key, scheme in schemes.items() if scheme.get("x-amazon-apigateway-authtype") == "awsSigv4"}
    findings = []
    for path, operations in body.get("paths", {}).items():
        for key, operation in operations.items():
            if key not in _OPERATIONS or not isinstance(operation, dict):
                continue
            route = f"{_OPERATIONS[key]} {path}"
            if route in public or _is_preflight(_OPERATIONS[key], operation.get("x-amazon-apigateway-integration")):
                continue
            alternatives = operation.get("security", body.get("security", []))
            # OpenAPI security is a list of alternatives: one without IAM (e.g. {}) opens the route.
            if not alternatives or not all(iam_schemes & set(alternative) for alternative in alternatives):
                findings.append(Finding("api-iam-auth", f"{name} ({route})", "does not require AWS_IAM"))
    return findings


def _is_preflight(method: str, integration: Any) -> bool:
    """A CORS preflight answered by API Gateway itself (mock integration) reaches no code and no data."""
    if method.upper() != "OPTIONS" or not isinstance(integration, dict):
        return False
    return str(integration.get("type", integration.get("Type", ""))).lower() == "mock"


def _rest_throttled(props: dict[str, Any]) -> bool:
    return any(
        setting.get("ResourcePath") == "/*" and setting.get("HttpMethod") == "*" and _has_limits(setting)
        for setting in props.get("MethodSettings", [])
    )


def _has_limits(settings: dict[str, Any]) -> bool:
    return "ThrottlingRateLimit" in settings and "ThrottlingBurstLimit" in settings


def _stage(name: str, props: dict[str, Any], throttled: bool, access_log_key: str) -> list[Finding]:
    findings = []
    if not throttled:
        findings.append(Finding("api-stage-settings", name, "no throttling (rate and burst) on every route"))
    if not props.get(access_log_key, {}).get("DestinationArn"):
        findings.append(Finding("api-stage-settings", name, "no access logs"))
    return findings


def _method_path(resources: dict[str, dict[str, Any]], props: dict[str, Any]) -> str:
    """The path of an AWS::ApiGateway::Method, following its resources' ParentId up to the root."""
    parts: list[str] = []
    current = props.get("ResourceId")
    for _ in range(64):
        target = referenced_logical_id(current)
        resource = resources.get(target or "", {})
        if resource.get("Type") != "AWS::ApiGateway::Resource":
            break  # the API's RootResourceId (or something unknown)
        parts.insert(0, str(resource.get("Properties", {}).get("PathPart", "?")))
        current = resource.get("Properties", {}).get("ParentId")
    return "/" + "/".join(parts)
