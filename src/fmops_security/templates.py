"""template.yaml in its two forms: as written (SAM) and expanded into CloudFormation by the SAM translator.

The expansion reuses the local cloud's translation (fmops_local.template.translate): local code paths
become placeholder S3 locations and AWS managed policy names resolve from the translator's bundled
map, so it runs offline. The expanded template is what `sam deploy` creates: its roles are where the
IAM checks look.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

from samcli.commands._utils.template import get_template_data

from fmops_local.template import translate

# The translator needs a region for ARNs; the template is regional and samconfig.toml deploys to us-east-1.
REGION = "us-east-1"

Template = dict[str, Any]


def load(path: Path) -> Template:
    """A template as CloudFormation reads it: short-form intrinsics (!Ref, !GetAtt) become their long form."""
    return dict(get_template_data(str(path)))


def write(template: Template, path: Path) -> Path:
    """Write a template (e.g. a mutated copy) as JSON, which every tool here reads like YAML."""
    path.write_text(json.dumps(template, indent=2))
    return path


def expand(path: Path, parameter_overrides: dict[str, str] | None = None) -> Template:
    """The CloudFormation the SAM translator makes of the template at `path` (parameters at their defaults)."""
    return translate(path, parameter_overrides, REGION)


def carry_checkov_suppressions(raw: Template, expanded: Template) -> Template:
    """The expanded template with each SAM resource's checkov suppressions copied onto every resource
    the translator generated from it.

    The translator copies a function's Metadata onto its AWS::Lambda::Function (and event invoke
    config) but not onto its role, rules or permissions, so a suppression written next to the SAM
    resource in template.yaml would not reach them. Generated resources are named after their SAM
    resource (IntakeFunction -> IntakeFunctionRole); the longest such prefix owns them.
    """
    result = copy.deepcopy(expanded)
    sam_ids = sorted(
        (
            logical_id
            for logical_id, resource in raw.get("Resources", {}).items()
            if str(resource.get("Type", "")).startswith("AWS::Serverless::")
        ),
        key=len,
        reverse=True,
    )
    for logical_id, resource in result.get("Resources", {}).items():
        if logical_id in raw.get("Resources", {}):
            continue  # written in template.yaml, with its own Metadata
        owner = next((sam_id for sam_id in sam_ids if logical_id.startswith(sam_id)), None)
        if owner is None:
            continue
        skips = raw["Resources"][owner].get("Metadata", {}).get("checkov", {}).get("skip", [])
        if not skips:
            continue
        metadata = resource.setdefault("Metadata", {})
        own = metadata.setdefault("checkov", {}).setdefault("skip", [])
        own.extend(skip for skip in skips if skip not in own)
    return result
