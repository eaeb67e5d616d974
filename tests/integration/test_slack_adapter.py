"""The Slack Web API adapter against the local Slack stub, and the Secrets Manager adapter against moto."""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import boto3
import pytest
from pydantic import SecretBytes
from slack_sdk.errors import SlackApiError

from fmops.adapters.secrets import SecretNotSet, SecretsManagerSecrets
from fmops.adapters.slack import SlackRefused, SlackWebApi
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

TOKEN = "xoxb-test-fmops-adapter"  # pragma: allowlist secret (the stub's fake bot token)
CHANNEL = "C0APPROVALS"
UNJOINED = "C0ELSEWHERE"
APPROVAL_ID = "apr_01JD6Z3K8Q4W2N5M7P9R1T3V5X"


@pytest.fixture
def slack() -> Iterator[SlackStub]:
    with SlackStub(token=TOKEN, channels={CHANNEL}, not_joined={UNJOINED}) as stub:
        yield stub


def web_api(slack: SlackStub, token: str = TOKEN) -> SlackWebApi:
    return SlackWebApi(lambda: SecretBytes(token.encode()), slack.base_url)


def approval_request() -> ApprovalRequestView:
    return ApprovalRequestView(
        version_id="sentiment-classifier/1.0.1",
        kind="fine-tuned",
        risk_tier="medium",
        stage=Stage.PROD,
        gate_passed=True,
        policy_version="2026-11-01",
        evidence_url="https://fmops.example.com/evidence/sentiment-classifier/1.0.1",
        approval_id=APPROVAL_ID,
        expires_at=datetime(2026, 11, 28, 12, 0, tzinfo=UTC),
        approvals=0,
        quorum=1,
    )


# ------------------------------------------------------------------------------ Slack Web API


def test_an_approval_request_is_posted_then_updated_in_place(slack: SlackStub) -> None:
    # Given the approval message of a version waiting for prod
    view = approval_request()
    api = web_api(slack)

    # When it is posted, then updated once decided
    ts = api.post(CHANNEL, notification_text(view), approval_request_blocks(view))
    decided = DecidedView(result="approved", decided_by=("ana.silva",), decided_at=datetime(2026, 11, 27, tzinfo=UTC))
    api.update(CHANNEL, ts, "Approved", decided_blocks(view, decided))

    # Then the channel shows one message, decided, with the request as its history
    [message] = slack.messages(CHANNEL)
    assert message.ts == ts
    assert (message.text, message.blocks) == ("Approved", decided_blocks(view, decided))
    assert [revision.blocks for revision in message.history] == [approval_request_blocks(view)]


def test_the_reject_modal_opens_and_an_ephemeral_note_reaches_one_approver(slack: SlackStub) -> None:
    api = web_api(slack)
    modal = reject_reason_modal(APPROVAL_ID, "sentiment-classifier/1.0.1", "prod")

    api.open_modal("1388105719492.1379717998065.9bc163894734c1f4", modal)
    api.post_ephemeral(CHANNEL, "U01AZ88AQQ4", "You already decided this stage.")

    [opened] = slack.views()
    assert opened.trigger_id == "1388105719492.1379717998065.9bc163894734c1f4"
    assert opened.view == modal
    [note] = slack.ephemeral_messages(CHANNEL, "U01AZ88AQQ4")
    assert note.text == "You already decided this stage."


@pytest.mark.parametrize(
    ("token", "channel", "code"),
    [
        ("xoxb-wrong", CHANNEL, "invalid_auth"),  # pragma: allowlist secret (a deliberately wrong fake token)
        (TOKEN, "C0UNKNOWN", "channel_not_found"),
        (TOKEN, UNJOINED, "not_in_channel"),
    ],
)
def test_a_refusal_a_retry_cannot_fix_is_a_typed_error_with_slacks_code(
    slack: SlackStub, token: str, channel: str, code: str
) -> None:
    with pytest.raises(SlackRefused) as refused:
        web_api(slack, token).post(channel, "hi", [])

    assert refused.value.code == code
    assert refused.value.method == "chat.postMessage"
    assert slack.messages() == []


