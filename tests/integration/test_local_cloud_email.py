"""The local cloud deploys SES e-mail identities and shows what was sent through SES.

The throwaway project below wires the real notifier handler and the fmops layer (linked from
this repository) the way template.yaml does, so a rejection on the bus ends as an e-mail.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from fmops.adapters.dynamodb import DynamoCatalog
from fmops.adapters.ses import NotificationRefused, SesNotifier
from fmops.records import CatalogRecord
from fmops.statuses import VersionStatus
from fmops_local import LocalCloud
from fmops_local.cloud import SentEmail

pytestmark = pytest.mark.integration

REPOSITORY = Path(__file__).resolve().parents[2]
SENDER = "fmops-notifications@example.com"
SAMPLE = REPOSITORY / "events" / "fmops_model_version_rejected.json"

TEMPLATE = """
AWSTemplateFormatVersion: "2010-09-09"
Transform: AWS::Serverless-2016-10-31
Parameters:
  NotificationSender:
    Type: String
    Default: fmops-notifications@example.com
Globals:
  Function:
    Runtime: python3.12
    Timeout: 30
    Layers: [!Ref RuntimeLayer]
    Environment:
      Variables:
        POWERTOOLS_SERVICE_NAME: fmops
        POWERTOOLS_METRICS_NAMESPACE: fmops
        STAGE: test
Resources:
  RuntimeLayer:
    Type: AWS::Serverless::LayerVersion
    Properties:
      ContentUri: layers/fmops
  NotificationSenderIdentity:
    Type: AWS::SES::EmailIdentity
    Properties:
      EmailIdentity: !Ref NotificationSender
  FmopsEventBus:
    Type: AWS::Events::EventBus
    Properties:
      Name: fmops-test
  CatalogTable:
    Type: AWS::DynamoDB::Table
    Properties:
      BillingMode: PAY_PER_REQUEST
      AttributeDefinitions: [{AttributeName: version_id, AttributeType: S}]
      KeySchema: [{AttributeName: version_id, KeyType: HASH}]
  IdempotencyTable:
    Type: AWS::DynamoDB::Table
    Properties:
      BillingMode: PAY_PER_REQUEST
      AttributeDefinitions: [{AttributeName: id, AttributeType: S}]
      KeySchema: [{AttributeName: id, KeyType: HASH}]
      TimeToLiveSpecification: {AttributeName: expiration, Enabled: true}
  NotifierDeadLetterQueue:
    Type: AWS::SQS::Queue
  NotifierFunction:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: functions/notifier
      Handler: app.handler
      Environment:
        Variables:
          CATALOG_TABLE: !Ref CatalogTable
          IDEMPOTENCY_TABLE: !Ref IdempotencyTable
          NOTIFICATION_SENDER: !Ref NotificationSenderIdentity
      EventInvokeConfig:
        MaximumRetryAttempts: 2
        DestinationConfig:
          OnFailure: {Type: SQS, Destination: !GetAtt NotifierDeadLetterQueue.Arn}
      Events:
        ModelVersionRejected:
          Type: EventBridgeRule
          Properties:
            EventBusName: !Ref FmopsEventBus
            Pattern:
              source: [fmops]
              detail-type: [Model Version Rejected]
Outputs:
  SenderIdentity:
    Value: !Ref NotificationSenderIdentity
  CatalogTableName:
    Value: !Ref CatalogTable
  EventBusName:
    Value: !Ref FmopsEventBus
"""


def write_project(root: Path) -> Path:
    (root / "template.yaml").write_text(TEMPLATE)
    (root / "layers").mkdir()
    (root / "layers" / "fmops").symlink_to(REPOSITORY / "layers" / "fmops", target_is_directory=True)
    (root / "functions").mkdir()
    (root / "functions" / "notifier").symlink_to(REPOSITORY / "functions" / "notifier", target_is_directory=True)
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


def test_the_sender_identity_is_created_and_may_send(cloud: LocalCloud, aws: Any) -> None:
    # Given the template's AWS::SES::EmailIdentity for the sender
    identities = aws("sesv2").list_email_identities()["EmailIdentities"]

    # Then it exists in moto, its Ref is the address, and the adapter can send from it
    assert [identity["IdentityName"] for identity in identities] == [SENDER]
    assert cloud.outputs["SenderIdentity"] == SENDER
    before = len(cloud.sent_emails())
    SesNotifier(SENDER, aws("sesv2")).send("ana.silva@example.com", "[fmops] hello", "line one\nline two é\n")
    assert cloud.sent_emails()[before:] == [
        SentEmail(source=SENDER, to=["ana.silva@example.com"], subject="[fmops] hello", body="line one\nline two é\n")
    ]


def test_sending_from_an_unverified_address_is_refused(cloud: LocalCloud, aws: Any) -> None:
    before = cloud.sent_emails()

    with pytest.raises(NotificationRefused, match="MessageRejected"):
        SesNotifier("someone-else@example.com", aws("sesv2")).send("ana.silva@example.com", "s", "t")

    assert cloud.sent_emails() == before


def test_a_rejection_on_the_bus_mails_its_submitter_once(cloud: LocalCloud, aws: Any) -> None:
    # Given a rejected version in the catalog, submitted by ana.silva
    sample = json.loads(SAMPLE.read_text())
    detail = sample["detail"]
    at = datetime(2026, 11, 26, 12, 5, tzinfo=UTC)
    record = CatalogRecord(
        version_id=detail["version_id"],
        model_group="sentiment",
        version="1.0.1",
        status=VersionStatus.REJECTED,
        manifest_uri=detail["manifest_uri"],
        manifest_sha256=detail["manifest_sha256"],
        created_at=at,
        updated_at=at,
        submitter="ana.silva",
        submitter_email="ana.silva@example.com",
    )
    DynamoCatalog(cloud.outputs["CatalogTableName"], aws("dynamodb")).claim(record, replacing=None)
    before = len(cloud.sent_emails())

    # When its "Model Version Rejected" event is put on the bus twice (a duplicate delivery)
    entry = {
        "EventBusName": cloud.outputs["EventBusName"],
        "Source": "fmops",
        "DetailType": "Model Version Rejected",
        "Detail": json.dumps(detail),
    }
    aws("events").put_events(Entries=[entry])
    cloud.wait_until_idle(timeout=60)
    aws("events").put_events(Entries=[entry])
    cloud.wait_until_idle(timeout=60)

    # Then the handler ran twice and the submitter got exactly one e-mail, with the reason
    assert [invocation.error_type for invocation in cloud.invocations("NotifierFunction")] == [None, None]
    [email] = cloud.sent_emails()[before:]
    assert email.source == SENDER
    assert email.to == ["ana.silva@example.com"]
    assert email.subject == "[fmops] sentiment/1.0.1 rejected: 1 reason"
    assert "  1. artifact_sha256_mismatch [artifacts.0]: model/weights.bin has sha256" in email.body
    assert "fmops test" in email.body
