import json
from datetime import timedelta
from typing import Any

import pytest

from fmops.approvals.rules import (
    MAX_RULES_BYTES,
    ApprovalRulesInvalid,
    Escalation,
    parse_duration,
    parse_rules,
)
from fmops.errors import FmopsError
from fmops.gate.policy import Stage

from tests.unit.approvals.builders import APPROVALS_DIR, encode, rules_document, stage_rule


def problems_of(raw: bytes) -> list[tuple[str, str]]:
    with pytest.raises(ApprovalRulesInvalid) as caught:
        parse_rules(raw)
    return [(problem.path, problem.message) for problem in caught.value.problems]


def with_prod(**overrides: Any) -> bytes:
    return encode(rules_document(prod=overrides))


# ------------------------------------------------------------------------------ valid rules


def test_the_shipped_rules_parse_and_match_their_intent() -> None:
    # Given the example rules shipped in approvals/
    raw = (APPROVALS_DIR / "rules.json").read_bytes()

    # When they are parsed
    rules = parse_rules(raw)

    # Then dev (release to deployment) needs two of ML engineers and leads, preprod one ML lead, prod two of
    # model risk and business owners
    dev, preprod, prod = (rules.rule_for(stage) for stage in Stage)
    assert (dev.groups, dev.quorum) == (["ml-engineers", "ml-leads"], 2)
    assert (preprod.groups, preprod.quorum) == (["ml-leads"], 1)
    assert (prod.groups, prod.quorum) == (["model-risk", "business-owners"], 2)
    # And prod keeps earlier-stage approvers out, expires in five days and fails closed
    assert prod.separation_of_duties.earlier_stages and not dev.separation_of_duties.earlier_stages
    assert prod.expires_after == timedelta(days=5)
    assert prod.reminders == [timedelta(days=2), timedelta(hours=12)]
    assert prod.escalation == Escalation(after=timedelta(days=3), group="release-managers")
    assert all(rules.rule_for(stage).on_timeout == "reject" for stage in Stage)


def test_defaults_keep_the_submitter_out_and_fail_closed() -> None:
    # Given a stage rule stating only its groups, quorum and expiry
    document = rules_document()
    document["stages"]["prod"] = {"groups": ["reviewers"], "quorum": 1, "expires_after": 3600}

    # When it is parsed
    rule = parse_rules(encode(document)).rule_for(Stage.PROD)

    # Then the submitter is separated, earlier stages are not, there are no timers and timeout rejects
    assert rule.separation_of_duties.submitter is True
    assert rule.separation_of_duties.earlier_stages is False
    assert rule.expires_after == timedelta(hours=1)
    assert rule.reminders == [] and rule.escalation is None
    assert rule.on_timeout == "reject"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("P2D", timedelta(days=2)),
        ("PT4H", timedelta(hours=4)),
        ("P1DT12H", timedelta(days=1, hours=12)),
        ("PT30M", timedelta(minutes=30)),
        ("PT90S", timedelta(seconds=90)),
        ("P1W", timedelta(weeks=1)),
        (86400, timedelta(days=1)),
    ],
)
def test_durations_are_iso_8601_or_seconds(text: Any, expected: timedelta) -> None:
    assert parse_duration(text) == expected


@pytest.mark.parametrize("text", ["P", "PT", "P1DT", "P1M", "P1Y", "2 days", "PT1.5H", "p2d", True, 1.5, None])
def test_anything_else_is_not_a_duration(text: Any) -> None:
    with pytest.raises(ValueError, match="is not a duration"):
        parse_duration(text)


# ------------------------------------------------------------------------------ invalid rules


