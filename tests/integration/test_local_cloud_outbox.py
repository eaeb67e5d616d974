"""Every e-mail the local cloud's SES accepts is also a .eml file in <state_dir>/outbox/, one per recipient."""

from __future__ import annotations

import email
import re
from collections.abc import Iterator
from email import policy
from email.message import EmailMessage
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any

import pytest

from fmops.adapters.ses import NotificationRefused, SesNotifier
from fmops_local import LocalCloud
from fmops_local.cloud import SentEmail
from fmops_local.outbox import safe_recipient

pytestmark = pytest.mark.integration

SENDER = "fmops-notifications@example.com"
FILE_NAME = re.compile(r"^(\d{8}T\d{6}\.\d{6}Z)-(\d{4})-(.+)\.eml$")

TEMPLATE = """
AWSTemplateFormatVersion: "2010-09-09"
Transform: AWS::Serverless-2016-10-31
Resources:
  NotificationSenderIdentity:
    Type: AWS::SES::EmailIdentity
    Properties:
      EmailIdentity: fmops-notifications@example.com
"""


@pytest.fixture(scope="module")
def cloud(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalCloud]:
    project = tmp_path_factory.mktemp("project")
    (project / "template.yaml").write_text(TEMPLATE)
    with LocalCloud(project_root=project, port=0) as running:
        yield running


@pytest.fixture(scope="module")
def aws(cloud: LocalCloud) -> Any:
    session = cloud.session()
    return lambda service: session.client(service, endpoint_url=cloud.endpoint_url)


def outbox(cloud: LocalCloud) -> set[Path]:
    return set(cloud.outbox_dir.iterdir())


def parse(path: Path) -> EmailMessage:
    message = email.message_from_bytes(path.read_bytes(), policy=policy.default)
    assert isinstance(message, EmailMessage)
    return message


def test_the_outbox_is_in_the_state_dir_from_the_start(cloud: LocalCloud) -> None:
    assert cloud.outbox_dir == cloud.state_dir / "outbox"
    assert cloud.outbox_dir.is_dir()


def test_an_approval_email_is_a_readable_eml_file_for_its_recipient(cloud: LocalCloud, aws: Any) -> None:
    # Given an e-mail with a non-ASCII subject and a link longer than a mail line is usually wrapped at
    before = outbox(cloud)
    link = "http://127.0.0.1:4567/approvals/decide?token=" + "x" * 400
    text = f"Ana Ortiz, please review sentiment/1.4.0 (risk: médio).\n\nOpen: {link}\n"

    # When the notifier sends it through SES v2, as the functions do
    SesNotifier(SENDER, aws("sesv2")).send("ana.ortiz@example.com", "[fmops] Approve sentiment/1.4.0 — dev", text)

    # Then SES keeps it as before
    assert cloud.sent_emails()[-1] == SentEmail(
        source=SENDER, to=["ana.ortiz@example.com"], subject="[fmops] Approve sentiment/1.4.0 — dev", body=text
    )
    # And one file is in the outbox, named by time, number and recipient
    [path] = outbox(cloud) - before
    match = FILE_NAME.match(path.name)
    assert match is not None and match[3] == "ana.ortiz@example.com"
    # And it is an RFC 5322 message with the headers a mail reader shows and the exact text
    message = parse(path)
    assert message["From"] == SENDER
    assert message["To"] == "ana.ortiz@example.com"
    assert message["Subject"] == "[fmops] Approve sentiment/1.4.0 — dev"
    assert parsedate_to_datetime(message["Date"]).utcoffset() is not None
    assert re.fullmatch(r"<[^@<>]+@email\.amazonses\.com>", message["Message-ID"])
    assert message.get_content_type() == "text/plain"
    assert message.get_content_charset() == "utf-8"
    assert message.get_content() == text
    # And the link is whole in the file itself, for `cat` and copy-paste
    assert link.encode() in path.read_bytes()


