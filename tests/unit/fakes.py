"""In-memory implementations of fmops.ports, with the same conditional semantics as the adapters."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from fmops.anchoring import Anchor
from fmops.approvals.engine import Accepted, Decision
from fmops.approvals.links import LinkRecord, consume
from fmops.approvals.store import StoredApproval, stage_key
from fmops.deployment.history import ConflictingDeploymentRecords, DeploymentRecord
from fmops.deployment.store import StageLock
from fmops.errors import ConcurrentModification
from fmops.events import FmopsEventDetail, PromotionInput
from fmops.gate.policy import Stage
from fmops.ledger import ChainHead, seal
from fmops.manifest import Manifest
from fmops.records import AuditRecord, CatalogRecord, SealedRecord
from fmops.statuses import VersionStatus, check_transition


@dataclass
class FixedClock:
    moment: datetime = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)

    def now(self) -> datetime:
        return self.moment

    def advance(self, delta: timedelta) -> None:
        self.moment += delta


@dataclass
class InMemoryArtifactStore:
    """A versioned bucket: `put` keeps earlier bodies as older versions."""

    objects: dict[tuple[str, str], bytes] = field(default_factory=dict)
    hashed: list[str] = field(default_factory=list)
    older: dict[tuple[str, str], list[bytes]] = field(default_factory=dict)
    chunk_size: int = 7  # small and odd, so lines straddle chunks

    def put(self, bucket: str, key: str, body: bytes) -> None:
        if (bucket, key) in self.objects:
            self.older.setdefault((bucket, key), []).append(self.objects[(bucket, key)])
        self.objects[(bucket, key)] = body

    def read_matching(self, bucket: str, key: str, sha256: str, max_bytes: int) -> bytes | None:
        candidates = [self.objects[(bucket, key)], *reversed(self.older.get((bucket, key), []))]
        for body in candidates:
            if hashlib.sha256(body[: max_bytes + 1]).hexdigest() == sha256:
                return body
        return None

    def stream(self, bucket: str, key: str) -> Iterator[bytes]:
        body = self.objects[(bucket, key)]
        for start in range(0, len(body), self.chunk_size):
            yield body[start : start + self.chunk_size]

    def read(self, bucket: str, key: str, max_bytes: int) -> bytes:
        return self.objects[(bucket, key)][: max_bytes + 1]

    def size_of(self, bucket: str, key: str) -> int | None:
        body = self.objects.get((bucket, key))
        return None if body is None else len(body)

    def sha256_of(self, bucket: str, key: str) -> str:
        self.hashed.append(key)
        return hashlib.sha256(self.objects[(bucket, key)]).hexdigest()


@dataclass
class FakeRegistry:
    groups: set[str] = field(default_factory=set)
    packages: dict[str, str] = field(default_factory=dict)  # arn -> version_id
    properties: dict[str, dict[str, str]] = field(default_factory=dict)  # arn -> customer metadata
    approved: dict[str, str] = field(default_factory=dict)  # arn -> approval description

    def ensure_group(self, group: str, description: str) -> None:
        self.groups.add(group)

    def find_package(self, group: str, version_id: str) -> str | None:
        return next((arn for arn, vid in self.packages.items() if vid == version_id), None)

    def create_package(self, manifest: Manifest, manifest_uri: str, manifest_sha256: str) -> str:
        assert manifest.model_group in self.groups, "package created before its group"
        arn = f"arn:aws:sagemaker:us-east-1:123456789012:model-package/{manifest.model_group}/{len(self.packages) + 1}"
        self.packages[arn] = manifest.version_id
        return arn

    def annotate(self, package_arn: str, properties: dict[str, str]) -> None:
        assert package_arn in self.packages, "annotating an unknown package"
        assert all(len(k) <= 128 and len(v) <= 256 for k, v in properties.items()), "over SageMaker's limits"
        self.properties.setdefault(package_arn, {}).update(properties)

    def approve(self, package_arn: str, description: str) -> None:
        assert package_arn in self.packages, "approving an unknown package"
        assert len(description) <= 1024, "over SageMaker's limit"
        self.approved[package_arn] = description


@dataclass
class InMemoryCatalog:
    records: dict[str, CatalogRecord] = field(default_factory=dict)
    serving_versions: dict[tuple[str, str], str] = field(default_factory=dict)  # (group, stage) -> version id

    def update(self, record: CatalogRecord, at: datetime, **changes: object) -> CatalogRecord:
        updated = record.model_copy(update={**changes, "updated_at": at})
        return self._put_next(CatalogRecord.model_validate(updated.model_dump()), record)

    def serving(self, model_group: str, stage: str) -> CatalogRecord | None:
        version_id = self.serving_versions.get((model_group, stage))
        return self.records.get(version_id) if version_id else None

    def set_serving(self, model_group: str, stage: str, version_id: str | None) -> None:
        if version_id is None:
            self.serving_versions.pop((model_group, stage), None)
        else:
            self.serving_versions[(model_group, stage)] = version_id

    def get(self, version_id: str) -> CatalogRecord | None:
        return self.records.get(version_id)

    def claim(self, record: CatalogRecord, replacing: CatalogRecord | None) -> CatalogRecord:
        return self._put_next(record, replacing)

    def transition(
        self, record: CatalogRecord, target: VersionStatus, at: datetime, **changes: object
    ) -> CatalogRecord:
        check_transition(record.status, target)
        updated = record.model_copy(update={**changes, "status": target, "updated_at": at, "lease_until": None})
        return self._put_next(CatalogRecord.model_validate(updated.model_dump()), record)

    def mark_announced(self, version_id: str) -> None:
        current = self.records[version_id]
        self.records[version_id] = current.model_copy(update={"announced": True, "revision": current.revision + 1})

    def _put_next(self, record: CatalogRecord, replacing: CatalogRecord | None) -> CatalogRecord:
        current = self.records.get(record.version_id)
        expected_revision = None if replacing is None else replacing.revision
        if (None if current is None else current.revision) != expected_revision:
            raise ConcurrentModification(record.version_id)
        stored = record.model_copy(update={"revision": (expected_revision or 0) + 1})
        self.records[record.version_id] = stored
        return stored


@dataclass
class RecordingBus:
    published: list[FmopsEventDetail] = field(default_factory=list)

    def publish(self, detail: FmopsEventDetail) -> None:
        self.published.append(detail)

    def of_type(self, detail_type: str) -> list[FmopsEventDetail]:
        return [event for event in self.published if event.detail_type == detail_type]


@dataclass
class FakeWorkflow:
    """Like Step Functions: a second start with the same name is refused, so it changes nothing."""

    executions: dict[str, PromotionInput] = field(default_factory=dict)
    start_calls: int = 0

    def start_promotion(self, promotion: PromotionInput) -> None:
        self.start_calls += 1
        self.executions.setdefault(promotion.execution_name, promotion)


@dataclass
class InMemoryAuditLog:
    """Chains like the DynamoDB audit log: one record per event_id, each sealed onto its chain's head."""

    records: dict[str, SealedRecord] = field(default_factory=dict)  # event_id -> record
    heads: dict[str, ChainHead] = field(default_factory=dict)

    def append(self, record: AuditRecord, chain: str) -> bool:
        if record.event_id in self.records:
            return False
        sealed = seal(record, chain, self.heads.get(chain))
        self.records[record.event_id] = sealed
        self.heads[chain] = ChainHead(chain=chain, seq=sealed.seq, hash=sealed.hash)
        return True

    def chain(self, chain: str) -> list[SealedRecord]:
        return sorted((r for r in self.records.values() if r.chain == chain), key=lambda r: r.seq)


