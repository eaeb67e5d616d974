"""Slack request signatures, e-mailed approval links and their CSRF tokens, with frozen clocks."""

from __future__ import annotations

import base64
import hashlib
import json
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qsl, quote, urlencode

import pytest
from pydantic import SecretBytes, ValidationError

from fmops.approvals.csrf import CsrfRefusal, CsrfRefusalCode, CsrfValid, csrf_token, verify_csrf
from fmops.approvals.links import (
    IssuedLink,
    LinkRecord,
    LinkRefusal,
    LinkRefusalCode,
    LinkVerified,
    consume,
    issue_link,
    link_id_of,
    verify_link,
)
from fmops.approvals.slack_signature import (
    SlackRefusal,
    SlackRefusalCode,
    SlackVerified,
    slack_replay_key,
    slack_signature,
    verify_slack_request,
)

# ------------------------------------------------------------------------------ Slack's published example

# From Slack's "Verifying requests from Slack": public documentation values, not a real secret.
SLACK_DOC_SECRET = SecretBytes(b"8f742231b10e8888abcd99yyyzzz85a5")  # pragma: allowlist secret (Slack's doc example)
SLACK_DOC_TIMESTAMP = "1531420618"
SLACK_DOC_BODY = (
    b"token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J"  # pragma: allowlist secret (Slack docs' example)
    b"&team_domain=testteamnow&channel_id=G8PSS9T3V&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner&command=%2Fwebhook-collect&text="
    b"&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN"
    b"&trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c"
)
SLACK_DOC_SIGNATURE = (
    "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503"  # pragma: allowlist secret (Slack docs)
)
SLACK_DOC_NOW = datetime.fromtimestamp(int(SLACK_DOC_TIMESTAMP), UTC)

# ------------------------------------------------------------------------------ our own test values

SIGNING_SECRET = SecretBytes(b"test-signing-secret-not-a-real-one")  # pragma: allowlist secret (test key)
OTHER_SECRET = SecretBytes(b"another-test-signing-secret-value")  # pragma: allowlist secret (test key)
CSRF_KEY = SecretBytes(b"test-csrf-key-0123456789abcdef-0123456789")  # pragma: allowlist secret (test key)
OTHER_CSRF_KEY = SecretBytes(b"other-csrf-key-0123456789abcdef-012345678")  # pragma: allowlist secret (test key)
NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
APPROVAL_ID = "apr_01JD6Z3K8Q4W2N5M7P9R1T3V5X"
OTHER_APPROVAL_ID = "apr_01JD6Z3K8Q4W2N5M7P9R1T3V5Y"
APPROVER = "rita.reviewer"
EXPIRES_AT = NOW + timedelta(days=2)


def doc_headers(**changes: str) -> dict[str, str]:
    headers = {"X-Slack-Request-Timestamp": SLACK_DOC_TIMESTAMP, "X-Slack-Signature": SLACK_DOC_SIGNATURE}
    headers.update(changes)
    return headers


def verify_doc_example(
    at: datetime = SLACK_DOC_NOW, headers: dict[str, str] | None = None, body: bytes = SLACK_DOC_BODY
) -> SlackVerified | SlackRefusal:
    return verify_slack_request(
        headers=doc_headers() if headers is None else headers, body=body, signing_secret=SLACK_DOC_SECRET, now=at
    )


def interaction_body(payload: dict[str, Any], **dumps: Any) -> bytes:
    """An interactivity request body: form-encoded `payload=<JSON>`, as Slack posts button clicks."""
    return urlencode({"payload": json.dumps(payload, **dumps)}).encode("ascii")


def signed(body: bytes, at: datetime = NOW) -> dict[str, str]:
    timestamp = str(int(at.timestamp()))
    return {
        "x-slack-request-timestamp": timestamp,
        "x-slack-signature": slack_signature(SIGNING_SECRET, timestamp, body),
    }


def verify_ours(body: bytes, headers: dict[str, str], at: datetime = NOW) -> SlackVerified | SlackRefusal:
    return verify_slack_request(headers=headers, body=body, signing_secret=SIGNING_SECRET, now=at)


def refusal_code(result: SlackVerified | SlackRefusal) -> SlackRefusalCode:
    assert isinstance(result, SlackRefusal), result
    return result.code


CLICK: dict[str, Any] = {"type": "block_actions", "user": {"id": "U2CERLKJA"}, "actions": [{"value": APPROVAL_ID}]}


# ------------------------------------------------------------------------------ Slack signature


