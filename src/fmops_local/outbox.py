"""The local cloud's outbox: every e-mail its SES accepts is also written to a file people can open.

moto's SES keeps sent messages in memory, inside the local cloud's process, where nobody running
`fmops local up` can read them (nor the links in them). Here each accepted message is also written
once per recipient (To, Cc, Bcc) as `<outbox>/<UTC timestamp>-<n>-<recipient>.eml`: an RFC 5322
message (From, To, Cc, Subject, Date, Message-ID; a text/plain UTF-8 body, 8-bit when its lines
allow, so links stay whole for `cat`). Open it with any mail reader. n counts messages since the
local cloud started; the recipient part keeps only letters, digits and `@._+-`, and no `..`.

Simple sends (SES v1 SendEmail, v2 Simple content) and raw ones (v1 SendRawEmail, v2 Raw content,
written as sent, with Message-ID and Date added when missing) are written; templated sends are
not (moto does not render templates). A message that cannot be written is logged, and the send
still succeeds: the outbox is a window, not a part of SES.
"""

from __future__ import annotations

import itertools
import logging
import os
import re
import threading
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import format_datetime, parseaddr
from pathlib import Path
from typing import Any

from moto.ses.models import Message, RawMessage, SESBackend

from fmops_local.patching import Patcher

LOG = logging.getLogger(__name__)

_UNSAFE = re.compile(r"[^A-Za-z0-9@._+-]")
_DOTS = re.compile(r"\.{2,}")
_MAX_RECIPIENT_CHARS = 100
_MAX_LINE_OCTETS = 998  # RFC 5322 2.1.1: longer lines need an encoding


class Outbox:
    def __init__(self, directory: Path, clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        self.directory = directory
        self._clock = clock
        self._numbers = itertools.count(1)
        self._lock = threading.Lock()

    def write(self, message: Message | RawMessage) -> list[Path]:
        """Write one file per recipient of an accepted message; returns their paths."""
        with self._lock:
            number = next(self._numbers)
        sent_at = self._clock().astimezone(UTC)
        if isinstance(message, RawMessage):
            content = _raw(message, sent_at)
            recipients = _addresses(message.destinations)
        else:
            content = _simple(message, sent_at)
            recipients = _addresses(address for addresses in message.destinations.values() for address in addresses)
        self.directory.mkdir(parents=True, exist_ok=True)
        stamp = sent_at.strftime("%Y%m%dT%H%M%S.%fZ")
        return [self._put(f"{stamp}-{number:04d}-{safe_recipient(recipient)}.eml", content) for recipient in recipients]

    def _put(self, name: str, content: bytes) -> Path:
        path = self.directory / name
        if path.parent != self.directory:  # safe_recipient leaves no separator; checked all the same
            raise ValueError(f"unsafe outbox file name {name!r}")
        # Written aside, then renamed: a mail reader never opens half a message.
        partial = self.directory / f".{name}.partial"
        partial.write_bytes(content)
        os.replace(partial, path)
        return path


def safe_recipient(address: str) -> str:
    """An address as a file-name part: its addr-spec, unsafe characters as `_`, no `..`, at most 100 characters."""
    addr_spec = parseaddr(address)[1] or address
    safe = _DOTS.sub(".", _UNSAFE.sub("_", addr_spec)).strip(".")
    return safe[:_MAX_RECIPIENT_CHARS] or "unknown"


def install(patcher: Patcher, outbox: Outbox) -> None:
    """Wrap moto.ses.models.SESBackend.send_email and .send_raw_email (moto 5.2.5), which SES v2 calls too."""

    def make(original: Any) -> Any:
        def send(backend: SESBackend, *args: Any, **kwargs: Any) -> Any:
            message = original(backend, *args, **kwargs)  # refused messages raise here and are not written
            try:
                outbox.write(message)
            except Exception:
                LOG.exception("could not write an e-mail to the outbox directory=%s", outbox.directory)
            return message

        return send

    patcher.wrap(SESBackend, "send_email", make)
    patcher.wrap(SESBackend, "send_raw_email", make)


def _addresses(addresses: Iterable[str]) -> list[str]:
    """Each recipient once, in order."""
    return list(dict.fromkeys(address for address in addresses if address))


def _message_id(ses_id: str) -> str:
    return f"<{ses_id}@email.amazonses.com>"  # as SES writes it


def _simple(message: Message, sent_at: datetime) -> bytes:
    destinations = message.destinations
    mail = EmailMessage()
    mail["From"] = message.source
    if destinations.get("ToAddresses"):
        mail["To"] = ", ".join(destinations["ToAddresses"])
    if destinations.get("CcAddresses"):
        mail["Cc"] = ", ".join(destinations["CcAddresses"])
    mail["Subject"] = " ".join(str(message.subject).splitlines())
    mail["Date"] = format_datetime(sent_at)
    mail["Message-ID"] = _message_id(message.id)
    body = str(message.body)
    mail.set_content(body, subtype="plain", charset="utf-8", cte=_transfer_encoding(body))
    return mail.as_bytes()


def _transfer_encoding(body: str) -> str:
    if any(len(line) > _MAX_LINE_OCTETS for line in body.encode().splitlines()):
        return "quoted-printable"
    return "7bit" if body.isascii() else "8bit"


def _raw(message: RawMessage, sent_at: datetime) -> bytes:
    raw = str(message.raw_data)
    headers = re.split(r"\r?\n\r?\n", raw, maxsplit=1)[0]
    present = {
        line.split(":", 1)[0].strip().lower()
        for line in headers.splitlines()
        if ":" in line and not line[:1].isspace()  # not a folded continuation
    }
    missing = []
    if "message-id" not in present:
        missing.append(f"Message-ID: {_message_id(message.id)}")
    if "date" not in present:
        missing.append(f"Date: {format_datetime(sent_at)}")
    newline = "\r\n" if "\r\n" in headers else "\n"
    return "".join(f"{line}{newline}" for line in missing).encode() + raw.encode()
