"""The local cloud fires the template's rate(...) schedule rules, as EventBridge does.

The scheduler is tested with a fake clock (no waiting); one throwaway project then runs on a local
cloud with fire_schedules on and its schedule at rate(1 minute), and the test waits for the first
real tick (about a minute): it reaches the function asynchronously, as a real "Scheduled Event".
"""

from __future__ import annotations

import json
import logging
import textwrap
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from moto.events.models import Rule

from fmops_local import LocalCloud
from fmops_local.schedules import Schedule, Scheduler, discover, rate_seconds, scheduled_event

pytestmark = pytest.mark.integration

REPOSITORY = Path(__file__).resolve().parents[2]
SAMPLE = REPOSITORY / "events" / "scheduled_anchor_tick.json"
ACCOUNT_ID = "123456789012"
REGION = "us-east-1"


# ------------------------------------------------------------------ expressions and the event
@pytest.mark.parametrize(
    ("expression", "seconds"),
    [
        ("rate(1 minute)", 60.0),
        ("rate(5 minutes)", 300.0),
        ("rate(1 hour)", 3600.0),
        ("rate(12 hours)", 43200.0),
        ("rate(2 days)", 172800.0),
        ("cron(0 3 * * ? *)", None),
        ("rate(0 minutes)", None),
        ("rate(5 fortnights)", None),
        ("rate(minutes)", None),
    ],
)
def test_rate_expressions_give_their_period(expression: str, seconds: float | None) -> None:
    assert rate_seconds(expression) == seconds


def test_a_scheduled_event_has_eventbridges_shape() -> None:
    # Given the sample of a real scheduled tick
    sample = json.loads(SAMPLE.read_text())
    arn = sample["resources"][0]

    # When the local cloud builds the event for the same rule
    event = scheduled_event(arn, ACCOUNT_ID, REGION, datetime(2026, 11, 26, 13, 0, 0, 123456, tzinfo=UTC))

    # Then it is the same envelope, with its own id
    assert list(event) == list(sample)
    assert {key: value for key, value in event.items() if key != "id"} == {
        key: value for key, value in sample.items() if key != "id"
    }
    assert event["id"] != sample["id"]


def test_only_rate_schedules_are_discovered_and_each_other_one_is_named_once(
    caplog: pytest.LogCaptureFixture,
) -> None:
    # Given rules with a rate, a cron and no schedule
    def rule(name: str, expression: str | None, pattern: str | None = None) -> Rule:
        # moto's Rule is a CloudFormationModel, abstract to mypy only.
        return Rule(name, ACCOUNT_ID, REGION, None, pattern, expression, None, "default", "ENABLED")  # type: ignore[abstract]

    rules = [
        rule("Timer", "rate(5 minutes)"),
        rule("Nightly", "cron(0 3 * * ? *)"),
        rule("Uploaded", None, json.dumps({"source": ["aws.s3"]})),
    ]

    # When they are discovered
    with caplog.at_level(logging.WARNING, logger="fmops_local.schedules"):
        schedules = discover(rules)

    # Then the rate rule is fired every 300 s and the cron rule is skipped with one warning naming it
    assert schedules == [
        Schedule("Timer", f"arn:aws:events:{REGION}:{ACCOUNT_ID}:rule/Timer", "rate(5 minutes)", 300.0)
    ]
    [warning] = caplog.records
    assert "rule=Nightly" in warning.getMessage()
    assert "cron" in warning.getMessage()


# ------------------------------------------------------------------ the scheduler, on a fake clock
class FakeTime:
    """A clock that only moves when the scheduler sleeps; the scheduler is stopped once it reaches `until`."""

    def __init__(self, until: float, oversleep: dict[int, float] | None = None) -> None:
        self.now = 1000.0
        self.start = self.now
        self.until = until
        self.sleeps: list[float] = []
        self.oversleep = oversleep or {}
        self.scheduler: Scheduler | None = None

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds + self.oversleep.get(len(self.sleeps), 0.0)
        if self.now - self.start > self.until and self.scheduler is not None:
            self.scheduler.stop()


