"""SageMaker Model Registry: one model package group per fmops model group, one package per version."""

from __future__ import annotations

import uuid
from typing import Any

from botocore.exceptions import ClientError

from fmops.adapters import client, error_code
from fmops.manifest import Manifest

VERSION_ID_PROPERTY = "fmops:version_id"
# Namespace for ClientToken: CreateModelPackage is idempotent on AWS for the same token.
_TOKEN_NAMESPACE = uuid.UUID("5f0c1d8e-3c55-4f3b-9a55-0f3f7c6b8f11")


class SageMakerRegistry:
    def __init__(self, sagemaker: Any = None) -> None:
        self._sagemaker = sagemaker

    @property
    def sm(self) -> Any:
        return self._sagemaker or client("sagemaker")

    def ensure_group(self, group: str, description: str) -> None:
        try:
            self.sm.describe_model_package_group(ModelPackageGroupName=group)
            return
        except ClientError as error:
            if error_code(error) not in {"ValidationException", "ResourceNotFound"}:
                raise
        try:
            self.sm.create_model_package_group(ModelPackageGroupName=group, ModelPackageGroupDescription=description)
        except ClientError as error:
            # Another intake created it in between: that is the outcome we wanted.
            if "already exists" not in str(error).lower() and error_code(error) != "ConflictException":
                raise

    def find_package(self, group: str, version_id: str) -> str | None:
        paginator = self.sm.get_paginator("list_model_packages")
        for page in paginator.paginate(ModelPackageGroupName=group):
            for summary in page["ModelPackageSummaryList"]:
                arn = summary["ModelPackageArn"]
                described = self.sm.describe_model_package(ModelPackageName=arn)
                if described.get("CustomerMetadataProperties", {}).get(VERSION_ID_PROPERTY) == version_id:
                    return str(arn)
        return None

    def create_package(self, manifest: Manifest, manifest_uri: str, manifest_sha256: str) -> str:
        lineage = manifest.lineage
        metadata: dict[str, str] = {}
        if lineage.code:
            metadata = {"Repository": lineage.code.repository, "CommitId": lineage.code.commit}
        if lineage.training_job:
            metadata["GeneratedBy"] = lineage.training_job
        properties = {
            VERSION_ID_PROPERTY: manifest.version_id,
            "fmops:manifest_uri": manifest_uri,
            "fmops:manifest_sha256": manifest_sha256,
            "fmops:kind": manifest.kind.value,
            "fmops:task": manifest.task[:256],
            "fmops:risk_tier": manifest.risk_tier.value,
            "fmops:owner_team": manifest.owner_team[:256],
            "fmops:submitter": manifest.submitter.id[:256],
        }
        if manifest.base_model:
            properties["fmops:base_model"] = manifest.base_model.name[:256]
            properties["fmops:base_model_licence"] = manifest.base_model.licence[:256]
        request: dict[str, Any] = {
            "ModelPackageGroupName": manifest.model_group,
            "ModelPackageDescription": (manifest.description or f"{manifest.kind.value} {manifest.task}")[:1000],
            "ModelApprovalStatus": "PendingManualApproval",
            "CustomerMetadataProperties": properties,
            "ClientToken": str(uuid.uuid5(_TOKEN_NAMESPACE, f"{manifest.version_id}#{manifest_sha256}")),
        }
        if metadata:
            request["MetadataProperties"] = metadata
        return str(self.sm.create_model_package(**request)["ModelPackageArn"])

    def annotate(self, package_arn: str, properties: dict[str, str]) -> None:
        # Sent merged with what is there: AWS upserts the given keys, moto replaces the whole map.
        current = self.sm.describe_model_package(ModelPackageName=package_arn).get("CustomerMetadataProperties", {})
        self.sm.update_model_package(ModelPackageArn=package_arn, CustomerMetadataProperties={**current, **properties})

    def approve(self, package_arn: str, description: str) -> None:
        # Approving an Approved package again is a no-op in SageMaker; the description is replaced.
        self.sm.update_model_package(
            ModelPackageArn=package_arn, ModelApprovalStatus="Approved", ApprovalDescription=description[:1024]
        )
