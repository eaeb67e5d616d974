from datetime import datetime, timedelta

import pytest

from fmops.approvals.engine import (
    Accepted,
    Channel,
    DecisionOutcome,
    QuorumUnreachable,
    Refusal,
    RefusalCode,
    StageApproval,
    StageOutcome,
    Verdict,
    decide,
    due_reminders,
    escalated,
    escalation_due,
    expire,
    open_stage,
    reminded,
)
from fmops.gate.policy import Stage

from tests.unit.approvals.builders import REQUESTED_AT, SUBMITTER, TEAM, directory, person, shipped, stage

SOON = REQUESTED_AT + timedelta(hours=1)
EXPIRES_AT = REQUESTED_AT + timedelta(days=2)  # stage_rule()'s expires_after
SEPARATED = {"submitter": True, "earlier_stages": True}


def approve(state: StageApproval, who: str, at: datetime = SOON, reason: str | None = None) -> DecisionOutcome:
    return decide(state, who, Verdict.APPROVE, reason, Channel.EMAIL, at, directory=TEAM)


def reject(state: StageApproval, who: str, reason: str | None, at: datetime = SOON) -> DecisionOutcome:
    return decide(state, who, Verdict.REJECT, reason, Channel.SLACK, at, directory=TEAM)


def accepted(outcome: DecisionOutcome) -> Accepted:
    assert isinstance(outcome, Accepted), outcome
    return outcome


def refused(outcome: DecisionOutcome, code: RefusalCode) -> Refusal:
    assert isinstance(outcome, Refusal), outcome
    assert outcome.code is code, outcome.message
    return outcome


# ------------------------------------------------------------------------------ opening a stage


def test_a_stage_opens_pending_and_expires_after_its_rule() -> None:
    state = stage(expires_after="P2D")

    assert state.outcome is StageOutcome.PENDING and state.decisions == ()
    assert state.expires_at == EXPIRES_AT
    assert state.approvals == 0


def test_a_stage_nobody_could_complete_does_not_open() -> None:
    # Given prod needs two reviewers, and of the two in the directory one submitted the version
    team = directory(person(SUBMITTER, "reviewers"), person("rita.reviewer", "reviewers"))

    # When the stage is opened, Then it fails fast instead of waiting until it expires
    with pytest.raises(QuorumUnreachable, match="needs 2 approvers but only 1"):
        stage(team=team, quorum=2)


def test_a_stage_that_escalation_can_complete_opens() -> None:
    team = directory(person("rita.reviewer", "reviewers"), person("fay.fallback", "fallback"))

    state = stage(team=team, quorum=2, escalation={"after": "P1D", "group": "fallback"})

    assert state.escalates_at == REQUESTED_AT + timedelta(days=1)


# ------------------------------------------------------------------------------ quorum


def test_one_of_two_approvals_leaves_the_stage_pending_and_the_second_completes_it() -> None:
    # Given prod needs two approvals
    state = stage(quorum=2)

    # When a first reviewer approves
    first = accepted(approve(state, "rita.reviewer"))

    # Then the decision is recorded but the stage is still pending
    assert first.completes_stage is False
    assert first.state.outcome is StageOutcome.PENDING and first.state.approvals == 1
    assert first.decision.channel is Channel.EMAIL and first.decision.decided_at == SOON
    assert state.decisions == ()  # the input state is never changed

    # When a second, different reviewer approves
    second = accepted(approve(first.state, "rob.reviewer", at=SOON + timedelta(minutes=5)))

    # Then this decision reaches the quorum: it completes the stage
    assert second.completes_stage is True
    assert second.state.outcome is StageOutcome.APPROVED
    assert second.state.closed_at == SOON + timedelta(minutes=5)
    assert [d.approver_id for d in second.state.decisions] == ["rita.reviewer", "rob.reviewer"]


def test_an_approval_may_carry_a_reason_and_blank_reasons_are_none() -> None:
    with_reason = accepted(approve(stage(quorum=2), "rita.reviewer", reason="  looks good  "))
    blank = accepted(approve(stage(quorum=2), "rita.reviewer", reason="   "))

    assert with_reason.decision.reason == "looks good"
    assert blank.decision.reason is None


