"""Stack fixtures for tests: the committed stack files, changed the way a user would."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

from pulumi.runtime import rpc

from automation.engine import Evaluation, StackSettings, evaluate, load_stack

Config = dict[str, Any]
PREFIX = "ml-platform:"


def stack_config(stack: str) -> Config:
    """The plain `ml-platform:` keys of a committed stack file, as data to edit."""
    base = load_stack(stack)
    return {
        key[len(PREFIX) :]: copy.deepcopy(value)
        for key, value in base.values.items()
        if key.startswith(PREFIX) and key not in base.secret_keys
    }


def evaluate_config(stack: str, config: Config, remove: tuple[str, ...] = ()) -> Evaluation:
    """Evaluate `stack` with its plain `ml-platform:` keys replaced by `config`; secrets stay
    (as offline placeholders) unless named in `remove`."""
    base = load_stack(stack)
    values = {
        k: v for k, v in base.values.items() if not k.startswith(PREFIX) or k in base.secret_keys
    }
    values.update({PREFIX + key: value for key, value in config.items()})
    for key in remove:
        values.pop(key, None)
    return evaluate(stack, StackSettings(values, base.secret_keys - set(remove)))


def evaluate_changed(stack: str, change: Callable[[Config], Any]) -> Evaluation:
    config = stack_config(stack)
    change(config)
    return evaluate_config(stack, config)


# Free addresses on the lab's /24 between the last worker (.140) and the MetalLB pool (.200).
FREE_ON_LAB_SEGMENT = 59


def lab_with_workers(count: int) -> Config:
    """The lab stack with `count` GPU workers: the committed ones first, then more added the
    way a user appends hosts: the free addresses of 192.168.10.0/24 first, then the next /24s
    (the host network then widens to a /21)."""
    config = stack_config("lab")
    hosts = config["baremetal"]["hosts"]
    control_planes = [h for h in hosts if "control-plane" in h["roles"]]
    workers = [h for h in hosts if "control-plane" not in h["roles"]][:count]
    for n in range(len(workers), count):
        extra = n - 40
        if extra < FREE_ON_LAB_SEGMENT:
            address = f"192.168.10.{141 + extra}"
        else:
            beyond = extra - FREE_ON_LAB_SEGMENT
            address = f"192.168.{11 + beyond // 250}.{beyond % 250 + 1}"
        workers.append(
            {
                "name": f"gpu-{n + 1:03d}",
                "address": address,
                "roles": ["worker"],
                "gpu": {"model": "rtx-4090", "count": 1},
            }
        )
    config["baremetal"]["hosts"] = control_planes + workers
    if count > 40 + FREE_ON_LAB_SEGMENT:
        config["baremetal"]["hostNetwork"] = "192.168.8.0/21"
    return config


def plain_text(value: Any) -> str:
    """Every string of `value` that is not inside a secret: what a log or plain state shows."""
    if rpc.is_rpc_secret(value):
        return ""
    if isinstance(value, dict):
        return " ".join(plain_text(v) for v in value.values())
    if isinstance(value, list):
        return " ".join(plain_text(v) for v in value)
    return str(value)
