"""Chart facts and the offline evaluations they belong to (each evaluated once per session)."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from automation.engine import Evaluation
from tools.chart_facts import VARIANTS, Release, evaluated, load_facts, releases


@dataclass(frozen=True)
class Variant:
    name: str
    evaluation: Evaluation
    releases: dict[str, Release]
    # Recorded facts by release name; `_capabilities` is what they were rendered with.
    facts: dict[str, dict]

    def release_facts(self) -> dict[str, dict]:
        return {name: f for name, f in self.facts.items() if not name.startswith("_")}


@pytest.fixture(scope="session", params=[v.name for v in VARIANTS])
def variant(request) -> Variant:
    evaluation = evaluated(request.param)
    return Variant(request.param, evaluation, releases(evaluation), load_facts(request.param))
