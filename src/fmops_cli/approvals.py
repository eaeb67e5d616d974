"""`fmops approvals validate` and `fmops approvals publish`: check the approval rules and the approver
directory together, and put them in the policy bucket, where the approval functions read them."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from fmops.approvals.config import DIRECTORY_KEY, RULES_KEY
from fmops.approvals.directory import (
    ApproverDirectory,
    ApproverDirectoryInvalid,
    parse_directory,
    quorum_reachable,
)
from fmops.approvals.rules import ApprovalRules, ApprovalRulesInvalid, StageRule, describe, parse_rules
from fmops.gate.policy import Stage
from fmops_cli.errors import InputError
from fmops_cli.policies import Outcome, PolicyBucket

DEFAULT_RULES = Path("approvals") / "rules.json"
DEFAULT_DIRECTORY = Path("approvals") / "directory.json"
_LABEL_WIDTH = 16
_NO_GROUP = "(no group)"


@dataclass(frozen=True)
class ApprovalFile:
    """One local file that parsed: its exact bytes (stored as they are), their sha256 and its key in the bucket."""

    path: Path
    key: str
    raw: bytes

    @property
    def sha256(self) -> str:
        return sha256(self.raw)


@dataclass(frozen=True)
class ApprovalFiles:
    """The rules and the directory, each valid, and every stage's quorum reachable with this directory."""

    rules_file: ApprovalFile
    directory_file: ApprovalFile
    rules: ApprovalRules
    directory: ApproverDirectory

    def __iter__(self) -> Iterator[ApprovalFile]:
        # The directory first: a request opened between the two puts then sees new people under the old
        # rules (harmless when people are added with their groups), not new rules naming unknown groups.
        return iter((self.directory_file, self.rules_file))


@dataclass(frozen=True)
class ApprovalPublication:
    file: ApprovalFile
    uri: str
    outcome: Outcome
    s3_version_id: str | None
    replaced_sha256: str | None = None  # sha256 of the published file this one replaced

    @property
    def path(self) -> Path:
        return self.file.path


def sha256(raw: bytes) -> str:
    """Lower-case hex SHA-256 of the file's bytes (`sha256sum FILE` prints the same)."""
    return hashlib.sha256(raw).hexdigest()


def check_approval_files(rules_path: Path, directory_path: Path) -> tuple[ApprovalFiles | None, list[str]]:
    """Parse both files and check the rules against the directory; every problem as `<file>: <JSON path>: <why>`."""
    problems: list[str] = []
    rules_raw, rules_problems = _read(rules_path)
    directory_raw, directory_problems = _read(directory_path)
    problems += rules_problems + directory_problems

    rules: ApprovalRules | None = None
    if rules_raw is not None:
        try:
            rules = parse_rules(rules_raw)
        except ApprovalRulesInvalid as invalid:
            problems += _lines(rules_path, invalid.problems)
    directory: ApproverDirectory | None = None
    if directory_raw is not None:
        try:
            directory = parse_directory(directory_raw)
        except ApproverDirectoryInvalid as invalid:
            problems += _lines(directory_path, invalid.problems)

    if rules is None or directory is None or rules_raw is None or directory_raw is None:
        return None, problems
    problems += _lines(rules_path, quorum_reachable(rules, directory), f" (with the people in {directory_path})")
    if problems:
        return None, problems
    files = ApprovalFiles(
        rules_file=ApprovalFile(rules_path, RULES_KEY, rules_raw),
        directory_file=ApprovalFile(directory_path, DIRECTORY_KEY, directory_raw),
        rules=rules,
        directory=directory,
    )
    return files, []


def read_approval_files(rules_path: Path, directory_path: Path) -> ApprovalFiles:
    """Both files, valid together; otherwise one InputError listing every problem (nothing is published)."""
    files, problems = check_approval_files(rules_path, directory_path)
    if files is None:
        raise InputError(
            f"nothing was published: {_count(problems)} in {rules_path} and {directory_path}\n" + "\n".join(problems),
            hint="fix every problem listed (fmops approvals validate checks both files), then publish again",
        )
    return files


