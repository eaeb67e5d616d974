"""The approval's life around the people: RequestApproval, resuming the promotion once, and the timer."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any, TypeVar

import pytest
from pydantic import ValidationError

from fmops.approvals import engine
from fmops.approvals.config import DIRECTORY_KEY, RULES_KEY, ApprovalConfigMissing, load_directory
from fmops.approvals.engine import Accepted, Channel, QuorumUnreachable, StageOutcome, Verdict
from fmops.approvals.service import (
    RESUME_GRACE,
    ApprovalWait,
    RequestDeps,
    Resumed,
    ResumeDeps,
    SweepDeps,
    SweepReport,
    approved_output,
    earlier_approvers,
    request_approval,
    resume,
    stage_decided_event,
    sweep,
)
from fmops.approvals.store import StoredApproval
from fmops.errors import NotAwaitingApproval, VersionNotFound
from fmops.events import (
    ApprovalEscalated,
    ApprovalReminderDue,
    ApprovalRequested,
    ApprovalStageDecided,
    FmopsEventDetail,
)
from fmops.gate.policy import Stage
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

VERSION_ID = "sentiment/1.4.0"
SUBMITTER = "demo.user"
TOKEN = "task-token-first-attempt"
ROLLBACK = "rollback:sentiment--1.4.0--rollback-prod-20261127T0400"
# Rules where the quorum or the timings matter spell them out, so the example file's numbers may change.
DEV_BY_ONE = {"groups": ["ml-engineers"], "quorum": 1, "expires_after": "P2D", "reminders": ["PT4H"]}
DEV_BY_TWO = {"groups": ["ml-engineers", "ml-leads"], "quorum": 2, "expires_after": "P2D", "reminders": ["PT4H"]}
DEV_ESCALATING = {**DEV_BY_TWO, "escalation": {"after": "P1D", "group": "release-managers"}}
EACH_BY_ONE: dict[str, dict[str, Any]] = {
    "dev": DEV_BY_ONE,
    "preprod": {"groups": ["ml-leads"], "quorum": 1},
    "prod": {"groups": ["model-risk", "business-owners"], "quorum": 1},
}
EXPIRES_AT = REQUESTED_AT + timedelta(days=2)

E = TypeVar("E", bound=FmopsEventDetail)


# ------------------------------------------------------------------------------ the world


def rules_json(**stages: dict[str, Any]) -> bytes:
    """The example rules, with the keys given for a stage (`dev={"quorum": 2}`) replaced in its rule."""
    document = json.loads(EXAMPLE_RULES)
    for stage, overrides in stages.items():
        document["stages"][stage].update(overrides)
    return json.dumps(document).encode()


def directory_json(changes: dict[str, dict[str, Any]], *, only: set[str] | None = None) -> bytes:
    """The example directory with the keys given for a person replaced, and (with `only`) nobody else."""
    document = json.loads(EXAMPLE_DIRECTORY)
    document["approvers"] = [entry for entry in document["approvers"] if only is None or entry["id"] in only]
    for entry in document["approvers"]:
        entry.update(changes.get(entry["id"], {}))
    return json.dumps(document).encode()


def catalog_record(
    version_id: str = VERSION_ID, status: VersionStatus = VersionStatus.PENDING_APPROVAL
) -> CatalogRecord:
    return waiting_record(version_id, REQUESTED_AT, SUBMITTER, status)


@dataclass
class World:
    """A version demo.user submitted, waiting in its promotion for people to approve a stage."""

    rules: bytes = EXAMPLE_RULES
    directory: bytes = EXAMPLE_DIRECTORY
    approvals: InMemoryApprovalStore = field(default_factory=InMemoryApprovalStore)
    clock: FixedClock = field(default_factory=lambda: FixedClock(REQUESTED_AT))
    catalog: InMemoryCatalog = field(default_factory=InMemoryCatalog)
    vault: ReversibleVault = field(default_factory=ReversibleVault)
    callbacks: RecordingCallbacks = field(default_factory=RecordingCallbacks)
    bus: RecordingBus = field(default_factory=RecordingBus)
    config: InMemoryPolicyStore = field(init=False)

    def __post_init__(self) -> None:
        self.config = InMemoryPolicyStore({RULES_KEY: self.rules, DIRECTORY_KEY: self.directory})
        self.catalog.records[VERSION_ID] = catalog_record()

    def request(
        self, stage: Stage = Stage.DEV, token: str = TOKEN, version_id: str = VERSION_ID, occasion: str | None = None
    ) -> str:
        """RequestApproval, as the promotion's (or the deployment's) `.waitForTaskToken` step calls it;
        returns the approval id."""
        wait = ApprovalWait(
            version_id=version_id,
            correlation_id=version_id,
            stage=stage,
            execution_name="promote-sentiment-1.4.0",
            task_token=token,
            occasion=occasion,
        )
        deps = RequestDeps(self.catalog, self.approvals, self.config, self.vault, self.bus, self.clock)
        return request_approval(wait, deps)["approval_id"]

    def release(self, version_id: str = VERSION_ID) -> None:
        """The dev approval was granted: the version is Approved, and its deployment asks for preprod and prod."""
        self.catalog.records[version_id] = catalog_record(version_id, VersionStatus.APPROVED)

    def approval(self, approval_id: str) -> StoredApproval:
        stored = self.approvals.get(approval_id)
        assert stored is not None
        return stored

    def decide(
        self, approval_id: str, approver_id: str, verdict: Verdict = Verdict.APPROVE, reason: str | None = None
    ) -> StoredApproval:
        """A decision recorded as the deciding module records it, without its events (as if they were lost)."""
        read = self.approval(approval_id)
        directory = load_directory(self.config)
        judged = engine.decide(
            read.state, approver_id, verdict, reason, Channel.SLACK, self.clock.now(), directory=directory
        )
        assert isinstance(judged, Accepted), judged
        return self.approvals.record_decision(read, judged, None, self.clock.now())

    def resume(self, approval_id: str) -> Resumed:
        return resume(approval_id, ResumeDeps(self.approvals, self.vault, self.callbacks, self.bus, self.clock))

    def sweep(self) -> SweepReport:
        deps = SweepDeps(self.approvals, self.config, self.vault, self.callbacks, self.bus, self.clock)
        return sweep(self.clock.now(), deps)

    def events(self, kind: type[E], since: int = 0) -> list[E]:
        return [event for event in self.bus.published[since:] if isinstance(event, kind)]

    def answers(self) -> list[tuple[str, str]]:
        return [(token, kind) for token, kind, _ in self.callbacks.answers]


# ------------------------------------------------------------------------------ RequestApproval


def test_requesting_opens_a_pending_stage_and_announces_who_may_decide() -> None:
    # Given demo.user, the submitter, is an ml-engineer too
    world = World(rules=rules_json(dev=DEV_BY_TWO), directory=directory_json({SUBMITTER: {"groups": ["ml-engineers"]}}))

    # When the promotion requests the dev approval
    approval_id = world.request(Stage.DEV)

    # Then a pending stage is open under the rules of the moment, with the task token sealed under the approval id
    stored = world.approval(approval_id)
    assert stored.state.outcome is StageOutcome.PENDING and stored.state.decisions == ()
    assert stored.state.submitter == SUBMITTER and stored.state.rule.quorum == 2
    assert stored.state.expires_at == EXPIRES_AT
    assert stored.execution_name == "promote-sentiment-1.4.0"
    assert stored.sealed_task_token is not None and stored.sealed_task_token != TOKEN.encode()
    assert world.vault.unseal(stored.sealed_task_token, approval_id) == TOKEN
    with pytest.raises(ValueError, match="another approval"):
        world.vault.unseal(stored.sealed_task_token, "apr_another_approval")
    assert TOKEN not in repr(stored)
    # And "Approval Requested" names the eligible approvers, never the submitter
    (requested,) = world.events(ApprovalRequested)
    assert requested.approval_id == approval_id and requested.stage == "dev"
    assert (requested.groups, requested.quorum) == (["ml-engineers", "ml-leads"], 2)
    assert requested.eligible_approvers == ["ana.ortiz", "ben.okafor", "chen.wei"]
    assert (requested.requested_at, requested.expires_at, requested.escalates_at) == (REQUESTED_AT, EXPIRES_AT, None)
    assert (requested.model_group, requested.version, requested.correlation_id) == ("sentiment", "1.4.0", VERSION_ID)
    assert TOKEN not in requested.model_dump_json()


def test_a_retried_request_reuses_the_approval_and_seals_the_new_token() -> None:
    # Given the dev approval was requested, and ana approved meanwhile
    world = World(rules=rules_json(dev=DEV_BY_TWO))
    first = world.request(Stage.DEV, token=TOKEN)
    world.decide(first, "ana.ortiz")

    # When Step Functions retries the step, with a new task token
    world.clock.advance(timedelta(minutes=1))
    again = world.request(Stage.DEV, token="task-token-second-attempt")

    # Then it is the same approval, ana's approval kept, and the token waited on is the new one
    assert again == first
    assert len(world.approvals.approvals) == 1
    stored = world.approval(first)
    assert [d.approver_id for d in stored.state.decisions] == ["ana.ortiz"]
    assert stored.state.requested_at == REQUESTED_AT
    assert stored.sealed_task_token is not None
    assert world.vault.unseal(stored.sealed_task_token, first) == "task-token-second-attempt"
    # And the announcement has the same identity, so consumers deduplicate it
    assert len({event.event_id for event in world.events(ApprovalRequested)}) == 1


@pytest.mark.parametrize(
    ("stage", "status"),
    [
        (Stage.DEV, VersionStatus.EVALUATED),
        (Stage.DEV, VersionStatus.REJECTED),
        (Stage.DEV, VersionStatus.APPROVED),
        (Stage.PREPROD, VersionStatus.PENDING_APPROVAL),
        (Stage.PREPROD, VersionStatus.REJECTED),
        (Stage.PROD, VersionStatus.PENDING_APPROVAL),
        (Stage.PROD, VersionStatus.EVALUATED),
    ],
)
def test_a_stage_is_not_opened_outside_the_status_it_is_asked_in(stage: Stage, status: VersionStatus) -> None:
    # Given dev is asked while the version waits for it, preprod and prod once dev released it
    world = World()
    world.catalog.records[VERSION_ID] = catalog_record(status=status)

    # When another stage's approval is asked for, Then it is refused, naming the status it needs
    awaited = "PendingApproval" if stage is Stage.DEV else "Approved"
    with pytest.raises(NotAwaitingApproval, match=f"is {status.value}, not {awaited}: its {stage.value} approval"):
        world.request(stage)

    assert world.approvals.approvals == {} and world.bus.published == []


def test_an_occasions_approval_of_dev_is_asked_of_an_approved_version_only() -> None:
    # Given a version still waiting for its own dev approval
    world = World()

    # When a rollback of dev to it asks for approval, Then it is refused: it was never released
    with pytest.raises(NotAwaitingApproval, match="is PendingApproval, not Approved: its dev approval"):
        world.request(Stage.DEV, occasion=ROLLBACK)

    # But once dev released it, the rollback's approval of dev opens, apart from the version's own
    world.release()
    rollback = world.request(Stage.DEV, occasion=ROLLBACK)
    assert world.approval(rollback).occasion == ROLLBACK
    assert world.approvals.for_stage(VERSION_ID, Stage.DEV) is None


@pytest.mark.parametrize("stage", [Stage.PREPROD, Stage.PROD])
def test_the_deployment_opens_preprod_and_prod_of_an_approved_version(stage: Stage) -> None:
    # Given dev released the version
    world = World()
    world.release()

    # When the deployment requests the stage's approval
    approval_id = world.request(stage)

    # Then it is open and announced, as the version's own approval of the stage
    stored = world.approval(approval_id)
    assert (stored.stage, stored.occasion, stored.state.outcome) == (stage, None, StageOutcome.PENDING)
    (requested,) = world.events(ApprovalRequested)
    assert requested.event_id == f"{VERSION_ID}#approval-requested#{stage.value}"


def test_an_unknown_version_is_not_opened() -> None:
    world = World()

    with pytest.raises(VersionNotFound):
        world.request(version_id="sentiment/9.9.9")

    assert world.approvals.approvals == {}


def test_a_stage_the_directory_cannot_complete_does_not_open() -> None:
    # Given dev needs two ml-engineers, and of the two in the directory one is the submitter
    world = World(
        rules=rules_json(dev={"groups": ["ml-engineers"], "quorum": 2}),
        directory=directory_json({SUBMITTER: {"groups": ["ml-engineers"]}}, only={SUBMITTER, "ana.ortiz"}),
    )

    # When the approval is requested, Then it fails fast (the promotion rejects with the reason)
    with pytest.raises(QuorumUnreachable, match="needs 2 approvers but only 1"):
        world.request(Stage.DEV)

    # And nothing waits and nobody is notified
    assert world.approvals.approvals == {} and world.bus.published == []


@pytest.mark.parametrize("key", [RULES_KEY, DIRECTORY_KEY])
def test_approvals_without_published_rules_or_directory_do_not_open(key: str) -> None:
    # Given the rules or the directory was never published
    world = World()
    del world.config.files[key]

    # When the approval is requested, Then nobody could approve: it fails with what to publish

    with pytest.raises(ApprovalConfigMissing, match=key):
        world.request()

    assert world.approvals.approvals == {} and world.bus.published == []


def test_prod_excludes_whoever_approved_an_earlier_stage() -> None:
    # Given chen approved preprod of this version (prod separates earlier stages), and ben approved dev
    world = World(rules=rules_json(dev=DEV_BY_ONE, preprod={"groups": ["ml-leads"], "quorum": 1}))
    world.decide(world.request(Stage.DEV), "ben.okafor")
    world.release()
    world.decide(world.request(Stage.PREPROD, token="preprod-token"), "chen.wei")

    # When prod is requested
    prod = world.request(Stage.PROD, token="prod-token")

    # Then chen, though in model-risk, may not decide it
    assert earlier_approvers(VERSION_ID, Stage.PROD, world.approvals) == {"ben.okafor", "chen.wei"}
    assert earlier_approvers(VERSION_ID, Stage.DEV, world.approvals) == set()
    assert world.approval(prod).state.earlier_approvers == frozenset({"ben.okafor", "chen.wei"})
    requested = world.events(ApprovalRequested)[-1]
    assert requested.stage == "prod"
    assert requested.eligible_approvers == ["dara.novak", "eli.haddad", "fatima.rahman"]


# ------------------------------------------------------------------------------ an occasion's own approval


def approved_through_prod(world: World) -> str:
    """dev by ben, preprod by chen, prod by dara, each resumed: the version serves in prod. Returns prod's id."""
    world.decide(world.request(Stage.DEV), "ben.okafor")
    world.release()
    world.decide(world.request(Stage.PREPROD, token="preprod-token"), "chen.wei")
    prod = world.request(Stage.PROD, token="prod-token")
    world.decide(prod, "dara.novak")
    for approval in list(world.approvals.approvals.values()):
        world.resume(approval.approval_id)
    return prod


