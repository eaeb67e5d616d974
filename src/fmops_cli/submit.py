"""`fmops submit`: a version folder -> artifacts in S3, then manifest.json last.

The manifest is built and validated before anything is uploaded; uploading it
is what starts intake, so it goes last, after every artifact it lists.
Versions are immutable: an existing manifest is replaced only by identical
bytes (a no-op) or when the catalog shows the version Rejected (a correction).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any, Protocol

from botocore.exceptions import ClientError

from fmops.manifest import MANIFEST_FILE_NAME, version_prefix
from fmops.records import CatalogRecord
from fmops.statuses import VersionStatus
from fmops_cli.artifacts import LocalArtifact, artifact_files, hash_artifacts
from fmops_cli.errors import CliError, InputError
from fmops_cli.manifests import BuiltManifest, build_manifest
from fmops_cli.model_card import MODEL_CARD_NAMES, apply_overrides, find_model_card, load_model_card
from fmops_cli.progress import Progress, human_size

_NOT_FOUND = {"404", "NoSuchKey", "NotFound"}


class CatalogReader(Protocol):
    def get(self, version_id: str) -> CatalogRecord | None: ...


class Existing(StrEnum):
    NEW = "new"  # no manifest yet for this version
    IDENTICAL = "identical"  # the same manifest bytes were submitted before: nothing to do
    REPLACES_REJECTED = "replaces-rejected"  # a corrected manifest for a version intake rejected


class VersionImmutable(CliError):
    """A different manifest already exists for the version and the catalog does not show it Rejected."""


@dataclass(frozen=True)
class SubmissionPlan:
    """Everything `fmops submit` uploads, decided and validated before the first byte leaves."""

    directory: Path
    model_card: Path
    artifacts: tuple[LocalArtifact, ...]
    manifest: BuiltManifest

    @property
    def version_id(self) -> str:
        return self.manifest.version_id

    @property
    def prefix(self) -> str:
        return version_prefix(self.manifest.manifest.model_group, self.manifest.manifest.version)

    @property
    def manifest_key(self) -> str:
        return self.prefix + MANIFEST_FILE_NAME

    def key_of(self, artifact: LocalArtifact) -> str:
        return self.prefix + artifact.path


@dataclass(frozen=True)
class SubmitOutcome:
    plan: SubmissionPlan
    bucket: str
    existing: Existing
    uploaded: tuple[str, ...] = ()  # keys, in upload order


def plan_submission(
    directory: Path,
    *,
    model_card: Path | None = None,
    group: str | None = None,
    version: str | None = None,
    submitter_id: str | None = None,
    submitter_email: str | None = None,
    progress: Progress | None = None,
) -> SubmissionPlan:
    """Read the model card, hash every artifact and build the manifest; InvalidManifest lists every problem."""
    if not directory.exists():
        raise InputError(f"{directory} does not exist")
    if not directory.is_dir():
        raise InputError(f"{directory} is not a folder", hint="fmops submit takes the folder of the version's files")
    card_path = model_card if model_card is not None else find_model_card(directory)
    card = apply_overrides(
        load_model_card(card_path),
        model_group=group,
        version=version,
        submitter_id=submitter_id,
        submitter_email=submitter_email,
    )
    # Model card names are reserved at the folder's top level, whichever card is used.
    excluded = [card_path, *(directory / name for name in MODEL_CARD_NAMES)]
    files = artifact_files(directory, excluded)

    artifacts = hash_artifacts(files, on_file=_hashing_display(progress, len(files)) if progress else None)
    if progress:
        progress.clear()
    return SubmissionPlan(directory, card_path, tuple(artifacts), build_manifest(card, artifacts))


def _hashing_display(progress: Progress, count: int) -> Callable[[int, str, int], Callable[[int], None]]:
    return lambda index, path, size: progress.file("hashing", index, count, path, size, quiet=True)


def check_existing(plan: SubmissionPlan, s3: Any, bucket: str, catalog: CatalogReader | None) -> Existing:
    """Compare with a manifest already in the bucket; raise VersionImmutable if replacing it is not allowed."""
    try:
        head = s3.head_object(Bucket=bucket, Key=plan.manifest_key)
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") in _NOT_FOUND:
            return Existing.NEW
        raise
    if int(head["ContentLength"]) == len(plan.manifest.body):
        current = s3.get_object(Bucket=bucket, Key=plan.manifest_key)["Body"].read()
        if current == plan.manifest.body:
            return Existing.IDENTICAL

    record = catalog.get(plan.version_id) if catalog is not None else None
    # Only a version intake rejected (no model package yet) may be corrected; one its evaluation or
    # gate rejected stays as judged, and refusing here keeps its artifacts from being overwritten.
    if record is not None and record.status == VersionStatus.REJECTED and record.model_package_arn is None:
        return Existing.REPLACES_REJECTED
    uri = f"s3://{bucket}/{plan.manifest_key}"
    if record is not None and record.status == VersionStatus.REJECTED:
        state = "its evaluation or gate rejected it (final, unlike a rejection at intake)"
        hint = f"submit the fix under a new version name (--version); the reasons: `fmops status {plan.version_id}`"
    elif record is not None:
        state = f"it is {record.status.value}"
        hint = f"submit under a new version name (--version); see `fmops status {plan.version_id}`"
    elif catalog is not None:
        state = "intake has not recorded it yet"
        hint = f"submit under a new version name (--version); see `fmops status {plan.version_id}`"
    else:
        state = "its status could not be checked"
        hint = (
            "submit under a new version name (--version); to correct a version that intake Rejected, "
            "let fmops read the catalog (--catalog-table, --stack or the local cloud) so it can confirm the rejection"
        )
    raise VersionImmutable(
        f"{plan.version_id} was already submitted with a different manifest ({uri}) and {state}; "
        "versions are immutable: the same name must always mean the same bytes",
        hint=hint,
    )


def upload_artifacts(plan: SubmissionPlan, s3: Any, bucket: str, progress: Progress | None = None) -> list[str]:
    """Upload every artifact (multipart for large files); returns the keys in upload order."""
    keys = []
    count = len(plan.artifacts)
    for index, artifact in enumerate(plan.artifacts, start=1):
        if artifact.changed_since_hashed():
            raise CliError(
                f"{artifact.source} changed after it was hashed; the manifest was not uploaded",
                hint="run fmops submit again once the folder's files are final",
            )
        key = plan.key_of(artifact)
        tracker = progress.file("uploading", index, count, artifact.path, artifact.size_bytes) if progress else None
        s3.upload_file(str(artifact.source), bucket, key, Callback=tracker)
        if tracker is not None:
            tracker.done("uploaded")
        keys.append(key)
    if progress:
        progress.clear()
    return keys


def upload_manifest(plan: SubmissionPlan, s3: Any, bucket: str) -> str:
    """Upload manifest.json: the event that starts intake, so only after every artifact is in place."""
    s3.put_object(Bucket=bucket, Key=plan.manifest_key, Body=plan.manifest.body, ContentType="application/json")
    return plan.manifest_key


def submit(
    plan: SubmissionPlan, s3: Any, bucket: str, catalog: CatalogReader | None = None, progress: Progress | None = None
) -> SubmitOutcome:
    """Check immutability, upload the artifacts, then the manifest. Identical re-submissions upload nothing."""
    existing = check_existing(plan, s3, bucket, catalog)
    if existing == Existing.IDENTICAL:
        return SubmitOutcome(plan, bucket, existing)
    keys = upload_artifacts(plan, s3, bucket, progress)
    keys.append(upload_manifest(plan, s3, bucket))
    return SubmitOutcome(plan, bucket, existing, tuple(keys))


def describe_plan(plan: SubmissionPlan, bucket: str | None) -> str:
    """The files and where they go, manifest last, as printed by submit and --dry-run."""
    destination = f"s3://{bucket or '<bucket>'}/{plan.prefix}"
    rows = [(artifact.path, artifact.size_bytes, artifact.sha256) for artifact in plan.artifacts]
    rows.append((f"{MANIFEST_FILE_NAME} (last)", len(plan.manifest.body), plan.manifest.sha256))
    width = max(len(path) for path, _, _ in rows)
    lines = [f"  {path:<{width}}  {human_size(size):>10}  sha256 {sha[:16]}…" for path, size, sha in rows]
    return "\n".join([destination, *lines])
