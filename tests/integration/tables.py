"""DynamoDB tables for adapter tests, created from template.yaml's own definitions (keys and indexes)."""

from pathlib import Path
from typing import Any

from samcli.yamlhelper import yaml_parse

TEMPLATE = Path(__file__).resolve().parents[2] / "template.yaml"


def create_table(client: Any, logical_id: str, name: str) -> str:
    properties = yaml_parse(TEMPLATE.read_text())["Resources"][logical_id]["Properties"]
    request = {
        key: properties[key]
        for key in ("AttributeDefinitions", "KeySchema", "GlobalSecondaryIndexes")
        if key in properties
    }
    client.create_table(TableName=name, BillingMode="PAY_PER_REQUEST", **request)
    return name