def test_a_rollback_gets_a_fresh_approval_though_the_stage_was_approved_before() -> None:
    # Given the version's prod approval was decided and resumed long ago
    world = World(rules=rules_json(**EACH_BY_ONE))
    prod = approved_through_prod(world)
    world.clock.advance(timedelta(days=30))
    since = len(world.bus.published)

    # When a manual rollback of prod to this version asks for its approval
    rollback = world.request(Stage.PROD, token="rollback-token", occasion=ROLLBACK)

    # Then a new, pending approval waits on the rollback's token; the earlier one is untouched
    assert rollback != prod
    stored = world.approval(rollback)
    assert (stored.occasion, stored.stage, stored.state.outcome) == (ROLLBACK, Stage.PROD, StageOutcome.PENDING)
    assert stored.state.requested_at == REQUESTED_AT + timedelta(days=30) and stored.resumed_at is None
    assert stored.sealed_task_token is not None
    assert world.vault.unseal(stored.sealed_task_token, rollback) == "rollback-token"
    assert world.approvals.for_stage(VERSION_ID, Stage.PROD) == world.approval(prod)
    assert world.approvals.for_stage(VERSION_ID, Stage.PROD, ROLLBACK) == stored
    # And separation of duties looks at the version's own earlier stages: dara may decide prod again
    assert stored.state.earlier_approvers == frozenset({"ben.okafor", "chen.wei"})
    (requested,) = world.events(ApprovalRequested, since=since)
    assert requested.approval_id == rollback and "dara.novak" in requested.eligible_approvers
    # And its events are its own, not duplicates of the version's prod approval
    assert requested.event_id == f"{VERSION_ID}#approval-requested#prod#{ROLLBACK}"
    assert requested.event_id not in {event.event_id for event in world.bus.published[:since]}


