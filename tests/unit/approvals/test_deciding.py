"""People deciding by e-mailed link and by Slack: every refused attempt changes nothing and is recorded once."""

from __future__ import annotations

import itertools
import json
import secrets
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar
from urllib.parse import quote, unquote

import pytest
from pydantic import SecretBytes

from fmops.approvals.config import DIRECTORY_KEY, RULES_KEY
from fmops.approvals.csrf import csrf_token
from fmops.approvals.deciding import (
    DecisionDeps,
    LinkVisit,
    Outcome,
    SlackRequest,
    decide_by_link,
    decide_by_slack,
    verify_slack,
    view,
)
from fmops.approvals.engine import Accepted, StageOutcome, Verdict
from fmops.approvals.links import LinkRecord, issue_link, link_id_of
from fmops.approvals.service import ApprovalWait, RequestDeps, Resumed, ResumeDeps, request_approval, resume
from fmops.approvals.slack_signature import slack_signature
from fmops.approvals.store import StoredApproval
from fmops.events import (
    ApprovalDecisionRecorded,
    ApprovalPageViewed,
    ApprovalRefused,
    ApprovalStageDecided,
    FmopsEventDetail,
)
from fmops.gate.policy import Stage
from fmops.ledger import UNADDRESSED_CHAIN
from fmops.records import CatalogRecord
from fmops.statuses import VersionStatus

from tests.unit.approvals.builders import EXAMPLE_DIRECTORY, EXAMPLE_RULES, REQUESTED_AT
from tests.unit.builders import waiting_record
from tests.unit.fakes import (
    FixedClock,
    InMemoryApprovalStore,
    InMemoryCatalog,
    InMemoryPolicyStore,
    RecordingBus,
    RecordingCallbacks,
    ReversibleVault,
)

CSRF_KEY = SecretBytes(b"test-csrf-key-0123456789abcdef-0123456789")  # pragma: allowlist secret (test key)
SUBMITTER = "demo.user"
PAGES_OWN = "<the CSRF token the page rendered for this link>"
# Rules where the quorum matters spell it out, so the example file's numbers may change.
DEV_BY_ONE = {"groups": ["ml-engineers"], "quorum": 1}
DEV_BY_TWO = {"groups": ["ml-engineers", "ml-leads"], "quorum": 2}
DEV_BY_THREE = {"groups": ["ml-engineers", "ml-leads"], "quorum": 3}

# From Slack's "Verifying requests from Slack": public documentation values, not a real secret.
SLACK_DOC_SECRET = SecretBytes(b"8f742231b10e8888abcd99yyyzzz85a5")  # pragma: allowlist secret (Slack's doc example)
SLACK_DOC_TIMESTAMP = "1531420618"
SLACK_DOC_BODY = (
    b"token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J"  # pragma: allowlist secret (Slack docs' example)
    b"&team_domain=testteamnow&channel_id=G8PSS9T3V&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner"
    b"&command=%2Fwebhook-collect&text="
    b"&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN"
    b"&trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c"
)
SLACK_DOC_SIGNATURE = (
    "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503"  # pragma: allowlist secret (Slack docs)
)
SLACK_DOC_NOW = datetime.fromtimestamp(int(SLACK_DOC_TIMESTAMP), UTC)

E = TypeVar("E", bound=FmopsEventDetail)


# ------------------------------------------------------------------------------ the world


def rules_json(**stages: dict[str, Any]) -> bytes:
    """The example rules, with the keys given for a stage (`dev={"quorum": 2}`) replaced in its rule."""
    document = json.loads(EXAMPLE_RULES)
    for stage, overrides in stages.items():
        document["stages"][stage].update(overrides)
    return json.dumps(document).encode()


def directory_json(changes: dict[str, dict[str, Any]]) -> bytes:
    """The example directory, with the keys given for a person (`{"demo.user": {...}}`) replaced."""
    document = json.loads(EXAMPLE_DIRECTORY)
    for entry in document["approvers"]:
        entry.update(changes.get(entry["id"], {}))
    return json.dumps(document).encode()


def catalog_record(version_id: str, status: VersionStatus = VersionStatus.PENDING_APPROVAL) -> CatalogRecord:
    return waiting_record(version_id, REQUESTED_AT, SUBMITTER, status)


