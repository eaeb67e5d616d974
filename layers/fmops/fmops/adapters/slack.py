"""The Slack Web API calls of approvals, with slack_sdk's WebClient.

The bot token is fetched when a call is made (`bot_token`, typically a cached Secrets Manager read),
so a token put after the deploy, or rotated, is used without a redeploy. `api_url` is Slack's API
root (`https://slack.com/api/`), or the local cloud's Slack stub.

Errors: Slack answers `{"ok": false, "error": "<code>"}`. A code a retry cannot fix (a bad token, a
channel the bot is not in, blocks Slack refuses) raises `SlackRefused(code)`: the event ends in the
on-failure queue with the code, for an operator. Anything else (rate limits past the retry below,
`internal_error`, 5xx, network errors) propagates unchanged, so the asynchronous invocation retries.
A 429 is retried once in-process after `Retry-After` when that is short; a dropped connection once.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from pydantic import SecretBytes
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_handlers import ConnectionErrorRetryHandler, RateLimitErrorRetryHandler
from slack_sdk.http_retry.request import HttpRequest
from slack_sdk.http_retry.response import HttpResponse
from slack_sdk.http_retry.state import RetryState

SLACK_API_URL = "https://slack.com/api/"
DEFAULT_TIMEOUT_S = 10
# Longer waits are left to the asynchronous retry: a Lambda sleeping out a minute-long Retry-After
# would time out anyway.
MAX_RATE_LIMIT_WAIT_S = 5

# Errors Slack documents for chat.postMessage, chat.update, chat.postEphemeral and views.open that
# the same request will meet again: the token, the channel, the content or the trigger is wrong.
PERMANENT_ERRORS = frozenset(
    {
        # token and workspace
        "not_authed",
        "invalid_auth",
        "account_inactive",
        "token_revoked",
        "token_expired",
        "no_permission",
        "missing_scope",
        "not_allowed_token_type",
        "access_denied",
        "team_access_not_granted",
        "ekm_access_denied",
        "org_login_required",
        "two_factor_setup_required",
        "enterprise_is_restricted",
        # channel and user
        "channel_not_found",
        "not_in_channel",
        "is_archived",
        "user_not_found",
        "user_not_in_channel",
        "restricted_action",
        "restricted_action_read_only_channel",
        "restricted_action_thread_only_channel",
        "restricted_action_non_threadable_channel",
        # message and view content
        "invalid_blocks",
        "invalid_blocks_format",
        "invalid_attachments",
        "too_many_attachments",
        "msg_too_long",
        "no_text",
        "invalid_arguments",
        "invalid_arg_name",
        "invalid_array_arg",
        "invalid_charset",
        "invalid_form_data",
        "invalid_post_type",
        "missing_post_type",
        "view_too_large",
        "duplicate_external_id",
        # the message or trigger no longer takes this call
        "message_not_found",
        "cant_update_message",
        "edit_window_closed",
        "invalid_trigger_id",
        "expired_trigger_id",
        "exchanged_trigger_id",
        # the method itself
        "unknown_method",
        "method_deprecated",
        "deprecated_endpoint",
    }
)

# slack_sdk logs whole request bodies (message blocks: model metadata) at DEBUG whenever its
# logger's *own* level is DEBUG or unset, whatever the handlers. Its logger here never is.
_SDK_LOGGER = logging.getLogger(f"{__name__}.sdk")
_SDK_LOGGER.setLevel(logging.INFO)


class SlackRefused(RuntimeError):
    """Slack refused the call for a reason a retry will not fix; `code` is Slack's error code."""

    def __init__(self, code: str, method: str = "") -> None:
        super().__init__(f"Slack refused {method or 'the call'} ({code})")
        self.code = code
        self.method = method


class SlackWebApi:
    def __init__(
        self, bot_token: Callable[[], SecretBytes], api_url: str = SLACK_API_URL, timeout_s: int = DEFAULT_TIMEOUT_S
    ) -> None:
        self._bot_token = bot_token
        self._api_url = api_url
        self._timeout_s = timeout_s
        self._client: WebClient | None = None
        self._client_token: bytes | None = None

    def __repr__(self) -> str:
        # The token stays out: reprs end up in tracebacks and logs.
        return f"SlackWebApi(api_url={self._api_url!r})"

    def post(self, channel: str, text: str, blocks: list[dict[str, Any]]) -> str:
        """Post a message; returns its `ts`, the id chat.update needs."""
        response = self._call(
            "chat.postMessage", lambda web: web.chat_postMessage(channel=channel, text=text, blocks=blocks)
        )
        ts = response.get("ts")
        if not isinstance(ts, str) or not ts:
            raise SlackRefused("missing_ts", "chat.postMessage")
        return ts

    def update(self, channel: str, ts: str, text: str, blocks: list[dict[str, Any]]) -> None:
        self._call("chat.update", lambda web: web.chat_update(channel=channel, ts=ts, text=text, blocks=blocks))

    def open_modal(self, trigger_id: str, view: dict[str, Any]) -> None:
        """views.open; the trigger id of an interaction is valid for 3 seconds and once."""
        self._call("views.open", lambda web: web.views_open(trigger_id=trigger_id, view=view))

    def post_ephemeral(self, channel: str, user: str, text: str) -> None:
        """A message only `user` sees in `channel` (a refusal, a confirmation); not kept by Slack."""
        self._call("chat.postEphemeral", lambda web: web.chat_postEphemeral(channel=channel, user=user, text=text))

    def _call(self, method: str, call: Callable[[WebClient], Any]) -> Any:
        try:
            return call(self._web())
        except SlackApiError as error:
            code = _error_code(error)
            if code in PERMANENT_ERRORS:
                raise SlackRefused(code, method) from error
            raise

    def _web(self) -> WebClient:
        token = self._bot_token().get_secret_value().strip()
        if not token:
            raise SlackRefused("not_authed", "the token lookup")
        # One client per token value: a rotated token gets a new client, the same token reuses it.
        if self._client is None or token != self._client_token:
            self._client = WebClient(
                token=token.decode("utf-8"),
                base_url=self._api_url,
                timeout=self._timeout_s,
                logger=_SDK_LOGGER,
                retry_handlers=[ConnectionErrorRetryHandler(max_retry_count=1), _RateLimitRetry(MAX_RATE_LIMIT_WAIT_S)],
            )
            self._client_token = token
        return self._client


class _RateLimitRetry(RateLimitErrorRetryHandler):
    """slack_sdk's 429 handler, only while Slack's Retry-After is short enough to wait in-process."""

    def __init__(self, max_wait_s: int) -> None:
        super().__init__(max_retry_count=1)
        self._max_wait_s = max_wait_s

    def _can_retry(
        self,
        *,
        state: RetryState,
        request: HttpRequest,
        response: HttpResponse | None = None,
        error: Exception | None = None,
    ) -> bool:
        if not super()._can_retry(state=state, request=request, response=response, error=error):
            return False
        assert response is not None  # a 429 is a response
        values = next((values for name, values in response.headers.items() if name.lower() == "retry-after"), None)
        retry_after = values[0] if isinstance(values, list) and values else values
        try:
            wait_s = int(retry_after) if isinstance(retry_after, str) else 1
        except ValueError:
            return False
        return wait_s <= self._max_wait_s


def _error_code(error: SlackApiError) -> str:
    data = getattr(error.response, "data", None)
    code = data.get("error") if isinstance(data, dict) else None
    return str(code) if code else f"http_{getattr(error.response, 'status_code', 'unknown')}"
