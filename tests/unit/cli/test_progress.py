"""Progress on stderr: one redrawn line on a terminal, one line per finished file in logs."""

from __future__ import annotations

import io

from fmops_cli.progress import Progress, human_size


def test_in_logs_each_finished_upload_is_one_line_and_quiet_steps_print_nothing() -> None:
    stream = io.StringIO()
    progress = Progress(stream, interactive=False)

    hashing = progress.file("hashing", 1, 2, "weights.bin", 3 * 1024 * 1024, quiet=True)
    hashing(3 * 1024 * 1024)
    hashing.done("hashed")
    upload = progress.file("uploading", 1, 2, "weights.bin", 3 * 1024 * 1024)
    upload(1024 * 1024)
    upload(2 * 1024 * 1024)
    upload.done("uploaded")
    progress.clear()

    assert stream.getvalue() == "uploaded [1/2] weights.bin (3.0 MiB)\n"


def test_on_a_terminal_one_line_is_redrawn_and_cleared() -> None:
    stream = io.StringIO()
    progress = Progress(stream, interactive=True)

    upload = progress.file("uploading", 2, 2, "config.json", 2048)
    upload(1024)
    upload.done("uploaded")
    progress.clear()

    output = stream.getvalue()
    assert "\n" not in output
    assert output.startswith("\ruploading [2/2] config.json  0 B / 2.0 KiB    0%")
    assert "\ruploading [2/2] config.json  2.0 KiB / 2.0 KiB  100%" in output
    assert output.endswith("\r\x1b[K")


def test_sizes_are_human_readable() -> None:
    assert [human_size(n) for n in (0, 1023, 1024, 1536 * 1024, 5 * 1024**3)] == [
        "0 B",
        "1023 B",
        "1.0 KiB",
        "1.5 MiB",
        "5.0 GiB",
    ]
