from typing import Any

import pytest

from fmops.approvals.directory import (
    ApproverDirectoryInvalid,
    assert_quorum_reachable,
    parse_directory,
    quorum_reachable,
)
from fmops.approvals.rules import ApprovalRulesInvalid
from fmops.gate.policy import Stage

from tests.unit.approvals.builders import (
    SUBMITTER,
    directory,
    directory_document,
    encode,
    person,
    rules,
    shipped,
)


def problems_of(raw: bytes) -> list[tuple[str, str]]:
    with pytest.raises(ApproverDirectoryInvalid) as caught:
        parse_directory(raw)
    return [(problem.path, problem.message) for problem in caught.value.problems]


# ------------------------------------------------------------------------------ the shipped example


def test_the_shipped_directory_parses_and_its_quorums_are_reachable() -> None:
    # Given the example rules and directory shipped in approvals/
    example_rules, example_directory = shipped()

    # Then every stage can reach its quorum with the people listed
    assert quorum_reachable(example_rules, example_directory) == []
    assert_quorum_reachable(example_rules, example_directory)


def test_the_demo_submitter_is_known_but_approves_nothing() -> None:
    example_rules, example_directory = shipped()

    demo = example_directory.by_id("demo.user")

    assert demo is not None and demo.email == "demo.user@example.com" and demo.groups == []
    for stage in Stage:
        assert demo not in example_directory.eligible(example_rules.rule_for(stage), "someone.else", ())


# ------------------------------------------------------------------------------ lookups


def test_people_are_found_by_id_by_email_in_any_case_and_by_slack_id() -> None:
    # Given a directory with one person reachable on Slack and one only by e-mail
    people = directory(person("ana.ortiz", "reviewers", slack_user_id="U0ANA"), person("ben.okafor", "reviewers"))

    # Then each lookup finds the same person, and unknown keys find nobody
    ana = people.by_id("ana.ortiz")
    assert ana is not None
    assert people.by_email("Ana.Ortiz@EXAMPLE.com") == ana
    assert people.by_slack_user_id("U0ANA") == ana
    assert people.by_id("Ana.Ortiz") is None  # ids are lower-case by construction, not folded at lookup
    assert people.by_email("nobody@example.com") is None
    assert people.by_slack_user_id("U0BEN") is None


# ------------------------------------------------------------------------------ eligibility


def test_eligible_are_the_groups_members_minus_the_submitter() -> None:
    # Given reviewers, one of whom submitted the version, and someone in another group
    people = directory(person("ana", "reviewers"), person("ben", "reviewers"), person("cid", "finance"))
    rule = rules().rule_for(Stage.DEV)

    # When eligibility is asked for a version ana submitted
    eligible = [a.id for a in people.eligible(rule, "ana", ())]

    # Then only ben may decide
    assert eligible == ["ben"]


def test_the_submitter_is_recognised_by_email_and_in_any_case() -> None:
    people = directory(person("ana", "reviewers", email="ana@example.com"), person("ben", "reviewers"))
    rule = rules().rule_for(Stage.DEV)

    assert [a.id for a in people.eligible(rule, "ANA", ())] == ["ben"]
    assert [a.id for a in people.eligible(rule, "a.ortiz", (), submitter_email="Ana@Example.com")] == ["ben"]


def test_earlier_approvers_are_excluded_only_when_the_rule_says_so() -> None:
    # Given two reviewers, one of whom approved an earlier stage
    people = directory(person("ana", "reviewers"), person("ben", "reviewers"))
    separated = rules(prod={"separation_of_duties": {"submitter": True, "earlier_stages": True}})
    not_separated = rules()

    # Then a separating rule leaves only the other reviewer, a non-separating one leaves both
    assert [a.id for a in people.eligible(separated.rule_for(Stage.PROD), SUBMITTER, ["ana"])] == ["ben"]
    assert [a.id for a in people.eligible(not_separated.rule_for(Stage.PROD), SUBMITTER, ["ana"])] == ["ana", "ben"]


def test_the_escalation_group_is_eligible_only_once_escalated() -> None:
    people = directory(person("ana", "reviewers"), person("fay", "fallback"))
    rule = rules(prod={"escalation": {"after": "P1D", "group": "fallback"}}).rule_for(Stage.PROD)

    assert [a.id for a in people.eligible(rule, SUBMITTER, ())] == ["ana"]
    assert [a.id for a in people.eligible(rule, SUBMITTER, (), escalated=True)] == ["ana", "fay"]


# ------------------------------------------------------------------------------ quorum reachability


