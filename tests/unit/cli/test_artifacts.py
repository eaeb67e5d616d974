"""Artifacts: which files of a version folder are uploaded, and their sha256 and size."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest

from fmops_cli.artifacts import CHUNK_BYTES, artifact_files, hash_artifacts, sha256_file
from fmops_cli.errors import InputError

# Known digests (FIPS 180-2 test vector for "abc"; the empty string).
SHA256_ABC = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
SHA256_EMPTY = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"


def test_the_sha256_of_known_bytes(tmp_path: Path) -> None:
    # Given files holding "abc" and nothing
    (tmp_path / "abc").write_bytes(b"abc")
    (tmp_path / "empty").write_bytes(b"")

    # When they are hashed, Then digest and size are the published ones
    assert sha256_file(tmp_path / "abc") == (SHA256_ABC, 3)
    assert sha256_file(tmp_path / "empty") == (SHA256_EMPTY, 0)


def test_large_files_are_hashed_in_chunks_and_report_progress(tmp_path: Path) -> None:
    # Given a file one byte longer than a read chunk
    data = b"a" * (CHUNK_BYTES + 1)
    (tmp_path / "big").write_bytes(data)
    seen: list[int] = []

    # When it is hashed with a progress callback
    digest, size = sha256_file(tmp_path / "big", seen.append)

    # Then it was read in two chunks, and the digest covers every byte
    assert seen == [CHUNK_BYTES, 1]
    assert size == len(data)
    assert digest == hashlib.sha256(data).hexdigest()


def test_every_file_except_the_card_and_hidden_ones_is_an_artifact(tmp_path: Path) -> None:
    # Given a folder with a card, nested files, hidden files and a hidden folder
    for relative in (
        "model-card.yaml",
        "config.json",
        "weights/part-1.bin",
        "weights/part-0.bin",
        ".DS_Store",
        ".git/HEAD",
        "weights/.cache",
    ):
        path = tmp_path / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(relative)

    # When its artifacts are listed
    files = artifact_files(tmp_path, exclude=[tmp_path / "model-card.yaml"])

    # Then they are the remaining files, '/'-separated and sorted
    assert [relative for _, relative in files] == ["config.json", "weights/part-0.bin", "weights/part-1.bin"]


@pytest.mark.skipif(os.name == "nt", reason="symbolic links need privileges on Windows")
def test_symbolic_links_are_followed_and_broken_ones_reported(tmp_path: Path) -> None:
    # Given weights stored outside the folder and linked into it
    store = tmp_path / "store"
    store.mkdir()
    (store / "weights.bin").write_bytes(b"abc")
    folder = tmp_path / "version"
    folder.mkdir()
    (folder / "linked").symlink_to(store, target_is_directory=True)

    # When the artifacts are listed and hashed, Then the linked file is one, under its path in the folder
    artifacts = hash_artifacts(artifact_files(folder))
    assert [(artifact.path, artifact.sha256) for artifact in artifacts] == [("linked/weights.bin", SHA256_ABC)]

    # And a broken link is an error rather than a silently missing artifact
    (folder / "gone.bin").symlink_to(tmp_path / "nowhere")
    with pytest.raises(InputError, match="broken symbolic link"):
        artifact_files(folder)


def test_a_file_changed_after_hashing_is_detected(tmp_path: Path) -> None:
    # Given a hashed artifact
    (tmp_path / "model.bin").write_bytes(b"abc")
    [artifact] = hash_artifacts(artifact_files(tmp_path))
    assert not artifact.changed_since_hashed()

    # When the file is rewritten with other bytes
    (tmp_path / "model.bin").write_bytes(b"abcd")

    # Then the artifact knows its hash no longer describes the file
    assert artifact.changed_since_hashed()


def test_hashing_reports_each_file_to_the_progress_display(tmp_path: Path) -> None:
    (tmp_path / "a.bin").write_bytes(b"abc")
    (tmp_path / "b.bin").write_bytes(b"")
    started: list[tuple[int, str, int]] = []

    def on_file(index: int, path: str, size: int):  # type: ignore[no-untyped-def]
        started.append((index, path, size))
        return None

    artifacts = hash_artifacts(artifact_files(tmp_path), on_file=on_file)

    assert started == [(1, "a.bin", 3), (2, "b.bin", 0)]
    assert [(a.path, a.sha256, a.size_bytes) for a in artifacts] == [
        ("a.bin", SHA256_ABC, 3),
        ("b.bin", SHA256_EMPTY, 0),
    ]
