"""What a cold start pays before the first event: `import app` of every handler, each in a fresh process.

    .venv/bin/python -m benchmarks.cold_import

Each child is a new interpreter (`python -I -S`) whose sys.path holds only what Lambda gives the
function: its own folder, the layer's source (layers/fmops) and the layer's third-party packages.
Those are the venv's copies of layers/fmops/requirements.txt and their dependencies, symlinked
into a scratch folder: the venv's other packages (awscrt, which botocore loads whenever it can,
moto, samcli, the developer tools) cannot be imported, as in Lambda. The environment is Lambda's:
region, dummy credentials, the Powertools variables and the function's own variables from
template.yaml with dummy values (nothing is called). The child times only the statement with
time.perf_counter, so interpreter start-up is excluded.

Two baselines run the same way, interleaved with the handlers so that the machine's noise hits all
alike: `pass` (the floor: the timer alone) and `import boto3; boto3.client("s3")` (what any boto3
handler pays). Targets from the issue: a handler's median within 1.2x of the boto3 baseline's, and
at most 15 ms in fmops' own modules (the self time `-X importtime` gives `app`, `fmops` and
`fmops.*`, in one extra child per handler).
"""

from __future__ import annotations

import argparse
import ast
import importlib.metadata
import json
import re
import statistics
import subprocess
import sys
import tempfile
import time
from collections import deque
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from benchmarks.report import Figure, Section, Size, markdown_table, spread

ROOT = Path(__file__).resolve().parents[1]
TEMPLATE = ROOT / "template.yaml"
LAYER_DIR = ROOT / "layers" / "fmops"

FULL_ROUNDS = 15
TINY_ROUNDS = 2
TINY_HANDLERS = 3
WARMUP_ROUNDS = 1  # compiles the .pyc files and fills the page cache
FULL_IMPORTTIME_RUNS = 3

RATIO_TARGET = 1.2
FMOPS_SELF_TARGET_MS = 15.0

BASELINES = {"pass": "pass", "boto3_client": 'import boto3; boto3.client("s3")'}
RATIO_BASELINE = "boto3_client"

# Never needed at run time: the developer tools, the local cloud, the test doubles.
ALWAYS_HEAVY = ("moto", "fmops_cli", "fmops_local", "fmops_security", "samcli")
POWERTOOLS = "aws_lambda_powertools"
POWERTOOLS_UTILITIES = f"{POWERTOOLS}.utilities"

_MARKER = "fmops-bench: import starts"

# Runs in the child. Its config (sys.path, statement, what to look for) comes as JSON in argv[1].
_CHILD = f"""
import json, sys, time
config = json.loads(sys.argv[1])
sys.path[:0] = config["front"]
sys.path.extend(config["back"])
code = compile(config["statement"], "<bench>", "exec")
sys.stderr.write({_MARKER!r} + "\\n")
sys.stderr.flush()
start = time.perf_counter()
exec(code, {{"__name__": "__bench__"}})
seconds = time.perf_counter() - start
loaded = list(sys.modules)
watched = sorted({{name.split(".")[0] for name in loaded if name.split(".")[0] in config["watch"]}})
prefix = {POWERTOOLS_UTILITIES!r} + "."
utilities = sorted({{name[len(prefix):].split(".")[0] for name in loaded if name.startswith(prefix)}})
print(json.dumps({{"seconds": seconds, "modules": len(loaded), "watched": watched, "utilities": utilities}}))
"""


# ------------------------------------------------------------------------------ what Lambda gives a function
@dataclass(frozen=True)
class Function:
    """A function of template.yaml: its logical id, its code folder and its own environment variables."""

    logical_id: str
    name: str  # the folder under functions/
    code_dir: Path
    environment: dict[str, str]


@dataclass(frozen=True)
class Intrinsic:
    """A CloudFormation short-form intrinsic (!Ref X, !GetAtt X.Arn, !Sub ...): its value exists once deployed."""

    tag: str
    value: Any


class _TemplateLoader(yaml.SafeLoader):
    pass


