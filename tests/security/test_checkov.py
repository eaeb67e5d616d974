"""checkov on template.yaml as written and as the SAM translator expands it: no unsuppressed finding,
and every suppression says why, next to its resource in template.yaml."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from fmops_security import checkov, templates
from fmops_security.checkov import CheckovResult
from fmops_security.findings import explain

pytestmark = pytest.mark.slow

# What checkov writes when a skip has no comment.
_NO_COMMENT = {"", "No comment provided"}


@pytest.fixture(scope="module")
def as_written(template_path: Path, scan_bin: Path) -> CheckovResult:
    return checkov.run(template_path, scan_bin)


@pytest.fixture(scope="module")
def expanded(template_path: Path, scan_bin: Path, tmp_path_factory: pytest.TempPathFactory) -> CheckovResult:
    return checkov.run_expanded(template_path, scan_bin, tmp_path_factory.mktemp("checkov"))


@pytest.mark.parametrize("run", ["as_written", "expanded"])
def test_checkov_finds_nothing(run: str, request: pytest.FixtureRequest) -> None:
    # Given the template (as written, or expanded into the roles, rules and permissions sam deploy creates)
    result: CheckovResult = request.getfixturevalue(run)
    # Then checkov parsed it, ran its checks, and none failed
    assert not result.parsing_errors, result.parsing_errors
    assert result.passed > 0, f"checkov checked nothing in {result.target}"
    assert not result.failed, (
        f"checkov {result.version} on {result.target}: {result.counts()}\n{explain(result.failed)}"
    )


@pytest.mark.parametrize("run", ["as_written", "expanded"])
def test_every_checkov_suppression_gives_its_reason(run: str, request: pytest.FixtureRequest) -> None:
    result: CheckovResult = request.getfixturevalue(run)
    unexplained = [finding for finding in result.skipped if finding.detail.strip() in _NO_COMMENT]
    assert not unexplained, "suppressions without a comment:\n" + explain(unexplained)


def test_suppressions_on_a_sam_resource_reach_what_the_translator_generates_from_it() -> None:
    # Given a SAM function suppressing a check, and its expansion (the translator copies Metadata to the function only)
    skip = {"id": "CKV_AWS_111", "comment": "why"}
    raw: dict[str, Any] = {
        "Resources": {
            "Fn": {"Type": "AWS::Serverless::Function", "Metadata": {"checkov": {"skip": [skip]}}},
            "FnAlarm": {"Type": "AWS::CloudWatch::Alarm"},
        }
    }
    expanded: dict[str, Any] = {
        "Resources": {
            "Fn": {"Type": "AWS::Lambda::Function", "Metadata": {"checkov": {"skip": [skip]}}},
            "FnRole": {"Type": "AWS::IAM::Role"},
            "FnAlarm": {"Type": "AWS::CloudWatch::Alarm"},
        }
    }
    # When the suppressions are carried
    carried = templates.carry_checkov_suppressions(raw, expanded)["Resources"]
    # Then the generated role has the function's suppression, and a resource written in the template keeps its own
    assert carried["FnRole"]["Metadata"]["checkov"]["skip"] == [skip]
    assert "Metadata" not in carried["FnAlarm"]
    assert carried["Fn"]["Metadata"]["checkov"]["skip"] == [skip]
