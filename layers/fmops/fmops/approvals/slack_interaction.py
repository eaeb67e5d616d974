"""What an approver did in Slack, read from a request to the interactivity endpoint; and the reject modal.

Pure: bytes in, a frozen model out. Call `parse_slack_interaction` only after
`slack_signature.verify_slack_request` accepted the same raw bytes (and the replay key was claimed):
Slack then vouches for every field, the user id included, which is the approver's identity.

Slack posts `application/x-www-form-urlencoded` with a single `payload` field holding JSON
("Handling user interaction"). Two shapes are understood, everything else is refused:
- `block_actions` with exactly one action, one of the approval message's buttons
  (`slack_message.APPROVE_ACTION_ID` / `REJECT_ACTION_ID`) carrying an approval id:
  `SlackButtonClick`. A Reject click does not reject yet: the handler opens
  `reject_reason_modal` with its trigger id (valid for 3 seconds, once), because a rejection
  needs a reason.
- `view_submission` of that modal: `SlackRejectSubmitted` with the reason. The modal carries the
  approval id in `private_metadata` and nothing else; the submitter is the payload's user, whom
  Slack authenticated, not anything the modal says.
A refusal is a `SlackInteractionInvalid` (code and message, never payload values): answer 400 and
record it; nothing was decided.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from enum import StrEnum
from typing import Annotated, Any, Literal, TypeVar
from urllib.parse import parse_qs

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError

from fmops.approvals import APPROVAL_ID_PATTERN
from fmops.approvals.engine import MAX_REASON_CHARS, Verdict
from fmops.approvals.slack_message import APPROVE_ACTION_ID, REJECT_ACTION_ID, escape_mrkdwn

FORM_CONTENT_TYPE = "application/x-www-form-urlencoded"
# Slack's payloads are a few KiB (a whole message's blocks come along with a click); far more is not Slack.
MAX_BODY_BYTES = 64 * 1024
REJECT_REASON_CALLBACK_ID = "fmops_reject_reason"
REASON_BLOCK_ID = "reason"
REASON_ACTION_ID = "reason"

_VERDICTS = {APPROVE_ACTION_ID: Verdict.APPROVE, REJECT_ACTION_ID: Verdict.REJECT}
_APPROVAL_ID = re.compile(APPROVAL_ID_PATTERN)
_ELLIPSIS = "…"
_MAX_ERROR_TEXT = 150  # shown under the input; Slack does not document a limit, a sentence is enough

# Slack's ids (U…, W…, T…, E…, C…, G…, D…) are upper-case letters and digits.
SlackId = Annotated[str, StringConstraints(pattern=r"^[A-Z0-9]{2,32}$")]
SlackTs = Annotated[str, StringConstraints(pattern=r"^[0-9]{1,12}\.[0-9]{1,12}$")]
TriggerId = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9._-]{1,255}$")]


class SlackInteractionCode(StrEnum):
    UNSUPPORTED_MEDIA_TYPE = "unsupported_media_type"
    TOO_LARGE = "too_large"
    BAD_FORM = "bad_form"
    BAD_JSON = "bad_json"
    UNSUPPORTED_TYPE = "unsupported_type"
    NOT_ONE_ACTION = "not_one_action"
    UNKNOWN_ACTION = "unknown_action"
    UNKNOWN_VIEW = "unknown_view"
    MISSING_FIELDS = "missing_fields"
    BAD_APPROVAL_ID = "bad_approval_id"
    MISSING_REASON = "missing_reason"
    REASON_TOO_LONG = "reason_too_long"


class _Frozen(BaseModel):
    model_config = ConfigDict(defer_build=True, extra="forbid", frozen=True)


class SlackButtonClick(_Frozen):
    """An approver clicked Approve or Reject on an approval message."""

    kind: Literal["button_click"] = "button_click"
    user_id: SlackId
    team_id: SlackId
    action_id: str = Field(description="APPROVE_ACTION_ID or REJECT_ACTION_ID")
    verdict: Verdict
    approval_id: Annotated[str, StringConstraints(pattern=APPROVAL_ID_PATTERN)]
    channel_id: SlackId
    message_ts: SlackTs
    trigger_id: TriggerId
    action_ts: SlackTs


class SlackRejectSubmitted(_Frozen):
    """An approver submitted the reject modal with a reason."""

    kind: Literal["reject_submitted"] = "reject_submitted"
    user_id: SlackId
    team_id: SlackId
    approval_id: Annotated[str, StringConstraints(pattern=APPROVAL_ID_PATTERN)]
    reason: str = Field(min_length=1, max_length=MAX_REASON_CHARS)


class SlackInteractionInvalid(_Frozen):
    """A request that decides nothing; the message names fields, never their values."""

    kind: Literal["invalid"] = "invalid"
    code: SlackInteractionCode
    message: str


SlackInteraction = SlackButtonClick | SlackRejectSubmitted | SlackInteractionInvalid


class _Invalid(Exception):
    def __init__(self, code: SlackInteractionCode, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def parse_slack_interaction(body: bytes, content_type: str | None) -> SlackInteraction:
    """Read a verified interactivity request: the raw body and its Content-Type header."""
    try:
        payload = _payload(body, content_type)
        kind = payload.get("type")
        parse = _PARSERS.get(kind) if isinstance(kind, str) else None
        if parse is None:
            raise _Invalid(SlackInteractionCode.UNSUPPORTED_TYPE, "only block_actions and view_submission are handled")
        return parse(payload)
    except _Invalid as invalid:
        return SlackInteractionInvalid(code=invalid.code, message=invalid.message)


def reject_reason_modal(approval_id: str, version_id: str, stage: str) -> dict[str, Any]:
    """The modal a Reject click opens (views.open): the version, the stage, a required reason."""
    if not _APPROVAL_ID.fullmatch(approval_id):
        raise ValueError("approval_id must be an opaque id of 8-128 characters [A-Za-z0-9_-]")
    # Clipped before escaping, so an escape is never cut in half; escaped, the text stays far under 3000.
    version = escape_mrkdwn(_clip(_single_line(version_id), 200))
    stage_text = escape_mrkdwn(_clip(_single_line(stage), 40))
    question = f"Reject *{version}* for *{stage_text}*?\nThe submitter and the audit trail will see your reason."
    return {
        "type": "modal",
        "callback_id": REJECT_REASON_CALLBACK_ID,
        # Only the opaque id: the modal is rendered in the approver's client, and anything else the
        # submission needs is read server-side from the approval.
        "private_metadata": approval_id,
        "title": {"type": "plain_text", "text": "Reject version"},
        "submit": {"type": "plain_text", "text": "Reject"},
        "close": {"type": "plain_text", "text": "Cancel"},
        "blocks": [
            {
                "type": "section",
                "text": {"type": "mrkdwn", "text": question, "verbatim": True},
            },
            {
                "type": "input",
                "block_id": REASON_BLOCK_ID,
                "label": {"type": "plain_text", "text": "Reason"},
                "element": {
                    "type": "plain_text_input",
                    "action_id": REASON_ACTION_ID,
                    "multiline": True,
                    "min_length": 1,
                    "max_length": MAX_REASON_CHARS,
                    "placeholder": {"type": "plain_text", "text": "What has to change before this can be approved?"},
                },
            },
        ],
    }


def reject_reason_errors(message: str) -> dict[str, Any]:
    """The answer to a view_submission that keeps the modal open and shows `message` under the reason."""
    return {"response_action": "errors", "errors": {REASON_BLOCK_ID: _clip(_single_line(message), _MAX_ERROR_TEXT)}}


# ------------------------------------------------------------------------------ the request body


def _payload(body: bytes, content_type: str | None) -> dict[str, Any]:
    if not isinstance(body, bytes):
        raise TypeError("body must be the raw request bytes that were verified")
    media_type = (content_type or "").split(";", 1)[0].strip().lower()
    if media_type != FORM_CONTENT_TYPE:
        raise _Invalid(SlackInteractionCode.UNSUPPORTED_MEDIA_TYPE, f"Content-Type must be {FORM_CONTENT_TYPE}")
    if len(body) > MAX_BODY_BYTES:
        raise _Invalid(SlackInteractionCode.TOO_LARGE, f"body is {len(body)} bytes, more than {MAX_BODY_BYTES}")
    try:
        form = parse_qs(body.decode("utf-8"), strict_parsing=True, errors="strict", max_num_fields=16)
    except (UnicodeDecodeError, ValueError) as error:
        raise _Invalid(SlackInteractionCode.BAD_FORM, "body is not a well-formed form") from error
    values = form.get("payload", [])
    if len(values) != 1:
        raise _Invalid(SlackInteractionCode.BAD_FORM, f"expected one payload field, found {len(values)}")
    try:
        payload = json.loads(values[0], parse_constant=_no_constant)
    except (ValueError, RecursionError) as error:
        raise _Invalid(SlackInteractionCode.BAD_JSON, "payload is not valid JSON") from error
    if not isinstance(payload, dict):
        raise _Invalid(SlackInteractionCode.BAD_JSON, "payload is not a JSON object")
    return payload


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


# ------------------------------------------------------------------------------ Slack's payloads


class _Lenient(BaseModel):
    # Slack adds fields over time; only what is read here is checked.
    model_config = ConfigDict(defer_build=True, extra="ignore", frozen=True)


class _User(_Lenient):
    id: SlackId
    team_id: SlackId | None = None


class _Team(_Lenient):
    id: SlackId


class _Channel(_Lenient):
    id: SlackId


class _Container(_Lenient):
    type: str
    channel_id: SlackId | None = None
    message_ts: SlackTs | None = None


class _Message(_Lenient):
    ts: SlackTs


class _Action(_Lenient):
    type: str
    action_id: str
    value: str | None = None
    action_ts: SlackTs


class _BlockActions(_Lenient):
    user: _User
    team: _Team | None = None
    channel: _Channel | None = None
    container: _Container
    message: _Message | None = None
    trigger_id: TriggerId
    actions: tuple[_Action]


class _InputValue(_Lenient):
    type: str
    value: str | None = None


class _ViewState(_Lenient):
    values: dict[str, dict[str, _InputValue]]


class _View(_Lenient):
    type: str
    callback_id: str
    private_metadata: str = ""
    state: _ViewState


class _ViewSubmission(_Lenient):
    user: _User
    team: _Team | None = None
    view: _View


def _block_actions(payload: dict[str, Any]) -> SlackButtonClick:
    actions = payload.get("actions")
    if not isinstance(actions, list) or len(actions) != 1:
        count = len(actions) if isinstance(actions, list) else 0
        raise _Invalid(SlackInteractionCode.NOT_ONE_ACTION, f"expected exactly one action, found {count}")
    parsed = _validate(_BlockActions, payload)
    [action] = parsed.actions
    verdict = _VERDICTS.get(action.action_id)
    if verdict is None or action.type != "button":
        raise _Invalid(SlackInteractionCode.UNKNOWN_ACTION, "the action is not an fmops approval button")
    if parsed.container.type != "message":
        raise _Invalid(SlackInteractionCode.UNKNOWN_ACTION, "fmops approval buttons are only in channel messages")
    channel_id = parsed.container.channel_id or (parsed.channel.id if parsed.channel else None)
    message_ts = parsed.container.message_ts or (parsed.message.ts if parsed.message else None)
    if channel_id is None or message_ts is None:
        raise _Invalid(SlackInteractionCode.MISSING_FIELDS, "missing or invalid: the message's channel and ts")
    return SlackButtonClick(
        user_id=parsed.user.id,
        team_id=_team_id(parsed.team, parsed.user),
        action_id=action.action_id,
        verdict=verdict,
        approval_id=_approval_id(action.value),
        channel_id=channel_id,
        message_ts=message_ts,
        trigger_id=parsed.trigger_id,
        action_ts=action.action_ts,
    )


def _view_submission(payload: dict[str, Any]) -> SlackRejectSubmitted:
    parsed = _validate(_ViewSubmission, payload)
    view = parsed.view
    if view.type != "modal" or view.callback_id != REJECT_REASON_CALLBACK_ID:
        raise _Invalid(SlackInteractionCode.UNKNOWN_VIEW, "the view is not the fmops reject-reason modal")
    approval_id = _approval_id(view.private_metadata)
    field = view.state.values.get(REASON_BLOCK_ID, {}).get(REASON_ACTION_ID)
    reason = (field.value or "").strip() if field is not None else ""
    if not reason:
        raise _Invalid(SlackInteractionCode.MISSING_REASON, "a rejection needs a reason")
    if len(reason) > MAX_REASON_CHARS:
        raise _Invalid(SlackInteractionCode.REASON_TOO_LONG, f"the reason is longer than {MAX_REASON_CHARS} characters")
    return SlackRejectSubmitted(
        user_id=parsed.user.id, team_id=_team_id(parsed.team, parsed.user), approval_id=approval_id, reason=reason
    )


_M = TypeVar("_M", bound=_Lenient)

_PARSERS: dict[str, Callable[[dict[str, Any]], SlackButtonClick | SlackRejectSubmitted]] = {
    "block_actions": _block_actions,
    "view_submission": _view_submission,
}


def _validate(model: type[_M], payload: dict[str, Any]) -> _M:
    try:
        return model.model_validate(payload)
    except ValidationError as error:
        # Locations only: a validation message would quote the offending input.
        fields = sorted({".".join(str(part) for part in detail["loc"]) for detail in error.errors()})
        raise _Invalid(SlackInteractionCode.MISSING_FIELDS, f"missing or invalid: {', '.join(fields)}") from None


def _team_id(team: _Team | None, user: _User) -> str:
    team_id = team.id if team is not None else user.team_id
    if team_id is None:
        raise _Invalid(SlackInteractionCode.MISSING_FIELDS, "missing or invalid: team.id")
    return team_id


def _approval_id(value: str | None) -> str:
    if value is None or not _APPROVAL_ID.fullmatch(value):
        raise _Invalid(SlackInteractionCode.BAD_APPROVAL_ID, "the approval id is missing or malformed")
    return value


def _single_line(text: str) -> str:
    return " ".join(text.split())


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - len(_ELLIPSIS)] + _ELLIPSIS
