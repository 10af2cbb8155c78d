"""The offline config diff: what a change does to the resources a stack registers.

`python -m automation diff --stack lab --base origin/main` evaluates the program twice with
the offline engine, at the base ref and in the working tree, and lists the resources added,
removed and changed, with input-level diffs and secrets masked. No credentials, no state and
no Pulumi CLI: it is what reviewers of pull requests from forks get.

The base is exported with `git archive` into a temporary directory (the repository and its
worktrees are left alone) and evaluated there, in its own Python process, by its own engine
and program: the two revisions cannot share one interpreter, as both import `stacks` and
`components`. Only the JSON writer comes from this tree (`registrations.py`, loaded under
another name), so both sides are written in one format even when the base predates it.
"""

from __future__ import annotations

import io
import json
import subprocess
import sys
import tarfile
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from automation import registrations
from automation.engine import PROJECT_DIR, evaluate, load_stack
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
from automation.propdiff import Change, change_lines, diff_values

DEFAULT_BASE = "origin/main"
PACKAGE_DIR = Path(__file__).resolve().parent
# Run in the base checkout: this tree's `registrations` module as package `_ml_platform_head`,
# so that its relative imports stay in this tree while `automation` is the base's.
_BOOTSTRAP = """
import importlib.util, sys
package_dir, checkout, stack, output = sys.argv[1:5]
sys.path.insert(0, checkout)
spec = importlib.util.spec_from_file_location(
    "_ml_platform_head", package_dir + "/__init__.py", submodule_search_locations=[package_dir]
)
package = importlib.util.module_from_spec(spec)
sys.modules["_ml_platform_head"] = package
spec.loader.exec_module(package)
from _ml_platform_head.registrations import write_checkout_document
sys.exit(write_checkout_document(stack, output))
"""


class DiffError(Exception):
    """The diff cannot be made (unknown ref, no git, the base crashed); the message says why."""


@dataclass
class ResourceDiff:
    urn: str
    type: str
    name: str
    changes: list[Change] = field(default_factory=list)
    # The resource declares `replace_on_changes` for a changed property: a replacement.
    replaced: bool = False


@dataclass
class DiffReport:
    stack: str
    base: str
    head: str = "the working tree"
    added: list[ResourceDiff] = field(default_factory=list)
    removed: list[ResourceDiff] = field(default_factory=list)
    changed: list[ResourceDiff] = field(default_factory=list)
    unchanged: int = 0
    exports: list[Change] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    error: str | None = None

    def has_changes(self) -> bool:
        return bool(self.added or self.removed or self.changed or self.exports)


def _git(args: list[str], cwd: Path) -> subprocess.CompletedProcess[bytes]:
    try:
        return subprocess.run(["git", *args], cwd=cwd, capture_output=True, check=False)
    except FileNotFoundError as error:
        raise DiffError("git is not installed; the offline diff reads the base from git") from error


def resolve(ref: str, project_dir: Path) -> str:
    """The full hash of the commit `ref` names."""
    found = _git(["rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}"], project_dir)
    if found.returncode != 0:
        raise DiffError(
            f"unknown git ref {ref!r} in {project_dir}. Fetch it first "
            "(`git fetch origin main`; in GitHub Actions, actions/checkout with fetch-depth: 0)."
        )
    return found.stdout.decode().strip()


def checkout(commit: str, project_dir: Path, into: Path) -> Path:
    """Export the tree of `commit` into `into`; the project's directory in it."""
    prefix = _git(["rev-parse", "--show-prefix"], project_dir).stdout.decode().strip()
    archive = _git(["archive", "--format=tar", commit], project_dir)
    if archive.returncode != 0:
        raise DiffError(f"git archive {commit} failed: {archive.stderr.decode().strip()}")
    with tarfile.open(fileobj=io.BytesIO(archive.stdout)) as tar:
        tar.extractall(into, filter="data")
    return into / prefix


