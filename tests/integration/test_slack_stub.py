"""The local Slack stub, driven over HTTP the way slack_sdk's WebClient calls Slack.

Most requests are made with urllib, to control the wire format: JSON bodies with a Bearer header
(what WebClient sends for chat.* and views.open) and form bodies (what curl examples send); one test
drives the stub with slack_sdk's WebClient itself.
"""

import json
import urllib.request
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

import pytest
from slack_sdk import WebClient

from fmops.approvals.slack_interaction import reject_reason_modal
from fmops.approvals.slack_message import (
    ApprovalRequestView,
    DecidedView,
    approval_request_blocks,
    decided_blocks,
    notification_text,
)
from fmops.gate.policy import Stage
from fmops_local.slack_stub import SlackStub

pytestmark = pytest.mark.integration

TOKEN = "xoxb-test-fmops-local"  # pragma: allowlist secret (the stub's fake bot token)
WRONG_TOKEN = "xoxb-wrong"  # pragma: allowlist secret (a deliberately wrong fake token)
CHANNEL = "C0APPROVALS"
UNJOINED = "C0ELSEWHERE"


@pytest.fixture
def slack() -> Iterator[SlackStub]:
    with SlackStub(token=TOKEN, channels={CHANNEL}, not_joined={UNJOINED}) as stub:
        yield stub


def call(
    slack: SlackStub, method: str, params: dict[str, Any], token: str | None = TOKEN, form: bool = False
) -> dict[str, Any]:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    if form:
        encoded = {key: json.dumps(value) if key in ("blocks", "view") else value for key, value in params.items()}
        body = urlencode(encoded).encode()
        headers["Content-Type"] = "application/x-www-form-urlencoded"
    else:
        body = json.dumps(params).encode()
        headers["Content-Type"] = "application/json;charset=utf-8"
    request = urllib.request.Request(slack.base_url + method, data=body, headers=headers, method="POST")
    with urllib.request.urlopen(request, timeout=5) as response:
        assert response.status == 200  # Slack answers errors with 200 and ok=false, so does the stub
        answer: dict[str, Any] = json.loads(response.read())
        return answer


def approval_request() -> ApprovalRequestView:
    return ApprovalRequestView(
        version_id="sentiment-classifier/1.0.1",
        kind="fine-tuned",
        risk_tier="medium",
        stage=Stage.PROD,
        gate_passed=True,
        policy_version="2026-11-01",
        evidence_url="https://fmops.example.com/evidence/sentiment-classifier/1.0.1",
        approval_id="apr_01JD6Z3K8Q4W2N5M7P9R1T3V5X",
        expires_at=datetime(2026, 11, 28, 12, 0, tzinfo=UTC),
        approvals=0,
        quorum=1,
    )


def test_a_posted_approval_request_is_recorded_and_updated_in_place(slack: SlackStub) -> None:
    # Given the stub serves Slack's API root
    assert slack.base_url.endswith("/api/")
    view = approval_request()

    # When the approval request is posted and later updated with the decision
    posted = call(
        slack,
        "chat.postMessage",
        {"channel": CHANNEL, "text": notification_text(view), "blocks": approval_request_blocks(view)},
    )
    decided = DecidedView(result="approved", decided_by=("ana.silva",), decided_at=datetime(2026, 11, 27, tzinfo=UTC))
    updated = call(
        slack,
        "chat.update",
        {"channel": posted["channel"], "ts": posted["ts"], "text": "Approved", "blocks": decided_blocks(view, decided)},
    )

    # Then both calls answer like Slack
    assert posted["ok"] is True
    assert posted["channel"] == CHANNEL
    assert posted["ts"]
    assert updated == {"ok": True, "channel": CHANNEL, "ts": posted["ts"], "text": "Approved"}
    # And the stub holds one message, now decided, with the request as its history
    [message] = slack.messages()
    assert (message.channel, message.ts, message.text) == (CHANNEL, posted["ts"], "Approved")
    assert message.blocks == decided_blocks(view, decided)
    assert message.updated
    [original] = message.history
    assert original.blocks == approval_request_blocks(view)


