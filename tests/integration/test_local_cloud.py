"""The local cloud runs a SAM template on moto with real handler code in warm worker processes.

These tests deploy a small throwaway project written to a temporary directory
(its own template.yaml, functions, layer and state machine), so they exercise
the local cloud itself, independently of fmops' own handlers.
"""

from __future__ import annotations

import json
import os
import textwrap
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from fmops_local import LocalCloud

pytestmark = pytest.mark.integration

TEMPLATE = """
AWSTemplateFormatVersion: "2010-09-09"
Transform: AWS::Serverless-2016-10-31
Parameters:
  Stage:
    Type: String
    Default: test
Globals:
  Function:
    Runtime: python3.12
    Handler: app.handler
    Timeout: 10
    MemorySize: 256
    Layers: [!Ref SharedLayer]
    Environment:
      Variables:
        STAGE: !Ref Stage
        RECORDS_TABLE: !Ref RecordsTable
Resources:
  SharedLayer:
    Type: AWS::Serverless::LayerVersion
    Properties:
      ContentUri: layer
  UploadBucket:
    Type: AWS::S3::Bucket
    Properties:
      NotificationConfiguration:
        EventBridgeConfiguration:
          EventBridgeEnabled: true
  RecordsTable:
    Type: AWS::DynamoDB::Table
    Properties:
      BillingMode: PAY_PER_REQUEST
      AttributeDefinitions: [{AttributeName: pk, AttributeType: S}]
      KeySchema: [{AttributeName: pk, KeyType: HASH}]
      TimeToLiveSpecification: {AttributeName: expires, Enabled: true}
  Bus:
    Type: AWS::Events::EventBus
    Properties:
      Name: !Sub local-test-${Stage}
  FailureQueue:
    Type: AWS::SQS::Queue
  UndeliverableQueue:
    Type: AWS::SQS::Queue

  RecorderFunction:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: functions/recorder
      Environment:
        Variables:
          ONLY_FOR_RECORDER: "yes"
      Events:
        Uploaded:
          Type: EventBridgeRule
          Properties:
            Pattern:
              source: [aws.s3]
              detail-type: [Object Created]
              detail:
                bucket: {name: [!Ref UploadBucket]}
                object: {key: [{wildcard: "incoming/*/file.json"}]}
        ModelPackageChanged:
          Type: EventBridgeRule
          Properties:
            Pattern:
              source: [aws.sagemaker]
              detail-type: [SageMaker Model Package State Change]
  EnvironmentFunction:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: functions/environment
      Environment:
        Variables:
          ONLY_FOR_ENVIRONMENT: "also"
      Events:
        Item:
          Type: Api
          Properties: {Path: "/items/{id}", Method: get}
  FlakyFunction:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: functions/flaky
      EventInvokeConfig:
        MaximumRetryAttempts: 1
        DestinationConfig:
          OnFailure: {Type: SQS, Destination: !GetAtt FailureQueue.Arn}
      Events:
        Flaky:
          Type: EventBridgeRule
          Properties:
            EventBusName: !Ref Bus
            Pattern: {source: [test.flaky]}
  StepFunction:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: functions/step
  Workflow:
    Type: AWS::Serverless::StateMachine
    Properties:
      DefinitionUri: statemachines/workflow.asl.json
      DefinitionSubstitutions:
        StepFunctionArn: !GetAtt StepFunction.Arn
      Policies:
        - LambdaInvokePolicy: {FunctionName: !Ref StepFunction}
      Events:
        Requested:
          Type: EventBridgeRule
          Properties:
            EventBusName: !Ref Bus
            Pattern: {source: [test.workflow]}
        RequestedDetailOnly:
          Type: EventBridgeRule
          Properties:
            EventBusName: !Ref Bus
            Pattern: {source: [test.workflow.detail]}
            InputPath: $.detail
  UndeliverableRule:
    Type: AWS::Events::Rule
    Properties:
      EventBusName: !Ref Bus
      EventPattern: {source: [test.undeliverable]}
      Targets:
        - Id: Missing
          Arn: !Sub arn:${AWS::Partition}:states:${AWS::Region}:${AWS::AccountId}:stateMachine:does-not-exist
          RoleArn: !GetAtt WorkflowRole.Arn
          DeadLetterConfig: {Arn: !GetAtt UndeliverableQueue.Arn}
Outputs:
  UploadBucketName:
    Value: !Ref UploadBucket
  RecordsTableName:
    Value: !Ref RecordsTable
  BusName:
    Value: !Ref Bus
  WorkflowArn:
    Value: !Ref Workflow
  FailureQueueUrl:
    Value: !Ref FailureQueue
  UndeliverableQueueUrl:
    Value: !Ref UndeliverableQueue
  ItemsUrl:
    Value: !Sub https://${ServerlessRestApi}.execute-api.${AWS::Region}.amazonaws.com/Prod/items
"""

