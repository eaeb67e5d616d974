"""Event contracts: every custom fmops event, versioned, with its detail-type in words.

All fmops events have source `fmops` and carry:
- `event_id`: the event's business identity (e.g. "<group>/<version>#registered"),
  stable across retries and duplicate deliveries; consumers deduplicate on it,
  never on the EventBridge envelope id, which changes on every put.
- `correlation_id`: ties one model version's whole story together; it is the
  version id "<group>/<version>" so any external evaluator can compute it.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, ClassVar, Literal

from aws_lambda_powertools.utilities.parser.models import EventBridgeModel, S3EventNotificationEventBridgeModel
from pydantic import BaseModel, ConfigDict, Field

from fmops.manifest import ModelKind, Problem, RiskTier

EVENT_SOURCE = "fmops"


class FmopsEventDetail(BaseModel):
    """Common fields of every fmops event detail."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    detail_type: ClassVar[str]

    schema_version: Literal["1"] = "1"
    event_id: str = Field(min_length=1, max_length=512)
    correlation_id: str
    version_id: str = Field(description="<model group>/<version>")
    occurred_at: datetime
    actor: str = Field(description="Who caused it: a person's identity or 'fmops:<function>'.")


class ModelVersionRegistered(FmopsEventDetail):
    detail_type: ClassVar[str] = "Model Version Registered"

    model_group: str
    version: str
    kind: ModelKind
    risk_tier: RiskTier
    manifest_uri: str
    manifest_sha256: str
    model_package_arn: str


class ModelVersionRejected(FmopsEventDetail):
    detail_type: ClassVar[str] = "Model Version Rejected"

    manifest_uri: str
    manifest_sha256: str | None
    reasons: list[Problem] = Field(min_length=1)


class ModelVersionUploadRefused(FmopsEventDetail):
    """A manifest re-uploaded for an existing version with different content: refused, version unchanged."""

    detail_type: ClassVar[str] = "Model Version Upload Refused"

    manifest_uri: str
    manifest_sha256: str
    registered_manifest_sha256: str
    reason: str


class ModelVersionPromotionStarted(FmopsEventDetail):
    detail_type: ClassVar[str] = "Model Version Promotion Started"

    execution_name: str


# Dispatch by detail-type, never by if/elif on strings.
FMOPS_EVENTS: dict[str, type[FmopsEventDetail]] = {
    model.detail_type: model
    for model in (ModelVersionRegistered, ModelVersionRejected, ModelVersionUploadRefused, ModelVersionPromotionStarted)
}


# ------------------------------------------------------------------ inbound envelopes
class ManifestUploaded(S3EventNotificationEventBridgeModel):
    """EventBridge "Object Created" from the artifact bucket for a `.../manifest.json` key."""


class FmopsEnvelope(EventBridgeModel):
    """Any event on the fmops bus; the detail is parsed by its detail-type."""

    source: Literal["fmops"]
    detail: dict[str, Any]


class PromotionInput(BaseModel):
    """Input of a promotion state machine execution (written by intake)."""

    model_config = ConfigDict(frozen=True)

    version_id: str
    correlation_id: str
    execution_name: str
