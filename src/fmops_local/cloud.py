"""LocalCloud: template.yaml running on moto, with real handlers, on one machine, without Docker."""

from __future__ import annotations

import json
import logging
import re
import secrets
import signal
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from types import FrameType, TracebackType
from typing import Any

import boto3
from botocore.exceptions import ClientError
from moto.ses.models import Message, ses_backends
from samcli.commands._utils.template import get_template_data

from fmops_local import dynamodb, events, outbox, sagemaker_endpoints, sagemaker_events, stepfunctions
from fmops_local import template as sam_template
from fmops_local.api import ApiServer
from fmops_local.deploy import Deployer, Deployment
from fmops_local.destinations import Destinations
from fmops_local.lambda_runtime import Invocation, LambdaRuntime, install_invoke_hook
from fmops_local.patching import Patcher
from fmops_local.schedules import LocalSchedules, Schedule
from fmops_local.server import ACCESS_KEY_ID, ACCOUNT_ID, REGION, SECRET_ACCESS_KEY, MotoServer, new_session
from fmops_local.slack_stub import SlackStub
from fmops_local.workers import sandbox_environment

LOG = logging.getLogger(__name__)

# moto's backends are module globals: two local clouds in one process would share them.
_ACTIVE = threading.Lock()

# The approvals channel of the local Slack stub (a channel id, as Slack's API takes them).
LOCAL_SLACK_CHANNEL = "C0FMOPSAPPROVALS"
# Template parameters and secrets the local cloud fills in so that Slack approvals work offline.
_SLACK_API_URL_PARAMETER = "SlackApiUrl"
_SLACK_CHANNEL_PARAMETER = "SlackApprovalChannel"
# Local endpoints are in service at once; only a deployment queued behind another one waits, briefly.
_DEPLOYMENT_POLL_PARAMETER = "DeploymentPollSeconds"
LOCAL_DEPLOYMENT_POLL_SECONDS = "1"
_SLACK_BOT_TOKEN_SECRET = "SlackBotToken"  # pragma: allowlist secret (a logical id)
_SLACK_SIGNING_SECRET = "SlackSigningSecret"  # pragma: allowlist secret (a logical id)
_LINK_SIGNING_KEY_SECRET = "LinkSigningKey"  # pragma: allowlist secret (a logical id)


@dataclass(frozen=True)
class SentEmail:
    """An e-mail that SES accepted in the local cloud (nothing leaves the machine)."""

    source: str
    to: list[str]
    subject: str
    body: str


