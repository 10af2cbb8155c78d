"""Small value types the layers share."""

from __future__ import annotations

import ipaddress
import itertools
from dataclasses import dataclass


@dataclass(frozen=True)
class AddressRange:
    """A run of IPv4 addresses, both ends included."""

    first: ipaddress.IPv4Address
    last: ipaddress.IPv4Address

    def __contains__(self, address: ipaddress.IPv4Address) -> bool:
        return self.first <= address <= self.last

    def __str__(self) -> str:
        return f"{self.first}-{self.last}"


MINUTES_PER_DAY = 24 * 60


@dataclass(frozen=True)
class DailySchedule:
    """A cron schedule that fires every day at the same times: minute and hour fields, with
    `*` as day of month, month and day of week (e.g. `17 * * * *`, `0 */6 * * *`)."""

    text: str
    times: tuple[int, ...]  # minutes after midnight at which it fires, sorted

    @classmethod
    def parse(cls, text: str) -> DailySchedule:
        """Raises ValueError naming what is wrong."""
        fields = text.split(" ")
        if len(fields) != 5 or fields[2:] != ["*", "*", "*"]:
            raise ValueError("it must run every day: `*` as day of month, month and weekday")
        minutes = _cron_field(fields[0], 59, "minute")
        hours = _cron_field(fields[1], 23, "hour")
        return cls(text, tuple(sorted(h * 60 + m for h in hours for m in minutes)))

    @property
    def longest_gap_minutes(self) -> int:
        """The longest time between two runs, across midnight too."""
        times = self.times
        gaps = [later - earlier for earlier, later in itertools.pairwise(times)]
        return max([*gaps, times[0] + MINUTES_PER_DAY - times[-1]])

    def __str__(self) -> str:
        return self.text


def _cron_field(text: str, largest: int, what: str) -> set[int]:
    """The values of one numeric cron field: `*`, `n`, `a-b`, each with an optional `/step`,
    separated by commas (robfig/cron's standard syntax, which Kubernetes' CronJob reads,
    without names)."""
    values: set[int] = set()
    for item in text.split(","):
        span, slash, step_text = item.partition("/")
        if not span or (slash and not step_text.isdigit()):
            raise ValueError(f"the {what} field has an empty or malformed part `{item}`")
        step = int(step_text) if step_text else 1
        if span == "*":
            first, last = 0, largest
        else:
            low, dash, high = span.partition("-")
            if not low.isdigit() or (dash and not high.isdigit()):
                raise ValueError(f"the {what} field has a malformed part `{item}`")
            first = int(low)
            last = int(high) if dash else (largest if step_text else first)
        if not 0 <= first <= last <= largest or step < 1:
            raise ValueError(f"the {what} field's `{item}` is outside 0-{largest} or empty")
        values |= set(range(first, last + 1, step))
    return values