@dataclass
class World:
    """The approvals of a few versions waiting in a promotion, and everyone's ways to decide them."""

    rules: bytes = EXAMPLE_RULES
    directory: bytes = EXAMPLE_DIRECTORY
    approvals: InMemoryApprovalStore = field(default_factory=InMemoryApprovalStore)
    clock: FixedClock = field(default_factory=lambda: FixedClock(REQUESTED_AT))
    catalog: InMemoryCatalog = field(default_factory=InMemoryCatalog)
    vault: ReversibleVault = field(default_factory=ReversibleVault)
    callbacks: RecordingCallbacks = field(default_factory=RecordingCallbacks)
    bus: RecordingBus = field(default_factory=RecordingBus)
    config: InMemoryPolicyStore = field(init=False)
    request_ids: Iterator[int] = field(default_factory=itertools.count)

    def __post_init__(self) -> None:
        self.config = InMemoryPolicyStore({RULES_KEY: self.rules, DIRECTORY_KEY: self.directory})

    @property
    def deps(self) -> DecisionDeps:
        return DecisionDeps(approvals=self.approvals, config=self.config, bus=self.bus, clock=self.clock)

    def request_id(self) -> str:
        return f"req-{next(self.request_ids)}"

    def open(self, version_id: str = "sentiment/1.4.0", stage: Stage = Stage.DEV, occasion: str | None = None) -> str:
        """RequestApproval for `stage` (and `occasion`) of a version demo.user submitted; returns the approval id."""
        # dev is asked while the version waits for it; preprod and prod once dev approved it.
        status = VersionStatus.PENDING_APPROVAL if stage is Stage.DEV else VersionStatus.APPROVED
        self.catalog.records[version_id] = catalog_record(version_id, status)
        wait = ApprovalWait(
            version_id=version_id,
            correlation_id=version_id,
            stage=stage,
            execution_name=f"promote-{version_id.replace('/', '-')}",
            task_token=f"task-token-of-{version_id}-{stage.value}",
            occasion=occasion,
        )
        deps = RequestDeps(self.catalog, self.approvals, self.config, self.vault, self.bus, self.clock)
        return request_approval(wait, deps)["approval_id"]

    def approval(self, approval_id: str) -> StoredApproval:
        stored = self.approvals.get(approval_id)
        assert stored is not None
        return stored

    def link(self, approval_id: str, approver_id: str, expires_at: datetime | None = None) -> str:
        """E-mail `approver_id` a link to the approval, valid (by default) as long as the stage; returns the token."""
        issued = issue_link(
            approval_id=approval_id,
            approver_id=approver_id,
            issued_at=self.clock.now(),
            expires_at=expires_at or self.approval(approval_id).state.expires_at,
        )
        self.approvals.put_link(issued.record)
        return issued.token.get_secret_value()

    def link_record(self, token: str) -> LinkRecord:
        link_id = link_id_of(token)
        record = self.approvals.get_link(link_id) if link_id else None
        assert record is not None
        return record

    def page_csrf(self, token: str) -> str:
        """The CSRF token the approval page embeds in its form for this link."""
        return csrf_token(CSRF_KEY, self.link_record(token))

    def visit(self, approval_id: str, approver_id: str, token: str) -> LinkVisit:
        return LinkVisit(approval_id=approval_id, approver_id=approver_id, token=token, request_id=self.request_id())

    def view(self, approval_id: str, approver_id: str, token: str, method: str = "GET") -> Outcome:
        return view(self.visit(approval_id, approver_id, token), method, self.deps)

    def post(
        self,
        approval_id: str,
        approver_id: str,
        token: str,
        verdict: Verdict = Verdict.APPROVE,
        reason: str | None = None,
        csrf: str | None = PAGES_OWN,
    ) -> Outcome:
        """POST the approval page's form; by default with the CSRF token the page showed for this link."""
        presented = self.page_csrf(token) if csrf == PAGES_OWN else csrf
        visit = self.visit(approval_id, approver_id, token)
        return decide_by_link(visit, verdict, reason, presented, CSRF_KEY, self.deps)

    def slack(
        self, slack_user_id: str, approval_id: str, verdict: Verdict = Verdict.APPROVE, reason: str | None = None
    ) -> Outcome:
        return decide_by_slack(slack_user_id, approval_id, verdict, reason, self.request_id(), self.deps)

    def resume_decided(self, since: int = 0) -> list[Resumed]:
        """What the callback function does on each "Approval Stage Decided" published since event `since`."""
        deps = ResumeDeps(self.approvals, self.vault, self.callbacks, self.bus, self.clock)
        decided = [e for e in self.bus.published[since:] if isinstance(e, ApprovalStageDecided)]
        return [resume(event.approval_id, deps) for event in decided]

    def events(self, kind: type[E], since: int = 0) -> list[E]:
        return [event for event in self.bus.published[since:] if isinstance(event, kind)]


