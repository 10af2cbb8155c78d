"""Building blocks of the Markdown that CI posts: markers, tables, code fences, and fitting
a comment into GitHub's size limit."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field

# GitHub refuses an issue or pull-request comment body longer than this many characters.
GITHUB_COMMENT_LIMIT = 65536
_BACKTICKS = re.compile(r"`+")


def marker(kind: str, stack: str) -> str:
    """The hidden first line by which a workflow finds its earlier comment for this stack
    and kind, and updates it instead of adding another."""
    return f"<!-- ml-platform:{kind}:{stack} -->"


def code(text: str) -> str:
    """Inline code that survives backticks inside `text`."""
    longest = max((len(m) for m in _BACKTICKS.findall(text)), default=0)
    ticks = "`" * (longest + 1)
    return f"{ticks} {text} {ticks}" if longest else f"{ticks}{text}{ticks}"


def fence(body: str) -> str:
    """A code fence longer than any run of backticks in `body`, so `body` cannot close it."""
    longest = max((len(m) for m in _BACKTICKS.findall(body)), default=0)
    return "`" * max(3, longest + 1)


def fenced(lines: Sequence[str], language: str = "diff") -> str:
    body = "\n".join(lines)
    return f"{fence(body)}{language}\n{body}\n{fence(body)}"


def table(header: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---:|" * len(header)]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return "\n".join(lines)


@dataclass
class Section:
    """Items that can be dropped from the end when the comment is too long; `opening` and
    `closing` wrap them (a heading, `<details>`...) and are kept whenever an item is."""

    items: list[str] = field(default_factory=list)
    opening: str = ""
    closing: str = ""


def diff_details(blocks: Sequence[Sequence[str]], summary: str | None = None) -> Section:
    """A folded `diff` block with one item per resource, so a cut falls between resources."""
    items = ["\n".join(block) for block in blocks]
    ticks = fence("\n".join(items))
    count = f"{len(items)} resource{'' if len(items) == 1 else 's'}"
    summary = summary or f"Full diff ({count})"
    return Section(
        items,
        opening=f"\n<details><summary>{summary}</summary>\n\n{ticks}diff",
        closing=f"{ticks}\n</details>",
    )


def truncation_note(omitted: int, limit: int) -> str:
    return (
        f"\n> [!NOTE]\n> Cut to fit GitHub's limit of {limit:,} characters per comment: "
        f"{omitted} more {'entry is' if omitted == 1 else 'entries are'} not shown here. "
        "The workflow run's log has the complete output."
    )


def assemble(
    head: str, sections: Sequence[Section], footer: str = "", limit: int = GITHUB_COMMENT_LIMIT
) -> str:
    """`head`, then each section's items in order while they fit, then `footer`. What does
    not fit is dropped from the end, and a note says how much; the result is never longer
    than `limit`."""
    total_items = sum(len(s.items) for s in sections)
    # Room for the note is kept from the start: whether it is needed is known only at the end.
    reserve = len(truncation_note(total_items, limit)) + len(footer) + 4
    parts, size, shown = [head], len(head), 0
    full = False
    for section in sections:
        if full or not section.items:
            continue
        opened = False
        for item in section.items:
            cost = (
                len(item) + 1 + (0 if opened else len(section.opening) + len(section.closing) + 2)
            )
            if size + cost + reserve > limit:
                full = True
                break
            if not opened:
                parts.append(section.opening)
                size += len(section.opening) + 1
                opened = True
            parts.append(item)
            size += len(item) + 1
            shown += 1
        if opened:
            parts.append(section.closing)
            size += len(section.closing) + 1
    if shown < total_items:
        parts.append(truncation_note(total_items - shown, limit))
    if footer:
        parts.append(footer)
    text = "\n".join(p for p in parts if p)
    if len(text) > limit:
        # Only a head longer than the limit gets here.
        note = truncation_note(total_items - shown, limit)
        text = text[: limit - len(note) - 2] + "\n\n" + note
    return text
