"""Record the values keys a pinned Helm chart declares, so tests can catch misspelt keys.

Helm ignores a values key the chart does not read, so a typo silently does nothing. This
tool flattens a chart's `values.yaml` into one dotted path per line; the test in
`tests/components/addons/test_chart_values.py` checks every key the program sets against
that list. Regenerate the file whenever the chart's pin in `components/versions.py` moves:

    python tools/chart_keys.py values.yaml --chart traefik --version 39.0.0 \
        --source traefik/traefik-helm-chart@v39.0.0:traefik/values.yaml \
        > tests/fixtures/chart_values/traefik.keys

A path ending in `.*` is an open mapping (declared `{}` upstream): any key below it is the
user's. Keys a chart reads in its templates but leaves out of `values.yaml` may be added by
hand as `+path  # where the template reads it`.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterator
from typing import Any

import yaml


def flatten(values: Any, prefix: str = "") -> Iterator[str]:
    """Every key path of a values mapping; lists are leaves (Helm replaces them whole)."""
    if not isinstance(values, dict):
        return
    for key, value in values.items():
        path = f"{prefix}{key}"
        yield path
        if isinstance(value, dict):
            if value:
                yield from flatten(value, f"{path}.")
            else:
                yield f"{path}.*"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("values", help="the chart's values.yaml at the pinned version")
    parser.add_argument("--chart", required=True)
    parser.add_argument("--version", required=True)
    parser.add_argument("--source", required=True, help="repo@ref:path it was read from")
    args = parser.parse_args(argv)
    with open(args.values, encoding="utf-8") as handle:
        values = yaml.safe_load(handle) or {}
    print(f"# chart: {args.chart} {args.version}")
    print(f"# source: {args.source}")
    for path in flatten(values):
        print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
