"""Reading what an approver did in Slack from a verified interactivity request, and the reject modal.

Payloads follow Slack's "block_actions payload" and "view_submission payload" references: the
fields Slack sends for a button in a channel message and for a submitted modal, trimmed of the
message's blocks only where a test does not need them.
"""

from __future__ import annotations

import copy
import json
from typing import Any
from urllib.parse import quote, urlencode

import pytest

from fmops.approvals.engine import MAX_REASON_CHARS, Verdict
from fmops.approvals.slack_interaction import (
    FORM_CONTENT_TYPE,
    MAX_BODY_BYTES,
    REASON_ACTION_ID,
    REASON_BLOCK_ID,
    REJECT_REASON_CALLBACK_ID,
    SlackButtonClick,
    SlackInteractionCode,
    SlackInteractionInvalid,
    SlackRejectSubmitted,
    parse_slack_interaction,
    reject_reason_errors,
    reject_reason_modal,
)
from fmops.approvals.slack_message import APPROVE_ACTION_ID, REJECT_ACTION_ID

APPROVAL_ID = "apr_01JD6Z3K8Q4W2N5M7P9R1T3V5X"
TASK_TOKEN = "AQCEAAAAKgAAAAMAAAAAAAAAAS3cr3tT4skT0k3n" * 20  # pragma: allowlist secret (a fake task token)
CONTENT_TYPE = "application/x-www-form-urlencoded"


def button_click(action_id: str = APPROVE_ACTION_ID, value: str = APPROVAL_ID) -> dict[str, Any]:
    """A click on one of the approval message's buttons, as Slack posts it."""
    return {
        "type": "block_actions",
        "user": {"id": "U01AZ88AQQ4", "username": "ana.silva", "name": "ana.silva", "team_id": "T01B5M3VC1X"},
        "api_app_id": "A01BGTV24LQ",
        "token": "RFEwDETALFMJkphCasIfOUZT",  # pragma: allowlist secret (the deprecated verification token field)
        "container": {
            "type": "message",
            "message_ts": "1764158400.015400",
            "channel_id": "C0FMOPSAPPROVALS",
            "is_ephemeral": False,
        },
        "trigger_id": "1388105719492.1379717998065.9bc163894734c1f415a2c504e81dec91",
        "team": {"id": "T01B5M3VC1X", "domain": "fmops-example"},
        "enterprise": None,
        "is_enterprise_install": False,
        "channel": {"id": "C0FMOPSAPPROVALS", "name": "model-approvals"},
        "message": {
            "bot_id": "B01AQ1SN737",
            "type": "message",
            "text": "Approval requested for sentiment-classifier/1.0.1 (prod)",
            "user": "U01BGV723R6",
            "ts": "1764158400.015400",
            "team": "T01B5M3VC1X",
            "blocks": [{"type": "header", "block_id": "XTkTR", "text": {"type": "plain_text", "text": "Approval"}}],
        },
        "state": {"values": {}},
        "response_url": "https://hooks.slack.com/actions/T01B5M3VC1X/1391226433187/4Ea8e5bLvSaZYJtr1ZmkLQQZ",
        "actions": [
            {
                "type": "button",
                "block_id": "oMmEf",
                "action_id": action_id,
                "text": {"type": "plain_text", "text": "Approve", "emoji": True},
                "value": value,
                "style": "primary",
                "action_ts": "1764158460.123456",
            }
        ],
    }


def reason_submitted(reason: str | None = "Toxicity regressed on the French slice.") -> dict[str, Any]:
    """The reject-reason modal submitted, as Slack posts it."""
    modal = reject_reason_modal(APPROVAL_ID, "sentiment-classifier/1.0.1", "prod")
    return {
        "type": "view_submission",
        "team": {"id": "T01B5M3VC1X", "domain": "fmops-example"},
        "user": {"id": "U01AZ88AQQ4", "username": "ana.silva", "name": "ana.silva", "team_id": "T01B5M3VC1X"},
        "api_app_id": "A01BGTV24LQ",
        "token": "RFEwDETALFMJkphCasIfOUZT",  # pragma: allowlist secret (the deprecated verification token field)
        "trigger_id": "1388105719493.1379717998065.0c3b7c1c7a7d2d1c53c1d4e8f0a9b2c3",
        "view": {
            "id": "VNHU13V36",
            "team_id": "T01B5M3VC1X",
            "type": "modal",
            "blocks": modal["blocks"],
            "private_metadata": modal["private_metadata"],
            "callback_id": modal["callback_id"],
            "state": {"values": {REASON_BLOCK_ID: {REASON_ACTION_ID: {"type": "plain_text_input", "value": reason}}}},
            "hash": "1764158470.cd33ad1f",
            "title": modal["title"],
            "clear_on_close": False,
            "notify_on_close": False,
            "close": modal["close"],
            "submit": modal["submit"],
            "previous_view_id": None,
            "root_view_id": "VNHU13V36",
            "app_id": "A01BGTV24LQ",
            "external_id": "",
            "app_installed_team_id": "T01B5M3VC1X",
            "bot_id": "B01AQ1SN737",
        },
        "response_urls": [],
        "is_enterprise_install": False,
        "enterprise": None,
    }


