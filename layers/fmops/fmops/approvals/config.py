"""Where the approval rules and the approver directory live, and loading them.

Both files sit in the policy bucket beside the gate policies (`fmops approvals publish` puts
them there), under `approvals/`: whoever may change the gate may change who approves, and
nobody else. They are read on every use, not cached: removing a person from the directory
takes effect on their next click.
"""

from __future__ import annotations

from fmops.approvals.directory import ApproverDirectory, parse_directory
from fmops.approvals.rules import ApprovalRules, parse_rules
from fmops.errors import FmopsError
from fmops.ports import PolicyStore

RULES_KEY = "approvals/rules.json"
DIRECTORY_KEY = "approvals/directory.json"


class ApprovalConfigMissing(FmopsError):
    """The approval rules or the approver directory has not been published: nobody could approve."""


def load_rules(store: PolicyStore) -> ApprovalRules:
    return parse_rules(_read(store, RULES_KEY))


def load_directory(store: PolicyStore) -> ApproverDirectory:
    return parse_directory(_read(store, DIRECTORY_KEY))


def _read(store: PolicyStore, key: str) -> bytes:
    raw = store.read(key)
    if raw is None:
        raise ApprovalConfigMissing(f"{key} is not in the policy bucket: publish it with `fmops approvals publish`")
    return raw