WORKFLOW = {
    "StartAt": "Step",
    "States": {
        "Step": {
            "Type": "Task",
            "Resource": "arn:aws:states:::lambda:invoke",
            "Parameters": {"FunctionName": "${StepFunctionArn}", "Payload.$": "$"},
            "OutputPath": "$.Payload",
            "Retry": [{"ErrorEquals": ["TransientError"], "IntervalSeconds": 1, "MaxAttempts": 2, "BackoffRate": 1}],
            "Catch": [{"ErrorEquals": ["ValidationFailed"], "ResultPath": "$.error", "Next": "Rejected"}],
            "End": True,
        },
        "Rejected": {"Type": "Pass", "End": True},
    },
}

LAYER = '''
"""Shared code, importable by every function through the layer."""
import json
import os

import boto3


def record(kind: str, key: str, body: dict) -> None:
    table = boto3.resource("dynamodb").Table(os.environ["RECORDS_TABLE"])
    table.put_item(Item={"pk": f"{kind}#{key}", "body": json.dumps(body, default=str)})
'''

FUNCTIONS = {
    "recorder": """
import os
from locallayer import record


def handler(event, context):
    record("recorder", event["id"], {"event": event, "env": dict(os.environ)})
    return {"recorded": event["id"]}
""",
    "environment": """
import json
import os


def handler(event, context):
    body = {
        "id": (event.get("pathParameters") or {}).get("id"),
        "env": dict(os.environ),
        "module": __file__,
        "context": {
            "function_name": context.function_name,
            "memory_limit_in_mb": context.memory_limit_in_mb,
            "invoked_function_arn": context.invoked_function_arn,
            "remaining_ms": context.get_remaining_time_in_millis(),
        },
    }
    return {"statusCode": 200, "headers": {"Content-Type": "application/json"}, "body": json.dumps(body)}
""",
    "flaky": """
import os
import time


def handler(event, context):
    gate = event["detail"].get("gate")
    while gate and not os.path.exists(gate):  # held until the test opens the gate
        time.sleep(0.01)
    raise RuntimeError("cannot process " + event["detail"]["reason"])
""",
    "step": """
ATTEMPTS = {}  # survives between invocations: the worker stays warm


class TransientError(Exception):
    pass


class ValidationFailed(Exception):
    pass


def handler(event, context):
    request = event.get("detail", event)
    if request["mode"] == "transient":
        ATTEMPTS[request["run"]] = ATTEMPTS.get(request["run"], 0) + 1
        if ATTEMPTS[request["run"]] < 2:
            raise TransientError("try again")
    if request["mode"] == "invalid":
        raise ValidationFailed("the manifest is invalid")
    return {"mode": request["mode"], "attempts": ATTEMPTS.get(request.get("run"), 1)}
""",
}

LAMBDA_VARIABLES = {
    "AWS_LAMBDA_FUNCTION_NAME",
    "AWS_LAMBDA_FUNCTION_MEMORY_SIZE",
    "AWS_LAMBDA_FUNCTION_VERSION",
    "AWS_LAMBDA_LOG_GROUP_NAME",
    "AWS_EXECUTION_ENV",
    "LAMBDA_TASK_ROOT",
    "_HANDLER",
    "TZ",
    "LANG",
    "AWS_REGION",
    "AWS_DEFAULT_REGION",
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_ENDPOINT_URL",
    "POWERTOOLS_TRACE_DISABLED",
    "PATH",
    "PYTHONPATH",
}


def write_project(root: Path) -> Path:
    (root / "template.yaml").write_text(TEMPLATE)
    (root / "statemachines").mkdir()
    (root / "statemachines" / "workflow.asl.json").write_text(json.dumps(WORKFLOW))
    (root / "layer" / "locallayer").mkdir(parents=True)
    (root / "layer" / "locallayer" / "__init__.py").write_text(textwrap.dedent(LAYER))
    for name, code in FUNCTIONS.items():
        (root / "functions" / name).mkdir(parents=True)
        (root / "functions" / name / "app.py").write_text(textwrap.dedent(code))
    return root


@pytest.fixture(scope="module")
def cloud(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalCloud]:
    project = write_project(tmp_path_factory.mktemp("project"))
    with LocalCloud(project_root=project, port=0, retry_delay_s=0.05) as running:
        yield running


