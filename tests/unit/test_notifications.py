from datetime import UTC, datetime

from fmops.events import ModelVersionRejected
from fmops.manifest import Problem
from fmops.notifications import Delivery, NotificationDeps, notify_rejection
from fmops.records import CatalogRecord
from fmops.statuses import VersionStatus

from tests.unit.fakes import InMemoryCatalog, RecordingNotifier

VERSION_ID = "sentiment-classifier/1.0.1"
SHA = "8f434346648f6b96df89dda901c5176b10a6d83961dd3c1ac88b59b2dc327aa4"  # pragma: allowlist secret (a manifest sha256)
PACKAGE = "arn:aws:sagemaker:us-east-1:123456789012:model-package/sentiment-classifier/2"
TASK_TOKEN = "AQCEAAAAKgAAAAMAAAAAAAAAAS3cr3tT4skT0k3n"  # pragma: allowlist secret (a fake task token)
AT = datetime(2026, 11, 26, 12, 5, tzinfo=UTC)

F1 = Problem(
    code="gate_rule_failed",
    field="threshold.token_f1",
    message="token_f1 must be at least 0.8: observed 0.71, threshold 0.8",
)
TOXICITY = Problem(
    code="gate_rule_failed",
    field="threshold.toxicity_rate",
    message="toxicity_rate must be at most 0.01: observed 0.04, threshold 0.01",
)


def rejected_record(**changes: object) -> CatalogRecord:
    record = CatalogRecord(
        version_id=VERSION_ID,
        model_group="sentiment-classifier",
        version="1.0.1",
        status=VersionStatus.REJECTED,
        manifest_uri=f"s3://fmops-artifacts/models/{VERSION_ID}/manifest.json",
        manifest_sha256=SHA,
        created_at=AT,
        updated_at=AT,
        kind="fine-tuned",
        risk_tier="medium",
        submitter="ana.silva",
        submitter_email="ana.silva@example.com",
        model_package_arn=PACKAGE,
        evaluation_task_token=TASK_TOKEN,
    )
    return record.model_copy(update=changes)


def rejection(*reasons: Problem, actor: str = "fmops:promotion", sha: str | None = SHA) -> ModelVersionRejected:
    return ModelVersionRejected(
        event_id=f"{VERSION_ID}#rejected#gate",
        correlation_id=VERSION_ID,
        version_id=VERSION_ID,
        occurred_at=AT,
        actor=actor,
        manifest_uri=f"s3://fmops-artifacts/models/{VERSION_ID}/manifest.json",
        manifest_sha256=sha,
        reasons=list(reasons),
    )


def deps_with(*records: CatalogRecord) -> tuple[NotificationDeps, RecordingNotifier]:
    notifier = RecordingNotifier()
    catalog = InMemoryCatalog({record.version_id: record for record in records})
    return NotificationDeps(catalog=catalog, notifier=notifier, stage="dev"), notifier


def test_a_gate_rejection_mails_the_submitter_every_failed_rule_and_what_to_do_next() -> None:
    # Given a version rejected by its gate on two rules
    deps, notifier = deps_with(rejected_record())

    # When the rejection is notified
    outcome = notify_rejection(rejection(F1, TOXICITY), deps)

    # Then the submitter gets one e-mail naming the version, both rules and the next steps
    assert outcome.sent and outcome.delivery == Delivery.SENT
    assert outcome.as_dict() == {"delivery": "sent", "version_id": VERSION_ID, "reasons": 2}
    [message] = notifier.sent
    assert message.to == "ana.silva@example.com"
    assert message.subject == "[fmops] sentiment-classifier/1.0.1 rejected: 2 failed rules"
    assert message.text.splitlines() == [
        "Model version sentiment-classifier/1.0.1 was rejected by fmops dev.",
        "",
        "Version:        sentiment-classifier/1.0.1",
        "Kind:           fine-tuned",
        "Risk tier:      medium",
        f"Model package:  {PACKAGE}",
        "Manifest:       s3://fmops-artifacts/models/sentiment-classifier/1.0.1/manifest.json",
        "Rejected at:    2026-11-26T12:05:00+00:00 by fmops:promotion",
        "",
        "Why (2 failed rules):",
        "  1. gate_rule_failed [threshold.token_f1]: token_f1 must be at least 0.8: observed 0.71, threshold 0.8",
        "  2. gate_rule_failed [threshold.toxicity_rate]: toxicity_rate must be at most 0.01: observed 0.04, "
        "threshold 0.01",
        "",
        "What to do next:",
        "  - Versions are immutable: fix what is listed above and submit a new version (fmops submit).",
        "  - The gate's decision table: fmops policy explain sentiment-classifier/1.0.1",
        "  - The version's timeline: fmops status sentiment-classifier/1.0.1",
        "",
        "You receive this because you submitted this version (ana.silva).",
    ]