@dataclass(frozen=True)
class SentMessage:
    to: str
    subject: str
    text: str


@dataclass
class RecordingNotifier:
    sent: list[SentMessage] = field(default_factory=list)

    def send(self, to: str, subject: str, text: str) -> None:
        self.sent.append(SentMessage(to, subject, text))


@dataclass
class FlakyArtifactStore(InMemoryArtifactStore):
    """An artifact store whose size or read calls raise the given error (throttling, 5xx), as an adapter would."""

    size_error: Exception | None = None
    read_error: Exception | None = None

    def size_of(self, bucket: str, key: str) -> int | None:
        if self.size_error is not None:
            raise self.size_error
        return super().size_of(bucket, key)

    def read(self, bucket: str, key: str, max_bytes: int) -> bytes:
        if self.read_error is not None:
            raise self.read_error
        return super().read(bucket, key, max_bytes)


@dataclass
class RecordingCallbacks:
    """Like Step Functions' task tokens, but strict: a second answer to one token is reported as spent."""

    answers: list[tuple[str, str, object]] = field(default_factory=list)  # (token, "success"|error, output|cause)
    heartbeats: list[str] = field(default_factory=list)

    def succeed(self, token: str, output: dict[str, object]) -> bool:
        return self._answer(token, "success", output)

    def fail(self, token: str, error: str, cause: str) -> bool:
        return self._answer(token, error, cause)

    def heartbeat(self, token: str) -> bool:
        self.heartbeats.append(token)
        return not any(answered == token for answered, _, _ in self.answers)

    def _answer(self, token: str, kind: str, payload: object) -> bool:
        spent = any(answered == token for answered, _, _ in self.answers)
        self.answers.append((token, kind, payload))
        return not spent