def run_scheduler(schedules: list[Schedule], fake: FakeTime, fire: Any = None) -> list[tuple[float, str]]:
    fired: list[tuple[float, str]] = []

    def record(schedule: Schedule) -> None:
        fired.append((fake.now - fake.start, schedule.rule_name))
        if fire is not None:
            fire(schedule)

    scheduler = Scheduler(schedules, record, clock=fake.clock, sleep=fake.sleep)
    fake.scheduler = scheduler
    scheduler.run()  # in this thread: returns when the fake clock passes `until`
    return fired


def schedule(name: str, interval_s: float) -> Schedule:
    return Schedule(name, f"arn:aws:events:{REGION}:{ACCOUNT_ID}:rule/{name}", f"rate({interval_s} s)", interval_s)


def test_each_schedule_fires_at_its_rate_the_first_time_one_interval_after_start() -> None:
    # Given a 60 s schedule and a 300 s one
    fake = FakeTime(until=650)

    # When the scheduler runs for 650 s
    fired = run_scheduler([schedule("Anchor", 60), schedule("Timer", 300)], fake)

    # Then nothing fires at start; each fires once per period, on time
    assert [at for at, name in fired if name == "Anchor"] == [60.0 * n for n in range(1, 11)]
    assert [at for at, name in fired if name == "Timer"] == [300.0, 600.0]


def test_a_late_tick_fires_once_and_the_schedule_keeps_its_cadence() -> None:
    # Given a machine that stalls 250 s during the first wait (a busy or suspended laptop)
    fake = FakeTime(until=400, oversleep={1: 250.0})

    # When a 60 s schedule runs
    fired = run_scheduler([schedule("Timer", 60)], fake)

    # Then the ticks missed meanwhile fire once, not once per missed period, then on the original grid
    assert [at for at, _ in fired] == [310.0, 360.0]


def test_a_failing_tick_does_not_stop_the_schedule(caplog: pytest.LogCaptureFixture) -> None:
    def fail(schedule: Schedule) -> None:
        raise RuntimeError("the local cloud is stopping")

    with caplog.at_level(logging.ERROR, logger="fmops_local.schedules"):
        fired = run_scheduler([schedule("Timer", 60)], FakeTime(until=200), fire=fail)

    assert [at for at, _ in fired] == [60.0, 120.0, 180.0]
    assert [record.getMessage() for record in caplog.records] == ["schedule tick failed: rule=Timer"] * 3


def test_the_thread_fires_until_stopped_and_stop_returns_at_once() -> None:
    # Given a scheduler on the real clock with a 50 ms schedule
    fired = threading.Semaphore(0)
    scheduler = Scheduler([schedule("Fast", 0.05)], lambda _schedule: fired.release())

    # When it has fired twice and is stopped
    scheduler.start()
    assert fired.acquire(timeout=5) and fired.acquire(timeout=5)
    started = time.monotonic()
    scheduler.stop()

    # Then the thread is gone at once and nothing fires any more
    assert time.monotonic() - started < 1
    assert not any(thread.name == "eventbridge-schedules" for thread in threading.enumerate())
    while fired.acquire(blocking=False):
        pass
    time.sleep(0.15)
    assert not fired.acquire(blocking=False)


def test_a_scheduler_without_schedules_starts_no_thread() -> None:
    scheduler = Scheduler([], lambda _schedule: None)
    scheduler.start()
    assert not any(thread.name == "eventbridge-schedules" for thread in threading.enumerate())
    scheduler.stop()


