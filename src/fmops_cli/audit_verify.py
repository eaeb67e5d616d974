"""`fmops audit verify [GROUP]`: walk every hash chain of the audit trail against its head and the anchors.

Each chain is read in order and every record's hash recomputed (fmops.ledger.verify_chain); every
(seq, hash) an anchor in the Object Lock bucket recorded for that chain must still be there. The
anchors themselves are checked first (fmops.anchoring.check_anchors): a tampered one fails the run.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from fmops_cli.errors import EXIT_FAILURE, EXIT_OK, CliError, InputError

if TYPE_CHECKING:
    from fmops.anchoring import Anchor, TamperedAnchor
    from fmops.ledger import ChainHead, ChainReport
    from fmops.records import SealedRecord

EXIT_CODES = """\
exit status:
  0  every chain is intact and every anchor is genuine
  1  a chain is broken or an anchor was tampered with (or AWS failed)
  2  invalid arguments
"""


def add_parser(actions: Any, parents: Sequence[argparse.ArgumentParser], exit_codes_help: str) -> None:
    """Register `fmops audit verify` under `actions` (its handler is set with set_defaults(handler=...))."""
    verify = actions.add_parser(
        "verify",
        parents=list(parents),
        help="check that no audit record was changed, deleted, inserted or rewritten",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description="""\
Walk every model group's hash chain (or GROUP's): recompute each record's
SHA-256, check that each links to the one before, that the chain ends at its
head, and that every chain head anchored in the write-once anchor bucket is
still there, unchanged. Prints one line per chain (ok, or BROKEN with the
first broken record), then a summary. docs/audit.md, "Tamper evidence".""",
        epilog=f"""\
examples:
  fmops audit verify
  fmops audit verify sentiment-classifier
  fmops audit verify --stack fmops-prod --json | jq '.chains[] | select(.ok | not)'

{EXIT_CODES}""",
    )
    verify.add_argument("group", nargs="?", metavar="GROUP", help="verify only this model group's chain")
    verify.add_argument("--anchor-bucket", metavar="BUCKET", help="default: AnchorBucketName of --stack / local cloud")
    verify.add_argument("--json", action="store_true", help="print the reports as one JSON document")
    verify.set_defaults(handler=run_verify)


# ------------------------------------------------------------------------------ verification


class ChainSource(Protocol):
    def head(self, chain: str) -> ChainHead | None: ...

    def heads(self) -> list[ChainHead]: ...

    def chain(self, chain: str) -> Iterable[SealedRecord]: ...


class AnchorSource(Protocol):
    def anchors(self) -> list[Anchor]: ...


@dataclass
class TrailReport:
    chains: list[ChainReport]
    anchors_read: int
    tampered_anchors: list[TamperedAnchor]
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return not self.tampered_anchors and all(report.ok for report in self.chains)

    @property
    def records(self) -> int:
        return sum(report.records for report in self.chains)

    @property
    def records_per_second(self) -> float:
        return self.records / self.seconds if self.seconds > 0 else 0.0


@dataclass
class _Readable:
    """The chain's records until one cannot be read as a record at all (an item stripped of fields, say)."""

    records: Iterable[SealedRecord]
    error: str | None = None
    last_seq: int = 0

    def __iter__(self) -> Iterator[SealedRecord]:
        iterator = iter(self.records)
        while True:
            try:
                record = next(iterator)
            except StopIteration:
                return
            except (KeyError, ValueError, TypeError) as error:  # pydantic's ValidationError is a ValueError
                self.error = f"{type(error).__name__}: {str(error).splitlines()[0]}"
                return
            self.last_seq = record.seq
            yield record


def verify_trail(log: ChainSource, anchor_source: AnchorSource, group: str | None = None) -> TrailReport:
    """Check the anchors, then every chain (or `group`'s) against its head and the trusted anchors."""
    from fmops.anchoring import check_anchors
    from fmops.ledger import BreakKind, ChainBreak, verify_chain

    started = time.perf_counter()
    anchors = anchor_source.anchors()
    checked = check_anchors(anchors)
    if group is not None:
        heads = {group: log.head(group)}
        if heads[group] is None and group not in checked.chains():
            raise CliError(
                f"the audit trail has no chain for model group {group!r}",
                hint="check the name (case-sensitive); `fmops audit verify` without GROUP lists every chain",
            )
    else:
        heads = {head.chain: head for head in log.heads()}
        heads.update({chain: None for chain in checked.chains() - heads.keys()})

    reports = []
    for chain in sorted(heads):
        readable = _Readable(log.chain(chain))
        report = verify_chain(chain, readable, heads[chain], checked.anchored(chain))
        if readable.error is not None:
            # The walk stopped at the unreadable item, so nothing before it was broken: it is the break.
            unreadable = ChainBreak(
                kind=BreakKind.MODIFIED,
                seq=readable.last_seq + 1,
                event_id=None,
                detail=f"the record after seq {readable.last_seq} cannot be read: {readable.error}",
            )
            report = report.model_copy(update={"first_break": unreadable})
        report = _disputed(report, checked.disputed(chain))
        reports.append(report)
    return TrailReport(
        chains=reports,
        anchors_read=len(anchors),
        tampered_anchors=checked.tampered,
        seconds=time.perf_counter() - started,
    )


