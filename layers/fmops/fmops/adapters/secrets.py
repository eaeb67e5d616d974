"""Secrets from AWS Secrets Manager, fetched at run time and cached per process for a bounded time.

Values come out as `SecretBytes`, so no repr, log line or traceback shows them; nothing here logs.
A value is reused for `max_age` (5 minutes by default): a warm Lambda does not call Secrets Manager
on every request, and a rotated value (put-secret-value) is picked up within that time.
Failures are not cached: once an operator sets a missing secret, the next call sees it.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from botocore.exceptions import ClientError
from pydantic import SecretBytes

from fmops.adapters import client, error_code

DEFAULT_MAX_AGE = timedelta(minutes=5)


class SecretNotSet(RuntimeError):
    """The secret does not exist, has no current value, or an empty one: an operator has to set it."""

    def __init__(self, secret_id: str) -> None:
        super().__init__(
            f"secret {secret_id} has no value; set it with: "
            f"aws secretsmanager put-secret-value --secret-id {secret_id} --secret-string '<value>'"
        )
        self.secret_id = secret_id


class SecretsManagerSecrets:
    """`get(secret_id)`: the secret's current value (AWSCURRENT), SecretString as UTF-8 or SecretBinary."""

    def __init__(
        self,
        secretsmanager: Any = None,
        max_age: timedelta = DEFAULT_MAX_AGE,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._secretsmanager = secretsmanager
        self._max_age_s = max_age.total_seconds()
        self._clock = clock
        self._lock = threading.Lock()
        self._cache: dict[str, tuple[SecretBytes, float]] = {}

    def __repr__(self) -> str:
        return f"SecretsManagerSecrets(cached={len(self._cache)})"

    def get(self, secret_id: str) -> SecretBytes:
        now = self._clock()
        with self._lock:
            cached = self._cache.get(secret_id)
        if cached is not None and now - cached[1] < self._max_age_s:
            return cached[0]
        value = self._fetch(secret_id)
        with self._lock:
            self._cache[secret_id] = (value, now)
        return value

    def _fetch(self, secret_id: str) -> SecretBytes:
        secretsmanager = self._secretsmanager or client("secretsmanager")
        try:
            response = secretsmanager.get_secret_value(SecretId=secret_id)
        except ClientError as error:
            # Also what a secret created without a value answers (no AWSCURRENT version yet).
            if error_code(error) == "ResourceNotFoundException":
                raise SecretNotSet(secret_id) from error
            raise
        if "SecretString" in response:
            value = str(response["SecretString"]).encode("utf-8")
        else:
            value = bytes(response.get("SecretBinary") or b"")
        # A blank value is a value nobody set on purpose; an empty HMAC key or token must fail loudly.
        if not value.strip():
            raise SecretNotSet(secret_id)
        return SecretBytes(value)