def test_a_retried_rollback_request_reuses_the_rollbacks_approval() -> None:
    world = World(rules=rules_json(**EACH_BY_ONE))
    approved_through_prod(world)
    first = world.request(Stage.PROD, token="rollback-token", occasion=ROLLBACK)

    again = world.request(Stage.PROD, token="rollback-token-retried", occasion=ROLLBACK)
    another = world.request(Stage.PROD, token="other-rollback-token", occasion="rollback:sentiment--1.4.0--r2")

    assert again == first and another != first
    stored = world.approval(first)
    assert stored.sealed_task_token is not None
    assert world.vault.unseal(stored.sealed_task_token, first) == "rollback-token-retried"


def test_an_occasions_approval_is_not_an_earlier_stage() -> None:
    # Given a rollback's approval of preprod granted by chen, and dev by ben
    world = World(rules=rules_json(**EACH_BY_ONE))
    world.decide(world.request(Stage.DEV), "ben.okafor")
    world.release()
    world.decide(world.request(Stage.PREPROD, token="preprod-token", occasion=ROLLBACK), "chen.wei")

    # Then prod's separation of duties knows only the version's own approvals
    assert earlier_approvers(VERSION_ID, Stage.PROD, world.approvals) == {"ben.okafor"}


def test_an_approved_rollback_resumes_with_its_occasion() -> None:
    world = World(rules=rules_json(**EACH_BY_ONE))
    approved_through_prod(world)
    rollback = world.request(Stage.PROD, token="rollback-token", occasion=ROLLBACK)
    stored = world.decide(rollback, "dara.novak")

    assert world.resume(rollback).delivered
    assert world.callbacks.answers[-1][:2] == ("rollback-token", "success")
    assert world.callbacks.answers[-1][2] == approved_output(stored)
    assert approved_output(stored) == {
        "approval_id": rollback,
        "stage": "prod",
        "approvers": [{"id": "dara.novak", "channel": "slack", "decided_at": REQUESTED_AT.isoformat()}],
        "occasion": ROLLBACK,
    }
    assert stage_decided_event(stored).event_id == f"{VERSION_ID}#approval-decided#prod#{ROLLBACK}"


