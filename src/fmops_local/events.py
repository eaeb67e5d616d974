"""EventBridge deliveries moto lacks: rule targets that are Lambda functions or state machines.

moto 5.2.5 matches event patterns (wildcard, prefix, suffix, anything-but,
numeric, exists, ... in EventPattern._does_item_match_named_filter) but
Rule.send_to_targets delivers only to SQS, CloudWatch Logs, archives, other
buses and API destinations. Lambda targets are invoked asynchronously here, as
EventBridge does (the event is queued per function and the put returns), and
state machine targets start an execution. A target that cannot be reached
sends the event to the target's DeadLetterConfig queue, with EventBridge's
message attributes.

S3's "Object Created" events are also re-shaped here: moto builds them with a
fixed event id, `eTag` instead of `etag`, and sends them to the rules of every
bus; AWS sends them to the default bus only.
"""

from __future__ import annotations

import copy
import json
import logging
import time
import uuid
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, cast

import boto3
from jsonpath_ng.ext.parser import parse as jsonpath
from moto.events.models import Rule, events_backends
from moto.events.utils import EventMessageType, EventTemplateParser
from moto.s3 import notifications as s3_notifications

from fmops_local.destinations import Destinations
from fmops_local.lambda_runtime import LambdaRuntime
from fmops_local.patching import Patcher

LOG = logging.getLogger(__name__)

_DELIVERED_HERE = ("lambda", "states")

# moto's S3 event names -> the `reason` AWS puts in the EventBridge detail.
_S3_REASONS = {
    "s3:ObjectCreated:Put": "PutObject",
    "s3:ObjectCreated:Post": "POST Object",
    "s3:ObjectCreated:Copy": "CopyObject",
    "s3:ObjectCreated:CompleteMultipartUpload": "CompleteMultipartUpload",
    "s3:ObjectRemoved:Delete": "DeleteObject",
    "s3:ObjectRemoved:DeleteMarkerCreated": "DeleteObject",
}


class TargetDelivery:
    def __init__(self, runtime: LambdaRuntime, destinations: Destinations, session: boto3.Session, endpoint_url: str):
        self._runtime = runtime
        self._destinations = destinations
        self._lambda = session.client("lambda", endpoint_url=endpoint_url)
        self._stepfunctions = session.client("stepfunctions", endpoint_url=endpoint_url)

    def deliver(self, rule: Rule, target: dict[str, Any], moto_event: Mapping[str, Any]) -> None:
        event = aws_event(moto_event)
        arn: str = target["Arn"]
        try:
            payload = _target_input(target, event, moto_event)
            if arn.split(":")[2] == "lambda":
                spec = self._runtime.find(arn)
                if spec is not None:
                    self._runtime.invoke_async(spec, payload)
                else:  # not a template function: let moto answer (echo, or not found)
                    self._lambda.invoke(FunctionName=arn, InvocationType="Event", Payload=json.dumps(payload).encode())
            else:
                self._stepfunctions.start_execution(
                    stateMachineArn=arn, name=str(uuid.uuid4()), input=json.dumps(payload)
                )
        except Exception as error:
            code = getattr(error, "response", {}).get("Error", {}).get("Code", type(error).__name__)
            LOG.warning("EventBridge could not deliver rule=%s target=%s error=%s", rule.name, arn, code)
            dead_letter = target.get("DeadLetterConfig", {}).get("Arn")
            if dead_letter:
                attributes = {
                    "RULE_ARN": rule.arn,
                    "TARGET_ARN": arn,
                    "ERROR_CODE": code,
                    "ERROR_MESSAGE": str(error)[:256],
                }
                self._destinations.send(
                    dead_letter, event, detail_type="EventBridge dead letter", attributes=attributes
                )


def aws_event(moto_event: Mapping[str, Any]) -> dict[str, Any]:
    """The event as EventBridge hands it to a target: ISO time, no moto bookkeeping."""
    event = {key: copy.deepcopy(value) for key, value in moto_event.items() if key != "ingestion-time"}
    event["time"] = _iso_time(event.get("time"))
    return event