def test_a_reject_completes_the_stage_with_its_reason() -> None:
    # Given prod needs two approvals and has one
    state = accepted(approve(stage(quorum=2), "rita.reviewer")).state

    # When another reviewer rejects with a reason
    outcome = accepted(reject(state, "rob.reviewer", "toxicity evidence is from the wrong dataset"))

    # Then the stage is rejected by this decision, and the reason travels with it
    assert outcome.completes_stage is True
    assert outcome.state.outcome is StageOutcome.REJECTED
    assert outcome.state.rejection is not None
    assert outcome.state.rejection.reason == "toxicity evidence is from the wrong dataset"
    assert outcome.state.rejection.approver_id == "rob.reviewer"


# ------------------------------------------------------------------------------ refusals


def test_the_submitter_cannot_approve_their_own_version() -> None:
    refusal = refused(approve(stage(), SUBMITTER), RefusalCode.SUBMITTER_CANNOT_APPROVE)

    assert "you submitted sentiment-classifier/1.4.0" in refusal.message


def test_the_submitter_cannot_reject_either() -> None:
    refused(reject(stage(), SUBMITTER, "never mind"), RefusalCode.SUBMITTER_CANNOT_APPROVE)


def test_the_submitter_is_refused_under_another_spelling_or_another_id_with_their_email() -> None:
    # Given a submitter who is also a reviewer under a second id with the same e-mail
    team = directory(
        person("rita.reviewer", "reviewers"),
        person("sam.alias", "reviewers", email=f"{SUBMITTER}@example.com"),
    )
    state = stage(team=team)

    # Then neither a different case of their id nor the second id gets past separation of duties
    refused(
        decide(state, "Sam.Submitter", Verdict.APPROVE, None, Channel.CONSOLE, SOON, directory=team),
        RefusalCode.SUBMITTER_CANNOT_APPROVE,
    )
    refused(
        decide(state, "sam.alias", Verdict.APPROVE, None, Channel.CONSOLE, SOON, directory=team),
        RefusalCode.SUBMITTER_CANNOT_APPROVE,
    )


def test_someone_outside_the_directory_is_not_an_approver() -> None:
    refusal = refused(approve(stage(), "mallory"), RefusalCode.NOT_AN_APPROVER)

    assert refusal.message == "'mallory' is not in the approver directory"


def test_someone_outside_the_stage_groups_is_refused() -> None:
    refusal = refused(approve(stage(), "otto.outsider"), RefusalCode.NOT_IN_STAGE_GROUPS)

    assert "decided by members of reviewers; you are in finance" in refusal.message


def test_an_earlier_stage_approver_is_refused_when_the_rule_separates_stages() -> None:
    # Given rita approved preprod, and prod separates stages
    state = stage(earlier_approvers=("rita.reviewer",), separation_of_duties=SEPARATED)

    # Then rita may not decide prod, but rob may
    refused(approve(state, "rita.reviewer"), RefusalCode.APPROVED_EARLIER_STAGE)
    accepted(approve(state, "rob.reviewer"))


def test_an_earlier_stage_approver_may_decide_when_the_rule_does_not_separate_stages() -> None:
    state = stage(earlier_approvers=("rita.reviewer",))

    accepted(approve(state, "rita.reviewer"))


def test_a_second_decision_by_the_same_person_is_refused() -> None:
    # Given rita approved a stage that needs two approvals
    state = accepted(approve(stage(quorum=2), "rita.reviewer")).state

    # When she approves again (a second click, or another channel), or changes her mind
    again = refused(approve(state, "rita.reviewer"), RefusalCode.ALREADY_DECIDED_BY_YOU)
    refused(reject(state, "rita.reviewer", "changed my mind"), RefusalCode.ALREADY_DECIDED_BY_YOU)

    # Then her one approval still counts once
    assert "approve" in again.message
    assert state.approvals == 1


@pytest.mark.parametrize("verdict", [Verdict.APPROVE, Verdict.REJECT])
def test_a_decision_after_the_stage_was_decided_is_refused(verdict: Verdict) -> None:
    approved = accepted(approve(stage(), "rita.reviewer")).state
    rejected = accepted(reject(stage(), "rita.reviewer", "no")).state

    for state in (approved, rejected):
        refusal = decide(state, "rob.reviewer", verdict, "late", Channel.EMAIL, SOON, directory=TEAM)
        refused(refusal, RefusalCode.STAGE_ALREADY_DECIDED)


