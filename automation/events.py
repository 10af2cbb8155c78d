"""Engine events of a preview, update, refresh or destroy, collected into a change summary.

The Automation API hands every engine event to `on_event` as the SDK's `EngineEvent`. A
resource can take several steps (a replacement is `create-replacement`, `replace` and
`delete-replaced`); the summary keeps one entry per URN with the operation that matters
most. Counts come from the engine's own `SummaryEvent` when it arrives (it counts logical
steps, and a refresh's results), else from the collected resources.

Property diffs compare inputs, except in a refresh (`pulumi refresh`, with or without
`--preview-only`), where what changed is the resources' outputs: the engine reports a refresh's
result (same, update, delete) as the op of its outputs event (pkg/engine/update.go,
`isRefresh`). A `preview --refresh` or `up --refresh` also takes a `refresh` step per resource
first, but its changes are the program's, so they keep their input diffs.

Policy violations (`policyEvent`) are collected too: a mandatory one fails the operation, an
advisory one only warns, and both belong in the summary.
"""

from __future__ import annotations

import re
import threading
from collections import Counter
from dataclasses import dataclass, field

from pulumi.automation.events import (
    EngineEvent,
    OpType,
    PolicyEvent,
    StepEventMetadata,
    SummaryEvent,
)

from automation.propdiff import MISSING, Change, diff_values, lookup

REPLACE_STEPS = {"replace", "create-replacement", "delete-replaced", "import-replacement"}
# Operations that leave the infrastructure (or, for a refresh, the state) as it was.
NO_CHANGE = {"same", "read", "read-replacement", "refresh"}
# The dangerous operations, listed first in a comment.
DANGEROUS = ("replace", "delete")
# Most significant first: a resource shows the first of these among its steps.
_PRECEDENCE = ("replace", "delete", "create", "update", "import", "discard", "read", "same")
# Commands whose property changes are the outputs a refresh found.
REFRESH_COMMANDS = frozenset({"refresh", "refresh-preview"})
# Terminal colours, and the CLI's own colour directives (`<{%fg 1%}>`, `<{%reset%}>`: colors.go).
_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]|<\{%[a-z]+(?: [0-9]+)?%\}>")


def resource_op(steps: list[str]) -> str:
    """The one operation a resource is listed under, from the ops of its steps."""
    ops = {"replace" if s in REPLACE_STEPS else s for s in steps}
    for op in _PRECEDENCE:
        if op in ops:
            return op
    return "same"


@dataclass
class ResourceChange:
    urn: str
    type: str
    steps: list[str] = field(default_factory=list)
    # Properties whose change forces the replacement (the engine's `keys`).
    replace_keys: list[str] = field(default_factory=list)
    properties: list[Change] = field(default_factory=list)
    failed: bool = False

    @property
    def name(self) -> str:
        return self.urn.rsplit("::", 1)[-1]

    @property
    def op(self) -> str:
        return resource_op(self.steps)


@dataclass(frozen=True)
class PolicyViolation:
    """One `policyEvent`: the engine sends enforcement level `mandatory` or `advisory` for a
    violation (pkg/engine/events.go, policyViolationEvent); a mandatory one fails the run."""

    level: str
    pack: str
    policy: str
    message: str
    urn: str | None = None

    @property
    def mandatory(self) -> bool:
        return self.level == "mandatory"

    @property
    def resource(self) -> str | None:
        return self.urn.rsplit("::", 1)[-1] if self.urn else None


def policy_violation(event: PolicyEvent) -> PolicyViolation:
    return PolicyViolation(
        level=event.enforcement_level or "advisory",
        pack=event.policy_pack_name,
        policy=event.policy_name,
        message=_ANSI.sub("", event.message).strip(),
        urn=event.resource_urn or None,
    )


@dataclass
class ChangeSummary:
    stack: str
    command: str
    resources: dict[str, ResourceChange] = field(default_factory=dict)
    # The engine's counts by operation, when its SummaryEvent arrived.
    engine_counts: dict[str, int] | None = None
    errors: list[str] = field(default_factory=list)
    policy_violations: list[PolicyViolation] = field(default_factory=list)
    # The policy packs the engine ran, name -> version, from its SummaryEvent.
    policy_packs: dict[str, str] = field(default_factory=dict)

    def counts(self) -> dict[str, int]:
        if self.engine_counts is not None:
            return dict(self.engine_counts)
        return dict(Counter(r.op for r in self.resources.values()))

    def has_changes(self) -> bool:
        return any(n > 0 for op, n in self.counts().items() if op not in NO_CHANGE)

    def with_op(self, op: str) -> list[ResourceChange]:
        return sorted(
            (r for r in self.resources.values() if r.op == op), key=lambda r: (r.type, r.urn)
        )

    def failed(self) -> list[ResourceChange]:
        return [r for r in self.resources.values() if r.failed]

    def mandatory_violations(self) -> list[PolicyViolation]:
        return [v for v in self.policy_violations if v.mandatory]


