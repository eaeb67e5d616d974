"""E-mail through Amazon SES (API v2). The sender must be a verified SES identity (the template
declares it as AWS::SES::EmailIdentity); in the SES sandbox, recipients must be verified too."""

from typing import Any

from botocore.exceptions import ClientError

from fmops.adapters import client, error_code

# SES refused this message for a reason a retry will not fix (an unverified identity, a paused
# or suspended account): it still raises, so the event ends in the on-failure queue with the reason.
_REFUSALS = frozenset(
    {
        "MessageRejected",
        "MailFromDomainNotVerifiedException",
        "AccountSuspendedException",
        "SendingPausedException",
        "NotFoundException",
        "BadRequestException",
    }
)


class NotificationRefused(RuntimeError):
    """SES refused the message (not a transient failure); an operator has to act."""


class SesNotifier:
    def __init__(self, sender: str, sesv2: Any = None) -> None:
        self._sender = sender
        self._sesv2 = sesv2

    def send(self, to: str, subject: str, text: str) -> None:
        sesv2 = self._sesv2 or client("sesv2")
        try:
            sesv2.send_email(
                FromEmailAddress=self._sender,
                Destination={"ToAddresses": [to]},
                Content={
                    "Simple": {
                        "Subject": {"Data": subject, "Charset": "UTF-8"},
                        "Body": {"Text": {"Data": text, "Charset": "UTF-8"}},
                    }
                },
            )
        except ClientError as error:
            # Throttling and 5xx were already retried by the client; they propagate as they are.
            code = error_code(error)
            if code in _REFUSALS:
                raise NotificationRefused(f"SES refused the e-mail ({code})") from error
            raise