def _intrinsic(loader: yaml.SafeLoader, suffix: str, node: yaml.Node) -> Intrinsic:
    if isinstance(node, yaml.ScalarNode):
        return Intrinsic(suffix, loader.construct_scalar(node))
    if isinstance(node, yaml.SequenceNode):
        return Intrinsic(suffix, loader.construct_sequence(node, deep=True))
    return Intrinsic(suffix, loader.construct_mapping(node, deep=True))  # type: ignore[arg-type]


_TemplateLoader.add_multi_constructor("!", _intrinsic)


def read_template(template: Path = TEMPLATE) -> dict[str, Any]:
    """template.yaml as plain data; intrinsics become `Intrinsic`s (a SafeLoader: no code runs)."""
    loaded: dict[str, Any] = yaml.load(template.read_text(), Loader=_TemplateLoader)
    return loaded


def read_functions(template: Path = TEMPLATE) -> list[Function]:
    """Every AWS::Serverless::Function with its code under functions/, sorted by folder, with dummy variables.

    A variable that is a !Ref to a parameter gets the parameter's default (some are numbers the
    settings check); any other intrinsic gets a placeholder in the shape of its name (an ARN for *_ARN).
    """
    data = read_template(template)
    parameters = data.get("Parameters", {})
    globals_env = data.get("Globals", {}).get("Function", {}).get("Environment", {}).get("Variables", {})
    functions = []
    for logical_id, resource in data["Resources"].items():
        if resource.get("Type") != "AWS::Serverless::Function":
            continue
        properties = resource["Properties"]
        code_uri = properties.get("CodeUri")
        if not isinstance(code_uri, str) or not code_uri.startswith("functions/"):
            continue
        variables = {**globals_env, **properties.get("Environment", {}).get("Variables", {})}
        environment = {name: _dummy(name, value, parameters) for name, value in variables.items()}
        code_dir = template.parent / code_uri
        functions.append(Function(logical_id, code_dir.name, code_dir, environment))
    return sorted(functions, key=lambda function: function.name)


def _dummy(name: str, value: Any, parameters: dict[str, Any]) -> str:
    if not isinstance(value, Intrinsic):
        return str(value)
    if value.tag == "Ref" and value.value in parameters:
        return str(parameters[value.value].get("Default", ""))
    if name.endswith("_ARN"):
        return f"arn:aws:bench:us-east-1:123456789012:fmops-bench-{name.lower()}"
    if name.endswith("_URL"):
        return "https://fmops-bench.example.com/dev/"
    return f"fmops-bench-{name.lower().replace('_', '-')}"


def lambda_environment(scratch: Path, function: Function | None) -> dict[str, str]:
    """The environment Lambda would give the function (or a function without variables, for the baselines)."""
    environment = {
        "AWS_REGION": "us-east-1",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        # Lambda has no ~/.aws; nor do the children (nothing of the developer's is read).
        "AWS_CONFIG_FILE": str(scratch / "no-aws-config"),
        "AWS_SHARED_CREDENTIALS_FILE": str(scratch / "no-aws-credentials"),
        "AWS_EXECUTION_ENV": "AWS_Lambda_python3.12",
        "AWS_LAMBDA_FUNCTION_NAME": f"fmops-bench-{function.name if function else 'baseline'}",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "512",
        "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
        "LAMBDA_TASK_ROOT": str(function.code_dir if function else scratch),
        "_HANDLER": "app.handler",
        "LANG": "C.UTF-8",
        "TZ": ":UTC",
        "POWERTOOLS_SERVICE_NAME": "fmops",
        "POWERTOOLS_METRICS_NAMESPACE": "fmops",
    }
    if function is not None:
        environment.update(function.environment)
    environment["POWERTOOLS_TRACE_DISABLED"] = "true"  # no X-Ray daemon here
    return environment