class LocalCloud:
    """Deploys template.yaml into an in-process moto server and runs its functions in warm worker processes.

    Slack is a local stub (`slack`): the template's SlackApiUrl and SlackApprovalChannel point at it,
    SlackBotToken holds its token and SlackSigningSecret a random value (`slack_signing_secret()`).
    Every e-mail SES accepts is also written to `outbox_dir` (outbox.py). With fire_schedules, the
    template's `rate(...)` schedule rules fire on their own (schedules.py; `cron(...)` ones do not).

    >>> with LocalCloud(project_root=Path("."), port=0) as cloud:
    ...     s3 = cloud.session().client("s3", endpoint_url=cloud.endpoint_url)
    """

    def __init__(
        self,
        project_root: Path,
        port: int = 4566,
        state_dir: Path = Path(".fmops/local"),
        *,
        template: Path = Path("template.yaml"),
        stack_name: str = "fmops",
        parameter_overrides: dict[str, str] | None = None,
        api_port: int | None = None,
        retry_delay_s: float = 1.0,
        fire_schedules: bool = False,
    ) -> None:
        """
        state_dir and template are relative to project_root unless absolute.
        api_port defaults to port + 1 (any free port when port is 0).
        retry_delay_s is the first backoff of asynchronous retries (AWS: about a minute), doubled each retry.
        fire_schedules: fire every schedule rule with a `rate(...)` expression at its rate, the first
        tick one interval after start (off by default: tests drive their own ticks).
        """
        self.project_root = project_root.resolve()
        self.state_dir = self.project_root / state_dir
        self._template_path = self.project_root / template
        self._stack_name = stack_name
        self._parameter_overrides = dict(parameter_overrides or {})
        self._api_port = api_port if api_port is not None else (port + 1 if port else 0)
        self._retry_delay_s = retry_delay_s
        self._fire_schedules = fire_schedules
        self._schedules: LocalSchedules | None = None
        self._server = MotoServer(port)
        self._patcher = Patcher()
        self._runtime: LambdaRuntime | None = None
        self._api: ApiServer | None = None
        self._deployment: Deployment | None = None
        self._environments: dict[str, dict[str, str]] = {}
        self._outputs: dict[str, Any] = {}
        self._owns_process = False
        # A fresh fake bot token per local cloud; it reaches the functions only through Secrets Manager.
        self._slack_token = f"xoxb-local-{secrets.token_hex(16)}"
        self._slack = SlackStub(token=self._slack_token, channels={LOCAL_SLACK_CHANNEL})
        self._slack_token_local = False

    # ------------------------------------------------------------------ lifecycle
    def __enter__(self) -> LocalCloud:
        self.start()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self.stop()

    def start(self) -> None:
        if not _ACTIVE.acquire(blocking=False):
            raise RuntimeError("another LocalCloud is running in this process (moto's state is process-wide)")
        self._owns_process = True
        try:
            started = time.perf_counter()
            self._server.start()
            self._slack.start()
            template = sam_template.load(self._template_path, self._slack_overrides(), REGION)
            session = self.session()
            self._deployment = Deployer(
                template, session, self.endpoint_url, self._stack_name, REGION, ACCOUNT_ID
            ).deploy()
            self._put_local_secrets(session)
            self._install_runtime(session, template)
            self._outputs = self._resolve_outputs()
            self._write_outputs()
            if self._schedules is not None:
                self._schedules.start()
            LOG.info("local cloud ready endpoint=%s seconds=%.1f", self.endpoint_url, time.perf_counter() - started)
        except BaseException:
            self.stop()
            raise

    def stop(self) -> None:
        if not self._owns_process:
            return
        try:
            if self._schedules is not None:
                self._schedules.stop()
                self._schedules = None
            if self._api is not None:
                self._api.stop()
                self._api = None
            if self._runtime is not None:
                self._runtime.stop()
                self._runtime = None
            self._slack.stop()
            self._patcher.restore()
            self._server.stop()
            # Present only while the local cloud runs: a stale endpoint would mislead the CLI.
            (self.state_dir / "outputs.json").unlink(missing_ok=True)
        finally:
            self._owns_process = False
            _ACTIVE.release()

    def _slack_overrides(self) -> dict[str, str]:
        """The caller's overrides, plus the Slack stub's URL and channel and a short deployment poll where the
        template declares them.

        Read before the template is loaded: samcli and the translator are given only parameters the
        template declares. A caller's own SlackApiUrl (a real workspace) wins, and then no stub token is put.
        """
        declared = get_template_data(str(self._template_path)).get("Parameters") or {}
        overrides = dict(self._parameter_overrides)
        local = {
            _SLACK_API_URL_PARAMETER: self._slack.base_url,
            _SLACK_CHANNEL_PARAMETER: LOCAL_SLACK_CHANNEL,
            _DEPLOYMENT_POLL_PARAMETER: LOCAL_DEPLOYMENT_POLL_SECONDS,
        }
        for name, value in local.items():
            if name in declared:
                overrides.setdefault(name, value)
        self._slack_token_local = overrides.get(_SLACK_API_URL_PARAMETER) == self._slack.base_url
        return overrides

    def _put_local_secrets(self, session: boto3.Session) -> None:
        """Values an operator would put after a deploy: the stub's bot token, a signing secret, a link key.

        A secret created without a value has none in AWS; the local deployer gives every secret a
        random one. Either way, what the functions read here is what the stub and tests expect.
        """
        secretsmanager = session.client("secretsmanager", endpoint_url=self.endpoint_url)
        resources = self._require_deployment().resources

        def secret(logical_id: str) -> str | None:
            resource = resources.get(logical_id)
            return str(resource.ref) if resource and resource.type == "AWS::SecretsManager::Secret" else None

        if (token_id := secret(_SLACK_BOT_TOKEN_SECRET)) and self._slack_token_local:
            secretsmanager.put_secret_value(SecretId=token_id, SecretString=self._slack_token)
        if signing_id := secret(_SLACK_SIGNING_SECRET):
            secretsmanager.put_secret_value(SecretId=signing_id, SecretString=secrets.token_hex(32))
        # The deployer honours GenerateSecretString; this only covers a template that drops it.
        if (link_id := secret(_LINK_SIGNING_KEY_SECRET)) and not _secret_value(secretsmanager, link_id):
            secretsmanager.put_secret_value(SecretId=link_id, SecretString=secrets.token_hex(32))

    def _install_runtime(self, session: boto3.Session, template: sam_template.SamTemplate) -> None:
        assert self._deployment is not None
        destinations = Destinations(session, self.endpoint_url)
        functions = self._deployment.functions
        environments = {
            logical_id: sandbox_environment(spec, self.endpoint_url, REGION, ACCESS_KEY_ID, SECRET_ACCESS_KEY)
            for logical_id, spec in functions.items()
        }
        self._runtime = LambdaRuntime(
            functions, environments, self.state_dir / "logs", destinations, self._retry_delay_s
        )
        if template.routes:
            self._api = ApiServer(template.routes, functions, self._runtime, self._api_port, ACCOUNT_ID)
            # A variable holding this stack's API URL (links in e-mails and Slack messages) must reach
            # the local API server, as outputs do. Its port is bound only now, after the runtime took
            # the environments; workers start on their first invocation, so nothing has copied them
            # yet and they are rewritten in place.
            for environment in environments.values():
                environment.update({key: self._local_api_url(value) for key, value in environment.items()})
            self._api.start()
        self._environments = environments
        install_invoke_hook(self._patcher, self._runtime)
        delivery = events.TargetDelivery(self._runtime, destinations, session, self.endpoint_url)
        events.install_event_delivery(self._patcher, delivery)
        if self._fire_schedules:
            self._schedules = LocalSchedules(delivery, ACCOUNT_ID, REGION)
        self.outbox_dir.mkdir(parents=True, exist_ok=True)
        outbox.install(self._patcher, outbox.Outbox(self.outbox_dir))
        stepfunctions.install_execution_names(self._patcher)
        stepfunctions.install_task_failure_causes(self._patcher)
        sagemaker_events.install(self._patcher)
        sagemaker_endpoints.install(self._patcher)
        dynamodb.install(self._patcher)

    def _resolve_outputs(self) -> dict[str, Any]:
        assert self._deployment is not None
        outputs = dict(self._deployment.outputs)
        outputs["AwsEndpointUrl"] = self.endpoint_url
        outputs["AwsRegion"] = REGION
        if self._api is not None:
            outputs["ApiBaseUrl"] = self._api.base_url
            outputs = {key: self._local_api_url(value) for key, value in outputs.items()}
        return outputs

    def _local_api_url(self, value: Any) -> Any:
        """https://<api id>.execute-api.<region>.amazonaws.com/<stage>/... -> the local API server's URL."""
        assert self._deployment is not None and self._api is not None
        if not isinstance(value, str):
            return value
        resources = self._deployment.resources.values()
        api_ids = [r.ref for r in resources if r.type in ("AWS::ApiGateway::RestApi", "AWS::ApiGatewayV2::Api")]
        stages = [r.attributes["StageName"] for r in resources if "StageName" in r.attributes]
        for api_id in api_ids:
            stage = "|".join(re.escape(name) for name in stages)
            pattern = rf"https://{re.escape(api_id)}\.execute-api\.[a-z0-9-]+\.amazonaws\.com(?:/(?:{stage})(?=/|$))?"
            value = re.sub(pattern, self._api.base_url, value)
        return value

    def _write_outputs(self) -> None:
        self.state_dir.mkdir(parents=True, exist_ok=True)
        (self.state_dir / "outputs.json").write_text(json.dumps(self._outputs, indent=2, sort_keys=True) + "\n")

    # ------------------------------------------------------------------ public API
    @property
    def endpoint_url(self) -> str:
        return self._server.endpoint_url

    @property
    def outbox_dir(self) -> Path:
        """Where every e-mail SES accepts is also written, one .eml file per recipient (outbox.py)."""
        return self.state_dir / "outbox"

    @property
    def schedules(self) -> list[Schedule]:
        """The schedule rules being fired (empty unless fire_schedules)."""
        return list(self._schedules.schedules) if self._schedules is not None else []

    @property
    def slack(self) -> SlackStub:
        """The local Slack Web API the functions post to (the SlackApiUrl parameter), with what they sent."""
        return self._slack

    def slack_signing_secret(self) -> str:
        """The Slack signing secret the functions verify requests with, to sign requests as Slack does."""
        secret_id = self.ref(_SLACK_SIGNING_SECRET)
        secretsmanager = self.session().client("secretsmanager", endpoint_url=self.endpoint_url)
        value = _secret_value(secretsmanager, secret_id)
        if not value:
            raise RuntimeError(f"{_SLACK_SIGNING_SECRET} has no value in the local cloud")
        return value

    def function_environments(self) -> dict[str, dict[str, str]]:
        """Each function's whole environment, by logical id, as its worker process gets it."""
        self._require_runtime()
        return {logical_id: dict(environment) for logical_id, environment in self._environments.items()}

    @property
    def outputs(self) -> dict[str, Any]:
        """The template's Outputs, resolved, plus AwsEndpointUrl, AwsRegion and ApiBaseUrl (when there are routes)."""
        return dict(self._outputs)

    def session(self) -> boto3.Session:
        """A boto3 session with the local cloud's fake credentials and region; pass endpoint_url to its clients."""
        return new_session()

    def ref(self, logical_id: str) -> Any:
        """What {"Ref": logical_id} resolved to (a physical name, ARN or URL)."""
        return self._require_deployment().resources[logical_id].ref

    def get_att(self, logical_id: str, attribute: str) -> Any:
        return self._require_deployment().resources[logical_id].attributes[attribute]

    def invocations(self, function_logical_id: str) -> list[Invocation]:
        """Every invocation of the function so far (cold starts, durations, errors, retries)."""
        return self._require_runtime().invocations(function_logical_id)

    def sent_emails(self) -> list[SentEmail]:
        """E-mails sent through SES (API v1 SendEmail or v2 simple content) so far, oldest first.

        moto's SES backend keeps them in memory, in this process (server.py): API v2 shares v1's backend.
        Raw and templated sends are not included. Each is also in outbox_dir, as a file.
        """
        self._require_deployment()
        backend = ses_backends[ACCOUNT_ID][REGION]
        return [
            SentEmail(
                source=message.source,
                to=list(message.destinations.get("ToAddresses", [])),
                subject=message.subject,
                body=message.body,
            )
            for message in list(backend.sent_messages)
            if isinstance(message, Message)
        ]

    def wait_until_idle(self, timeout: float = 60) -> None:
        """Block until no async invocation is queued, running or waiting for a retry and no execution is RUNNING.

        Executions parked on a task token count as idle: only an outside
        SendTaskSuccess/Failure can move them. Raises TimeoutError naming what is still busy.
        """
        runtime = self._require_runtime()
        deadline = time.monotonic() + timeout
        quiet_polls = 0
        while True:
            busy = runtime.busy() + stepfunctions.busy_executions(ACCOUNT_ID, REGION)
            # Two quiet polls in a row: a handler's last put_events may still be on its way.
            quiet_polls = 0 if busy else quiet_polls + 1
            if quiet_polls >= 2:
                return
            if time.monotonic() > deadline:
                raise TimeoutError(f"local cloud still busy after {timeout}s: " + "; ".join(busy))
            time.sleep(0.05)

    def _require_runtime(self) -> LambdaRuntime:
        if self._runtime is None:
            raise RuntimeError("the local cloud is not running")
        return self._runtime

    def _require_deployment(self) -> Deployment:
        if self._deployment is None:
            raise RuntimeError("the local cloud is not running")
        return self._deployment


