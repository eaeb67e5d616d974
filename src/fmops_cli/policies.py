"""`fmops policy publish` and `fmops policy explain`: put gate policies where the gate reads them,
and show the decision the gate recorded for a version."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any, Protocol

from fmops.adapters.s3 import StoredPolicy
from fmops.gate.decision import decision_table
from fmops.gate.policy import DEFAULT_POLICY_FILE, Policy, PolicyInvalid, parse_policy, policy_hash
from fmops.records import CatalogRecord
from fmops.statuses import VersionStatus
from fmops_cli.errors import CliError, InputError
from fmops_cli.status import format_time

POLICY_CONTENT_TYPE = "application/json"
_LABEL_WIDTH = 14


# ------------------------------------------------------------------ publish


@dataclass(frozen=True)
class PolicyFile:
    """A local policy file that parsed: its exact bytes (stored as they are) and the hash of their canonical form."""

    path: Path
    raw: bytes
    policy: Policy
    sha256: str

    @property
    def object_name(self) -> str:
        """The name the gate looks the file up by: `<model group>.json`, or default.json."""
        return DEFAULT_POLICY_FILE if self.policy.is_default else f"{self.policy.model_group}.json"


class PolicyBucket(Protocol):
    def uri(self, name: str) -> str: ...

    def get(self, name: str) -> StoredPolicy | None:
        """The published file `name` and its S3 version id, or None."""
        ...

    def put(self, name: str, body: bytes) -> str | None:
        """Store `body` as `name` (application/json); returns the new S3 version id (None if unversioned)."""
        ...


class S3PolicyBucket:
    """The policy bucket as `fmops policy publish` uses it: the gate's reader plus the upload."""

    def __init__(self, bucket: str, s3: Any) -> None:
        from fmops.adapters.s3 import S3PolicyStore

        self._store = S3PolicyStore(bucket, s3=s3)
        self._s3 = s3

    def uri(self, name: str) -> str:
        return self._store.uri(name)

    def get(self, name: str) -> StoredPolicy | None:
        from fmops.errors import ArtifactStoreUnavailable

        try:
            return self._store.get(name)
        except ArtifactStoreUnavailable as error:
            # Let main() explain the AWS error (access denied, no such bucket, expired token) with its hint.
            raise error.__cause__ or error from None

    def put(self, name: str, body: bytes) -> str | None:
        response = self._s3.put_object(Bucket=self._store.bucket, Key=name, Body=body, ContentType=POLICY_CONTENT_TYPE)
        version_id = response.get("VersionId")
        return str(version_id) if version_id and version_id != "null" else None


class Outcome(StrEnum):
    PUBLISHED = "published"
    UNCHANGED = "unchanged"  # the same rules (same sha256) are already published


@dataclass(frozen=True)
class Publication:
    file: PolicyFile
    uri: str
    outcome: Outcome
    s3_version_id: str | None
    replaced_version: str | None = None  # policy_version of the file this one replaced


def read_policy_files(paths: Sequence[Path]) -> list[PolicyFile]:
    """Read and validate every file; if any cannot be published, raise one InputError listing every problem."""
    files: list[PolicyFile] = []
    problems: list[str] = []
    for path in paths:
        try:
            raw = path.read_bytes()
        except OSError as error:
            problems.append(f"{path}: cannot read: {error.strerror or error}")
            continue
        try:
            files.append(PolicyFile(path=path, raw=raw, policy=parse_policy(raw), sha256=policy_hash(raw)))
        except PolicyInvalid as invalid:
            problems.append(f"{path}: {invalid}")
    by_name: dict[str, list[Path]] = {}
    for file in files:
        by_name.setdefault(file.object_name, []).append(file.path)
    for name, same in by_name.items():
        if len(same) > 1:
            problems.append(f"{', '.join(map(str, same))}: all publish {name}; give each model group one file")
    if problems:
        count = len(problems)
        raise InputError(
            f"nothing was published: {count} file{'s' if count != 1 else ''} cannot be published\n"
            + "\n".join(problems),
            hint="fix every problem listed (fmops policy validate FILE checks one file), then publish again",
        )
    return files


def publish(files: Sequence[PolicyFile], bucket: PolicyBucket) -> list[Publication]:
    """Upload the files whose rules changed. Nothing is uploaded if any file reuses the policy_version of
    the published file it would replace with other rules: a decision names the version, so a label must
    name one rule set."""
    current = {file.object_name: bucket.get(file.object_name) for file in files}
    reused: list[str] = []
    for file in files:
        stored = current[file.object_name]
        if stored is None or policy_hash_or_none(stored.body) == file.sha256:
            continue
        if published_version(stored.body) == file.policy.policy_version:
            reused.append(
                f"{file.path}: policy_version {file.policy.policy_version} is already published at "
                f"{bucket.uri(file.object_name)} with other rules (sha256 {policy_hash_or_none(stored.body)})"
            )
    if reused:
        raise CliError(
            "nothing was published: a policy_version may name only one set of rules\n" + "\n".join(reused),
            hint="bump policy_version in the changed file (gate decisions record the version they were made under)",
        )

    publications = []
    for file in files:
        stored = current[file.object_name]
        uri = bucket.uri(file.object_name)
        if stored is not None and policy_hash_or_none(stored.body) == file.sha256:
            publications.append(Publication(file, uri, Outcome.UNCHANGED, stored.version_id))
            continue
        version_id = bucket.put(file.object_name, file.raw)
        replaced = published_version(stored.body) if stored is not None else None
        publications.append(Publication(file, uri, Outcome.PUBLISHED, version_id, replaced_version=replaced))
    return publications


