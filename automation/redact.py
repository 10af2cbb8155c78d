"""Secret markers as the engine writes them, and masking them for people to read.

Standard library only, and imported relatively by `registrations`: the offline diff loads that
module into the Python process of another checkout (see `automation/diff.py`), where
`automation` is that checkout's package.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

# The engine's property signatures (sdk/go/common/resource/sig): a map whose SIG_KEY holds
# SECRET_SIG is a secret. The SDK's `rpc.is_rpc_secret` checks the same two constants.
SIG_KEY = "4dabf18193072939515e22adb298388d"
SECRET_SIG = "1b47061264138c4ac30d75fd1eb44270"
# What every renderer shows instead of a secret; also how `pulumi` itself prints one, and how
# engine events carry one when secrets are not shown.
MASK = "[secret]"
# The engine's marker for a value not known until the resource exists (a preview's computed).
UNKNOWN = "04da6b54-80e4-46f7-96ec-b56ff0331ba9"


def is_secret(value: Any) -> bool:
    """Whether `value` is a secret as any of our sources write one: the engine's marker map
    (with a `value`, a `ciphertext` or, in our own documents, a `digest`) or the mask."""
    if isinstance(value, str):
        return value == MASK
    return isinstance(value, Mapping) and value.get(SIG_KEY) == SECRET_SIG


def contains_secret(value: Any) -> bool:
    if is_secret(value):
        return True
    if isinstance(value, Mapping):
        return any(contains_secret(v) for v in value.values())
    if isinstance(value, list | tuple):
        return any(contains_secret(v) for v in value)
    return False


def masked(value: Any) -> Any:
    """`value` with every secret replaced by the mask; everything else unchanged."""
    if is_secret(value):
        return MASK
    if isinstance(value, Mapping):
        return {k: masked(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [masked(v) for v in value]
    return value