def test_updating_a_message_slack_does_not_have_is_refused(slack: SlackStub) -> None:
    with pytest.raises(SlackRefused, match="message_not_found"):
        web_api(slack).update(CHANNEL, "1764158400.000001", "x", [])


def test_a_trigger_used_twice_is_refused(slack: SlackStub) -> None:
    api = web_api(slack)
    modal = reject_reason_modal(APPROVAL_ID, "sentiment-classifier/1.0.1", "prod")
    api.open_modal("1.2.once", modal)

    with pytest.raises(SlackRefused, match="exchanged_trigger_id"):
        api.open_modal("1.2.once", modal)


def test_the_token_is_read_per_call_so_a_rotated_token_is_used(slack: SlackStub) -> None:
    # Given a token source that hands out a stale token first, then the current one
    tokens = iter(["xoxb-stale", TOKEN])  # pragma: allowlist secret (fake tokens)
    api = SlackWebApi(lambda: SecretBytes(next(tokens).encode()), slack.base_url)

    # Then the first call fails on it and the next one uses the new token
    with pytest.raises(SlackRefused, match="invalid_auth"):
        api.post(CHANNEL, "one", [])
    api.post(CHANNEL, "two", [])
    assert [m.text for m in slack.messages()] == ["two"]


def test_the_token_stays_out_of_reprs_and_slack_sdk_debug_logs(
    slack: SlackStub, caplog: pytest.LogCaptureFixture
) -> None:
    api = web_api(slack)
    caplog.set_level(logging.DEBUG)

    api.post(CHANNEL, "confidential model metadata", [])

    assert TOKEN not in repr(api)
    assert TOKEN not in caplog.text
    # slack_sdk logs whole request bodies at DEBUG; the adapter's logger for it never does
    assert "confidential model metadata" not in caplog.text


class _ScriptedSlack:
    """A Slack API that answers from a script: (status, headers, body) per request."""

    def __init__(self, answers: list[tuple[int, dict[str, str], dict[str, Any]]]) -> None:
        self.answers = answers
        self.requests = 0
        script = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                self.rfile.read(int(self.headers.get("Content-Length") or 0))
                status, headers, body = script.answers[min(script.requests, len(script.answers) - 1)]
                script.requests += 1
                payload = json.dumps(body).encode()
                self.send_response(status)
                for name, value in {"Content-Type": "application/json", **headers}.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, format: str, *args: Any) -> None:
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/api/"

    def __enter__(self) -> _ScriptedSlack:
        self.thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.server.shutdown()
        self.server.server_close()


def test_a_short_rate_limit_is_waited_out_once() -> None:
    answers = [
        (429, {"Retry-After": "0"}, {"ok": False, "error": "ratelimited"}),
        (200, {}, {"ok": True, "channel": CHANNEL, "ts": "1764158400.000001"}),
    ]
    with _ScriptedSlack(answers) as scripted:
        ts = SlackWebApi(lambda: SecretBytes(TOKEN.encode()), scripted.url).post(CHANNEL, "hi", [])

    assert ts == "1764158400.000001"
    assert scripted.requests == 2


@pytest.mark.parametrize(
    ("status", "headers", "body"),
    [
        (429, {"Retry-After": "60"}, {"ok": False, "error": "ratelimited"}),
        (200, {}, {"ok": False, "error": "internal_error"}),
        (503, {}, {"ok": False, "error": "service_unavailable"}),
    ],
    ids=["long-rate-limit", "internal-error", "unavailable"],
)
def test_a_transient_failure_is_raised_as_is_for_the_asynchronous_retry(
    status: int, headers: dict[str, str], body: dict[str, Any]
) -> None:
    with _ScriptedSlack([(status, headers, body)]) as scripted:
        api = SlackWebApi(lambda: SecretBytes(TOKEN.encode()), scripted.url)
        with pytest.raises(SlackApiError) as raised:
            api.post(CHANNEL, "hi", [])

    assert not isinstance(raised.value, SlackRefused)
    assert raised.value.response["error"] == body["error"]
    # A minute-long Retry-After is not slept through inside a Lambda: one request, then the error
    assert scripted.requests == 1