def test_a_decision_exactly_at_expiry_is_refused_and_a_moment_before_is_accepted() -> None:
    state = stage(expires_after="P2D")

    refusal = refused(approve(state, "rita.reviewer", at=EXPIRES_AT), RefusalCode.EXPIRED)
    accepted(approve(state, "rita.reviewer", at=EXPIRES_AT - timedelta(microseconds=1)))

    assert "the version was not promoted" in refusal.message


def test_a_decision_on_an_expired_stage_is_refused_as_expired() -> None:
    state = expire(stage(), EXPIRES_AT)

    refused(approve(state, "rita.reviewer", at=SOON), RefusalCode.EXPIRED)


@pytest.mark.parametrize("reason", [None, "", "   "])
def test_a_reject_needs_a_reason(reason: str | None) -> None:
    refused(reject(stage(), "rita.reviewer", reason), RefusalCode.REASON_REQUIRED)


def test_a_reason_is_bounded() -> None:
    refused(reject(stage(), "rita.reviewer", "x" * 2001), RefusalCode.REASON_TOO_LONG)
    accepted(reject(stage(), "rita.reviewer", "x" * 2000))


def test_a_refusal_records_the_attempt_and_leaves_the_state_unchanged() -> None:
    # Given a pending stage
    state = stage()

    # When the submitter tries to approve over Slack
    refusal = decide(state, SUBMITTER, Verdict.APPROVE, None, Channel.SLACK, SOON, directory=TEAM)

    # Then the refusal carries everything the audit record needs, and the state is as it was
    assert isinstance(refusal, Refusal)
    assert (refusal.version_id, refusal.stage, refusal.approver_id) == (state.version_id, Stage.PROD, SUBMITTER)
    assert (refusal.verdict, refusal.channel, refusal.at) == (Verdict.APPROVE, Channel.SLACK, SOON)
    assert state.decisions == () and state.outcome is StageOutcome.PENDING


def test_refusals_are_checked_in_a_stable_order() -> None:
    # Given rita already approved a stage that needs two
    state = accepted(approve(stage(quorum=2), "rita.reviewer")).state

    # Then the most specific reason wins: her own earlier decision, even after expiry
    refused(approve(state, "rita.reviewer", at=EXPIRES_AT), RefusalCode.ALREADY_DECIDED_BY_YOU)
    # And an expired stage says so before saying who may not decide it
    refused(approve(state, "otto.outsider", at=EXPIRES_AT), RefusalCode.EXPIRED)
    refused(reject(state, SUBMITTER, None, at=EXPIRES_AT), RefusalCode.EXPIRED)
    # And the group check comes before the reason check
    refused(reject(state, "otto.outsider", None), RefusalCode.NOT_IN_STAGE_GROUPS)


# ------------------------------------------------------------------------------ escalation


def test_the_escalation_group_may_decide_from_the_escalation_time_on() -> None:
    state = stage(escalation={"after": "P1D", "group": "fallback"})
    escalates_at = REQUESTED_AT + timedelta(days=1)

    refused(approve(state, "fay.fallback", at=escalates_at - timedelta(seconds=1)), RefusalCode.NOT_IN_STAGE_GROUPS)
    accepted(approve(state, "fay.fallback", at=escalates_at))


def test_escalation_is_due_once_from_its_time_until_the_stage_closes() -> None:
    # Given a stage that escalates after one day
    state = stage(escalation={"after": "P1D", "group": "fallback"})
    escalates_at = REQUESTED_AT + timedelta(days=1)

    # Then it is not due a moment before, due exactly at its time, and not again once done
    assert escalation_due(state, escalates_at - timedelta(microseconds=1)) is False
    assert escalation_due(state, escalates_at) is True
    assert escalation_due(escalated(state, escalates_at), escalates_at + timedelta(hours=1)) is False
    # And never at or after expiry, nor once the stage is decided, nor without an escalation rule
    assert escalation_due(state, EXPIRES_AT) is False
    decided = accepted(approve(state, "rita.reviewer")).state
    assert escalation_due(decided, escalates_at) is False
    assert escalation_due(stage(), escalates_at) is False


# ------------------------------------------------------------------------------ reminders


