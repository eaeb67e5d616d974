"""fmops command-line tool: submit model versions, follow their status, run the local cloud."""

__version__ = "0.1.0"
