"""Progress of long file operations on stderr.

On a terminal: one line, redrawn in place. Otherwise (CI logs, pipes): one line
per finished file, and nothing for steps marked quiet.
"""

from __future__ import annotations

import shutil
import sys
import threading
import time
from typing import TextIO

_REDRAW_SECONDS = 0.1


def human_size(size: int) -> str:
    value = float(size)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if value < 1024 or unit == "TiB":
            return f"{int(value)} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    raise AssertionError("unreachable")


class Progress:
    """Shows one file at a time. boto3 calls the per-file callback from several threads, hence the lock."""

    def __init__(self, stream: TextIO | None = None, interactive: bool | None = None) -> None:
        self._stream = stream if stream is not None else sys.stderr
        self.interactive = self._stream.isatty() if interactive is None else interactive
        self._lock = threading.Lock()
        self._line = ""
        self._label = ""
        self._verb = ""
        self._done = 0
        self._total = 0
        self._last_draw = 0.0
        self._quiet = False

    def file(self, verb: str, index: int, count: int, path: str, size: int, *, quiet: bool = False) -> FileProgress:
        """Start showing one file; call the returned object with byte counts, then .done()."""
        with self._lock:
            self._verb, self._label = verb, f"[{index}/{count}] {path}"
            self._done, self._total, self._quiet = 0, size, quiet
            self._draw(force=True)
        return FileProgress(self)

    def clear(self) -> None:
        """Remove the in-place line (before printing the summary)."""
        with self._lock:
            if self.interactive and self._line:
                self._stream.write("\r\x1b[K")
                self._stream.flush()
                self._line = ""

    def _advance(self, amount: int) -> None:
        with self._lock:
            self._done += amount
            self._draw()

    def _finish(self, past_verb: str) -> None:
        with self._lock:
            self._done = self._total
            if self.interactive:
                self._draw(force=True)
            elif not self._quiet:
                self._stream.write(f"{past_verb} {self._label} ({human_size(self._total)})\n")
                self._stream.flush()

    def _draw(self, force: bool = False) -> None:
        if not self.interactive:
            return
        now = time.monotonic()
        if not force and now - self._last_draw < _REDRAW_SECONDS:
            return
        self._last_draw = now
        percent = 100 if self._total == 0 else min(100, self._done * 100 // self._total)
        line = f"{self._verb} {self._label}  {human_size(self._done)} / {human_size(self._total)}  {percent:3d}%"
        width = shutil.get_terminal_size((100, 20)).columns - 1
        if len(line) > width:
            line = "…" + line[-(width - 1) :]
        self._stream.write("\r" + line + "\x1b[K")
        self._stream.flush()
        self._line = line


class FileProgress:
    def __init__(self, progress: Progress) -> None:
        self._progress = progress

    def __call__(self, amount: int) -> None:
        self._progress._advance(amount)

    def done(self, past_verb: str) -> None:
        self._progress._finish(past_verb)
