"""Both committed stacks, evaluated once per test session, and graph helpers."""

from __future__ import annotations

import pytest

from automation.engine import Evaluation, Registration, evaluate

RELEASE = "kubernetes:helm.sh/v3:Release"


@pytest.fixture(scope="session")
def lab() -> Evaluation:
    return evaluate("lab").check()


@pytest.fixture(scope="session")
def dev() -> Evaluation:
    return evaluate("dev").check()


def releases(evaluation: Evaluation) -> dict[str, Registration]:
    """Helm releases by release name."""
    return {r.inputs["name"]: r for r in evaluation.of_type(RELEASE) if "name" in r.inputs}


def upstream(evaluation: Evaluation, urn: str) -> set[str]:
    """Every URN `urn` waits for, directly or through others."""
    graph = evaluation.by_urn()
    seen: set[str] = set()
    pending = [urn]
    while pending:
        for dependency in graph[pending.pop()].all_dependencies:
            if dependency not in seen and dependency in graph:
                seen.add(dependency)
                pending.append(dependency)
    return seen


def waits_for(evaluation: Evaluation, later: Registration, earlier: Registration) -> bool:
    """Whether `later` waits for `earlier`, directly or through others."""
    return earlier.urn in upstream(evaluation, later.urn)


def custom(evaluation: Evaluation, type_suffix: str, name: str) -> Registration:
    """The one custom resource of a type ending in `type_suffix` named `name`."""
    (match,) = [
        r
        for r in evaluation.registrations
        if r.custom and r.type.endswith(type_suffix) and r.name == name
    ]
    return match
