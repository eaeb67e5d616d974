"""`fmops audit export G/V`: the evidence pack of a version, as JSON and as one HTML page (docs/audit.md).

The command gathers (catalog record, registered manifest, evaluation evidence, audit records, chain
verification) and fmops_cli.evidence_pack builds and renders. Imports stay inside functions: this module is
imported every time `fmops` builds its parser.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from fmops.ledger import ChainHead
    from fmops.manifest import Manifest
    from fmops.records import CatalogRecord, SealedRecord
    from fmops_cli.evidence_pack import EvidencePack, Unreadable

DEFAULT_OUT = Path("evidence")
# An evidence document bigger than this is named in the pack, not embedded in it.
MAX_EVIDENCE_BYTES = 1024 * 1024


class CatalogReader(Protocol):
    def get(self, version_id: str) -> CatalogRecord | None: ...


class AuditReader(Protocol):
    def for_version(self, version_id: str) -> Sequence[SealedRecord]: ...

    def chain(self, chain: str) -> Any:
        """The chain's records in seq order (an iterable of SealedRecord)."""
        ...

    def head(self, chain: str) -> ChainHead | None: ...


@dataclass(frozen=True)
class EvidenceSources:
    """Where a pack's content is read from; `s3` is a boto3 S3 client."""

    catalog: CatalogReader
    audit_log: AuditReader
    s3: Any
    evidence_bucket: str | None = None


@dataclass(frozen=True)
class Exported:
    pack: EvidencePack
    json_path: Path
    html_path: Path


def add_parser(actions: Any, parents: Sequence[argparse.ArgumentParser], exit_codes_help: str) -> None:
    """Register `fmops audit export` under `actions` (its handler is set with set_defaults(handler=...))."""
    export = actions.add_parser(
        "export",
        parents=list(parents),
        help="write a version's evidence pack (JSON and a self-contained HTML page) for auditors",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description="""\
Write the evidence pack of a model version: its status and model package,
the registered manifest (model card, artifacts with sha256 and size), the
evaluation (who evaluated, who reported it, metrics with units and sample
sizes, the evidence document), the gate decision rule by rule with the policy
version and sha256, approvals and deployments, every audit record of the
version with its chain position and hashes, and the verification of its
model group's hash chain. Two files: DIR/<group>_<version>.evidence.json and
.evidence.html (one page, no script, nothing fetched; open it in a browser).""",
        epilog=f"""\
examples:
  fmops audit export sentiment-classifier/1.0.0
  fmops audit export sentiment-classifier/1.0.0 --out /tmp/audit --stack fmops-prod

The pack is written even when the audit chain is broken (the break is shown
at the top); the command then exits 1. It checks the chain against its head;
`fmops audit verify` also checks the anchors in write-once storage.
How to recompute a record's hash from the JSON: docs/audit.md.

{exit_codes_help}""",
    )
    export.add_argument("version_id", metavar="GROUP/VERSION", help="the version, e.g. sentiment-classifier/1.0.0")
    export.add_argument(
        "--out",
        type=Path,
        default=DEFAULT_OUT,
        metavar="DIR",
        help=f"where to write the pack (default ./{DEFAULT_OUT})",
    )
    export.add_argument("--catalog-table", metavar="TABLE", help="default: CatalogTableName of --stack / local cloud")
    export.add_argument(
        "--evidence-bucket",
        metavar="BUCKET",
        help="default: EvidenceBucketName of --stack / local cloud (the pack notes evidence kept elsewhere)",
    )
    export.set_defaults(handler=run_export)


def run_export(args: argparse.Namespace) -> int:
    from fmops_cli.config import resolve
    from fmops_cli.errors import EXIT_FAILURE, EXIT_OK
    from fmops_cli.status import parse_version_id

    version_id = parse_version_id(args.version_id)
    resolved = resolve(
        wanted={"CatalogTableName": args.catalog_table, "AuditTableName": args.audit_table},
        optional={"EvidenceBucketName": args.evidence_bucket},
        stack=args.stack,
        profile=args.profile,
        region=args.region,
        endpoint_url=args.endpoint_url,
    )
    exported = export_pack(version_id, connect(resolved), args.out)
    print(f"wrote {exported.json_path}")
    print(f"wrote {exported.html_path}")
    print(exported.pack.verdict)
    problems = pack_problems(exported.pack)
    for problem in problems:
        print(f"fmops: error: {problem}", file=sys.stderr)
    return EXIT_FAILURE if problems else EXIT_OK


def connect(resolved: Any) -> EvidenceSources:
    """The sources of a pack for the resources `fmops_cli.config.resolve` found."""
    from fmops.adapters.dynamodb import DynamoAuditLog, DynamoCatalog

    dynamodb = resolved.connection.client("dynamodb")
    return EvidenceSources(
        catalog=DynamoCatalog(resolved["CatalogTableName"], dynamodb=dynamodb),
        audit_log=DynamoAuditLog(resolved["AuditTableName"], dynamodb=dynamodb),
        s3=resolved.connection.client("s3"),
        evidence_bucket=resolved.get("EvidenceBucketName"),
    )