@dataclass(frozen=True)
class Before:
    """What an attempt must leave as it found it."""

    approval: StoredApproval | None
    decisions: dict[tuple[str, str], Any]
    links: dict[str, LinkRecord]
    answers: list[tuple[str, str, object]]
    events: int


def before(world: World, approval_id: str) -> Before:
    return Before(
        approval=world.approvals.get(approval_id),
        decisions=dict(world.approvals.decisions),
        links=dict(world.approvals.links),
        answers=list(world.callbacks.answers),
        events=len(world.bus.published),
    )


def assert_refused_and_recorded(
    world: World, outcome: Outcome, given: Before, code: str, *, actor: str, channel: str = "email"
) -> ApprovalRefused:
    """The attempt was refused with `code`, changed nothing, and is on the record exactly once."""
    assert not outcome.accepted, outcome
    assert outcome.code == code, outcome.message
    # Nothing changed: same approval (revision and state), no decision, no link used, no answer sent
    assert world.approvals.get(given.approval.approval_id if given.approval else "") == given.approval
    assert world.approvals.decisions == given.decisions
    assert world.approvals.links == given.links
    world.resume_decided(since=given.events)
    assert world.callbacks.answers == given.answers
    # Recorded: one "Approval Refused" and nothing else
    published = world.bus.published[given.events :]
    assert [event.detail_type for event in published] == ["Approval Refused"]
    refused = published[0]
    assert isinstance(refused, ApprovalRefused)
    assert (refused.code, refused.channel, refused.actor) == (code, channel, actor)
    return refused


def used_at(world: World, token: str) -> datetime | None:
    return world.link_record(token).used_at


# ------------------------------------------------------------------------------ e-mailed links


@pytest.mark.parametrize(
    ("forged", "code"),
    [
        (secrets.token_urlsafe(40), "tampered"),  # not even shaped like a link
        (f"{secrets.token_urlsafe(12)}.{secrets.token_urlsafe(32)}", "unknown_link"),  # shaped, never issued
    ],
    ids=["random-string", "well-formed-but-never-issued"],
)
def test_a_forged_token_decides_nothing_and_is_recorded(forged: str, code: str) -> None:
    # Given an open approval, and ana's real link to it
    world = World()
    approval_id = world.open()
    real = world.link(approval_id, "ana.ortiz")
    given = before(world, approval_id)

    # When someone posts the form with a token fmops never issued
    outcome = world.post(approval_id, "ana.ortiz", forged, csrf="whatever")

    # Then it is refused, nothing changed, and the attempt is on the record against the version
    refused = assert_refused_and_recorded(world, outcome, given, code, actor="ana.ortiz")
    assert refused.version_id == "sentiment/1.4.0" and refused.approval_id == approval_id
    assert used_at(world, real) is None


def test_a_link_whose_secret_part_was_altered_is_refused_as_tampered() -> None:
    # Given ana's link with one character of its secret part changed
    world = World()
    approval_id = world.open()
    token = world.link(approval_id, "ana.ortiz")
    link_id, verifier = token.split(".")
    altered = f"{link_id}.{'B' if verifier[0] != 'B' else 'C'}{verifier[1:]}"
    given = before(world, approval_id)

    # When it is posted
    outcome = world.post(approval_id, "ana.ortiz", altered, csrf=world.page_csrf(token))

    # Then it is refused as tampered (worth an alert), and the real link is still usable
    assert_refused_and_recorded(world, outcome, given, "tampered", actor="ana.ortiz")
    assert used_at(world, token) is None


