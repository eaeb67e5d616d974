"""The gate reads policy files from S3 through S3PolicyStore (against moto)."""

from pathlib import Path
from typing import Any

import boto3
import pytest

from fmops.adapters.s3 import S3PolicyStore
from fmops.errors import ArtifactStoreUnavailable
from fmops.gate.loading import load_policy

POLICIES = Path(__file__).resolve().parents[2] / "policies"
BUCKET = "fmops-policies"


@pytest.fixture
def s3(mocked_aws: None) -> Any:
    client: Any = boto3.client("s3")
    client.create_bucket(Bucket=BUCKET)
    return client


def test_a_missing_policy_file_reads_as_none(s3: Any) -> None:
    assert S3PolicyStore(BUCKET, s3=s3).read("support-assistant.json") is None


def test_a_policy_file_reads_as_its_exact_bytes(s3: Any) -> None:
    raw = (POLICIES / "default.json").read_bytes()
    s3.put_object(Bucket=BUCKET, Key="default.json", Body=raw, ContentType="application/json")

    assert S3PolicyStore(BUCKET, s3=s3).read("default.json") == raw


def test_a_missing_bucket_is_an_error_not_a_missing_file(s3: Any) -> None:
    with pytest.raises(ArtifactStoreUnavailable, match=r"s3://no-such-bucket/default\.json: NoSuchBucket"):
        S3PolicyStore("no-such-bucket", s3=s3).read("default.json")


def test_the_gate_loads_the_groups_file_else_the_default(s3: Any) -> None:
    # Given the default and the support-assistant policies are published
    for name in ("default.json", "support-assistant.json"):
        s3.put_object(Bucket=BUCKET, Key=name, Body=(POLICIES / name).read_bytes())
    store = S3PolicyStore(BUCKET, s3=s3)

    # Then each group gets its own file, and any other group the default
    assert load_policy("support-assistant", store).file_name == "support-assistant.json"
    assert load_policy("sentiment", store).file_name == "default.json"
