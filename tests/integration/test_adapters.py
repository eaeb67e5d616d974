"""The boto3 adapters keep the conditional semantics the domain relies on (against moto)."""

import json
from datetime import UTC, datetime

import boto3
import pytest

from fmops.adapters.dynamodb import DynamoAuditLog, DynamoCatalog
from fmops.adapters.s3 import S3ArtifactStore
from fmops.adapters.sagemaker import SageMakerRegistry
from fmops.adapters.stepfunctions import StepFunctionsWorkflow
from fmops.errors import ConcurrentModification, InvalidTransition
from fmops.events import PromotionInput
from fmops.manifest import Manifest
from fmops.records import AuditRecord, CatalogRecord
from fmops.statuses import VersionStatus

from tests.integration.tables import create_table
from tests.unit.builders import manifest_document

AT = datetime(2026, 11, 26, 12, tzinfo=UTC)


@pytest.fixture
def aws(mocked_aws: None) -> None:
    """Every test here runs against moto (tests/integration/conftest.py)."""


def table(name: str, *keys: str) -> str:
    boto3.client("dynamodb").create_table(
        TableName=name,
        BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[{"AttributeName": key, "AttributeType": "S"} for key in keys],
        KeySchema=[{"AttributeName": key, "KeyType": kind} for key, kind in zip(keys, ("HASH", "RANGE"), strict=False)],
    )
    return name


def received() -> CatalogRecord:
    return CatalogRecord(
        version_id="sentiment/1.0.0",
        model_group="sentiment",
        version="1.0.0",
        status=VersionStatus.RECEIVED,
        manifest_uri="s3://b/models/sentiment/1.0.0/manifest.json",
        manifest_sha256="a" * 64,
        created_at=AT,
        updated_at=AT,
        lease_until=AT,
    )


def test_the_catalog_claims_a_version_once_and_transitions_it_conditionally(aws: None) -> None:
    catalog = DynamoCatalog(table("catalog", "version_id"), boto3.client("dynamodb"))
    claimed = catalog.claim(received(), replacing=None)

    with pytest.raises(ConcurrentModification):
        catalog.claim(received(), replacing=None)
    registered = catalog.transition(claimed, VersionStatus.REGISTERED, AT, model_package_arn="arn:pkg", kind="adapter")
    with pytest.raises(ConcurrentModification):
        catalog.transition(claimed, VersionStatus.REJECTED, AT)  # stale: it is no longer Received
    with pytest.raises(InvalidTransition):
        catalog.transition(registered, VersionStatus.RECEIVED, AT)

    stored = catalog.get("sentiment/1.0.0")
    assert stored is not None
    assert (stored.status, stored.model_package_arn, stored.lease_until) == (VersionStatus.REGISTERED, "arn:pkg", None)
    assert stored.revision == 2


def test_two_takers_of_the_same_expired_lease_cannot_both_win(aws: None) -> None:
    catalog = DynamoCatalog(table("catalog", "version_id"), boto3.client("dynamodb"))
    abandoned = catalog.claim(received(), replacing=None)
    renewed = abandoned.model_copy(update={"lease_until": AT.replace(hour=13)})

    catalog.claim(renewed, replacing=abandoned)

    with pytest.raises(ConcurrentModification):
        catalog.claim(renewed, replacing=abandoned)


def test_marking_announced_invalidates_stale_copies(aws: None) -> None:
    catalog = DynamoCatalog(table("catalog", "version_id"), boto3.client("dynamodb"))
    claimed = catalog.claim(received(), replacing=None)
    registered = catalog.transition(claimed, VersionStatus.REGISTERED, AT, model_package_arn="arn:pkg")

    catalog.mark_announced("sentiment/1.0.0")

    with pytest.raises(ConcurrentModification):
        catalog.transition(registered, VersionStatus.PENDING_EVALUATION, AT)
    current = catalog.get("sentiment/1.0.0")
    assert current is not None and current.announced


def test_the_audit_log_keeps_the_first_record_of_an_event_id(aws: None) -> None:
    log = DynamoAuditLog(create_table(boto3.client("dynamodb"), "AuditTable", "audit"), boto3.client("dynamodb"))
    record = AuditRecord(
        version_id="sentiment/1.0.0",
        event_id="sentiment/1.0.0#registered",
        detail_type="Model Version Registered",
        source="fmops",
        occurred_at=AT,
        recorded_at=AT,
        actor="ana.silva",
        correlation_id="sentiment/1.0.0",
        envelope_id="first",
        facts={"model_package_arn": "arn:pkg"},
    )

    assert log.append(record, "sentiment") is True
    assert log.append(record.model_copy(update={"envelope_id": "second"}), "sentiment") is False
    assert [stored.envelope_id for stored in log.for_version("sentiment/1.0.0")] == ["first"]


def test_the_registry_creates_a_pending_package_with_lineage_and_finds_it_again(aws: None) -> None:
    registry = SageMakerRegistry(boto3.client("sagemaker"))
    manifest = Manifest.model_validate(manifest_document())

    registry.ensure_group("sentiment", "d")
    registry.ensure_group("sentiment", "d")
    arn = registry.create_package(manifest, "s3://b/m.json", "a" * 64)

    described = boto3.client("sagemaker").describe_model_package(ModelPackageName=arn)
    assert described["ModelApprovalStatus"] == "PendingManualApproval"
    assert described["CustomerMetadataProperties"]["fmops:manifest_sha256"] == "a" * 64
    assert described["MetadataProperties"]["CommitId"] == "3f2a9c1"
    assert registry.find_package("sentiment", "sentiment/1.0.0") == arn
    assert registry.find_package("sentiment", "sentiment/2.0.0") is None


def test_the_artifact_store_hashes_reads_and_sizes_objects(aws: None) -> None:
    s3 = boto3.client("s3")
    s3.create_bucket(Bucket="artifacts")
    s3.put_object(Bucket="artifacts", Key="k", Body=b"hello")
    store = S3ArtifactStore(s3)

    assert store.sha256_of("artifacts", "k") == "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824"
    assert store.size_of("artifacts", "k") == 5
    assert store.size_of("artifacts", "missing") is None
    assert store.read("artifacts", "k", max_bytes=2) == b"hel"


def test_starting_the_same_promotion_twice_leaves_one_execution(aws: None) -> None:
    sfn = boto3.client("stepfunctions")
    definition = {"StartAt": "Done", "States": {"Done": {"Type": "Succeed"}}}
    arn = sfn.create_state_machine(
        name="promotion", definition=json.dumps(definition), roleArn="arn:aws:iam::123456789012:role/sfn"
    )["stateMachineArn"]
    workflow = StepFunctionsWorkflow(arn, sfn)
    promotion = PromotionInput(version_id="g/v", correlation_id="g/v", execution_name="g_v")

    workflow.start_promotion(promotion)
    workflow.start_promotion(promotion)

    assert [execution["name"] for execution in sfn.list_executions(stateMachineArn=arn)["executions"]] == ["g_v"]
