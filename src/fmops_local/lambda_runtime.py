"""Lambda's invocation semantics on top of the workers, and the hook that routes moto's Invoke to them.

- RequestResponse (boto3 invoke, Step Functions lambda:invoke tasks, API
  routes): the caller waits; a handler exception comes back as
  {"errorMessage", "errorType", "stackTrace"} with FunctionError: Unhandled.
- Event (InvocationType=Event, EventBridge rule targets): the event is queued
  per function and the caller returns at once. A failed invocation is retried
  per the function's EventInvokeConfig (MaximumRetryAttempts, default 2) with
  a backoff, then an AWS-shaped record goes to its OnFailure destination.
"""

from __future__ import annotations

import base64
import collections
import json
import logging
import queue
import sys
import threading
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from moto.awslambda.models import LambdaBackend

from fmops_local.deploy import FunctionSpec
from fmops_local.destinations import Destinations
from fmops_local.patching import Patcher
from fmops_local.workers import InvokeResult, WorkerProcess

LOG = logging.getLogger(__name__)

_MAX_RECORDS = 10_000  # per function; `fmops local up` may run for days


@dataclass(frozen=True)
class Invocation:
    """One run of a handler, for tests and benchmarks."""

    function: str  # logical id
    request_id: str
    invocation_type: str  # "RequestResponse" or "Event"
    attempt: int  # 1 for the first try of an async event, 2.. for its retries
    started_at: float  # epoch seconds
    duration_ms: float
    cold_start: bool
    init_duration_ms: float | None
    error_type: str | None


@dataclass
class _AsyncEvent:
    request_id: str
    event: Any
    received_at: float
    attempt: int = 1


