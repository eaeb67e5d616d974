"""What a cold start downloads: the zipped and unzipped size of every function and of the layer.

    .venv/bin/python -m benchmarks.package_size

Full: `sam build --cached` (as `make build` runs it: Python 3.12 on PATH, arm64 wheels) into
.aws-sam/bench/build (its own folder and cache: `make build`'s output is left alone); then each
function's and the layer's built folder is zipped in memory (ZIP_DEFLATED). Reported without what
the python3.12 runtime already provides (boto3, botocore, s3transfer, jmespath, dateutil, urllib3,
six and their .dist-info) and without __pycache__; the layer bundles boto3 and botocore on purpose
(layers/fmops/requirements.txt says why), so its size as built is reported beside. A failed build
is reported in the section (figure not met), never raised.
Tiny: the source folders, no `sam build`.
"""

from __future__ import annotations

import io
import os
import re
import shutil
import subprocess
import sys
import time
import zipfile
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from benchmarks.cold_import import ROOT, TEMPLATE, read_functions, read_template, section_markdown
from benchmarks.report import Figure, Section, Size, markdown_table

SAM = Path(sys.executable).parent / "sam"
# Kept between runs: sam build writes build.toml (what --cached keys its cache on) beside the build folder.
BUILD_ROOT = ROOT / ".aws-sam" / "bench"
CACHE_DIR = BUILD_ROOT / "cache"
BUILD_TIMEOUT_S = 900
LAMBDA_UNZIPPED_LIMIT = 250 * 1024 * 1024  # function + layers, AWS's hard limit

# What the Lambda python3.12 runtime has in /var/runtime, by top-level name (packages, modules, .dist-info).
RUNTIME_PROVIDED = {"boto3", "botocore", "s3transfer", "jmespath", "dateutil", "python_dateutil", "urllib3", "six"}


@dataclass(frozen=True)
class Packed:
    """Bytes of one folder zipped: what Lambda would need, and what was excluded as runtime-provided."""

    zipped: int
    unzipped: int
    files: int
    runtime_provided_zipped: int
    runtime_provided_unzipped: int

    @property
    def as_built_zipped(self) -> int:
        return self.zipped + self.runtime_provided_zipped

    @property
    def as_built_unzipped(self) -> int:
        return self.unzipped + self.runtime_provided_unzipped


def _runtime_provided(top: str) -> bool:
    """Whether a top-level entry of a Python path folder is something the runtime provides."""
    name = top.removesuffix(".py")
    if top.endswith((".dist-info", ".data")):
        name = top.split("-")[0]
    return name.replace("-", "_").lower() in RUNTIME_PROVIDED


def measure(folder: Path) -> Packed:
    """Zip folder in memory, twice split: what Lambda needs from it, and what the runtime already has.

    A layer's packages live under python/; a function's at its root. __pycache__ is left out (sam
    build leaves it out too; only the source folders of a tiny run have it).
    """
    root = folder / "python" if (folder / "python").is_dir() else folder
    needed, provided = io.BytesIO(), io.BytesIO()
    totals = {"needed": 0, "provided": 0}
    files = 0
    with (
        zipfile.ZipFile(needed, "w", zipfile.ZIP_DEFLATED) as needed_zip,
        zipfile.ZipFile(provided, "w", zipfile.ZIP_DEFLATED) as provided_zip,
    ):
        for path in sorted(folder.rglob("*")):
            if not path.is_file() or "__pycache__" in path.parts:
                continue
            relative = path.relative_to(folder)
            inside = path.relative_to(root).parts if path.is_relative_to(root) else ()
            runtime = bool(inside) and _runtime_provided(inside[0])
            (provided_zip if runtime else needed_zip).write(path, relative.as_posix())
            totals["provided" if runtime else "needed"] += path.stat().st_size
            files += 0 if runtime else 1
    provided_bytes = len(provided.getvalue()) if totals["provided"] else 0
    return Packed(len(needed.getvalue()), totals["needed"], files, provided_bytes, totals["provided"])


def python312_bin() -> Path | None:
    """The bin folder of a working python3.12, found as the Makefile does: PATH first, then pyenv."""
    if shutil.which("python3.12"):
        done = subprocess.run(
            ["python3.12", "-c", "import sys; print(sys.executable)"], capture_output=True, text=True, check=False
        )
        if done.returncode == 0:
            return Path(done.stdout.strip()).parent
    if not shutil.which("pyenv"):
        return None
    versions = subprocess.run(["pyenv", "versions", "--bare"], capture_output=True, text=True, check=False).stdout
    found = [line.strip() for line in versions.splitlines() if re.fullmatch(r"3\.12\.\d+", line.strip())]
    if not found:
        return None
    newest = max(found, key=lambda version: tuple(int(part) for part in version.split(".")))
    prefix = subprocess.run(["pyenv", "prefix", newest], capture_output=True, text=True, check=False)
    return Path(prefix.stdout.strip()) / "bin" if prefix.returncode == 0 else None


@dataclass(frozen=True)
class Build:
    ok: bool
    seconds: float
    command: str
    error: str = ""


