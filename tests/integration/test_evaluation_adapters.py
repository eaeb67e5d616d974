"""Adapters added for evaluation and the gate, against moto: exact decimals in the catalog, the registered
manifest among S3 versions, customer metadata merged on the package, spent task tokens reported."""

import hashlib
import json
from datetime import UTC, datetime

import boto3
import pytest
from botocore.exceptions import ClientError

from fmops.adapters.dynamodb import DynamoCatalog, serving_key
from fmops.adapters.s3 import S3ArtifactStore, S3EvidenceStore
from fmops.adapters.sagemaker import SageMakerRegistry
from fmops.adapters.stepfunctions import StepFunctionsCallbacks
from fmops.manifest import Manifest
from fmops.metrics import builtin_metric
from fmops.records import AcceptedEvaluation, CatalogRecord
from fmops.statuses import VersionStatus

from tests.unit.builders import manifest_document

AT = datetime(2026, 11, 26, 12, tzinfo=UTC)


@pytest.fixture
def aws(mocked_aws: None) -> None:
    """Every test here runs against moto (tests/integration/conftest.py)."""


def versioned_bucket(name: str = "artifacts") -> str:
    s3 = boto3.client("s3")
    s3.create_bucket(Bucket=name)
    s3.put_bucket_versioning(Bucket=name, VersioningConfiguration={"Status": "Enabled"})
    return name


def test_the_registered_manifest_is_found_among_older_versions_after_an_overwrite(aws: None) -> None:
    bucket, key = versioned_bucket(), "models/sentiment/1.0.0/manifest.json"
    s3, store = boto3.client("s3"), S3ArtifactStore(boto3.client("s3"))
    s3.put_object(Bucket=bucket, Key=key, Body=b'{"registered": true}')
    s3.put_object(Bucket=bucket, Key=key, Body=b'{"refused": "overwrite"}')
    s3.put_object(Bucket=bucket, Key=key + ".bak", Body=b'{"registered": true}')  # same prefix, other key

    found = store.read_matching(bucket, key, hashlib.sha256(b'{"registered": true}').hexdigest(), 1024)
    missing = store.read_matching(bucket, key, "0" * 64, 1024)

    assert (found, missing) == (b'{"registered": true}', None)


def test_streaming_an_object_yields_its_exact_bytes(aws: None) -> None:
    bucket = versioned_bucket()
    body = b"".join(b'{"row": %d}\n' % i for i in range(5000))
    boto3.client("s3").put_object(Bucket=bucket, Key="eval.jsonl", Body=body)

    assert b"".join(S3ArtifactStore(boto3.client("s3")).stream(bucket, "eval.jsonl")) == body


def test_evidence_is_stored_as_json_and_named_by_its_uri(aws: None) -> None:
    bucket = versioned_bucket("evidence")

    uri = S3EvidenceStore(bucket, boto3.client("s3")).put_json("gate-decisions/g/1/prod.json", {"passed": True})

    assert uri == "s3://evidence/gate-decisions/g/1/prod.json"
    stored = boto3.client("s3").get_object(Bucket=bucket, Key="gate-decisions/g/1/prod.json")
    assert json.loads(stored["Body"].read()) == {"passed": True}
    assert stored["ContentType"] == "application/json"


def test_metric_values_survive_the_catalog_exactly_and_serving_pointers_resolve(aws: None) -> None:
    dynamodb = boto3.client("dynamodb")
    dynamodb.create_table(
        TableName="catalog",
        BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[{"AttributeName": "version_id", "AttributeType": "S"}],
        KeySchema=[{"AttributeName": "version_id", "KeyType": "HASH"}],
    )
    catalog = DynamoCatalog("catalog", dynamodb)
    metrics = [builtin_metric("token_f1", 0.1 + 0.2, 7), builtin_metric("latency_p95_ms", 1234.5, 7)]
    record = catalog.claim(
        CatalogRecord(
            version_id="sentiment/1.0.0",
            model_group="sentiment",
            version="1.0.0",
            status=VersionStatus.EVALUATED,
            manifest_uri="s3://b/models/sentiment/1.0.0/manifest.json",
            manifest_sha256="a" * 64,
            created_at=AT,
            updated_at=AT,
            evaluation=AcceptedEvaluation(
                event_id="e", evaluator="x", reported_by="fmops", succeeded=True, metrics=metrics, received_at=AT
            ),
        ),
        replacing=None,
    )
    updated = catalog.update(record, AT, evaluation_task_token="t")
    dynamodb.put_item(
        TableName="catalog",
        Item={"version_id": {"S": serving_key("sentiment", "prod")}, "serving_version_id": {"S": "sentiment/1.0.0"}},
    )

    stored = catalog.get("sentiment/1.0.0")
    assert stored is not None and stored.evaluation is not None
    assert [m.value for m in stored.evaluation.metrics] == [0.1 + 0.2, 1234.5]  # 0.30000000000000004, not rounded
    assert (stored.revision, stored.evaluation_task_token) == (updated.revision, "t")
    assert catalog.serving("sentiment", "prod") == stored
    assert catalog.serving("sentiment", "preprod") is None


def test_annotating_a_package_keeps_its_registration_metadata(aws: None) -> None:
    registry = SageMakerRegistry(boto3.client("sagemaker"))
    manifest = Manifest.model_validate(manifest_document())
    registry.ensure_group("sentiment", "test")
    arn = registry.create_package(manifest, "s3://b/models/sentiment/1.0.0/manifest.json", "a" * 64)

    registry.annotate(arn, {"fmops:gate": "passed"})
    registry.annotate(arn, {"fmops:gate_stage": "prod"})

    properties = boto3.client("sagemaker").describe_model_package(ModelPackageName=arn)["CustomerMetadataProperties"]
    assert properties["fmops:version_id"] == "sentiment/1.0.0"
    assert (properties["fmops:gate"], properties["fmops:gate_stage"]) == ("passed", "prod")


class _Sfn:
    """Answers like Step Functions does for a token that was already used."""

    def __init__(self, code: str) -> None:
        self.code = code

    def send_task_success(self, **request: object) -> None:
        raise ClientError({"Error": {"Code": self.code, "Message": "m"}}, "SendTaskSuccess")


@pytest.mark.parametrize("code", ["TaskTimedOut", "TaskDoesNotExist", "InvalidToken"])
def test_a_spent_task_token_is_reported_not_raised(code: str) -> None:
    assert StepFunctionsCallbacks(_Sfn(code)).succeed("token", {}) is False


def test_other_step_functions_errors_propagate_for_the_retry() -> None:
    with pytest.raises(ClientError):
        StepFunctionsCallbacks(_Sfn("ThrottlingException")).succeed("token", {})
