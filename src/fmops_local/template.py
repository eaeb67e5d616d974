"""Read template.yaml with AWS's own tooling: samcli's providers and the SAM translator.

Two views of the same template:
- samcli's providers give the local side of each function (code directory,
  layers, handler, memory, timeout, Globals merged) and the API routes, exactly
  as `sam local` sees them;
- the SAM translator gives the CloudFormation resources that `sam deploy`
  would create (roles, rules with their targets, permissions, event invoke
  configs, state machines), which deploy.py creates in moto.
The translator only accepts S3 locations for code, so local paths are swapped
for placeholders during translation and remembered here.
"""

from __future__ import annotations

import copy
import json
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
from samcli.commands._utils.template import get_template_data
from samcli.lib.providers.api_provider import ApiProvider
from samcli.lib.providers.provider import Stack
from samcli.lib.providers.sam_function_provider import SamFunctionProvider
from samcli.lib.providers.sam_stack_provider import SamLocalStackProvider
from samcli.yamlhelper import yaml_parse
from samtranslator.parser.parser import Parser
from samtranslator.translator.translator import Translator

_PLACEHOLDER_BUCKET = "fmops-local-placeholder"

# The SAM translator warns about every feature toggle it has no config for (it has none offline);
# to a newcomer running the demo that reads like an error. Its real errors still show.
logging.getLogger("samtranslator.feature_toggle.feature_toggle").setLevel(logging.ERROR)


class TemplateError(Exception):
    """The template uses something the local cloud cannot run."""


@dataclass(frozen=True)
class LocalCode:
    """Where a function's code lives on disk, as samcli resolves it (Globals merged)."""

    logical_id: str
    code_dir: Path
    handler: str
    runtime: str
    memory_mb: int
    timeout_s: int
    layer_dirs: tuple[Path, ...]


@dataclass(frozen=True)
class ApiRoute:
    function_logical_id: str
    path: str  # API Gateway syntax: /approvals/{id}, /{proxy+}
    methods: tuple[str, ...]
    event_type: str  # "Api" (REST, payload v1) or "HttpApi"
    payload_format_version: str | None


@dataclass
class SamTemplate:
    path: Path
    parameters: dict[str, str]
    cfn: dict[str, Any]  # translated CloudFormation
    code: dict[str, LocalCode]
    state_machine_definitions: dict[str, Path] = field(default_factory=dict)
    routes: list[ApiRoute] = field(default_factory=list)


def load(template_path: Path, parameter_overrides: dict[str, str] | None, region: str) -> SamTemplate:
    template_path = template_path.resolve()
    parameters = dict(parameter_overrides or {})
    stacks, _ = SamLocalStackProvider.get_stacks(str(template_path), parameter_overrides=parameters)
    if len(stacks) > 1:
        raise TemplateError("nested stacks/applications are not supported by the local cloud")
    raw = get_template_data(str(template_path))
    cfn, definitions = _translate(raw, template_path.parent, parameters, region)
    return SamTemplate(
        path=template_path,
        parameters=parameters,
        cfn=cfn,
        code=_local_code(stacks),
        state_machine_definitions=definitions,
        routes=_routes(stacks, template_path.parent),
    )


def translate(template_path: Path, parameter_overrides: dict[str, str] | None, region: str) -> dict[str, Any]:
    """The CloudFormation that `sam deploy` would create from the template, translated offline.

    Local code and definition paths become placeholder S3 locations (see `_translate`); AWS managed
    policy names resolve from the translator's bundled map, so nothing calls AWS.
    """
    template_path = template_path.resolve()
    raw = get_template_data(str(template_path))
    cfn, _ = _translate(raw, template_path.parent, dict(parameter_overrides or {}), region)
    return cfn


def _local_code(stacks: list[Stack]) -> dict[str, LocalCode]:
    provider = SamFunctionProvider(stacks, use_raw_codeuri=False, ignore_code_extraction_warnings=True)
    code: dict[str, LocalCode] = {}
    for function in provider.get_all():
        if function.packagetype != "Zip" or not function.codeuri or not function.handler:
            raise TemplateError(f"{function.name}: only zip functions with local CodeUri and Handler can run locally")
        layer_dirs = []
        for layer in function.layers:
            if not layer.codeuri:
                raise TemplateError(f"{function.name}: layer {layer.name} has no local ContentUri")
            layer_dir = Path(layer.codeuri)
            # A Lambda layer is mounted at /opt, and /opt/python is on sys.path.
            layer_dirs.append(layer_dir / "python" if (layer_dir / "python").is_dir() else layer_dir)
        code[function.name] = LocalCode(
            logical_id=function.name,
            code_dir=Path(function.codeuri),
            handler=function.handler,
            runtime=function.runtime or "python3.12",
            memory_mb=int(function.memory or 128),
            timeout_s=int(function.timeout or 3),
            layer_dirs=tuple(layer_dirs),
        )
    return code


def _routes(stacks: list[Stack], cwd: Path) -> list[ApiRoute]:
    api = ApiProvider(stacks, cwd=str(cwd)).api
    return [
        ApiRoute(
            function_logical_id=route.function_name,
            path=route.path,
            methods=tuple(route.methods),
            event_type=route.event_type,
            payload_format_version=route.payload_format_version,
        )
        for route in api.routes
        if route.function_name
    ]


def _translate(
    raw: dict[str, Any], base_dir: Path, parameters: dict[str, str], region: str
) -> tuple[dict[str, Any], dict[str, Path]]:
    sam = copy.deepcopy(raw)
    definitions: dict[str, Path] = {}
    globals_function = sam.get("Globals", {}).get("Function", {})
    if _is_local(globals_function.get("CodeUri")):
        globals_function["CodeUri"] = _placeholder("Globals")
    for logical_id, resource in sam.get("Resources", {}).items():
        properties = resource.get("Properties") or {}
        kind = resource.get("Type")
        if kind == "AWS::Serverless::Function" and _is_local(properties.get("CodeUri")):
            properties["CodeUri"] = _placeholder(logical_id)
        elif kind == "AWS::Serverless::LayerVersion" and _is_local(properties.get("ContentUri")):
            properties["ContentUri"] = _placeholder(logical_id)
        elif kind == "AWS::Serverless::StateMachine" and _is_local(properties.get("DefinitionUri")):
            definitions[logical_id] = base_dir / properties["DefinitionUri"]
            properties["DefinitionUri"] = _placeholder(logical_id)
        elif kind in ("AWS::Serverless::Api", "AWS::Serverless::HttpApi") and _is_local(
            properties.get("DefinitionUri")
        ):
            # An OpenAPI file is read by the translator itself once it is inline.
            properties["DefinitionBody"] = yaml_parse((base_dir / properties.pop("DefinitionUri")).read_text())
    translator = Translator(None, Parser(), boto_session=boto3.Session(region_name=region))
    cfn = translator.translate(sam, parameter_values=dict(parameters), get_managed_policy_map=dict)
    return json.loads(json.dumps(cfn)), definitions


def _is_local(uri: Any) -> bool:
    return isinstance(uri, str) and not uri.startswith("s3://")


def _placeholder(logical_id: str) -> str:
    return f"s3://{_PLACEHOLDER_BUCKET}/{logical_id}.zip"
