"""Artifact intake: from an uploaded manifest to a registered (or rejected) model version.

Effects happen exactly once even though the upload event arrives at least once:
the catalog record is claimed with a conditional write before anything else, the
model package is looked up before it is created when a previous attempt may have
crashed, the execution name is deterministic, and events carry business ids that
consumers deduplicate on.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from datetime import timedelta
from enum import StrEnum

from fmops.clock import Clock
from fmops.errors import IntakeInProgress
from fmops.events import (
    ModelVersionRegistered,
    ModelVersionRejected,
    ModelVersionUploadRefused,
    PromotionInput,
)
from fmops.manifest import (
    MAX_MANIFEST_BYTES,
    Manifest,
    ModelKind,
    Problem,
    RiskTier,
    parse_manifest,
    parse_manifest_key,
    version_prefix,
)
from fmops.ports import ArtifactStore, Catalog, EventBus, ModelRegistry, Workflow
from fmops.records import CatalogRecord
from fmops.statuses import VersionStatus

ACTOR = "fmops:intake"
# Long enough to hash a few GB of artifacts; a crashed attempt's lease expires and a retry takes over.
INTAKE_LEASE = timedelta(minutes=10)
MAX_EXECUTION_NAME = 80


class IntakeOutcome(StrEnum):
    REGISTERED = "registered"
    REJECTED = "rejected"
    REFUSED = "refused"  # different content for an existing version
    DUPLICATE = "duplicate"  # nothing left to do


@dataclass(frozen=True)
class Upload:
    """The manifest object named by an S3 "Object Created" event."""

    bucket: str
    key: str
    size: int
    etag: str

    @property
    def uri(self) -> str:
        return f"s3://{self.bucket}/{self.key}"


@dataclass(frozen=True)
class IntakeDeps:
    artifacts: ArtifactStore
    registry: ModelRegistry
    catalog: Catalog
    bus: EventBus
    workflow: Workflow
    clock: Clock


@dataclass(frozen=True)
class IntakeResult:
    outcome: IntakeOutcome
    version_id: str
    status: str | None
    reasons: tuple[Problem, ...] = ()

    def as_dict(self) -> dict[str, object]:
        return {
            "outcome": self.outcome.value,
            "version_id": self.version_id,
            "status": self.status,
            "reasons": [reason.model_dump() for reason in self.reasons],
        }


def register(upload: Upload, deps: IntakeDeps) -> IntakeResult:
    """Validate an uploaded manifest and its artifacts; register the version or reject it with every reason."""
    location = parse_manifest_key(upload.key)
    if location is None:
        return _reject_unaddressable(upload, deps)
    group, version = location
    version_id = f"{group}/{version}"

    if upload.size > MAX_MANIFEST_BYTES:
        problem = Problem(code="manifest_too_large", message=f"manifest exceeds {MAX_MANIFEST_BYTES} bytes")
        raw, sha = b"", f"oversize:{upload.size}"
        problems = [problem]
    else:
        raw = deps.artifacts.read(upload.bucket, upload.key, MAX_MANIFEST_BYTES)
        sha = hashlib.sha256(raw).hexdigest()
        problems = []

    existing = deps.catalog.get(version_id)
    if existing is not None and existing.manifest_sha256 == sha:
        return _resume(existing, upload, raw, deps)
    if existing is not None and not _may_be_corrected(existing):
        return _refuse_changed_content(existing, upload, sha, deps)

    now = deps.clock.now()
    claimed = CatalogRecord(
        version_id=version_id,
        model_group=group,
        version=version,
        status=VersionStatus.RECEIVED,
        manifest_uri=upload.uri,
        manifest_sha256=sha,
        created_at=existing.created_at if existing else now,
        updated_at=now,
        lease_until=now + INTAKE_LEASE,
    )
    claimed = deps.catalog.claim(claimed, replacing=existing)
    if problems:
        return _reject(claimed, problems, deps)
    return _verify_and_register(claimed, upload, raw, deps)


def _resume(existing: CatalogRecord, upload: Upload, raw: bytes, deps: IntakeDeps) -> IntakeResult:
    """Same manifest bytes seen again: finish what a previous attempt left undone, or do nothing."""
    status = existing.status
    if status == VersionStatus.RECEIVED:
        now = deps.clock.now()
        if existing.lease_until is not None and existing.lease_until > now:
            raise IntakeInProgress(f"{existing.version_id} is being verified by another delivery")
        # The previous attempt died: take its lease over (conditionally, so only one taker wins).
        renewed = existing.model_copy(update={"updated_at": now, "lease_until": now + INTAKE_LEASE})
        return _verify_and_register(deps.catalog.claim(renewed, replacing=existing), upload, raw, deps, recovering=True)
    if status != VersionStatus.REJECTED and not existing.announced:
        _announce(existing, deps)
    return IntakeResult(IntakeOutcome.DUPLICATE, existing.version_id, status.value)


def _verify_and_register(
    claimed: CatalogRecord, upload: Upload, raw: bytes, deps: IntakeDeps, recovering: bool = False
) -> IntakeResult:
    manifest, problems = parse_manifest(raw)
    if manifest is not None:
        problems = _location_problems(manifest, claimed) + artifact_problems(manifest, upload.bucket, deps.artifacts)
    if manifest is None or problems:
        return _reject(claimed, problems, deps, manifest)

    deps.registry.ensure_group(manifest.model_group, f"fmops model group {manifest.model_group}")
    # Only an attempt that took over an expired lease can find a package created before a crash.
    package_arn = deps.registry.find_package(manifest.model_group, claimed.version_id) if recovering else None
    if package_arn is None:
        package_arn = deps.registry.create_package(manifest, claimed.manifest_uri, claimed.manifest_sha256)
    registered = deps.catalog.transition(
        claimed,
        VersionStatus.REGISTERED,
        deps.clock.now(),
        model_package_arn=package_arn,
        kind=manifest.kind.value,
        risk_tier=manifest.risk_tier.value,
        submitter=manifest.submitter.id,
        submitter_email=manifest.submitter.email,
        evaluator=manifest.evaluation.evaluator,
        execution_name=execution_name_for(claimed.version_id),
        reasons=[],
    )
    _announce(registered, deps)
    return IntakeResult(IntakeOutcome.REGISTERED, registered.version_id, registered.status.value)


def _may_be_corrected(existing: CatalogRecord) -> bool:
    """Only a version rejected at intake (no model package yet) may be uploaded again with other bytes;
    one that failed its evaluation or gate stays as judged."""
    return existing.status == VersionStatus.REJECTED and existing.model_package_arn is None


def _announce(record: CatalogRecord, deps: IntakeDeps) -> None:
    """Publish "Model Version Registered" and start the promotion; both are safe to repeat."""
    assert record.model_package_arn and record.kind and record.risk_tier and record.execution_name
    deps.bus.publish(
        ModelVersionRegistered(
            event_id=f"{record.version_id}#registered",
            correlation_id=record.version_id,
            version_id=record.version_id,
            occurred_at=record.updated_at,
            actor=record.submitter or ACTOR,
            model_group=record.model_group,
            version=record.version,
            kind=ModelKind(record.kind),
            risk_tier=RiskTier(record.risk_tier),
            manifest_uri=record.manifest_uri,
            manifest_sha256=record.manifest_sha256,
            model_package_arn=record.model_package_arn,
        )
    )
    deps.workflow.start_promotion(
        PromotionInput(
            version_id=record.version_id, correlation_id=record.version_id, execution_name=record.execution_name
        )
    )
    deps.catalog.mark_announced(record.version_id)


def _reject(
    claimed: CatalogRecord, problems: list[Problem], deps: IntakeDeps, manifest: Manifest | None = None
) -> IntakeResult:
    # A manifest that parsed names its submitter, who is told why (the notifier reads these fields).
    submitter = {"submitter": manifest.submitter.id, "submitter_email": manifest.submitter.email} if manifest else {}
    rejected = deps.catalog.transition(claimed, VersionStatus.REJECTED, deps.clock.now(), reasons=problems, **submitter)
    deps.bus.publish(
        ModelVersionRejected(
            event_id=f"{claimed.version_id}#rejected#{claimed.manifest_sha256}",
            correlation_id=claimed.version_id,
            version_id=claimed.version_id,
            occurred_at=rejected.updated_at,
            actor=ACTOR,
            manifest_uri=claimed.manifest_uri,
            manifest_sha256=claimed.manifest_sha256,
            reasons=problems,
        )
    )
    return IntakeResult(IntakeOutcome.REJECTED, claimed.version_id, rejected.status.value, tuple(problems))


def _reject_unaddressable(upload: Upload, deps: IntakeDeps) -> IntakeResult:
    """A manifest outside models/<group>/<version>/ names no valid version: record why, keep no catalog entry."""
    pseudo_id = re.sub(r"^models/|/manifest\.json$", "", upload.key)
    problem = Problem(
        code="invalid_location",
        message="manifest must be at models/<group>/<version>/manifest.json, where group matches "
        "[a-zA-Z0-9-] (max 63) and version matches [a-zA-Z0-9._-] (max 64)",
        field="key",
    )
    deps.bus.publish(
        ModelVersionRejected(
            event_id=f"{pseudo_id}#rejected#location",
            correlation_id=pseudo_id,
            version_id=pseudo_id,
            occurred_at=deps.clock.now(),
            actor=ACTOR,
            manifest_uri=upload.uri,
            manifest_sha256=None,
            reasons=[problem],
        )
    )
    return IntakeResult(IntakeOutcome.REJECTED, pseudo_id, None, (problem,))


def _refuse_changed_content(existing: CatalogRecord, upload: Upload, sha: str, deps: IntakeDeps) -> IntakeResult:
    reason = (
        f"version {existing.version_id} is already {existing.status.value} with another manifest; "
        "versions are immutable, upload under a new version name"
    )
    deps.bus.publish(
        ModelVersionUploadRefused(
            event_id=f"{existing.version_id}#refused#{sha}",
            correlation_id=existing.version_id,
            version_id=existing.version_id,
            occurred_at=deps.clock.now(),
            actor=ACTOR,
            manifest_uri=upload.uri,
            manifest_sha256=sha,
            registered_manifest_sha256=existing.manifest_sha256,
            reason=reason,
        )
    )
    return IntakeResult(
        IntakeOutcome.REFUSED,
        existing.version_id,
        existing.status.value,
        (Problem(code="version_immutable", message=reason),),
    )


def _location_problems(manifest: Manifest, claimed: CatalogRecord) -> list[Problem]:
    problems = []
    if manifest.model_group != claimed.model_group:
        problems.append(
            Problem(
                code="location_mismatch",
                message=f"model_group '{manifest.model_group}' differs from the folder's '{claimed.model_group}'",
                field="model_group",
            )
        )
    if manifest.version != claimed.version:
        problems.append(
            Problem(
                code="location_mismatch",
                message=f"version '{manifest.version}' differs from the folder's '{claimed.version}'",
                field="version",
            )
        )
    return problems


def artifact_problems(manifest: Manifest, bucket: str, artifacts: ArtifactStore) -> list[Problem]:
    """Every artifact that is missing, or whose size or sha256 is not what the manifest says."""
    problems = []
    prefix = version_prefix(manifest.model_group, manifest.version)
    for index, artifact in enumerate(manifest.artifacts):
        field = f"artifacts.{index}"
        key = prefix + artifact.path
        size = artifacts.size_of(bucket, key)
        if size is None:
            problems.append(Problem(code="artifact_missing", message=f"{artifact.path} was not uploaded", field=field))
            continue
        if size != artifact.size_bytes:
            message = f"{artifact.path} has {size} bytes, manifest says {artifact.size_bytes}"
            problems.append(Problem(code="artifact_size_mismatch", message=message, field=field))
            continue
        actual = artifacts.sha256_of(bucket, key)
        if actual != artifact.sha256:
            message = f"{artifact.path} has sha256 {actual}, manifest says {artifact.sha256}"
            problems.append(Problem(code="artifact_sha256_mismatch", message=message, field=field))
    return problems


def execution_name_for(version_id: str) -> str:
    """Deterministic Step Functions execution name: a duplicate start is refused by Step Functions itself.

    Groups cannot contain '_', so '<group>_<version>' is unambiguous; names over 80 characters keep
    a readable prefix and a hash of the full id.
    """
    name = version_id.replace("/", "_", 1)
    if len(name) <= MAX_EXECUTION_NAME:
        return name
    digest = hashlib.sha256(version_id.encode()).hexdigest()[:16]
    return f"{name[: MAX_EXECUTION_NAME - 17]}-{digest}"