def sam_build(build_dir: Path) -> Build:
    """`sam build` of template.yaml into build_dir (cached); a failure is reported, never raised."""
    command = [str(SAM), "build", "--template", str(TEMPLATE), "--build-dir", str(build_dir)]
    command += ["--cached", "--cache-dir", str(CACHE_DIR), "--parallel"]
    shown = " ".join(command)
    python312 = python312_bin()
    if python312 is None:
        return Build(False, 0.0, shown, "sam build needs Python 3.12: put python3.12 on PATH or install it with pyenv")
    environment = {
        **os.environ,
        "PATH": f"{python312}{os.pathsep}{os.environ.get('PATH', '')}",
        "AWS_DEFAULT_REGION": "us-east-1",
        "SAM_CLI_TELEMETRY": "0",
    }
    started = time.perf_counter()
    try:
        done = subprocess.run(
            command, cwd=ROOT, env=environment, capture_output=True, text=True, timeout=BUILD_TIMEOUT_S, check=False
        )
    except (OSError, subprocess.TimeoutExpired) as error:
        return Build(False, time.perf_counter() - started, shown, str(error))
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        return Build(False, seconds, shown, (done.stderr or done.stdout).strip()[-2000:])
    return Build(True, seconds, shown)


def layers(template: Path = TEMPLATE) -> dict[str, Path]:
    """The template's layers with local content: logical id -> source folder."""
    found = {}
    for logical_id, resource in read_template(template)["Resources"].items():
        content = resource.get("Properties", {}).get("ContentUri")
        if resource.get("Type") == "AWS::Serverless::LayerVersion" and isinstance(content, str):
            found[logical_id] = template.parent / content
    return found


def run(size: Size) -> Section:
    functions = read_functions()
    # name shown -> (logical id, source folder)
    artifacts = {f"layer {logical_id}": (logical_id, source) for logical_id, source in layers().items()}
    artifacts |= {function.name: (function.logical_id, function.code_dir) for function in functions}
    build: Build | None = None
    sizes: dict[str, Packed] = {}
    if size is Size.FULL:
        build = sam_build(BUILD_ROOT / "build")
        if build.ok:
            sizes = {name: measure(BUILD_ROOT / "build" / logical_id) for name, (logical_id, _) in artifacts.items()}
    else:
        sizes = {name: measure(source) for name, (_, source) in artifacts.items()}
    return _section(size, build, sizes)


def _mb(size: int) -> str:
    return f"{size / 1024 / 1024:.2f} MB"


def _kb(size: int) -> str:
    return f"{size / 1024:.1f}"


def _section(size: Size, build: Build | None, sizes: dict[str, Packed]) -> Section:
    results: dict[str, Any] = {
        "size": size.value,
        "measured": "sam build output" if size is Size.FULL else "source folders (no sam build)",
        "runtime_provided_excluded": sorted(RUNTIME_PROVIDED),
        "build": asdict(build) if build else None,
        "artifacts": {
            name: {
                **asdict(measured),
                "as_built_zipped": measured.as_built_zipped,
                "as_built_unzipped": measured.as_built_unzipped,
            }
            for name, measured in sizes.items()
        },
    }
    figures: list[Figure] = []
    if build is not None:
        value = (
            f"ok in {build.seconds:.0f} s"
            if build.ok
            else f"failed: {build.error.splitlines()[-1] if build.error else '?'}"
        )
        figures.append(Figure("sam build", value, "ok", build.ok))
    layer_sizes = {name: measured for name, measured in sizes.items() if name.startswith("layer ")}
    function_sizes = {name: measured for name, measured in sizes.items() if name not in layer_sizes}
    if sizes:
        for name, measured in layer_sizes.items():
            figures.append(
                Figure(
                    f"{name} zipped (unzipped), runtime's packages left out",
                    f"{_mb(measured.zipped)} ({_mb(measured.unzipped)})",
                )
            )
            figures.append(
                Figure(
                    f"{name} as built zipped (unzipped)",
                    f"{_mb(measured.as_built_zipped)} ({_mb(measured.as_built_unzipped)})",
                )
            )
        largest = max(function_sizes, key=lambda name: function_sizes[name].zipped)
        figures.append(Figure("largest function zipped", f"{largest}: {_kb(function_sizes[largest].zipped)} KB"))
        figures.append(
            Figure("all functions zipped", f"{_kb(sum(measured.zipped for measured in function_sizes.values()))} KB")
        )
        heaviest = max(measured.as_built_unzipped for measured in function_sizes.values())
        deployed = heaviest + sum(measured.as_built_unzipped for measured in layer_sizes.values())
        figures.append(
            Figure(
                "largest function + layers unzipped, as built",
                _mb(deployed),
                "< 250 MB (Lambda's limit)",
                deployed < LAMBDA_UNZIPPED_LIMIT,
            )
        )
    elif build is not None:
        figures.append(Figure("package sizes", "not measured: sam build failed", "measured", False))
    header = ["package", "zipped KB", "unzipped KB", "files", "as built zipped KB", "as built unzipped KB"]
    rows = [
        [
            name,
            _kb(measured.zipped),
            _kb(measured.unzipped),
            str(measured.files),
            _kb(measured.as_built_zipped),
            _kb(measured.as_built_unzipped),
        ]
        for name, measured in sizes.items()
    ]
    details = [markdown_table(header, rows)] if rows else []
    if build is not None and not build.ok:
        details.append(f"`sam build` failed:\n\n```\n{build.error}\n```")
    details.append(
        "zipped/unzipped: without the runtime's packages "
        f"({', '.join(sorted(RUNTIME_PROVIDED))}) and __pycache__; as built: with them."
    )
    return Section(
        key="package_size",
        title="Package size",
        method=(
            "Full: `sam build --cached --parallel` of template.yaml (Python 3.12, arm64) into "
            ".aws-sam/bench/build, then each function's and the layer's built folder zipped in memory (ZIP_DEFLATED), "
            "leaving out what the python3.12 runtime provides and __pycache__; the size with them "
            '(the layer bundles boto3/botocore on purpose) is given as "as built". '
            "Tiny: the source folders, without sam build."
        ),
        results=results,
        figures=figures,
        details_markdown="\n\n".join(details),
    )


if __name__ == "__main__":
    print(section_markdown(run(Size.FULL)))