class LambdaRuntime:
    def __init__(
        self,
        functions: dict[str, FunctionSpec],
        environments: dict[str, dict[str, str]],
        log_dir: Path,
        destinations: Destinations,
        retry_delay_s: float = 1.0,
    ) -> None:
        _check_runtimes(functions)
        self._functions = functions
        self._by_name = {key: spec for spec in functions.values() for key in (spec.name, spec.arn)}
        self._workers = {
            logical_id: WorkerProcess(spec, environments[logical_id], log_dir / f"{logical_id}.log")
            for logical_id, spec in functions.items()
        }
        self._destinations = destinations
        # AWS waits about 1 minute, then 2; locally the base delay is configurable.
        self._retry_delay_s = retry_delay_s
        self._lock = threading.Lock()
        self._queues: dict[str, queue.Queue[_AsyncEvent | None]] = {}
        self._consumers: list[threading.Thread] = []
        self._timers: set[threading.Timer] = set()
        self._pending: collections.Counter[str] = collections.Counter()  # accepted async events not finished
        self._running: collections.Counter[str] = collections.Counter()  # sync invocations in progress
        self._records: dict[str, collections.deque[Invocation]] = {
            logical_id: collections.deque(maxlen=_MAX_RECORDS) for logical_id in functions
        }
        self._stopped = False

    # ------------------------------------------------------------------ public
    def find(self, name_or_arn: str) -> FunctionSpec | None:
        """The template function with this name or (unqualified) ARN."""
        return self._by_name.get(name_or_arn.removesuffix(":$LATEST"))

    def invoke(self, spec: FunctionSpec, event: Any) -> InvokeResult:
        """Synchronous (RequestResponse) invocation."""
        with self._lock:
            self._running[spec.logical_id] += 1
        try:
            return self._run(spec, event, str(uuid.uuid4()), "RequestResponse", attempt=1)
        finally:
            with self._lock:
                self._running[spec.logical_id] -= 1

    def invoke_async(self, spec: FunctionSpec, event: Any) -> str:
        """Asynchronous (Event) invocation: queued, and the caller does not wait. Returns the request id."""
        request = _AsyncEvent(request_id=str(uuid.uuid4()), event=event, received_at=time.time())
        with self._lock:
            if self._stopped:
                raise RuntimeError("the local cloud is stopping")
            self._pending[spec.logical_id] += 1
            self._queue(spec).put(request)
        return request.request_id

    def log_tail(self, spec: FunctionSpec, size: int = 4096) -> bytes:
        """The end of the function's log, as Invoke returns with LogType=Tail."""
        return self._workers[spec.logical_id].log_tail(size)

    def busy(self) -> list[str]:
        with self._lock:
            busy = [f"{fn}: {n} async event(s) queued or waiting for a retry" for fn, n in self._pending.items() if n]
            busy += [f"{fn}: {n} synchronous invocation(s) running" for fn, n in self._running.items() if n]
        return busy

    def invocations(self, logical_id: str) -> list[Invocation]:
        if logical_id not in self._records:
            raise KeyError(f"no function {logical_id} in the template")
        with self._lock:
            return list(self._records[logical_id])

    def stop(self) -> None:
        with self._lock:
            self._stopped = True
            for timer in self._timers:
                timer.cancel()
            for pending in self._queues.values():
                pending.put(None)
        # Workers first: that ends invocations in progress instead of waiting for their Timeout.
        for worker in self._workers.values():
            worker.stop()
        for consumer in self._consumers:
            consumer.join(timeout=5)

    # ------------------------------------------------------------------ internals
    def _run(self, spec: FunctionSpec, event: Any, request_id: str, invocation_type: str, attempt: int) -> InvokeResult:
        started_at = time.time()
        result = self._workers[spec.logical_id].invoke(event, request_id)
        record = Invocation(
            function=spec.logical_id,
            request_id=request_id,
            invocation_type=invocation_type,
            attempt=attempt,
            started_at=started_at,
            duration_ms=result.duration_ms,
            cold_start=result.cold_start,
            init_duration_ms=result.init_ms,
            error_type=result.error_type,
        )
        with self._lock:
            self._records[spec.logical_id].append(record)
        return result

    def _queue(self, spec: FunctionSpec) -> queue.Queue[_AsyncEvent | None]:
        # Called with self._lock held.
        if spec.logical_id not in self._queues:
            self._queues[spec.logical_id] = queue.Queue()
            consumer = threading.Thread(
                target=self._consume, args=(spec,), name=f"async-{spec.logical_id}", daemon=True
            )
            self._consumers.append(consumer)
            consumer.start()
        return self._queues[spec.logical_id]

    def _consume(self, spec: FunctionSpec) -> None:
        pending = self._queues[spec.logical_id]
        while (request := pending.get()) is not None and not self._stopped:
            try:
                finished = self._attempt(spec, request)
            except Exception:
                LOG.exception("async invocation of %s failed unexpectedly", spec.logical_id)
                finished = True
            if finished:
                with self._lock:
                    self._pending[spec.logical_id] -= 1

    def _attempt(self, spec: FunctionSpec, request: _AsyncEvent) -> bool:
        """Run one attempt; False when a retry was scheduled (the event is still pending)."""
        if time.time() - request.received_at > spec.max_event_age_s:
            self._finish(spec, request, None, "EventAgeExceeded", request.attempt - 1)
            return True
        result = self._run(spec, request.event, request.request_id, "Event", request.attempt)
        if result.error_type is None:
            self._finish(spec, request, result, "Success", request.attempt)
            return True
        if request.attempt <= spec.max_retry_attempts and not self._stopped:
            delay = self._retry_delay_s * 2 ** (request.attempt - 1)
            LOG.info(
                "retrying function=%s request_id=%s error=%s in %.2fs",
                spec.logical_id,
                request.request_id,
                result.error_type,
                delay,
            )
            request.attempt += 1
            self._schedule(spec, request, delay)
            return False
        self._finish(spec, request, result, "RetriesExhausted", request.attempt)
        return True

    def _schedule(self, spec: FunctionSpec, request: _AsyncEvent, delay: float) -> None:
        def requeue() -> None:
            with self._lock:
                self._timers.discard(timer)
                self._queues[spec.logical_id].put(request)

        timer = threading.Timer(delay, requeue)
        timer.daemon = True
        with self._lock:
            self._timers.add(timer)
        timer.start()

    def _finish(
        self, spec: FunctionSpec, request: _AsyncEvent, result: InvokeResult | None, condition: str, invoke_count: int
    ) -> None:
        success = condition == "Success"
        destination = spec.on_success if success else spec.on_failure
        if destination is None:
            if not success:
                LOG.warning(
                    "async event dropped: function=%s request_id=%s condition=%s (no OnFailure destination)",
                    spec.logical_id,
                    request.request_id,
                    condition,
                )
            return
        # https://docs.aws.amazon.com/lambda/latest/dg/invocation-async-retain-records.html
        response_context: dict[str, Any] = {"statusCode": 200, "executedVersion": "$LATEST"}
        if result is not None and result.error_type is not None:
            response_context["functionError"] = "Unhandled"
        record: dict[str, Any] = {
            "version": "1.0",
            "timestamp": datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            "requestContext": {
                "requestId": request.request_id,
                "functionArn": f"{spec.arn}:$LATEST",
                "condition": condition,
                "approximateInvokeCount": invoke_count,
            },
            "requestPayload": request.event,
            "responseContext": response_context,
        }
        if result is not None:
            record["responsePayload"] = _json_or_text(result.payload)
        detail_type = f"Lambda Function Invocation Result - {'Success' if success else 'Failure'}"
        self._destinations.send(destination, record, detail_type=detail_type)


