"""E-mailed approval links: single-use, expiring, bound to one approver and one approval request.

Design: a random split token, stored only as a hash (the "selector/verifier" pattern of
password-reset links). A token is `{link_id}.{verifier}`: `link_id` is 96 random bits, the item's
key, not secret; `verifier` is 256 random bits (`secrets.token_urlsafe(32)`). The stored
`LinkRecord` holds `sha256(verifier)`, the approval id, the approver id, the expiry and when it
was used - never the token.

Why this and not an HMAC token carrying (approval, approver, expiry) under a key:
- Single use needs a stored record anyway (something has to remember "used"), so a
  self-contained token saves no lookup; it only adds a signing key whose leak would let anyone
  mint links for any approver and approval, and whose rotation kills every open link.
- A leaked table (backup, export, over-broad read role) yields hashes of 256-bit random values:
  not invertible, and no salt or pepper is needed because nothing here is guessable.
- Revoking a link, or every link of an approval, is deleting items.
- The key lookup is by `link_id`, not by the secret part, and the secret part is compared in
  constant time: a timing difference in the database lookup reveals nothing about the verifier.
  It also tells a link that never existed (`unknown_link`) from a real one with an altered
  secret (`tampered`), which is worth an alert.
The Step Functions task token is never in a link: the token is random bytes only, and the
record names the approval by its opaque id; the task token stays in the approval's stage item.

Flow and state:
- GET (and HEAD) render the evidence page from the stored record after `verify_link`; nothing is
  consumed, so mail scanners and link previewers that fetch every URL change nothing. This module
  offers nothing stateful for GET on purpose.
- The decision is a POST carrying the link token and the page's CSRF token (`fmops.approvals.csrf`).
  After `verify_link` and the decision engine accept it, the adapter writes `consume(record, at)`
  with the condition `attribute_exists(link_id) AND attribute_not_exists(used_at) AND
  expires_at > :at`, in the same transaction as the decision: of two POSTs racing with one link
  exactly one wins; the loser re-reads and `verify_link` now answers `already_used`.
- Exactly at `expires_at` a link is expired (as a stage is in the decision engine); issue links
  with the stage's `expires_at` so that a link never outlives what it decides.

A link in a URL ends up in browser history and, unless prevented, in `Referer` headers and access
logs: the page must send `Referrer-Policy: no-referrer`, and API access logs must not record paths.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from datetime import datetime
from enum import StrEnum
from typing import Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, SecretStr, model_validator

from fmops.approvals import APPROVAL_ID_PATTERN
from fmops.approvals.directory import APPROVER_ID_PATTERN

LINK_ID_BYTES = 12
VERIFIER_BYTES = 32  # 256 bits: unguessable for as long as any link lives, and then some
# Opaque approval ids only (as in the Slack buttons): far too short for a task token.

_B64URL = "[A-Za-z0-9_-]"
_LINK_ID_CHARS = 16  # base64url length of LINK_ID_BYTES
_VERIFIER_CHARS = 43  # base64url length of VERIFIER_BYTES, unpadded
_TOKEN = re.compile(rf"({_B64URL}{{{_LINK_ID_CHARS}}})\.({_B64URL}{{{_VERIFIER_CHARS}}})", re.ASCII)


class LinkRefusalCode(StrEnum):
    UNKNOWN_LINK = "unknown_link"
    TAMPERED = "tampered"
    EXPIRED = "expired"
    ALREADY_USED = "already_used"
    NOT_YOURS = "not_yours"


class _Frozen(BaseModel):
    model_config = ConfigDict(defer_build=True, extra="forbid", frozen=True)


class LinkRecord(_Frozen):
    """What is stored for one link, keyed by `link_id`: everything but the token."""

    link_id: str = Field(pattern=rf"^{_B64URL}{{{_LINK_ID_CHARS}}}$")
    verifier_sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    approval_id: str = Field(pattern=APPROVAL_ID_PATTERN)
    approver_id: str = Field(pattern=APPROVER_ID_PATTERN)
    issued_at: AwareDatetime
    expires_at: AwareDatetime
    used_at: AwareDatetime | None = None

    @model_validator(mode="after")
    def _expires_after_issue(self) -> LinkRecord:
        if self.expires_at <= self.issued_at:
            raise ValueError("expires_at must be after issued_at")
        return self


class IssuedLink(_Frozen):
    """A new link: `token` goes into the e-mail (only there), `record` into the table."""

    token: SecretStr  # a bearer credential: masked in repr, logs and dumps
    record: LinkRecord


class LinkVerified(_Frozen):
    """The link is genuine, unused, unexpired and was issued for this approval and approver."""

    kind: Literal["verified"] = "verified"
    record: LinkRecord


class LinkRefusal(_Frozen):
    kind: Literal["refused"] = "refused"
    code: LinkRefusalCode
    message: str


LinkVerification = LinkVerified | LinkRefusal


def issue_link(*, approval_id: str, approver_id: str, issued_at: datetime, expires_at: datetime) -> IssuedLink:
    """A new single-use link for one approver of one approval request, valid until `expires_at`."""
    link_id = secrets.token_urlsafe(LINK_ID_BYTES)
    verifier = secrets.token_urlsafe(VERIFIER_BYTES)
    record = LinkRecord(
        link_id=link_id,
        verifier_sha256=_digest(verifier),
        approval_id=approval_id,
        approver_id=approver_id,
        issued_at=issued_at,
        expires_at=expires_at,
    )
    return IssuedLink(token=SecretStr(f"{link_id}.{verifier}"), record=record)


def link_id_of(token: str) -> str | None:
    """The key to look the record up by, or None when `token` is not shaped like a link token."""
    match = _TOKEN.fullmatch(token)
    return match.group(1) if match else None


def verify_link(
    token: str, record: LinkRecord | None, *, approval_id: str, approver_id: str, now: datetime
) -> LinkVerification:
    """Judge a presented link token against the record stored under `link_id_of(token)`.

    `record` is None when no item has that key. `approval_id` is the approval the handler is about
    to show or decide (from the route) and `approver_id` the person it will attribute the decision
    to (the signed-in identity, or the route's when the page is reached by the link alone): both
    must be the ones the link was issued for, so a link is never a credential for anything else.
    Checked in this order, the first that applies is the refusal: tampered (malformed), unknown,
    tampered (wrong secret), not yours, already used, expired.
    """
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    match = _TOKEN.fullmatch(token)
    if match is None:
        return _refuse(LinkRefusalCode.TAMPERED, "not a link fmops issued: altered or cut short")
    link_id, verifier = match.groups()
    # A record stored under another key is an adapter bug; refusing keeps it fail-closed.
    if record is None or record.link_id != link_id:
        return _refuse(LinkRefusalCode.UNKNOWN_LINK, "no such link: it never existed or was revoked")
    if not hmac.compare_digest(record.verifier_sha256, _digest(verifier)):
        return _refuse(LinkRefusalCode.TAMPERED, "the link's secret part was altered")
    if record.approval_id != approval_id or record.approver_id != approver_id:
        return _refuse(LinkRefusalCode.NOT_YOURS, "this link was issued for another approval or another approver")
    if record.used_at is not None:
        return _refuse(LinkRefusalCode.ALREADY_USED, f"this link was already used at {record.used_at.isoformat()}")
    if now >= record.expires_at:
        return _refuse(LinkRefusalCode.EXPIRED, f"this link expired at {record.expires_at.isoformat()}")
    return LinkVerified(record=record)


def consume(record: LinkRecord, at: datetime) -> LinkRecord:
    """The record after its one use at `at` (written conditionally, see the module docstring)."""
    if record.used_at is not None:
        raise ValueError("a link is used once; verify_link refuses a used one before this")
    return LinkRecord.model_validate({**record.model_dump(), "used_at": at})


def _digest(verifier: str) -> str:
    return hashlib.sha256(verifier.encode("ascii")).hexdigest()


def _refuse(code: LinkRefusalCode, message: str) -> LinkRefusal:
    return LinkRefusal(code=code, message=message)