def test_reminders_fall_due_at_their_offset_before_expiry() -> None:
    # Given reminders one day and four hours before a two-day expiry
    state = stage(expires_after="P2D", reminders=["P1D", "PT4H"])
    one_day_before = EXPIRES_AT - timedelta(days=1)
    four_hours_before = EXPIRES_AT - timedelta(hours=4)

    # Then nothing is due before the first, which is due exactly at its time
    assert due_reminders(state, one_day_before - timedelta(microseconds=1)) == []
    assert due_reminders(state, one_day_before) == [timedelta(days=1)]
    # And once sent, only the next one falls due, at its own time
    sent = reminded(state, [timedelta(days=1)])
    assert due_reminders(sent, four_hours_before - timedelta(seconds=1)) == []
    assert due_reminders(sent, four_hours_before) == [timedelta(hours=4)]
    assert due_reminders(reminded(sent, [timedelta(hours=4)]), four_hours_before) == []


def test_a_late_check_finds_every_unsent_reminder_earliest_first() -> None:
    state = stage(expires_after="P2D", reminders=["PT4H", "P1D"])

    assert due_reminders(state, EXPIRES_AT - timedelta(hours=1)) == [timedelta(days=1), timedelta(hours=4)]


def test_no_reminders_once_the_stage_expired_or_was_decided() -> None:
    state = stage(expires_after="P2D", reminders=["PT4H"])

    assert due_reminders(state, EXPIRES_AT) == []
    assert due_reminders(accepted(approve(state, "rita.reviewer")).state, EXPIRES_AT - timedelta(hours=1)) == []


def test_recording_a_reminder_twice_keeps_one() -> None:
    state = reminded(reminded(stage(), [timedelta(hours=4)]), [timedelta(hours=4)])

    assert state.reminders_sent == (timedelta(hours=4),)


# ------------------------------------------------------------------------------ expiry


def test_a_pending_stage_expires_exactly_at_its_expiry_and_not_a_moment_before() -> None:
    state = stage(expires_after="P2D")

    assert expire(state, EXPIRES_AT - timedelta(microseconds=1)) is state
    expired = expire(state, EXPIRES_AT)
    assert expired.outcome is StageOutcome.EXPIRED
    assert expired.closed_at == EXPIRES_AT
    # A late timer stamps the expiry itself, not when the timer happened to run
    assert expire(state, EXPIRES_AT + timedelta(hours=3)).closed_at == EXPIRES_AT


def test_a_decided_stage_does_not_expire() -> None:
    approved = accepted(approve(stage(), "rita.reviewer")).state

    assert expire(approved, EXPIRES_AT + timedelta(days=1)) is approved


# ------------------------------------------------------------------------------ the shipped example


def test_the_shipped_example_takes_a_version_through_every_stage() -> None:
    # Given the example rules and directory, and a version demo.user submitted
    example_rules, people = shipped()
    approvers: list[str] = []
    at = REQUESTED_AT
    for stage_name, deciders in (
        (Stage.DEV, ["ana.ortiz", "ben.okafor"]),
        (Stage.PREPROD, ["chen.wei"]),
        (Stage.PROD, ["dara.novak", "eli.haddad"]),
    ):
        # When each stage opens and its approvers decide
        state = open_stage(
            version_id="sentiment-classifier/demo",
            stage=stage_name,
            rules=example_rules,
            directory=people,
            submitter="demo.user",
            submitter_email="demo.user@example.com",
            requested_at=at,
            earlier_approvers=approvers,
        )
        if stage_name is Stage.PROD:
            # chen.wei approved preprod and is in model-risk: prod separates stages
            refusal = decide(state, "chen.wei", Verdict.APPROVE, None, Channel.SLACK, at, directory=people)
            refused(refusal, RefusalCode.APPROVED_EARLIER_STAGE)
        refused(
            decide(state, "demo.user", Verdict.APPROVE, None, Channel.CONSOLE, at, directory=people),
            RefusalCode.SUBMITTER_CANNOT_APPROVE,
        )
        outcome: DecisionOutcome | None = None
        for who in deciders:
            outcome = decide(state, who, Verdict.APPROVE, None, Channel.EMAIL, at, directory=people)
            state = accepted(outcome).state
        # Then the last decider completes each stage
        assert outcome is not None and accepted(outcome).completes_stage
        approvers += deciders
        at += timedelta(hours=1)
    assert state.outcome is StageOutcome.APPROVED