def test_the_timer_reminds_and_escalates_a_rollbacks_approval_with_events_of_its_own() -> None:
    # Given a rollback's prod approval nobody decided for three days (reminder 2 days before expiry, escalation after 3)
    world = World(rules=rules_json(**EACH_BY_ONE))
    world.release()
    rollback = world.request(Stage.PROD, occasion=ROLLBACK)
    world.clock.moment = REQUESTED_AT + timedelta(days=3, minutes=1)

    # When the timer ticks
    report = world.sweep()

    # Then the reminder and the escalation carry the occasion in their identity
    assert (report.reminded, report.escalated) == (1, 1)
    (reminder,) = world.events(ApprovalReminderDue)
    (escalated,) = world.events(ApprovalEscalated)
    assert (reminder.approval_id, escalated.approval_id) == (rollback, rollback)
    assert reminder.event_id == f"{VERSION_ID}#approval-reminder#prod#{ROLLBACK}#1"
    assert escalated.event_id == f"{VERSION_ID}#approval-escalated#prod#{ROLLBACK}"


@pytest.mark.parametrize("occasion", ["", "-rollback", "rollback of prod", "rollback/x", "r" * 129])
def test_an_occasion_is_a_plain_identifier(occasion: str) -> None:
    with pytest.raises(ValidationError, match="occasion"):
        ApprovalWait(
            version_id=VERSION_ID,
            correlation_id=VERSION_ID,
            stage=Stage.PROD,
            execution_name="deploy-sentiment-1.4.0",
            task_token=TOKEN,
            occasion=occasion,
        )