def test_slacks_published_example_verifies_at_its_timestamp() -> None:
    # Given Slack's published request, secret and signature, and a clock frozen at its timestamp
    # When it is verified
    result = verify_doc_example()

    # Then it is genuine, and our signer reproduces Slack's signature byte for byte
    assert isinstance(result, SlackVerified)
    assert result.request_timestamp == int(SLACK_DOC_TIMESTAMP)
    assert slack_signature(SLACK_DOC_SECRET, SLACK_DOC_TIMESTAMP, SLACK_DOC_BODY) == SLACK_DOC_SIGNATURE


def test_slacks_published_example_is_stale_five_minutes_and_one_second_later() -> None:
    # Given the clock 5 minutes after the timestamp, and then one second more
    at_limit = verify_doc_example(at=SLACK_DOC_NOW + timedelta(minutes=5))
    too_late = verify_doc_example(at=SLACK_DOC_NOW + timedelta(minutes=5, seconds=1))

    # Then 5 minutes is still fresh and 5 minutes 1 second is not
    assert isinstance(at_limit, SlackVerified)
    assert refusal_code(too_late) is SlackRefusalCode.STALE_TIMESTAMP


def test_a_timestamp_more_than_five_minutes_in_the_future_is_refused() -> None:
    # Given our clock is behind the sender's by 5 minutes, then by 5 minutes and 1 second
    at_limit = verify_doc_example(at=SLACK_DOC_NOW - timedelta(minutes=5))
    too_early = verify_doc_example(at=SLACK_DOC_NOW - timedelta(minutes=5, seconds=1))

    # Then a captured request cannot be given a longer life by dating it ahead
    assert isinstance(at_limit, SlackVerified)
    assert refusal_code(too_early) is SlackRefusalCode.FUTURE_TIMESTAMP


@pytest.mark.parametrize(
    "headers",
    [
        {"X-Slack-Signature": SLACK_DOC_SIGNATURE},
        {"X-Slack-Request-Timestamp": SLACK_DOC_TIMESTAMP},
        {},
        {"X-Slack-Request-Timestamp": "", "X-Slack-Signature": SLACK_DOC_SIGNATURE},
        {"X-Slack-Request-Timestamp": SLACK_DOC_TIMESTAMP, "X-Slack-Signature": ""},
    ],
    ids=["no-timestamp", "no-signature", "no-headers", "empty-timestamp", "empty-signature"],
)
def test_missing_or_empty_headers_are_refused(headers: dict[str, str]) -> None:
    assert refusal_code(verify_doc_example(headers=headers)) is SlackRefusalCode.MISSING_HEADERS


def test_header_names_match_in_any_case_as_api_gateway_may_lower_case_them() -> None:
    headers = {"x-slack-request-timestamp": SLACK_DOC_TIMESTAMP, "X-SLACK-SIGNATURE": SLACK_DOC_SIGNATURE}

    assert isinstance(verify_doc_example(headers=headers), SlackVerified)


@pytest.mark.parametrize(
    "timestamp",
    ["now", "1531420618.0", "+1531420618", " 1531420618", "-1531420618", "١٥٣١٤٢٠٦١٨", "1" * 40],
    ids=["word", "fraction", "plus-sign", "space", "negative", "arabic-indic-digits", "huge"],
)
def test_a_timestamp_that_is_not_plain_ascii_digits_is_refused(timestamp: str) -> None:
    # Given a timestamp int() might accept but that is not what Slack sends
    result = verify_doc_example(headers=doc_headers(**{"X-Slack-Request-Timestamp": timestamp}))

    # Then it is refused before any arithmetic or HMAC on it
    assert refusal_code(result) is SlackRefusalCode.BAD_TIMESTAMP


@pytest.mark.parametrize(
    "signature",
    [
        SLACK_DOC_SIGNATURE[:-1] + "4",  # one hex digit changed
        SLACK_DOC_SIGNATURE.upper(),
        "v1=" + SLACK_DOC_SIGNATURE.removeprefix("v0="),  # an unknown scheme version
        SLACK_DOC_SIGNATURE.removeprefix("v0="),
        "v0=é" + SLACK_DOC_SIGNATURE[4:],  # non-ASCII must be refused, not crash compare_digest
        SLACK_DOC_SIGNATURE + "," + SLACK_DOC_SIGNATURE,  # a repeated header joined by a proxy
    ],
    ids=["one-digit", "upper-case", "v1", "no-version", "non-ascii", "joined-duplicate"],
)
def test_a_signature_that_does_not_match_is_refused(signature: str) -> None:
    result = verify_doc_example(headers=doc_headers(**{"X-Slack-Signature": signature}))

    assert refusal_code(result) is SlackRefusalCode.BAD_SIGNATURE


