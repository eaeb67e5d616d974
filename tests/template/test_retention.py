"""Evidence outlives the stack, and deleting the stack does not stop halfway."""

from __future__ import annotations

from typing import Any


def test_every_deletion_protected_table_is_retained_when_the_stack_is_deleted(template: dict[str, Any]) -> None:
    # CloudFormation cannot delete a table with deletion protection: without DeletionPolicy Retain,
    # `sam delete` would fail on it and leave the stack half deleted.
    protected = {
        name: resource
        for name, resource in template["Resources"].items()
        if resource.get("Properties", {}).get("DeletionProtectionEnabled") is True
    }
    not_retained = sorted(
        name
        for name, resource in protected.items()
        if resource.get("DeletionPolicy") != "Retain" or resource.get("UpdateReplacePolicy") != "Retain"
    )

    assert protected, "no table has deletion protection"
    assert not not_retained, f"deletion-protected but not retained: {not_retained}"