# ------------------------------------------------------------------------------ resuming the promotion


def test_an_approved_stage_resumes_the_promotion_once_with_only_facts() -> None:
    # Given the stage reached its quorum
    world = World(rules=rules_json(dev=DEV_BY_ONE))
    approval_id = world.request()
    world.decide(approval_id, "ana.ortiz")

    # When "Approval Stage Decided" is delivered, twice
    first = world.resume(approval_id)
    duplicate = world.resume(approval_id)

    # Then one SendTaskSuccess went out, with who approved and no token
    assert (first.outcome, first.delivered) == ("approved", True)
    assert (duplicate.outcome, duplicate.delivered) == ("already_resumed", False)
    ((token, kind, output),) = world.callbacks.answers
    assert (token, kind) == (TOKEN, "success")
    assert output == approved_output(world.approval(approval_id))
    assert output == {
        "approval_id": approval_id,
        "stage": "dev",
        "approvers": [{"id": "ana.ortiz", "channel": "slack", "decided_at": REQUESTED_AT.isoformat()}],
    }
    assert TOKEN not in json.dumps(output)
    assert world.approval(approval_id).resumed_at == REQUESTED_AT


def test_a_rejected_stage_fails_the_task_naming_who_and_why() -> None:
    world = World()
    approval_id = world.request()
    world.decide(approval_id, "ben.okafor", Verdict.REJECT, "toxicity on short reviews is too high")

    resumed = world.resume(approval_id)

    assert resumed.outcome == "rejected"
    ((token, error, cause),) = world.callbacks.answers
    assert (token, error) == (TOKEN, "ApprovalRejected")
    assert isinstance(cause, str)
    assert "ben.okafor" in cause and "toxicity on short reviews is too high" in cause and "dev" in cause


