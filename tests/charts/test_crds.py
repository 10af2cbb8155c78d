"""Every custom resource has its CRD installed before it: by the same release's `crds/`
(Helm installs those first and waits for them), or by a release it waits for.

Helm maps every object of a release to an API before it creates any, so a release whose
templates hold a custom resource fails ("no matches for kind ... ensure CRDs are installed
first") unless the CRD is served already: a CRD in the same release's templates is too late.
The same holds for the custom objects the program registers itself. Built-in kinds are the GA
kinds of the stack's Kubernetes version (kubernetes-validate's schemas)."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping

from automation.engine import Evaluation, Registration
from tests.charts.conftest import Variant
from tests.charts.graph import CRD_TYPES, object_kind, upstream
from tools.chart_facts import builtin_kinds, crd_kinds, group_version, kubernetes_minor

Kind = tuple[str, str, str]


def providers(variant: Variant) -> dict[str, set[Kind]]:
    """The kinds each provider serves once it is installed, by URN: releases (CRDs from
    `crds/` and templates alike) and CRDs the program registers itself."""
    served = {
        variant.releases[name].urn: crd_kinds(facts["crds"])
        for name, facts in variant.release_facts().items()
        if name in variant.releases
    }
    for registration in variant.evaluation.registrations:
        if registration.type in CRD_TYPES:
            spec = registration.inputs.get("spec") or {}
            served[registration.urn] = {
                (spec.get("group"), v.get("name"), (spec.get("names") or {}).get("kind"))
                for v in spec.get("versions") or []
                if v.get("served")
            }
    return served


def builtin(evaluation: Evaluation) -> frozenset[Kind]:
    return builtin_kinds(kubernetes_minor(evaluation.exports["kubernetesVersion"].value))


def describe(kind: Kind) -> str:
    group, version, name = kind
    return f"{name} ({group}/{version})" if group else f"{name} ({version})"


def why_missing(kind: Kind, served: Mapping[str, set[Kind]], names: Mapping[str, str]) -> str:
    """Why `kind` is not served in time, naming what would serve it."""
    elsewhere = sorted(names.get(urn, urn) for urn, kinds in served.items() if kind in kinds)
    if elsewhere:
        return f"its CRD comes from {', '.join(elsewhere)}, which it does not wait for"
    return "nothing the program installs provides its CRD"


def custom_resources_without_crds(variant: Variant) -> list[str]:
    served = providers(variant)
    known = builtin(variant.evaluation)
    names = {r.urn: f"release {n}" for n, r in variant.releases.items()}
    problems = []
    for name, facts in sorted(variant.release_facts().items()):
        release = variant.releases.get(name)
        if release is None:
            continue  # facts of a release that is gone: test_facts_current says so
        available = crd_kinds(c for c in facts["crds"] if c["source"] == "crds")
        available |= {
            k for urn in upstream(variant.evaluation, release.urn) for k in served.get(urn, ())
        }
        own_templates = crd_kinds(c for c in facts["crds"] if c["source"] != "crds")
        others = {urn: kinds for urn, kinds in served.items() if urn != release.urn}
        for item in facts["objects"]:
            kind = (*group_version(item["apiVersion"]), item["kind"])
            if kind in known or kind in available:
                continue
            if kind in own_templates:
                reason = "its CRD is in the same release's templates, too late for Helm"
            else:
                reason = why_missing(kind, others, names)
            problems.append(f"release {name} renders {describe(kind)}: {reason}")
    for registration in variant.evaluation.registrations:
        kind = object_kind(registration)
        if kind is None or kind in known:
            continue
        before = upstream(variant.evaluation, registration.urn)
        if kind not in {k for urn in before for k in served.get(urn, ())}:
            problems.append(
                f"{registration.type} {registration.name}: {why_missing(kind, served, names)}"
            )
    return sorted(set(problems))


def test_every_custom_resource_has_its_crd_installed_first(variant):
    problems = custom_resources_without_crds(variant)
    assert not problems, f"{variant.name}:\n  " + "\n  ".join(problems)


def test_the_check_sees_custom_resources_of_charts_and_of_the_program(variant):
    known = builtin(variant.evaluation)
    rendered = {
        (*group_version(o["apiVersion"]), o["kind"])
        for f in variant.release_facts().values()
        for o in f["objects"]
    }
    assert ("monitoring.coreos.com", "v1", "ServiceMonitor") in rendered - known
    own = {object_kind(r) for r in variant.evaluation.registrations} - {None} - set(known)
    assert ("cert-manager.io", "v1", "ClusterIssuer") in own


def _waits_for_nothing(registration: Registration) -> Registration:
    return dataclasses.replace(registration, dependencies=frozenset(), property_dependencies={})


def new_problems(variant: Variant, changed: Variant) -> set[str]:
    return set(custom_resources_without_crds(changed)) - set(custom_resources_without_crds(variant))


def test_a_release_that_does_not_wait_for_its_crds_is_caught(variant):
    """cert-manager's ServiceMonitor and the issuers and certificate of the program, with
    nothing of theirs waiting any more for the releases that provide their CRDs."""
    cert_manager = variant.releases["cert-manager"]
    issued = [r for r in variant.evaluation.registrations if "cert-manager.io/" in r.type]
    unwired = {cert_manager.urn} | {r.urn for r in issued}
    registrations = [
        _waits_for_nothing(r) if r.urn in unwired else r for r in variant.evaluation.registrations
    ]
    evaluation = Evaluation(variant.name, registrations, variant.evaluation.exports)
    assert issued
    assert new_problems(variant, dataclasses.replace(variant, evaluation=evaluation)) == {
        "release cert-manager renders ServiceMonitor (monitoring.coreos.com/v1): its CRD comes "
        "from release prometheus-operator-crds, which it does not wait for",
        *(
            f"{r.type} {r.name}: its CRD comes from release cert-manager, which it does not "
            "wait for"
            for r in issued
        ),
    }


def test_an_unknown_kind_and_a_crd_in_the_same_releases_templates_are_caught(variant):
    traefik = variant.facts["traefik"]
    late = {"group": "late.example.io", "kind": "Pool", "versions": ["v1"], "source": "templates"}
    facts = {
        **variant.facts,
        "traefik": {
            **traefik,
            "crds": [*traefik["crds"], late],
            "objects": [
                *traefik["objects"],
                {"apiVersion": "example.io/v1", "kind": "Widget", "namespace": "traefik"},
                {"apiVersion": "late.example.io/v1", "kind": "Pool", "namespace": "traefik"},
            ],
        },
    }
    assert new_problems(variant, dataclasses.replace(variant, facts=facts)) == {
        "release traefik renders Widget (example.io/v1): nothing the program installs provides "
        "its CRD",
        "release traefik renders Pool (late.example.io/v1): its CRD is in the same release's "
        "templates, too late for Helm",
    }
