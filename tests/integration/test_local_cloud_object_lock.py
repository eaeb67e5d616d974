"""The local cloud deploys an Object Lock bucket as CloudFormation would, and a scheduled function without firing it."""

from __future__ import annotations

import textwrap
from datetime import UTC, datetime, timedelta
from pathlib import Path

import boto3
import pytest
from botocore.exceptions import ClientError

from fmops_local import template as sam_template
from fmops_local.deploy import Deployer

pytestmark = pytest.mark.integration

TEMPLATE = """
AWSTemplateFormatVersion: "2010-09-09"
Transform: AWS::Serverless-2016-10-31
Parameters:
  RetentionDays:
    Type: Number
    Default: 3
Resources:
  LockedBucket:
    Type: AWS::S3::Bucket
    Properties:
      ObjectLockEnabled: true
      ObjectLockConfiguration:
        ObjectLockEnabled: Enabled
        Rule:
          DefaultRetention:
            Mode: COMPLIANCE
            Days: !Ref RetentionDays
      VersioningConfiguration:
        Status: Enabled
  PlainBucket:
    Type: AWS::S3::Bucket
  TickFunction:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: functions/tick
      Handler: app.handler
      Runtime: python3.12
      Events:
        Tick:
          Type: Schedule
          Properties:
            Schedule: rate(1 hour)
"""


def deploy(root: Path) -> tuple[Deployer, dict[str, str], boto3.Session]:
    (root / "template.yaml").write_text(TEMPLATE)
    (root / "functions" / "tick").mkdir(parents=True)
    (root / "functions" / "tick" / "app.py").write_text(textwrap.dedent("def handler(event, context):\n    return 1\n"))
    session = boto3.Session(aws_access_key_id="testing", aws_secret_access_key="testing", region_name="us-east-1")
    template = sam_template.load(root / "template.yaml", {}, "us-east-1")
    deployer = Deployer(template, session, None, "lock", "us-east-1", "123456789012")  # type: ignore[arg-type]
    deployment = deployer.deploy()
    return deployer, {key: resource.ref for key, resource in deployment.resources.items()}, session


def test_an_object_lock_bucket_is_created_locked_with_its_default_retention(mocked_aws: None, tmp_path: Path) -> None:
    # Given a template bucket with Object Lock in COMPLIANCE mode, retention from a parameter
    _, refs, session = deploy(tmp_path)
    s3 = session.client("s3")

    # Then it is deployed with Object Lock on and the rule applied (days as a number)
    rule = s3.get_object_lock_configuration(Bucket=refs["LockedBucket"])["ObjectLockConfiguration"]
    assert rule["ObjectLockEnabled"] == "Enabled"
    assert rule["Rule"]["DefaultRetention"]["Mode"] == "COMPLIANCE"
    assert rule["Rule"]["DefaultRetention"]["Days"] == 3
    # And an object written there with retention cannot be deleted (moto enforces COMPLIANCE on versions)
    until = datetime.now(UTC) + timedelta(days=1)
    put = s3.put_object(
        Bucket=refs["LockedBucket"], Key="k", Body=b"x", ObjectLockMode="COMPLIANCE", ObjectLockRetainUntilDate=until
    )
    with pytest.raises(ClientError, match="AccessDenied"):
        s3.delete_object(Bucket=refs["LockedBucket"], Key="k", VersionId=put["VersionId"])
    # And a bucket without Object Lock stays without it
    with pytest.raises(ClientError, match="ObjectLockConfigurationNotFound"):
        s3.get_object_lock_configuration(Bucket=refs["PlainBucket"])


def test_a_schedule_event_deploys_as_a_rule_with_its_expression(mocked_aws: None, tmp_path: Path) -> None:
    _, refs, session = deploy(tmp_path)
    [rule] = [r for r in session.client("events").list_rules()["Rules"] if "ScheduleExpression" in r]
    assert rule["ScheduleExpression"] == "rate(1 hour)"
    targets = session.client("events").list_targets_by_rule(Rule=rule["Name"])["Targets"]
    assert [target["Arn"].rsplit(":", 1)[-1] for target in targets] == [refs["TickFunction"]]