def test_an_expired_stage_fails_the_task_as_expired() -> None:
    world = World(rules=rules_json(dev=DEV_BY_TWO))
    approval_id = world.request()
    world.decide(approval_id, "ana.ortiz")
    stored = world.approval(approval_id)
    world.approvals.save(stored.model_copy(update={"state": engine.expire(stored.state, EXPIRES_AT)}), stored)

    resumed = world.resume(approval_id)

    assert resumed.outcome == "expired"
    ((token, error, cause),) = world.callbacks.answers
    assert (token, error) == (TOKEN, "ApprovalExpired")
    assert isinstance(cause, str) and EXPIRES_AT.isoformat() in cause and "1 of 2 approvals" in cause


def test_a_pending_stage_resumes_nothing() -> None:
    world = World(rules=rules_json(dev=DEV_BY_TWO))
    approval_id = world.request()
    world.decide(approval_id, "ana.ortiz")

    resumed = world.resume(approval_id)

    assert (resumed.outcome, resumed.delivered) == ("pending", False)
    assert world.callbacks.answers == []
    assert world.approval(approval_id).resumed_at is None


@dataclass
class UnreachableCallbacks(RecordingCallbacks):
    """Step Functions does not take the answer (throttled, 5xx)."""

    def succeed(self, token: str, output: dict[str, object]) -> bool:
        raise ConnectionError("Step Functions is unreachable")


def test_an_answer_step_functions_did_not_take_is_sent_again_on_retry() -> None:
    # Given an approved stage, and Step Functions failing the first answer
    world = World(rules=rules_json(dev=DEV_BY_ONE), callbacks=UnreachableCallbacks())
    approval_id = world.request()
    world.decide(approval_id, "ana.ortiz")
    with pytest.raises(ConnectionError):
        world.resume(approval_id)

    # Then the claim was released, so the retry answers
    assert world.approval(approval_id).resumed_at is None
    world.callbacks = RecordingCallbacks()
    assert world.resume(approval_id).delivered
    assert world.answers() == [(TOKEN, "success")]


def test_the_stage_decided_event_of_a_rejection_names_the_rejecter_and_the_reason() -> None:
    world = World(rules=rules_json(dev=DEV_BY_TWO))
    approval_id = world.request()
    world.decide(approval_id, "ana.ortiz")
    world.clock.advance(timedelta(hours=2))
    stored = world.decide(approval_id, "ben.okafor", Verdict.REJECT, "fails on sarcasm")

    event = stage_decided_event(stored)

    assert (event.outcome, event.actor, event.reason) == ("rejected", "ben.okafor", "fails on sarcasm")
    assert event.decided_by == ["ana.ortiz", "ben.okafor"]
    assert event.decided_at == event.occurred_at == REQUESTED_AT + timedelta(hours=2)
    assert event.event_id == f"{VERSION_ID}#approval-decided#dev"


# ------------------------------------------------------------------------------ the timer


