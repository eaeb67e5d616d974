"""`python -m fmops_local [project_root] [--port N]`: the local cloud in the foreground."""

import argparse
from pathlib import Path

from fmops_local.cloud import run_foreground

parser = argparse.ArgumentParser(prog="python -m fmops_local")
parser.add_argument("project_root", nargs="?", type=Path, default=Path("."))
parser.add_argument("--port", type=int, default=4566)
arguments = parser.parse_args()
run_foreground(arguments.project_root, arguments.port)
