"""The CSRF token of the evidence page's decision form, bound to one e-mailed link.

`csrf_token = base64url(HMAC-SHA256(key, purpose | link_id | sha256(verifier) | approval_id |
approver_id))`, each field length-prefixed so that no two different inputs share a message. The
page rendered for a link embeds it in the form; the POST must bring it back. A token taken from
another link's page, another approver's, or minted under another key does not match.

It is stateless and deterministic: re-rendering the page gives the same token, nothing is stored
on GET, and it dies with the link (the POST verifies the link first; a used or expired link is
refused before its CSRF token matters). Rotating the key only invalidates pages already open,
which a reload fixes. The key is its own secret (not Slack's, not anything else's), at least
32 bytes, passed as `SecretBytes` so that no repr or log shows it.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from enum import StrEnum
from typing import Literal

from pydantic import BaseModel, ConfigDict, SecretBytes

from fmops.approvals.links import LinkRecord

# Domain separation: an HMAC computed under this key for any other purpose can never pass here.
PURPOSE = "fmops/approvals/email-decision/v1"
FORM_FIELD = "csrf_token"
MIN_KEY_BYTES = 32


class CsrfRefusalCode(StrEnum):
    CSRF_MISSING = "csrf_missing"
    CSRF_MISMATCH = "csrf_mismatch"


class _Frozen(BaseModel):
    model_config = ConfigDict(defer_build=True, extra="forbid", frozen=True)


class CsrfValid(_Frozen):
    kind: Literal["valid"] = "valid"


class CsrfRefusal(_Frozen):
    kind: Literal["refused"] = "refused"
    code: CsrfRefusalCode
    message: str


CsrfVerification = CsrfValid | CsrfRefusal


def csrf_token(key: SecretBytes, link: LinkRecord) -> str:
    """The token to embed in the decision form of the page rendered for `link`."""
    secret = key.get_secret_value()
    if len(secret) < MIN_KEY_BYTES:
        raise ValueError(f"the CSRF key must be at least {MIN_KEY_BYTES} bytes")
    fields = (PURPOSE, link.link_id, link.verifier_sha256, link.approval_id, link.approver_id)
    message = b"".join(b"%d:%s" % (len(f.encode()), f.encode()) for f in fields)
    digest = hmac.new(secret, message, hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def verify_csrf(key: SecretBytes, link: LinkRecord, presented: str | None) -> CsrfVerification:
    """Check the form's CSRF token against the one for `link` (verify the link itself first)."""
    if not presented:
        return CsrfRefusal(code=CsrfRefusalCode.CSRF_MISSING, message=f"the form has no {FORM_FIELD}")
    expected = csrf_token(key, link)
    # Bytes, not str: compare_digest raises on non-ASCII str, and the form field is attacker text.
    if not hmac.compare_digest(expected.encode("ascii"), presented.encode("utf-8", "surrogateescape")):
        return CsrfRefusal(code=CsrfRefusalCode.CSRF_MISMATCH, message=f"the {FORM_FIELD} is not this page's")
    return CsrfValid()