@pytest.mark.parametrize(
    ("raw", "path", "message"),
    [
        pytest.param(with_prod(colour="blue"), "$.stages.prod.colour", "unknown key 'colour'", id="unknown-key"),
        pytest.param(with_prod(groups=[]), "$.stages.prod.groups", "at least 1 item", id="no-groups"),
        pytest.param(
            with_prod(groups=["model-risk", "model-risk"]),
            "$.stages.prod.groups",
            "groups listed more than once: model-risk",
            id="group-twice",
        ),
        pytest.param(
            with_prod(groups=["Model-Risk"]), "$.stages.prod.groups[0]", "should match pattern", id="bad-group"
        ),
        pytest.param(with_prod(quorum=0), "$.stages.prod.quorum", "must be >= 1, got 0", id="quorum-zero"),
        pytest.param(with_prod(quorum=11), "$.stages.prod.quorum", "must be <= 10, got 11", id="quorum-too-large"),
        pytest.param(with_prod(quorum="2"), "$.stages.prod.quorum", "valid integer", id="quorum-as-string"),
        pytest.param(
            with_prod(separation_of_duties={"submitter": False}),
            "$.stages.prod.separation_of_duties.submitter",
            "the submitter can never approve their own version: this cannot be switched off",
            id="submitter-separation-off",
        ),
        pytest.param(
            with_prod(separation_of_duties={"earlier_stages": "yes"}),  # pydantic's lax mode would accept it
            "$.stages.prod.separation_of_duties.earlier_stages",
            "valid boolean",
            id="earlier-stages-not-boolean",
        ),
        pytest.param(
            with_prod(separation_of_duties={"submitter": True, "others": True}),
            "$.stages.prod.separation_of_duties.others",
            "unknown key 'others'",
            id="unknown-separation-key",
        ),
        pytest.param(with_prod(expires_after="P2M"), "$.stages.prod.expires_after", "is not a duration", id="months"),
        pytest.param(
            with_prod(expires_after=59, reminders=[]),
            "$.stages.prod.expires_after",
            "must lie between 1m and 30d, got 59s",
            id="expiry-too-short",
        ),
        pytest.param(
            with_prod(expires_after="P31D"),
            "$.stages.prod.expires_after",
            "must lie between 1m and 30d, got 31d",
            id="expiry-too-long",
        ),
        pytest.param(
            with_prod(expires_after="P2D", reminders=["P2D"]),
            "$.stages.prod.reminders[0]",
            "must be > 0 and shorter than expires_after (2d), got 2d",
            id="reminder-at-request-time",
        ),
        pytest.param(
            with_prod(reminders=["PT4H", 0]),
            "$.stages.prod.reminders[1]",
            "must be > 0 and shorter than expires_after (2d), got 0s",
            id="reminder-at-expiry",
        ),
        pytest.param(
            with_prod(reminders=["PT4H", 14400]),
            "$.stages.prod.reminders[1]",
            "reminder 4h is listed twice",
            id="reminder-twice",
        ),
        pytest.param(
            with_prod(reminders=["soon"]), "$.stages.prod.reminders[0]", "is not a duration", id="reminder-not-duration"
        ),
        pytest.param(
            with_prod(escalation={"after": "P2D", "group": "fallback"}),
            "$.stages.prod.escalation.after",
            "escalation must come after the request and before expiry (2d), got 2d",
            id="escalation-at-expiry",
        ),
        pytest.param(
            with_prod(escalation={"after": "P1D", "group": "reviewers"}),
            "$.stages.prod.escalation.group",
            "'reviewers' already approves this stage: escalate to another group",
            id="escalation-to-own-group",
        ),
        pytest.param(
            with_prod(escalation={"after": "P1D"}),
            "$.stages.prod.escalation.group",
            "required key is missing",
            id="escalation-without-group",
        ),
        pytest.param(
            with_prod(on_timeout="approve"),
            "$.stages.prod.on_timeout",
            "unknown value \"approve\": expected 'reject'",
            id="timeout-approves",
        ),
        pytest.param(
            encode({**rules_document(), "schema_version": "2"}),
            "$.schema_version",
            "unknown value \"2\": expected '1'",
            id="schema-version",
        ),
        pytest.param(
            encode({"schema_version": "1", "stages": {**rules_document()["stages"], "qa": stage_rule()}}),
            "$.stages.qa",
            "unknown value \"qa\": expected 'dev', 'preprod' or 'prod'",
            id="unknown-stage",
        ),
        pytest.param(
            encode({"schema_version": "1", "stages": {"dev": stage_rule(), "preprod": stage_rule()}}),
            "$.stages.prod",
            "every stage needs a rule",
            id="stage-without-rule",
        ),
        pytest.param(
            b'{"schema_version": "1", "schema_version": "1", "stages": {}}',
            "$.schema_version",
            "'schema_version' appears more than once in this object",
            id="duplicate-key",
        ),
        pytest.param(b"[]", "$", "the file must hold a JSON object", id="not-an-object"),
        pytest.param(b"{", "$", "file is not valid JSON", id="not-json"),
        pytest.param(b'{"quorum": NaN}', "$", "NaN is not a number", id="nan"),
        pytest.param(b"\xff\xfe", "$", "file is not UTF-8", id="not-utf8"),
    ],
)
def test_each_problem_is_reported_at_its_path(raw: bytes, path: str, message: str) -> None:
    # When an invalid rules file is parsed
    problems = problems_of(raw)

    # Then the problem names the offending value's path
    assert any(p == path and message in m for p, m in problems), problems


def test_every_problem_is_reported_at_once() -> None:
    # Given a file with problems in two stages
    document = rules_document(dev={"quorum": 0}, prod={"on_timeout": "approve", "groups": []})

    # When it is parsed
    paths = [path for path, _ in problems_of(encode(document))]

    # Then each problem is listed, not just the first
    assert paths == ["$.stages.dev.quorum", "$.stages.prod.groups", "$.stages.prod.on_timeout"]


def test_timing_problems_are_all_reported_once_the_shape_is_valid() -> None:
    # Given a well-formed rule whose expiry, reminders and escalation do not fit together
    raw = with_prod(expires_after=30, reminders=["PT1H", "PT1H"], escalation={"after": "PT2H", "group": "fallback"})

    # When it is parsed
    paths = [path for path, _ in problems_of(raw)]

    # Then each timing problem has its own path
    assert paths == [
        "$.stages.prod.expires_after",
        "$.stages.prod.reminders[0]",
        "$.stages.prod.reminders[1]",
        "$.stages.prod.escalation.after",
    ]


def test_an_oversized_file_is_refused_before_parsing() -> None:
    raw = json.dumps({"padding": " " * MAX_RULES_BYTES}).encode()

    assert problems_of(raw) == [("$", f"file exceeds {MAX_RULES_BYTES} bytes")]


def test_the_error_is_a_typed_domain_error_listing_every_problem() -> None:
    with pytest.raises(ApprovalRulesInvalid) as caught:
        parse_rules(with_prod(quorum=0, on_timeout="approve"))

    assert isinstance(caught.value, FmopsError)
    assert str(caught.value).startswith("invalid approval rules (2 problems):")
    assert "$.stages.prod.quorum: must be >= 1, got 0" in str(caught.value)