@pytest.fixture(scope="module")
def aws(cloud: LocalCloud) -> Any:
    session = cloud.session()
    return lambda service: session.client(service, endpoint_url=cloud.endpoint_url)


def records(aws: Any, cloud: LocalCloud, kind: str) -> list[dict[str, Any]]:
    items = aws("dynamodb").scan(TableName=cloud.outputs["RecordsTableName"])["Items"]
    found: list[dict[str, Any]] = [json.loads(i["body"]["S"]) for i in items if i["pk"]["S"].startswith(f"{kind}#")]
    return found


def queue_messages(aws: Any, url: str) -> list[dict[str, Any]]:
    response = aws("sqs").receive_message(QueueUrl=url, MaxNumberOfMessages=10, MessageAttributeNames=["All"])
    messages: list[dict[str, Any]] = response.get("Messages", [])
    return messages


def test_s3_upload_goes_through_the_rule_to_the_real_handler(cloud: LocalCloud, aws: Any) -> None:
    # Given the template's bucket with EventBridge notifications and a rule on key wildcard
    bucket = cloud.outputs["UploadBucketName"]

    # When a matching and a non-matching object are uploaded
    aws("s3").put_object(Bucket=bucket, Key="incoming/group/v1/file.json", Body=b'{"hello": "world"}')
    aws("s3").put_object(Bucket=bucket, Key="elsewhere/file.json", Body=b"{}")
    cloud.wait_until_idle(timeout=30)

    # Then the handler ran once, in a worker, with an AWS-shaped "Object Created" event
    uploads = [r["event"] for r in records(aws, cloud, "recorder") if r["event"].get("source") == "aws.s3"]
    assert len(uploads) == 1
    event = uploads[0]
    assert event["detail-type"] == "Object Created"
    assert event["resources"] == [f"arn:aws:s3:::{bucket}"]
    assert event["time"].endswith("Z")
    assert event["detail"]["bucket"] == {"name": bucket}
    assert event["detail"]["object"]["key"] == "incoming/group/v1/file.json"
    assert event["detail"]["object"]["size"] == len(b'{"hello": "world"}')
    assert event["detail"]["object"]["etag"]
    assert event["detail"]["reason"] == "PutObject"
    assert any(i.cold_start and i.init_duration_ms for i in cloud.invocations("RecorderFunction"))
    assert (cloud.state_dir / "logs" / "RecorderFunction.log").read_text().count("START RequestId") >= 1


def test_each_function_sees_only_its_own_environment(cloud: LocalCloud, aws: Any) -> None:
    # Given two functions with a variable each (and the Globals they share)
    bucket = cloud.outputs["UploadBucketName"]
    aws("s3").put_object(Bucket=bucket, Key="incoming/env/file.json", Body=b"{}")
    cloud.wait_until_idle(timeout=30)
    recorder_env = next(
        r["env"]
        for r in records(aws, cloud, "recorder")
        if r["event"].get("detail", {}).get("object", {}).get("key") == "incoming/env/file.json"
    )

    # When the other function is invoked synchronously
    response = aws("lambda").invoke(FunctionName=cloud.ref("EnvironmentFunction"), Payload=b"{}")
    other = json.loads(json.loads(response["Payload"].read())["body"])

    # Then each sees its own variables, the resolved Globals and Lambda's, and nothing of the parent process
    assert recorder_env["ONLY_FOR_RECORDER"] == "yes" and "ONLY_FOR_ENVIRONMENT" not in recorder_env
    assert other["env"]["ONLY_FOR_ENVIRONMENT"] == "also" and "ONLY_FOR_RECORDER" not in other["env"]
    for env in (recorder_env, other["env"]):
        assert env["STAGE"] == "test"
        assert env["RECORDS_TABLE"] == cloud.outputs["RecordsTableName"]
        assert env["AWS_ENDPOINT_URL"] == cloud.endpoint_url
        assert env["POWERTOOLS_TRACE_DISABLED"] == "true"
        assert set(env) - {"STAGE", "RECORDS_TABLE", "ONLY_FOR_RECORDER", "ONLY_FOR_ENVIRONMENT"} <= LAMBDA_VARIABLES
    assert "MOTO_PORT" in os.environ and "MOTO_PORT" not in other["env"]
    # `import app` found the function's own app.py, and the context honours the template
    assert other["module"].endswith("functions/environment/app.py")
    assert other["context"]["function_name"] == cloud.ref("EnvironmentFunction")
    assert other["context"]["memory_limit_in_mb"] == "256"
    assert other["context"]["invoked_function_arn"] == cloud.get_att("EnvironmentFunction", "Arn")
    assert 0 < other["context"]["remaining_ms"] <= 10_000


