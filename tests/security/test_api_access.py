"""APIs: IAM authorization on every route but the listed public ones; throttling and access logs on every stage."""

from __future__ import annotations

from typing import Any

from fmops_security import apis, resource_policies
from fmops_security.findings import explain


def test_every_route_requires_iam_and_every_stage_is_throttled_and_logged(expanded_template: dict[str, Any]) -> None:
    # (f) On the APIs SAM generates (none yet: the mutation tests exercise the check)
    assert not (findings := apis.api_access(expanded_template)), explain(findings)


def test_every_public_route_says_what_authenticates_its_callers() -> None:
    assert all(reason.strip() for reason in apis.PUBLIC_ROUTES.values()), apis.PUBLIC_ROUTES


def test_no_resource_policy_is_open_to_everyone(expanded_template: dict[str, Any]) -> None:
    assert not (findings := resource_policies.public_resource_policies(expanded_template)), explain(findings)
