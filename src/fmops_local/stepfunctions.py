"""Step Functions: what the local cloud adds to moto's interpreter (enabled by server.py's config).

moto's interpreter already calls Lambda through the Invoke API (so tasks reach
the workers via lambda_runtime's hook) and maps a Lambda FunctionError to the
state error like AWS: Error = the payload's errorType, Cause = the payload
(StateTaskServiceLambda._from_error), so Retry/Catch on exception class names
work unchanged.
"""

from __future__ import annotations

import uuid
from typing import Any

from moto.core.responses import EmptyResult
from moto.stepfunctions.parser.api import ExecutionStatus
from moto.stepfunctions.parser.models import StepFunctionsParserBackend, stepfunctions_parser_backends
from moto.stepfunctions.responses import StepFunctionResponse

from fmops_local.patching import Patcher


def install_execution_names(patcher: Patcher) -> None:
    """StartExecution without a name gets a UUID, as in AWS.

    Wraps moto.stepfunctions.parser.models.StepFunctionsParserBackend.start_execution
    (moto 5.2.5), which would name every such execution "None" and then treat
    the second one as a duplicate of the first.
    """

    def make(original: Any) -> Any:
        def start_execution(
            backend: StepFunctionsParserBackend,
            state_machine_arn: str,
            name: str | None = None,
            execution_input: str | None = None,
            trace_header: str | None = None,
        ) -> Any:
            return original(backend, state_machine_arn, name or str(uuid.uuid4()), execution_input, trace_header)

        return start_execution

    patcher.wrap(StepFunctionsParserBackend, "start_execution", make)


def install_task_failure_causes(patcher: Patcher) -> None:
    """SendTaskFailure keeps its `cause`, as in AWS (the Catch's $.error.Cause).

    moto 5.2.5's StepFunctionResponse.send_task_failure reads only `error` and drops `cause`, so a
    rejection's reason (who rejected, why) would never reach the state that records it.
    """

    def make(original: Any) -> Any:
        def send_task_failure(response: StepFunctionResponse) -> Any:
            backend: Any = response.stepfunction_backend  # the parser backend, whose method takes `cause`
            backend.send_task_failure(
                response._get_param("taskToken"), error=response._get_param("error"), cause=response._get_param("cause")
            )
            return EmptyResult()

        return send_task_failure

    patcher.wrap(StepFunctionResponse, "send_task_failure", make)


def busy_executions(account_id: str, region: str) -> list[str]:
    """RUNNING executions, except those parked on a task token.

    An execution waiting for a callback (an evaluator, a human approval) only
    moves when someone outside calls SendTaskSuccess/Failure, so waiting for it
    to finish would never end.
    """
    backend = stepfunctions_parser_backends[account_id][region]
    busy = []
    for execution in backend._get_executions(ExecutionStatus.RUNNING):
        if not _waits_for_callback(execution):
            busy.append(f"execution {execution.execution_arn} is RUNNING")
    return busy


def _waits_for_callback(execution: Any) -> bool:
    # moto sets exec_worker and its env from the execution's own thread: while it starts or
    # finishes either may be None. Such an execution is busy, not parked on a callback.
    worker = execution.exec_worker
    environment = getattr(worker, "env", None)
    if environment is None:
        return False
    pool = environment.callback_pool_manager._pool
    return any(endpoint.get_outcome() is None for endpoint in list(pool.values()))