def policy_hash_or_none(raw: bytes) -> str | None:
    """The hash of a published file, or None if it is not JSON (then any new file may replace it)."""
    try:
        return policy_hash(raw)
    except PolicyInvalid:
        return None


def published_version(raw: bytes) -> str | None:
    """The policy_version a published file claims, read leniently: an invalid published file may be replaced."""
    import json

    try:
        document = json.loads(raw)
    except ValueError:
        return None
    version = document.get("policy_version") if isinstance(document, dict) else None
    return version if isinstance(version, str) else None


def render_publication(publication: Publication) -> str:
    file, policy = publication.file, publication.file.policy
    if publication.outcome is Outcome.UNCHANGED:
        head = f"{file.path}: unchanged, the same rules are already published (nothing uploaded)"
    elif publication.replaced_version is not None:
        head = f"{file.path}: published, replacing policy_version {publication.replaced_version}"
    else:
        head = f"{file.path}: published"
    group = "* (every model group without its own file)" if policy.is_default else policy.model_group
    return "\n".join(
        [
            head,
            _row("group", group),
            _row("policy_version", policy.policy_version),
            _row("sha256", file.sha256),
            _row("uri", publication.uri),
            _row("VersionId", publication.s3_version_id or "none (the bucket is not versioned)"),
        ]
    )


# ------------------------------------------------------------------ explain


class CatalogReader(Protocol):
    def get(self, version_id: str) -> CatalogRecord | None: ...


def record_with_decision(
    version_id: str, catalog: CatalogReader, status_command: Callable[[str | None], str]
) -> CatalogRecord:
    """The version's catalog record if it holds a gate decision; otherwise a CliError saying why there is none.

    `status_command(target)` spells the `fmops status` command to suggest (waiting for `target`, if any)."""
    record = catalog.get(version_id)
    if record is None:
        raise CliError(
            f"no model version {version_id} is known",
            hint="check the name (GROUP/VERSION, case-sensitive) and the catalog table in use",
        )
    if record.gate is not None:
        return record
    evaluation = record.evaluation
    if evaluation is not None and not evaluation.succeeded:
        evidence = f", evidence {evaluation.evidence_uri}" if evaluation.evidence_uri else ""
        raise CliError(
            f"{version_id} has no gate decision: its evaluation failed ({record.status.value}): "
            f"{evaluation.failure_reason or 'no reason given'}",
            hint=f"reported by {evaluation.evaluator}{evidence}; fix the model and submit a new version",
        )
    why, target = _WHY_NO_DECISION.get(record.status, ("no gate decision is recorded for it", None))
    if target is not None:
        raise CliError(
            f"{version_id} has no gate decision yet: it is still {record.status.value}: {why}",
            hint=status_command(target),
        )
    raise CliError(
        f"{version_id} has no gate decision: it is {record.status.value}: {why}",
        hint=f"{status_command(None)} shows its reasons and timeline",
    )


# Why a version in this status has no decision, and the status to wait for (None: it will not get one).
_WHY_NO_DECISION: dict[VersionStatus, tuple[str, str | None]] = {
    VersionStatus.RECEIVED: ("intake is verifying the upload", VersionStatus.REGISTERED),
    VersionStatus.REGISTERED: ("its promotion is starting", VersionStatus.PENDING_EVALUATION),
    VersionStatus.PENDING_EVALUATION: ("the gate runs after the evaluation arrives", VersionStatus.PENDING_APPROVAL),
    VersionStatus.EVALUATED: ("the gate is judging its evaluation", VersionStatus.PENDING_APPROVAL),
    VersionStatus.REJECTED: ("it was rejected before the gate judged it", None),
}


def render_explanation(record: CatalogRecord) -> str:
    """The decision table, then where the decision and the evaluation it judged are kept."""
    assert record.gate is not None
    gate = record.gate
    lines = [
        decision_table(gate.decision).rstrip("\n"),
        "",
        _row("status", record.status.value),
        _row("decided at", format_time(gate.decided_at)),
        _row("decision", gate.decision_uri),
    ]
    evaluation = record.evaluation
    if evaluation is not None:
        reporter = f"{evaluation.evaluator} (event source {evaluation.reported_by})"
        lines.append(_row("evaluated by", f"{reporter} at {format_time(evaluation.received_at)}"))
        if evaluation.evidence_uri:
            lines.append(_row("evaluation", evaluation.evidence_uri))
    return "\n".join(lines)


def _row(label: str, value: str) -> str:
    return f"  {label:<{_LABEL_WIDTH}}  {value}"