def _secret_value(secretsmanager: Any, secret_id: str) -> str | None:
    try:
        return str(secretsmanager.get_secret_value(SecretId=secret_id).get("SecretString") or "") or None
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") == "ResourceNotFoundException":
            return None
        raise


def run_foreground(project_root: Path, port: int = 4566) -> None:
    """`fmops local up`: start the local cloud, schedules firing, print its outputs; run until Ctrl-C (or SIGTERM)."""
    if not logging.getLogger().handlers:
        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    previous = signal.signal(signal.SIGTERM, on_signal)
    try:
        with LocalCloud(project_root=project_root, port=port, fire_schedules=True) as cloud:
            print(json.dumps(cloud.outputs, indent=2, sort_keys=True))
            print(f"Outputs written to {cloud.state_dir / 'outputs.json'}")
            print(f"E-mails sent through SES are written to {cloud.outbox_dir}/ (one .eml file per recipient)")
            for schedule in cloud.schedules:
                print(f"Schedule {schedule.rule_name}: {schedule.expression}")
            print("Local cloud ready (Ctrl-C stops it)", flush=True)
            try:
                while not stop.wait(0.5):
                    pass
            except KeyboardInterrupt:
                pass
            print("Stopping the local cloud...", flush=True)
    finally:
        signal.signal(signal.SIGTERM, previous)