def test_a_link_to_another_approval_does_not_decide_this_one() -> None:
    # Given two approvals, and ana's link to the second one
    world = World()
    this = world.open("sentiment/1.4.0")
    other = world.open("sentiment/2.0.0")
    token = world.link(other, "ana.ortiz")
    given = before(world, this)

    # When she posts it on the first approval's page
    outcome = world.post(this, "ana.ortiz", token)

    # Then it is refused, neither approval changed, and the other approval's link is not used up
    assert_refused_and_recorded(world, outcome, given, "not_yours", actor="ana.ortiz")
    assert world.approval(other).state.decisions == ()
    assert used_at(world, token) is None


def test_a_link_issued_to_another_approver_is_not_yours() -> None:
    # Given ben's link, presented as ana's
    world = World()
    approval_id = world.open()
    bens = world.link(approval_id, "ben.okafor")
    given = before(world, approval_id)

    # When ana posts it
    outcome = world.post(approval_id, "ana.ortiz", bens)

    # Then it is refused and ben's link still works for ben
    assert_refused_and_recorded(world, outcome, given, "not_yours", actor="ana.ortiz")
    assert used_at(world, bens) is None


def test_an_expired_link_is_refused() -> None:
    # Given ana's link, valid for an hour, and a clock one second past that
    world = World()
    approval_id = world.open()
    token = world.link(approval_id, "ana.ortiz", expires_at=REQUESTED_AT + timedelta(hours=1))
    csrf = world.page_csrf(token)
    world.clock.advance(timedelta(hours=1, seconds=1))
    given = before(world, approval_id)

    # When she posts the page she opened in time
    outcome = world.post(approval_id, "ana.ortiz", token, csrf=csrf)

    # Then it is refused as expired
    assert_refused_and_recorded(world, outcome, given, "expired", actor="ana.ortiz")


def test_a_used_link_cannot_be_replayed() -> None:
    # Given ana approved with her link
    world = World(rules=rules_json(dev=DEV_BY_TWO))
    approval_id = world.open()
    token = world.link(approval_id, "ana.ortiz")
    csrf = world.page_csrf(token)
    first = world.post(approval_id, "ana.ortiz", token, csrf=csrf)
    assert first.accepted and first.code == "recorded"
    assert used_at(world, token) == REQUESTED_AT
    given = before(world, approval_id)

    # When the same form is posted again (a double submit, or a captured request resent)
    again = world.post(approval_id, "ana.ortiz", token, csrf=csrf)

    # Then the link is already used and nothing more is recorded
    assert_refused_and_recorded(world, again, given, "already_used", actor="ana.ortiz")
    assert world.approval(approval_id).state.approvals == 1


def test_viewing_a_link_ten_times_decides_nothing_and_leaves_it_usable() -> None:
    # Given ana's link, fetched by her, her mail scanner and a link previewer, ten times in all
    world = World(rules=rules_json(dev=DEV_BY_TWO))
    approval_id = world.open()
    token = world.link(approval_id, "ana.ortiz")
    given = before(world, approval_id)

    # When it is opened with GET and HEAD
    outcomes = [world.view(approval_id, "ana.ortiz", token, method) for method in ["GET", "HEAD"] * 5]

    # Then every view showed the page, and nothing was decided or consumed
    assert [outcome.code for outcome in outcomes] == ["viewed"] * 10
    assert world.approvals.get(approval_id) == given.approval
    assert world.approvals.decisions == {}
    assert used_at(world, token) is None
    # And each view is on the record, nothing else
    views = world.events(ApprovalPageViewed, since=given.events)
    assert len(world.bus.published) - given.events == 10
    assert [view.method for view in views] == ["GET", "HEAD"] * 5
    assert {view.actor for view in views} == {"ana.ortiz"}
    assert len({view.event_id for view in views}) == 10

    # When she then posts the form
    decided = world.post(approval_id, "ana.ortiz", token)

    # Then her approval is recorded
    assert decided.accepted and decided.code == "recorded"
    assert world.approval(approval_id).state.approvals == 1


def test_viewing_with_a_bad_link_is_refused_and_recorded() -> None:
    world = World()
    approval_id = world.open()
    bens = world.link(approval_id, "ben.okafor")
    given = before(world, approval_id)

    outcome = world.view(approval_id, "ana.ortiz", bens, "GET")

    assert_refused_and_recorded(world, outcome, given, "not_yours", actor="ana.ortiz")


