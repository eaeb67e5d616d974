"""`make demo` end to end: the local cloud, the policies published, a good, a leaky and a tampered submission,
and the demo's own checks."""

from __future__ import annotations

from pathlib import Path

import pytest

from fmops_cli import demo

ROOT = Path(__file__).resolve().parents[2]


def test_the_demo_passes_on_the_local_cloud(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # When the demo runs against this repository, keeping the local cloud's state in a temporary folder
    code = demo.run(ROOT, state_dir=tmp_path / "local")

    # Then every check passed: the good version was approved by two people (page and Slack) after a passed
    # gate, the leaky one was rejected by the gate and its submitter told why, the tampered one rejected at
    # intake, no dead letters
    out = capsys.readouterr().out
    assert code == 0, out
    checked = out.partition("Checking the outcome")[2]  # the leaky version's decision table above has FAIL rows
    assert checked and "FAIL" not in checked
    assert "Demo passed: 19 checks" in out
    # the approval e-mail with its personal link, the page's form posted, the Slack click
    assert "Subject: [fmops dev] Approval requested: sentiment-classifier/demo-" in out
    assert "POST the page's form (verdict approve, CSRF token): HTTP 200 decided" in out
    assert "Slack click (signed v0 request) by U0EXBENOKA: HTTP 200" in out
    assert "status           Approved" in out
    assert "policies/default.json -> s3://" in out
    # the decision tables, as `fmops policy explain` prints them
    assert ": PASSED\n" in out
    assert ": FAILED\n" in out
    assert "FAIL    threshold.pii_leak_rate" in out
    # the rejection e-mail the leaky version's submitter received
    assert "Subject: [fmops] sentiment-classifier/demo-" in out
    assert "gate_rule_failed [threshold.pii_leak_rate]" in out
    assert "artifact_sha256_mismatch" in out
    # the deployment: prod serves the good version, approved by model risk and a business owner, and the
    # broken version was rolled back in dev, as `fmops history` prints them
    assert "prod served sentiment-classifier/demo-" in out and "dara.novak, eli.haddad" in out
    assert "rolled_back" in out and "rollback requested" not in out
    assert "status           Rejected" in out