@dataclass
class InMemoryEvidenceStore:
    documents: dict[str, dict[str, object]] = field(default_factory=dict)

    def put_json(self, key: str, document: dict[str, object]) -> str:
        json.dumps(document)  # must be JSON-serialisable, as in S3
        self.documents[key] = document
        return f"s3://evidence-bucket/{key}"


@dataclass
class InMemoryPolicyStore:
    files: dict[str, bytes] = field(default_factory=dict)

    def read(self, name: str) -> bytes | None:
        return self.files.get(name)


@dataclass
class InMemoryAnchorStore:
    """Write-once like the Object Lock bucket: a second put on a key is kept as another version, never a
    replacement; `anchors()` returns every version, as S3AnchorStore does."""

    versions: dict[str, list[str]] = field(default_factory=dict)  # key -> documents (JSON), oldest first

    def put(self, key: str, anchor: Anchor) -> str:
        self.versions.setdefault(key, []).append(anchor.model_dump_json())
        return f"memory://{key}"

    def anchors(self) -> list[Anchor]:
        return [
            Anchor.model_validate_json(document).model_copy(update={"source": f"memory://{key}#{n}"})
            for key, documents in sorted(self.versions.items())
            for n, document in enumerate(documents)
        ]


@dataclass
class InMemoryApprovalStore:
    """fmops.approvals.store.ApprovalStore in memory, with the adapter's conditions (revision,
    one decision per approver, a link used once, a Slack request seen once)."""

    approvals: dict[str, StoredApproval] = field(default_factory=dict)
    by_stage: dict[tuple[str, str], str] = field(default_factory=dict)  # (version id, stage_key) -> approval id
    decisions: dict[tuple[str, str], Decision] = field(default_factory=dict)  # (approval id, approver id)
    links: dict[str, LinkRecord] = field(default_factory=dict)
    slack_requests: dict[str, datetime] = field(default_factory=dict)

    def open(self, approval: StoredApproval) -> StoredApproval:
        key = (approval.version_id, approval.stage_key)
        if key in self.by_stage:
            return self.approvals[self.by_stage[key]]
        stored = approval.model_copy(update={"revision": 1})
        self.approvals[approval.approval_id] = stored
        self.by_stage[key] = approval.approval_id
        return stored

    def get(self, approval_id: str) -> StoredApproval | None:
        return self.approvals.get(approval_id)

    def for_stage(self, version_id: str, stage: Stage, occasion: str | None = None) -> StoredApproval | None:
        approval_id = self.by_stage.get((version_id, stage_key(stage, occasion)))
        return self.approvals.get(approval_id) if approval_id else None

    def save(self, approval: StoredApproval, read: StoredApproval) -> StoredApproval:
        current = self.approvals.get(read.approval_id)
        if current is None or current.revision != read.revision:
            raise ConcurrentModification(read.approval_id)
        stored = approval.model_copy(update={"revision": read.revision + 1})
        self.approvals[read.approval_id] = stored
        return stored

    def record_decision(
        self, read: StoredApproval, accepted: Accepted, link: LinkRecord | None, at: datetime
    ) -> StoredApproval:
        current = self.approvals.get(read.approval_id)
        decision_key = (read.approval_id, accepted.decision.approver_id)
        stored_link = self.links.get(link.link_id) if link else None
        if (
            current is None
            or current.revision != read.revision
            or decision_key in self.decisions
            or (link is not None and (stored_link is None or stored_link.used_at is not None or at >= link.expires_at))
        ):
            raise ConcurrentModification(read.approval_id)
        self.decisions[decision_key] = accepted.decision
        if link is not None:
            self.links[link.link_id] = consume(link, at)
        stored = read.model_copy(update={"state": accepted.state, "revision": read.revision + 1})
        self.approvals[read.approval_id] = stored
        return stored

    def unresumed(self) -> Iterator[StoredApproval]:
        return iter([a for a in self.approvals.values() if a.resumed_at is None])

    def put_link(self, link: LinkRecord) -> None:
        if link.link_id in self.links:
            raise ConcurrentModification(link.link_id)
        self.links[link.link_id] = link

    def get_link(self, link_id: str) -> LinkRecord | None:
        return self.links.get(link_id)

    def claim_slack_request(self, replay_key: str, expires_at: datetime) -> bool:
        if replay_key in self.slack_requests:
            return False
        self.slack_requests[replay_key] = expires_at
        return True


