"""A local stand-in for the Slack Web API methods fmops calls, so the demo and tests can read what it sent.

`POST /api/chat.postMessage`, `chat.update`, `chat.postEphemeral` and `views.open`, form-encoded
(`blocks` and `view` JSON strings) or JSON, answered like Slack: HTTP 200 with `{"ok": true, ...}`
or `{"ok": false, "error": ...}`. The token must match, as a Bearer header or a `token` parameter
(Slack accepts both), so a caller that forgot to send it fails here as it would against Slack.
Channels are names or ids the stub was told about; one that exists but was never joined answers
`not_in_channel`.

    with SlackStub(token=..., channels={"C0APPROVALS"}) as slack:
        WebClient(token=..., base_url=slack.base_url).chat_postMessage(...)
        slack.messages()

`views.open` needs a trigger id and takes each one once (Slack's are valid for 3 seconds, once):
any non-empty id is accepted the first time, since nothing local issues them.
"""

from __future__ import annotations

import copy
import itertools
import json
import logging
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs

LOG = logging.getLogger(__name__)

# Slack refuses bodies far smaller than this; the cap only keeps a runaway test from eating memory.
MAX_BODY_BYTES = 1024 * 1024


@dataclass(frozen=True)
class SlackRevision:
    text: str
    blocks: list[dict[str, Any]]


@dataclass(frozen=True)
class SlackMessage:
    """A message as the channel shows it now; `history` holds its earlier revisions, oldest first."""

    channel: str
    ts: str
    text: str
    blocks: list[dict[str, Any]]
    history: tuple[SlackRevision, ...] = ()

    @property
    def updated(self) -> bool:
        return bool(self.history)


@dataclass(frozen=True)
class SlackView:
    """A modal opened with views.open: the view as sent, plus the `id` Slack gave it."""

    id: str
    trigger_id: str
    view: dict[str, Any]


@dataclass(frozen=True)
class SlackEphemeral:
    """A message only `user` saw in `channel` (chat.postEphemeral); Slack does not keep these."""

    channel: str
    user: str
    message_ts: str
    text: str
    blocks: list[dict[str, Any]]


@dataclass
class _Stored:
    channel: str
    ts: str
    revisions: list[SlackRevision] = field(default_factory=list)

    def snapshot(self) -> SlackMessage:
        current = self.revisions[-1]
        return SlackMessage(
            channel=self.channel,
            ts=self.ts,
            text=current.text,
            blocks=copy.deepcopy(current.blocks),
            history=tuple(copy.deepcopy(self.revisions[:-1])),
        )


class _SlackError(Exception):
    def __init__(self, code: str):
        super().__init__(code)
        self.code = code