def layer_distributions(requirements: Path = LAYER_DIR / "requirements.txt") -> list[importlib.metadata.Distribution]:
    """The installed distributions the layer's requirements pull in (extras and markers honoured)."""
    queue: deque[Requirement] = deque()
    for line in requirements.read_text().splitlines():
        line = line.split("#")[0].strip()
        if line:
            queue.append(Requirement(line))
    seen: dict[str, importlib.metadata.Distribution] = {}
    while queue:
        requirement = queue.popleft()
        name = canonicalize_name(requirement.name)
        if name in seen:
            continue
        distribution = importlib.metadata.distribution(requirement.name)
        seen[name] = distribution
        for text in distribution.requires or []:
            dependency = Requirement(text)
            extras = requirement.extras or {""}
            if dependency.marker is None or any(dependency.marker.evaluate({"extra": extra}) for extra in extras):
                queue.append(dependency)
    return list(seen.values())


def layer_site_packages(target: Path) -> Path:
    """A folder of symlinks to the layer's distributions only (their packages, modules and .dist-info)."""
    target.mkdir()
    for distribution in layer_distributions():
        tops = {str(file).split("/")[0] for file in distribution.files or []}
        for top in sorted(tops - {"..", "__pycache__"}):
            source = Path(str(distribution.locate_file(top)))
            if source.exists() and not (target / top).exists():
                (target / top).symlink_to(source)
    return target


# ------------------------------------------------------------------------------ the children
@dataclass(frozen=True)
class Child:
    """One kind of fresh interpreter: what it runs, with which sys.path and environment."""

    label: str
    statement: str
    front: tuple[str, ...]  # before the standard library
    back: tuple[str, ...]  # after it, where site-packages would be
    environment: dict[str, str]

    def _run(self, cwd: Path, flags: list[str]) -> subprocess.CompletedProcess[str]:
        config = {"front": self.front, "back": self.back, "statement": self.statement, "watch": ALWAYS_HEAVY}
        command = [sys.executable, "-I", "-S", *flags, "-c", _CHILD, json.dumps(config)]
        done = subprocess.run(command, cwd=cwd, env=self.environment, capture_output=True, text=True, timeout=120)
        if done.returncode != 0:
            error = done.stderr.strip().splitlines()[-1] if done.stderr.strip() else f"exit {done.returncode}"
            raise ChildFailed(f"{self.label}: {self.statement!r} failed: {error}")
        return done

    def sample(self, cwd: Path) -> dict[str, Any]:
        """One timed import: seconds, len(sys.modules), watched and Powertools utility modules loaded."""
        result: dict[str, Any] = json.loads(self._run(cwd, []).stdout.strip().splitlines()[-1])
        return result

    def importtime(self, cwd: Path) -> list[ImportLine]:
        return parse_importtime(self._run(cwd, ["-X", "importtime"]).stderr)


class ChildFailed(Exception):
    """A child exited with an error (the handler cannot be imported as Lambda would import it)."""


# ------------------------------------------------------------------------------ -X importtime
@dataclass
class ImportLine:
    """One line of `-X importtime`, with its importer (None: imported by the measured statement itself)."""

    self_us: int
    cumulative_us: int
    depth: int
    name: str
    parent: ImportLine | None = None


_IMPORTTIME = re.compile(r"^import time:\s+(\d+) \|\s+(\d+) \| (\s*)(\S+)$")