def test_async_failure_is_retried_then_recorded_in_the_on_failure_queue(
    cloud: LocalCloud, aws: Any, tmp_path: Path
) -> None:
    # Given a function that always fails, with MaximumRetryAttempts 1 and an SQS OnFailure destination
    gate = tmp_path / "gate"
    detail = {"reason": "poison", "gate": str(gate)}

    # When an event reaches it through its rule, put_events returns while the handler is still held
    aws("events").put_events(
        Entries=[
            {
                "EventBusName": cloud.outputs["BusName"],
                "Source": "test.flaky",
                "DetailType": "Flaky",
                "Detail": json.dumps(detail),
            }
        ]
    )
    assert cloud.invocations("FlakyFunction") == []
    gate.touch()
    cloud.wait_until_idle(timeout=30)

    # Then it ran twice, and the failure record says why, shaped like AWS's
    attempts = cloud.invocations("FlakyFunction")
    assert [(a.invocation_type, a.attempt, a.error_type) for a in attempts] == [
        ("Event", 1, "RuntimeError"),
        ("Event", 2, "RuntimeError"),
    ]
    assert attempts[0].request_id == attempts[1].request_id
    [message] = queue_messages(aws, cloud.outputs["FailureQueueUrl"])
    record = json.loads(message["Body"])
    assert record["requestContext"]["condition"] == "RetriesExhausted"
    assert record["requestContext"]["approximateInvokeCount"] == 2
    assert record["requestContext"]["functionArn"] == cloud.get_att("FlakyFunction", "Arn") + ":$LATEST"
    assert record["requestPayload"]["detail"] == detail
    assert record["responseContext"]["functionError"] == "Unhandled"
    assert record["responsePayload"]["errorType"] == "RuntimeError"
    assert record["responsePayload"]["errorMessage"] == "cannot process poison"


def test_invocation_type_event_returns_at_once(cloud: LocalCloud, aws: Any) -> None:
    # When the recorder is invoked with InvocationType=Event
    response = aws("lambda").invoke(
        FunctionName=cloud.ref("RecorderFunction"),
        InvocationType="Event",
        Payload=json.dumps({"id": "direct"}).encode(),
    )
    # Then Lambda accepted it (202) and the handler runs in the background
    assert response["StatusCode"] == 202
    cloud.wait_until_idle(timeout=30)
    assert [r["event"] for r in records(aws, cloud, "recorder") if r["event"]["id"] == "direct"] == [{"id": "direct"}]


def test_synchronous_invoke_returns_lambda_error_shape(cloud: LocalCloud, aws: Any) -> None:
    response = aws("lambda").invoke(
        FunctionName=cloud.ref("StepFunction"), Payload=json.dumps({"mode": "invalid"}).encode()
    )
    payload = json.loads(response["Payload"].read())
    assert response["FunctionError"] == "Unhandled"
    assert payload["errorType"] == "ValidationFailed"
    assert payload["errorMessage"] == "the manifest is invalid"
    assert isinstance(payload["stackTrace"], list) and payload["stackTrace"]


def run_execution(cloud: LocalCloud, aws: Any, payload: dict[str, Any]) -> dict[str, Any]:
    sfn = aws("stepfunctions")
    arn = sfn.start_execution(stateMachineArn=cloud.outputs["WorkflowArn"], input=json.dumps(payload))["executionArn"]
    cloud.wait_until_idle(timeout=30)
    execution: dict[str, Any] = sfn.describe_execution(executionArn=arn)
    return execution


def test_state_machine_task_invokes_lambda_synchronously(cloud: LocalCloud, aws: Any) -> None:
    execution = run_execution(cloud, aws, {"mode": "ok"})
    assert execution["status"] == "SUCCEEDED"
    assert json.loads(execution["output"]) == {"mode": "ok", "attempts": 1}
    assert {i.invocation_type for i in cloud.invocations("StepFunction")} == {"RequestResponse"}


def test_state_machine_retries_on_the_exception_class_name(cloud: LocalCloud, aws: Any) -> None:
    execution = run_execution(cloud, aws, {"mode": "transient", "run": "retry-1"})
    assert execution["status"] == "SUCCEEDED"
    assert json.loads(execution["output"]) == {"mode": "transient", "attempts": 2}


def test_state_machine_catches_on_the_exception_class_name(cloud: LocalCloud, aws: Any) -> None:
    execution = run_execution(cloud, aws, {"mode": "invalid"})
    assert execution["status"] == "SUCCEEDED"
    error = json.loads(execution["output"])["error"]
    assert error["Error"] == "ValidationFailed"
    assert json.loads(error["Cause"])["errorMessage"] == "the manifest is invalid"