def _no_csrf(world: World, approval_id: str) -> str | None:
    return None


def _wrong_csrf(world: World, approval_id: str) -> str | None:
    return secrets.token_urlsafe(32)


def _csrf_of_another_links_page(world: World, approval_id: str) -> str | None:
    return world.page_csrf(world.link(approval_id, "ben.okafor"))


@pytest.mark.parametrize(
    ("csrf", "code"),
    [
        (_no_csrf, "csrf_missing"),
        (_wrong_csrf, "csrf_mismatch"),
        (_csrf_of_another_links_page, "csrf_mismatch"),
    ],
    ids=["missing", "wrong", "another-links-page"],
)
def test_a_post_without_this_pages_csrf_token_is_refused(csrf: Callable[[World, str], str | None], code: str) -> None:
    # Given ana's valid link, and a form that does not carry the CSRF token of her link's page
    world = World()
    approval_id = world.open()
    token = world.link(approval_id, "ana.ortiz")
    presented = csrf(world, approval_id)
    given = before(world, approval_id)

    # When it is posted (a cross-site form, or a token lifted from another page)
    outcome = world.post(approval_id, "ana.ortiz", token, csrf=presented)

    # Then it is refused, and her link is still usable from her own page
    assert_refused_and_recorded(world, outcome, given, code, actor="ana.ortiz")
    assert used_at(world, token) is None
    assert world.post(approval_id, "ana.ortiz", token).accepted


# ------------------------------------------------------------------------------ the rules of a decision


def test_the_submitter_cannot_approve_their_own_version_with_a_link() -> None:
    # Given a link issued to demo.user, who submitted the version
    world = World()
    approval_id = world.open()
    token = world.link(approval_id, SUBMITTER)
    given = before(world, approval_id)

    # When they approve through it
    outcome = world.post(approval_id, SUBMITTER, token)

    # Then four eyes holds, and the link is not used up by the refusal
    assert_refused_and_recorded(world, outcome, given, "submitter_cannot_approve", actor=SUBMITTER)
    assert used_at(world, token) is None


def test_an_approver_outside_the_stages_groups_cannot_decide() -> None:
    # Given dev is decided by ml-engineers, and a link issued to gus (release-managers)
    world = World(rules=rules_json(dev=DEV_BY_ONE))
    approval_id = world.open()
    token = world.link(approval_id, "gus.lindqvist")
    given = before(world, approval_id)

    # When gus rejects (the safe direction is refused too: anyone could otherwise block a release)
    outcome = world.post(approval_id, "gus.lindqvist", token, Verdict.REJECT, "not convinced")

    # Then it is refused
    assert_refused_and_recorded(world, outcome, given, "not_in_stage_groups", actor="gus.lindqvist")


def test_a_decision_after_the_stage_expired_is_refused() -> None:
    # Given an approval whose stage expired a moment ago (the timer has not run yet)
    world = World()
    approval_id = world.open()
    world.clock.moment = world.approval(approval_id).state.expires_at
    given = before(world, approval_id)

    # When ana approves from Slack
    outcome = world.slack("U0EXANAORT", approval_id)

    # Then it is refused as expired
    refused = assert_refused_and_recorded(world, outcome, given, "expired", actor="ana.ortiz", channel="slack")
    assert refused.stage == "dev"


def test_a_decision_after_the_promotion_stopped_waiting_is_refused() -> None:
    # Given an approval whose promotion stopped waiting (an operator stopped the execution; the timer saw it)
    world = World()
    approval_id = world.open()
    token = world.link(approval_id, "ana.ortiz")
    read = world.approval(approval_id)
    world.approvals.save(read.model_copy(update={"resumed_at": world.clock.now()}), read)
    given = before(world, approval_id)

    # When ana approves with her link
    outcome = world.post(approval_id, "ana.ortiz", token)

    # Then nothing is decided: there is no promotion left to resume
    assert_refused_and_recorded(world, outcome, given, "promotion_ended", actor="ana.ortiz")


