"""Where asynchronous invocation results and undeliverable events go: SQS, SNS, EventBridge or Lambda."""

from __future__ import annotations

import json
import logging
import threading
from typing import Any

import boto3

LOG = logging.getLogger(__name__)


class Destinations:
    """Sends to destinations through the moto endpoint, like the AWS services do."""

    def __init__(self, session: boto3.Session, endpoint_url: str) -> None:
        self._session = session
        self._endpoint_url = endpoint_url
        self._clients: dict[str, Any] = {}
        self._lock = threading.Lock()

    def send(
        self, arn: str, body: dict[str, Any], *, detail_type: str, attributes: dict[str, str] | None = None
    ) -> None:
        """Deliver `body` to the destination `arn`; errors are logged, never raised (the caller has no one to tell)."""
        service = arn.split(":")[2]
        message = json.dumps(body)
        try:
            if service == "sqs":
                sqs = self._client("sqs")
                account, name = arn.split(":")[4], arn.split(":")[5]
                url = sqs.get_queue_url(QueueName=name, QueueOwnerAWSAccountId=account)["QueueUrl"]
                message_attributes = {
                    key: {"DataType": "String", "StringValue": value} for key, value in (attributes or {}).items()
                }
                sqs.send_message(QueueUrl=url, MessageBody=message, MessageAttributes=message_attributes)
            elif service == "sns":
                self._client("sns").publish(TopicArn=arn, Message=message)
            elif service == "events":
                self._client("events").put_events(
                    Entries=[{"EventBusName": arn, "Source": "lambda", "DetailType": detail_type, "Detail": message}]
                )
            elif service == "lambda":
                self._client("lambda").invoke(FunctionName=arn, InvocationType="Event", Payload=message.encode())
            else:
                LOG.error("unsupported destination %s; dropped %s", arn, detail_type)
        except Exception:
            LOG.exception("could not deliver %s to %s", detail_type, arn)

    def _client(self, service: str) -> Any:
        with self._lock:  # boto3 sessions are not thread-safe; clients are
            if service not in self._clients:
                self._clients[service] = self._session.client(service, endpoint_url=self._endpoint_url)  # type: ignore[call-overload]
            return self._clients[service]