def test_eventbridge_rules_start_state_machine_executions(cloud: LocalCloud, aws: Any) -> None:
    # When events match the state machine's rules, one passing the event, one only its detail (InputPath)
    detail = {"mode": "ok", "via": "rule"}
    aws("events").put_events(
        Entries=[
            {
                "EventBusName": cloud.outputs["BusName"],
                "Source": source,
                "DetailType": "Go",
                "Detail": json.dumps(detail),
            }
            for source in ("test.workflow", "test.workflow.detail")
        ]
    )
    cloud.wait_until_idle(timeout=30)

    # Then each started an execution that succeeded, with the event or its detail as input
    sfn = aws("stepfunctions")
    executions = [
        sfn.describe_execution(executionArn=e["executionArn"])
        for e in sfn.list_executions(stateMachineArn=cloud.outputs["WorkflowArn"])["executions"]
    ]
    by_rule = {json.dumps(json.loads(e["input"]).get("source")): e for e in executions if "rule" in e["input"]}
    whole_event, detail_only = by_rule['"test.workflow"'], by_rule["null"]
    assert json.loads(whole_event["input"])["detail"] == detail
    assert json.loads(whole_event["input"])["detail-type"] == "Go"
    assert json.loads(detail_only["input"]) == detail
    assert whole_event["status"] == detail_only["status"] == "SUCCEEDED"


def test_undeliverable_target_sends_the_event_to_its_dead_letter_queue(cloud: LocalCloud, aws: Any) -> None:
    aws("events").put_events(
        Entries=[
            {
                "EventBusName": cloud.outputs["BusName"],
                "Source": "test.undeliverable",
                "DetailType": "Lost",
                "Detail": "{}",
            }
        ]
    )
    [message] = queue_messages(aws, cloud.outputs["UndeliverableQueueUrl"])
    assert json.loads(message["Body"])["source"] == "test.undeliverable"
    assert message["MessageAttributes"]["ERROR_CODE"]["StringValue"] == "StateMachineDoesNotExist"
    assert message["MessageAttributes"]["RULE_ARN"]["StringValue"] == cloud.get_att("UndeliverableRule", "Arn")


def test_sagemaker_model_package_changes_emit_state_change_events(cloud: LocalCloud, aws: Any) -> None:
    # Given a model package group
    sagemaker = aws("sagemaker")
    sagemaker.create_model_package_group(ModelPackageGroupName="churn")

    # When a version is registered, then approved
    arn = sagemaker.create_model_package(ModelPackageGroupName="churn", ModelApprovalStatus="PendingManualApproval")[
        "ModelPackageArn"
    ]
    sagemaker.update_model_package(ModelPackageArn=arn, ModelApprovalStatus="Approved", ApprovalDescription="ok")
    cloud.wait_until_idle(timeout=30)

    # Then each change reached the rule as a "SageMaker Model Package State Change"
    changes = [r["event"] for r in records(aws, cloud, "recorder") if r["event"].get("source") == "aws.sagemaker"]
    assert {c["detail-type"] for c in changes} == {"SageMaker Model Package State Change"}
    assert sorted(c["detail"]["ModelApprovalStatus"] for c in changes) == ["Approved", "PendingManualApproval"]
    for change in changes:
        assert change["resources"] == [arn]
        assert change["detail"]["ModelPackageArn"] == arn
        assert change["detail"]["ModelPackageGroupName"] == "churn"
        assert change["detail"]["ModelPackageName"] == "churn"
        assert change["detail"]["ModelPackageVersion"] == 1
        assert change["detail"]["CreationTime"].endswith("Z")


def test_api_route_invokes_the_function_with_a_proxy_event(cloud: LocalCloud) -> None:
    # The template's execute-api URL output points at the local API server
    assert cloud.outputs["ItemsUrl"] == cloud.outputs["ApiBaseUrl"] + "/items"
    with urllib.request.urlopen(cloud.outputs["ItemsUrl"] + "/42?view=full", timeout=30) as response:
        assert response.status == 200
        body = json.loads(response.read())
    assert body["id"] == "42"


def test_outputs_json_holds_the_resolved_outputs_and_the_endpoint(cloud: LocalCloud) -> None:
    written = json.loads((cloud.state_dir / "outputs.json").read_text())
    assert written == cloud.outputs
    assert written["AwsEndpointUrl"] == cloud.endpoint_url
    assert written["BusName"] == "local-test-test"
    assert written["WorkflowArn"].startswith("arn:aws:states:us-east-1:123456789012:stateMachine:")
    assert written["FailureQueueUrl"].startswith(cloud.endpoint_url)
