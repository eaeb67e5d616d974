"""Building the manifest of a version from its model card and artifacts, validated as intake will."""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from fmops.manifest import MAX_MANIFEST_BYTES, Manifest, Problem, parse_manifest
from fmops_cli.artifacts import LocalArtifact
from fmops_cli.errors import InputError

_SUBMITTER_HINT = "pass --submitter-id and --submitter-email, or set submitter (id, email) in the model card"
# How to set a field, by the field a problem is about: the validator says what is wrong, this says how to fix it.
_HOW_TO_SET: dict[str, str] = {
    "model_group": "pass --group or set model_group in the model card",
    "version": "pass --version or set version in the model card",
    "submitter": _SUBMITTER_HINT,
    "submitter.id": _SUBMITTER_HINT,
    "submitter.email": _SUBMITTER_HINT,
    "artifacts": "the folder needs at least one file besides the model card (hidden files are skipped)",
}
# The rule behind a regular expression, for schema violations of fields checked by one.
_RULES: dict[str, str] = {
    "model_group": "letters, digits and '-', at most 63, starting and ending with a letter or digit",
    "version": "letters, digits, '.', '_' and '-', at most 64, starting with a letter or digit",
    "lineage.code.commit": "7 to 40 lower-case hex digits of a git commit",
    "sample_requests.*.name": "letters, digits, '.', '_' and '-', at most 64, starting with a letter or digit",
}
_ARTIFACT_FIELD = re.compile(r"^artifacts\.(\d+)(\..*)?$")
_LIST_INDEX = re.compile(r"\.\d+(?=\.)")  # sample_requests.3.name -> sample_requests.*.name


@dataclass(frozen=True)
class BuiltManifest:
    manifest: Manifest
    body: bytes  # exactly what is uploaded as manifest.json
    sha256: str

    @property
    def version_id(self) -> str:
        return self.manifest.version_id


class InvalidManifest(InputError):
    """The manifest would be rejected; carries every problem, not only the first."""

    def __init__(self, version_id: str, problems: Sequence[Problem], artifact_paths: Sequence[str] = ()) -> None:
        count = len(problems)
        lines = [format_problem(problem, artifact_paths) for problem in problems]
        super().__init__(
            f"the manifest of {version_id} is not valid ({count} problem{'s' if count != 1 else ''}); "
            "nothing was uploaded\n" + "\n".join(f"  - {line}" for line in lines)
        )
        self.problems = list(problems)


def manifest_document(card: Mapping[str, Any], artifacts: Sequence[LocalArtifact]) -> dict[str, Any]:
    return {
        **card,
        "artifacts": [
            {"path": artifact.path, "sha256": artifact.sha256, "size_bytes": artifact.size_bytes}
            for artifact in artifacts
        ],
    }


def build_manifest(card: Mapping[str, Any], artifacts: Sequence[LocalArtifact]) -> BuiltManifest:
    """Validate card + artifacts with the same parser intake uses; raise InvalidManifest with every problem."""
    document = manifest_document(card, artifacts)
    version_id = f"{card.get('model_group', '<group>')}/{card.get('version', '<version>')}"
    paths = [artifact.path for artifact in artifacts]
    manifest, problems = parse_manifest(json.dumps(document, default=str).encode("utf-8"))
    if manifest is None:
        raise InvalidManifest(version_id, problems, paths)
    body = render_manifest(manifest)
    if len(body) > MAX_MANIFEST_BYTES:
        problem = Problem(
            code="manifest_too_large",
            message=f"the manifest would be {len(body)} bytes; the limit is {MAX_MANIFEST_BYTES}",
        )
        raise InvalidManifest(version_id, [problem], paths)
    return BuiltManifest(manifest=manifest, body=body, sha256=hashlib.sha256(body).hexdigest())


def render_manifest(manifest: Manifest) -> bytes:
    """Canonical manifest bytes: the same card and files always give the same bytes (re-submitting is a no-op)."""
    document = manifest.model_dump(mode="json", exclude_none=True)
    return (json.dumps(document, indent=2, ensure_ascii=False) + "\n").encode("utf-8")


def format_problem(problem: Problem, artifact_paths: Sequence[str] = ()) -> str:
    """One line: code, field (with the artifact's path when the field is about one), message and a hint."""
    where = problem.field or ""
    match = _ARTIFACT_FIELD.match(where)
    if match and int(match.group(1)) < len(artifact_paths):
        where = f"{where} ({artifact_paths[int(match.group(1))]})"
    line = f"{problem.code}: " + (f"{where}: " if where else "") + problem.message
    field = problem.field or ""
    rule = _RULES.get(_LIST_INDEX.sub(".*", field))
    hints = [rule] if problem.code == "schema_violation" and rule else []
    hints += [_HOW_TO_SET[field]] if field in _HOW_TO_SET else []
    return f"{line} ({'; '.join(hints)})" if hints else line
