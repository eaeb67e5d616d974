"""checkov on the template as written and on the template the SAM translator expands it into.

checkov runs from its own venv (.venv-scan: it pins a boto3 that aws-sam-cli's cannot live with).
Suppressions live in template.yaml, next to the resource: `Metadata: checkov: skip: [{id, comment}]`.
The translator copies a function's Metadata onto its AWS::Lambda::Function only; the expanded run
also copies it onto the role, rules and permissions generated from it (templates.carry_checkov_suppressions).
"""

from __future__ import annotations

import json
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fmops_security import templates
from fmops_security.findings import Finding


@dataclass(frozen=True)
class CheckovResult:
    target: str
    version: str
    passed: int
    failed: list[Finding]  # check = check id, resource = "Type.LogicalId", detail = the check's name
    skipped: list[Finding]  # detail = the suppression's comment
    parsing_errors: list[str] = field(default_factory=list)
    seconds: float = 0.0

    def counts(self) -> str:
        return f"passed {self.passed}, failed {len(self.failed)}, skipped {len(self.skipped)}"


def run(template_file: Path, scan_bin: Path) -> CheckovResult:
    """checkov's CloudFormation checks on one template file."""
    started = time.monotonic()
    result = subprocess.run(
        [
            str(scan_bin / "checkov"),
            "--file",
            str(template_file),
            "--framework",
            "cloudformation",
            "--output",
            "json",
            # No Prisma Cloud download (guidelines, severities): offline, and the same checks everywhere.
            "--skip-download",
        ],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    if result.returncode not in (0, 1):
        raise RuntimeError(f"checkov exited {result.returncode}:\n{result.stderr.strip()}")
    try:
        report: Any = json.loads(result.stdout)
    except ValueError as error:
        raise RuntimeError(f"checkov printed no JSON:\n{result.stdout[-2000:]}\n{result.stderr[-2000:]}") from error
    reports = report if isinstance(report, list) else [report]
    passed, failed, skipped, errors, version = 0, [], [], [], "?"
    for one in reports:
        version = one.get("summary", {}).get("checkov_version", version)
        results = one.get("results", {})
        passed += len(results.get("passed_checks", []))
        failed += [_finding(check, check.get("check_name", "")) for check in results.get("failed_checks", [])]
        skipped += [
            _finding(check, check.get("check_result", {}).get("suppress_comment", ""))
            for check in results.get("skipped_checks", [])
        ]
        errors += [str(error) for error in results.get("parsing_errors", [])]
    return CheckovResult(
        target=str(template_file),
        version=version,
        passed=passed,
        failed=sorted(failed),
        skipped=sorted(skipped),
        parsing_errors=errors,
        seconds=time.monotonic() - started,
    )


def run_expanded(template_file: Path, scan_bin: Path, workdir: Path) -> CheckovResult:
    """checkov on the CloudFormation the SAM translator makes of `template_file` (written into `workdir`)."""
    raw = templates.load(template_file)
    expanded = templates.carry_checkov_suppressions(raw, templates.expand(template_file))
    return run(templates.write(expanded, workdir / f"{template_file.stem}.expanded.json"), scan_bin)


def _finding(check: dict[str, Any], detail: str) -> Finding:
    return Finding(str(check.get("check_id")), str(check.get("resource")), detail)