def form(payload: Any) -> bytes:
    """The request body Slack sends: one form field, `payload`, holding the JSON."""
    return urlencode({"payload": json.dumps(payload)}).encode()


def refused(result: object, code: SlackInteractionCode) -> SlackInteractionInvalid:
    assert isinstance(result, SlackInteractionInvalid), result
    assert result.code is code, result
    return result


# ------------------------------------------------------------------------------ button clicks


@pytest.mark.parametrize(
    ("action_id", "verdict"), [(APPROVE_ACTION_ID, Verdict.APPROVE), (REJECT_ACTION_ID, Verdict.REJECT)]
)
def test_a_click_on_an_approval_button_is_read_with_who_where_and_which_approval(
    action_id: str, verdict: Verdict
) -> None:
    # Given Slack's request for a click on the Approve or Reject button
    body = form(button_click(action_id))

    # When it is read
    click = parse_slack_interaction(body, CONTENT_TYPE)

    # Then it names the approver, the verdict, the approval and the message to update
    assert click == SlackButtonClick(
        user_id="U01AZ88AQQ4",
        team_id="T01B5M3VC1X",
        action_id=action_id,
        verdict=verdict,
        approval_id=APPROVAL_ID,
        channel_id="C0FMOPSAPPROVALS",
        message_ts="1764158400.015400",
        trigger_id="1388105719492.1379717998065.9bc163894734c1f415a2c504e81dec91",
        action_ts="1764158460.123456",
    )


def test_the_result_is_frozen() -> None:
    click = parse_slack_interaction(form(button_click()), CONTENT_TYPE)

    with pytest.raises(ValueError, match="frozen"):
        click.user_id = "U0SOMEONEELSE"  # type: ignore[misc,union-attr]


def test_the_content_type_may_carry_a_charset() -> None:
    click = parse_slack_interaction(form(button_click()), "Application/X-WWW-Form-Urlencoded; charset=utf-8")

    assert isinstance(click, SlackButtonClick)


def test_without_a_container_channel_and_ts_come_from_the_payloads_channel_and_message() -> None:
    payload = button_click()
    payload["container"] = {"type": "message"}

    click = parse_slack_interaction(form(payload), CONTENT_TYPE)

    assert isinstance(click, SlackButtonClick)
    assert (click.channel_id, click.message_ts) == ("C0FMOPSAPPROVALS", "1764158400.015400")


def test_an_org_wide_install_without_team_takes_the_users_team() -> None:
    payload = button_click()
    payload["team"] = None

    click = parse_slack_interaction(form(payload), CONTENT_TYPE)

    assert isinstance(click, SlackButtonClick)
    assert click.team_id == "T01B5M3VC1X"


@pytest.mark.parametrize("action_id", ["fmops_withdraw", "approve", ""])
def test_an_action_that_is_not_an_approval_button_is_refused(action_id: str) -> None:
    refused(parse_slack_interaction(form(button_click(action_id)), CONTENT_TYPE), SlackInteractionCode.UNKNOWN_ACTION)


def test_a_select_menu_carrying_the_approve_action_id_is_refused() -> None:
    payload = button_click()
    payload["actions"][0]["type"] = "static_select"

    refused(parse_slack_interaction(form(payload), CONTENT_TYPE), SlackInteractionCode.UNKNOWN_ACTION)


def test_a_button_in_a_modal_rather_than_a_message_is_refused() -> None:
    payload = button_click()
    payload["container"] = {"type": "view", "view_id": "V0PROFILE01"}

    refused(parse_slack_interaction(form(payload), CONTENT_TYPE), SlackInteractionCode.UNKNOWN_ACTION)


@pytest.mark.parametrize("count", [0, 2])
def test_anything_but_exactly_one_action_is_refused(count: int) -> None:
    payload = button_click()
    payload["actions"] = [copy.deepcopy(payload["actions"][0]) for _ in range(count)]

    refused(parse_slack_interaction(form(payload), CONTENT_TYPE), SlackInteractionCode.NOT_ONE_ACTION)


