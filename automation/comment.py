"""The Markdown comment of a preview (or update, refresh, destroy) for one stack.

One comment per stack and kind: it starts with a hidden marker, so the workflow updates it
in place on every push. Replacements and deletions come first, then policy violations (the
mandatory ones first), the full diff is folded, secrets are masked, and the whole is cut to
GitHub's comment size with a note.
"""

from __future__ import annotations

from automation.events import DANGEROUS, ChangeSummary, PolicyViolation, ResourceChange
from automation.markdown import (
    GITHUB_COMMENT_LIMIT,
    Section,
    assemble,
    code,
    diff_details,
    fenced,
    marker,
    table,
)
from automation.propdiff import change_lines

COLUMNS = ("create", "update", "replace", "delete")
# How many resources of one operation are listed by name before "and N more".
LIST_LIMIT = 40
# How many policy violations are listed, and how much of each message.
POLICY_LIMIT = 20
POLICY_MESSAGE_LIMIT = 400
SIGNS = {"create": "+", "update": "~", "replace": "+-", "delete": "-", "import": "=", "read": ">"}
TITLES = {
    "preview": "Preview",
    "up": "Update",
    "refresh": "Refresh",
    "refresh-preview": "Refresh preview",
    "destroy": "Destroy",
}
HEADINGS = {
    "replace": "Replaced",
    "delete": "Deleted",
    "create": "Created",
    "update": "Updated",
    "import": "Imported",
}


def plural(count: int, noun: str) -> str:
    return f"{count} {noun}{'' if count == 1 else 's'}"


def policy_headline(summary: ChangeSummary) -> str:
    """`2 policy violations (1 mandatory)`, or "" without any."""
    violations = summary.policy_violations
    if not violations:
        return ""
    mandatory = len(summary.mandatory_violations())
    return plural(len(violations), "policy violation") + (
        f" ({mandatory} mandatory)" if mandatory else ""
    )


def headline(summary: ChangeSummary) -> str:
    counts = summary.counts()
    parts = [f"{counts[op]} to {op}" for op in (*DANGEROUS, "create", "update") if counts.get(op)]
    changes = ", ".join(parts) if parts else "no changes"
    policy = policy_headline(summary)
    return f"{changes}; {policy}" if policy else changes


def _violation(violation: PolicyViolation) -> str:
    level = f"**{violation.level}**" if violation.mandatory else violation.level
    line = f"- {level} {code(f'{violation.pack}/{violation.policy}')}"
    if violation.resource:
        line += f" on {code(violation.resource)}"
    message = " ".join(violation.message.split())
    if len(message) > POLICY_MESSAGE_LIMIT:
        message = message[: POLICY_MESSAGE_LIMIT - 1] + "…"
    return f"{line}: {message}" if message else line


def policy_lines(summary: ChangeSummary) -> list[str]:
    """The policy packs that ran and every violation, mandatory ones first."""
    lines = []
    if summary.policy_packs:
        packs = ", ".join(
            f"{code(name)} {version}" for name, version in sorted(summary.policy_packs.items())
        )
        lines.append(f"\nPolicy packs: {packs}.")
    violations = sorted(summary.policy_violations, key=lambda v: not v.mandatory)
    if violations:
        lines.append(f"\n#### Policy violations ({len(violations)})\n")
        mandatory = len(summary.mandatory_violations())
        if mandatory:
            pronoun = "it is" if mandatory == 1 else "they are"
            lines.append(
                f"> [!CAUTION]\n> {plural(mandatory, 'mandatory policy violation')}: "
                f"the {summary.command} cannot go ahead until {pronoun} fixed.\n"
            )
        lines += [_violation(v) for v in violations[:POLICY_LIMIT]]
        if len(violations) > POLICY_LIMIT:
            lines.append(f"- … and {len(violations) - POLICY_LIMIT} more (all in the run's log)")
    return lines


def counts_table(summary: ChangeSummary) -> str:
    counts = summary.counts()
    extra = sorted(
        op
        for op, n in counts.items()
        if n and op not in (*COLUMNS, "same", "read", "refresh", "read-replacement")
    )
    header = [*COLUMNS, *extra, "unchanged"]
    row = [counts.get(op, 0) for op in (*COLUMNS, *extra)] + [counts.get("same", 0)]
    return table(header, [row])


def _entry(resource: ResourceChange) -> str:
    line = f"- {code(resource.name)} ({code(resource.type)})"
    if resource.op == "replace" and resource.replace_keys:
        line += ", replaced because of " + ", ".join(code(k) for k in resource.replace_keys)
    elif resource.op == "update" and resource.properties:
        paths = sorted({c.path for c in resource.properties if c.path})
        shown = ", ".join(code(p) for p in paths[:6])
        line += f": {shown}" + (f" and {len(paths) - 6} more" if len(paths) > 6 else "")
    if resource.failed:
        line += " **(failed)**"
    return line


def _listing(summary: ChangeSummary, op: str, limit: int = LIST_LIMIT) -> Section:
    resources = summary.with_op(op)
    items = [_entry(r) for r in resources[:limit]]
    if len(resources) > limit:
        items.append(f"- … and {len(resources) - limit} more (all in the full diff below)")
    return Section(items, opening=f"\n#### {HEADINGS.get(op, op)} ({len(resources)})\n")


def resource_lines(resource: ResourceChange) -> list[str]:
    """One resource's block in the full diff: a header line, then its property changes."""
    sign = SIGNS.get(resource.op, " ")
    header = f"{sign} {resource.type} {resource.name} ({resource.op})"
    lines = [header, f"  {resource.urn}"]
    for change in resource.properties:
        lines += change_lines(change)
    return lines


def render(
    summary: ChangeSummary,
    *,
    title: str | None = None,
    context: str = "",
    limit: int = GITHUB_COMMENT_LIMIT,
    kind: str | None = None,
) -> str:
    """The comment for `summary`; `context` is a line under the heading (commit, run link)."""
    kind = kind or summary.command
    title = (
        title or f"{TITLES.get(summary.command, summary.command)} of stack {code(summary.stack)}"
    )
    failed = bool(summary.errors or summary.failed())
    status = "failed" if failed else headline(summary)
    head = [marker(kind, summary.stack), f"### {title}: {status}"]
    if context:
        head.append(context)
    head += ["", counts_table(summary)]
    if failed:
        head.append(f"\n**The {summary.command} failed.**")
        if summary.errors:
            head.append(fenced(summary.errors[-10:], language="text"))
    warnings = [
        plural(len(summary.with_op(op)), "replacement" if op == "replace" else "deletion")
        for op in DANGEROUS
        if summary.with_op(op)
    ]
    if warnings:
        head.append(f"\n> [!WARNING]\n> {' and '.join(warnings)}: check these first.")
    head += policy_lines(summary)
    operations = (*DANGEROUS, "create", "update", "import")
    sections = [_listing(summary, op) for op in operations]
    changed = [r for op in operations for r in summary.with_op(op)]
    if changed:
        sections.append(diff_details([resource_lines(r) for r in changed]))
    footer = "\n<sub>Secret values are shown as `[secret]`.</sub>"
    return assemble("\n".join(head), sections, footer, limit)
