"""Small boto3 adapters implementing fmops.ports. Clients are created lazily and cached;
endpoints come from the standard AWS configuration (AWS_ENDPOINT_URL in the local cloud)."""

from functools import cache
from typing import Any

import boto3
from botocore.config import Config

# Standard retry mode: exponential backoff with jitter on throttling and 5xx.
_CONFIG = Config(retries={"max_attempts": 5, "mode": "standard"})


@cache
def client(service: str) -> Any:
    return boto3.client(service, config=_CONFIG)  # type: ignore[call-overload]


def error_code(error: Exception) -> str:
    response = getattr(error, "response", None) or {}
    return str(response.get("Error", {}).get("Code", ""))