def test_a_form_encoded_post_is_accepted_too(slack: SlackStub) -> None:
    blocks = [{"type": "section", "text": {"type": "mrkdwn", "text": "hello"}}]

    answer = call(slack, "chat.postMessage", {"channel": CHANNEL, "text": "hi", "blocks": blocks}, form=True)

    assert answer["ok"] is True
    assert [(m.text, m.blocks) for m in slack.messages(CHANNEL)] == [("hi", blocks)]


def test_each_post_gets_its_own_timestamp(slack: SlackStub) -> None:
    first = call(slack, "chat.postMessage", {"channel": CHANNEL, "text": "one"})
    second = call(slack, "chat.postMessage", {"channel": CHANNEL, "text": "two"})

    assert first["ts"] != second["ts"]
    assert [m.text for m in slack.messages()] == ["one", "two"]


@pytest.mark.parametrize(
    ("token", "error"),
    [(None, "not_authed"), (WRONG_TOKEN, "invalid_auth")],
)
def test_a_missing_or_wrong_token_is_refused(slack: SlackStub, token: str | None, error: str) -> None:
    answer = call(slack, "chat.postMessage", {"channel": CHANNEL, "text": "hi"}, token=token)

    assert answer == {"ok": False, "error": error}
    assert slack.messages() == []


@pytest.mark.parametrize(("channel", "error"), [("C0UNKNOWN", "channel_not_found"), (UNJOINED, "not_in_channel")])
def test_a_channel_the_bot_cannot_post_to_is_refused(slack: SlackStub, channel: str, error: str) -> None:
    answer = call(slack, "chat.postMessage", {"channel": channel, "text": "hi"})

    assert answer == {"ok": False, "error": error}


def test_updating_a_message_that_was_never_posted_is_refused(slack: SlackStub) -> None:
    answer = call(slack, "chat.update", {"channel": CHANNEL, "ts": "1.000001", "text": "x"})

    assert answer == {"ok": False, "error": "message_not_found"}


def test_a_message_without_text_or_blocks_is_refused(slack: SlackStub) -> None:
    assert call(slack, "chat.postMessage", {"channel": CHANNEL}) == {"ok": False, "error": "no_text"}


def test_messages_are_copies_callers_cannot_change(slack: SlackStub) -> None:
    call(slack, "chat.postMessage", {"channel": CHANNEL, "text": "hi", "blocks": [{"type": "divider"}]})

    slack.messages()[0].blocks.clear()

    assert slack.messages()[0].blocks == [{"type": "divider"}]


def test_the_token_stays_out_of_the_repr(slack: SlackStub) -> None:
    assert TOKEN not in repr(slack)
    assert slack.base_url in repr(slack)


def test_a_stopped_stub_has_no_base_url() -> None:
    stub = SlackStub(token=TOKEN, channels={CHANNEL})
    stub.start()
    stub.stop()

    with pytest.raises(RuntimeError, match="not started"):
        _ = stub.base_url


# ------------------------------------------------------------------------------ views.open


def modal() -> dict[str, Any]:
    return reject_reason_modal(approval_request().approval_id, "sentiment-classifier/1.0.1", "prod")


def test_an_opened_modal_is_recorded_and_answered_with_its_view_id(slack: SlackStub) -> None:
    # When the reject modal is opened with a click's trigger id
    answer = call(slack, "views.open", {"trigger_id": "1388105719492.1379717998065.9bc1", "view": modal()})

    # Then Slack's answer carries the view with its id, and the stub recorded it as sent
    assert answer["ok"] is True
    assert answer["view"]["id"].startswith("V")
    assert answer["view"]["callback_id"] == modal()["callback_id"]
    [opened] = slack.views()
    assert (opened.id, opened.trigger_id, opened.view) == (
        answer["view"]["id"],
        "1388105719492.1379717998065.9bc1",
        modal(),
    )


def test_a_form_encoded_view_is_accepted_too(slack: SlackStub) -> None:
    answer = call(slack, "views.open", {"trigger_id": "1.2.3", "view": modal()}, form=True)

    assert answer["ok"] is True
    assert [opened.view for opened in slack.views()] == [modal()]