def test_a_quorum_larger_than_the_groups_is_reported() -> None:
    # Given prod needs two reviewers and the directory holds one
    people = directory(person("ana", "reviewers"))

    # When reachability is checked
    problems = quorum_reachable(rules(prod={"quorum": 2}), people)

    # Then prod's quorum is reported at its path in the rules file
    assert [(p.path, p.message) for p in problems] == [
        ("$.stages.prod.quorum", "quorum 2 cannot be reached: groups reviewers can supply at most 1 eligible approver")
    ]
    with pytest.raises(ApprovalRulesInvalid):
        assert_quorum_reachable(rules(prod={"quorum": 2}), people)


def test_worst_case_earlier_approvers_are_subtracted_when_stages_are_separated() -> None:
    # Given three reviewers for every stage, and prod needs two who approved no earlier stage
    people = directory(person("ana", "reviewers"), person("ben", "reviewers"), person("cid", "reviewers"))
    separated = {"quorum": 2, "separation_of_duties": {"submitter": True, "earlier_stages": True}}

    # When dev and preprod each took one reviewer (worst case: two different people)
    problems = quorum_reachable(rules(prod=separated), people)

    # Then only one reviewer is left for prod's quorum of two
    assert [(p.path, p.message) for p in problems] == [
        (
            "$.stages.prod.quorum",
            "quorum 2 cannot be reached: groups reviewers can supply at most 1 eligible approver "
            "(2 may have approved an earlier stage)",
        )
    ]
    # And with a fourth reviewer it is reachable
    assert (
        quorum_reachable(
            rules(prod=separated), directory(*people.model_dump()["approvers"], person("dee", "reviewers"))
        )
        == []
    )


def test_empty_groups_and_escalation_groups_are_reported() -> None:
    # Given prod names a misspelt group beside a real one and escalates to a group nobody is in
    people = directory(person("ana", "reviewers"))
    prod = {"groups": ["reviewers", "reviewrs"], "escalation": {"after": "P1D", "group": "fallback"}}

    problems = quorum_reachable(rules(prod=prod), people)

    assert [(p.path, p.message) for p in problems] == [
        ("$.stages.prod.groups[1]", "nobody is in group 'reviewrs'"),
        ("$.stages.prod.escalation.group", "nobody is in group 'fallback'"),
    ]


# ------------------------------------------------------------------------------ invalid directories


@pytest.mark.parametrize(
    ("people", "path", "message"),
    [
        pytest.param(
            [person("ana"), person("ana", email="other@example.com")],
            "$.approvers[1].id",
            "id 'ana' is already used by $.approvers[0]",
            id="duplicate-id",
        ),
        pytest.param(
            [person("ana"), person("ben", email="ANA@example.com")],
            "$.approvers[1].email",
            "e-mail 'ANA@example.com' is already used by $.approvers[0]",
            id="duplicate-email-any-case",
        ),
        pytest.param(
            [person("ana", slack_user_id="U0ANA"), person("ben"), person("cid", slack_user_id="U0ANA")],
            "$.approvers[2].slack_user_id",
            "Slack user id 'U0ANA' is already used by $.approvers[0]",
            id="duplicate-slack-id",
        ),
        pytest.param([person("ana", nickname="A")], "$.approvers[0].nickname", "unknown key 'nickname'", id="unknown"),
        pytest.param([person("Ana")], "$.approvers[0].id", "should match pattern", id="upper-case-id"),
        pytest.param([person("ana", email="ana")], "$.approvers[0].email", "should match pattern", id="bad-email"),
        pytest.param(
            [person("ana", slack_user_id="ana")], "$.approvers[0].slack_user_id", "should match pattern", id="bad-slack"
        ),
        pytest.param([person("ana", display_name="")], "$.approvers[0].display_name", "at least 1", id="no-name"),
        pytest.param(
            [person("ana", "reviewers", "reviewers")],
            "$.approvers[0].groups",
            "groups listed more than once: reviewers",
            id="group-twice",
        ),
        pytest.param([person("ana", "Reviewers")], "$.approvers[0].groups[0]", "should match pattern", id="bad-group"),
        pytest.param([{"id": "ana"}], "$.approvers[0].email", "required key is missing", id="missing-email"),
    ],
)
def test_each_directory_problem_is_reported_at_its_path(people: list[dict[str, Any]], path: str, message: str) -> None:
    problems = problems_of(encode(directory_document(*people)))

    assert any(p == path and message in m for p, m in problems), problems


def test_directory_file_level_problems() -> None:
    assert problems_of(encode({"schema_version": "1", "approvers": [], "owner": "x"})) == [
        ("$.owner", "unknown key 'owner'")
    ]
    assert problems_of(b'{"schema_version": "1", "approvers": [], "approvers": []}') == [
        ("$.approvers", "'approvers' appears more than once in this object")
    ]
    assert problems_of(b"null") == [("$", "the file must hold a JSON object")]
