"""Valid manifests and uploads for tests; each test changes only what it is about."""

from __future__ import annotations

import copy
import hashlib
import json
from datetime import datetime
from typing import Any

from fmops.intake import Upload
from fmops.records import CatalogRecord
from fmops.statuses import VersionStatus

from tests.unit.fakes import InMemoryArtifactStore

BUCKET = "fmops-artifacts"
WEIGHTS = b"\x00\x01weights-of-a-tiny-model\x02"
CONFIG = b'{"labels": ["negative", "positive"]}'


def manifest_document(group: str = "sentiment", version: str = "1.0.0", **overrides: Any) -> dict[str, Any]:
    document: dict[str, Any] = {
        "schema_version": "1",
        "model_group": group,
        "version": version,
        "kind": "fine-tuned",
        "task": "text-classification",
        "base_model": {"name": "distilbert-base-uncased", "provider": "huggingface", "licence": "apache-2.0"},
        "artifacts": [
            {"path": "model/weights.bin", "sha256": hashlib.sha256(WEIGHTS).hexdigest(), "size_bytes": len(WEIGHTS)},
            {"path": "config.json", "sha256": hashlib.sha256(CONFIG).hexdigest(), "size_bytes": len(CONFIG)},
        ],
        "lineage": {
            "datasets": [{"name": "reviews-2026", "uri": "s3://data/reviews/2026/", "classification": "internal"}],
            "code": {"repository": "https://git.example.com/ml/sentiment", "commit": "3f2a9c1"},
            "training_job": "arn:aws:sagemaker:us-east-1:123456789012:training-job/sentiment-42",
        },
        "intended_use": "Route customer reviews by sentiment.",
        "limitations": "English only; not for medical or legal text.",
        "risk_tier": "medium",
        "owner_team": "customer-insights",
        "submitter": {"id": "ana.silva", "email": "ana.silva@example.com"},
    }
    document = copy.deepcopy(document)
    document.update(overrides)
    return document


def upload_version(
    store: InMemoryArtifactStore,
    document: dict[str, Any] | None = None,
    raw: bytes | None = None,
    key: str | None = None,
    with_artifacts: bool = True,
) -> Upload:
    """Put the artifacts, then the manifest (last, as the convention requires); return the manifest's upload."""
    document = document if document is not None else manifest_document()
    group, version = document.get("model_group", "sentiment"), document.get("version", "1.0.0")
    prefix = f"models/{group}/{version}/"
    if with_artifacts:
        store.put(BUCKET, prefix + "model/weights.bin", WEIGHTS)
        store.put(BUCKET, prefix + "config.json", CONFIG)
    body = raw if raw is not None else json.dumps(document).encode()
    key = key or prefix + "manifest.json"
    store.put(BUCKET, key, body)
    return Upload(bucket=BUCKET, key=key, size=len(body), etag=hashlib.md5(body).hexdigest())


def waiting_record(
    version_id: str, at: datetime, submitter: str, status: VersionStatus = VersionStatus.PENDING_APPROVAL
) -> CatalogRecord:
    """The catalog record of a version `submitter` submitted, past its gate and waiting for approval."""
    group, version = version_id.split("/")
    return CatalogRecord(
        version_id=version_id,
        model_group=group,
        version=version,
        status=status,
        manifest_uri=f"s3://fmops-artifacts/models/{version_id}/manifest.json",
        manifest_sha256="ab" * 32,
        created_at=at,
        updated_at=at,
        submitter=submitter,
        submitter_email=f"{submitter}@example.com",
        revision=1,
    )
