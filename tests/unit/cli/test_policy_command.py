"""`fmops policy validate`: business owners check a policy file before it gates anything."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from fmops.gate.policy import policy_hash
from fmops_cli.main import main

ROOT = Path(__file__).resolve().parents[3]


@pytest.mark.parametrize("name", ["default.json", "support-assistant.json"])
def test_the_shipped_policies_are_valid_and_show_the_hash_a_decision_records(
    name: str, capsys: pytest.CaptureFixture[str]
) -> None:
    path = ROOT / "policies" / name

    code = main(["policy", "validate", str(path)])

    out = capsys.readouterr().out
    assert code == 0
    assert f"sha256 {policy_hash(path.read_bytes())}" in out


def test_an_invalid_policy_lists_each_problem_with_its_path_and_exits_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given a policy with a misspelt key and a missing version label
    policy = {"schema_version": "1", "model_group": "*", "thresholds": {}, "treshold": {}}
    path = tmp_path / "policy.json"
    path.write_text(json.dumps(policy))

    code = main(["policy", "validate", str(path)])

    err = capsys.readouterr().err
    assert code == 2
    assert "$.treshold: unknown key 'treshold'" in err
    assert "$.policy_version" in err


def test_a_missing_policy_file_is_an_input_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["policy", "validate", str(tmp_path / "nope.json")]) == 2
    assert "cannot read" in capsys.readouterr().err