# ------------------------------------------------------------------ a local cloud that fires its schedules
TEMPLATE = """
AWSTemplateFormatVersion: "2010-09-09"
Transform: AWS::Serverless-2016-10-31
Parameters:
  TickSchedule:
    Type: String
    Default: rate(1 hour)
Resources:
  TickResultQueue:
    Type: AWS::SQS::Queue
  TickFunction:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: functions/tick
      Handler: app.handler
      Runtime: python3.12
      Timeout: 10
      EventInvokeConfig:
        MaximumRetryAttempts: 0
        DestinationConfig:
          OnSuccess: {Type: SQS, Destination: !GetAtt TickResultQueue.Arn}
      Events:
        Tick:
          Type: Schedule
          Properties:
            Schedule: !Ref TickSchedule
        Paused:
          Type: Schedule
          Properties:
            Schedule: !Ref TickSchedule
            Enabled: false
        Nightly:
          Type: Schedule
          Properties:
            Schedule: cron(0 3 * * ? *)
Outputs:
  TickResultQueueUrl:
    Value: !Ref TickResultQueue
"""

TICK = """
def handler(event, context):
    return {"ticked": event["id"]}
"""


class Recorded(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


@pytest.fixture(scope="module")
def warnings() -> Iterator[Recorded]:
    handler = Recorded()
    logger = logging.getLogger("fmops_local.schedules")
    logger.addHandler(handler)
    yield handler
    logger.removeHandler(handler)


@pytest.fixture(scope="module")
def cloud(tmp_path_factory: pytest.TempPathFactory, warnings: Recorded) -> Iterator[LocalCloud]:
    project = tmp_path_factory.mktemp("project")
    (project / "template.yaml").write_text(TEMPLATE)
    (project / "functions" / "tick").mkdir(parents=True)
    (project / "functions" / "tick" / "app.py").write_text(textwrap.dedent(TICK))
    overrides = {"TickSchedule": "rate(1 minute)"}
    with LocalCloud(project_root=project, port=0, parameter_overrides=overrides, fire_schedules=True) as running:
        yield running


def test_the_local_cloud_fires_its_rate_schedules_and_names_the_cron_one(cloud: LocalCloud, warnings: Recorded) -> None:
    # Then both rate(1 minute) rules are scheduled, the disabled one included (it is checked at each tick)
    assert sorted((s.expression, s.interval_s) for s in cloud.schedules) == [("rate(1 minute)", 60.0)] * 2
    assert all(s.rule_arn.startswith(f"arn:aws:events:{REGION}:{ACCOUNT_ID}:rule/") for s in cloud.schedules)
    # And the cron rule is named once in a warning
    [warning] = [message for message in warnings.messages if "cron(0 3 * * ? *)" in message]
    assert "Nightly" in warning


@pytest.mark.slow  # waits for the first real tick, about a minute
def test_a_tick_reaches_the_function_asynchronously_as_a_scheduled_event(cloud: LocalCloud) -> None:
    # Given the local cloud has just started, with TickSchedule at rate(1 minute)
    sqs = cloud.session().client("sqs", endpoint_url=cloud.endpoint_url)
    queue_url = cloud.outputs["TickResultQueueUrl"]
    enabled = {s.rule_name: s.rule_arn for s in cloud.schedules if "Paused" not in s.rule_name}
    [tick_arn] = enabled.values()

    # When its first tick comes, about a minute after start
    deadline = time.monotonic() + 75
    messages: list[Any] = []
    while not messages and time.monotonic() < deadline:
        messages = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10).get("Messages", [])
        time.sleep(0.5)
    cloud.wait_until_idle(timeout=10)

    # Then the function ran once, as an async (Event) invocation whose success went to its destination
    assert [(i.invocation_type, i.error_type) for i in cloud.invocations("TickFunction")] == [("Event", None)]
    [message] = messages
    record = json.loads(message["Body"])
    assert record["requestContext"]["condition"] == "Success"
    # And what it received is a Scheduled Event from the enabled rule only (the paused one is skipped)
    event = record["requestPayload"]
    assert event["source"] == "aws.events"
    assert event["detail-type"] == "Scheduled Event"
    assert event["resources"] == [tick_arn]
    assert event["detail"] == {}
    assert (event["account"], event["region"]) == (ACCOUNT_ID, REGION)
    sent_at = datetime.strptime(event["time"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    assert abs((datetime.now(UTC) - sent_at).total_seconds()) < 30
    assert record["responsePayload"] == {"ticked": event["id"]}