def test_the_timer_expires_an_overdue_stage_and_fails_the_promotion_once() -> None:
    # Given a pending stage with one of two approvals, and the clock at its expiry
    world = World(rules=rules_json(dev=DEV_BY_TWO))
    approval_id = world.request()
    world.decide(approval_id, "ana.ortiz")
    world.clock.moment = EXPIRES_AT
    since = len(world.bus.published)

    # When the timer ticks, twice
    report = world.sweep()
    again = world.sweep()

    # Then the stage expired, fail-closed, and the promotion got exactly one ApprovalExpired
    stored = world.approval(approval_id)
    assert stored.state.outcome is StageOutcome.EXPIRED and stored.state.closed_at == EXPIRES_AT
    assert stored.resumed_at is not None
    (decided,) = world.events(ApprovalStageDecided, since=since)
    assert (decided.outcome, decided.actor, decided.decided_by) == ("expired", "fmops:approvals", ["ana.ortiz"])
    assert world.answers() == [(TOKEN, "ApprovalExpired")]
    assert (report.expired, report.resumed, report.heartbeats) == (1, 1, 0)
    assert again == SweepReport()
    # And a late "Approval Stage Decided" delivery sends nothing more
    assert world.resume(approval_id).outcome == "already_resumed"
    assert len(world.callbacks.answers) == 1


def test_the_timer_reminds_the_pending_approvers_once() -> None:
    # Given two approvals needed, ana's given, and four hours less a minute before expiry (reminder at PT4H)
    world = World(rules=rules_json(dev=DEV_BY_TWO))
    approval_id = world.request()
    world.decide(approval_id, "ana.ortiz")
    world.clock.moment = EXPIRES_AT - timedelta(hours=4) + timedelta(minutes=1)

    # When the timer ticks, and ticks again at the same time
    first = world.sweep()
    second = world.sweep()

    # Then those who have not decided are reminded once
    (reminder,) = world.events(ApprovalReminderDue)
    assert reminder.pending_approvers == ["ben.okafor", "chen.wei"]
    assert reminder.expires_at == EXPIRES_AT
    assert (first.reminded, second.reminded) == (1, 0)
    assert world.approval(approval_id).state.reminders_sent == (timedelta(hours=4),)


def test_no_reminder_before_it_is_due() -> None:
    world = World(rules=rules_json(dev=DEV_BY_TWO))
    world.request()
    world.clock.moment = EXPIRES_AT - timedelta(hours=4) - timedelta(seconds=1)

    assert world.sweep().reminded == 0
    assert world.events(ApprovalReminderDue) == []


def test_the_timer_escalates_once() -> None:
    # Given dev escalates to release-managers after a day
    world = World(rules=rules_json(dev=DEV_ESCALATING))
    approval_id = world.request()
    world.clock.moment = REQUESTED_AT + timedelta(days=1)

    # When the timer ticks twice, an hour apart
    first = world.sweep()
    world.clock.advance(timedelta(hours=1))
    second = world.sweep()

    # Then the escalation group was notified once
    (escalated,) = world.events(ApprovalEscalated)
    assert (escalated.group, escalated.notified_approvers) == ("release-managers", ["gus.lindqvist"])
    assert (first.escalated, second.escalated) == (1, 0)
    assert world.approval(approval_id).state.escalated_at == REQUESTED_AT + timedelta(days=1)


def test_the_timer_heartbeats_the_waiting_promotion() -> None:
    world = World(rules=rules_json(dev=DEV_BY_TWO))
    approval_id = world.request()
    world.clock.advance(timedelta(hours=1))

    report = world.sweep()

    assert (report.looked_at, report.heartbeats) == (1, 1)
    assert world.callbacks.heartbeats == [TOKEN]
    assert world.callbacks.answers == []
    assert world.approval(approval_id).resumed_at is None


