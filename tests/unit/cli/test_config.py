"""Where resource names and the endpoint come from: flags, a stack, or the local cloud's outputs."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from fmops_cli.config import LocalOutputs, find_local_outputs, find_project_root, resolve
from fmops_cli.errors import CliError, InputError

LOCAL = {
    "ArtifactBucketName": "local-artifacts",
    "CatalogTableName": "local-catalog",
    "AuditTableName": "local-audit",
    "PromotionStateMachineArn": "arn:aws:states:eu-west-1:123456789012:stateMachine:Promotion",
    "AwsEndpointUrl": "http://127.0.0.1:4566",
}


def write_outputs(folder: Path, values: dict[str, str]) -> Path:
    path = folder / ".fmops" / "local" / "outputs.json"
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps(values))
    return path


def test_the_local_clouds_outputs_are_found_from_a_subfolder(tmp_path: Path) -> None:
    path = write_outputs(tmp_path, LOCAL)
    (tmp_path / "examples" / "x").mkdir(parents=True)

    found = find_local_outputs(tmp_path / "examples" / "x")

    assert found is not None
    assert found.path == path.resolve()
    assert found.endpoint_url == "http://127.0.0.1:4566"


def test_the_local_region_is_stated_or_read_from_an_arn(tmp_path: Path) -> None:
    assert LocalOutputs(tmp_path, LOCAL).region == "eu-west-1"
    assert LocalOutputs(tmp_path, {**LOCAL, "AwsRegion": "us-west-2"}).region == "us-west-2"
    assert LocalOutputs(tmp_path, {"ArtifactBucketName": "b"}).region is None


def test_unreadable_outputs_are_reported(tmp_path: Path) -> None:
    path = write_outputs(tmp_path, {})
    path.write_text("[1, 2]")

    with pytest.raises(CliError, match="not a JSON object"):
        find_local_outputs(tmp_path)


def test_names_and_endpoint_come_from_the_local_cloud_when_no_flag_is_given(tmp_path: Path) -> None:
    # Given a local cloud's outputs and no AWS credentials configured
    write_outputs(tmp_path, LOCAL)

    # When the bucket is resolved without --bucket
    resolved = resolve(wanted={"ArtifactBucketName": None}, optional={"CatalogTableName": None}, start=tmp_path)

    # Then bucket, catalog, endpoint and region are the local cloud's, with stand-in credentials
    assert resolved["ArtifactBucketName"] == "local-artifacts"
    assert resolved.get("CatalogTableName") == "local-catalog"
    assert resolved.connection.endpoint_url == "http://127.0.0.1:4566"
    assert resolved.connection.session.region_name == "eu-west-1"
    assert resolved.connection.session.get_credentials() is not None


def test_a_flag_wins_over_the_local_cloud_and_the_endpoint_flag_too(tmp_path: Path) -> None:
    write_outputs(tmp_path, LOCAL)

    resolved = resolve(
        wanted={"CatalogTableName": "mine", "AuditTableName": None},
        endpoint_url="http://localhost:9999",
        start=tmp_path,
    )

    assert resolved.names == {"CatalogTableName": "mine", "AuditTableName": "local-audit"}
    assert resolved.connection.endpoint_url == "http://localhost:9999"


def test_explicit_names_do_not_use_the_local_clouds_endpoint(tmp_path: Path) -> None:
    # Given a local cloud's outputs, but the bucket named on the command line (e.g. a real AWS bucket)
    write_outputs(tmp_path, LOCAL)

    resolved = resolve(wanted={"ArtifactBucketName": "prod-artifacts"}, region="eu-central-1", start=tmp_path)

    # Then boto3's standard endpoint applies, not the local one
    assert resolved["ArtifactBucketName"] == "prod-artifacts"
    assert resolved.connection.endpoint_url is None
    assert resolved.local is None


def test_outputs_missing_a_needed_name_say_which_flag_to_pass(tmp_path: Path) -> None:
    write_outputs(tmp_path, {"AwsEndpointUrl": "http://127.0.0.1:4566"})

    with pytest.raises(CliError) as raised:
        resolve(wanted={"AuditTableName": None}, start=tmp_path)

    assert "has no AuditTableName" in raised.value.message
    assert raised.value.hint == "pass --audit-table"


def test_without_any_source_the_error_lists_the_flags(tmp_path: Path) -> None:
    with pytest.raises(InputError) as raised:
        resolve(wanted={"CatalogTableName": None, "AuditTableName": None}, start=tmp_path)

    assert "--catalog-table, --audit-table" in raised.value.message


def test_the_project_root_is_the_nearest_folder_with_template_yaml(tmp_path: Path) -> None:
    (tmp_path / "template.yaml").write_text("")
    (tmp_path / "a" / "b").mkdir(parents=True)

    assert find_project_root(tmp_path / "a" / "b") == tmp_path.resolve()