@pytest.mark.parametrize(
    ("verdict", "reason", "outcome"),
    [(Verdict.APPROVE, None, StageOutcome.APPROVED), (Verdict.REJECT, "bias on short reviews", StageOutcome.REJECTED)],
    ids=["after-approval", "after-rejection"],
)
def test_a_decision_after_the_stage_was_decided_is_refused(
    verdict: Verdict, reason: str | None, outcome: StageOutcome
) -> None:
    # Given one approval is the quorum, and ana decided the stage
    world = World(rules=rules_json(dev=DEV_BY_ONE))
    approval_id = world.open()
    assert world.post(approval_id, "ana.ortiz", world.link(approval_id, "ana.ortiz"), verdict, reason).accepted
    assert world.approval(approval_id).state.outcome is outcome
    bens = world.link(approval_id, "ben.okafor")
    given = before(world, approval_id)

    # When ben decides afterwards
    late = world.post(approval_id, "ben.okafor", bens)

    # Then it is refused and his link stays unused
    assert_refused_and_recorded(world, late, given, "stage_already_decided", actor="ben.okafor")
    assert used_at(world, bens) is None


@pytest.mark.parametrize("reason", [None, "", "   \n"], ids=["none", "empty", "blank"])
def test_a_rejection_needs_a_reason(reason: str | None) -> None:
    world = World()
    approval_id = world.open()
    token = world.link(approval_id, "ana.ortiz")
    given = before(world, approval_id)

    outcome = world.post(approval_id, "ana.ortiz", token, Verdict.REJECT, reason)

    assert_refused_and_recorded(world, outcome, given, "reason_required", actor="ana.ortiz")
    assert used_at(world, token) is None


# ------------------------------------------------------------------------------ Slack


def test_a_slack_user_not_in_the_directory_is_not_an_approver() -> None:
    # Given an open approval
    world = World()
    approval_id = world.open()
    given = before(world, approval_id)

    # When a Slack user nobody mapped to a person clicks Approve
    outcome = world.slack("U0EXNOBODY1", approval_id)

    # Then it is refused, recorded under the Slack id
    refused = assert_refused_and_recorded(
        world, outcome, given, "not_an_approver", actor="slack:U0EXNOBODY1", channel="slack"
    )
    assert refused.version_id == "sentiment/1.4.0"


def test_the_submitter_cannot_approve_from_slack() -> None:
    # Given the submitter has a Slack account in the directory
    world = World(directory=directory_json({SUBMITTER: {"slack_user_id": "U0EXDEMOUSR"}}))
    approval_id = world.open()
    given = before(world, approval_id)

    # When they click Approve on their own version
    outcome = world.slack("U0EXDEMOUSR", approval_id)

    # Then it is refused
    assert_refused_and_recorded(world, outcome, given, "submitter_cannot_approve", actor=SUBMITTER, channel="slack")


def test_an_approver_decides_from_slack() -> None:
    world = World(rules=rules_json(dev=DEV_BY_TWO))
    approval_id = world.open()
    given = before(world, approval_id)

    outcome = world.slack("U0EXANAORT", approval_id)

    assert outcome.accepted and not outcome.completes_stage
    (recorded,) = world.events(ApprovalDecisionRecorded, since=given.events)
    assert (recorded.approver_id, recorded.channel, recorded.approvals, recorded.quorum) == ("ana.ortiz", "slack", 1, 2)


def test_a_rollbacks_decisions_are_events_of_its_own() -> None:
    # Given prod of a version approved once by dara, and a rollback of prod to it asking again
    world = World(rules=rules_json(prod={"quorum": 1}))
    world.slack("U0EXDARANO", world.open(stage=Stage.PROD))
    occasion = "rollback:sentiment--1.4.0--rollback-prod-20261127T0400"
    rollback = world.open(stage=Stage.PROD, occasion=occasion)
    given = before(world, rollback)

    # When dara approves the rollback from Slack
    outcome = world.slack("U0EXDARANO", rollback)

    # Then her decision and the stage's end are new events, not duplicates of the first approval's
    assert outcome.accepted and outcome.completes_stage
    (recorded,) = world.events(ApprovalDecisionRecorded, since=given.events)
    (decided,) = world.events(ApprovalStageDecided, since=given.events)
    assert recorded.event_id == f"sentiment/1.4.0#approval-decision#prod#{occasion}#dara.novak"
    assert decided.event_id == f"sentiment/1.4.0#approval-decided#prod#{occasion}"
    assert {recorded.event_id, decided.event_id}.isdisjoint(e.event_id for e in world.bus.published[: given.events])