def publish_approvals(files: Iterable[ApprovalFile], bucket: PolicyBucket) -> list[ApprovalPublication]:
    """Upload each file whose bytes differ from the published one, under its key; the others are left as they are.

    Not only for the approval files: `fmops deployments publish` publishes the stages file with it."""
    publications = []
    for file in files:
        stored = bucket.get(file.key)
        uri = bucket.uri(file.key)
        if stored is not None and sha256(stored.body) == file.sha256:
            publications.append(ApprovalPublication(file, uri, Outcome.UNCHANGED, stored.version_id))
            continue
        version_id = bucket.put(file.key, file.raw)
        replaced = sha256(stored.body) if stored is not None else None
        publications.append(ApprovalPublication(file, uri, Outcome.PUBLISHED, version_id, replaced_sha256=replaced))
    return publications


# ------------------------------------------------------------------ rendering


def render_validation(files: ApprovalFiles) -> str:
    """What the two files say, stage by stage and group by group, and their hashes."""
    rules, directory = files.rules, files.directory
    lines = [f"{files.rules_file.path}: valid approval rules"]
    for stage in Stage:
        lines.append(_row(stage.value, _describe_rule(rules.rule_for(stage))))
    lines.append(_row("sha256", files.rules_file.sha256))

    people = len(directory.approvers)
    lines.append(
        f"{files.directory_file.path}: valid approver directory, {people} {'person' if people == 1 else 'people'}"
    )
    members: dict[str, list[str]] = {}
    for approver in directory.approvers:
        for group in approver.groups or [_NO_GROUP]:
            members.setdefault(group, []).append(approver.id)
    width = max(_LABEL_WIDTH, *(len(group) for group in members))
    for group in sorted(members, key=lambda name: (name == _NO_GROUP, name)):
        lines.append(_row(group, ", ".join(members[group]), width))
    on_slack = sum(1 for approver in directory.approvers if approver.slack_user_id)
    lines.append(_row("on Slack", f"{on_slack} of {people} (the others decide by their e-mailed link only)", width))
    lines.append(_row("sha256", files.directory_file.sha256, width))
    lines.append("every stage's quorum can be reached with these people")
    return "\n".join(lines)


def render_publication(publication: ApprovalPublication) -> str:
    file = publication.file
    if publication.outcome is Outcome.UNCHANGED:
        head = f"{file.path}: unchanged, the same bytes are already published (nothing uploaded)"
    elif publication.replaced_sha256 is not None:
        head = f"{file.path}: published, replacing sha256 {publication.replaced_sha256}"
    else:
        head = f"{file.path}: published"
    return "\n".join(
        [
            head,
            _row("sha256", file.sha256),
            _row("uri", publication.uri),
            _row("VersionId", publication.s3_version_id or "none (the bucket is not versioned)"),
        ]
    )


def _describe_rule(rule: StageRule) -> str:
    parts = [f"quorum {rule.quorum} from {', '.join(rule.groups)}"]
    if rule.separation_of_duties.earlier_stages:
        parts.append("nobody who approved an earlier stage")
    parts.append(f"expires after {describe(rule.expires_after)}")
    if rule.reminders:
        parts.append(f"reminders {', '.join(describe(offset) for offset in rule.reminders)} before expiry")
    if rule.escalation is not None:
        parts.append(f"escalates to {rule.escalation.group} after {describe(rule.escalation.after)}")
    return "; ".join(parts)


# ------------------------------------------------------------------ helpers


class _Problem(Protocol):
    @property
    def path(self) -> str: ...

    @property
    def message(self) -> str: ...


def _read(path: Path) -> tuple[bytes | None, list[str]]:
    try:
        return path.read_bytes(), []
    except OSError as error:
        return None, [f"{path}: cannot read: {error.strerror or error}"]


def _lines(path: Path, problems: Sequence[_Problem], suffix: str = "") -> list[str]:
    return [f"{path}: {problem.path}: {problem.message}{suffix}" for problem in problems]


def _count(problems: Sequence[str]) -> str:
    return f"{len(problems)} problem{'s' if len(problems) != 1 else ''}"


def _row(label: str, value: str, width: int = _LABEL_WIDTH) -> str:
    return f"  {label:<{width}}  {value}"
