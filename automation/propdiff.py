"""Property-level differences between two input maps, and their lines in a `diff` block.

Paths are written the way the engine writes them in a detailed diff (`values.pools[0].cidr`,
`tags["kubernetes.io/role"]`), so changes from engine events and from the offline diff look
the same. Secrets are masked when rendered: a value that is secret on either side of a change
is shown as `[secret]` on both.
"""

from __future__ import annotations

import difflib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from automation.redact import MASK, UNKNOWN, contains_secret, is_secret, masked

INDENT = "    "
MAX_VALUE_CHARS = 240
MAX_LINES = 60


class _Missing:
    def __repr__(self) -> str:
        return "MISSING"


# Absent, as opposed to present with the value None.
MISSING: Any = _Missing()


@dataclass(frozen=True)
class Change:
    path: str
    kind: str  # add | delete | update
    old: Any = MISSING
    new: Any = MISSING
    forces_replacement: bool = False


_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_$-]*$")
_PATH_TOKEN = re.compile(r'\[(\d+)\]|\["((?:[^"\\]|\\.)*)"\]|\.?([^.\[\]"]+)')


def join_path(path: str, key: str | int) -> str:
    if isinstance(key, int):
        return f"{path}[{key}]"
    if _IDENTIFIER.match(key):
        return f"{path}.{key}" if path else key
    return f"{path}[{json.dumps(key)}]"


def parse_path(path: str) -> list[str | int]:
    """`a.b[0]["c.d"]` as `["a", "b", 0, "c.d"]`."""
    parts: list[str | int] = []
    for index, quoted, name in _PATH_TOKEN.findall(path):
        if index:
            parts.append(int(index))
        elif quoted:
            parts.append(json.loads(f'"{quoted}"'))
        else:
            parts.append(name)
    return parts


def lookup(value: Any, path: str) -> Any:
    """The value at an engine property path, or MISSING."""
    for part in parse_path(path):
        in_list = isinstance(part, int) and isinstance(value, list) and part < len(value)
        in_map = isinstance(part, str) and isinstance(value, Mapping) and part in value
        if not (in_list or in_map):
            return MISSING
        value = value[part]
    return value


def diff_values(old: Any, new: Any, path: str = "") -> list[Change]:
    """The leaf-level changes from `old` to `new` (maps by key, equal-length lists by index)."""
    if old is MISSING and new is MISSING:
        return []
    if old is MISSING:
        return [Change(path, "add", new=new)]
    if new is MISSING:
        return [Change(path, "delete", old=old)]
    if old == new:
        return []
    if is_secret(old) or is_secret(new):
        # Never looked into: a secret's marker holds its ciphertext or digest.
        return [Change(path, "update", old, new)]
    if isinstance(old, Mapping) and isinstance(new, Mapping):
        changes: list[Change] = []
        for key in sorted(set(old) | set(new), key=str):
            changes += diff_values(
                old.get(key, MISSING), new.get(key, MISSING), join_path(path, key)
            )
        return changes
    if isinstance(old, list) and isinstance(new, list) and len(old) == len(new):
        return [
            change
            for index, (before, after) in enumerate(zip(old, new, strict=True))
            for change in diff_values(before, after, join_path(path, index))
        ]
    return [Change(path, "update", old, new)]


def short(value: Any) -> str:
    """One line for a value: JSON, cut at MAX_VALUE_CHARS."""
    value = masked(value)
    if value == UNKNOWN:
        return "[unknown until applied]"
    text = json.dumps(value, ensure_ascii=False, sort_keys=True, default=str)
    if len(text) > MAX_VALUE_CHARS:
        text = text[: MAX_VALUE_CHARS - 1] + "…"
    return text


def _capped(lines: list[str]) -> list[str]:
    if len(lines) <= MAX_LINES:
        return lines
    return [*lines[:MAX_LINES], f" {INDENT * 2}… {len(lines) - MAX_LINES} more lines"]


def _text_lines(sign: str, label: str, text: str, suffix: str) -> list[str]:
    body = [f"{sign}{INDENT * 2}{line}" for line in text.splitlines()]
    return [f"{sign}{INDENT}{label}: |{suffix}", *_capped(body)]


def _text_diff(old: str, new: str) -> list[str]:
    lines = []
    diff = difflib.unified_diff(old.splitlines(), new.splitlines(), lineterm="", n=2)
    for line in list(diff)[2:]:  # the ---/+++ file headers
        lines.append(line if line.startswith("@@") else f"{line[0]}{INDENT * 2}{line[1:]}")
    return _capped(lines)


def _list_diff(old: list[Any], new: list[Any]) -> list[str]:
    before, after = [short(v) for v in old], [short(v) for v in new]
    lines, unchanged = [], 0
    matcher = difflib.SequenceMatcher(a=before, b=after, autojunk=False)
    for op, i1, i2, j1, j2 in matcher.get_opcodes():
        if op == "equal":
            unchanged += i2 - i1
            continue
        lines += [f"-{INDENT * 2}[{i}] {before[i]}" for i in range(i1, i2)]
        lines += [f"+{INDENT * 2}[{j}] {after[j]}" for j in range(j1, j2)]
    if unchanged:
        lines.append(f" {INDENT * 2}({unchanged} elements unchanged)")
    return _capped(lines)


def change_lines(change: Change) -> list[str]:
    """The change as lines of a `diff` block: the sign in column 0, so GitHub colours it."""
    label = change.path or "(all inputs)"
    suffix = " (forces replacement)" if change.forces_replacement else ""
    if change.kind == "add":
        new = masked(change.new)
        if isinstance(new, str) and "\n" in new:
            return _text_lines("+", label, new, suffix)
        return [f"+{INDENT}{label}: {short(new)}{suffix}"]
    if change.kind == "delete":
        old = masked(change.old)
        if isinstance(old, str) and "\n" in old:
            return _text_lines("-", label, old, suffix)
        return [f"-{INDENT}{label}: {short(old)}{suffix}"]
    if contains_secret(change.old) or contains_secret(change.new):
        return [f"~{INDENT}{label}: {MASK} => {MASK} (secret value changed){suffix}"]
    old, new = change.old, change.new
    if isinstance(old, str) and isinstance(new, str) and ("\n" in old or "\n" in new):
        return [f"~{INDENT}{label}:{suffix}", *_text_diff(old, new)]
    if isinstance(old, list) and isinstance(new, list):
        return [f"~{INDENT}{label}:{suffix}", *_list_diff(old, new)]
    return [f"~{INDENT}{label}: {short(old)} => {short(new)}{suffix}"]
