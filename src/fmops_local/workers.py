"""Parent side of the Lambda sandboxes: one warm worker process per function.

Every function's app.py is a module named `app` and its configuration lives in
process-wide environment variables, so each function runs in its own process
(worker.py), with its own code directory first on sys.path and an environment
that holds only what Lambda would give it. The process starts on the first
invocation (a cold start, logged with its duration) and stays warm; a timeout
or a crash ends it, and the next invocation starts a new one, as in Lambda.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import queue
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from fmops_local import worker as worker_module
from fmops_local.deploy import FunctionSpec

LOG = logging.getLogger(__name__)

# Lambda gives the init phase 10 s of its own before counting the function timeout.
_INIT_TIMEOUT_S = 10.0


@dataclass(frozen=True)
class InvokeResult:
    payload: bytes  # the response, or Lambda's {"errorMessage", "errorType", ...} on error
    error_type: str | None  # set when the function failed (FunctionError: Unhandled)
    duration_ms: float
    cold_start: bool
    init_ms: float | None


def sandbox_environment(
    spec: FunctionSpec, endpoint_url: str, region: str, access_key: str, secret_key: str
) -> dict[str, str]:
    """The whole environment of a function's process: the template's variables and Lambda's own, nothing inherited."""
    environment = {
        **spec.environment,
        "AWS_LAMBDA_FUNCTION_NAME": spec.name,
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(spec.memory_mb),
        "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
        "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{spec.name}",
        "AWS_EXECUTION_ENV": f"AWS_Lambda_{spec.runtime}",
        "LAMBDA_TASK_ROOT": str(spec.code_dir),
        "_HANDLER": spec.handler,
        "TZ": ":UTC",
        # Lambda sets en_US.UTF-8; C.UTF-8 behaves the same and exists everywhere, where
        # a missing locale would make Python add LC_CTYPE to the environment itself.
        "LANG": "C.UTF-8",
        "AWS_REGION": region,
        "AWS_DEFAULT_REGION": region,
        "AWS_ACCESS_KEY_ID": access_key,
        "AWS_SECRET_ACCESS_KEY": secret_key,
        # Standard boto3 configuration: the handler code has no idea it runs locally.
        "AWS_ENDPOINT_URL": endpoint_url,
        # There is no X-Ray daemon to send traces to.
        "POWERTOOLS_TRACE_DISABLED": "true",
        "PATH": os.environ.get("PATH", os.defpath),
    }
    if spec.layer_dirs:
        environment["PYTHONPATH"] = os.pathsep.join(str(path) for path in spec.layer_dirs)
    return environment