def test_each_recipient_gets_a_file_and_bcc_stays_hidden(cloud: LocalCloud, aws: Any) -> None:
    before = outbox(cloud)

    # When one message goes to To, Cc and Bcc recipients through SES v1
    aws("ses").send_email(
        Source=SENDER,
        Destination={
            "ToAddresses": ["ana.ortiz@example.com", "ben.okafor@example.com"],
            "CcAddresses": ["chen.wei@example.com"],
            "BccAddresses": ["audit@example.com"],
        },
        Message={"Subject": {"Data": "[fmops] escalation"}, "Body": {"Text": {"Data": "Please decide.\n"}}},
    )

    # Then each recipient has a file of the same message (same time and number)
    new = sorted(outbox(cloud) - before)
    names = [FILE_NAME.match(path.name) for path in new]
    assert all(names)
    assert sorted(name[3] for name in names if name) == [
        "ana.ortiz@example.com",
        "audit@example.com",
        "ben.okafor@example.com",
        "chen.wei@example.com",
    ]
    assert len({(name[1], name[2]) for name in names if name}) == 1
    # And every copy shows To and Cc, never Bcc
    for path in new:
        message = parse(path)
        assert message["To"] == "ana.ortiz@example.com, ben.okafor@example.com"
        assert message["Cc"] == "chen.wei@example.com"
        assert message["Bcc"] is None


def test_messages_are_numbered_in_the_order_they_were_sent(cloud: LocalCloud, aws: Any) -> None:
    before = outbox(cloud)
    notifier = SesNotifier(SENDER, aws("sesv2"))
    for subject in ("first", "second", "third"):
        notifier.send("ben.okafor@example.com", subject, "body\n")

    new = sorted(outbox(cloud) - before)  # by name: the newest is last
    assert [parse(path)["Subject"] for path in new] == ["first", "second", "third"]
    numbers = [int(match[2]) for path in new if (match := FILE_NAME.match(path.name))]
    assert numbers == sorted(numbers) and len(set(numbers)) == 3


def test_a_refused_email_is_not_in_the_outbox(cloud: LocalCloud, aws: Any) -> None:
    before = outbox(cloud)

    with pytest.raises(NotificationRefused, match="MessageRejected"):
        SesNotifier("someone-else@example.com", aws("sesv2")).send("ana.ortiz@example.com", "s", "t")

    assert outbox(cloud) == before


@pytest.mark.parametrize(
    "recipient",
    ["../../escaped@example.com", "..\\..\\escaped@example.com", '"Eve" <a/../../b/escaped@example.com>'],
)
def test_a_recipient_cannot_put_a_file_outside_the_outbox(cloud: LocalCloud, aws: Any, recipient: str) -> None:
    # Given a recipient address that SES (moto) accepts but that looks like a path
    before = outbox(cloud)

    # When an e-mail is sent to it
    SesNotifier(SENDER, aws("sesv2")).send(recipient, "path", "body\n")

    # Then its file is directly in the outbox, with nothing but safe characters in its name
    [path] = outbox(cloud) - before
    assert path.parent == cloud.outbox_dir
    assert re.fullmatch(r"[A-Za-z0-9@._+-]+", path.name) and ".." not in path.name
    assert not list(cloud.project_root.parent.rglob("escaped@example.com*"))


def test_safe_recipient_keeps_an_address_readable() -> None:
    assert safe_recipient("ana.ortiz@example.com") == "ana.ortiz@example.com"
    assert safe_recipient('"Ana Ortiz" <ana.ortiz+fmops@example.com>') == "ana.ortiz+fmops@example.com"
    assert safe_recipient("../../x@evil.example") == "_._x@evil.example"
    assert safe_recipient("..") == "unknown"
    assert len(safe_recipient("a" * 300 + "@example.com")) == 100


def test_a_raw_email_is_written_as_sent_with_a_message_id(cloud: LocalCloud, aws: Any) -> None:
    before = outbox(cloud)
    raw = (
        f"From: {SENDER}\r\nTo: dara.novak@example.com\r\nSubject: raw\r\n"
        "Content-Type: text/plain; charset=utf-8\r\n\r\nraw body\r\n"
    )

    aws("sesv2").send_email(FromEmailAddress=SENDER, Content={"Raw": {"Data": raw.encode()}})

    [path] = outbox(cloud) - before
    assert path.name.endswith("-dara.novak@example.com.eml")
    content = path.read_bytes()
    assert content.endswith(raw.encode())
    message = parse(path)
    assert message["Subject"] == "raw"
    assert message["Message-ID"].endswith("@email.amazonses.com>")
    assert message["Date"]
