"""People approving on the local cloud, the way they would for real: over HTTP, with nothing but
what reached them (an e-mail in the local SES, a message in the Slack stub).

- `LocalApprover.email_link(...)` finds the approval link e-mailed to a person;
- `open_page` GETs it (the evidence page), `submit_decision` POSTs the page's own form;
- `slack_click` sends a button click to the interactivity endpoint, signed with the local
  signing secret exactly as Slack signs it (v0 HMAC over the raw body).
The demo (`make demo`), the end-to-end tests and the browser test use these.
"""

from __future__ import annotations

import json
import re
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from html.parser import HTMLParser
from typing import Any

from pydantic import SecretBytes

from fmops.approvals.slack_message import APPROVE_ACTION_ID, REJECT_ACTION_ID
from fmops.approvals.slack_signature import SIGNATURE_HEADER, TIMESTAMP_HEADER, slack_signature
from fmops_local.cloud import LocalCloud

_LINK = re.compile(r"(https?://\S+/approvals/[A-Za-z0-9_-]+\?\S+)")


@dataclass(frozen=True)
class HttpAnswer:
    status: int
    headers: dict[str, str]
    body: str
    seconds: float

    @property
    def notice(self) -> str | None:
        """The `data-kind` of a notice page (decided, expired, already_used, ...), None for the evidence page."""
        match = re.search(r'id="notice"[^>]*data-kind="([a-z_]+)"', self.body) or re.search(
            r'data-kind="([a-z_]+)"[^>]*id="notice"', self.body
        )
        return match.group(1) if match else None


class _Form(HTMLParser):
    """The decision form of the evidence page: its action and its hidden fields."""

    def __init__(self) -> None:
        super().__init__()
        self.action: str | None = None
        self.fields: dict[str, str] = {}
        self._inside = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        if tag == "form" and attributes.get("id") == "decision-form":
            self.action, self._inside = attributes.get("action"), True
        elif tag == "input" and self._inside and attributes.get("type") == "hidden" and attributes.get("name"):
            self.fields[str(attributes["name"])] = attributes.get("value") or ""

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self._inside = False


def decision_form(html: str) -> tuple[str, dict[str, str]]:
    """The action and hidden fields of the page's decision form (raises if the page has none)."""
    form = _Form()
    form.feed(html)
    if form.action is None:
        raise LookupError("the page has no decision form")
    return form.action, form.fields


def request(method: str, url: str, data: bytes | None = None, headers: dict[str, str] | None = None) -> HttpAnswer:
    started = time.perf_counter()
    prepared = urllib.request.Request(url, data=data, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(prepared, timeout=30) as response:
            body = response.read()
            status, answer_headers = response.status, dict(response.headers.items())
    except urllib.error.HTTPError as error:
        body, status, answer_headers = error.read(), error.code, dict(error.headers.items())
    return HttpAnswer(status, answer_headers, body.decode("utf-8", "replace"), time.perf_counter() - started)


class LocalApprover:
    """Acts for the people in the directory against a running local cloud."""

    def __init__(self, cloud: LocalCloud) -> None:
        self._cloud = cloud

    @property
    def api_url(self) -> str:
        return str(self._cloud.outputs["ApprovalApiUrl"]).rstrip("/")

    def email_link(self, email: str, version_id: str) -> str:
        """The newest approval link e-mailed to `email` about `version_id`."""
        for mail in reversed(self._cloud.sent_emails()):
            if email in mail.to and version_id in mail.subject.split() + mail.body.split():
                found = _LINK.search(mail.body)
                if found:
                    return found.group(1)
        raise LookupError(f"no approval link for {version_id} was e-mailed to {email}")

    def open_page(self, link: str, method: str = "GET") -> HttpAnswer:
        return request(method, link)

    def submit_decision(self, link: str, page: HttpAnswer, verdict: str, reason: str = "") -> HttpAnswer:
        """POST the page's own form (its hidden fields, CSRF token included) with a verdict."""
        action, fields = decision_form(page.body)
        origin = "{0.scheme}://{0.netloc}".format(urllib.parse.urlsplit(link))
        body = urllib.parse.urlencode({**fields, "verdict": verdict, "reason": reason}).encode()
        headers = {"Content-Type": "application/x-www-form-urlencoded"}
        return request("POST", origin + action, body, headers)

    def slack_payload(self, slack_user_id: str, approval_id: str, verdict: str = "approve") -> dict[str, Any]:
        """A block_actions payload as Slack sends it when someone clicks a button of an approval message."""
        message = next(m for m in self._cloud.slack.messages() if approval_id in json.dumps(m.blocks))
        now = f"{time.time():.6f}"
        return {
            "type": "block_actions",
            "user": {"id": slack_user_id, "username": slack_user_id.lower(), "team_id": "T0FMOPSLOCAL"},
            "team": {"id": "T0FMOPSLOCAL", "domain": "fmops-local"},
            "api_app_id": "A0FMOPSLOCAL",
            "trigger_id": f"{int(time.time())}.1234567890.abcdef0123456789abcdef0123456789",
            "container": {"type": "message", "message_ts": message.ts, "channel_id": message.channel},
            "channel": {"id": message.channel, "name": "approvals"},
            "message": {"ts": message.ts, "text": message.text},
            "actions": [
                {
                    "type": "button",
                    "action_id": APPROVE_ACTION_ID if verdict == "approve" else REJECT_ACTION_ID,
                    "block_id": "fmops_decision",
                    "value": approval_id,
                    "action_ts": now,
                }
            ],
        }

    def slack_request(self, payload: dict[str, Any], timestamp: int | None = None) -> tuple[bytes, dict[str, str]]:
        """The raw body and headers Slack would send for `payload`, signed with the local signing secret."""
        body = urllib.parse.urlencode({"payload": json.dumps(payload)}).encode()
        stamp = str(int(time.time()) if timestamp is None else timestamp)
        secret = SecretBytes(self._cloud.slack_signing_secret().encode())
        headers = {
            "Content-Type": "application/x-www-form-urlencoded",
            TIMESTAMP_HEADER: stamp,
            SIGNATURE_HEADER: slack_signature(secret, stamp, body),
        }
        return body, headers

    def post_to_slack_endpoint(self, body: bytes, headers: dict[str, str]) -> HttpAnswer:
        return request("POST", f"{self.api_url}/slack/interactivity", body, headers)

    def slack_click(self, slack_user_id: str, approval_id: str, verdict: str = "approve") -> HttpAnswer:
        body, headers = self.slack_request(self.slack_payload(slack_user_id, approval_id, verdict))
        return self.post_to_slack_endpoint(body, headers)


def approval_id_of(link: str) -> str:
    return urllib.parse.urlsplit(link).path.rstrip("/").rsplit("/", 1)[-1]
