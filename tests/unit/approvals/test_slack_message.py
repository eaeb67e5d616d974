import json
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from pydantic import ValidationError

from fmops.approvals.slack_message import (
    APPROVE_ACTION_ID,
    MAX_BLOCKS,
    MAX_BUTTON_VALUE,
    MAX_CONTEXT_ELEMENTS,
    MAX_FIELD_TEXT,
    MAX_FIELDS,
    MAX_HEADER_TEXT,
    MAX_SECTION_TEXT,
    REJECT_ACTION_ID,
    ApprovalRequestView,
    DecidedView,
    MetricLine,
    approval_request_blocks,
    decided_blocks,
    escape_mrkdwn,
    notification_text,
)
from fmops.gate.policy import Stage

APPROVAL_ID = "apr_01JD6Z3K8Q4W2N5M7P9R1T3V5X"
TASK_TOKEN = "AQCEAAAAKgAAAAMAAAAAAAAAAS3cr3tT4skT0k3n" * 20  # pragma: allowlist secret (a fake task token)
EXPIRES_AT = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)
DECIDED_AT = datetime(2026, 11, 27, 9, 30, tzinfo=UTC)
EVIDENCE = "https://fmops.example.com/evidence/sentiment-classifier/1.0.1?stage=prod&view=full"


def request(**changes: Any) -> ApprovalRequestView:
    fields: dict[str, Any] = {
        "version_id": "sentiment-classifier/1.0.1",
        "kind": "fine-tuned",
        "risk_tier": "medium",
        "stage": Stage.PROD,
        "gate_passed": True,
        "policy_version": "2026-11-01",
        "metrics": (
            MetricLine(name="token_f1", value="0.84", threshold=">= 0.80", passed=True),
            MetricLine(name="toxicity_rate", value="0.004", threshold="<= 0.01", passed=True),
        ),
        "evidence_url": EVIDENCE,
        "approval_id": APPROVAL_ID,
        "expires_at": EXPIRES_AT,
        "approvals": 1,
        "quorum": 2,
    }
    fields.update(changes)
    return ApprovalRequestView(**fields)