# ------------------------------------------------------------------------------ Secrets Manager


@pytest.fixture
def secretsmanager(mocked_aws: None) -> Any:
    return boto3.client("secretsmanager")


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_secret_string_is_read_as_secret_bytes(secretsmanager: Any) -> None:
    arn = secretsmanager.create_secret(Name="fmops-SlackBotToken", SecretString=TOKEN)["ARN"]

    value = SecretsManagerSecrets(secretsmanager).get(arn)

    assert value.get_secret_value() == TOKEN.encode()
    assert TOKEN not in repr(value)
    assert TOKEN not in str(value)


def test_a_secret_binary_is_read_as_is(secretsmanager: Any) -> None:
    secretsmanager.create_secret(Name="fmops-LinkSigningKey", SecretBinary=b"\x00\x01key")

    assert SecretsManagerSecrets(secretsmanager).get("fmops-LinkSigningKey").get_secret_value() == b"\x00\x01key"


def test_the_client_is_created_lazily_from_the_standard_configuration(mocked_aws: None) -> None:
    value = "s3cr3t"  # pragma: allowlist secret (a fake value)
    boto3.client("secretsmanager").create_secret(Name="fmops-SlackSigningSecret", SecretString=value)

    assert SecretsManagerSecrets().get("fmops-SlackSigningSecret").get_secret_value() == value.encode()


def test_a_value_is_cached_for_its_max_age_then_read_again(secretsmanager: Any) -> None:
    # Given a cached token
    secretsmanager.create_secret(Name="token", SecretString="first")  # pragma: allowlist secret (a fake value)
    clock = Clock()
    secrets = SecretsManagerSecrets(secretsmanager, max_age=timedelta(minutes=5), clock=clock)
    assert secrets.get("token").get_secret_value() == b"first"

    # When it is rotated
    secretsmanager.put_secret_value(SecretId="token", SecretString="second")  # pragma: allowlist secret (a fake value)

    # Then the cached value serves until it is 5 minutes old, the new one after
    clock.now += 299
    assert secrets.get("token").get_secret_value() == b"first"
    clock.now += 1
    assert secrets.get("token").get_secret_value() == b"second"


@pytest.mark.parametrize("value", [None, "  \n"], ids=["no-value", "blank"])
def test_a_secret_without_a_value_is_a_typed_error_that_says_how_to_set_it(
    secretsmanager: Any, value: str | None
) -> None:
    # Given a secret created as the template does, without a value (or a blank one put by mistake)
    request: dict[str, Any] = {"Name": "fmops-SlackBotToken"}
    if value is not None:
        request["SecretString"] = value
    arn = secretsmanager.create_secret(**request)["ARN"]

    # Then reading it says which secret and how to set it
    with pytest.raises(SecretNotSet) as raised:
        SecretsManagerSecrets(secretsmanager).get(arn)
    assert raised.value.secret_id == arn
    assert f"aws secretsmanager put-secret-value --secret-id {arn} --secret-string" in str(raised.value)


def test_a_missing_secret_is_not_cached_so_setting_it_takes_effect_at_once(secretsmanager: Any) -> None:
    arn = secretsmanager.create_secret(Name="fmops-SlackSigningSecret")["ARN"]
    secrets = SecretsManagerSecrets(secretsmanager)
    with pytest.raises(SecretNotSet):
        secrets.get(arn)

    secretsmanager.put_secret_value(SecretId=arn, SecretString="now-set")  # pragma: allowlist secret (a fake value)

    assert secrets.get(arn).get_secret_value() == b"now-set"


def test_a_secret_that_does_not_exist_is_not_set_either(secretsmanager: Any) -> None:
    with pytest.raises(SecretNotSet, match="fmops-nothing-here"):
        SecretsManagerSecrets(secretsmanager).get("fmops-nothing-here")


def test_values_stay_out_of_the_adapters_repr(secretsmanager: Any) -> None:
    secretsmanager.create_secret(Name="token", SecretString=TOKEN)
    secrets = SecretsManagerSecrets(secretsmanager)
    secrets.get("token")

    assert TOKEN not in repr(secrets)