def test_reasons_are_listed_in_the_order_of_the_event() -> None:
    # Given an evaluation failure followed by two gate rules, in an order that is not alphabetical
    deps, notifier = deps_with(rejected_record())
    evaluation = Problem(code="evaluation_failed", message="the evaluator crashed on sample 17")

    # When it is notified
    notify_rejection(rejection(TOXICITY, evaluation, F1), deps)

    # Then the lines keep the event's order, and a mixed list counts "reasons", not rules
    [message] = notifier.sent
    numbered = [line for line in message.text.splitlines() if line.startswith("  ") and line[2].isdigit()]
    assert numbered == [
        f"  1. gate_rule_failed [threshold.toxicity_rate]: {TOXICITY.message}",
        "  2. evaluation_failed: the evaluator crashed on sample 17",
        f"  3. gate_rule_failed [threshold.token_f1]: {F1.message}",
    ]
    assert message.subject == "[fmops] sentiment-classifier/1.0.1 rejected: 3 reasons"


def test_an_intake_rejection_says_the_version_may_be_uploaded_again_and_has_no_decision_table() -> None:
    # Given a version refused at intake (no model package, so its name is still free)
    record = rejected_record(model_package_arn=None, kind=None, risk_tier=None)
    deps, notifier = deps_with(record)
    missing = Problem(code="artifact_missing", message="model/weights.bin was not uploaded", field="artifacts.0")

    # When it is notified
    notify_rejection(rejection(missing, actor="fmops:intake"), deps)

    # Then the next steps fit an intake rejection
    [message] = notifier.sent
    assert message.subject == "[fmops] sentiment-classifier/1.0.1 rejected: 1 reason"
    assert "  1. artifact_missing [artifacts.0]: model/weights.bin was not uploaded" in message.text.splitlines()
    assert "upload the version again (fmops submit)" in message.text
    assert "policy explain" not in message.text
    assert "Model package:" not in message.text and "Kind:" not in message.text


def test_no_submitter_email_means_no_mail_and_says_why() -> None:
    # Given a version whose manifest could not be parsed, so fmops never learnt who submitted it
    deps, notifier = deps_with(rejected_record(submitter=None, submitter_email=None))

    # When its rejection is notified
    outcome = notify_rejection(rejection(Problem(code="invalid_json", message="not JSON")), deps)

    # Then nothing is sent and the outcome says why
    assert not outcome.sent
    assert outcome.delivery == Delivery.NO_SUBMITTER_EMAIL
    assert notifier.sent == []


def test_an_unknown_version_gets_no_mail() -> None:
    # Given an empty catalog (e.g. a manifest outside models/<group>/<version>/)
    deps, notifier = deps_with()

    # When a rejection for it is notified
    outcome = notify_rejection(rejection(F1), deps)

    # Then nothing is sent
    assert outcome.delivery == Delivery.NO_CATALOG_RECORD
    assert notifier.sent == []


def test_a_rejection_superseded_by_a_new_upload_gets_no_mail() -> None:
    # Given a version re-uploaded after its rejection (now verified again, maybe by someone else)
    deps, notifier = deps_with(rejected_record(status=VersionStatus.RECEIVED, model_package_arn=None))
    # ... and another rejected again, but for a later manifest than the event's
    later_deps, later_notifier = deps_with(rejected_record(manifest_sha256="b" * 64))

    # When the old rejection arrives late
    outcomes = [notify_rejection(rejection(F1), deps), notify_rejection(rejection(F1), later_deps)]

    # Then no one is mailed about it
    assert [outcome.delivery for outcome in outcomes] == [Delivery.SUPERSEDED, Delivery.SUPERSEDED]
    assert notifier.sent == later_notifier.sent == []


def test_the_recipient_comes_from_the_catalog_and_no_secret_reaches_the_message() -> None:
    # Given a record holding the waiting promotion's task token, and an event that tries to add lines
    deps, notifier = deps_with(rejected_record())
    sneaky = Problem(code="evaluation_failed", message="boom\nBcc: attacker@example.com\r\nmore")

    # When it is notified
    notify_rejection(rejection(sneaky), deps)

    # Then the mail goes to the catalog's address, without the token, and the reason stays on one line
    [message] = notifier.sent
    assert message.to == "ana.silva@example.com"
    assert TASK_TOKEN not in message.text and TASK_TOKEN not in message.subject
    assert "  1. evaluation_failed: boom Bcc: attacker@example.com more" in message.text.splitlines()
    assert "\n" not in message.subject and "\r" not in message.text


def test_a_rejection_by_an_approver_is_left_to_the_approval_notice() -> None:
    # Given a version an approver rejected (the approval notifier e-mailed who, when and why)
    deps, notifier = deps_with(rejected_record())
    by_approver = Problem(code="approval_rejected", message="chen.wei rejected the dev approval: latency regressed")

    # When its rejection is notified
    outcome = notify_rejection(rejection(by_approver), deps)

    # Then no second e-mail goes out, and the outcome says why
    assert outcome.delivery == Delivery.TOLD_BY_APPROVALS
    assert notifier.sent == []


def test_an_approval_that_failed_for_another_reason_is_still_mailed() -> None:
    # Given an approval that could not even open (nobody was told anything yet)
    deps, notifier = deps_with(rejected_record())
    unreachable = Problem(code="approval_quorum_unreachable", message="dev needs 2 approvers but only 1 may decide")

    outcome = notify_rejection(rejection(unreachable), deps)

    assert outcome.sent
    [message] = notifier.sent
    assert "approval_quorum_unreachable" in message.text