def test_a_request_signed_with_another_secret_is_refused() -> None:
    body = interaction_body(CLICK)
    timestamp = str(int(NOW.timestamp()))
    forged = {
        "x-slack-request-timestamp": timestamp,
        "x-slack-signature": slack_signature(OTHER_SECRET, timestamp, body),
    }

    assert refusal_code(verify_ours(body, forged)) is SlackRefusalCode.BAD_SIGNATURE


def test_a_body_re_serialised_with_other_whitespace_is_refused() -> None:
    # Given a button click Slack signed, and the same payload re-serialised by a body parser
    raw = interaction_body(CLICK)
    headers = signed(raw)
    reserialised = interaction_body(CLICK, separators=(",", ":"))
    assert json.loads(dict(parse_qsl(reserialised.decode()))["payload"]) == CLICK  # same meaning

    # When each is verified against Slack's headers
    # Then only the raw bytes pass: the signature is over bytes, not over meaning
    assert isinstance(verify_ours(raw, headers), SlackVerified)
    assert refusal_code(verify_ours(reserialised, headers)) is SlackRefusalCode.BAD_SIGNATURE


def test_the_published_body_parsed_and_re_encoded_is_refused() -> None:
    # Given Slack's form body parsed and re-encoded leaving "/" and ":" unescaped: same fields, other bytes
    fields = parse_qsl(SLACK_DOC_BODY.decode(), keep_blank_values=True)
    reencoded = urlencode(fields, safe="/:").encode()
    assert parse_qsl(reencoded.decode(), keep_blank_values=True) == fields and reencoded != SLACK_DOC_BODY

    assert refusal_code(verify_doc_example(body=reencoded)) is SlackRefusalCode.BAD_SIGNATURE


def test_a_body_given_as_text_instead_of_raw_bytes_is_a_programming_error() -> None:
    with pytest.raises(TypeError, match="raw request bytes"):
        verify_slack_request(
            headers=doc_headers(),
            body=SLACK_DOC_BODY.decode(),  # type: ignore[arg-type]
            signing_secret=SLACK_DOC_SECRET,
            now=SLACK_DOC_NOW,
        )


def test_an_empty_signing_secret_is_a_configuration_error_not_an_open_door() -> None:
    # An empty HMAC key is public: anyone could sign with it.
    with pytest.raises(ValueError, match="empty"):
        verify_slack_request(headers=doc_headers(), body=SLACK_DOC_BODY, signing_secret=SecretBytes(b""), now=NOW)


def test_a_naive_clock_is_a_programming_error() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        verify_doc_example(at=SLACK_DOC_NOW.replace(tzinfo=None))


def test_the_replay_key_is_equal_for_the_same_request_and_different_for_another() -> None:
    # Given one click verified twice (a replay), and a second click a second later
    body = interaction_body(CLICK)
    first = verify_ours(body, signed(body))
    replayed = verify_ours(body, signed(body), at=NOW + timedelta(seconds=30))
    later_at = NOW + timedelta(seconds=1)
    other_body = interaction_body({**CLICK, "action_ts": "1"})
    another = verify_ours(other_body, signed(other_body, at=later_at), at=later_at)
    same_body_later = verify_ours(body, signed(body, at=later_at), at=later_at)

    # Then the replay has the same key, and any other signed request (body or time) another key
    assert isinstance(first, SlackVerified) and isinstance(replayed, SlackVerified)
    assert isinstance(another, SlackVerified) and isinstance(same_body_later, SlackVerified)
    assert replayed.replay_key == first.replay_key
    assert len({first.replay_key, another.replay_key, same_body_later.replay_key}) == 3
    assert first.replay_key == slack_replay_key(
        signed(body)["x-slack-request-timestamp"], signed(body)["x-slack-signature"]
    )


def test_the_replay_key_outlives_the_window_in_which_the_request_verifies() -> None:
    result = verify_doc_example()

    # The request stops verifying 5 minutes after its timestamp; its key lives one minute longer.
    assert isinstance(result, SlackVerified)
    assert result.replay_expires_at == SLACK_DOC_NOW + timedelta(minutes=6)