def parse_importtime(stderr: str) -> list[ImportLine]:
    """The lines after the child's marker, each linked to its importer.

    importtime prints a module after everything it imports (post-order), two spaces deeper per level,
    so a line's children are the pending lines one level deeper. A module imported again is not
    printed: its cost lands on whoever imported it first.
    """
    lines = stderr.splitlines()
    start = lines.index(_MARKER) + 1 if _MARKER in lines else 0
    parsed: list[ImportLine] = []
    pending: dict[int, list[ImportLine]] = {}
    for text in lines[start:]:
        match = _IMPORTTIME.match(text)
        if not match:
            continue
        line = ImportLine(int(match[1]), int(match[2]), len(match[3]) // 2, match[4])
        for child in pending.pop(line.depth + 1, []):
            child.parent = line
        pending.setdefault(line.depth, []).append(line)
        parsed.append(line)
    return parsed


def _is_fmops(name: str) -> bool:
    return name in ("app", "fmops") or name.startswith("fmops.")


def analyse_importtime(lines: list[ImportLine]) -> dict[str, Any]:
    """fmops' own self time; self time per top-level package; the costliest imports fmops' modules make."""
    by_package: dict[str, int] = {}
    for line in lines:
        package = line.name.split(".")[0]
        by_package[package] = by_package.get(package, 0) + line.self_us
    costly = sorted(
        (line for line in lines if line.parent and _is_fmops(line.parent.name) and not _is_fmops(line.name)),
        key=lambda line: -line.cumulative_us,
    )
    own = sorted((line for line in lines if _is_fmops(line.name)), key=lambda line: -line.self_us)
    return {
        "fmops_self_ms": sum(line.self_us for line in own) / 1000,
        "all_self_ms": sum(line.self_us for line in lines) / 1000,
        "self_ms_by_package": {
            package: us / 1000 for package, us in sorted(by_package.items(), key=lambda item: -item[1])[:15]
        },
        "fmops_own_modules": [{"module": line.name, "self_ms": line.self_us / 1000} for line in own[:10]],
        "costliest_imports_by_fmops": [
            {"importer": line.parent.name, "module": line.name, "cumulative_ms": line.cumulative_us / 1000}
            for line in costly[:10]
            if line.parent is not None
        ],
        "first_importer": {line.name: line.parent.name if line.parent else "(the statement)" for line in lines},
    }


# ------------------------------------------------------------------------------ heavy imports
def layer_powertools_utilities() -> set[str]:
    """The Powertools utilities some fmops module names, by a grep of the layer's source."""
    pattern = re.compile(re.escape(POWERTOOLS_UTILITIES) + r"\.(\w+)")
    found: set[str] = set()
    for path in (LAYER_DIR / "fmops").rglob("*.py"):
        found.update(pattern.findall(path.read_text()))
    return found


def handler_powertools_utilities(app: Path) -> set[str]:
    """The Powertools utilities the handler's app.py imports by name."""
    found: set[str] = set()
    prefix = POWERTOOLS_UTILITIES + "."
    for node in ast.walk(ast.parse(app.read_text())):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module:
            names = [node.module] + [f"{node.module}.{alias.name}" for alias in node.names]
        found.update(name[len(prefix) :].split(".")[0] for name in names if name.startswith(prefix))
    return found


def heavy_findings(
    function: Function, sample: dict[str, Any], first_importer: dict[str, str], layer_utilities: set[str]
) -> list[dict[str, str]]:
    """What the handler loads and does not use: the developer tools always; the Powertools utilities that
    neither its app.py nor any fmops module imports by name. A utility Powertools loads for itself
    (Logger needs jmespath_utils) is marked so: fmops cannot avoid it short of dropping the feature.
    """
    used = handler_powertools_utilities(function.code_dir / "app.py") | layer_utilities
    modules = list(sample["watched"])
    modules += [f"{POWERTOOLS_UTILITIES}.{name}" for name in sample["utilities"] if name not in used]
    findings = []
    for module in modules:
        importer = first_importer.get(module, "?")
        inside_powertools = importer.startswith(POWERTOOLS + ".") and not importer.startswith(module)
        cause = "loaded by Powertools itself" if inside_powertools else "avoidable"
        findings.append({"handler": function.name, "module": module, "first_imported_by": importer, "cause": cause})
    return findings


# ------------------------------------------------------------------------------ the benchmark
def run(size: Size) -> Section:
    functions = read_functions()
    rounds, importtime_runs = FULL_ROUNDS, FULL_IMPORTTIME_RUNS
    if size is Size.TINY:
        functions, rounds, importtime_runs = functions[:TINY_HANDLERS], TINY_ROUNDS, 1
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="fmops-bench-") as scratch_name:
        scratch = Path(scratch_name)
        site = (str(layer_site_packages(scratch / "site-packages")),)
        baselines = [
            Child(label, statement, (str(LAYER_DIR),), site, lambda_environment(scratch, None))
            for label, statement in BASELINES.items()
        ]
        handlers = {
            function.name: Child(
                function.name,
                "import app",
                (str(function.code_dir), str(LAYER_DIR)),
                site,
                lambda_environment(scratch, function),
            )
            for function in functions
        }
        samples: dict[str, list[dict[str, Any]]] = {child: [] for child in [*BASELINES, *handlers]}
        failures: dict[str, str] = {}
        for round_number in range(WARMUP_ROUNDS + rounds):
            for index, handler in enumerate(handlers.values()):
                # Each handler follows each baseline in turn, so both baselines see every part of a round.
                for child in (baselines[(index + round_number) % len(baselines)], handler):
                    if child.label in failures:
                        continue
                    try:
                        sample = child.sample(scratch)
                    except ChildFailed as failure:
                        if child in baselines:
                            raise
                        failures[child.label] = str(failure)
                        continue
                    if round_number >= WARMUP_ROUNDS:
                        samples[child.label].append(sample)
        # One -X importtime child is as noisy as any other: take the run with the median fmops self time.
        analyses: dict[str, list[dict[str, Any]]] = {name: [] for name in handlers if name not in failures}
        for _ in range(importtime_runs):
            for name, runs in analyses.items():
                runs.append(analyse_importtime(handlers[name].importtime(scratch)))
        importtimes = {name: _median_run(runs) for name, runs in analyses.items()}
    seconds = time.perf_counter() - started
    measurement = Measurement(size, functions, rounds, importtime_runs, samples, failures, importtimes, seconds)
    return measurement.section(layer_powertools_utilities())


