"""CLI unit tests run offline and ignore the developer's AWS setup and any local cloud."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest


@pytest.fixture(autouse=True)
def offline(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    def refuse(*args: object, **kwargs: object) -> None:
        raise OSError("network access in a unit test")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    for name in ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_ENDPOINT_URL", "AWS_REGION", "AWS_DEFAULT_REGION"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-aws-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-aws-credentials"))
    # A .fmops/local/outputs.json above the repository must not leak into the tests.
    monkeypatch.chdir(tmp_path)


CARD_YAML = """\
model_group: sentiment-classifier
kind: fine-tuned
task: text-classification
base_model:
  name: distilbert-base-uncased
  provider: huggingface
  licence: apache-2.0
intended_use: Route reviews by sentiment.
limitations: English only.
risk_tier: medium
owner_team: customer-insights
submitter:
  id: ana.silva
  email: ana.silva@example.com
"""


@pytest.fixture
def version_folder(tmp_path: Path) -> Path:
    """A valid version folder: a YAML model card and two artifacts, one in a subfolder."""
    folder = tmp_path / "version"
    (folder / "weights").mkdir(parents=True)
    (folder / "model-card.yaml").write_text(CARD_YAML)
    (folder / "config.json").write_bytes(b'{"labels": ["negative", "positive"]}')
    (folder / "weights" / "head.bin").write_bytes(b"abc")
    return folder
