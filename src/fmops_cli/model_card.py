"""The model card file: the manifest's descriptive fields, written by the submitter.

A version folder holds `model-card.yaml` or `model-card.json` at its top level
(or the card is named with --model-card). It contains every manifest field
except `artifacts`, which `fmops submit` computes from the folder's files.
Command-line flags (--group, --version, --submitter-id, --submitter-email)
override the card's fields.

YAML is read with every value as text (only `null`, `~` and empty values mean
"none"; a field set to none counts as not given, in JSON too): versions such as
1.10, dates and commit ids such as 0123456 keep exactly the characters written
instead of turning into numbers or dates.

`sample_requests` are the exception: each `request` is sent to the endpoint as
JSON exactly as written, so in YAML its unquoted values read as JSON would read
them (`true`, `false`, `null`, numbers such as 32 or 0.7; anything else, and
every quoted value, is text) and its `null`s are kept:

    sample_requests:
      - name: clearly-positive
        request: {"inputs": "I love this product", "parameters": {"max_new_tokens": 8}}
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from fmops_cli.errors import InputError

MODEL_CARD_NAMES = ("model-card.yaml", "model-card.json")
_YAML_SUFFIXES = {".yaml", ".yml"}
# Computed from the folder, never written by hand.
COMPUTED_FIELDS = ("artifacts",)
SAMPLE_REQUESTS = "sample_requests"
# The plain YAML scalars a JSON document would read as other than text (the YAML 1.2 JSON schema).
# (tag, pattern, the characters such a scalar can start with; "" is the empty value)
_JSON_SCALARS = (
    ("tag:yaml.org,2002:null", r"^(?:null|~|)$", ["n", "~", ""]),
    ("tag:yaml.org,2002:bool", r"^(?:true|false)$", ["t", "f"]),
    ("tag:yaml.org,2002:int", r"^-?(?:0|[1-9][0-9]*)$", list("-0123456789")),
    ("tag:yaml.org,2002:float", r"^-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][-+]?[0-9]+)?$", list("-0123456789")),
)


def find_model_card(directory: Path) -> Path:
    """The folder's model card; exactly one of MODEL_CARD_NAMES must exist."""
    present = [directory / name for name in MODEL_CARD_NAMES if (directory / name).is_file()]
    if not present:
        raise InputError(
            f"no model card in {directory}",
            hint=f"add {' or '.join(MODEL_CARD_NAMES)} (see docs/manifest.md), or name one with --model-card FILE",
        )
    if len(present) > 1:
        raise InputError(
            f"{directory} has both {' and '.join(path.name for path in present)}",
            hint="keep one model card, or choose with --model-card FILE",
        )
    return present[0]


def load_model_card(path: Path) -> dict[str, Any]:
    """Read a model card (YAML or JSON, by extension) into a mapping of manifest fields."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError as error:
        raise InputError(f"model card {path} does not exist") from error
    except (OSError, UnicodeDecodeError) as error:
        raise InputError(f"cannot read model card {path}: {error}") from error

    suffix = path.suffix.lower()
    if suffix in _YAML_SUFFIXES:
        document = _parse_yaml(text, path, _text_loader)
        typed = _parse_yaml(text, path, _json_loader)
    elif suffix == ".json":
        try:
            document = typed = json.loads(text)
        except json.JSONDecodeError as error:
            raise InputError(f"{path} is not valid JSON: {error}") from error
    else:
        raise InputError(f"model card {path} must end in .yaml, .yml or .json")

    if document is None:
        raise InputError(f"model card {path} is empty")
    if not isinstance(document, dict):
        kind = type(document).__name__
        raise InputError(f"model card {path} must be a mapping of field names to values, not a {kind}")
    computed = [name for name in COMPUTED_FIELDS if name in document]
    if computed:
        raise InputError(
            f"model card {path} sets {', '.join(computed)}",
            hint="fmops submit lists the artifacts itself from the folder's files: remove the field from the card",
        )
    card: dict[str, Any] = _without_nulls(document)
    if typed.get(SAMPLE_REQUESTS) is not None:
        card[SAMPLE_REQUESTS] = _sample_requests(typed[SAMPLE_REQUESTS])
    return card


def apply_overrides(card: Mapping[str, Any], **flags: str | None) -> dict[str, Any]:
    """The card with command-line values applied: model_group, version, submitter_id, submitter_email."""
    merged = dict(card)
    for field in ("model_group", "version"):
        if flags.get(field):
            merged[field] = flags[field]
    submitter_flags = {"id": flags.get("submitter_id"), "email": flags.get("submitter_email")}
    if any(submitter_flags.values()):
        submitter = dict(merged["submitter"]) if isinstance(merged.get("submitter"), dict) else {}
        submitter.update({key: value for key, value in submitter_flags.items() if value})
        merged["submitter"] = submitter
    return merged


def _without_nulls(value: Any) -> Any:
    """Drop fields whose value is null: "none" means "not given", so defaults apply and required fields say so."""
    if isinstance(value, dict):
        return {key: _without_nulls(item) for key, item in value.items() if item is not None}
    if isinstance(value, list):
        return [_without_nulls(item) for item in value]
    return value


def _sample_requests(samples: Any) -> Any:
    """The samples as written: a null field of a sample is not given, but a request is sent as it is."""
    if not isinstance(samples, list):
        return samples  # the manifest's validation says what is wrong
    return [
        {key: value for key, value in sample.items() if value is not None} if isinstance(sample, dict) else sample
        for sample in samples
    ]


def _parse_yaml(text: str, path: Path, make_loader: Callable[[Any], Any]) -> Any:
    try:
        import yaml
    except ImportError as error:
        raise InputError(
            f"{path} is YAML, and reading YAML needs PyYAML, which is not installed",
            hint="pip install pyyaml, or write the card as model-card.json",
        ) from error
    try:
        # What yaml.load does, with a SafeLoader subclass: no arbitrary objects, values stay text.
        loader = make_loader(yaml)(text)
        try:
            return loader.get_single_data()
        finally:
            loader.dispose()
    except yaml.YAMLError as error:
        raise InputError(f"{path} is not valid YAML: {error}") from error


def _text_loader(yaml: Any) -> Any:
    """A SafeLoader that resolves only null (and merge keys); every other scalar stays the text written."""
    keep = {"tag:yaml.org,2002:null", "tag:yaml.org,2002:merge"}

    class TextLoader(yaml.SafeLoader):
        pass

    TextLoader.yaml_implicit_resolvers = {
        first: [(tag, pattern) for tag, pattern in resolvers if tag in keep]
        for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
    }
    return TextLoader


def _json_loader(yaml: Any) -> Any:
    """A SafeLoader that reads plain scalars as JSON would (null, true, false, numbers) and all else as text."""

    class JsonLoader(yaml.SafeLoader):
        pass

    JsonLoader.yaml_implicit_resolvers = {}
    for tag, pattern, first in _JSON_SCALARS:
        JsonLoader.add_implicit_resolver(tag, re.compile(pattern), first)
    JsonLoader.add_implicit_resolver("tag:yaml.org,2002:merge", re.compile(r"^(?:<<)$"), ["<"])
    return JsonLoader