def test_a_replayed_request_loses_the_conditional_put_of_its_replay_key() -> None:
    # Given the adapter's store of seen keys (an in-memory stand-in for a put with attribute_not_exists)
    seen: set[str] = set()

    def claim(key: str) -> bool:
        if key in seen:
            return False
        seen.add(key)
        return True

    body = interaction_body(CLICK)
    headers = signed(body)

    # When the same signed request arrives twice within its window
    first, again = verify_ours(body, headers), verify_ours(body, headers, at=NOW + timedelta(minutes=1))

    # Then both verify, but only the first claims its key: the second is refused as a replay
    assert isinstance(first, SlackVerified) and isinstance(again, SlackVerified)
    assert claim(first.replay_key) is True
    assert claim(again.replay_key) is False


# ------------------------------------------------------------------------------ e-mail links


def issue(approver_id: str = APPROVER, approval_id: str = APPROVAL_ID) -> IssuedLink:
    return issue_link(approval_id=approval_id, approver_id=approver_id, issued_at=NOW, expires_at=EXPIRES_AT)


def check(
    token: str,
    record: LinkRecord | None,
    *,
    at: datetime = NOW + timedelta(hours=1),
    approver_id: str = APPROVER,
    approval_id: str = APPROVAL_ID,
) -> LinkVerified | LinkRefusal:
    return verify_link(token, record, approval_id=approval_id, approver_id=approver_id, now=at)


def link_refusal(result: LinkVerified | LinkRefusal) -> LinkRefusalCode:
    assert isinstance(result, LinkRefusal), result
    return result.code


def flip(token: str, index: int) -> str:
    """The token with one character replaced by another URL-safe character."""
    replacement = "A" if token[index] != "A" else "B"
    return token[:index] + replacement + token[index + 1 :]


def test_an_issued_link_verifies_for_its_approver_and_approval() -> None:
    # Given a link issued to Rita for one approval
    issued = issue()
    token = issued.token.get_secret_value()

    # When she presents it before it expires
    result = check(token, issued.record)

    # Then it is accepted, naming what it was issued for
    assert isinstance(result, LinkVerified)
    assert result.record.approval_id == APPROVAL_ID and result.record.approver_id == APPROVER
    assert link_id_of(token) == issued.record.link_id


def test_a_link_with_one_character_of_its_secret_changed_is_tampered() -> None:
    # Given a real link whose secret part had one character changed
    issued = issue()
    token = issued.token.get_secret_value()
    altered = flip(token, len(token) - 5)

    # When it is presented (it still finds the record by its unchanged link id)
    assert link_id_of(altered) == issued.record.link_id
    result = check(altered, issued.record)

    # Then it is refused as tampered
    assert link_refusal(result) is LinkRefusalCode.TAMPERED


@pytest.mark.parametrize("cut", [1, 20], ids=["last-char", "line-wrapped"])
def test_a_truncated_or_malformed_link_is_tampered(cut: int) -> None:
    issued = issue()
    token = issued.token.get_secret_value()

    assert link_id_of(token[:-cut]) is None
    assert link_refusal(check(token[:-cut], issued.record)) is LinkRefusalCode.TAMPERED
    assert link_refusal(check("", issued.record)) is LinkRefusalCode.TAMPERED
    assert link_refusal(check(token + "é", issued.record)) is LinkRefusalCode.TAMPERED


def test_a_link_nobody_stored_is_unknown() -> None:
    # Given a token whose link id changed, so that the lookup finds no record
    issued = issue()
    altered = flip(issued.token.get_secret_value(), 0)

    # Then it is unknown, and so is a record stored under another key (an adapter mix-up fails closed)
    assert link_refusal(check(altered, None)) is LinkRefusalCode.UNKNOWN_LINK
    assert link_refusal(check(altered, issued.record)) is LinkRefusalCode.UNKNOWN_LINK


def test_a_link_expires_exactly_at_its_expiry() -> None:
    issued = issue()
    token = issued.token.get_secret_value()

    just_before = check(token, issued.record, at=EXPIRES_AT - timedelta(microseconds=1))
    at_expiry = check(token, issued.record, at=EXPIRES_AT)

    assert isinstance(just_before, LinkVerified)
    assert link_refusal(at_expiry) is LinkRefusalCode.EXPIRED


def test_a_used_link_is_refused_and_cannot_be_consumed_twice() -> None:
    # Given a link that was used for a decision
    issued = issue()
    used = consume(issued.record, NOW + timedelta(hours=1))

    # When it is presented again
    result = check(issued.token.get_secret_value(), used, at=NOW + timedelta(hours=2))

    # Then it is refused as already used, and consuming it again is a bug
    assert link_refusal(result) is LinkRefusalCode.ALREADY_USED
    assert used.used_at == NOW + timedelta(hours=1) and issued.record.used_at is None
    with pytest.raises(ValueError, match="used once"):
        consume(used, NOW + timedelta(hours=2))