def _disputed(report: ChainReport, disputed: dict[int, set[str]]) -> ChainReport:
    """Anchors that recorded different hashes for one seq the walk passed: the chain matched at most one."""
    from fmops.ledger import BreakKind, ChainBreak

    reached = report.last_seq if report.first_break is None else (report.first_break.seq or 1) - 1
    seqs = sorted(seq for seq in disputed if seq <= reached)
    if not seqs:
        return report
    seq = seqs[0]
    hashes = ", ".join(sorted(value[:12] + "…" for value in disputed[seq]))
    detail = f"anchors recorded different hashes for seq {seq} ({hashes}): the chain was rewritten"
    found = ChainBreak(kind=BreakKind.ANCHOR_MISMATCH, seq=seq, event_id=None, detail=detail)
    return report.model_copy(update={"first_break": found})


# ------------------------------------------------------------------------------ output


def render_text(trail: TrailReport) -> str:
    lines = []
    width = max((len(report.chain) for report in trail.chains), default=0)
    for report in trail.chains:
        if report.first_break is None:
            checked = f"{report.anchors_checked} anchored head(s) checked"
            lines.append(
                f"{report.chain:<{width}}  ok      {report.records} records, last seq {report.last_seq}, {checked}"
            )
        else:
            found = report.first_break
            event = f" event {found.event_id}" if found.event_id else ""
            lines.append(f"{report.chain:<{width}}  BROKEN  at seq {found.seq}{event}: {found.kind}: {found.detail}")
    for tampered in trail.tampered_anchors:
        lines.append(f"anchor {tampered.source}  TAMPERED: {tampered.detail}")
    broken = sum(1 for report in trail.chains if not report.ok)
    verdict = "intact" if trail.ok else "NOT intact"
    lines.append(
        f"{len(trail.chains)} chain(s), {broken} broken; {trail.anchors_read} anchor(s) read, "
        f"{len(trail.tampered_anchors)} tampered: the audit trail is {verdict}. "
        f"{trail.records:,} records in {trail.seconds:.2f} s ({trail.records_per_second:,.0f} records/s)"
    )
    return "\n".join(lines)


def to_document(trail: TrailReport) -> dict[str, Any]:
    return {
        "ok": trail.ok,
        "chains": [{**report.model_dump(mode="json"), "ok": report.ok} for report in trail.chains],
        "anchors": {
            "read": trail.anchors_read,
            "tampered": [{"source": t.source, "detail": t.detail} for t in trail.tampered_anchors],
        },
        "records": trail.records,
        "seconds": round(trail.seconds, 6),
        "records_per_second": round(trail.records_per_second, 1),
    }


# ------------------------------------------------------------------------------ command


def run_verify(args: argparse.Namespace) -> int:
    from fmops.adapters.dynamodb import DynamoAuditLog
    from fmops.adapters.s3 import S3AnchorStore
    from fmops.ledger import UNADDRESSED_CHAIN, chain_of
    from fmops_cli.config import resolve

    group = args.group
    if group is not None and group != UNADDRESSED_CHAIN and chain_of(f"{group}/x") != group:
        raise InputError(f"{group!r} is not a model group name", hint="a group as in GROUP/VERSION, e.g. sentiment")
    resolved = resolve(
        wanted={"AuditTableName": args.audit_table, "AnchorBucketName": args.anchor_bucket},
        stack=args.stack,
        profile=args.profile,
        region=args.region,
        endpoint_url=args.endpoint_url,
    )
    log = DynamoAuditLog(resolved["AuditTableName"], dynamodb=resolved.connection.client("dynamodb"))
    store = S3AnchorStore(resolved["AnchorBucketName"], s3=resolved.connection.client("s3"))
    trail = verify_trail(log, store, group)
    if args.json:
        print(json.dumps(to_document(trail), indent=2))
    else:
        print(render_text(trail))
    if not trail.ok:
        print("fmops: error: the audit trail is not intact (see above)", file=sys.stderr)
    return EXIT_OK if trail.ok else EXIT_FAILURE
