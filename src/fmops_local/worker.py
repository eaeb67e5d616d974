"""One warm Lambda sandbox: runs a single function's handler, invocation after invocation.

Started by workers.py as `python -u worker.py ...` with cwd = the function's
CodeUri and an environment holding only what Lambda would give it. Standard
library only, and run as a script rather than `-m fmops_local.worker`, so that
nothing of the local cloud is importable from the handler's process.

Protocol: one JSON object per line. Requests arrive on stdin; responses leave
on a duplicate of the original stdout. File descriptor 1 itself is pointed at
stderr (the function's log file), so whatever the handler prints -- Powertools
logs, metrics -- lands in the log and can never corrupt the protocol.
"""

from __future__ import annotations

import argparse
import decimal
import importlib
import json
import os
import resource
import sys
import threading
import time
import traceback
from typing import IO, Any

# A script's own directory is sys.path[0]; in Lambda that place belongs to the
# task root (the function's code), so `import app` finds the function's app.py.
sys.path[0] = os.getcwd()


class LambdaContext:
    """The context object of the Python Lambda runtime (awslambdaric), same attribute names and types."""

    def __init__(self, request: dict[str, Any], function_name: str, memory_mb: str, log_stream: str) -> None:
        self.function_name = function_name
        self.function_version = "$LATEST"
        self.invoked_function_arn: str = request["invoked_function_arn"]
        self.memory_limit_in_mb = memory_mb  # a string, as in the real runtime
        self.aws_request_id: str = request["request_id"]
        self.log_group_name = f"/aws/lambda/{function_name}"
        self.log_stream_name = log_stream
        self.identity = None
        self.client_context = None
        self.tenant_id = None
        self._deadline_ms: int = request["deadline_ms"]

    def get_remaining_time_in_millis(self) -> int:
        return max(self._deadline_ms - int(time.time() * 1000), 0)


def _to_json(value: Any) -> str:
    # The Python runtime serialises Decimal (e.g. DynamoDB numbers) like this too.
    def default(o: Any) -> Any:
        if isinstance(o, decimal.Decimal):
            return int(o) if o == o.to_integral_value() else float(o)
        raise TypeError(f"Object of type {type(o).__name__} is not JSON serializable")

    return json.dumps(value, default=default)


def _error(error_type: str, message: str, stack: list[str] | None = None) -> dict[str, Any]:
    return {"errorMessage": message, "errorType": error_type, "requestId": "", "stackTrace": stack or []}


def _exception_error(error: BaseException) -> dict[str, Any]:
    stack = traceback.format_list(traceback.extract_tb(error.__traceback__)[1:])
    return _error(type(error).__name__, str(error), stack)


def _load_handler(handler: str) -> Any:
    """Import the handler like awslambdaric does, with the same error types."""
    module_name, _, attribute = handler.rpartition(".")
    try:
        module = importlib.import_module(module_name.replace("/", "."))
    except ImportError as error:
        raise InitError(
            _error("Runtime.ImportModuleError", f"Unable to import module '{module_name}': {error}")
        ) from error
    except SyntaxError as error:
        message = f"Syntax error in module '{module_name}': {error}"
        raise InitError(_error("Runtime.UserCodeSyntaxError", message)) from error
    except Exception as error:
        raise InitError(_exception_error(error)) from error
    try:
        return getattr(module, attribute)
    except AttributeError as error:
        message = f"Handler '{attribute}' missing on module '{module_name}'"
        raise InitError(_error("Runtime.HandlerNotFound", message)) from error


class InitError(Exception):
    def __init__(self, payload: dict[str, Any]) -> None:
        super().__init__(payload["errorMessage"])
        self.payload = payload


def _exit_when_orphaned(parent_pid: int) -> None:
    # stdin EOF already ends an idle worker whose parent died; this also ends
    # one that is stuck in a handler.
    while True:
        time.sleep(1)
        if os.getppid() != parent_pid:
            os._exit(1)


def _max_memory_mb() -> int:
    # VmHWM, not ru_maxrss: the latter keeps the peak of the parent this process was forked from.
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) // 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024


def _log(line: str) -> None:
    sys.stderr.write(line + "\n")
    sys.stderr.flush()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--handler", required=True)
    parser.add_argument("--function-name", required=True)
    parser.add_argument("--memory", required=True)
    parser.add_argument("--parent-pid", type=int, required=True)
    parser.add_argument("--spawned-at", type=float, required=True)
    args = parser.parse_args()

    protocol: IO[str] = os.fdopen(os.dup(1), "w", buffering=1)
    os.dup2(2, 1)
    threading.Thread(target=_exit_when_orphaned, args=(args.parent_pid,), daemon=True).start()
    log_stream = f"{time.strftime('%Y/%m/%d')}/[$LATEST]{os.getpid():08x}"

    _log(
        f"INIT_START Runtime Version: python:{sys.version_info[0]}.{sys.version_info[1]} Function: {args.function_name}"
    )
    try:
        handler = _load_handler(args.handler)
    except InitError as error:
        _log(f"INIT_FAILED {error.payload['errorType']}: {error.payload['errorMessage']}")
        protocol.write(json.dumps({"ready": False, "error": error.payload}) + "\n")
        return
    # Like Lambda's Init Duration: runtime start-up plus the handler module's import.
    init_ms = (time.time() - args.spawned_at) * 1000
    protocol.write(json.dumps({"ready": True, "init_ms": init_ms}) + "\n")

    first = True
    for line in sys.stdin:
        request = json.loads(line)
        request_id = request["request_id"]
        context = LambdaContext(request, args.function_name, args.memory, log_stream)
        _log(f"START RequestId: {request_id} Version: $LATEST")
        began = time.perf_counter()
        try:
            result = handler(request["event"], context)
            try:
                payload, error_type = _to_json(result), None
            except (TypeError, ValueError) as error:
                body = _error("Runtime.MarshalError", f"Unable to marshal response: {error}")
                payload, error_type = json.dumps(body), body["errorType"]
        except Exception as error:
            body = _exception_error(error)
            body["requestId"] = request_id
            frames = error.__traceback__.tb_next if error.__traceback__ else None  # without this file's frame
            trace = "".join(traceback.format_exception(type(error), error, frames))
            _log(f"[ERROR] {body['errorType']}: {body['errorMessage']}\n{trace}")
            payload, error_type = json.dumps(body), body["errorType"]
        except BaseException as error:  # SystemExit and friends end the sandbox, as in Lambda
            _log(f"[ERROR] Runtime exited: {error!r}")
            raise
        duration_ms = (time.perf_counter() - began) * 1000
        max_memory_mb = _max_memory_mb()
        init = f"\tInit Duration: {init_ms:.2f} ms" if first else ""
        _log(f"END RequestId: {request_id}")
        _log(
            f"REPORT RequestId: {request_id}\tDuration: {duration_ms:.2f} ms"
            f"\tBilled Duration: {int(duration_ms) + 1} ms\tMemory Size: {args.memory} MB"
            f"\tMax Memory Used: {max_memory_mb} MB{init}"
        )
        first = False
        protocol.write(
            json.dumps(
                {"request_id": request_id, "payload": payload, "error_type": error_type, "duration_ms": duration_ms}
            )
            + "\n"
        )


if __name__ == "__main__":
    main()
