"""YAML text in and out, through libyaml when PyYAML has it.

The program renders a kubeadm document per host on every run, and the offline plan reads the
stack files; the pure-Python emitter and parser were a fifth of the plan's time.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import yaml

_Dumper = getattr(yaml, "CSafeDumper", yaml.SafeDumper)
_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def dump(document: Any) -> str:
    """One document, keys in the order the program built them."""
    return yaml.dump(document, Dumper=_Dumper, sort_keys=False)


def dump_all(documents: Iterable[Any]) -> str:
    """Several documents separated by `---`."""
    return yaml.dump_all(documents, Dumper=_Dumper, sort_keys=False)


def load(text: str) -> Any:
    """One document, safe types only."""
    return yaml.load(text, Loader=_Loader)
