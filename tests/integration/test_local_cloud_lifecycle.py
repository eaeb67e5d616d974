"""Worker processes live and die like Lambda sandboxes: cold start, timeout, broken code, shutdown."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

import pytest

from fmops_local import LocalCloud

pytestmark = pytest.mark.integration

TEMPLATE = """
AWSTemplateFormatVersion: "2010-09-09"
Transform: AWS::Serverless-2016-10-31
Globals:
  Function:
    Runtime: python3.12
    Handler: app.handler
    Timeout: 1
Resources:
  SleepyFunction:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: functions/sleepy
  BrokenFunction:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: functions/broken
"""

SLEEPY = """
import os
import time


def handler(event, context):
    time.sleep(event.get("sleep", 0))
    return {"pid": os.getpid()}
"""

BROKEN = """
import module_that_does_not_exist


def handler(event, context):
    return {}
"""

# Runs in a child process that dies without cleaning up, to show its workers follow it.
ORPHANING_SCRIPT = """
import json, os, sys
from pathlib import Path
from fmops_local import LocalCloud

cloud = LocalCloud(project_root=Path(sys.argv[1]), port=0)
cloud.start()
client = cloud.session().client("lambda", endpoint_url=cloud.endpoint_url)
response = client.invoke(FunctionName=cloud.ref("SleepyFunction"), Payload=b"{}")
print(json.loads(response["Payload"].read())["pid"], flush=True)
os._exit(1)
"""


def write_project(root: Path) -> Path:
    (root / "template.yaml").write_text(TEMPLATE)
    for name, code in {"sleepy": SLEEPY, "broken": BROKEN}.items():
        (root / "functions" / name).mkdir(parents=True)
        (root / "functions" / name / "app.py").write_text(textwrap.dedent(code))
    return root


def invoke(cloud: LocalCloud, logical_id: str, event: dict[str, Any]) -> tuple[str | None, dict[str, Any]]:
    client = cloud.session().client("lambda", endpoint_url=cloud.endpoint_url)
    response = client.invoke(FunctionName=cloud.ref(logical_id), Payload=json.dumps(event).encode())
    return response.get("FunctionError"), json.loads(response["Payload"].read())


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return Path(f"/proc/{pid}").exists() and "zombie" not in Path(f"/proc/{pid}/status").read_text()


def test_workers_stay_warm_time_out_and_end_with_the_cloud(tmp_path: Path) -> None:
    project = write_project(tmp_path)
    with LocalCloud(project_root=project, port=0) as cloud:
        # A warm worker serves the second invocation
        _, first = invoke(cloud, "SleepyFunction", {})
        _, second = invoke(cloud, "SleepyFunction", {})
        assert first["pid"] == second["pid"]
        assert [i.cold_start for i in cloud.invocations("SleepyFunction")] == [True, False]

        # A handler running past the template Timeout is stopped, and the next call starts a new sandbox
        error, payload = invoke(cloud, "SleepyFunction", {"sleep": 5})
        assert error == "Unhandled"
        assert payload["errorType"] == "Sandbox.Timedout"
        assert not alive(first["pid"])
        _, after = invoke(cloud, "SleepyFunction", {})
        assert after["pid"] != first["pid"]
        assert cloud.invocations("SleepyFunction")[-1].cold_start

        # Code that cannot be imported fails like Lambda's runtime does
        error, payload = invoke(cloud, "BrokenFunction", {})
        assert error == "Unhandled"
        assert payload["errorType"] == "Runtime.ImportModuleError"
        assert "module_that_does_not_exist" in payload["errorMessage"]
        assert (cloud.state_dir / "outputs.json").exists()

    # Leaving the context ends every worker and removes the outputs of a cloud that is gone
    assert not alive(after["pid"])
    assert not (cloud.state_dir / "outputs.json").exists()


def test_workers_exit_when_the_parent_dies(tmp_path: Path) -> None:
    project = write_project(tmp_path)
    environment = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in sys.path if p)}
    parent = subprocess.run(
        [sys.executable, "-c", ORPHANING_SCRIPT, str(project)],
        capture_output=True,
        text=True,
        timeout=60,
        env=environment,
    )
    worker_pid = int(parent.stdout.strip().splitlines()[-1])
    deadline = time.monotonic() + 10
    while alive(worker_pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not alive(worker_pid)
