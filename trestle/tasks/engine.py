"""The parts every integration plugs into the one pipeline.

An :class:`Integration` says what differs — what to fetch, its rules, how to match, how to
map, where to write — and nothing else. The trip itself (intents, links, plans, issues,
cursors, dry runs, the report) lives once, in :mod:`trestle.tasks.pipeline`.

Records travel as :class:`Record` objects: a plain class rather than a dataclass so Prefect
does not walk into them when they are passed between tasks.
"""

from __future__ import annotations

import hashlib
import json
from abc import ABC, abstractmethod
from collections.abc import Iterator, Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, ClassVar, Literal

from trestle.jsonable import jsonable
from trestle.models import seen
from trestle.models.intents import PendingIntent
from trestle.models.issues import IssueIn
from trestle.models.links import LinkRow
from trestle.models.report import FieldChange
from trestle.tasks.declaration import SYSTEM_NAMES, FieldMap, IssueCode, OnDeleted, Schedule, System
from trestle.timeutil import to_utc

if TYPE_CHECKING:
    from trestle.tasks.context import RunContext

Plan = Literal["create", "update", "unchanged", "link", "skip"]


class Blocked(Exception):
    """The integration cannot run at all (say why); nothing is written, the run goes on."""

    def __init__(self, code: str, message: str, *, fix: str | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.fix = fix


class Record:
    """One source record on its way through the pipeline."""

    __slots__ = (
        "changes",
        "data",
        "fingerprint",
        "id",
        "issues",
        "label",
        "link",
        "match_method",
        "payload",
        "plan",
        "replaces",
        "target",
        "target_id",
        "updated_at",
        "url",
    )

    def __init__(
        self,
        id: str,
        label: str,
        data: Any,
        *,
        updated_at: datetime | None = None,
        url: str | None = None,
    ) -> None:
        self.id = str(id)
        self.label = label
        self.data = data
        self.updated_at = updated_at
        self.url = url
        self.issues: list[IssueIn] = []
        self.link: LinkRow | None = None
        self.target_id: str | None = None
        self.target: Any = None
        self.match_method: str | None = None
        self.payload: dict[str, Any] | None = None
        self.fingerprint: str | None = None
        self.plan: Plan | None = None
        self.changes: list[FieldChange] = []
        self.replaces: str | None = None  # the deleted target a "recreate" writes anew (its key differs)

    def flag(self, code: str, message: str, **details: Any) -> None:
        """Raise a named review issue on this record."""
        self.issues.append(IssueIn(code, message, jsonable(details)))

    def __repr__(self) -> str:
        return f"Record({self.id!r}, {self.label!r}, plan={self.plan})"


@dataclass
class Page:
    """A page of records; ``high_water`` is the newest source timestamp in it (for the cursor)."""

    records: list[Record]
    stream: str = "default"
    high_water: datetime | None = None


@dataclass
class WriteItem:
    """One record's write, as the integration's writer receives it."""

    source_id: str
    operation: Literal["create", "update"]
    target_id: str | None
    payload: dict[str, Any]
    idempotency_key: str
    label: str = ""


@dataclass
class WriteResult:
    """What the target said about one write."""

    source_id: str
    ok: bool
    target_id: str | None = None
    error: str | None = None
    outcome_unknown: bool = False
    details: dict[str, Any] = field(default_factory=dict)
    code: str | None = None  # a specific review issue code; default ``<entity>.write_rejected``


class Integration(ABC):
    """Base class of every integration. Subclasses declare themselves and implement the hooks.

    The class attributes are the integration's one declaration: the nightly order (from
    ``depends_on``), the single-project list (``per_project``), the deployments (``schedule``),
    the settings' list of integrations, the CLI's choices and ``trestle spec`` are read from
    them. A concrete subclass in a module of :mod:`trestle.integrations` is found by itself.
    """

    name: ClassVar[str]
    title: ClassVar[str]
    entity: ClassVar[str]  # what one record is; issue codes and links are named by it
    source_system: ClassVar[System]
    target_system: ClassVar[System]
    summary: ClassVar[str]  # one line: what goes where (the flow's and the deployment's description)
    picked_up: ClassVar[str] = ""  # which source records a run reads (Markdown)
    notes: ClassVar[tuple[tuple[str, str], ...]] = ()  # further spec paragraphs: ("Matched", "…")
    depends_on: ClassVar[tuple[str, ...]] = ()  # integrations that must have linked their records first
    per_project: ClassVar[bool] = False  # True: runs in the single-project flow for one project
    schedule: ClassVar[Schedule | None] = None  # a schedule of its own besides the nightly run
    mapping: ClassVar[tuple[FieldMap, ...]] = ()  # target field ← source field
    issues: ClassVar[tuple[IssueCode, ...]] = ()  # every review issue it raises (generic ones added)
    settings_used: ClassVar[tuple[str, ...]] = ()  # the ``sync`` settings it reads
    feed_resources: ClassVar[tuple[str, ...]] = ()  # Procore webhook resources it reads per project (trestle/webhooks)
    write_batch_size: ClassVar[int] = 50
    on_deleted: ClassVar[tuple[OnDeleted, ...]] = ("report",)  # policies it supports; the first is the default
    issue_fixes: ClassVar[dict[str, str]] = {}  # derived from ``issues``: code -> fix
    issue_meanings: ClassVar[dict[str, str]] = {}  # derived from ``issues``: code -> meaning

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "entity" in vars(cls) or "issues" in vars(cls):
            codes = cls.issue_codes()
            cls.issue_fixes = {issue.code: issue.fix for issue in codes}
            cls.issue_meanings = {issue.code: issue.meaning for issue in codes}

    @classmethod
    def issue_codes(cls) -> tuple[IssueCode, ...]:
        """The declared issues plus the three the pipeline raises for every integration, unless declared."""
        declared = {issue.code for issue in cls.issues}
        target = SYSTEM_NAMES[cls.target_system]
        generic = (
            IssueCode(
                f"{cls.entity}.write_rejected",
                f"{target} refused the write (its message is shown)",
                "Correct the record as the message says; the next run retries.",
            ),
            IssueCode(
                f"{cls.entity}.unreadable",
                f"{SYSTEM_NAMES[cls.source_system]} sent the record with a value of the wrong type (the field "
                "and what came are named); nothing is sent for it",
                f"Correct the field in {SYSTEM_NAMES[cls.source_system]} (or report the API change); the record "
                "is read again every run and syncs once it is readable.",
            ),
            IssueCode(
                f"{cls.entity}.target_already_linked",
                f"the matching {target} record is already linked to another record",
                "Remove or correct one of the two source records so each has its own target.",
            ),
        )
        return (*cls.issues, *(issue for issue in generic if issue.code not in declared))

    @classmethod
    def direction_text(cls) -> str:
        """ "Xero → Procore" and the like."""
        return f"{SYSTEM_NAMES[cls.source_system]} → {SYSTEM_NAMES[cls.target_system]}"

    def __init__(self, ctx: RunContext) -> None:
        self.ctx = ctx
        self._seen: dict[str, datetime] | None = None

    def settled(self, record_id: str | int, updated_at: datetime | None) -> bool:
        """Whether an earlier run settled this record at exactly ``updated_at`` (nothing it wrote
        failed): a read of changed records returning it again (the overlap window) may leave it out.

        Never on a full refresh or a dry run (see :mod:`trestle.models.seen`).
        """
        if updated_at is None or self.ctx.options.full_refresh or self.ctx.dry_run:
            return False
        if self._seen is None:
            self._seen = seen.load(self.ctx.store, self.name)
        stored = self._seen.get(str(record_id))
        return stored is not None and stored == to_utc(updated_at)

    def versions(self, record: Record) -> dict[str, datetime]:
        """What a settled ``record`` settles, by key for :meth:`settled`: its own ``updated_at``
        (an integration whose record stands for more, a commitment and its change orders, adds theirs)."""
        return {record.id: record.updated_at} if record.updated_at is not None else {}

    def stream_since(self, stream: str = "default") -> datetime | None:
        """Where an incremental read of ``stream`` starts: its cursor less the overlap window.

        None (read everything) on a full refresh or before the stream's first committed run.
        """
        if self.ctx.options.full_refresh:
            return None
        position = self.ctx.store.cursor(self.name, stream)
        if position is None:
            return None
        return position - timedelta(minutes=self.ctx.settings.sync.overlap_minutes)

    def expected_total(self) -> int | None:
        """Roughly how many records this run will see, for the progress bar (None if unknown)."""
        return None

    @property
    def direction(self) -> str:
        return self.direction_text()

    def prepare(self) -> None:  # noqa: B027 - optional hook
        """Load what the run needs once (groups, categories, indexes); raise :class:`Blocked` to stop."""

    @abstractmethod
    def fetch(self, since: datetime | None) -> Iterator[Page]:
        """Yield pages of source records changed since ``since`` (everything when None)."""

    def fetch_by_ids(self, ids: Sequence[str]) -> list[Record]:
        """Re-read specific records (ones with open issues or failed writes). Default: none."""
        return []

    def validate(self, record: Record) -> None:  # noqa: B027 - optional hook
        """Apply the integration's rules, flagging issues on ``record``."""

    def match(self, records: list[Record], taken: AbstractSet[str]) -> None:  # noqa: B027 - optional hook
        """Find targets for records with no link: set ``target_id``/``target``/``match_method`` or flag.

        ``taken`` are the target ids already linked to some record: never a candidate.
        """

    @abstractmethod
    def map(self, record: Record) -> dict[str, Any]:
        """The payload for the target system (JSON-able after :func:`jsonable`)."""

    def current_payload(self, record: Record) -> dict[str, Any] | None:
        """The matched target's current values in payload shape, for first-time links (diffs)."""
        return None

    def prepare_updates(self, records: list[Record]) -> None:  # noqa: B027 - optional hook
        """Load, in a few calls, what :meth:`check_update` needs for these records (a page's
        updates), so nothing is read for records that turn out unchanged."""

    def check_update(self, record: Record) -> None:  # noqa: B027 - optional hook
        """Rules that only apply when a target must change (e.g. an inactive Procore vendor)."""

    def write_group(self, record: Record) -> str:
        """Which endpoint a write goes to, when the integration writes to several (bills and
        credit notes, say): the pipeline fills each group's batches separately. Default: one."""
        return ""

    @abstractmethod
    def write(self, items: list[WriteItem], batch_key: str) -> list[WriteResult]:
        """Send a batch (the same items and key again on recovery); one result per item, in order."""

    def recover(self, intents: list[PendingIntent]) -> list[WriteResult]:
        """Finish writes left pending by a crash or a lost response.

        The default resends exactly what was sent, with the same idempotency key, which the
        target replays (Xero ``Idempotency-Key``) or matches (Procore ``origin_id``) rather
        than writing twice. Integrations whose target has neither override this to look the
        record up first.
        """
        items = [
            WriteItem(
                source_id=intent.source_id,
                operation="update" if intent.operation == "update" else "create",
                target_id=intent.target_id,
                payload=intent.payload,
                idempotency_key=intent.idempotency_key,
                label=intent.label,
            )
            for intent in intents
        ]
        return self.write(items, intents[0].batch_key)

    # Deleted records (``sync.on_deleted``; the mechanism is in :mod:`trestle.tasks.deleted`).
    def deletion_candidates(self, since: datetime | None) -> set[str]:
        """Source ids whose source or target may have been deleted since ``since``: re-read this run.

        Default: none (the integration detects no deletions beyond what its reads show).
        """
        return set()

    def target_gone(self, record: Record) -> str | None:
        """Why the linked target no longer stands ("VOIDED", "DELETED"…), or None while it does.

        A target Trestle itself deleted (a propagated deletion) is not gone in this sense.
        """
        return None

    def propagation_payload(self, record: Record) -> dict[str, Any] | None:
        """The update that deletes or voids the target of a source that is gone (``record.data`` is a
        :class:`~trestle.tasks.deleted.SourceGone`), or None to report instead; flag when it is refused."""
        return None

    def source_url(self, record: Record) -> str | None:
        return record.url

    def target_url(self, target_id: str) -> str | None:
        return None

    def link_row(self, record: Record, target_id: str) -> LinkRow:
        """The link for ``record`` written to ``target_id`` with its current payload."""
        procore_id, xero_id = (record.id, target_id) if self.source_system == "procore" else (target_id, record.id)
        return LinkRow(self.entity, procore_id, xero_id, record.fingerprint, record.payload, record.label)

    def source_id_of(self, link: LinkRow) -> str:
        return link.procore_id if self.source_system == "procore" else link.xero_id

    def target_id_of(self, link: LinkRow) -> str:
        return link.xero_id if self.source_system == "procore" else link.procore_id


def fingerprint(payload: dict[str, Any]) -> str:
    """A stable hash of what would be written; equal payloads mean "unchanged"."""
    canonical = json.dumps(jsonable(payload), sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


def idempotency_key(pair: str, integration: str, source_id: str, payload_fingerprint: str, attempt: int = 0) -> str:
    """Deterministic per (pair, integration, record, payload, attempt): a resend of one intent
    always carries its key, and a new attempt at a payload whose earlier write ended (done or
    refused: ``attempt`` counts those) gets a new one, so Xero never replays an old answer to it.
    Attempt 0 keeps the key of the versions before attempts were counted."""
    parts = [pair, integration, source_id, payload_fingerprint] + ([str(attempt)] if attempt else [])
    digest = hashlib.sha256("|".join(parts).encode()).hexdigest()
    return f"trestle-{digest[:48]}"


def batch_key(keys: Sequence[str]) -> str:
    """One key for a batch request, derived from its items' keys in order."""
    digest = hashlib.sha256("|".join(keys).encode()).hexdigest()
    return f"trestle-batch-{digest[:48]}"


def diff(before: dict[str, Any] | None, after: dict[str, Any], prefix: str = "") -> list[FieldChange]:
    """Field-by-field changes between two payloads (nested dicts flattened with dots)."""
    before = before or {}
    changes: list[FieldChange] = []
    for key in sorted(set(before) | set(after)):
        old, new = jsonable(before.get(key)), jsonable(after.get(key))
        name = f"{prefix}{key}"
        if isinstance(old, dict) and isinstance(new, dict):
            changes.extend(diff(old, new, prefix=f"{name}."))
        elif old != new:
            changes.append(FieldChange(field=name, before=old, after=new))
    return changes
