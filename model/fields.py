"""Reading untyped stack config into typed values while collecting every problem.

A `Fields` reader wraps one mapping of the config at a known key path. Each getter returns the
typed value, or `None` after recording a `Problem` that names the key path, the bad value and
the fix, so that one run reports every mistake at once instead of the first one.
"""

from __future__ import annotations

import difflib
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pulumi

MISSING: Any = object()


@dataclass(frozen=True)
class Problem:
    key: str
    value: Any
    message: str
    fix: str

    def render(self) -> str:
        shown = "(not set)" if self.value is MISSING else json.dumps(self.value, default=str)
        return f"{self.key} = {shown}: {self.message}. Fix: {self.fix}"


class ConfigError(pulumi.RunError):
    """Every problem found in the stack config; `pulumi up` prints it without a traceback."""

    def __init__(self, problems: Sequence[Problem]) -> None:
        self.problems = tuple(problems)
        lines = "\n".join(f"  - {p.render()}" for p in self.problems)
        noun = "problem" if len(self.problems) == 1 else "problems"
        super().__init__(
            f"the stack config has {len(self.problems)} {noun}; nothing was changed:\n{lines}"
        )


@dataclass
class Problems:
    found: list[Problem] = field(default_factory=list)

    def add(self, key: str, value: Any, message: str, fix: str) -> None:
        self.found.append(Problem(key, value, message, fix))

    def raise_if_any(self) -> None:
        if self.found:
            raise ConfigError(self.found)


def suggestion(word: str, choices: Iterable[str]) -> str:
    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return f"did you mean '{close[0]}'?" if close else f"known keys: {', '.join(sorted(choices))}"


class Fields:
    """Typed access to one config mapping; unknown keys are reported with a did-you-mean."""

    def __init__(
        self, data: Mapping[str, Any], path: str, problems: Problems, known: Iterable[str]
    ) -> None:
        self.data = data
        self.path = path
        self.problems = problems
        known = tuple(known)
        for key in data:
            if key not in known:
                problems.add(
                    self.key(key), data[key], "unknown key", f"remove it; {suggestion(key, known)}"
                )

    def key(self, name: str) -> str:
        # The root reader's path is the namespace, `ml-platform:`; keys below it read like the
        # `--path` argument of `pulumi config set`.
        return f"{self.path}{name}" if self.path.endswith(":") else f"{self.path}.{name}"

    def raw(self, name: str) -> Any:
        return self.data.get(name, MISSING)

    def bad(self, name: str, message: str, fix: str) -> None:
        self.problems.add(self.key(name), self.raw(name), message, fix)

    def _typed(self, name: str, default: Any, kinds: tuple[type, ...], what: str) -> Any:
        value = self.raw(name)
        if value is MISSING:
            if default is MISSING:
                self.bad(name, "is required", f"set it to {what}")
            return None if default is MISSING else default
        # bool is an int in Python; a YAML `true` is never a valid count.
        if (isinstance(value, bool) and bool not in kinds) or not isinstance(value, kinds):
            self.bad(name, f"must be {what}, got {type(value).__name__}", f"set it to {what}")
            return None
        return value

    def string(self, name: str, default: Any = MISSING) -> str | None:
        value = self._typed(name, default, (str,), "a string")
        if value == "" and default is MISSING:
            self.bad(name, "must not be empty", "set it to a non-empty string")
            return None
        return value

    def boolean(self, name: str, default: Any = MISSING) -> bool | None:
        return self._typed(name, default, (bool,), "true or false")

    def integer(self, name: str, default: Any = MISSING, minimum: int = 0) -> int | None:
        value = self._typed(name, default, (int,), f"a whole number >= {minimum}")
        if value is not None and value < minimum:
            self.bad(name, f"must be at least {minimum}", f"set it to a number >= {minimum}")
            return None
        return value

    def choice(self, name: str, choices: Sequence[str], default: Any = MISSING) -> str | None:
        value = self.string(name, default)
        if value is not None and value not in choices:
            hint = suggestion(value, choices).replace("known keys", "choices")
            self.bad(name, f"must be one of {', '.join(choices)}", hint)
            return None
        return value

    def items(self, name: str, default: Any = MISSING) -> list[Any] | None:
        return self._typed(name, default, (list,), "a list")

    def section(self, name: str, known: Iterable[str], required: bool = False) -> Fields | None:
        """The nested mapping `name` as a reader, an empty one when absent and optional."""
        value = self.raw(name)
        if value is MISSING:
            if required:
                self.bad(name, "is required", "add this section")
                return None
            value = {}
        if not isinstance(value, Mapping):
            self.bad(
                name, f"must be a mapping, got {type(value).__name__}", "write it as key: value"
            )
            return None
        return Fields(value, self.key(name), self.problems, known)

    def element(self, name: str, index: int, value: Any, known: Iterable[str]) -> Fields | None:
        """The list entry `name[index]` as a reader."""
        path = f"{self.key(name)}[{index}]"
        if not isinstance(value, Mapping):
            self.problems.add(path, value, "must be a mapping", "write it as {key: value, ...}")
            return None
        return Fields(value, path, self.problems, known)