def test_the_timer_resumes_a_decided_stage_only_after_the_grace_period() -> None:
    # Given the stage was approved, and its "Approval Stage Decided" never resumed the promotion
    world = World(rules=rules_json(dev=DEV_BY_ONE))
    approval_id = world.request()
    world.clock.advance(timedelta(hours=1))
    world.decide(approval_id, "ana.ortiz")
    decided_at = world.clock.now()

    # When the timer ticks within the grace period, Then the event path keeps its chance
    world.clock.moment = decided_at + RESUME_GRACE - timedelta(seconds=1)
    assert world.sweep().resumed == 0
    assert world.callbacks.answers == []

    # When it ticks at the end of the grace period, Then the timer resumes it, once
    world.clock.moment = decided_at + RESUME_GRACE
    assert world.sweep().resumed == 1
    assert world.sweep().looked_at == 0
    assert world.answers() == [(TOKEN, "success")]


@dataclass
class StoppedExecution(RecordingCallbacks):
    """The waiting execution is gone (stopped by an operator, or timed out): its heartbeat fails."""

    def heartbeat(self, token: str) -> bool:
        super().heartbeat(token)
        return False


def test_an_approval_whose_promotion_is_gone_is_closed_without_an_answer() -> None:
    # Given a pending approval whose execution was stopped
    world = World(rules=rules_json(dev=DEV_BY_TWO), callbacks=StoppedExecution())
    approval_id = world.request()
    world.clock.advance(timedelta(hours=1))

    # When the timer ticks
    report = world.sweep()

    # Then the approval is closed: nothing is answered, and the timer stops looking at it
    assert (report.lost, report.heartbeats) == (1, 0)
    assert world.approval(approval_id).resumed_at == world.clock.now()
    assert world.callbacks.answers == []
    assert world.sweep().looked_at == 0


@dataclass
class DecisionDuringSweep(InMemoryApprovalStore):
    """The timer lists the approvals, then a decision lands on the first before the timer writes it."""

    decide_first: Callable[[str], object] | None = None

    def unresumed(self) -> Iterator[StoredApproval]:
        listed = list(super().unresumed())
        if self.decide_first is not None:
            self.decide_first(listed[0].approval_id)
        return iter(listed)


def test_a_decision_landing_during_the_sweep_does_not_stop_the_timer_for_the_others() -> None:
    # Given two versions waiting for dev, both with a reminder due
    store = DecisionDuringSweep()
    world = World(rules=rules_json(dev=DEV_BY_TWO), approvals=store)
    world.catalog.records["sentiment/2.0.0"] = catalog_record("sentiment/2.0.0")
    first = world.request()
    second = world.request(token="task-token-of-2.0.0", version_id="sentiment/2.0.0")
    world.clock.moment = EXPIRES_AT - timedelta(hours=3)
    # And ana approves the first one right after the timer listed them
    store.decide_first = lambda approval_id: world.decide(approval_id, "ana.ortiz")

    # When the timer ticks
    report = world.sweep()

    # Then the decision won over the timer's write on the first (the next tick looks again)
    assert [d.approver_id for d in world.approval(first).state.decisions] == ["ana.ortiz"]
    # And the second approval was still reminded and heartbeated in this tick
    assert second in [event.approval_id for event in world.events(ApprovalReminderDue)]
    assert report.looked_at == 2 and report.reminded >= 1
    assert "task-token-of-2.0.0" in world.callbacks.heartbeats


@dataclass
class LaggingIndex(InMemoryApprovalStore):
    """Like the adapter's `Unresumed` index: eventually consistent, it may still list an approval as it was
    a moment ago (the adapter's docstring: the timer re-reads each one before acting on it)."""

    stale: list[StoredApproval] = field(default_factory=list)

    def unresumed(self) -> Iterator[StoredApproval]:
        return iter(self.stale or list(super().unresumed()))


def test_the_timer_acts_on_the_approval_as_it_is_not_as_a_lagging_index_lists_it() -> None:
    # Given the index still lists an approval as pending, though it was approved and resumed a moment ago
    store = LaggingIndex()
    world = World(rules=rules_json(dev=DEV_BY_ONE), approvals=store)
    approval_id = world.request()
    store.stale = [world.approval(approval_id)]
    world.clock.advance(timedelta(hours=1))
    world.decide(approval_id, "ana.ortiz")
    assert world.resume(approval_id).delivered

    # When the timer ticks
    report = world.sweep()

    # Then it changes nothing and sends nothing more
    stored = world.approval(approval_id)
    assert stored.state.outcome is StageOutcome.APPROVED
    assert stored.resumed_at == world.clock.now()
    assert world.answers() == [(TOKEN, "success")]
    assert report.lost == 0
