"""The `fmops` command: argument parsing, dispatch to one function per command, and error reporting."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    EndpointConnectionError,
    NoCredentialsError,
    NoRegionError,
    ProfileNotFound,
)

from fmops_cli import __version__
from fmops_cli.errors import EXIT_FAILURE, EXIT_OK, EXIT_TIMEOUT, EXIT_USAGE, CliError, InputError

EXIT_CODES_HELP = """\
exit status:
  0  success
  1  failure: AWS error, unknown or rejected version, refused upload
  2  invalid input: arguments, model card, manifest problems
  3  --wait-for timed out
"""

MAIN_EPILOG = f"""\
typical use:
  fmops local up                                      # terminal 1: the local cloud
  fmops policy publish policies/*.json                # the gate's rules
  fmops approvals publish                             # who approves (approvals/rules.json, directory.json)
  fmops deployments publish                           # where stages deploy (deployments/stages.json)
  fmops submit examples/sentiment-classifier --version 1.0.0 \\
      --submitter-id ana.silva --submitter-email ana.silva@example.com
  fmops status sentiment-classifier/1.0.0 --wait-for PendingApproval

where resources come from: a flag (--bucket, --catalog-table, --audit-table,
--policy-bucket), else the Outputs of a deployed stack (--stack NAME), else the
local cloud's .fmops/local/outputs.json in this folder or a parent (its
endpoint is used too).
AWS access follows boto3's standard configuration (AWS_PROFILE, AWS_REGION,
AWS_ENDPOINT_URL) unless --profile, --region or --endpoint-url is given.

The manifest format and the rejection reasons: docs/manifest.md
Gate policies (validate, publish, explain): docs/policies.md
Human approvals (rules, approver directory, e-mail links, Slack): docs/approvals.md

{EXIT_CODES_HELP}"""


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exit_:  # argparse exits on --help and on usage errors; main() returns instead
        return exit_.code if isinstance(exit_.code, int) else EXIT_USAGE
    handler: Callable[[argparse.Namespace], int] = args.handler
    try:
        return handler(args)
    except CliError as error:
        return _report(error.message, error.hint, error.exit_code)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except NoCredentialsError:
        return _report(
            "no AWS credentials found",
            "configure a profile (AWS_PROFILE or --profile), or use the local cloud: fmops local up",
            EXIT_FAILURE,
        )
    except NoRegionError:
        return _report("no AWS region configured", "set AWS_REGION or pass --region", EXIT_USAGE)
    except ProfileNotFound as error:
        return _report(str(error), "check AWS_PROFILE / --profile against ~/.aws/config", EXIT_USAGE)
    except EndpointConnectionError as error:
        return _report(
            f"cannot reach {error.kwargs.get('endpoint_url', 'the AWS endpoint')}",
            "if this is the local cloud, start it with `fmops local up` in the project folder; "
            "otherwise check --endpoint-url / AWS_ENDPOINT_URL and the network",
            EXIT_FAILURE,
        )
    except ClientError as error:
        details = error.response.get("Error", {})
        operation = getattr(error, "operation_name", "the request")
        message = f"AWS refused {operation}: {details.get('Code', '?')}: {details.get('Message', '')}".rstrip(": ")
        return _report(message, _client_error_hint(details.get("Code", "")), EXIT_FAILURE)
    except BotoCoreError as error:
        return _report(f"AWS request failed: {error}", None, EXIT_FAILURE)


def _report(message: str, hint: str | None, exit_code: int) -> int:
    print(f"fmops: error: {message}", file=sys.stderr)
    if hint:
        print(f"hint: {hint}", file=sys.stderr)
    return exit_code


def _client_error_hint(code: str) -> str | None:
    hints = {
        "NoSuchBucket": "check --bucket / --policy-bucket (the stack's ArtifactBucketName / PolicyBucketName outputs)",
        "ResourceNotFoundException": "check --catalog-table / --audit-table (the stack's table outputs) and --region",
        "AccessDenied": "your identity lacks permission for this; ask the platform team for the fmops submitter role",
        "403": "your identity lacks permission for this (checking for an existing version needs s3:GetObject)",
        "AccessDeniedException": "your identity lacks permission for this; ask the platform team for access",
        "ExpiredToken": "your credentials expired: log in again (e.g. aws sso login)",
        "ExpiredTokenException": "your credentials expired: log in again (e.g. aws sso login)",
    }
    return hints.get(code)


# ------------------------------------------------------------------ parser


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="fmops",
        description="fmops: submit model versions and follow them through governance (intake, "
        "registration, promotion), on AWS or on the local cloud.",
        epilog=MAIN_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"fmops {__version__}")
    commands = parser.add_subparsers(title="commands", metavar="COMMAND", required=True)

    aws = argparse.ArgumentParser(add_help=False)
    group = aws.add_argument_group("AWS connection")
    group.add_argument("--stack", metavar="NAME", help="read resource names from this CloudFormation stack's Outputs")
    group.add_argument("--profile", help="AWS profile (default: AWS_PROFILE or the default profile)")
    group.add_argument("--region", help="AWS region (default: AWS_REGION / the profile's region)")
    group.add_argument(
        "--endpoint-url",
        metavar="URL",
        help="AWS endpoint (default: the local cloud's when its outputs are used, else AWS_ENDPOINT_URL or AWS)",
    )

    _add_manifest_command(commands)
    _add_policy_command(commands, aws)
    _add_approvals_command(commands, aws)
    _add_deployments_command(commands, aws)
    _add_submit_command(commands, aws)
    _add_status_command(commands, aws)
    _add_history_command(commands, aws)
    _add_rollback_command(commands, aws)
    _add_audit_command(commands, aws)
    _add_local_command(commands)
    return parser


def _command_group(commands: Any, name: str, summary: str, description: str) -> Any:
    """A command with sub-commands (`fmops NAME COMMAND`); returns where to add them."""
    group = commands.add_parser(name, help=summary, description=description)
    return group.add_subparsers(title="commands", metavar="COMMAND", required=True)


def _add_manifest_command(commands: Any) -> None:
    actions = _command_group(
        commands,
        "manifest",
        summary="the manifest format",
        description="The manifest (manifest.json) describes one model version; see docs/manifest.md.",
    )
    schema = actions.add_parser(
        "schema",
        help="print the manifest's JSON Schema",
        description="Print the published JSON Schema of manifest.json (draft 2020-12), e.g. for editor validation.",
    )
    schema.add_argument("-o", "--output", metavar="FILE", type=Path, help="write the schema to FILE instead of stdout")
    schema.set_defaults(handler=run_manifest_schema)


def _add_policy_command(commands: Any, aws: argparse.ArgumentParser) -> None:
    actions = _command_group(
        commands,
        "policy",
        summary="gate policies (policy as code)",
        description="A gate policy sets the KPIs and model-card rules a version must meet to be promoted to "
        "prod; see docs/policies.md and policies/default.json.",
    )
    validate = actions.add_parser(
        "validate",
        help="check a policy file and print its version and hash",
        description="Check a policy file (JSON) and list every problem with its JSON path. Exit 0 when valid, "
        "2 when not. The printed sha256 is the one a gate decision records.",
    )
    validate.add_argument("file", type=Path, metavar="FILE", help="the policy file, e.g. policies/default.json")
    validate.set_defaults(handler=run_policy_validate)

    publish = actions.add_parser(
        "publish",
        parents=[aws],
        help="validate policy files and upload them to the policy bucket, where the gate reads them",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description="""\
Validate every FILE, then upload each, byte for byte, as <model_group>.json
(default.json for "model_group": "*") to the policy bucket. The gate of every
version judged afterwards uses it. Nothing is uploaded if any file is invalid
(exit 2) or reuses the policy_version of the file it replaces with other rules
(exit 1: bump policy_version). A file whose rules are already published (same
sha256) is left as it is.""",
        epilog=f"""\
examples:
  fmops policy publish policies/default.json policies/support-assistant.json
  fmops policy publish policies/default.json --stack fmops-prod --profile governance

{EXIT_CODES_HELP}""",
    )
    publish.add_argument("files", type=Path, nargs="+", metavar="FILE", help="policy files, e.g. policies/*.json")
    publish.add_argument(
        "--policy-bucket", metavar="BUCKET", help="default: PolicyBucketName of --stack or the local cloud"
    )
    publish.set_defaults(handler=run_policy_publish)

    explain = actions.add_parser(
        "explain",
        parents=[aws],
        help="show the gate decision recorded for a version, rule by rule",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description="""\
Show the gate decision of a model version: passed or failed, the policy
(group, policy_version, sha256) it was made under, and one row per rule with
what the version showed, what the policy asked for and why it passed or failed;
then where the decision document is kept and when it was made.""",
        epilog=f"""\
examples:
  fmops policy explain sentiment-classifier/1.0.0
  fmops policy explain sentiment-classifier/1.0.0 --json | jq '.rules[] | select(.passed | not)'

A version without a decision (not yet evaluated, or its evaluation failed)
exits 1 and says why.

{EXIT_CODES_HELP}""",
    )
    explain.add_argument("version_id", metavar="GROUP/VERSION", help="the version, e.g. sentiment-classifier/1.0.0")
    explain.add_argument("--json", action="store_true", help="print the decision document (as the gate stored it)")
    explain.add_argument("--catalog-table", metavar="TABLE", help="default: CatalogTableName of --stack / local cloud")
    explain.set_defaults(handler=run_policy_explain)


def _add_approvals_command(commands: Any, aws: argparse.ArgumentParser) -> None:
    from fmops.approvals.config import DIRECTORY_KEY, RULES_KEY
    from fmops_cli.approvals import DEFAULT_DIRECTORY, DEFAULT_RULES

    actions = _command_group(
        commands,
        "approvals",
        summary="approval rules and the approver directory",
        description="Who must approve a model version for each stage (approvals/rules.json) and who the "
        "approvers are (approvals/directory.json); see docs/approvals.md.",
    )
    validate = actions.add_parser(
        "validate",
        help="check the approval rules and the approver directory together",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description="""\
Check the rules file and the directory, listing every problem with its file and
JSON path, and check that the directory holds enough eligible people for every
stage's quorum (an unreachable quorum is an error: such a stage could only
expire). Exit 0 when both are valid together, 2 when not. Nothing is read from
or written to AWS.""",
        epilog=f"""\
examples:
  fmops approvals validate
  fmops approvals validate approvals/rules.json approvals/directory.json

{EXIT_CODES_HELP}""",
    )
    validate.add_argument(
        "rules", type=Path, nargs="?", default=DEFAULT_RULES, metavar="RULES", help=f"default: {DEFAULT_RULES}"
    )
    validate.add_argument(
        "directory",
        type=Path,
        nargs="?",
        default=DEFAULT_DIRECTORY,
        metavar="DIRECTORY",
        help=f"default: {DEFAULT_DIRECTORY}",
    )
    validate.set_defaults(handler=run_approvals_validate)

    publish = actions.add_parser(
        "publish",
        parents=[aws],
        help="validate the rules and the directory and upload both to the policy bucket",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description=f"""\
Validate both files together (as `fmops approvals validate` does), then upload
each, byte for byte, to the policy bucket as {RULES_KEY} and
{DIRECTORY_KEY}. The approval functions read them on every use: the next
approval request, decision and timer tick use them. Nothing is uploaded if
either file is invalid or a quorum cannot be reached (exit 2). A file whose
bytes are already published (same sha256) is left as it is.""",
        epilog=f"""\
examples:
  fmops approvals publish
  fmops approvals publish --rules approvals/rules.json --directory approvals/directory.json \\
      --stack fmops-prod --profile governance

{EXIT_CODES_HELP}""",
    )
    publish.add_argument("--rules", type=Path, default=DEFAULT_RULES, metavar="FILE", help=f"default: {DEFAULT_RULES}")
    publish.add_argument(
        "--directory", type=Path, default=DEFAULT_DIRECTORY, metavar="FILE", help=f"default: {DEFAULT_DIRECTORY}"
    )
    publish.add_argument(
        "--policy-bucket", metavar="BUCKET", help="default: PolicyBucketName of --stack or the local cloud"
    )
    publish.set_defaults(handler=run_approvals_publish)


def _add_deployments_command(commands: Any, aws: argparse.ArgumentParser) -> None:
    from fmops.deployment.config import STAGES_KEY
    from fmops_cli.deployments import DEFAULT_STAGES

    actions = _command_group(
        commands,
        "deployments",
        summary="deployment stages (where and how dev, preprod and prod deploy)",
        description="Where each stage deploys an approved version, on what, and how the deployment is checked "
        "(deployments/stages.json; layers/fmops/fmops/deployment/config.py describes the file).",
    )
    validate = actions.add_parser(
        "validate",
        help="check the deployment stages file",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description="""\
Check the stages file, listing every problem with its JSON path, and print
what each stage does. Exit 0 when it is valid, 2 when not. Nothing is read
from or written to AWS.""",
        epilog=f"""\
examples:
  fmops deployments validate
  fmops deployments validate deployments/stages.json

{EXIT_CODES_HELP}""",
    )
    validate.add_argument(
        "file", type=Path, nargs="?", default=DEFAULT_STAGES, metavar="FILE", help=f"default: {DEFAULT_STAGES}"
    )
    validate.set_defaults(handler=run_deployments_validate)

    publish = actions.add_parser(
        "publish",
        parents=[aws],
        help="validate the deployment stages file and upload it to the policy bucket",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description=f"""\
Validate the stages file (as `fmops deployments validate` does), then upload
it, byte for byte, to the policy bucket as {STAGES_KEY}, where
deployments read it. Nothing is uploaded if it is invalid (exit 2). A file
whose bytes are already published (same sha256) is left as it is.""",
        epilog=f"""\
examples:
  fmops deployments publish
  fmops deployments publish deployments/stages.json --stack fmops-prod --profile governance

{EXIT_CODES_HELP}""",
    )
    publish.add_argument(
        "file", type=Path, nargs="?", default=DEFAULT_STAGES, metavar="FILE", help=f"default: {DEFAULT_STAGES}"
    )
    publish.add_argument(
        "--policy-bucket", metavar="BUCKET", help="default: PolicyBucketName of --stack or the local cloud"
    )
    publish.set_defaults(handler=run_deployments_publish)


def _add_audit_command(commands: Any, aws: argparse.ArgumentParser) -> None:
    """`fmops audit query|verify|export`: each sub-command lives in its own module (fmops_cli.audit_*)."""
    actions = _command_group(
        commands,
        "audit",
        summary="query, verify and export the audit trail",
        description="The audit trail: every fmops event, artifact upload and model package change, "
        "hash-chained per model group and anchored in write-once storage (docs/audit.md).",
    )
    tables = argparse.ArgumentParser(add_help=False)
    tables.add_argument("--audit-table", metavar="TABLE", help="default: AuditTableName of --stack / local cloud")

    from fmops_cli import audit_export, audit_query, audit_verify

    audit_query.add_parser(actions, [aws, tables], EXIT_CODES_HELP)
    audit_verify.add_parser(actions, [aws, tables], EXIT_CODES_HELP)
    audit_export.add_parser(actions, [aws, tables], EXIT_CODES_HELP)


def _add_submit_command(commands: Any, aws: argparse.ArgumentParser) -> None:
    submit = commands.add_parser(
        "submit",
        parents=[aws],
        help="upload a model version folder (artifacts, then manifest.json)",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description="""\
Submit the model version in DIR: DIR holds a model card (model-card.yaml or
model-card.json) and the version's files. Every other file, in any subfolder,
is an artifact (hidden files are skipped). fmops hashes each artifact (sha256,
size), builds manifest.json and validates it exactly as intake will; only if it
is valid does it upload the artifacts to s3://BUCKET/models/GROUP/VERSION/<path>
and then manifest.json, last: its arrival starts intake.

Versions are immutable: submitting identical content again does nothing, and a
different manifest for an existing version is refused unless intake Rejected it.""",
        epilog=f"""\
examples:
  fmops submit examples/sentiment-classifier --version 1.0.0 \\
      --submitter-id ana.silva --submitter-email ana.silva@example.com
  fmops submit ./out --group churn-model --version 2026-11-26.1 --dry-run
  fmops submit ./out --version 7 --stack fmops-dev --profile ml-dev

{EXIT_CODES_HELP}""",
    )
    submit.add_argument("directory", metavar="DIR", type=Path, help="the version folder")
    card = submit.add_argument_group("model card (flags override the card's fields)")
    card.add_argument("--group", help="model group (the card's model_group)")
    card.add_argument("--version", help="version name, unique in its group (the card's version)")
    card.add_argument("--model-card", metavar="FILE", type=Path, help="model card to use instead of DIR/model-card.*")
    card.add_argument("--submitter-id", metavar="ID", help="your identity, e.g. your SSO user name (submitter.id)")
    card.add_argument("--submitter-email", metavar="EMAIL", help="your e-mail address (submitter.email)")
    target = submit.add_argument_group("destination")
    target.add_argument("--bucket", help="artifact bucket (default: ArtifactBucketName of --stack or the local cloud)")
    target.add_argument(
        "--catalog-table",
        metavar="TABLE",
        help="catalog table, read to allow correcting a Rejected version (default: CatalogTableName output)",
    )
    submit.add_argument(
        "--dry-run",
        action="store_true",
        help="validate, print the manifest on stdout and the upload plan on stderr; upload nothing, call no AWS API",
    )
    submit.set_defaults(handler=run_submit)


def _add_status_command(commands: Any, aws: argparse.ArgumentParser) -> None:
    from fmops.statuses import VersionStatus

    statuses = [status.value for status in VersionStatus]
    status = commands.add_parser(
        "status",
        parents=[aws],
        help="show a version's status, model package and audit timeline",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description="""\
Show where a model version stands: its status in the catalog, its SageMaker
model package, why it was rejected if it was, and its audit timeline (every
recorded event in time order: when, what, who, key facts).

Lifecycle: Received -> Registered -> PendingEvaluation -> Evaluated -> PendingApproval
-> Approved; Received -> Rejected (a corrected manifest may then be submitted for the same
version); PendingEvaluation, Evaluated or PendingApproval -> Rejected (evaluation failed or
timed out, the gate failed, an approver rejected it or its approval expired: final, submit
a new version).""",
        epilog=f"""\
examples:
  fmops status sentiment-classifier/1.0.0
  fmops status sentiment-classifier/1.0.0 --json | jq .status
  fmops status sentiment-classifier/1.0.0 --wait-for PendingApproval --timeout 120

--wait-for succeeds when the version reaches the status or a later one
(PendingEvaluation counts as Registered) and fails as soon as it is Rejected.

{EXIT_CODES_HELP}""",
    )
    status.add_argument("version_id", metavar="GROUP/VERSION", help="the version, e.g. sentiment-classifier/1.0.0")
    status.add_argument("--json", action="store_true", help="print a stable machine-readable document")
    status.add_argument("--wait-for", metavar="STATUS", choices=statuses, help=f"wait for: {', '.join(statuses)}")
    status.add_argument(
        "--timeout", type=_positive_float, default=300.0, metavar="SECONDS", help="give up waiting after (default 300)"
    )
    status.add_argument(
        "--interval", type=_positive_float, default=2.0, metavar="SECONDS", help="seconds between polls (default 2)"
    )
    tables = status.add_argument_group("tables")
    tables.add_argument("--catalog-table", metavar="TABLE", help="default: CatalogTableName of --stack / local cloud")
    tables.add_argument("--audit-table", metavar="TABLE", help="default: AuditTableName of --stack / local cloud")
    status.set_defaults(handler=run_status)


def _add_history_command(commands: Any, aws: argparse.ArgumentParser) -> None:
    from fmops_cli.stage_history import STAGES, parse_moment

    history = commands.add_parser(
        "history",
        parents=[aws],
        help="what served a model group in a stage, when, approved by whom, on which evidence",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description="""\
Answer "what was serving GROUP in STAGE at that moment, since when, approved by
whom, on which evidence" from the deployment records: the version, the
deployment that put it there, its approvers and approval id, the gate's
evidence, the artifact digest and the endpoint configuration. Without --at:
what serves now, and every deployment and rollback of the group to the stage.""",
        epilog=f"""\
examples:
  fmops history sentiment-classifier --stage prod
  fmops history sentiment-classifier --stage prod --at 2026-03-03T14:00:00Z
  fmops history sentiment-classifier --stage dev --json

A time without a zone, or a date alone, is read as UTC.

{EXIT_CODES_HELP}""",
    )
    history.add_argument("model_group", metavar="GROUP", help="the model group, e.g. sentiment-classifier")
    history.add_argument("--stage", required=True, choices=STAGES, help="dev, preprod or prod")
    history.add_argument("--at", type=parse_moment, metavar="TIMESTAMP", help="ISO-8601 moment (default: now)")
    history.add_argument("--json", action="store_true", help="print a stable machine-readable document")
    history.add_argument(
        "--deployments-table", metavar="TABLE", help="default: DeploymentsTableName of --stack / local cloud"
    )
    history.set_defaults(handler=run_history)


def _add_rollback_command(commands: Any, aws: argparse.ArgumentParser) -> None:
    from fmops_cli.stage_history import STAGES

    rollback = commands.add_parser(
        "rollback",
        parents=[aws],
        help="put a stage back on an earlier version (after the stage's approvers agree)",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description="""\
Ask for a rollback of GROUP in STAGE: by default to the last version that was
approved and served there before the current one, or to --to GROUP/VERSION (a
version that served there). The rollback is a deployment like any other: the
stage's approvers (the approval rules of the stage) get a fresh approval
request; once granted, the version is checked against its registered digest,
deployed, smoke-tested and recorded. A failed rollback leaves the stage on
what it serves now.""",
        epilog=f"""\
examples:
  fmops rollback sentiment-classifier --stage prod
  fmops rollback sentiment-classifier --stage prod --to sentiment-classifier/1.0.0

Follow it with: fmops history GROUP --stage STAGE

{EXIT_CODES_HELP}""",
    )
    rollback.add_argument("model_group", metavar="GROUP", help="the model group, e.g. sentiment-classifier")
    rollback.add_argument("--stage", required=True, choices=STAGES, help="dev, preprod or prod")
    rollback.add_argument(
        "--to", metavar="GROUP/VERSION", help="the version to go back to (default: the last good one)"
    )
    tables = rollback.add_argument_group("resources")
    tables.add_argument(
        "--deployments-table", metavar="TABLE", help="default: DeploymentsTableName of --stack / local cloud"
    )
    tables.add_argument(
        "--state-machine", metavar="ARN", help="default: DeploymentStateMachineArn of --stack / local cloud"
    )
    rollback.set_defaults(handler=run_rollback)


def _add_local_command(commands: Any) -> None:
    actions = _command_group(
        commands,
        "local",
        summary="the local cloud (AWS services on this machine, no account needed)",
        description="The local cloud runs template.yaml on this machine: moto provides the AWS services "
        "and fmops runs the functions, rules and state machines.",
    )
    up = actions.add_parser(
        "up",
        help="start the local cloud in the foreground (Ctrl-C stops it)",
        description="Deploy template.yaml into a local cloud on 127.0.0.1 and serve it until Ctrl-C. "
        "It writes .fmops/local/outputs.json, which `fmops submit` and `fmops status` read, and every e-mail "
        "it sends to .fmops/local/outbox/ (one .eml file per recipient). It fires the template's rate(...) "
        "schedules: the approval timer every 5 minutes, the audit anchor every hour.",
    )
    up.add_argument("--port", type=_port, default=4566, help="port of the AWS endpoint (default 4566; 0: any free one)")
    up.add_argument(
        "--project-root",
        type=Path,
        metavar="DIR",
        help="the folder holding template.yaml (default: this folder or the nearest parent with one)",
    )
    up.set_defaults(handler=run_local_up)
    demo = actions.add_parser(
        "demo",
        help="run the governed flow on a fresh local cloud (what `make demo` does)",
        description="Start a local cloud, publish the policies and approval rules, submit the example version and "
        "two that must be rejected, approve the example, verify the audit trail; exit 0 when every check passes. "
        "With --interactive it prints the approvers' links and waits for you to approve in a browser.",
    )
    demo.add_argument(
        "--interactive",
        action="store_true",
        help="print the two approvers' e-mailed links and wait (up to an hour) for a person to approve",
    )
    demo.add_argument(
        "--project-root",
        type=Path,
        metavar="DIR",
        help="the folder holding template.yaml (default: this folder or the nearest parent with one)",
    )
    demo.set_defaults(handler=run_local_demo)


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if value <= 0:
        raise argparse.ArgumentTypeError("must be greater than 0")
    return value


def _port(text: str) -> int:
    if not text.isdigit() or int(text) > 65535:
        raise argparse.ArgumentTypeError(f"{text!r} is not a port number (0-65535)")
    return int(text)


# ------------------------------------------------------------------ commands


def run_manifest_schema(args: argparse.Namespace) -> int:
    from fmops.manifest import manifest_json_schema

    text = json.dumps(manifest_json_schema(), indent=2) + "\n"
    if args.output is None:
        sys.stdout.write(text)
        return EXIT_OK
    try:
        args.output.write_text(text, encoding="utf-8")
    except OSError as error:
        raise InputError(f"cannot write {args.output}: {error.strerror or error}") from error
    print(f"wrote the manifest JSON Schema to {args.output}", file=sys.stderr)
    return EXIT_OK


def run_policy_validate(args: argparse.Namespace) -> int:
    from fmops.gate.policy import PolicyInvalid, parse_policy, policy_hash

    try:
        raw = args.file.read_bytes()
    except OSError as error:
        raise InputError(f"cannot read {args.file}: {error.strerror or error}") from error
    try:
        policy = parse_policy(raw)
    except PolicyInvalid as invalid:
        raise InputError(f"{args.file}: {invalid}") from None
    scope = "every model group (default)" if policy.is_default else f"model group {policy.model_group}"
    print(f"{args.file}: valid policy {policy.policy_version} for {scope}")
    print(f"  {len(policy.thresholds)} metric threshold(s), {len(policy.required_fields)} required field(s)")
    print(f"  sha256 {policy_hash(raw)}")
    return EXIT_OK


def _policy_bucket(args: argparse.Namespace) -> Any:
    """The policy bucket named by --policy-bucket, else the stack's or the local cloud's PolicyBucketName output."""
    from fmops_cli.config import resolve
    from fmops_cli.policies import S3PolicyBucket

    resolved = resolve(
        wanted={"PolicyBucketName": args.policy_bucket},
        stack=args.stack,
        profile=args.profile,
        region=args.region,
        endpoint_url=args.endpoint_url,
    )
    return S3PolicyBucket(resolved["PolicyBucketName"], resolved.connection.client("s3"))


def run_policy_publish(args: argparse.Namespace) -> int:
    from fmops_cli.policies import publish, read_policy_files, render_publication

    files = read_policy_files(args.files)  # every file is valid before any AWS call
    publications = publish(files, _policy_bucket(args))
    print("\n".join(render_publication(publication) for publication in publications))
    return EXIT_OK


def run_approvals_validate(args: argparse.Namespace) -> int:
    from fmops_cli.approvals import check_approval_files, render_validation

    files, problems = check_approval_files(args.rules, args.directory)
    if files is None:
        count = f"{len(problems)} problem{'s' if len(problems) != 1 else ''}"
        raise InputError(
            f"{args.rules} and {args.directory} cannot be used together: {count}\n" + "\n".join(problems),
            hint="fix every problem listed, then validate again (docs/approvals.md describes both files)",
        )
    print(render_validation(files))
    return EXIT_OK


def run_approvals_publish(args: argparse.Namespace) -> int:
    from fmops_cli.approvals import publish_approvals, read_approval_files, render_publication

    files = read_approval_files(args.rules, args.directory)  # both valid together before any AWS call
    publications = publish_approvals(files, _policy_bucket(args))
    print("\n".join(render_publication(publication) for publication in publications))
    return EXIT_OK


def run_deployments_validate(args: argparse.Namespace) -> int:
    from fmops_cli.deployments import FORMAT_HELP, check_stages_file, render_validation

    stages, problems = check_stages_file(args.file)
    if stages is None:
        count = f"{len(problems)} problem{'s' if len(problems) != 1 else ''}"
        raise InputError(
            f"{args.file} cannot be used: {count}\n" + "\n".join(problems),
            hint=f"fix every problem listed, then validate again ({FORMAT_HELP})",
        )
    print(render_validation(stages))
    return EXIT_OK


def run_deployments_publish(args: argparse.Namespace) -> int:
    from fmops_cli.approvals import render_publication
    from fmops_cli.deployments import publish_stages, read_stages_file

    stages = read_stages_file(args.file)  # valid before any AWS call
    print(render_publication(publish_stages(stages, _policy_bucket(args))))
    return EXIT_OK


def run_policy_explain(args: argparse.Namespace) -> int:
    from fmops_cli.config import resolve
    from fmops_cli.policies import record_with_decision, render_explanation
    from fmops_cli.status import parse_version_id

    version_id = parse_version_id(args.version_id)
    resolved = resolve(
        wanted={"CatalogTableName": args.catalog_table},
        stack=args.stack,
        profile=args.profile,
        region=args.region,
        endpoint_url=args.endpoint_url,
    )
    catalog = _catalog(resolved.connection, resolved["CatalogTableName"])

    def status_command(wait_for: str | None) -> str:
        flags = _connection_flags(args, resolved, [f"--catalog-table {args.catalog_table}", "--audit-table TABLE"])
        return f"fmops status {version_id}{flags}" + (f" --wait-for {wait_for}" if wait_for else "")

    record = record_with_decision(version_id, catalog, status_command)
    assert record.gate is not None
    if args.json:
        print(record.gate.decision.model_dump_json(indent=2))
    else:
        print(render_explanation(record))
    return EXIT_OK


def run_submit(args: argparse.Namespace) -> int:
    from fmops_cli.config import find_local_outputs, resolve
    from fmops_cli.progress import Progress
    from fmops_cli.submit import Existing, describe_plan, plan_submission, submit

    progress = Progress()
    plan = plan_submission(
        args.directory,
        model_card=args.model_card,
        group=args.group,
        version=args.version,
        submitter_id=args.submitter_id,
        submitter_email=args.submitter_email,
        progress=progress,
    )

    if args.dry_run:
        # Offline on purpose: name the bucket if it is known without asking AWS.
        local = None if args.bucket or args.stack else find_local_outputs()
        bucket = args.bucket or (local.values.get("ArtifactBucketName") if local else None)
        # The summary is for people (stderr); stdout is exactly the manifest, so `> manifest.json` keeps it.
        print(
            f"Dry run: {plan.version_id} is valid; nothing was uploaded. Its manifest (from {plan.model_card}) "
            f"is on stdout.\nWould upload {len(plan.artifacts)} artifact(s), then manifest.json, to "
            f"{describe_plan(plan, bucket)}",
            file=sys.stderr,
            flush=True,
        )
        _write_bytes(plan.manifest.body)
        return EXIT_OK

    resolved = resolve(
        wanted={"ArtifactBucketName": args.bucket},
        optional={"CatalogTableName": args.catalog_table},
        stack=args.stack,
        profile=args.profile,
        region=args.region,
        endpoint_url=args.endpoint_url,
    )
    bucket = resolved["ArtifactBucketName"]
    catalog = _catalog(resolved.connection, resolved.get("CatalogTableName"))
    outcome = submit(plan, resolved.connection.client("s3"), bucket, catalog, progress)

    next_step = f"fmops status {plan.version_id}{_status_flags(args, resolved)} --wait-for PendingApproval"
    if outcome.existing == Existing.IDENTICAL:
        print(f"{plan.version_id} was already submitted with identical content: nothing to upload.")
        print(f"Next: {next_step}")
        return EXIT_OK
    replaced = outcome.existing == Existing.REPLACES_REJECTED
    verb = "Resubmitted (replacing the manifest intake Rejected)" if replaced else "Submitted"
    print(f"{verb} {plan.version_id} to {describe_plan(plan, bucket)}")
    print("Intake now checks every artifact's size and sha256 and registers the version in the model registry.")
    print(f"Next: {next_step}")
    return EXIT_OK


def run_status(args: argparse.Namespace) -> int:
    from fmops.adapters.dynamodb import DynamoAuditLog
    from fmops.statuses import VersionStatus
    from fmops_cli.config import resolve
    from fmops_cli.status import VersionView, WaitOutcome, fetch, parse_version_id, render_text, to_document, wait_for

    version_id = parse_version_id(args.version_id)
    resolved = resolve(
        wanted={"CatalogTableName": args.catalog_table, "AuditTableName": args.audit_table},
        stack=args.stack,
        profile=args.profile,
        region=args.region,
        endpoint_url=args.endpoint_url,
    )
    dynamodb = resolved.connection.client("dynamodb")
    catalog = _catalog(resolved.connection, resolved["CatalogTableName"], dynamodb)
    audit_log = DynamoAuditLog(resolved["AuditTableName"], dynamodb=dynamodb)

    def poll() -> VersionView:
        return fetch(version_id, catalog, audit_log)

    def show(view: VersionView) -> None:
        current = view.status.value if view.status else "not recorded yet"
        print(f"{version_id}: {current} (waiting for {args.wait_for})", file=sys.stderr)

    outcome: WaitOutcome | None = None
    if args.wait_for:
        view, outcome = wait_for(poll, VersionStatus(args.wait_for), args.timeout, args.interval, on_change=show)
    else:
        view = poll()

    if not view.found and outcome is not WaitOutcome.TIMED_OUT:
        raise CliError(
            f"no model version {version_id} is known",
            hint="check the name (GROUP/VERSION, case-sensitive) and the tables in use; a version that was just "
            "submitted appears within seconds, try --wait-for Received",
        )
    if args.json:
        print(json.dumps(to_document(view), indent=2))
    elif view.found:
        print(render_text(view))

    if outcome is WaitOutcome.TIMED_OUT:
        current = view.status.value if view.status else "no record"
        message = f"{version_id} did not reach {args.wait_for} within {args.timeout:g}s (it is {current})"
        return _report(message, None, EXIT_TIMEOUT)
    if outcome is WaitOutcome.STOPPED:
        status = view.status.value if view.status else "?"
        return _report(f"{version_id} is {status}, so it will not reach {args.wait_for}", None, EXIT_FAILURE)
    return EXIT_OK


def run_history(args: argparse.Namespace) -> int:
    from fmops.adapters.deployments import DynamoDeploymentStore
    from fmops.gate.policy import Stage
    from fmops_cli.config import resolve
    from fmops_cli.stage_history import history_document, render_history

    resolved = resolve(
        wanted={"DeploymentsTableName": args.deployments_table},
        stack=args.stack,
        profile=args.profile,
        region=args.region,
        endpoint_url=args.endpoint_url,
    )
    store = DynamoDeploymentStore(resolved["DeploymentsTableName"], resolved.connection.client("dynamodb"))
    stage = Stage(args.stage)
    document = history_document(store.history(args.model_group, stage), args.model_group, stage, args.at)
    if args.json:
        print(json.dumps(document, indent=2))
    else:
        print(render_history(document))
    return EXIT_OK


def run_rollback(args: argparse.Namespace) -> int:
    from datetime import UTC, datetime

    from fmops.adapters.deployments import DynamoDeploymentStore
    from fmops.adapters.stepfunctions import StepFunctionsDeployments
    from fmops.approvals import ROLLBACK_OCCASION_PREFIX
    from fmops.deployment.history import DeploymentKind
    from fmops.deployment.service import StageStep, deployment_id_for
    from fmops.gate.policy import Stage
    from fmops_cli.config import resolve
    from fmops_cli.stage_history import choose_rollback

    resolved = resolve(
        wanted={"DeploymentsTableName": args.deployments_table, "DeploymentStateMachineArn": args.state_machine},
        stack=args.stack,
        profile=args.profile,
        region=args.region,
        endpoint_url=args.endpoint_url,
    )
    store = DynamoDeploymentStore(resolved["DeploymentsTableName"], resolved.connection.client("dynamodb"))
    stage = Stage(args.stage)
    now = datetime.now(UTC)
    current, target = choose_rollback(store.history(args.model_group, stage), args.model_group, stage, args.to, now)
    deployment_id = deployment_id_for(target, DeploymentKind.ROLLBACK, f"{stage.value}-{now:%Y%m%dT%H%M%S}")
    step = StageStep(
        deployment_id=deployment_id,
        kind=DeploymentKind.ROLLBACK,
        version_id=target,
        correlation_id=target,
        stage=stage,
        requested_at=now,
        approval_occasion=f"{ROLLBACK_OCCASION_PREFIX}{deployment_id}",
    )
    sfn = resolved.connection.client("stepfunctions")
    StepFunctionsDeployments(resolved["DeploymentStateMachineArn"], sfn).start(deployment_id, step)
    print(f"Rollback of {args.model_group} in {stage.value} from {current} to {target} requested ({deployment_id}).")
    print(f"The {stage.value} approvers were asked to approve it; then it deploys, is smoke-tested and recorded.")
    print(f"Follow it: fmops history {args.model_group} --stage {stage.value}")
    return EXIT_OK


def run_local_up(args: argparse.Namespace) -> int:
    from fmops_cli.config import find_project_root

    root = args.project_root or find_project_root()
    if root is None or not (root / "template.yaml").is_file():
        raise InputError(
            f"no template.yaml in {root or 'this folder or its parents'}",
            hint="run fmops local up in the fmops project folder, or pass --project-root DIR",
        )
    try:
        from fmops_local import run_foreground
    except ImportError as error:
        raise CliError(
            f"the local cloud is not installed ({error})",
            hint="install fmops with its development extras, e.g. pip install -e '.[dev]' in the project folder",
        ) from error
    run_foreground(root.resolve(), args.port)
    return EXIT_OK


def run_local_demo(args: argparse.Namespace) -> int:
    from fmops_cli import demo

    root = args.project_root or demo.project_root()
    if not (root / "template.yaml").is_file():
        raise InputError(
            f"no template.yaml in {root}", hint="run it in the fmops project folder, or pass --project-root"
        )
    return demo.run(root.resolve(), interactive=args.interactive)


def _write_bytes(data: bytes) -> None:
    """Write bytes to stdout unchanged (whatever the terminal's encoding), e.g. the manifest of a dry run."""
    sys.stdout.flush()
    binary = getattr(sys.stdout, "buffer", None)
    if binary is None:
        sys.stdout.write(data.decode("utf-8"))
    else:
        binary.write(data)
        binary.flush()


def _catalog(connection: Any, table: str | None, dynamodb: Any = None) -> Any:
    from fmops.adapters.dynamodb import DynamoCatalog

    if not table:
        return None
    return DynamoCatalog(table, dynamodb=dynamodb or connection.client("dynamodb"))


def _status_flags(args: argparse.Namespace, resolved: Any) -> str:
    """Flags `fmops status` needs to find the same control plane as this submit."""
    table = f"--catalog-table {args.catalog_table or 'TABLE'}"
    return _connection_flags(args, resolved, [table, "--audit-table TABLE"])


def _connection_flags(args: argparse.Namespace, resolved: Any, without_source: list[str]) -> str:
    """The connection flags of this command, for a suggested next command; `without_source` when neither
    a stack nor the local cloud named the resources."""
    flags = []
    for name in ("stack", "profile", "region", "endpoint_url"):
        value = getattr(args, name)
        if value:
            flags.append(f"--{name.replace('_', '-')} {value}")
    if not args.stack and resolved.local is None:
        flags.extend(without_source)
    return "".join(f" {flag}" for flag in flags)


if __name__ == "__main__":
    raise SystemExit(main())