def evaluate_checkout(checkout_dir: Path, stack: str, timeout: int = 600) -> dict[str, Any]:
    """The registrations document of `stack` in another checkout, by its own engine."""
    with tempfile.TemporaryDirectory(prefix="ml-platform-registrations-") as temporary:
        output = Path(temporary) / "registrations.json"
        command = [sys.executable, "-c", _BOOTSTRAP, str(PACKAGE_DIR), str(checkout_dir), stack]
        result = subprocess.run(
            [*command, str(output)],
            cwd=checkout_dir,
            capture_output=True,
            text=True,
            check=False,
            timeout=timeout,
        )
        if result.returncode != 0 or not output.exists():
            tail = "\n".join(result.stderr.strip().splitlines()[-15:])
            raise DiffError(
                f"evaluating the base checkout failed (exit {result.returncode}):\n{tail}"
            )
        return json.loads(output.read_text())


def evaluate_here(stack: str, project_dir: Path = PROJECT_DIR) -> dict[str, Any]:
    """The registrations document of `stack` in this tree, evaluated in this process."""
    settings = load_stack(stack, project_dir)
    return registrations.document(evaluate(stack, settings, program=project_dir / "__main__.py"))


def _replaced(resource: dict[str, Any], changes: list[Change]) -> bool:
    declared = set(resource.get("replaceOnChanges") or ())
    if "*" in declared:
        return True
    changed = {c.path.split(".")[0].split("[")[0] for c in changes}
    return bool(declared & changed)


def compare(base: dict[str, Any], head: dict[str, Any], base_label: str = "base") -> DiffReport:
    """The differences between two registrations documents, by URN."""
    report = DiffReport(stack=head.get("stack") or base.get("stack") or "", base=base_label)
    before = {r["urn"]: r for r in base.get("resources", [])}
    after = {r["urn"]: r for r in head.get("resources", [])}
    for urn in sorted(after.keys() - before.keys()):
        resource = after[urn]
        additions = diff_values({}, resource["inputs"])
        report.added.append(ResourceDiff(urn, resource["type"], resource["name"], additions))
    for urn in sorted(before.keys() - after.keys()):
        resource = before[urn]
        report.removed.append(ResourceDiff(urn, resource["type"], resource["name"]))
    for urn in sorted(before.keys() & after.keys()):
        changes = diff_values(before[urn]["inputs"], after[urn]["inputs"])
        if not changes:
            report.unchanged += 1
            continue
        resource = after[urn]
        replaced = _replaced(resource, changes)
        report.changed.append(
            ResourceDiff(urn, resource["type"], resource["name"], changes, replaced)
        )
    report.exports = diff_values(base.get("exports", {}), head.get("exports", {}))
    return report


def run(stack: str, base_ref: str = DEFAULT_BASE, project_dir: Path = PROJECT_DIR) -> DiffReport:
    """Diff `stack` between `base_ref` and the working tree of `project_dir`."""
    commit = resolve(base_ref, project_dir)
    label = f"{base_ref} ({commit[:10]})"
    try:
        head = evaluate_here(stack, project_dir)
    except FileNotFoundError as error:
        raise DiffError(str(error)) from error
    if head.get("error"):
        report = DiffReport(stack, label)
        report.error = f"This revision fails for stack {stack!r}:\n{head['error']}"
        return report
    with tempfile.TemporaryDirectory(prefix="ml-platform-base-") as temporary:
        base = evaluate_checkout(checkout(commit, project_dir, Path(temporary)), stack)
    if base.get("error"):
        report = DiffReport(stack, label)
        report.error = f"The program at {label} fails for stack {stack!r}:\n{base['error']}"
        return report
    report = compare(base, head, label)
    if "missing" in base:
        report.notes.append(f"Stack {stack!r} does not exist at {label}: everything is new.")
    return report


# ---- rendering -------------------------------------------------------------------------------


def _counts(report: DiffReport) -> str:
    parts = [
        f"{len(items)} {word}"
        for items, word in (
            (report.removed, "removed"),
            (report.changed, "changed"),
            (report.added, "added"),
        )
        if items
    ]
    if report.exports:
        parts.append(f"{len(report.exports)} stack output change{'s' * (len(report.exports) > 1)}")
    return ", ".join(parts) if parts else "no changes"


