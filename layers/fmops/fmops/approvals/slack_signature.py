"""Verifying that a request to the Slack interactivity endpoint comes from Slack, once.

Slack signs every request with the app's signing secret (v0 scheme, "Verifying requests from
Slack"): `X-Slack-Signature: v0=<hex HMAC-SHA256(secret, "v0:{timestamp}:{raw body}")>` with
the timestamp in `X-Slack-Request-Timestamp`. The handler calls `verify_slack_request` before
anything else, parsing included: until the signature holds, the body is attacker-controlled
bytes and a parser is attack surface.

- The signature is over the raw bytes Slack sent. A body that went through a parser and back
  (other whitespace, key order or escaping) is different bytes and is refused; so the adapter
  passes `event["body"]` base64-decoded when `isBase64Encoded`, else encoded as UTF-8, and
  nothing else.
- The timestamp is used exactly as sent (only ASCII digits): the signed base string is built from
  the header text, so a lenient parse (`" 1531420618"`, `"+1531420618"`) gains an attacker nothing.
- A request is fresh while `|now - timestamp| <= 5 minutes` (Slack's recommendation, in both
  directions so that a clock ahead of ours cannot extend a captured request's life).
- Signatures are compared in constant time (`hmac.compare_digest`).

Replay: a valid request captured (proxy logs, a compromised network hop) can be resent verbatim
within its 5 minutes. `SlackVerified.replay_key` identifies the signed request; the adapter puts
it with `attribute_not_exists(pk)` *before* acting, and a failed condition means "seen": refuse.
The item's TTL attribute is `replay_expires_at` = timestamp + 5 min + 1 min margin: the request
stops verifying at timestamp + 5 min, so the key only needs to outlive that (the margin covers
clock differences between Lambda hosts). DynamoDB deletes expired items lazily, sometimes days
later; an undeleted key only refuses requests the timestamp check refuses anyway.
Two clicks on one button are two requests (different `action_ts`, so different bodies and
signatures): they are not replays, and the decision engine's "one decision per approver" settles
them.

The signing secret arrives as `SecretBytes` (fetched from Secrets Manager by an adapter) so that
no repr, log line or traceback shows it; nothing here logs.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, SecretBytes

SIGNATURE_HEADER = "X-Slack-Signature"
TIMESTAMP_HEADER = "X-Slack-Request-Timestamp"
SIGNATURE_VERSION = "v0"
MAX_CLOCK_SKEW = timedelta(minutes=5)
REPLAY_KEY_MARGIN = timedelta(minutes=1)

# At most 12 digits: epoch seconds until the year 33658, and no int() of a megabyte of digits.
_TIMESTAMP = re.compile(r"[0-9]{1,12}", re.ASCII)


class SlackRefusalCode(StrEnum):
    MISSING_HEADERS = "missing_headers"
    BAD_TIMESTAMP = "bad_timestamp"
    STALE_TIMESTAMP = "stale_timestamp"
    FUTURE_TIMESTAMP = "future_timestamp"
    BAD_SIGNATURE = "bad_signature"


class _Frozen(BaseModel):
    model_config = ConfigDict(defer_build=True, extra="forbid", frozen=True)


class SlackVerified(_Frozen):
    """A request Slack signed, fresh at `now`; the caller still has to claim its replay key."""

    kind: Literal["verified"] = "verified"
    request_timestamp: int
    replay_key: str
    replay_expires_at: AwareDatetime


class SlackRefusal(_Frozen):
    """A request that must not be acted on (answer 401 and stop; the body was not looked at)."""

    kind: Literal["refused"] = "refused"
    code: SlackRefusalCode
    message: str


SlackVerification = SlackVerified | SlackRefusal


def slack_signature(signing_secret: SecretBytes, timestamp: str, body: bytes) -> str:
    """The `X-Slack-Signature` value Slack sends for `body` at `timestamp` (`v0=<hex>`)."""
    secret = _key(signing_secret)
    base = b"%s:%s:%s" % (SIGNATURE_VERSION.encode("ascii"), timestamp.encode("ascii"), body)
    return f"{SIGNATURE_VERSION}={hmac.new(secret, base, hashlib.sha256).hexdigest()}"


def slack_replay_key(timestamp: str, signature: str) -> str:
    """The key identifying one signed request; equal for a resent request, different for any other.

    The signature already binds the timestamp and every byte of the body under the secret, so it
    identifies the request by itself; the timestamp is kept in clear for whoever reads the table.
    """
    return f"slack-{SIGNATURE_VERSION}#{timestamp}#{signature.removeprefix(f'{SIGNATURE_VERSION}=')}"


def verify_slack_request(
    *, headers: Mapping[str, str], body: bytes, signing_secret: SecretBytes, now: datetime
) -> SlackVerification:
    """Check that Slack signed exactly these bytes within 5 minutes of `now`.

    `headers` as API Gateway delivers them (REST APIs keep the sender's case, HTTP APIs lower-case
    names: both are accepted). `body` is the raw request body (see the module docstring).
    """
    if not isinstance(body, bytes):
        raise TypeError("body must be the raw request bytes, not a decoded or re-serialised payload")
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    _key(signing_secret)  # a misconfiguration fails every request loudly, whatever the headers

    timestamp = _header(headers, TIMESTAMP_HEADER)
    signature = _header(headers, SIGNATURE_HEADER)
    if not timestamp or not signature:
        missing = [name for name, value in ((TIMESTAMP_HEADER, timestamp), (SIGNATURE_HEADER, signature)) if not value]
        return _refuse(SlackRefusalCode.MISSING_HEADERS, f"missing or empty: {', '.join(missing)}")
    if not _TIMESTAMP.fullmatch(timestamp):
        return _refuse(SlackRefusalCode.BAD_TIMESTAMP, f"{TIMESTAMP_HEADER} is not epoch seconds in ASCII digits")

    sent_at = int(timestamp)
    age = now.timestamp() - sent_at
    skew = MAX_CLOCK_SKEW.total_seconds()
    if age > skew:
        return _refuse(SlackRefusalCode.STALE_TIMESTAMP, f"request is {int(age)} s old, more than {int(skew)} s")
    if -age > skew:
        return _refuse(
            SlackRefusalCode.FUTURE_TIMESTAMP, f"request is {int(-age)} s in the future, more than {int(skew)} s"
        )

    expected = slack_signature(signing_secret, timestamp, body)
    # Bytes, not str: compare_digest raises on non-ASCII str, and the header is attacker text.
    if not hmac.compare_digest(expected.encode("ascii"), signature.encode("utf-8", "surrogateescape")):
        return _refuse(SlackRefusalCode.BAD_SIGNATURE, "signature does not match the raw body and timestamp")

    return SlackVerified(
        request_timestamp=sent_at,
        replay_key=slack_replay_key(timestamp, signature),
        replay_expires_at=datetime.fromtimestamp(sent_at, UTC) + MAX_CLOCK_SKEW + REPLAY_KEY_MARGIN,
    )


def _key(signing_secret: SecretBytes) -> bytes:
    secret = signing_secret.get_secret_value()
    if not secret:
        # An empty key would let anyone compute valid signatures: a configuration error, not a refusal.
        raise ValueError("the Slack signing secret is empty")
    return secret


def _header(headers: Mapping[str, str], name: str) -> str | None:
    wanted = name.lower()
    return next((value for key, value in headers.items() if key.lower() == wanted), None)


def _refuse(code: SlackRefusalCode, message: str) -> SlackRefusal:
    return SlackRefusal(code=code, message=message)