def test_two_clicks_in_one_request_cannot_smuggle_a_second_verdict() -> None:
    payload = button_click()
    payload["actions"].append({**payload["actions"][0], "action_id": REJECT_ACTION_ID})

    refused(parse_slack_interaction(form(payload), CONTENT_TYPE), SlackInteractionCode.NOT_ONE_ACTION)


@pytest.mark.parametrize(
    "value",
    [TASK_TOKEN, "short", "apr with spaces", APPROVAL_ID + "\n", "<!channel>", ""],
    ids=["task-token", "too-short", "spaces", "newline", "markup", "empty"],
)
def test_a_button_value_that_is_not_an_approval_id_is_refused(value: str) -> None:
    refused(
        parse_slack_interaction(form(button_click(value=value)), CONTENT_TYPE), SlackInteractionCode.BAD_APPROVAL_ID
    )


def test_a_button_without_a_value_is_refused() -> None:
    payload = button_click()
    del payload["actions"][0]["value"]

    refused(parse_slack_interaction(form(payload), CONTENT_TYPE), SlackInteractionCode.BAD_APPROVAL_ID)


@pytest.mark.parametrize(
    ("path", "field"),
    [
        (("user",), "user"),
        (("user", "id"), "user.id"),
        (("trigger_id",), "trigger_id"),
        (("actions", 0, "action_ts"), "actions.0.action_ts"),
        (("container",), "container"),
    ],
)
def test_a_missing_field_is_refused_and_named(path: tuple[str | int, ...], field: str) -> None:
    payload = button_click()
    parent: Any = payload
    for key in path[:-1]:
        parent = parent[key]
    del parent[path[-1]]

    result = refused(parse_slack_interaction(form(payload), CONTENT_TYPE), SlackInteractionCode.MISSING_FIELDS)

    assert field in result.message


def test_a_click_without_its_message_is_refused() -> None:
    payload = button_click()
    payload["container"] = {"type": "message"}
    del payload["channel"], payload["message"]

    refused(parse_slack_interaction(form(payload), CONTENT_TYPE), SlackInteractionCode.MISSING_FIELDS)


def test_a_malformed_user_id_is_refused_without_echoing_it() -> None:
    payload = button_click()
    payload["user"]["id"] = "<script>alert(1)</script>"

    result = refused(parse_slack_interaction(form(payload), CONTENT_TYPE), SlackInteractionCode.MISSING_FIELDS)

    assert "user.id" in result.message
    assert "script" not in result.message


# ------------------------------------------------------------------------------ the reject modal


def test_a_submitted_reject_modal_is_read_with_the_approver_the_approval_and_the_reason() -> None:
    submitted = parse_slack_interaction(
        form(reason_submitted("  Toxicity regressed.\nSee the French slice.  ")), CONTENT_TYPE
    )

    assert submitted == SlackRejectSubmitted(
        user_id="U01AZ88AQQ4",
        team_id="T01B5M3VC1X",
        approval_id=APPROVAL_ID,
        reason="Toxicity regressed.\nSee the French slice.",
    )


@pytest.mark.parametrize("reason", [None, "", "   \n  "])
def test_a_modal_without_a_reason_is_refused(reason: str | None) -> None:
    refused(parse_slack_interaction(form(reason_submitted(reason)), CONTENT_TYPE), SlackInteractionCode.MISSING_REASON)


def test_a_reason_over_the_engines_limit_is_refused() -> None:
    result = parse_slack_interaction(form(reason_submitted("x" * (MAX_REASON_CHARS + 1))), CONTENT_TYPE)

    refused(result, SlackInteractionCode.REASON_TOO_LONG)


def test_a_reason_of_exactly_the_limit_is_accepted() -> None:
    result = parse_slack_interaction(form(reason_submitted("x" * MAX_REASON_CHARS)), CONTENT_TYPE)

    assert isinstance(result, SlackRejectSubmitted)


def test_another_apps_modal_is_refused() -> None:
    payload = reason_submitted()
    payload["view"]["callback_id"] = "someone_elses_modal"

    refused(parse_slack_interaction(form(payload), CONTENT_TYPE), SlackInteractionCode.UNKNOWN_VIEW)


@pytest.mark.parametrize("metadata", ["", TASK_TOKEN, json.dumps({"approval_id": APPROVAL_ID})])
def test_a_modal_whose_metadata_is_not_an_approval_id_is_refused(metadata: str) -> None:
    payload = reason_submitted()
    payload["view"]["private_metadata"] = metadata

    refused(parse_slack_interaction(form(payload), CONTENT_TYPE), SlackInteractionCode.BAD_APPROVAL_ID)


