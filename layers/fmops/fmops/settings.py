"""Configuration of each function, read from its environment once and validated.

Each function declares only the variables it needs (as in template.yaml): a missing
resource name is an error at first use, never a silent default.
"""

from __future__ import annotations

import os
from functools import cache
from typing import TypeVar

from pydantic import BaseModel, ConfigDict, ValidationError


class _Settings(BaseModel):
    model_config = ConfigDict(defer_build=True, frozen=True, extra="ignore")


class IntakeSettings(_Settings):
    catalog_table: str
    idempotency_table: str
    event_bus_name: str
    promotion_state_machine_arn: str


class PromotionSettings(_Settings):
    catalog_table: str
    event_bus_name: str


class GateSettings(_Settings):
    catalog_table: str
    event_bus_name: str
    policy_bucket: str
    evidence_bucket: str


class EvaluationResultsSettings(_Settings):
    catalog_table: str
    event_bus_name: str


class BuiltinEvaluatorSettings(_Settings):
    event_bus_name: str
    evidence_bucket: str


class ProcessingJobListenerSettings(_Settings):
    event_bus_name: str


class AuditWriterSettings(_Settings):
    audit_table: str


class AuditQuerySettings(_Settings):
    audit_table: str


class AnchorWriterSettings(_Settings):
    audit_table: str
    anchor_bucket: str
    anchor_retention_days: int


class NotifierSettings(_Settings):
    catalog_table: str
    idempotency_table: str
    notification_sender: str
    stage: str  # set for every function by the template's Globals


class RequestApprovalSettings(_Settings):
    catalog_table: str
    approvals_table: str
    policy_bucket: str
    event_bus_name: str
    fmops_key_arn: str


class ApproveVersionSettings(_Settings):
    catalog_table: str
    event_bus_name: str


class ApprovalPageSettings(_Settings):
    catalog_table: str
    approvals_table: str
    policy_bucket: str
    event_bus_name: str
    link_signing_key_arn: str


class SlackInteractivitySettings(_Settings):
    approvals_table: str
    policy_bucket: str
    event_bus_name: str
    slack_signing_secret_arn: str
    slack_bot_token_arn: str
    slack_api_url: str


class ApprovalCallbackSettings(_Settings):
    approvals_table: str
    policy_bucket: str
    event_bus_name: str
    fmops_key_arn: str


class ApprovalNotifierSettings(_Settings):
    catalog_table: str
    approvals_table: str
    policy_bucket: str
    idempotency_table: str
    notification_sender: str
    approval_page_url: str
    slack_bot_token_arn: str
    slack_api_url: str
    stage: str
    slack_approval_channel: str | None = None  # empty: approvals are not posted to Slack


class MissingConfiguration(RuntimeError):
    """The function's environment lacks a variable its template declares."""


SettingsT = TypeVar("SettingsT", bound=_Settings)


@cache
def load(settings_type: type[SettingsT]) -> SettingsT:
    """Read settings_type's fields from upper-case environment variables of the same name."""
    values = {name: os.environ.get(name.upper()) or None for name in settings_type.model_fields}
    required = {name for name, field in settings_type.model_fields.items() if field.is_required()}
    missing = sorted(name.upper() for name, value in values.items() if not value and name in required)
    if missing:
        raise MissingConfiguration(f"missing environment variables: {', '.join(missing)}")
    try:
        return settings_type.model_validate(values)
    except ValidationError as error:
        raise MissingConfiguration(str(error)) from error


class DeploymentTriggerSettings(_Settings):
    catalog_table: str
    deployments_table: str
    approvals_table: str
    event_bus_name: str
    deployment_state_machine_arn: str
    deployment_poll_seconds: int


class DeployStageSettings(_Settings):
    catalog_table: str
    deployments_table: str
    policy_bucket: str
    event_bus_name: str
