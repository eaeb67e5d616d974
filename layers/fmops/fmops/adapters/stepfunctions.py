from typing import Any

from botocore.exceptions import ClientError

from fmops.adapters import client, error_code
from fmops.events import PromotionInput


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
