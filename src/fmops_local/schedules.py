"""EventBridge schedules, which moto stores but never fires.

A rule whose ScheduleExpression is `rate(N minute|minutes|hour|hours|day|days)` fires every N
units, its first tick one interval after the schedules start (with the local cloud). Each tick
sends a "Scheduled Event" (source aws.events, resources [the rule's ARN], detail {}) to the
rule's targets through events.TargetDelivery, the path of every EventBridge delivery in the
local cloud: a Lambda target is invoked asynchronously (retries, then its on-failure
destination), a state machine target starts an execution, and a target that cannot be reached
sends the event to its DeadLetterConfig queue.

Not done:
- `cron(...)` expressions: a warning names each such rule once, at start, and it never fires
  (invoke its target with a scheduled event by hand);
- rules created or re-scheduled after start: schedules are read once, when the local cloud starts;
- missed ticks: a tick that comes late (a busy or suspended machine) fires once, not once per
  missed period, and EventBridge does not backfill either.
A rule disabled (`aws events disable-rule`) or deleted after start is skipped at each tick.
"""

from __future__ import annotations

import logging
import re
import threading
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from moto.events.models import Rule, events_backends

from fmops_local.events import TargetDelivery

LOG = logging.getLogger(__name__)

# What events.TargetDelivery delivers itself; moto would deliver the rest, but not for a schedule.
_DELIVERED_HERE = ("lambda", "states")

_RATE = re.compile(r"^rate\(\s*(\d+)\s+(minute|minutes|hour|hours|day|days)\s*\)$")
_UNIT_SECONDS = {"minute": 60, "hour": 3600, "day": 86400}


@dataclass(frozen=True)
class Schedule:
    """A schedule rule the local cloud fires: its name and ARN, its expression and its period."""

    rule_name: str
    rule_arn: str
    expression: str
    interval_s: float


def rate_seconds(expression: str) -> float | None:
    """The period of `rate(N unit)` in seconds; None for anything else (cron, or an invalid rate)."""
    match = _RATE.match(expression.strip())
    if match is None or int(match[1]) < 1:
        return None
    return float(int(match[1]) * _UNIT_SECONDS[match[2].removesuffix("s")])


def scheduled_event(rule_arn: str, account_id: str, region: str, now: datetime | None = None) -> dict[str, Any]:
    """The event EventBridge sends a schedule rule's targets (see events/scheduled_anchor_tick.json)."""
    at = (now or datetime.now(UTC)).astimezone(UTC)
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": account_id,
        "time": at.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "region": region,
        "resources": [rule_arn],
        "detail": {},
    }


def discover(rules: Iterable[Rule]) -> list[Schedule]:
    """The rules with a rate schedule; each rule with another schedule expression is logged once and left out."""
    schedules = []
    for rule in rules:
        expression = rule.scheduled_expression
        if not expression:
            continue
        interval_s = rate_seconds(expression)
        if interval_s is None:
            why = "cron expressions are not fired locally" if expression.startswith("cron(") else "not a rate"
            LOG.warning(
                "schedule not fired by the local cloud: rule=%s expression=%s (%s; invoke its target by hand)",
                rule.name,
                expression,
                why,
            )
            continue
        schedules.append(Schedule(rule.name, rule.arn, expression, interval_s))
    return schedules


class Scheduler:
    """Calls fire(schedule) every schedule.interval_s, the first time one interval after start().

    run() is the loop; start() runs it in a daemon thread and stop() ends it. clock (monotonic
    seconds) and sleep are injectable so the loop can be tested without waiting: sleep(seconds)
    must return once the time has passed, or earlier when stop() was called (the default,
    threading.Event.wait, does both). A fire that raises is logged; the schedule goes on.
    """

    def __init__(
        self,
        schedules: Iterable[Schedule],
        fire: Callable[[Schedule], None],
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], object] | None = None,
    ) -> None:
        self.schedules = tuple(schedules)
        self._fire = fire
        self._clock = clock
        self._stopping = threading.Event()
        self._sleep = sleep or self._stopping.wait
        self._due: list[float] = []
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        if not self.schedules:
            return
        self._thread = threading.Thread(target=self.run, name="eventbridge-schedules", daemon=True)
        self._thread.start()

    def run(self) -> None:
        started = self._clock()
        self._due = [started + schedule.interval_s for schedule in self.schedules]
        while self._due and not self._stopping.is_set():
            self._sleep(max(0.0, min(self._due) - self._clock()))
            if self._stopping.is_set():
                return
            self._fire_due(self._clock())

    def stop(self, timeout: float = 5) -> None:
        self._stopping.set()
        thread, self._thread = self._thread, None
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout)

    def _fire_due(self, now: float) -> None:
        for index, schedule in enumerate(self.schedules):
            due = self._due[index]
            if due > now:
                continue
            while due <= now:  # one tick however late
                due += schedule.interval_s
            self._due[index] = due
            try:
                self._fire(schedule)
            except Exception:
                LOG.exception("schedule tick failed: rule=%s", schedule.rule_name)


class LocalSchedules:
    """The local cloud's rate schedules, read from moto's default bus and fired through TargetDelivery."""

    def __init__(self, delivery: TargetDelivery, account_id: str, region: str) -> None:
        self._delivery = delivery
        self._account_id = account_id
        self._region = region
        self._skipped_targets: set[tuple[str, str]] = set()
        self._scheduler = Scheduler(discover(list(self._rules().values())), self.fire)

    @property
    def schedules(self) -> tuple[Schedule, ...]:
        return self._scheduler.schedules

    def start(self) -> None:
        for schedule in self.schedules:
            LOG.info("firing schedule rule=%s expression=%s", schedule.rule_name, schedule.expression)
        self._scheduler.start()

    def stop(self) -> None:
        self._scheduler.stop()

    def fire(self, schedule: Schedule) -> None:
        """One tick: the rule's targets get a Scheduled Event now, unless the rule is gone or disabled."""
        rule = self._rules().get(schedule.rule_name)
        if rule is None or rule.state != "ENABLED":
            LOG.info("schedule skipped: rule=%s state=%s", schedule.rule_name, rule.state if rule else "deleted")
            return
        event = scheduled_event(rule.arn, self._account_id, self._region)
        LOG.info("schedule tick rule=%s event_id=%s", rule.name, event["id"])
        for target in list(rule.targets):
            if target["Arn"].split(":")[2] in _DELIVERED_HERE:
                self._delivery.deliver(rule, target, event)
            elif (rule.name, target["Arn"]) not in self._skipped_targets:
                self._skipped_targets.add((rule.name, target["Arn"]))
                LOG.warning("schedule target not fired locally: rule=%s target=%s", rule.name, target["Arn"])

    def _rules(self) -> dict[str, Rule]:
        # Schedule expressions are allowed on the default bus only.
        return dict(events_backends[self._account_id][self._region].event_buses["default"].rules)
