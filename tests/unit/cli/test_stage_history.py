"""`fmops history` and `fmops rollback`: the answer for a moment, and which version a rollback goes back to."""

from __future__ import annotations

import argparse
from datetime import UTC, datetime

import pytest

from fmops.gate.policy import Stage
from fmops_cli.errors import CliError, InputError
from fmops_cli.stage_history import choose_rollback, history_document, parse_moment, render_history

from tests.unit.deployment.test_history import GROUP, STORY, V1, at


def test_history_at_a_moment_names_the_version_its_approvers_evidence_and_digest() -> None:
    # When an auditor asks what served prod on 2 March at noon (after the automatic rollback)
    document = history_document(STORY, GROUP, Stage.PROD, at(2, 12))

    # Then it is 1.0.0 again, since the rollback finished, under 1.0.0's approval and evidence
    serving = document["serving"]
    assert serving["version_id"] == f"{GROUP}/1.0.0" and serving["kind"] == "rollback"
    assert serving["since"] == at(2, 10, 25).isoformat()
    assert serving["approved_by"] == ["ana.ortiz", "ben.okafor"] and serving["approval_id"] == "approval-1.0.0-prod"
    assert serving["artifact_sha256"] == V1.artifact_sha256 and document["timeline"] is None
    text = render_history(document)
    assert f"prod served {GROUP}/1.0.0" in text and "approved by  ana.ortiz, ben.okafor" in text


def test_history_before_the_first_deployment_says_nothing_served() -> None:
    text = render_history(history_document(STORY, GROUP, Stage.PROD, at(1, 8)))
    assert "nothing fmops deployed was serving" in text


def test_history_without_a_moment_lists_every_deployment_with_its_reason() -> None:
    text = render_history(history_document(STORY, GROUP, Stage.PROD, None))
    assert text.count(f"{GROUP}/") >= 5 and "rolled_back" in text and "AccessDenied on AssumeRole" in text


@pytest.mark.parametrize("moment", ["2026-03-03", "2026-03-03T14:00:00", "2026-03-03T14:00:00Z"])
def test_a_moment_without_a_zone_is_utc(moment: str) -> None:
    assert parse_moment(moment).tzinfo is not None
    assert parse_moment(moment).astimezone(UTC).date().isoformat() == "2026-03-03"


def test_a_moment_that_is_not_iso_8601_is_a_usage_error() -> None:
    with pytest.raises(argparse.ArgumentTypeError, match="ISO-8601"):
        parse_moment("3 March")


def test_a_rollback_goes_back_to_the_last_approved_version_that_served() -> None:
    # Given 4.0.0 serving prod (1.0.0 before it; 2.0.0 was rolled back, 3.0.0 failed)
    assert choose_rollback(STORY, GROUP, Stage.PROD, None, at(5, 0)) == (f"{GROUP}/4.0.0", f"{GROUP}/1.0.0")


def test_a_rollback_to_a_named_version_that_served_there_is_accepted() -> None:
    assert choose_rollback(STORY, GROUP, Stage.PROD, f"{GROUP}/1.0.0", at(5, 0))[1] == f"{GROUP}/1.0.0"


@pytest.mark.parametrize(
    ("to", "message"),
    [
        (f"{GROUP}/4.0.0", "nothing to roll back"),
        (f"{GROUP}/3.0.0", "never served"),
        (f"{GROUP}/9.9.9", "never served"),
    ],
)
def test_a_rollback_to_what_serves_or_to_what_never_served_is_refused(to: str, message: str) -> None:
    with pytest.raises(InputError, match=message):
        choose_rollback(STORY, GROUP, Stage.PROD, to, at(5, 0))


def test_a_rollback_of_a_stage_that_serves_nothing_is_refused() -> None:
    with pytest.raises(CliError, match="nothing to roll back"):
        choose_rollback(STORY, GROUP, Stage.DEV, None, datetime.now(UTC))


def test_a_rollback_with_nothing_earlier_to_go_back_to_is_refused() -> None:
    with pytest.raises(CliError, match="no earlier approved version"):
        choose_rollback([V1], GROUP, Stage.PROD, None, at(5, 0))