def texts(node: Any) -> Iterator[str]:
    """Every `text` string anywhere in the blocks."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "text" and isinstance(value, str):
                yield value
            else:
                yield from texts(value)
    elif isinstance(node, list):
        for item in node:
            yield from texts(item)


def buttons(blocks: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [element for block in blocks if block["type"] == "actions" for element in block["elements"]]


def assert_within_block_kit_limits(blocks: list[dict[str, Any]]) -> None:
    assert 0 < len(blocks) <= MAX_BLOCKS
    action_ids = [element["action_id"] for element in buttons(blocks)]
    assert len(action_ids) == len(set(action_ids))
    for block in blocks:
        if block["type"] == "header":
            assert len(block["text"]["text"]) <= MAX_HEADER_TEXT
            assert block["text"]["type"] == "plain_text"
        if block["type"] == "section":
            assert "text" in block or "fields" in block
            if "text" in block:
                assert 1 <= len(block["text"]["text"]) <= MAX_SECTION_TEXT
            assert len(block.get("fields", [])) <= MAX_FIELDS
            assert all(len(field["text"]) <= MAX_FIELD_TEXT for field in block.get("fields", []))
        if block["type"] == "context":
            assert len(block["elements"]) <= MAX_CONTEXT_ELEMENTS
            assert all(len(element["text"]) <= MAX_SECTION_TEXT for element in block["elements"])
    for button in buttons(blocks):
        assert len(button["value"]) <= MAX_BUTTON_VALUE
        assert len(button["text"]["text"]) <= 75


# ------------------------------------------------------------------------------ the request


def test_a_passed_gate_asks_for_approval_with_facts_metrics_evidence_and_buttons() -> None:
    # Given a version that passed its gate and waits for its second prod approval
    view = request()

    # When the approval request message is built
    blocks = approval_request_blocks(view)

    # Then it names the stage, the version's facts and the gate result
    assert blocks[0] == {"type": "header", "text": {"type": "plain_text", "text": "Approval requested: prod"}}
    everything = "\n".join(texts(blocks))
    for fact in ("sentiment-classifier", "1.0.1", "fine-tuned", "medium", "passed (policy 2026-11-01)"):
        assert fact in everything
    # And each key metric against its threshold
    assert ":white_check_mark: *token_f1*\n0.84 (threshold &gt;= 0.80)" in everything
    assert "*toxicity_rate*\n0.004 (threshold &lt;= 0.01)" in everything
    # And a link to the evidence (its & escaped as Slack asks), the approvals so far and the expiry
    assert f"<{EVIDENCE.replace('&', '&amp;')}|Evidence>" in everything
    assert "Approvals: 1 of 2" in everything
    assert f"<!date^{int(EXPIRES_AT.timestamp())}^{{date_short_pretty}} {{time}}|2026-11-28 12:00 UTC>" in everything
    # And Approve (primary) and Reject (danger) buttons carrying only the opaque approval id
    approve, reject = buttons(blocks)
    assert (approve["action_id"], approve["style"], approve["value"]) == (APPROVE_ACTION_ID, "primary", APPROVAL_ID)
    assert (reject["action_id"], reject["style"], reject["value"]) == (REJECT_ACTION_ID, "danger", APPROVAL_ID)
    assert_within_block_kit_limits(blocks)


def test_a_rollbacks_request_says_it_is_a_rollback() -> None:
    # Given a manual rollback's own approval of prod to this version
    view = request(rollback=True)

    # When the message and its notification text are built
    blocks = approval_request_blocks(view)
    decided = decided_blocks(view, DecidedView(result="approved", decided_by=("Rita",), decided_at=DECIDED_AT))

    # Then the header, a fact, the buttons' questions and the notification say so
    assert blocks[0]["text"]["text"] == "Approval requested: rollback of prod"
    assert "*Occasion*\nrollback of prod to sentiment-classifier/1.0.1" in list(texts(blocks))
    approve, reject = buttons(blocks)
    assert approve["confirm"]["text"]["text"] == "Approve the rollback of prod to this version?"
    assert reject["confirm"]["text"]["text"] == "Reject the rollback of prod to this version?"
    assert notification_text(view) == "Approval requested for the rollback of prod to sentiment-classifier/1.0.1"
    assert decided[0]["text"]["text"] == "Approved: rollback of prod"
    assert_within_block_kit_limits(blocks)
    # And a version's own approval does not
    assert "rollback" not in json.dumps(approval_request_blocks(request())) + notification_text(request())


def test_a_failed_metric_and_a_failed_gate_are_shown_as_such() -> None:
    # Given a metric under its threshold and a gate that did not pass
    view = request(
        gate_passed=False, metrics=(MetricLine(name="token_f1", value="0.71", threshold=">= 0.80", passed=False),)
    )

    # When the message is built
    everything = "\n".join(texts(approval_request_blocks(view)))

    # Then neither is dressed up as a pass
    assert ":x: *token_f1*" in everything
    assert "FAILED (policy 2026-11-01)" in everything


def test_untrusted_text_is_escaped_so_it_cannot_mention_or_link() -> None:
    # Given a description and metadata written to ping the channel and hide a link
    hostile = "Great model <!channel> see <https://evil.example|click> & <@U123>"
    view = request(
        summary=hostile,
        kind="<!here>",
        metrics=(MetricLine(name="<https://evil.example|f1>", value="<!everyone>", threshold="x", passed=True),),
    )

    # When the message is built
    blocks = approval_request_blocks(view)
    everything = "\n".join(texts(blocks))

    # Then the text is shown literally, and no mention or foreign link survives
    assert "Great model &lt;!channel&gt; see &lt;https://evil.example|click&gt; &amp; &lt;@U123&gt;" in everything
    for injected in ("<!channel>", "<!here>", "<!everyone>", "<https://evil", "<@U123>"):
        assert injected not in everything
    # And Slack is told not to auto-link what is left
    mrkdwn = [node for block in blocks for node in _text_objects(block) if node["type"] == "mrkdwn"]
    assert mrkdwn
    assert all(node["verbatim"] is True for node in mrkdwn)


def test_escaping_handles_ampersands_first_and_drops_control_characters() -> None:
    assert escape_mrkdwn("a&lt;b\x00\x1b>c\n") == "a&amp;lt;b&gt;c\n"


def test_oversized_metadata_still_fits_every_block_kit_limit() -> None:
    # Given every free-text field far beyond what Slack accepts, made of characters that grow when escaped
    huge = "<&>" * 5000
    view = request(
        version_id=f"{huge}/{huge}",
        kind=huge,
        risk_tier=huge,
        policy_version=huge,
        summary=huge,
        metrics=tuple(MetricLine(name=huge, value=huge, threshold=huge, passed=True) for _ in range(6)),
    )
    outcome = DecidedView(result="rejected", decided_by=(huge,), decided_at=DECIDED_AT, reason=huge)

    # When both messages are built
    for blocks in (approval_request_blocks(view), decided_blocks(view, outcome)):
        # Then each respects Slack's limits and no escape is cut in half
        assert_within_block_kit_limits(blocks)
        for text in texts(blocks):
            assert text.count("&") == text.count(";"), "an escape was cut"
    assert len(notification_text(view)) <= MAX_SECTION_TEXT
    # And the whole payload is JSON Slack can take
    json.dumps(approval_request_blocks(view))


def test_more_than_six_metrics_are_refused() -> None:
    metric = MetricLine(name="m", value="1", threshold="1", passed=True)
    with pytest.raises(ValidationError, match="metrics"):
        request(metrics=(metric,) * 7)


@pytest.mark.parametrize("approval_id", [TASK_TOKEN, "short", "has space in it", "semi;colon;id"])
def test_only_an_opaque_approval_id_can_ride_on_a_button(approval_id: str) -> None:
    # A task token is hundreds of characters: it does not fit, so it cannot leak into a button value.
    with pytest.raises(ValidationError, match="approval_id"):
        request(approval_id=approval_id)


@pytest.mark.parametrize(
    "url", ["javascript:alert(1)", "https://x.example/a|b", "https://x.example/<b>", "https://x.example/a b", "ftp://x"]
)
def test_an_evidence_url_that_would_break_the_link_markup_is_refused(url: str) -> None:
    with pytest.raises(ValidationError, match="evidence_url"):
        request(evidence_url=url)


# ------------------------------------------------------------------------------ the decided message


def test_the_decided_message_names_the_deciders_and_has_no_buttons() -> None:
    # Given the stage reached its quorum
    outcome = DecidedView(result="approved", decided_by=("ana.silva", "bo.chen"), decided_at=DECIDED_AT)

    # When the message is updated in place
    blocks = decided_blocks(request(), outcome)

    # Then the buttons are gone, and it says who approved, when, and keeps the facts and evidence
    assert buttons(blocks) == []
    assert blocks[0]["text"]["text"] == "Approved: prod"
    everything = "\n".join(texts(blocks))
    assert f"*Approved* by ana.silva, bo.chen <!date^{int(DECIDED_AT.timestamp())}^" in everything
    assert "sentiment-classifier" in everything
    assert "|Evidence>" in everything
    assert_within_block_kit_limits(blocks)


def test_a_rejection_quotes_its_reason_escaped() -> None:
    # Given a rejection with a reason that tries to mention the channel
    outcome = DecidedView(
        result="rejected", decided_by=("ana.silva",), decided_at=DECIDED_AT, reason="bias on <!channel>"
    )

    # When the message is updated
    everything = "\n".join(texts(decided_blocks(request(), outcome)))

    # Then the reason is quoted literally
    assert "*Rejected* by ana.silva" in everything
    assert "\n>bias on &lt;!channel&gt;" in everything


def test_an_expired_stage_says_nobody_decided_and_it_failed_closed() -> None:
    outcome = DecidedView(result="expired", decided_at=EXPIRES_AT)

    blocks = decided_blocks(request(), outcome)

    assert buttons(blocks) == []
    assert blocks[0]["text"]["text"] == "Expired: prod"
    assert "the version is not promoted" in "\n".join(texts(blocks))


@pytest.mark.parametrize(("result", "decided_by"), [("approved", ()), ("rejected", ()), ("expired", ("ana.silva",))])
def test_an_outcome_must_name_its_deciders_exactly_when_someone_decided(
    result: str, decided_by: tuple[str, ...]
) -> None:
    with pytest.raises(ValidationError):
        DecidedView(result=result, decided_by=decided_by, decided_at=DECIDED_AT)  # type: ignore[arg-type]


def _text_objects(node: Any) -> Iterator[dict[str, Any]]:
    if isinstance(node, dict):
        if node.get("type") in ("mrkdwn", "plain_text"):
            yield node
        else:
            for value in node.values():
                yield from _text_objects(value)
    elif isinstance(node, list):
        for item in node:
            yield from _text_objects(item)