@dataclass
class ReversibleVault:
    """TokenVault that 'seals' reversibly and checks the approval id it was bound to, like KMS's context."""

    def seal(self, token: str, approval_id: str) -> bytes:
        return json.dumps({"token": token, "approval_id": approval_id}).encode()

    def unseal(self, sealed: bytes, approval_id: str) -> str:
        document = json.loads(sealed)
        if document["approval_id"] != approval_id:
            raise ValueError("sealed for another approval")
        return str(document["token"])


@dataclass
class RecordingMessenger:
    posted: list[tuple[str, str, list[dict[str, object]]]] = field(default_factory=list)  # (channel, ts, blocks)
    updates: list[tuple[str, str, list[dict[str, object]]]] = field(default_factory=list)

    def post(self, channel: str, text: str, blocks: list[dict[str, object]]) -> str:
        ts = f"1700000000.{len(self.posted) + 1:06d}"
        self.posted.append((channel, ts, blocks))
        return ts

    def update(self, channel: str, ts: str, text: str, blocks: list[dict[str, object]]) -> None:
        self.updates.append((channel, ts, blocks))


@dataclass
class InMemoryDeploymentStore:
    """fmops.deployment.store.DeploymentStore in memory, with the adapter's conditions (a record once
    per deployment id, one claim per version, a stage lock with a lease that ends at expires_at)."""

    records: dict[str, DeploymentRecord] = field(default_factory=dict)
    claims: dict[str, str] = field(default_factory=dict)  # version id -> deployment id
    locks: dict[tuple[str, str], StageLock] = field(default_factory=dict)  # (model group, stage)

    def claim_version(self, version_id: str, deployment_id: str, at: datetime) -> str:
        return self.claims.setdefault(version_id, deployment_id)

    def record(self, record: DeploymentRecord) -> bool:
        stored = self.records.get(record.deployment_id)
        if stored is None:
            self.records[record.deployment_id] = record
            return True
        if stored != record:
            raise ConflictingDeploymentRecords(record.deployment_id)
        return False

    def history(self, model_group: str, stage: Stage) -> list[DeploymentRecord]:
        return [r for r in self.records.values() if r.model_group == model_group and r.stage is stage]

    def acquire(
        self, model_group: str, stage: Stage, holder: str, version_id: str, at: datetime, lease: timedelta
    ) -> StageLock | None:
        lock = StageLock.taken(model_group, stage, holder, version_id, at, lease)
        current = self.locks.get((model_group, stage.value))
        if current is not None and current.holder != holder and at < current.expires_at:
            return None
        self.locks[(model_group, stage.value)] = lock
        return lock

    def release(self, lock: StageLock) -> None:
        current = self.locks.get((lock.model_group, lock.stage.value))
        if current is not None and current.holder == lock.holder:
            del self.locks[(lock.model_group, lock.stage.value)]

    def holder(self, model_group: str, stage: Stage) -> StageLock | None:
        return self.locks.get((model_group, stage.value))
