"""Human approvals: who must approve a version for each stage, and how they decide.

Pure modules, each tested on its own:
- `rules`: per-stage approval rules (groups, quorum, separation of duties, expiry, reminders,
  escalation, fail-closed timeout), parsed with every problem and its JSON path;
- `directory`: who the approvers are (e-mail, Slack user id, groups) and who is eligible;
- `engine`: decisions, refusals, quorum, reminders, escalation and expiry of one stage;
- `links`: single-use, expiring e-mail links bound to one approver (stored only as a hash);
- `csrf`: the approval page's CSRF token;
- `slack_signature`, `slack_interaction`, `slack_message`: Slack requests and messages;
- `page`: the approval page's HTML.
The flow around them: `service` (RequestApproval, resuming the promotion, the timer), `deciding`
(decisions by link and by Slack, one conditional transaction each), `web` and `slack_endpoint`
(the two HTTP entry points), `notify` (e-mails and the Slack message); `store` and `config` name
what they keep and where. docs/approvals.md tells the whole story.
"""

APPROVAL_ID_PATTERN = r"^[A-Za-z0-9_-]{8,128}$"
"""An opaque approval id: short enough that a Step Functions task token can never pass for one."""

OCCASION_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._#:-]{0,127}$"
"""Why a stage is approved again apart from the version's own approval, e.g. a manual rollback
("rollback:<deployment id>"): each occasion gets an approval of its own."""

ROLLBACK_OCCASION_PREFIX = "rollback:"