class WorkerProcess:
    """One function's sandbox. invoke() is thread-safe; invocations of one function run one at a time."""

    def __init__(self, spec: FunctionSpec, environment: dict[str, str], log_path: Path) -> None:
        self.spec = spec
        self._environment = environment
        self._log_path = log_path
        self._lock = threading.Lock()
        self._process: subprocess.Popen[str] | None = None
        self._responses: queue.Queue[dict[str, Any] | None] = queue.Queue()
        self._closed = False

    def invoke(self, event: Any, request_id: str) -> InvokeResult:
        with self._lock:
            if self._closed:
                error = {"errorType": "Runtime.ExitError", "errorMessage": "the local cloud is stopping"}
                return InvokeResult(_payload(error, request_id), error["errorType"], 0.0, False, None)
            cold_start, init_ms = False, None
            if self._process is None or self._process.poll() is not None:
                cold_start = True
                started = time.perf_counter()
                init_error = self._start()
                init_ms = (time.perf_counter() - started) * 1000
                LOG.info("cold start function=%s init_ms=%.0f", self.spec.logical_id, init_ms)
                if init_error is not None:
                    return InvokeResult(_payload(init_error, request_id), init_error["errorType"], 0.0, True, init_ms)
            return self._send(event, request_id, cold_start, init_ms)

    def stop(self) -> None:
        self._closed = True
        if self._lock.acquire(timeout=0.5):
            try:
                self._terminate()
            finally:
                self._lock.release()
        elif (process := self._process) is not None:
            # Mid-invocation: end it now rather than wait up to the function's Timeout;
            # the invoking thread sees the exit and reports Runtime.ExitError.
            process.kill()
            process.wait()

    def log_tail(self, size: int) -> bytes:
        if not self._log_path.exists():
            return b""
        with self._log_path.open("rb") as log:
            log.seek(max(self._log_path.stat().st_size - size, 0))
            return log.read()

    def _start(self) -> dict[str, Any] | None:
        self._log_path.parent.mkdir(parents=True, exist_ok=True)
        self._responses = queue.Queue()
        with self._log_path.open("a") as log:
            self._process = subprocess.Popen(
                [
                    sys.executable,
                    "-u",
                    worker_module.__file__,
                    "--handler",
                    self.spec.handler,
                    "--function-name",
                    self.spec.name,
                    "--memory",
                    str(self.spec.memory_mb),
                    "--parent-pid",
                    str(os.getpid()),
                    "--spawned-at",
                    repr(time.time()),
                ],
                cwd=self.spec.code_dir,
                env=self._environment,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=log,
                text=True,
                # Its own session: Ctrl-C in `fmops local up` reaches the parent,
                # which stops the workers, instead of killing them mid-invocation.
                start_new_session=True,
            )
        assert self._process.stdout is not None
        threading.Thread(target=_read_lines, args=(self._process.stdout, self._responses), daemon=True).start()
        ready = self._next_response(_INIT_TIMEOUT_S)
        if ready is None or not ready.get("ready"):
            self._terminate()
            if ready is None:
                return {"errorType": "Runtime.ExitError", "errorMessage": "Runtime exited during init"}
            error: dict[str, Any] = ready["error"]
            return error
        return None

    def _send(self, event: Any, request_id: str, cold_start: bool, init_ms: float | None) -> InvokeResult:
        assert self._process is not None and self._process.stdin is not None
        timeout_s = self.spec.timeout_s
        request = {
            "request_id": request_id,
            "event": event,
            "invoked_function_arn": self.spec.arn,
            "deadline_ms": int(time.time() * 1000) + timeout_s * 1000,
        }
        started = time.perf_counter()
        try:
            self._process.stdin.write(json.dumps(request) + "\n")
            self._process.stdin.flush()
        except (BrokenPipeError, OSError):
            pass  # the reader sees EOF and reports the exit below
        response = self._next_response(timeout_s + 1.0)
        duration_ms = (time.perf_counter() - started) * 1000
        if response is None:
            timed_out = self._process.poll() is None
            self._terminate(kill=timed_out)
            if timed_out:
                error_type, message = "Sandbox.Timedout", f"Task timed out after {timeout_s:.2f} seconds"
            else:
                error_type, message = "Runtime.ExitError", "Runtime exited without providing a reason"
            error = {"errorType": error_type, "errorMessage": f"RequestId: {request_id} Error: {message}"}
            return InvokeResult(_payload(error, request_id), error_type, duration_ms, cold_start, init_ms)
        payload = str(response["payload"]).encode()
        return InvokeResult(payload, response["error_type"], response["duration_ms"], cold_start, init_ms)

    def _next_response(self, timeout_s: float) -> dict[str, Any] | None:
        try:
            return self._responses.get(timeout=timeout_s)
        except queue.Empty:
            return None

    def _terminate(self, kill: bool = False) -> None:
        process, self._process = self._process, None
        if process is None:
            return
        if kill:
            process.kill()
        elif process.stdin is not None:
            with contextlib.suppress(OSError):
                process.stdin.close()  # EOF: a healthy worker exits by itself
        try:
            process.wait(timeout=2)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _read_lines(stream: IO[str], responses: queue.Queue[dict[str, Any] | None]) -> None:
    for line in stream:
        responses.put(json.loads(line))
    responses.put(None)  # EOF: the worker is gone


def _payload(error: dict[str, Any], request_id: str) -> bytes:
    return json.dumps({**error, "requestId": request_id, "stackTrace": error.get("stackTrace", [])}).encode()
