"""The registered manifest of a version, read back exactly as intake verified it."""

from __future__ import annotations

from fmops.errors import ManifestChanged
from fmops.manifest import MAX_MANIFEST_BYTES, Manifest, parse_manifest
from fmops.ports import ArtifactStore


def split_s3_uri(uri: str) -> tuple[str, str]:
    bucket, _, key = uri.removeprefix("s3://").partition("/")
    return bucket, key


def registered_manifest(manifest_uri: str, manifest_sha256: str, artifacts: ArtifactStore) -> Manifest:
    """The manifest with the sha256 intake registered; raises ManifestChanged if those bytes are gone."""
    bucket, key = split_s3_uri(manifest_uri)
    raw = artifacts.read_matching(bucket, key, manifest_sha256, MAX_MANIFEST_BYTES)
    if raw is None:
        raise ManifestChanged(f"{manifest_uri} no longer holds the registered bytes (sha256 {manifest_sha256})")
    manifest, problems = parse_manifest(raw)
    if manifest is None:  # intake validated these exact bytes; only a schema change could get here
        raise ManifestChanged(f"registered manifest no longer parses: {problems[0].message if problems else '?'}")
    return manifest