class SlackStub:
    """An in-memory Slack Web API on 127.0.0.1, on a free port; start() before use, stop() after."""

    def __init__(self, token: str, channels: Iterable[str], not_joined: Iterable[str] = ()):
        self._token = token
        self._not_joined = frozenset(not_joined)
        self._channels = frozenset(channels) | self._not_joined
        self._lock = threading.Lock()
        self._messages: dict[tuple[str, str], _Stored] = {}
        self._views: list[SlackView] = []
        self._ephemeral: list[SlackEphemeral] = []
        self._sequence = itertools.count(1)
        self._epoch = int(time.time())
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._methods: dict[str, Callable[[dict[str, Any]], dict[str, Any]]] = {
            "chat.postMessage": self._post_message,
            "chat.update": self._update,
            "chat.postEphemeral": self._post_ephemeral,
            "views.open": self._open_view,
        }

    def __repr__(self) -> str:
        # The token stays out of reprs: they end up in test failure output and logs.
        return f"SlackStub(base_url={self.base_url if self._server else None!r})"

    def __enter__(self) -> SlackStub:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def start(self) -> None:
        if self._server is not None:
            return
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        # A short poll keeps stop() quick: shutdown() waits for the loop to notice.
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, name="slack-stub", daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        if self._server is None:
            return
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._server = self._thread = None

    @property
    def base_url(self) -> str:
        """Where slack_sdk's WebClient(base_url=...) should point: ends in /api/ like https://slack.com/api/."""
        if self._server is None:
            raise RuntimeError("the Slack stub is not started")
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}/api/"

    def messages(self, channel: str | None = None) -> list[SlackMessage]:
        """Every message posted so far (in one channel if given), oldest first, as copies."""
        with self._lock:
            stored = [m for m in self._messages.values() if channel is None or m.channel == channel]
            return [m.snapshot() for m in stored]

    def views(self) -> list[SlackView]:
        """Every modal opened so far, oldest first, as copies."""
        with self._lock:
            return copy.deepcopy(self._views)

    def ephemeral_messages(self, channel: str | None = None, user: str | None = None) -> list[SlackEphemeral]:
        """Every ephemeral message so far (to one channel and/or user if given), oldest first, as copies."""
        with self._lock:
            return [
                copy.deepcopy(message)
                for message in self._ephemeral
                if (channel is None or message.channel == channel) and (user is None or message.user == user)
            ]

    # -------------------------------------------------------------------------- methods

    def _post_message(self, params: dict[str, Any]) -> dict[str, Any]:
        channel = self._joined_channel(params)
        revision = _revision(params)
        with self._lock:
            ts = self._next_ts()
            self._messages[(channel, ts)] = _Stored(channel, ts, [revision])
        LOG.debug("slack stub posted", extra={"channel": channel, "ts": ts})
        return {"ok": True, "channel": channel, "ts": ts, "message": {"text": revision.text, "ts": ts}}

    def _update(self, params: dict[str, Any]) -> dict[str, Any]:
        channel = self._joined_channel(params)
        ts = str(params.get("ts") or "")
        revision = _revision(params)
        with self._lock:
            stored = self._messages.get((channel, ts))
            if stored is None:
                raise _SlackError("message_not_found")
            stored.revisions.append(revision)
        LOG.debug("slack stub updated", extra={"channel": channel, "ts": ts})
        return {"ok": True, "channel": channel, "ts": ts, "text": revision.text}

    def _post_ephemeral(self, params: dict[str, Any]) -> dict[str, Any]:
        channel = self._joined_channel(params)
        user = str(params.get("user") or "")
        if not user:
            raise _SlackError("user_not_found")
        revision = _revision(params)
        with self._lock:
            ts = self._next_ts()
            self._ephemeral.append(SlackEphemeral(channel, user, ts, revision.text, revision.blocks))
        LOG.debug("slack stub posted ephemeral", extra={"channel": channel, "ts": ts})
        return {"ok": True, "message_ts": ts}

    def _open_view(self, params: dict[str, Any]) -> dict[str, Any]:
        trigger_id = str(params.get("trigger_id") or "")
        view = params.get("view")
        if isinstance(view, str):
            try:
                view = json.loads(view)
            except json.JSONDecodeError as error:
                raise _SlackError("invalid_arguments") from error
        if not trigger_id or not isinstance(view, dict) or view.get("type") != "modal":
            raise _SlackError("invalid_arguments")
        with self._lock:
            if any(opened.trigger_id == trigger_id for opened in self._views):
                raise _SlackError("exchanged_trigger_id")
            view_id = f"V{next(self._sequence):010d}"
            opened = SlackView(id=view_id, trigger_id=trigger_id, view=copy.deepcopy(view))
            self._views.append(opened)
        LOG.debug("slack stub opened view", extra={"view_id": view_id})
        return {"ok": True, "view": {**copy.deepcopy(view), "id": view_id, "state": {"values": {}}}}

    def _next_ts(self) -> str:
        return f"{self._epoch}.{next(self._sequence):06d}"

    def _joined_channel(self, params: dict[str, Any]) -> str:
        channel = str(params.get("channel") or "")
        if channel not in self._channels:
            raise _SlackError("channel_not_found")
        if channel in self._not_joined:
            raise _SlackError("not_in_channel")
        return channel

    def _authenticate(self, authorization: str | None, params: dict[str, Any]) -> None:
        token = params.pop("token", None)
        if authorization and authorization.startswith("Bearer "):
            token = authorization.removeprefix("Bearer ").strip()
        if not token:
            raise _SlackError("not_authed")
        if token != self._token:
            raise _SlackError("invalid_auth")

    def _call(self, method: str, authorization: str | None, params: dict[str, Any]) -> dict[str, Any]:
        handler = self._methods.get(method)
        if handler is None:
            raise _SlackError("unknown_method")
        self._authenticate(authorization, params)
        return handler(params)

    # -------------------------------------------------------------------------- HTTP

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        stub = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                try:
                    method = self._method()
                    params = self._params()
                    answer = stub._call(method, self.headers.get("Authorization"), params)
                except _SlackError as error:
                    answer = {"ok": False, "error": error.code}
                self._answer(200, answer)

            def _method(self) -> str:
                path = self.path.split("?", 1)[0]
                if not path.startswith("/api/"):
                    raise _SlackError("unknown_method")
                return path.removeprefix("/api/")

            def _params(self) -> dict[str, Any]:
                length = int(self.headers.get("Content-Length") or 0)
                if length > MAX_BODY_BYTES:
                    raise _SlackError("request_too_large")
                body = self.rfile.read(length) if length else b""
                content_type = (self.headers.get("Content-Type") or "").split(";", 1)[0].strip().lower()
                try:
                    if content_type == "application/json":
                        params = json.loads(body or b"{}")
                        if not isinstance(params, dict):
                            raise _SlackError("invalid_json")
                        return params
                    form = {key: values[-1] for key, values in parse_qs(body.decode("utf-8")).items()}
                    if "blocks" in form:
                        form["blocks"] = json.loads(form["blocks"])
                    # `view` stays a string: views.open answers invalid_arguments for bad JSON, not invalid_blocks.
                    return dict(form)
                except (UnicodeDecodeError, json.JSONDecodeError) as error:
                    raise _SlackError(
                        "invalid_json" if content_type == "application/json" else "invalid_blocks"
                    ) from error

            def _answer(self, status: int, answer: dict[str, Any]) -> None:
                payload = json.dumps(answer).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json; charset=utf-8")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, format: str, *args: Any) -> None:
                # The default writes every request line to stderr; keep test and demo output quiet.
                return

        return Handler


def _revision(params: dict[str, Any]) -> SlackRevision:
    text = params.get("text")
    blocks = params.get("blocks") or []
    if not isinstance(blocks, list) or not all(isinstance(block, dict) for block in blocks):
        raise _SlackError("invalid_blocks")
    if not text and not blocks:
        raise _SlackError("no_text")
    return SlackRevision(text=str(text or ""), blocks=copy.deepcopy(blocks))
