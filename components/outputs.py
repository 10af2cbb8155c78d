"""Working with values some of which are Outputs, at the least cost to the engine."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TypeVar

import pulumi

T = TypeVar("T")
R = TypeVar("R")


def with_resolved(
    values: Mapping[str, pulumi.Input[T]], build: Callable[[dict[str, T]], R]
) -> pulumi.Input[R]:
    """`build(values)` once the Outputs among `values` are known.

    Plain values are passed through, so the SDK tracks only what is unknown (each Output costs
    it tasks and futures, per host), and the result is a plain value when nothing is unknown.
    The result is secret when any Output among `values` is.
    """
    pending = {key: value for key, value in values.items() if isinstance(value, pulumi.Output)}
    if not pending:
        return build(dict(values))
    known = {key: value for key, value in values.items() if key not in pending}
    return pulumi.Output.all(*pending.values()).apply(
        lambda resolved: build({**known, **dict(zip(pending, resolved, strict=True))})
    )
