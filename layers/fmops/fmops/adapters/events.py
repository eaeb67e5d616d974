import json
from typing import Any

from fmops.adapters import client
from fmops.events import EVENT_SOURCE, FmopsEventDetail


class EventPublishFailed(RuntimeError):
    """EventBridge refused the entry; the caller's retry publishes it again (consumers dedupe on event_id)."""


class EventBridgeBus:
    def __init__(self, bus_name: str, events: Any = None) -> None:
        self._bus_name = bus_name
        self._events = events

    def publish(self, detail: FmopsEventDetail) -> None:
        events = self._events or client("events")
        response = events.put_events(
            Entries=[
                {
                    "Source": EVENT_SOURCE,
                    "DetailType": detail.detail_type,
                    "Detail": json.dumps(detail.model_dump(mode="json")),
                    "EventBusName": self._bus_name,
                    "Resources": [],
                }
            ]
        )
        if response.get("FailedEntryCount", 0):
            entry = response["Entries"][0]
            raise EventPublishFailed(f"{detail.detail_type}: {entry.get('ErrorCode')} {entry.get('ErrorMessage')}")