def _visible(properties: object) -> dict:
    # `__defaults` and other `__` keys are the engine's bookkeeping; `pulumi` hides them too.
    return {k: v for k, v in dict(properties or {}).items() if not k.startswith("__")}


def property_changes(metadata: StepEventMetadata, outputs: bool = False) -> list[Change]:
    """What changes in a resource's inputs (or, for a refresh, its outputs) in one step."""
    old_state, new_state = metadata.old, metadata.new
    if new_state is None:
        return []
    new_inputs = _visible(new_state.inputs)
    if old_state is None:
        return diff_values({}, new_inputs)
    old_inputs = _visible(old_state.inputs)
    if outputs:
        return diff_values(_visible(old_state.outputs), _visible(new_state.outputs))
    if not metadata.detailed_diff:
        keys = metadata.diffs or sorted(set(old_inputs) | set(new_inputs))
        changes = []
        for key in keys:
            old, new = old_inputs.get(key, MISSING), new_inputs.get(key, MISSING)
            changes += diff_values(old, new, key)
        return changes
    changes = []
    old_outputs = _visible(old_state.outputs)
    for path, property_diff in sorted(metadata.detailed_diff.items()):
        kind = property_diff.diff_kind.value
        # An input diff compares old and new inputs; otherwise the provider compared the
        # resource's state with the new inputs.
        old = (
            MISSING
            if kind.startswith("add")
            else lookup(old_inputs if property_diff.input_diff else old_outputs, path)
        )
        new = MISSING if kind.startswith("delete") else lookup(new_inputs, path)
        if old is MISSING and new is MISSING:
            continue
        change_kind = "add" if old is MISSING else "delete" if new is MISSING else "update"
        replaces = kind.endswith("-replace")
        changes.append(Change(path, change_kind, old, new, forces_replacement=replaces))
    return changes


class EventCollector:
    """An `on_event` callback that builds a ChangeSummary; thread-safe (the SDK delivers
    events on its own thread)."""

    def __init__(self, stack: str, command: str) -> None:
        self._summary = ChangeSummary(stack, command)
        self._lock = threading.Lock()

    def __call__(self, event: EngineEvent) -> None:
        with self._lock:
            self._take(event)

    def _take(self, event: EngineEvent) -> None:
        if event.resource_pre_event is not None:
            self._step(event.resource_pre_event.metadata)
        elif event.res_outputs_event is not None:
            # For a refresh this carries the result (same, update or delete), not `refresh`.
            self._step(event.res_outputs_event.metadata)
        elif event.res_op_failed_event is not None:
            metadata = event.res_op_failed_event.metadata
            self._resource(metadata).failed = True
        elif event.summary_event is not None:
            self._summary.engine_counts = _counts(event.summary_event)
            packs = event.summary_event.policy_packs or {}
            self._summary.policy_packs = {str(k): str(v) for k, v in packs.items()}
        elif event.policy_event is not None:
            violation = policy_violation(event.policy_event)
            if violation not in self._summary.policy_violations:
                self._summary.policy_violations.append(violation)
        elif event.diagnostic_event is not None:
            diagnostic = event.diagnostic_event
            if diagnostic.severity == "error" and diagnostic.message.strip():
                self._summary.errors.append(_ANSI.sub("", diagnostic.message).strip())

    def _resource(self, metadata: StepEventMetadata) -> ResourceChange:
        resources = self._summary.resources
        if metadata.urn not in resources:
            resources[metadata.urn] = ResourceChange(metadata.urn, metadata.type)
        return resources[metadata.urn]

    def _step(self, metadata: StepEventMetadata) -> None:
        resource = self._resource(metadata)
        op = metadata.op.value
        if op in resource.steps:
            return  # the outputs event of a step already seen
        resource.steps.append(op)
        if metadata.keys:
            resource.replace_keys = sorted(set(resource.replace_keys) | set(metadata.keys))
        if op in NO_CHANGE or op == "delete-replaced":
            return
        if not resource.properties or metadata.op == OpType.REPLACE:
            # The logical `replace` step carries the diff; it wins over the create-replacement
            # that may come first. Only a refresh changes outputs rather than inputs: the
            # `refresh` step that `preview --refresh` takes first does not make the program's
            # update an outputs diff.
            outputs = self._summary.command in REFRESH_COMMANDS
            resource.properties = property_changes(metadata, outputs=outputs)

    def summary(self) -> ChangeSummary:
        with self._lock:
            return self._summary


def _counts(summary: SummaryEvent) -> dict[str, int]:
    counts: Counter[str] = Counter()
    for op, count in (summary.resource_changes or {}).items():
        counts[op.value if isinstance(op, OpType) else str(op)] += int(count)
    return dict(counts)


def collect(events: list[EngineEvent], stack: str, command: str = "preview") -> ChangeSummary:
    """The summary of a list of events (what `EventCollector` builds as they stream)."""
    collector = EventCollector(stack, command)
    for event in events:
        collector(event)
    return collector.summary()
