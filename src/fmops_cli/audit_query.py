"""`fmops audit query`: the auditors' questions of the audit trail, a page at a time (docs/audit.md).

One question per call, each answered by one index of the audit table (fmops.adapters.audit_queries).
Imports stay inside functions: this module is imported every time `fmops` builds its parser.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, TextIO

from fmops_cli.errors import EXIT_OK, InputError

if TYPE_CHECKING:
    from fmops.audit_queries import Page

FORMATS = ("table", "json", "csv")
_TABLE_COLUMNS = ("time", "group/seq", "detail-type", "actor", "version", "event id")


def add_parser(actions: Any, parents: Sequence[argparse.ArgumentParser], exit_codes_help: str) -> None:
    """Register `fmops audit query` under `actions` (its handler is set with set_defaults(handler=...))."""
    query = actions.add_parser(
        "query",
        parents=list(parents),
        help="list audit records by version, actor, day or event type, a page at a time",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description="""\
List the audit records that answer one question, in time order, a page at a
time. Each question is one DynamoDB Query on an index of the audit table
(never a Scan):
  --version G/V           every record of a model version
  --actor A               every record of an actor (with --from/--to: within that period)
  --day YYYY-MM-DD        every record of a day (UTC)
  --type "Detail Type"    every record of one event type between --from and --to
Periods are inclusive; a time without a zone is UTC; a bare date as --to
means the whole of that day. When more records remain, the next page's
cursor is printed (on stderr for table and csv): pass it with --cursor.""",
        epilog=f"""\
examples:
  fmops audit query --version sentiment-classifier/1.0.0
  fmops audit query --actor ana.silva --from 2026-11-01 --to 2026-11-30 --format csv > ana.csv
  fmops audit query --day 2026-11-26 --limit 20 --cursor eyJ2IjoxLC...
  fmops audit query --type "Model Version Rejected" --from 2026-11-01 --to 2026-11-30 --format json

{exit_codes_help}""",
    )
    question = query.add_argument_group("the question (exactly one)").add_mutually_exclusive_group(required=True)
    question.add_argument("--version", metavar="G/V", dest="version_id", help="a model version, GROUP/VERSION")
    question.add_argument("--actor", metavar="ACTOR", help="who acted (a submitter id, an approver, a service)")
    question.add_argument("--day", metavar="YYYY-MM-DD", help="a calendar day, UTC")
    question.add_argument("--type", metavar="DETAIL_TYPE", dest="detail_type", help='e.g. "Model Version Registered"')
    period = query.add_argument_group("period (with --actor or --type; --type needs both)")
    period.add_argument("--from", metavar="TIME", dest="start", help="ISO 8601 time or date, inclusive")
    period.add_argument("--to", metavar="TIME", dest="end", help="ISO 8601 time or date (the whole day), inclusive")
    paging = query.add_argument_group("paging and output")
    paging.add_argument("--limit", type=int, default=100, metavar="N", help="records per page, 1-1000 (default 100)")
    paging.add_argument("--cursor", metavar="C", help="the cursor a previous page printed, to get the next page")
    paging.add_argument("--format", choices=FORMATS, default="table", help="table (default), json or csv")
    query.set_defaults(handler=run_audit_query)


def run_audit_query(args: argparse.Namespace) -> int:
    from fmops.adapters.audit_queries import AuditQueries
    from fmops.audit_queries import InvalidQuery
    from fmops_cli.config import resolve

    try:
        ask = _question(args)
    except InvalidQuery as error:
        raise InputError(str(error), hint="see fmops audit query --help") from error
    resolved = resolve(
        wanted={"AuditTableName": args.audit_table},
        stack=args.stack,
        profile=args.profile,
        region=args.region,
        endpoint_url=args.endpoint_url,
    )
    queries = AuditQueries(resolved["AuditTableName"], dynamodb=resolved.connection.client("dynamodb"))
    try:
        page = ask(queries)
    except InvalidQuery as error:  # a bad cursor is found once it is read against the question
        raise InputError(str(error), hint="pass the --cursor printed by the same query, or none") from error
    render(page, args.format, sys.stdout, sys.stderr)
    return EXIT_OK


def _question(args: argparse.Namespace) -> Any:
    """The query to run, checked before any AWS call: a function of AuditQueries -> Page."""
    from fmops.audit_queries import InvalidQuery, check_limit, parse_day, parse_period

    check_limit(args.limit)
    limit, cursor = args.limit, args.cursor
    if args.version_id:
        _no_period(args, "--version")
        version_id = _version_id(args.version_id)
        return lambda queries: queries.by_version(version_id, limit, cursor)
    if args.day:
        _no_period(args, "--day")
        day = parse_day(args.day)
        return lambda queries: queries.by_day(day, limit, cursor)
    if args.actor:
        period = parse_period(args.start, args.end)
        return lambda queries: queries.by_actor(args.actor, period, limit, cursor)
    if not (args.start and args.end):
        raise InvalidQuery("--type needs a period: --from TIME --to TIME (e.g. --from 2026-11-01 --to 2026-11-30)")
    period = parse_period(args.start, args.end, required=True)
    return lambda queries: queries.by_type(args.detail_type, period, limit, cursor)


def _no_period(args: argparse.Namespace, flag: str) -> None:
    from fmops.audit_queries import InvalidQuery

    if args.start or args.end:
        raise InvalidQuery(f"--from/--to go with --actor or --type, not with {flag}")


def _version_id(text: str) -> str:
    from fmops.audit_queries import InvalidQuery

    group, slash, version = text.strip().strip("/").partition("/")
    if not slash or not group or not version or "/" in version:
        raise InvalidQuery(f"{text!r} is not a version id: write it as <model-group>/<version>, e.g. sentiment/1.0.0")
    return f"{group}/{version}"


# ------------------------------------------------------------------ output


def render(page: Page, output_format: str, out: TextIO, err: TextIO) -> None:
    """The page on `out`; for table and csv, the cursor and statistics on `err` (stdout stays the data)."""
    import json

    from fmops.audit_queries import page_document

    if output_format == "json":
        out.write(json.dumps(page_document(page), indent=2, ensure_ascii=False) + "\n")
        return
    if output_format == "csv":
        _csv(page, out)
    else:
        out.write(table(page) + "\n")
    if page.cursor:
        print(f"next page: --cursor {page.cursor}", file=err)
    print(page.stats.summary(), file=err)


def table(page: Page) -> str:
    from fmops.ledger import timestamp

    rows = [
        (timestamp(r.occurred_at), f"{r.chain}/{r.seq}", r.detail_type, r.actor, r.version_id, r.event_id)
        for r in page.records
    ]
    if not rows:
        return "no records"
    widths = [max(len(str(row[i])) for row in [_TABLE_COLUMNS, *rows]) for i in range(len(_TABLE_COLUMNS))]
    lines = ["  ".join(str(value).ljust(width) for value, width in zip(row, widths, strict=True)).rstrip()
             for row in [_TABLE_COLUMNS, *rows]]  # fmt: skip
    return "\n".join(lines)


def _csv(page: Page, out: TextIO) -> None:
    import csv
    import json

    from fmops.audit_queries import RECORD_FIELDS, record_document

    writer = csv.DictWriter(out, fieldnames=list(RECORD_FIELDS), lineterminator="\n")
    writer.writeheader()
    for record in page.records:
        document = record_document(record)
        # facts as the canonical JSON text the hash covers (keys sorted, no spaces)
        document["facts"] = json.dumps(document["facts"], sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        writer.writerow(document)
