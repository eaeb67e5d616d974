"""The local cloud runs Slack approvals offline: a Slack stub, its token and a signing secret in Secrets Manager.

One local cloud from the real template.yaml for the module: the functions' SlackApiUrl and channel
point at the stub, the secrets the template declares without a value have one, and the layer's
adapters reach the stub exactly as a function does (token from Secrets Manager, then the Web API).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretBytes

from fmops.adapters.secrets import SecretsManagerSecrets
from fmops.adapters.slack import SlackRefused, SlackWebApi
from fmops.approvals.slack_interaction import reject_reason_modal
from fmops_local import LocalCloud
from fmops_local.cloud import LOCAL_SLACK_CHANNEL

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
APPROVAL_ID = "apr_01JD6Z3K8Q4W2N5M7P9R1T3V5X"
# An API Gateway URL of any API: https://<api id>.execute-api.<region>.amazonaws.com[/<stage>]
EXECUTE_API = re.compile(r"https://[a-z0-9]+\.execute-api\.[a-z0-9-]+\.amazonaws\.com")


@pytest.fixture(scope="module")
def cloud(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalCloud]:
    state_dir = tmp_path_factory.mktemp("state")
    with LocalCloud(project_root=ROOT, port=0, state_dir=state_dir, retry_delay_s=0.05) as running:
        yield running


@pytest.fixture(scope="module")
def secretsmanager(cloud: LocalCloud) -> Any:
    return cloud.session().client("secretsmanager", endpoint_url=cloud.endpoint_url)


@pytest.fixture(scope="module")
def declared(cloud: LocalCloud) -> set[str]:
    """The template's parameters and resources (the Slack ones arrive with the approvals wiring)."""
    from samcli.commands._utils.template import get_template_data

    template = get_template_data(str(ROOT / "template.yaml"))
    return set(template.get("Parameters", {})) | set(template.get("Resources", {}))


@pytest.fixture
def slack_wired(declared: set[str]) -> None:
    missing = {"SlackApiUrl", "SlackApprovalChannel", "SlackBotToken", "SlackSigningSecret"} - declared
    if missing:
        pytest.skip(f"template.yaml does not declare {sorted(missing)} yet")


def functions_with(cloud: LocalCloud, variable: str) -> dict[str, str]:
    environments = cloud.function_environments().items()
    return {logical_id: environment[variable] for logical_id, environment in environments if variable in environment}


def test_the_functions_slack_api_url_and_channel_point_at_the_stub(cloud: LocalCloud, slack_wired: None) -> None:
    # Given the template's SlackApiUrl and SlackApprovalChannel, which the local cloud overrides
    urls = functions_with(cloud, "SLACK_API_URL")
    channels = functions_with(cloud, "SLACK_APPROVAL_CHANNEL")

    # Then every function that talks to Slack talks to the stub, in its approvals channel
    assert urls
    assert set(urls.values()) == {cloud.slack.base_url}
    assert set(channels.values()) <= {LOCAL_SLACK_CHANNEL}


def test_a_function_reaches_the_stub_with_the_token_from_secrets_manager(
    cloud: LocalCloud, secretsmanager: Any, slack_wired: None
) -> None:
    # Given the bot token as a function reads it: its ARN, then Secrets Manager through the layer's adapter
    token_arn = cloud.ref("SlackBotToken")
    secrets = SecretsManagerSecrets(secretsmanager)
    api = SlackWebApi(lambda: secrets.get(token_arn), cloud.slack.base_url)

    # When the approvals channel gets a message, its update, a modal and an ephemeral note
    ts = api.post(LOCAL_SLACK_CHANNEL, "Approval requested", [{"type": "divider"}])
    api.update(LOCAL_SLACK_CHANNEL, ts, "Approved", [])
    api.open_modal("1388105719492.1379717998065.9bc1", reject_reason_modal(APPROVAL_ID, "sentiment/1.0.1", "prod"))
    api.post_ephemeral(LOCAL_SLACK_CHANNEL, "U01AZ88AQQ4", "Recorded.")

    # Then the stub accepted the token and holds each of them
    message = next(m for m in cloud.slack.messages(LOCAL_SLACK_CHANNEL) if m.ts == ts)
    assert (message.text, message.updated) == ("Approved", True)
    assert any(view.view["private_metadata"] == APPROVAL_ID for view in cloud.slack.views())
    assert [m.text for m in cloud.slack.ephemeral_messages(LOCAL_SLACK_CHANNEL, "U01AZ88AQQ4")] == ["Recorded."]


def test_the_stub_refuses_any_other_token(cloud: LocalCloud, slack_wired: None) -> None:
    api = SlackWebApi(lambda: SecretBytes(b"xoxb-not-the-local-token"), cloud.slack.base_url)

    with pytest.raises(SlackRefused, match="invalid_auth"):
        api.post(LOCAL_SLACK_CHANNEL, "hi", [])


def test_the_signing_secret_is_set_random_and_readable_for_signing_requests(
    cloud: LocalCloud, secretsmanager: Any, slack_wired: None
) -> None:
    secret = cloud.slack_signing_secret()

    assert re.fullmatch(r"[0-9a-f]{64}", secret)
    stored = secretsmanager.get_secret_value(SecretId=cloud.ref("SlackSigningSecret"))["SecretString"]
    assert stored == secret
    # It is not the bot token (the deployer's random value was replaced by a fresh one)
    token = secretsmanager.get_secret_value(SecretId=cloud.ref("SlackBotToken"))["SecretString"]
    assert token.startswith("xoxb-local-")
    assert secret != token


def test_the_link_signing_key_has_a_generated_value(cloud: LocalCloud, secretsmanager: Any, declared: set[str]) -> None:
    if "LinkSigningKey" not in declared:
        pytest.skip("template.yaml has no LinkSigningKey")

    key = secretsmanager.get_secret_value(SecretId=cloud.ref("LinkSigningKey"))["SecretString"]

    # GenerateSecretString: 64 characters without punctuation
    assert re.fullmatch(r"[A-Za-z0-9]{64}", key)


def test_no_function_is_given_an_api_gateway_url_it_cannot_reach(cloud: LocalCloud) -> None:
    # Given every function's environment
    environments = cloud.function_environments()
    assert environments

    # Then no variable holds an execute-api URL: the stack's own APIs point at the local API server
    unreachable = {
        f"{logical_id}.{key}": value
        for logical_id, environment in environments.items()
        for key, value in environment.items()
        if EXECUTE_API.search(value)
    }
    assert unreachable == {}


def test_a_url_of_the_stacks_api_in_a_function_environment_is_the_local_api_servers(cloud: LocalCloud) -> None:
    pages = functions_with(cloud, "APPROVAL_PAGE_URL")
    if not pages:
        pytest.skip("no function has APPROVAL_PAGE_URL yet")

    # The stage prefix goes too: the local API server serves routes at its root, as outputs say
    assert set(pages.values()) == {cloud.outputs["ApiBaseUrl"]}


def test_outputs_keep_their_meaning(cloud: LocalCloud) -> None:
    outputs = cloud.outputs

    assert outputs["AwsEndpointUrl"] == cloud.endpoint_url
    assert outputs["ApiBaseUrl"].startswith("http://127.0.0.1:")
    assert outputs["AuditApiUrl"] == outputs["ApiBaseUrl"]
    assert not any(isinstance(value, str) and EXECUTE_API.search(value) for value in outputs.values())
    # The Slack stub is the local cloud's, not the stack's: it is not an output
    assert cloud.slack.base_url not in outputs.values()