def slack_world() -> World:
    return World(clock=FixedClock(SLACK_DOC_NOW))


def slack_request(world: World, headers: dict[str, str], body: bytes = SLACK_DOC_BODY) -> SlackRequest:
    return SlackRequest(headers=headers, body=body, request_id=world.request_id())


DOC_HEADERS = {"X-Slack-Request-Timestamp": SLACK_DOC_TIMESTAMP, "X-Slack-Signature": SLACK_DOC_SIGNATURE}


def assert_slack_refused(world: World, outcome: Outcome | None, code: str) -> None:
    """Refused, nothing claimed or decided, and recorded in the chain of unaddressed events."""
    assert outcome is not None and not outcome.accepted
    assert outcome.code == code, outcome.message
    assert world.approvals.decisions == {}
    (refused,) = world.bus.published
    assert isinstance(refused, ApprovalRefused)
    assert (refused.code, refused.channel, refused.actor) == (code, "slack", "anonymous")
    assert refused.version_id == UNADDRESSED_CHAIN == "_unaddressed"
    assert refused.approval_id is None and refused.approver_id is None


def test_slacks_published_example_is_accepted_once_and_its_replay_refused() -> None:
    # Given Slack's published request and a clock frozen at its timestamp
    world = slack_world()

    # When it arrives, Then it may be acted on, and nothing is recorded as refused
    assert verify_slack(slack_request(world, DOC_HEADERS), SLACK_DOC_SECRET, world.deps) is None
    assert world.bus.published == []

    # When the very same signed request arrives again
    replayed = verify_slack(slack_request(world, DOC_HEADERS), SLACK_DOC_SECRET, world.deps)

    # Then it is a replay
    assert_slack_refused(world, replayed, "replayed_request")


def _interaction(payload: dict[str, Any], **dumps: Any) -> bytes:
    return b"payload=" + quote(json.dumps(payload, **dumps), safe="").encode("ascii")


CLICK = {"type": "block_actions", "user": {"id": "U0EXANAORT"}, "actions": [{"value": "apr_0123456789"}]}
SENT = _interaction(CLICK, separators=(",", ":"))
RESERIALISED = _interaction(CLICK)  # the same JSON, other whitespace: other bytes


def _signed(body: bytes, at: datetime) -> dict[str, str]:
    timestamp = str(int(at.timestamp()))
    return {
        "X-Slack-Request-Timestamp": timestamp,
        "X-Slack-Signature": slack_signature(SLACK_DOC_SECRET, timestamp, body),
    }


@pytest.mark.parametrize(
    ("headers", "body", "code"),
    [
        ({**DOC_HEADERS, "X-Slack-Signature": SLACK_DOC_SIGNATURE[:-1] + "4"}, SLACK_DOC_BODY, "bad_signature"),
        (_signed(SLACK_DOC_BODY, SLACK_DOC_NOW - timedelta(minutes=5, seconds=1)), SLACK_DOC_BODY, "stale_timestamp"),
        ({}, SLACK_DOC_BODY, "missing_headers"),
        ({"X-Slack-Request-Timestamp": SLACK_DOC_TIMESTAMP}, SLACK_DOC_BODY, "missing_headers"),
        (_signed(SENT, SLACK_DOC_NOW), RESERIALISED, "bad_signature"),
    ],
    ids=["bad-signature", "older-than-five-minutes", "no-headers", "no-signature", "re-serialised-body"],
)
def test_a_slack_request_fmops_cannot_trust_is_refused_and_recorded(
    headers: dict[str, str], body: bytes, code: str
) -> None:
    # Given a clock frozen at Slack's example timestamp
    world = slack_world()

    # When a request arrives that Slack did not sign as it is, or signed too long ago
    outcome = verify_slack(slack_request(world, headers, body), SLACK_DOC_SECRET, world.deps)

    # Then it is refused before anything else, and recorded; its replay key is not claimed
    assert_slack_refused(world, outcome, code)
    assert world.approvals.slack_requests == {}


