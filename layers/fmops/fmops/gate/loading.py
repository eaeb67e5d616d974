"""Finding the policy that judges a model group: its own file, else the default."""

from __future__ import annotations

from dataclasses import dataclass

from fmops.errors import FmopsError
from fmops.gate.policy import Policy, PolicyInvalid, parse_policy, policy_file_names, policy_hash
from fmops.ports import PolicyStore


class PolicyNotFound(FmopsError):
    """Neither the group's policy nor the default exists: the gate fails closed."""


@dataclass(frozen=True)
class LoadedPolicy:
    policy: Policy
    sha256: str
    file_name: str


def load_policy(model_group: str, store: PolicyStore) -> LoadedPolicy:
    """The group's policy file if present, else the default. An invalid file is an error, never
    skipped in favour of the default: a typo must not silently loosen a group's gate."""
    for name in policy_file_names(model_group):
        raw = store.read(name)
        if raw is None:
            continue
        policy = parse_policy(raw)
        if not policy.applies_to(model_group):
            raise PolicyInvalid.single(
                "$.model_group", f"file {name} is for '{policy.model_group}', not '{model_group}'"
            )
        return LoadedPolicy(policy=policy, sha256=policy_hash(raw), file_name=name)
    raise PolicyNotFound(
        f"no policy for model group '{model_group}' and no default policy ({', '.join(policy_file_names(model_group))})"
    )