def _check_runtimes(functions: dict[str, FunctionSpec]) -> None:
    local = f"python{sys.version_info.major}.{sys.version_info.minor}"
    for spec in functions.values():
        if not spec.runtime.startswith("python"):
            raise ValueError(f"{spec.logical_id}: runtime {spec.runtime} cannot run locally (Python only)")
    declared = sorted({spec.runtime for spec in functions.values()} - {local})
    if declared:
        LOG.info("functions declare %s; local workers run %s (this interpreter)", ", ".join(declared), local)


def _json_or_text(payload: bytes) -> Any:
    try:
        return json.loads(payload)
    except ValueError:
        return payload.decode(errors="replace")


def install_invoke_hook(patcher: Patcher, runtime: LambdaRuntime) -> None:
    """Route moto's Lambda Invoke for template functions to the workers.

    Wraps moto.awslambda.models.LambdaBackend.invoke (moto 5.2.5). That method
    serves the Invoke API, which is also how moto's Step Functions interpreter
    calls Lambda (lambda:invoke tasks go through a boto3 client to this
    server); without Docker it would only echo the payload. Functions that are
    not in the template keep moto's behaviour.
    """
    patcher.wrap(LambdaBackend, "invoke", lambda original: _routing_invoke(original, runtime))


def _routing_invoke(original: Any, runtime: LambdaRuntime) -> Any:
    def invoke(
        backend: LambdaBackend,
        function_name: str,
        qualifier: str | None,
        body: Any,
        headers: Any,
        response_headers: dict[str, str],
    ) -> str | bytes | None:
        function = backend.get_function(function_name, qualifier)  # moto's own not-found error
        spec = runtime.find(function.function_name)
        if spec is None:
            echoed: str | bytes | None = original(backend, function_name, qualifier, body, headers, response_headers)
            return echoed
        raw = body.decode() if isinstance(body, bytes) else (body or "{}")
        event = json.loads(raw) if raw.strip() else {}
        invocation_type = headers.get("X-Amz-Invocation-Type", "RequestResponse")
        if invocation_type == "Event":
            runtime.invoke_async(spec, event)
            return b""  # moto answers 202
        if invocation_type == "DryRun":
            return b""
        result = runtime.invoke(spec, event)
        if result.error_type is not None:
            response_headers["x-amz-function-error"] = "Unhandled"
        response_headers["x-amz-executed-version"] = "$LATEST"
        if headers.get("X-Amz-Log-Type") == "Tail":
            response_headers["x-amz-log-result"] = base64.b64encode(runtime.log_tail(spec)).decode()
        response_headers["Content-Length"] = str(len(result.payload))
        return result.payload

    return invoke