def test_a_link_is_not_a_credential_for_another_approver_or_another_approval() -> None:
    issued = issue()
    token = issued.token.get_secret_value()

    as_someone_else = check(token, issued.record, approver_id="rob.reviewer")
    for_another_approval = check(token, issued.record, approval_id=OTHER_APPROVAL_ID)

    assert link_refusal(as_someone_else) is LinkRefusalCode.NOT_YOURS
    assert link_refusal(for_another_approval) is LinkRefusalCode.NOT_YOURS


def test_link_tokens_carry_256_random_bits_and_are_url_safe() -> None:
    tokens = [issue().token.get_secret_value() for _ in range(200)]

    for token in tokens:
        _, verifier = token.split(".")
        # 43 base64url characters decode to exactly 32 bytes: 256 bits from secrets.token_urlsafe
        assert len(base64.urlsafe_b64decode(verifier + "=")) == 32
        assert quote(token, safe="") == token  # nothing to escape in a path or query
    assert len(set(tokens)) == len(tokens)


def test_the_stored_record_never_contains_the_raw_token() -> None:
    # Given a freshly issued link
    issued = issue()
    token = issued.token.get_secret_value()
    verifier = token.split(".")[1]

    # Then the record holds the verifier's SHA-256 only, and the token is masked wherever it is shown
    stored = issued.record.model_dump_json()
    assert verifier not in stored and token not in stored
    assert issued.record.verifier_sha256 == hashlib.sha256(verifier.encode()).hexdigest()
    for shown in (repr(issued), str(issued), issued.model_dump_json()):
        assert verifier not in shown


def test_a_link_must_expire_after_it_is_issued_and_name_an_opaque_approval_id() -> None:
    with pytest.raises(ValidationError, match="expires_at must be after issued_at"):
        issue_link(approval_id=APPROVAL_ID, approver_id=APPROVER, issued_at=NOW, expires_at=NOW)
    # A Step Functions task token is hundreds of characters: it cannot pass for an approval id.
    with pytest.raises(ValidationError, match="approval_id"):
        issue(approval_id="AQCEAAAAKgAAAAMAAAAAAAAAAS3cr3tT4skT0k3n" * 20)


# ------------------------------------------------------------------------------ CSRF


def test_the_pages_csrf_token_is_accepted_with_its_link() -> None:
    # Given the page rendered for a link embeds its CSRF token
    record = issue().record
    token = csrf_token(CSRF_KEY, record)

    # When the form posts it back
    result = verify_csrf(CSRF_KEY, record, token)

    # Then it matches, and is URL/form safe
    assert isinstance(result, CsrfValid)
    assert quote(token, safe="") == token
    assert csrf_token(CSRF_KEY, record) == token  # re-rendering the page gives the same token


@pytest.mark.parametrize("presented", [None, ""], ids=["absent", "empty"])
def test_a_post_without_a_csrf_token_is_refused(presented: str | None) -> None:
    result = verify_csrf(CSRF_KEY, issue().record, presented)

    assert isinstance(result, CsrfRefusal) and result.code is CsrfRefusalCode.CSRF_MISSING


def test_a_csrf_token_that_does_not_match_is_refused() -> None:
    record = issue().record
    token = csrf_token(CSRF_KEY, record)

    for presented in (flip(token, 3), "x" * len(token), token + "é", csrf_token(OTHER_CSRF_KEY, record)):
        result = verify_csrf(CSRF_KEY, record, presented)
        assert isinstance(result, CsrfRefusal) and result.code is CsrfRefusalCode.CSRF_MISMATCH, presented


def test_a_csrf_token_is_bound_to_its_link_and_its_approver() -> None:
    # Given pages rendered for another link of the same approver and approval, and for another approver
    mine, my_other_link, theirs = issue().record, issue().record, issue(approver_id="rob.reviewer").record

    # When my link's form carries a CSRF token from one of those pages
    # Then it is refused
    for page in (my_other_link, theirs):
        result = verify_csrf(CSRF_KEY, mine, csrf_token(CSRF_KEY, page))
        assert isinstance(result, CsrfRefusal) and result.code is CsrfRefusalCode.CSRF_MISMATCH


def test_a_short_csrf_key_is_a_configuration_error() -> None:
    with pytest.raises(ValueError, match="at least 32 bytes"):
        csrf_token(SecretBytes(b"too-short"), issue().record)