@pytest.mark.parametrize(
    "params",
    [
        {"view": {"type": "modal", "title": {"type": "plain_text", "text": "x"}, "blocks": []}},
        {"trigger_id": "1.2.3"},
        {"trigger_id": "1.2.3", "view": "{not json"},
        {"trigger_id": "1.2.3", "view": {"type": "home", "blocks": []}},
    ],
    ids=["no-trigger", "no-view", "view-not-json", "not-a-modal"],
)
def test_a_views_open_without_a_trigger_or_a_modal_is_refused(slack: SlackStub, params: dict[str, Any]) -> None:
    assert call(slack, "views.open", params) == {"ok": False, "error": "invalid_arguments"}
    assert slack.views() == []


def test_a_trigger_id_opens_one_modal_only(slack: SlackStub) -> None:
    call(slack, "views.open", {"trigger_id": "1.2.3", "view": modal()})

    assert call(slack, "views.open", {"trigger_id": "1.2.3", "view": modal()}) == {
        "ok": False,
        "error": "exchanged_trigger_id",
    }
    assert len(slack.views()) == 1


def test_views_are_copies_callers_cannot_change(slack: SlackStub) -> None:
    call(slack, "views.open", {"trigger_id": "1.2.3", "view": modal()})

    slack.views()[0].view["blocks"].clear()

    assert slack.views()[0].view == modal()


# ------------------------------------------------------------------------------ chat.postEphemeral


def test_ephemeral_messages_are_recorded_per_channel_and_user(slack: SlackStub) -> None:
    first = call(slack, "chat.postEphemeral", {"channel": CHANNEL, "user": "U0ANA", "text": "Recorded: approve."})
    second = call(slack, "chat.postEphemeral", {"channel": CHANNEL, "user": "U0BEN", "text": "Not an approver."})

    assert first["ok"] is True and second["ok"] is True
    assert first["message_ts"] != second["message_ts"]
    assert [(m.user, m.text) for m in slack.ephemeral_messages(CHANNEL)] == [
        ("U0ANA", "Recorded: approve."),
        ("U0BEN", "Not an approver."),
    ]
    [only_ben] = slack.ephemeral_messages(user="U0BEN")
    assert (only_ben.channel, only_ben.message_ts) == (CHANNEL, second["message_ts"])
    # An ephemeral message is not a channel message
    assert slack.messages() == []


@pytest.mark.parametrize(
    ("params", "error"),
    [
        ({"channel": CHANNEL, "text": "hi"}, "user_not_found"),
        ({"channel": UNJOINED, "user": "U0ANA", "text": "hi"}, "not_in_channel"),
        ({"channel": CHANNEL, "user": "U0ANA"}, "no_text"),
    ],
    ids=["no-user", "unjoined-channel", "no-text"],
)
def test_an_ephemeral_message_slack_would_refuse_is_refused(
    slack: SlackStub, params: dict[str, Any], error: str
) -> None:
    assert call(slack, "chat.postEphemeral", params) == {"ok": False, "error": error}
    assert slack.ephemeral_messages() == []


def test_new_methods_need_the_token_too(slack: SlackStub) -> None:
    assert call(slack, "views.open", {"trigger_id": "1.2.3", "view": modal()}, token=None) == {
        "ok": False,
        "error": "not_authed",
    }
    assert call(slack, "chat.postEphemeral", {"channel": CHANNEL, "user": "U0ANA", "text": "x"}, token=WRONG_TOKEN) == {
        "ok": False,
        "error": "invalid_auth",
    }


def test_slack_sdks_web_client_drives_the_stub(slack: SlackStub) -> None:
    client = WebClient(token=TOKEN, base_url=slack.base_url)

    posted = client.chat_postMessage(channel=CHANNEL, text="hi", blocks=[{"type": "divider"}])
    client.chat_update(channel=CHANNEL, ts=posted["ts"], text="bye", blocks=[])
    opened = client.views_open(trigger_id="1.2.3", view=modal())
    client.chat_postEphemeral(channel=CHANNEL, user="U0ANA", text="psst")

    assert [(m.text, m.updated) for m in slack.messages()] == [("bye", True)]
    assert opened["view"]["id"] == slack.views()[0].id
    assert [m.text for m in slack.ephemeral_messages()] == ["psst"]