def test_the_request_that_was_re_serialised_verifies_as_sent() -> None:
    # The counterpart of the re-serialised case: the same content, and the bytes Slack signed are accepted
    assert SENT != RESERIALISED
    assert json.loads(unquote(SENT.decode()[len("payload=") :])) == json.loads(unquote(RESERIALISED.decode()[8:]))
    world = slack_world()

    assert verify_slack(slack_request(world, _signed(SENT, SLACK_DOC_NOW), SENT), SLACK_DOC_SECRET, world.deps) is None


# ------------------------------------------------------------------------------ two approvers at the same moment


@dataclass
class RivalFirstStore(InMemoryApprovalStore):
    """An approval store where, on the next `record_decision`, another decision commits first:
    both deciders read the same revision, the rival's transaction wins."""

    rival: Callable[[], Outcome] | None = None
    rival_outcomes: list[Outcome] = field(default_factory=list)

    def record_decision(
        self, read: StoredApproval, accepted: Accepted, link: LinkRecord | None, at: datetime
    ) -> StoredApproval:
        rival, self.rival = self.rival, None
        if rival is not None:
            self.rival_outcomes.append(rival())
        return super().record_decision(read, accepted, link, at)


def test_of_two_approvers_completing_the_quorum_at_once_exactly_one_completes_the_stage() -> None:
    # Given a quorum of two, ana's approval recorded, and links for ben and chen
    store = RivalFirstStore()
    world = World(rules=rules_json(dev=DEV_BY_TWO), approvals=store)
    approval_id = world.open()
    assert world.post(approval_id, "ana.ortiz", world.link(approval_id, "ana.ortiz")).accepted
    bens, chens = world.link(approval_id, "ben.okafor"), world.link(approval_id, "chen.wei")
    given = before(world, approval_id)

    # When ben and chen approve at the same moment: both judged on the same revision, chen's write lands first
    store.rival = lambda: world.post(approval_id, "chen.wei", chens)
    ben = world.post(approval_id, "ben.okafor", bens)

    # Then chen completed the stage, and ben, re-judged after losing, is refused
    (chen,) = store.rival_outcomes
    assert chen.accepted and chen.completes_stage
    assert not ben.accepted and ben.code == "stage_already_decided"
    state = world.approval(approval_id).state
    assert state.outcome is StageOutcome.APPROVED
    assert [d.approver_id for d in state.decisions] == ["ana.ortiz", "chen.wei"]
    assert used_at(world, chens) is not None and used_at(world, bens) is None
    # And exactly one "Approval Stage Decided", one decision recorded, ben's refusal recorded
    published = world.bus.published[given.events :]
    assert [event.detail_type for event in published] == [
        "Approval Decision Recorded",
        "Approval Stage Decided",
        "Approval Refused",
    ]
    (refused,) = world.events(ApprovalRefused, since=given.events)
    assert (refused.code, refused.actor) == ("stage_already_decided", "ben.okafor")

    # When the promotion is resumed on the event, and the event is delivered a second time
    (first,) = world.resume_decided(since=given.events)
    (duplicate,) = world.resume_decided(since=given.events)

    # Then Step Functions got exactly one SendTaskSuccess
    assert (first.outcome, first.delivered) == ("approved", True)
    assert duplicate.outcome == "already_resumed"
    assert [(token, kind) for token, kind, _ in world.callbacks.answers] == [
        ("task-token-of-sentiment/1.4.0-dev", "success")
    ]


def test_an_approver_who_loses_the_race_below_the_quorum_is_re_judged_and_counted() -> None:
    # Given a quorum of three and ana's approval recorded
    store = RivalFirstStore()
    world = World(rules=rules_json(dev=DEV_BY_THREE), approvals=store)
    approval_id = world.open()
    assert world.slack("U0EXANAORT", approval_id).accepted
    given = before(world, approval_id)

    # When ben and chen approve at the same moment from Slack, chen's write landing first
    store.rival = lambda: world.slack("U0EXCHENWE", approval_id)
    ben = world.slack("U0EXBENOKA", approval_id)

    # Then chen's was the second approval, and ben's, re-judged on the new revision, completes the stage
    (chen,) = store.rival_outcomes
    assert chen.accepted and not chen.completes_stage
    assert ben.accepted and ben.completes_stage
    assert [e.approver_id for e in world.events(ApprovalDecisionRecorded, since=given.events)] == [
        "chen.wei",
        "ben.okafor",
    ]
    assert len(world.events(ApprovalStageDecided, since=given.events)) == 1
