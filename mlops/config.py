"""Settings read from environment variables, each checked and named in its error.

Every command line takes its defaults from here, so a container is configured by its
environment alone (the contract in docs/mlops.md lists the variables).
"""

from __future__ import annotations

import os

DEFAULT_MODEL_NAME = "breast-cancer-classifier"
DEFAULT_ALIAS = "champion"
DEFAULT_DATASET = "breast_cancer"


class ConfigError(ValueError):
    """A setting is missing or malformed; the message names the variable and the fix."""


def env_str(name: str, default: str | None = None) -> str | None:
    value = os.environ.get(name, "").strip()
    return value or default


def env_float(name: str, default: float) -> float:
    raw = env_str(name)
    if raw is None:
        return default
    try:
        return float(raw)
    except ValueError:
        raise ConfigError(f"{name}={raw!r} is not a number") from None


def env_int(name: str, default: int) -> int:
    raw = env_str(name)
    if raw is None:
        return default
    if not raw.isascii() or not raw.isdigit():
        raise ConfigError(f"{name}={raw!r} is not a non-negative integer")
    return int(raw)


def model_name() -> str:
    return env_str("MLOPS_MODEL_NAME", DEFAULT_MODEL_NAME) or DEFAULT_MODEL_NAME


def model_alias() -> str:
    return env_str("MLOPS_MODEL_ALIAS", DEFAULT_ALIAS) or DEFAULT_ALIAS


def dataset() -> str:
    return env_str("MLOPS_DATASET", DEFAULT_DATASET) or DEFAULT_DATASET