def _block(resource: ResourceDiff, sign: str) -> list[str]:
    note = " (replaceOnChanges: replaced)" if resource.replaced else ""
    lines = [f"{sign} {resource.type} {resource.name}{note}", f"  {resource.urn}"]
    for change in resource.changes:
        lines += change_lines(change)
    return lines


def render_text(report: DiffReport) -> str:
    out = [f"Offline diff of stack '{report.stack}': {report.base} -> {report.head}"]
    if report.error:
        return "\n".join([*out, "", report.error])
    out.append(
        f"  {len(report.added)} added, {len(report.removed)} removed, "
        f"{len(report.changed)} changed, {report.unchanged} unchanged"
    )
    out += [f"  note: {note}" for note in report.notes]
    for title, items, sign in (
        ("Removed", report.removed, "-"),
        ("Changed", report.changed, "~"),
        ("Added", report.added, "+"),
    ):
        if items:
            out += ["", f"{title} ({len(items)}):"]
            for resource in items:
                out += ["  " + line for line in _block(resource, sign)]
    if report.exports:
        out += ["", "Stack outputs:"]
        for change in report.exports:
            out += ["  " + line for line in change_lines(change)]
    return "\n".join(out)


def _entry(resource: ResourceDiff, changed: bool) -> str:
    line = f"- {code(resource.name)} ({code(resource.type)})"
    if resource.replaced:
        line += ", **replaced** (`replaceOnChanges`)"
    paths = sorted({c.path for c in resource.changes if c.path}) if changed else []
    if paths:
        shown = ", ".join(code(p) for p in paths[:6])
        line += f": {shown}" + (f" and {len(paths) - 6} more" if len(paths) > 6 else "")
    return line


def render_markdown(
    report: DiffReport, context: str = "", limit: int = GITHUB_COMMENT_LIMIT
) -> str:
    """The pull-request comment: removals first, then changes, then additions, the input
    diffs folded, cut to GitHub's comment size."""
    head = [
        marker("diff", report.stack),
        f"### Offline diff of stack {code(report.stack)}: "
        + ("evaluation failed" if report.error else _counts(report)),
        f"Base {code(report.base)} → {report.head}, evaluated offline (no state, no credentials).",
    ]
    if context:
        head.append(context)
    if report.error:
        head.append("\n" + fenced(report.error.splitlines(), language="text"))
        return assemble("\n".join(head), [], limit=limit)
    head.append(
        "\n"
        + table(
            ["added", "removed", "changed", "unchanged"],
            [[len(report.added), len(report.removed), len(report.changed), report.unchanged]],
        )
    )
    head += [f"\n> {note}" for note in report.notes]
    if report.removed:
        head.append(
            f"\n> [!WARNING]\n> {len(report.removed)} resource"
            f"{'s are' if len(report.removed) != 1 else ' is'} no longer registered: "
            "`pulumi up` deletes them."
        )
    sections = []
    for title, items in (
        ("Removed", report.removed),
        ("Changed", report.changed),
        ("Added", report.added),
    ):
        if items:
            entries = [_entry(r, changed=title == "Changed") for r in items]
            sections.append(Section(entries, opening=f"\n#### {title} ({len(items)})\n"))
    blocks = [_block(r, "~") for r in report.changed] + [_block(r, "+") for r in report.added]
    if report.exports:
        blocks.append(
            ["~ stack outputs", *[line for c in report.exports for line in change_lines(c)]]
        )
    if blocks:
        sections.append(diff_details(blocks, f"Input diffs ({len(blocks)})"))
    footer = (
        "\n<sub>Offline: the resources and inputs the program registers, before any provider "
        "runs. Whether a changed input updates or replaces a resource is the provider's "
        "decision: the real `pulumi preview --diff` shows it. Secret values are shown as "
        "`[secret]`.</sub>"
    )
    return assemble("\n".join(head), sections, footer, limit)
