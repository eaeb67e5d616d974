"""Errors the CLI reports to its user: a message, an optional hint, and the exit status."""

from __future__ import annotations

EXIT_OK = 0
EXIT_FAILURE = 1  # the operation failed, or the version is unknown or rejected
EXIT_USAGE = 2  # bad arguments or invalid input (argparse uses 2 as well)
EXIT_TIMEOUT = 3  # --wait-for gave up before the version reached the status


class CliError(Exception):
    """A failure explained to the user; main() prints it and exits with exit_code."""

    exit_code = EXIT_FAILURE

    def __init__(self, message: str, hint: str | None = None, exit_code: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint
        if exit_code is not None:
            self.exit_code = exit_code


class InputError(CliError):
    """The user's input (a folder, a model card, an argument) cannot be used as given."""

    exit_code = EXIT_USAGE