def test_the_modal_asks_for_a_bounded_multiline_reason_and_carries_only_the_approval_id() -> None:
    modal = reject_reason_modal(APPROVAL_ID, "sentiment-classifier/1.0.1", "prod")

    assert modal["type"] == "modal"
    assert modal["callback_id"] == REJECT_REASON_CALLBACK_ID
    assert modal["private_metadata"] == APPROVAL_ID
    [question, reason] = modal["blocks"]
    assert question["text"]["text"].startswith("Reject *sentiment-classifier/1.0.1* for *prod*?")
    assert question["text"]["verbatim"] is True
    assert reason["type"] == "input"
    assert reason["block_id"] == REASON_BLOCK_ID
    assert reason["element"] | {"placeholder": None} == {
        "type": "plain_text_input",
        "action_id": REASON_ACTION_ID,
        "multiline": True,
        "min_length": 1,
        "max_length": MAX_REASON_CHARS,
        "placeholder": None,
    }
    # Block Kit limits: titles and button labels of a modal are at most 24 characters
    assert all(len(modal[key]["text"]) <= 24 for key in ("title", "submit", "close"))


def test_untrusted_names_in_the_modal_are_escaped_single_line_and_clipped() -> None:
    modal = reject_reason_modal(APPROVAL_ID, "evil/<!channel> & <https://x.example|click>\n" + "v" * 5000, "prod")

    text = modal["blocks"][0]["text"]["text"]
    assert "<!channel>" not in text
    assert "&lt;!channel&gt; &amp; &lt;https://x.example|click&gt;" in text
    assert "\n" not in text.split("?")[0]
    assert len(text) < 3000
    assert "…" in text


def test_the_modal_refuses_anything_but_an_approval_id() -> None:
    with pytest.raises(ValueError, match="approval_id"):
        reject_reason_modal(TASK_TOKEN, "sentiment-classifier/1.0.1", "prod")


def test_the_errors_answer_keeps_the_modal_open_with_a_message_under_the_reason() -> None:
    assert reject_reason_errors("You already decided this stage.") == {
        "response_action": "errors",
        "errors": {REASON_BLOCK_ID: "You already decided this stage."},
    }


# ------------------------------------------------------------------------------ the request body


def test_a_body_that_is_not_a_form_is_refused() -> None:
    body = json.dumps(button_click()).encode()

    refused(parse_slack_interaction(body, "application/json"), SlackInteractionCode.UNSUPPORTED_MEDIA_TYPE)
    refused(parse_slack_interaction(form(button_click()), None), SlackInteractionCode.UNSUPPORTED_MEDIA_TYPE)
    assert FORM_CONTENT_TYPE == CONTENT_TYPE


def test_a_body_over_64_kib_is_refused_before_it_is_parsed() -> None:
    body = b"payload=" + b"%5B" * (MAX_BODY_BYTES // 3 + 1)

    refused(parse_slack_interaction(body, CONTENT_TYPE), SlackInteractionCode.TOO_LARGE)


def test_deeply_nested_json_under_the_size_limit_is_refused_not_a_crash() -> None:
    body = b"payload=" + b"%5B" * 20_000

    refused(parse_slack_interaction(body, CONTENT_TYPE), SlackInteractionCode.BAD_JSON)


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"payload",
        b"\xff\xfe",
        b"payload=%FF",
        b"token=abc",
        form(button_click()) + b"&" + form(button_click()),
    ],
    ids=["empty", "no-value", "not-utf8", "bad-percent-utf8", "no-payload", "two-payloads"],
)
def test_a_malformed_form_is_refused(body: bytes) -> None:
    refused(parse_slack_interaction(body, CONTENT_TYPE), SlackInteractionCode.BAD_FORM)


@pytest.mark.parametrize(
    "raw", ["{not json", "[1, 2]", '"block_actions"', '{"type": NaN}'], ids=["broken", "list", "string", "nan"]
)
def test_a_payload_that_is_not_a_json_object_is_refused(raw: str) -> None:
    refused(parse_slack_interaction(f"payload={quote(raw)}".encode(), CONTENT_TYPE), SlackInteractionCode.BAD_JSON)


@pytest.mark.parametrize("kind", ["view_closed", "message_action", "shortcut", "block_suggestion", None, 7])
def test_other_interaction_types_are_refused(kind: object) -> None:
    payload = button_click()
    payload["type"] = kind

    refused(parse_slack_interaction(form(payload), CONTENT_TYPE), SlackInteractionCode.UNSUPPORTED_TYPE)


def test_the_body_must_be_the_raw_bytes() -> None:
    with pytest.raises(TypeError, match="raw request bytes"):
        parse_slack_interaction(form(button_click()).decode(), CONTENT_TYPE)  # type: ignore[arg-type]
