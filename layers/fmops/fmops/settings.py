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
    model_config = ConfigDict(frozen=True, extra="ignore")


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


class MissingConfiguration(RuntimeError):
    """The function's environment lacks a variable its template declares."""


SettingsT = TypeVar("SettingsT", bound=_Settings)


@cache
def load(settings_type: type[SettingsT]) -> SettingsT:
    """Read settings_type's fields from upper-case environment variables of the same name."""
    values = {name: os.environ.get(name.upper()) for name in settings_type.model_fields}
    missing = sorted(name.upper() for name, value in values.items() if not value)
    if missing:
        raise MissingConfiguration(f"missing environment variables: {', '.join(missing)}")
    try:
        return settings_type.model_validate(values)
    except ValidationError as error:
        raise MissingConfiguration(str(error)) from error
