"""Every values key the program sets exists in its pinned chart.

Helm ignores a key a chart does not read, so a misspelt key silently does nothing. Each
`tests/fixtures/chart_values/<chart>.keys` lists the key paths of the chart's values.yaml at
the pinned version (made with tools/chart_keys.py from the upstream file); the header names
that version, so moving a pin without refreshing the list fails here.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from automation.engine import Evaluation
from components import versions
from tests.helpers import RELEASE, evaluate_changed

KEYS_DIR = Path(__file__).resolve().parents[2] / "fixtures" / "chart_values"


@dataclass(frozen=True)
class ChartKeys:
    chart: str
    version: str
    keys: frozenset[str]
    # Mappings the chart declares empty: whatever goes below them is the user's.
    open_maps: frozenset[str]

    def accepts(self, path: str) -> bool:
        if path in self.keys:
            return True
        parts = path.split(".")
        return any(".".join(parts[:i]) in self.open_maps for i in range(1, len(parts)))


def load_keys(path: Path) -> ChartKeys:
    lines = path.read_text(encoding="utf-8").splitlines()
    chart, version = lines[0].removeprefix("# chart: ").split()
    keys, open_maps = set(), set()
    for line in lines[1:]:
        if line.startswith("#") or not line.strip():
            continue
        if line.startswith("+"):
            # Read by the chart's templates though values.yaml leaves it out; say where.
            assert "#" in line, f"{path.name}: a hand-added key must say which template reads it"
            line = line[1:].split("#")[0]
        key = line.strip()
        if key.endswith(".*"):
            open_maps.add(key[:-2])
        else:
            keys.add(key)
    return ChartKeys(chart, version, frozenset(keys), frozenset(open_maps))


def value_paths(values: Any, prefix: str = "") -> Iterator[str]:
    """The key paths a values mapping sets; a list is one value (Helm replaces it whole)."""
    for key, value in values.items():
        path = f"{prefix}{key}"
        yield path
        if isinstance(value, dict) and value:
            yield from value_paths(value, f"{path}.")


def chart_name(chart: str) -> str:
    return chart.rsplit("/", 1)[-1]  # an OCI reference ends in the chart's name


# Values a chart hands to a subchart (`<subchart>.` paths), checked against that subchart's
# own keys list as well as the parent's (which names only what the parent overrides).
SUBCHARTS = {"kube-prometheus-stack": ("grafana",)}


def unknown_keys(release_inputs: dict) -> list[str]:
    name = chart_name(release_inputs["chart"])
    keys = load_keys(KEYS_DIR / f"{name}.keys")
    assert keys.version == release_inputs["version"], (
        f"{keys.chart} is pinned to {release_inputs['version']} but its keys list is from "
        f"{keys.version}: regenerate it with tools/chart_keys.py"
    )
    subcharts = {sub: load_keys(KEYS_DIR / f"{sub}.keys") for sub in SUBCHARTS.get(name, ())}

    def accepted(path: str) -> bool:
        sub, _, rest = path.partition(".")
        return keys.accepts(path) or (
            sub in subcharts and bool(rest) and subcharts[sub].accepts(rest)
        )

    return [p for p in value_paths(release_inputs.get("values") or {}) if not accepted(p)]


def every_variant() -> list[Evaluation]:
    """Both stacks, plus the settings that reach values only when changed."""

    def options(config):
        config["platform"]["monitoring"] = {"storageClass": "local-nvme", "pushgateway": True}
        config["platform"]["autoscaling"] = {"vpa": "auto"}

    from tools.chart_facts import evaluated

    return [
        evaluate_changed("lab", lambda c: None).check(),
        evaluate_changed("dev", lambda c: None).check(),
        evaluate_changed("lab", options).check(),
        evaluate_changed("lab", lambda c: c["kubernetes"].update(cni="canal")).check(),
        # Longhorn and MinIO: the chart facts' variant, evaluated once per session.
        evaluated("lab-longhorn-minio"),
    ]


@pytest.fixture(scope="module")
def releases_seen(campus) -> list[dict]:
    # The tenants' test stack has an OIDC provider: the values of logins through it.
    return [r.inputs for e in [*every_variant(), campus] for r in e.of_type(RELEASE)]


def test_every_values_key_exists_in_the_pinned_chart(releases_seen):
    problems = {
        f"{chart_name(inputs['chart'])} {inputs['version']}": unknown
        for inputs in releases_seen
        if (unknown := unknown_keys(inputs))
    }
    assert problems == {}


def test_every_keys_list_belongs_to_a_release_the_program_makes(releases_seen):
    used = {chart_name(inputs["chart"]) for inputs in releases_seen}
    # grafana.keys is the kube-prometheus-stack subchart's list (SUBCHARTS).
    listed = {p.stem for p in KEYS_DIR.glob("*.keys")} - {"grafana"}
    assert listed == used


def test_a_misspelt_key_is_caught():
    traefik = {"chart": "traefik", "version": versions.TRAEFIK.version}
    assert unknown_keys({**traefik, "values": {"ingressClass": {"isDefault": True}}}) == [
        "ingressClass.isDefault"
    ]
    assert (
        unknown_keys({**traefik, "values": {"service": {"annotations": {"any/thing": "x"}}}}) == []
    )


def test_a_moved_pin_without_a_fresh_keys_list_is_caught():
    with pytest.raises(AssertionError, match="regenerate it"):
        unknown_keys(
            {"chart": "traefik", "version": versions.TRAEFIK.version + "-moved", "values": {}}
        )
