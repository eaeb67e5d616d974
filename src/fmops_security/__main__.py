"""`python -m fmops_security` (`make scan`): every security check on template.yaml and the repository, as a report.

Exits 1 when any check has a finding. The same checks run in `make test` (tests/security).
"""

from __future__ import annotations

import argparse
import logging
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from fmops_security import apis, checkov, environment, iam, resource_policies, secrets, templates
from fmops_security.findings import Finding

TEMPLATE_CHECKS: dict[str, Callable[[dict[str, Any]], list[Finding]]] = {
    "IAM policies are readable": iam.unreadable_policies,
    "(a) no wildcard actions": iam.wildcard_actions,
    '(b) no Resource "*" but for unscopable actions': iam.unscoped_resources,
    "(c) the audit writer only appends to the audit table": iam.audit_writer_is_append_only,
    "(d) only the callback functions send task results": iam.send_task_only_in_callbacks,
    "(e) no secrets in function environments": environment.secrets_in_environment,
    "(f) APIs: IAM auth, throttling, access logs": apis.api_access,
    "no resource policy open to everyone": resource_policies.public_resource_policies,
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m fmops_security", description=__doc__)
    parser.add_argument("--repo", type=Path, default=Path.cwd(), help="repository root (default: .)")
    parser.add_argument("--template", type=Path, help="template to check (default: REPO/template.yaml)")
    parser.add_argument("--scan-bin", type=Path, help="bin directory of the scan venv (default: REPO/.venv-scan/bin)")
    args = parser.parse_args(argv)
    # The SAM translator warns at exit about usage metrics it never publishes (offline translation).
    logging.getLogger("samtranslator.metrics.metrics").setLevel(logging.ERROR)
    repo = args.repo.resolve()
    template = (args.template or repo / "template.yaml").resolve()
    scan_bin = (args.scan_bin or repo / ".venv-scan" / "bin").resolve()
    failed = False

    with tempfile.TemporaryDirectory() as scratch:
        for label, run in (
            ("checkov, template as written", lambda: checkov.run(template, scan_bin)),
            (
                "checkov, template expanded by the SAM translator",
                lambda: checkov.run_expanded(template, scan_bin, Path(scratch)),
            ),
        ):
            result = run()
            _heading(f"{label} (checkov {result.version}): {result.counts()} [{result.seconds:.1f} s]")
            for finding in result.failed:
                print(f"  FAILED  {finding.check}  {finding.resource}  {finding.detail}")
            for finding in result.skipped:
                print(f"  skipped {finding.check}  {finding.resource}  ({finding.detail})")
            for error in result.parsing_errors:
                print(f"  PARSING ERROR {error}")
            failed |= bool(result.failed or result.parsing_errors)

    started = time.monotonic()
    expanded = templates.expand(template)
    _heading(f"template policy checks (expanded in {time.monotonic() - started:.1f} s)")
    for label, check in TEMPLATE_CHECKS.items():
        findings = check(expanded)
        print(f"  {'FAILED' if findings else 'ok    '}  {label}")
        for finding in sorted(findings):
            print(f"          {finding.resource}: {finding.detail}")
        failed |= bool(findings)

    scanned = secrets.scan(repo, secrets.repository_files(repo), scan_bin)
    _heading(
        f"secrets (detect-secrets, {len(scanned.files)} files): {len(scanned.findings)} found [{scanned.seconds:.1f} s]"
    )
    for finding in scanned.findings:
        print(f"  FAILED  {finding.resource}  {finding.detail}")
    failed |= bool(scanned.findings)

    print("\nmake scan: " + ("FAILED" if failed else "no findings"))
    return 1 if failed else 0


def _heading(text: str) -> None:
    print(f"\n==> {text}")


if __name__ == "__main__":
    sys.exit(main())
