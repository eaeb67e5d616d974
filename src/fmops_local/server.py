"""moto in server mode, in this process, on 127.0.0.1.

The server runs in-process (ThreadedMotoServer) on purpose: the local cloud
extends moto's backends by patching them (see lambda_runtime, events,
stepfunctions, sagemaker_events), which only works when they live in the same
interpreter as the patches.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import urllib.request
from typing import Any

import boto3
import moto
from moto.server import ThreadedMotoServer

LOG = logging.getLogger(__name__)

# The patches (lambda_runtime, events, stepfunctions, sagemaker_events) wrap moto
# internals as they are in this version; another one may have moved them.
PATCHED_MOTO_VERSION = "5.2.5"

REGION = "us-east-1"
ACCOUNT_ID = "123456789012"  # moto's default account: every ARN moto builds uses it
# Fixed fake credentials: moto accepts anything, and nothing here may ever reach AWS.
ACCESS_KEY_ID = "testing"
SECRET_ACCESS_KEY = "testing"

# moto 5.x executes Step Functions definitions (service integrations
# included) only with this config; without it, executions are stubs that
# never run a state.
_MOTO_CONFIG: dict[str, Any] = {"stepfunctions": {"execute_state_machine": True}}
_MOTO_DEFAULTS: dict[str, Any] = {"stepfunctions": {"execute_state_machine": False}}


class MotoServer:
    """A moto server on 127.0.0.1:<port> (0 picks a free port), configured for the local cloud."""

    def __init__(self, port: int = 4566) -> None:
        self._requested_port = port
        self._server: ThreadedMotoServer | None = None
        self._previous_moto_port: str | None = None
        self.port = 0

    @property
    def endpoint_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        if moto.__version__ != PATCHED_MOTO_VERSION:
            LOG.warning(
                "moto %s installed; the local cloud's patches target %s", moto.__version__, PATCHED_MOTO_VERSION
            )
        werkzeug_logger = logging.getLogger("werkzeug")
        if werkzeug_logger.level == logging.NOTSET:
            # One access-log line per boto3 call drowns everything else.
            werkzeug_logger.setLevel(logging.WARNING)
        if self._requested_port:
            _check_free(self._requested_port)
        self._server = ThreadedMotoServer(ip_address="127.0.0.1", port=self._requested_port, verbose=False)
        self._server.start()
        self.port = self._server.get_host_and_port()[1]
        # moto's Step Functions interpreter calls Lambda (and every other
        # service integration) with a boto3 client pointed at
        # localhost:$MOTO_PORT (moto/stepfunctions/parser/asl/utils/boto_client.py).
        self._previous_moto_port = os.environ.get("MOTO_PORT")
        os.environ["MOTO_PORT"] = str(self.port)
        # Backends are process-global: a previous local cloud in this process
        # must not leak its resources into this one.
        self._post("/moto-api/reset")
        self._post("/moto-api/config", _MOTO_CONFIG)

    def stop(self) -> None:
        if self._server is None:
            return
        try:
            self._post("/moto-api/reset")
            self._post("/moto-api/config", _MOTO_DEFAULTS)
        finally:
            self._server.stop()
            self._server = None
            if self._previous_moto_port is None:
                os.environ.pop("MOTO_PORT", None)
            else:
                os.environ["MOTO_PORT"] = self._previous_moto_port

    def session(self) -> boto3.Session:
        return new_session()

    def _post(self, path: str, body: dict[str, Any] | None = None) -> None:
        request = urllib.request.Request(
            self.endpoint_url + path,
            data=json.dumps(body or {}).encode(),
            method="POST",
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            response.read()


def _check_free(port: int) -> None:
    # ThreadedMotoServer binds in its thread and, when that fails, start() waits forever.
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as werkzeug does
        try:
            probe.bind(("127.0.0.1", port))
        except OSError as error:
            raise OSError(f"port {port} on 127.0.0.1 is in use (another local cloud?): {error}") from error


def new_session() -> boto3.Session:
    """A boto3 session with the local cloud's fake credentials and region (pass endpoint_url to clients)."""
    return boto3.Session(
        aws_access_key_id=ACCESS_KEY_ID,
        aws_secret_access_key=SECRET_ACCESS_KEY,
        region_name=REGION,
    )
