"""SageMaker "Model Package State Change" events, which moto does not emit.

AWS puts one on the default bus when a model package is created and when its
status changes (ModelApprovalStatus included), whether the change comes from
an API call or from SageMaker Studio. Shape, from the SageMaker developer
guide ("Automating SageMaker with EventBridge", model package state change):
source aws.sagemaker, resources [ModelPackageArn], detail = the model package
as DescribeModelPackage returns it (ModelPackageGroupName, ModelPackageVersion,
ModelPackageArn, ModelPackageName, CreationTime, ModelPackageStatus,
ModelApprovalStatus, ...), with ISO-8601 timestamps.
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from typing import Any

from moto.events.models import events_backends
from moto.sagemaker.models import SageMakerModelBackend

from fmops_local.patching import Patcher

LOG = logging.getLogger(__name__)

DETAIL_TYPE = "SageMaker Model Package State Change"


def install(patcher: Patcher) -> None:
    """Wrap SageMakerModelBackend.create_model_package and .update_model_package (moto 5.2.5)."""

    def make_create(original: Any) -> Any:
        def create_model_package(backend: SageMakerModelBackend, **kwargs: Any) -> str:
            arn: str = original(backend, **kwargs)
            _emit(backend, arn)
            return arn

        return create_model_package

    def make_update(original: Any) -> Any:
        def update_model_package(backend: SageMakerModelBackend, **kwargs: Any) -> str:
            package = _package(backend, kwargs["model_package_arn"])
            before = package.model_approval_status if package else None
            if package is not None:
                # moto overwrites these with None when a call omits them; SageMaker keeps them.
                if kwargs.get("approval_description") is None:
                    kwargs["approval_description"] = package.approval_description
                if kwargs.get("model_approval_status") is None:
                    kwargs["model_approval_status"] = package.model_approval_status
                if kwargs.get("customer_metadata_properties") is None:
                    kwargs["customer_metadata_properties"] = package.customer_metadata_properties or {}
            arn: str = original(backend, **kwargs)
            after = _package(backend, arn)
            if after is not None and after.model_approval_status != before:
                _emit(backend, arn)
            return arn

        return update_model_package

    patcher.wrap(SageMakerModelBackend, "create_model_package", make_create)
    patcher.wrap(SageMakerModelBackend, "update_model_package", make_update)


def _package(backend: SageMakerModelBackend, arn_or_name: str) -> Any:
    return backend.model_packages.get(backend.model_package_name_mapping.get(arn_or_name, arn_or_name))


def state_change_detail(package: Any) -> dict[str, Any]:
    detail = package.gen_response_object()
    if package.model_package_group_name:
        # DescribeModelPackage names a versioned package after its group.
        detail.setdefault("ModelPackageName", package.model_package_group_name)
    detail["Tags"] = {tag["Key"]: tag["Value"] for tag in (package.tags or [])}
    serialisable: dict[str, Any] = json.loads(json.dumps(detail, default=_iso))
    return serialisable


def _emit(backend: SageMakerModelBackend, arn: str) -> None:
    try:
        package = _package(backend, arn)
        entry = {
            "Source": "aws.sagemaker",
            "DetailType": DETAIL_TYPE,
            "Detail": json.dumps(state_change_detail(package)),
            "Resources": [arn],
            "EventBusName": "default",
        }
        events_backends[backend.account_id][backend.region_name].put_events([entry])
    except Exception:
        # The SageMaker call succeeded; its event is a side effect.
        LOG.exception("could not emit %s for %s", DETAIL_TYPE, arn)


def _iso(value: Any) -> str:
    if isinstance(value, datetime):
        aware = value if value.tzinfo else value.replace(tzinfo=UTC)  # moto keeps naive UTC
        return aware.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    raise TypeError(f"{type(value).__name__} is not JSON serializable")
