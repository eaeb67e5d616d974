"""The Slack interactivity endpoint: a signed button click or modal submission in, a decision out.

Order matters: Slack's signature over the raw bytes first (nothing is parsed before it holds),
then the replay key, then the payload. Approve decides at once. Reject opens a modal asking for
the reason (a rejection needs one, as on the page); its submission decides. The answer goes
back within Slack's 3 seconds: a few DynamoDB writes and one PutEvents. Updating the channel's
message happens asynchronously, in the approval notifier, on the recorded decision.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from pydantic import SecretBytes

from fmops.approvals import deciding
from fmops.approvals.deciding import DecisionDeps, Outcome, SlackRequest
from fmops.approvals.engine import Verdict
from fmops.approvals.slack_interaction import (
    SlackButtonClick,
    SlackInteractionInvalid,
    parse_slack_interaction,
    reject_reason_errors,
    reject_reason_modal,
)


class SlackActions(Protocol):
    def open_modal(self, trigger_id: str, view: dict[str, Any]) -> None: ...

    def post_ephemeral(self, channel: str, user: str, text: str) -> None: ...


@dataclass(frozen=True)
class SlackDeps:
    decisions: DecisionDeps
    signing_secret: Callable[[], SecretBytes]
    slack: SlackActions


@dataclass(frozen=True)
class SlackAnswer:
    status: int
    body: dict[str, Any] | None
    outcome: Outcome | None  # None: a modal was opened, nothing decided yet

    def proxy(self) -> dict[str, Any]:
        headers = {"Content-Type": "application/json"} if self.body is not None else {}
        return {"statusCode": self.status, "headers": headers, "body": json.dumps(self.body) if self.body else ""}


def handle(request: SlackRequest, deps: SlackDeps) -> SlackAnswer:
    refused = deciding.verify_slack(request, deps.signing_secret(), deps.decisions)
    if refused is not None:
        return SlackAnswer(401, {"error": refused.code}, refused)
    content_type = next((v for k, v in request.headers.items() if k.lower() == "content-type"), None)
    interaction = parse_slack_interaction(request.body, content_type)
    if isinstance(interaction, SlackInteractionInvalid):
        outcome = deciding.refuse_slack_request(
            request.request_id, interaction.code.value, interaction.message, deps.decisions
        )
        return SlackAnswer(400, {"error": interaction.code.value}, outcome)
    if isinstance(interaction, SlackButtonClick):
        if interaction.verdict is Verdict.REJECT:
            return _ask_for_reason(interaction, request.request_id, deps)
        outcome = deciding.decide_by_slack(
            interaction.user_id, interaction.approval_id, Verdict.APPROVE, None, request.request_id, deps.decisions
        )
        if not outcome.accepted:
            # Only the person who clicked sees why; the channel's message stays as it is.
            deps.slack.post_ephemeral(interaction.channel_id, interaction.user_id, f"Not recorded: {outcome.message}")
        return SlackAnswer(200, None, outcome)
    outcome = deciding.decide_by_slack(
        interaction.user_id,
        interaction.approval_id,
        Verdict.REJECT,
        interaction.reason,
        request.request_id,
        deps.decisions,
    )
    if not outcome.accepted:
        return SlackAnswer(200, reject_reason_errors(f"Not recorded: {outcome.message}"), outcome)
    return SlackAnswer(200, {"response_action": "clear"}, outcome)


def _ask_for_reason(click: SlackButtonClick, request_id: str, deps: SlackDeps) -> SlackAnswer:
    approval = deps.decisions.approvals.get(click.approval_id)
    if approval is None:
        outcome = deciding.decide_by_slack(  # judged (and refused, recorded) like any other attempt
            click.user_id, click.approval_id, Verdict.REJECT, None, request_id, deps.decisions
        )
        deps.slack.post_ephemeral(click.channel_id, click.user_id, f"Not recorded: {outcome.message}")
        return SlackAnswer(200, None, outcome)
    modal = reject_reason_modal(approval.approval_id, approval.version_id, approval.stage.value)
    deps.slack.open_modal(click.trigger_id, modal)
    return SlackAnswer(200, None, None)
