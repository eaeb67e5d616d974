"""Human approvals (groundwork for the approvals issue; not wired into the promotion yet).

Pure modules, each tested on its own:
- `rules`: per-stage approval rules (groups, quorum, separation of duties, expiry, reminders,
  escalation, fail-closed timeout), parsed with every problem and its JSON path;
- `directory`: who the approvers are (e-mail, Slack user id, groups) and who is eligible;
- `engine`: decisions, refusals, quorum, reminders, escalation and expiry of one stage;
- `links`: single-use, expiring e-mail links bound to one approver (stored only as a hash);
- `csrf`: the approval page's CSRF token;
- `slack_signature`: Slack request verification (v0 HMAC, 5-minute window, replay key);
- `slack_message`: the Block Kit request and decided messages.
Adapters (DynamoDB conditional writes, Slack Web API, SES), the state machine step and the
approval page come with the wiring.
"""

APPROVAL_ID_PATTERN = r"^[A-Za-z0-9_-]{8,128}$"
"""An opaque approval id: short enough that a Step Functions task token can never pass for one."""