def export_pack(version_id: str, sources: EvidenceSources, out_dir: Path) -> Exported:
    """Gather, build and write the pack of `version_id`; a CliError if the version is unknown.

    A broken chain or an unreadable document does not stop it: the pack says so (see `pack_problems`)."""
    from fmops.ledger import chain_of, verify_chain
    from fmops_cli.errors import CliError, InputError
    from fmops_cli.evidence_pack import build_pack, render_html, render_json

    record = sources.catalog.get(version_id)
    if record is None:
        raise CliError(
            f"no model version {version_id} is known",
            hint="check the name (GROUP/VERSION, case-sensitive) and the catalog table in use",
        )
    chain = chain_of(version_id)
    # The head is read before the chain: an append in between then reads as a longer chain than the
    # head says, never as a truncated one.
    head = sources.audit_log.head(chain)
    report = verify_chain(chain, sources.audit_log.chain(chain), head)
    pack = build_pack(
        record,
        read_manifest(record, sources.s3),
        read_evaluation_evidence(record, sources.s3, sources.evidence_bucket),
        sources.audit_log.for_version(version_id),
        report,
    )

    stem = f"{record.model_group}_{record.version}.evidence"
    json_path, html_path = out_dir / f"{stem}.json", out_dir / f"{stem}.html"
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
        json_path.write_text(render_json(pack), encoding="utf-8")
        html_path.write_text(render_html(pack), encoding="utf-8")
    except OSError as error:
        raise InputError(f"cannot write the evidence pack to {out_dir}: {error.strerror or error}") from error
    return Exported(pack, json_path, html_path)


def pack_problems(pack: EvidencePack) -> list[str]:
    """What makes a written pack a failure to report (exit 1): a broken chain, a manifest that is gone."""
    problems = []
    found = pack.chain.first_break
    if found is not None:
        at = f" at seq {found.seq}" if found.seq is not None else ""
        problems.append(f"the audit chain of {pack.chain.chain} is broken{at} ({found.kind.value}): {found.detail}")
    if pack.manifest.unreadable is not None:
        problems.append(f"the registered manifest of {pack.version.version_id}: {pack.manifest.unreadable}")
    return problems


def read_manifest(record: CatalogRecord, s3: Any) -> Manifest | Unreadable:
    """The manifest intake registered (exact bytes, by sha256), or why it cannot be read."""
    from botocore.exceptions import ClientError

    from fmops.adapters.s3 import S3ArtifactStore
    from fmops.errors import ManifestChanged
    from fmops.registered import registered_manifest
    from fmops_cli.evidence_pack import Unreadable

    try:
        return registered_manifest(record.manifest_uri, record.manifest_sha256, S3ArtifactStore(s3))
    except ManifestChanged as changed:
        return Unreadable(uri=record.manifest_uri, reason=str(changed))
    except ClientError as error:
        return Unreadable(uri=record.manifest_uri, reason=f"S3 refused the read: {_code(error)}")


def read_evaluation_evidence(record: CatalogRecord, s3: Any, evidence_bucket: str | None) -> Any:
    """The evaluation's evidence document (parsed JSON), an Unreadable saying why not, or None if there is none.

    Evidence outside the evidence bucket (e.g. a SageMaker Processing job's output) is read too when this
    identity may; when it may not, the pack says so rather than the export failing."""
    import json

    from botocore.exceptions import BotoCoreError, ClientError

    from fmops.registered import split_s3_uri
    from fmops_cli.evidence_pack import Unreadable

    uri = record.evaluation.evidence_uri if record.evaluation is not None else None
    if uri is None:
        return None
    elsewhere = (
        f" (kept outside the evidence bucket {evidence_bucket})"
        if evidence_bucket and split_s3_uri(uri)[0] != evidence_bucket
        else ""
    )
    if not uri.startswith("s3://"):
        return Unreadable(uri=uri, reason=f"{uri} is not an S3 URI{elsewhere}")
    bucket, key = split_s3_uri(uri)
    try:
        response = s3.get_object(Bucket=bucket, Key=key, Range=f"bytes=0-{MAX_EVIDENCE_BYTES}")
        raw = bytes(response["Body"].read())
    except ClientError as error:
        return Unreadable(uri=uri, reason=f"{uri} could not be read{elsewhere}: {_code(error)}")
    except BotoCoreError as error:
        return Unreadable(uri=uri, reason=f"{uri} could not be read{elsewhere}: {error}")
    if len(raw) > MAX_EVIDENCE_BYTES:
        return Unreadable(uri=uri, reason=f"{uri} is larger than {MAX_EVIDENCE_BYTES:,} bytes: read it there")
    try:
        return json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError):
        return Unreadable(uri=uri, reason=f"{uri} is not a JSON document{elsewhere}: read it there")


def _code(error: Any) -> str:
    details = error.response.get("Error", {})
    return f"{details.get('Code', '?')} {details.get('Message', '')}".strip()
