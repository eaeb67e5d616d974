from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from fmops.adapters import client, error_code
from fmops.events import PromotionInput

if TYPE_CHECKING:  # the intake and approval functions use this module without the deployment code
    from fmops.deployment.service import StageStep

# The token was used already, or its wait timed out: the execution has moved on without us.
_TOKEN_SPENT = {"TaskTimedOut", "TaskDoesNotExist", "InvalidToken"}
_MAX_CAUSE = 32768


class StepFunctionsWorkflow:
    def __init__(self, state_machine_arn: str, sfn: Any = None) -> None:
        self._arn = state_machine_arn
        self._sfn = sfn

    def start_promotion(self, promotion: PromotionInput) -> None:
        sfn = self._sfn or client("stepfunctions")
        try:
            sfn.start_execution(
                stateMachineArn=self._arn, name=promotion.execution_name, input=promotion.model_dump_json()
            )
        except ClientError as error:
            # Same name and same input within 90 days: Step Functions itself refuses the duplicate.
            if error_code(error) != "ExecutionAlreadyExists":
                raise


class StepFunctionsDeployments:
    """Starts the deployment state machine (fmops.deployment.starting.DeploymentWorkflow)."""

    def __init__(self, state_machine_arn: str, sfn: Any = None) -> None:
        self._arn = state_machine_arn
        self._sfn = sfn

    def start(self, name: str, step: StageStep) -> bool:
        sfn = self._sfn or client("stepfunctions")
        try:
            sfn.start_execution(stateMachineArn=self._arn, name=name, input=step.model_dump_json())
        except ClientError as error:
            if error_code(error) == "ExecutionAlreadyExists":
                return False
            raise
        return True


class StepFunctionsCallbacks:
    def __init__(self, sfn: Any = None) -> None:
        self._sfn = sfn

    @property
    def sfn(self) -> Any:
        return self._sfn or client("stepfunctions")

    def succeed(self, token: str, output: dict[str, object]) -> bool:
        return self._send(self.sfn.send_task_success, taskToken=token, output=json.dumps(output))

    def fail(self, token: str, error: str, cause: str) -> bool:
        return self._send(self.sfn.send_task_failure, taskToken=token, error=error[:256], cause=cause[:_MAX_CAUSE])

    def heartbeat(self, token: str) -> bool:
        return self._send(self.sfn.send_task_heartbeat, taskToken=token)

    @staticmethod
    def _send(call: Any, **request: Any) -> bool:
        try:
            call(**request)
        except ClientError as error:
            if error_code(error) in _TOKEN_SPENT:
                return False
            raise
        return True