def _median_run(runs: list[dict[str, Any]]) -> dict[str, Any]:
    ordered = sorted(runs, key=lambda run: float(run["fmops_self_ms"]))
    median = dict(ordered[len(ordered) // 2])
    median["fmops_self_ms_runs"] = [run["fmops_self_ms"] for run in runs]
    return median


def _ms(samples: list[dict[str, Any]]) -> list[float]:
    return [sample["seconds"] * 1000 for sample in samples]


@dataclass
class Measurement:
    size: Size
    functions: list[Function]
    rounds: int
    importtime_runs: int
    samples: dict[str, list[dict[str, Any]]]
    failures: dict[str, str]
    importtimes: dict[str, dict[str, Any]]
    seconds: float

    def section(self, layer_utilities: set[str]) -> Section:
        baselines = {
            label: {
                "statement": statement,
                "samples_ms": _ms(self.samples[label]),
                "ms": spread(_ms(self.samples[label])),
                "modules": self.samples[label][0]["modules"],
            }
            for label, statement in BASELINES.items()
        }
        reference = baselines[RATIO_BASELINE]["ms"]["median"]
        handlers: dict[str, dict[str, Any]] = {}
        findings: list[dict[str, str]] = []
        for function in self.functions:
            if function.name in self.failures:
                handlers[function.name] = {"error": self.failures[function.name]}
                continue
            runs = self.samples[function.name]
            analysis = self.importtimes[function.name]
            heavy = heavy_findings(function, runs[0], analysis["first_importer"], layer_utilities)
            findings += heavy
            timing = spread(_ms(runs))
            handlers[function.name] = {
                "samples_ms": _ms(runs),
                "ms": timing,
                "ratio_to_boto3_client": timing["median"] / reference,
                "modules": runs[0]["modules"],
                "powertools_utilities_loaded": runs[0]["utilities"],
                "heavy_unused": [finding["module"] for finding in heavy],
                "importtime": {key: value for key, value in analysis.items() if key != "first_importer"},
            }
        results = {
            "size": self.size.value,
            "python": sys.version.split()[0],
            "rounds": self.rounds,
            "warmup_rounds": WARMUP_ROUNDS,
            "importtime_runs": self.importtime_runs,
            "seconds": self.seconds,
            "baselines": baselines,
            "handlers": handlers,
            "heavy_findings": findings,
            "layer_powertools_utilities": sorted(layer_utilities),
        }
        return Section(
            key="cold_import",
            title="Cold import of every handler",
            method=(
                "Each handler's `import app` timed with perf_counter (interpreter start-up excluded) in a "
                "fresh `python -I -S` whose sys.path holds only the function's folder, layers/fmops and "
                "the layer's requirements (the venv's copies; no other package is importable), with a "
                f"Lambda-like environment. {self.rounds} rounds after {WARMUP_ROUNDS} warm-up; each handler "
                "runs right after one of two baselines in turn: `pass` and "
                '`import boto3; boto3.client("s3")`. Ratio: the handler\'s median over the boto3 '
                "baseline's median in the same run. fmops' own time: the self time of `app`, `fmops` and "
                f"`fmops.*` under `-X importtime`, the median of {self.importtime_runs} children per handler; "
                "the costliest imports are what fmops' modules import first, cumulative. Heavy modules: "
                "moto, samcli and the fmops developer tools anywhere; a Powertools utility neither app.py "
                "nor the layer names. "
                f"Python {results['python']} (Lambda runs 3.12)."
            ),
            results=results,
            figures=_figures(handlers, baselines, findings),
            details_markdown=_details(handlers, baselines, findings, self.seconds),
        )


def _own_ms(handler: dict[str, Any]) -> float:
    own: float = handler["importtime"]["fmops_self_ms"]
    return own


def _figures(
    handlers: dict[str, dict[str, Any]], baselines: dict[str, dict[str, Any]], findings: list[dict[str, str]]
) -> list[Figure]:
    measured = {name: handler for name, handler in handlers.items() if "error" not in handler}
    failed = sorted(set(handlers) - set(measured))
    within = [name for name, handler in measured.items() if handler["ratio_to_boto3_client"] <= RATIO_TARGET]
    small = [name for name, handler in measured.items() if _own_ms(handler) <= FMOPS_SELF_TARGET_MS]
    avoidable = sorted({f"{f['handler']}: {f['module']}" for f in findings if f["cause"] == "avoidable"})
    powertools = sorted({f["module"] for f in findings if f["cause"] != "avoidable"})
    heavy = "none found" if not avoidable else f"{len(avoidable)}: " + "; ".join(avoidable)
    if powertools:
        heavy += f" (besides {', '.join(powertools)}, which Powertools loads for itself)"
    everyone = f"{len(handlers)} of {len(handlers)}"
    figures = [
        Figure("`pass` floor (the timer alone)", f"{baselines['pass']['ms']['median']:.3f} ms"),
        Figure('`import boto3; boto3.client("s3")` baseline', f"{baselines[RATIO_BASELINE]['ms']['median']:.0f} ms"),
        Figure(
            f"handlers within {RATIO_TARGET}x of the boto3+client baseline",
            f"{len(within)} of {len(handlers)}",
            everyone,
            len(within) == len(handlers),
        ),
        Figure(
            f"handlers with fmops' own modules <= {FMOPS_SELF_TARGET_MS:.0f} ms",
            f"{len(small)} of {len(handlers)}",
            everyone,
            len(small) == len(handlers),
        ),
        Figure("heavy modules imported where unused", heavy, "none", not avoidable),
    ]
    if failed:
        figures.append(Figure("handlers that cannot be imported as Lambda would", ", ".join(failed), "none", False))
    for name, handler in measured.items():
        ratio = handler["ratio_to_boto3_client"]
        figures.append(
            Figure(
                f"{name}: cold import / boto3+client baseline",
                f"{ratio:.2f}x ({handler['ms']['median']:.0f} ms)",
                f"<= {RATIO_TARGET}x",
                ratio <= RATIO_TARGET,
            )
        )
        figures.append(
            Figure(
                f"{name}: fmops' own modules",
                f"{_own_ms(handler):.1f} ms",
                f"<= {FMOPS_SELF_TARGET_MS:.0f} ms",
                _own_ms(handler) <= FMOPS_SELF_TARGET_MS,
            )
        )
    return figures


def _details(
    handlers: dict[str, dict[str, Any]],
    baselines: dict[str, dict[str, Any]],
    findings: list[dict[str, str]],
    seconds: float,
) -> str:
    def timing(ms: dict[str, float]) -> list[str]:
        return [f"{ms['median']:.1f}", f"{ms['iqr']:.1f}", f"{ms['min']:.1f} to {ms['max']:.1f}"]

    header = ["import", "median ms", "IQR ms", "min to max ms", f"/ boto3+client (<= {RATIO_TARGET}x)", "modules"]
    header += [f"fmops' own ms (<= {FMOPS_SELF_TARGET_MS:.0f})", "fmops' share of all import self time"]
    rows = []
    for baseline in baselines.values():
        rows.append([f"`{baseline['statement']}`", *timing(baseline["ms"]), "", str(baseline["modules"]), "", ""])
    causes = []
    for name, handler in handlers.items():
        if "error" in handler:
            rows.append([name, handler["error"], "", "", "", "", "", ""])
            continue
        ratio = handler["ratio_to_boto3_client"]
        own = _own_ms(handler)
        analysis = handler["importtime"]
        rows.append(
            [
                name,
                *timing(handler["ms"]),
                f"{ratio:.2f}x {'✓' if ratio <= RATIO_TARGET else '✗'}",
                str(handler["modules"]),
                f"{own:.1f} {'✓' if own <= FMOPS_SELF_TARGET_MS else '✗'}",
                f"{own / analysis['all_self_ms']:.0%}",
            ]
        )
        own_modules = ", ".join(f"{m['module']} {m['self_ms']:.0f}" for m in analysis["fmops_own_modules"][:4])
        costliest = ", ".join(
            f"{edge['module']} {edge['cumulative_ms']:.0f} (in {edge['importer']})"
            for edge in analysis["costliest_imports_by_fmops"][:4]
        )
        causes.append([name, own_modules, costliest])
    parts = [markdown_table(header, rows)]
    parts.append(
        "Where the time goes, from the `-X importtime` child with the median fmops' own time (few "
        "runs: read the order, not the digits). fmops' own: self ms of its slowest modules (module "
        "bodies: class and pydantic model creation). Costliest imports: cumulative ms of what is "
        "first imported while an fmops module (or app) is being imported, with that module."
    )
    parts.append(
        markdown_table(["handler", "fmops' own modules (self ms)", "costliest imports (cumulative ms)"], causes)
    )
    by_package: dict[str, list[float]] = {}
    for handler in handlers.values():
        for package, ms in handler.get("importtime", {}).get("self_ms_by_package", {}).items():
            by_package.setdefault(package, []).append(ms)
    if by_package:
        medians = sorted(((statistics.median(ms), package) for package, ms in by_package.items()), reverse=True)
        parts.append(
            "Self time by top-level package, median over the handlers (packages in a handler's top 15):\n\n"
            + markdown_table(["package", "self ms"], [[package, f"{ms:.0f}"] for ms, package in medians[:12]])
        )
    if findings:
        parts.append(
            markdown_table(
                ["handler", "heavy module loaded, unused", "first imported by", "cause"],
                [[f["handler"], f["module"], f["first_imported_by"], f["cause"]] for f in findings],
            )
        )
    else:
        parts.append("Heavy modules imported where unused: none found.")
    parts.append(f"Measured in {seconds:.0f} s.")
    return "\n\n".join(parts)


def section_markdown(section: Section) -> str:
    """The section as results.md shows it: title, method, figures, details."""
    met = {True: "✓", False: "✗", None: ""}
    figures = markdown_table(
        ["figure", "value", "target", "met"],
        [[figure.name, figure.value, figure.target, met[figure.met]] for figure in section.figures],
    )
    return "\n\n".join([f"## {section.title}", section.method, figures, section.details_markdown])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tiny", action="store_true", help="the quick run the tests use")
    parser.add_argument("--json", type=Path, help="also write the section's JSON (every sample) here")
    args = parser.parse_args()
    section = run(Size.TINY if args.tiny else Size.FULL)
    if args.json:
        args.json.write_text(json.dumps(section.as_json(), indent=2) + "\n")
    print(section_markdown(section))


if __name__ == "__main__":
    main()
