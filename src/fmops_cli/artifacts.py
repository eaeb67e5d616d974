"""The artifacts of a version folder: every file except the model card and hidden files, hashed."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from fmops_cli.errors import InputError

CHUNK_BYTES = 1024 * 1024


@dataclass(frozen=True)
class LocalArtifact:
    """One file to upload: where it is, its path in the version folder, and its exact bytes' identity."""

    source: Path
    path: str  # relative to the version folder, '/'-separated, as in the manifest
    size_bytes: int
    sha256: str
    mtime_ns: int

    def changed_since_hashed(self) -> bool:
        try:
            stat = self.source.stat()
        except OSError:
            return True
        return stat.st_size != self.size_bytes or stat.st_mtime_ns != self.mtime_ns


def sha256_file(path: Path, on_bytes: Callable[[int], None] | None = None) -> tuple[str, int]:
    """Hex SHA-256 and size of a file, read in chunks so any size fits in memory."""
    digest = hashlib.sha256()
    size = 0
    with path.open("rb") as stream:
        while chunk := stream.read(CHUNK_BYTES):
            digest.update(chunk)
            size += len(chunk)
            if on_bytes is not None:
                on_bytes(len(chunk))
    return digest.hexdigest(), size


def artifact_files(directory: Path, exclude: Iterable[Path] = ()) -> list[tuple[Path, str]]:
    """(file, relative path) of every artifact in `directory`, sorted by relative path.

    Hidden files and folders (names starting with '.') and the `exclude`d files are skipped;
    symbolic links are followed, so a folder may link to weights stored elsewhere.
    """
    root = directory.resolve()
    excluded = {path.resolve() for path in exclude}
    found: list[tuple[Path, str]] = []
    visited: set[Path] = set()
    for current, folders, files in os.walk(root, followlinks=True):
        real = Path(current).resolve()
        if real in visited:  # a link back up the tree: walk each real folder once
            folders[:] = []
            continue
        visited.add(real)
        folders[:] = sorted(name for name in folders if not name.startswith("."))
        for name in files:
            if name.startswith("."):
                continue
            file = Path(current) / name
            if file.resolve() in excluded:
                continue
            if not file.exists():
                raise InputError(f"{file} is a broken symbolic link", hint="fix or remove the link")
            if not file.is_file():
                continue  # sockets, pipes and devices are not artifacts
            found.append((file, file.relative_to(root).as_posix()))
    return sorted(found, key=lambda item: item[1])


def hash_artifacts(
    files: list[tuple[Path, str]], on_file: Callable[[int, str, int], Callable[[int], None]] | None = None
) -> list[LocalArtifact]:
    """Hash each file; `on_file(index, path, size)` may return a per-chunk callback (progress display)."""
    artifacts = []
    for index, (source, path) in enumerate(files, start=1):
        try:
            stat = source.stat()
            callback = on_file(index, path, stat.st_size) if on_file else None
            sha256, size = sha256_file(source, callback)
        except OSError as error:
            raise InputError(f"cannot read {source}: {error.strerror or error}") from error
        artifacts.append(LocalArtifact(source, path, size, sha256, stat.st_mtime_ns))
    return artifacts