def _iso_time(value: Any) -> str:
    if isinstance(value, (int, float)):
        value = datetime.fromtimestamp(value, tz=UTC)
    if isinstance(value, datetime):
        aware = value if value.tzinfo else value.replace(tzinfo=UTC)  # moto keeps naive UTC
        return aware.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return str(value) if value else datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _target_input(target: dict[str, Any], event: dict[str, Any], moto_event: Mapping[str, Any]) -> Any:
    if "Input" in target:
        return json.loads(target["Input"])
    if "InputPath" in target:
        matches = jsonpath(target["InputPath"]).find(event)
        return matches[0].value if matches else None
    if "InputTransformer" in target:
        transformer = target["InputTransformer"]
        # moto's parser also fills <aws.events.event.ingestion-time>, which needs its key.
        source = {**event, "ingestion-time": moto_event.get("ingestion-time", time.time())}
        paths = transformer.get("InputPathsMap", {})
        return EventTemplateParser.parse(transformer["InputTemplate"], paths, cast(EventMessageType, source))
    return event


def _s3_event_bridge_message(account_id: str, bucket: Any, event_name: str, key: Any) -> None:
    """Replaces moto.s3.notifications._send_event_bridge_message: AWS's shape, default bus only."""
    try:
        detail_object: dict[str, Any] = {"key": key.name, "size": key.size, "etag": key.etag.strip('"')}
        if key.version_id and key.version_id != "null":
            detail_object["version-id"] = key.version_id
        detail_object["sequencer"] = f"{time.time_ns():016X}"
        detail: dict[str, Any] = {
            "version": "0",
            "bucket": {"name": bucket.name},
            "object": detail_object,
            "request-id": uuid.uuid4().hex[:16].upper(),
            "requester": account_id,
            "source-ip-address": "127.0.0.1",
            "reason": _S3_REASONS.get(event_name, event_name.split(":")[1]),
        }
        if event_name.startswith("s3:ObjectRemoved"):
            deleted = "Delete Marker Created" if event_name.endswith("DeleteMarkerCreated") else "Permanently Deleted"
            detail["deletion-type"] = deleted
        entry = {
            "Source": "aws.s3",
            "DetailType": s3_notifications._detail_type(event_name),
            "Detail": json.dumps(detail),
            "Resources": [bucket.arn],
            "EventBusName": "default",
        }
        events_backends[account_id][bucket.region_name].put_events([entry])
    except Exception:
        # Asynchronous in AWS: the S3 call itself never fails because of it.
        LOG.exception("S3 EventBridge notification failed for s3://%s/%s", bucket.name, key.name)


def install_event_delivery(patcher: Patcher, delivery: TargetDelivery) -> None:
    """Wrap moto.events.models.Rule.send_to_targets and replace moto.s3.notifications._send_event_bridge_message."""

    def make_send_to_targets(original: Any) -> Any:
        def send_to_targets(rule: Rule, original_event: EventMessageType, transform_input: bool = True) -> None:
            if rule.state != "ENABLED":  # moto delivers for disabled rules too
                return
            # moto matches every event against a rule without a pattern, i.e. a schedule; in AWS such a
            # rule matches no event (it fires on its schedule, which the local cloud leaves to the caller).
            if rule.scheduled_expression and not rule.event_pattern._pattern:
                return
            if not rule.event_pattern.matches_event(original_event):
                return
            ours = [target for target in rule.targets if target["Arn"].split(":")[2] in _DELIVERED_HERE]
            for target in ours:
                delivery.deliver(rule, target, original_event)
            others = [target for target in rule.targets if target not in ours]
            if others:
                moto_part = copy.copy(rule)
                moto_part.targets = others
                original(moto_part, original_event, transform_input)

        return send_to_targets

    patcher.wrap(Rule, "send_to_targets", make_send_to_targets)
    patcher.wrap(s3_notifications, "_send_event_bridge_message", lambda _original: _s3_event_bridge_message)
