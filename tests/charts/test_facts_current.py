"""The recorded chart facts belong to the releases the program registers now.

Each release's facts carry a digest of (chart, version, values) as registered; a pin, a value,
a release name or a namespace that moved without the facts being recorded again fails here,
with the command that records them (it needs the chart sources; see tools/chart_facts.py)."""

from __future__ import annotations

import dataclasses

from tests.charts.conftest import Variant
from tools.chart_facts import (
    CAPABILITIES_FILE,
    FACTS_DIR,
    PROJECT_DIR,
    REGENERATE,
    capability_versions,
    crd_kinds,
)


def stale_facts(variant: Variant) -> list[str]:
    problems = []
    where = FACTS_DIR.relative_to(PROJECT_DIR) / variant.name
    for name, release in sorted(variant.releases.items()):
        facts = variant.facts.get(name)
        if facts is None:
            problems.append(f"release {name}: no facts ({where}/{name}.json is missing)")
            continue
        recorded = (facts["chart"], facts["version"], facts["namespace"])
        current = (release.chart, release.version, release.namespace)
        if recorded != current:
            problems.append(
                f"release {name}: facts are for {' '.join(recorded[:2])} in namespace "
                f"{recorded[2]}, the program registers {' '.join(current[:2])} in namespace "
                f"{current[2]}"
            )
        elif facts["digest"] != release.digest:
            problems.append(f"release {name}: its values changed since its facts were recorded")
    for name in sorted(set(variant.release_facts()) - set(variant.releases)):
        problems.append(f"{where}/{name}.json: the program registers no release {name} any more")
    return problems


def test_every_release_has_current_facts(variant):
    problems = stale_facts(variant)
    assert not problems, (
        f"chart facts of {variant.name} are stale:\n  "
        + "\n  ".join(problems)
        + f"\nrecord them again: {REGENERATE} --variant {variant.name}"
        + "\n(SOURCES: a directory of <chart>-<version>/ chart sources; see tools/chart_facts.py)"
    )


def test_facts_were_rendered_for_the_stacks_kubernetes_and_the_crds_it_installs(variant):
    capabilities = variant.facts[CAPABILITIES_FILE.removesuffix(".json")]
    kube_version = "v" + variant.evaluation.exports["kubernetesVersion"].value
    provided = crd_kinds(c for f in variant.release_facts().values() for c in f["crds"])
    assert (capabilities["kube_version"], capabilities["custom_api_versions"]) == (
        kube_version,
        capability_versions(provided),
    ), f"record the facts again: {REGENERATE} --variant {variant.name}"


def changed(variant: Variant, name: str, **fields) -> Variant:
    release = dataclasses.replace(variant.releases[name], **fields)
    return dataclasses.replace(variant, releases={**variant.releases, name: release})


def test_stale_missing_and_orphaned_facts_are_caught(variant):
    name, release = sorted(variant.releases.items())[0]
    now = set(stale_facts(variant))
    assert set(stale_facts(changed(variant, name, values={"replicas": 7}))) - now == {
        f"release {name}: its values changed since its facts were recorded"
    }
    assert set(stale_facts(changed(variant, name, version="0.0.1"))) - now == {
        f"release {name}: facts are for {release.chart} {release.version} in namespace "
        f"{release.namespace}, the program registers {release.chart} 0.0.1 in namespace "
        f"{release.namespace}"
    }
    renamed = {("other" if n == name else n): r for n, r in variant.releases.items()}
    assert set(stale_facts(dataclasses.replace(variant, releases=renamed))) - now == {
        f"release other: no facts (tests/fixtures/chart_facts/{variant.name}/other.json is "
        "missing)",
        f"tests/fixtures/chart_facts/{variant.name}/{name}.json: the program registers no "
        f"release {name} any more",
    }
