"""The add-on registry: one line per add-on, needs that name add-ons, no cycles, and each
add-on owning its module, its settings and its test."""

from __future__ import annotations

import dataclasses
import re
import typing
from pathlib import Path

import pytest

from components import addons
from components.addons import ADDONS
from components.addons.addon import Addon, deploy_order
from model.settings import PerSite, settings_fields

ADDONS_DIR = Path(addons.__file__).parent
TESTS_DIR = Path(__file__).parent
# The machinery every add-on shares, not add-ons.
SHARED = {"__init__", "addon", "admin", "grafana", "helm", "manifests", "platform"}


def test_names_and_sections_are_unique_and_well_formed():
    names = [a.name for a in ADDONS]
    sections = [a.section for a in ADDONS if a.section]
    assert len(set(names)) == len(names) and len(set(sections)) == len(sections)
    assert all(re.fullmatch(r"[a-z]+(-[a-z]+)*", n) for n in names)
    assert all(re.fullmatch(r"[a-z]+([A-Z][a-z]+)*", s) for s in sections)
    for addon in ADDONS:
        assert (addon.section is None) == (addon.settings is None), addon.name


def test_needs_name_registered_add_ons_without_cycles():
    names = {a.name for a in ADDONS}
    for addon in ADDONS:
        assert set(addon.needs) <= names, addon.name
    order = [a.name for a in deploy_order(ADDONS)]
    for addon in ADDONS:
        assert all(order.index(n) < order.index(addon.name) for n in addon.needs), addon.name
    firsts = [a.name for a in ADDONS if a.first]
    assert order[: len(firsts)] == firsts


def test_a_cycle_is_refused():
    a = Addon(name="a", summary="", deploy=None, needs=("b",))
    b = Addon(name="b", summary="", deploy=None, needs=("a",))
    with pytest.raises(ValueError, match="need each other"):
        deploy_order([a, b])


def test_every_add_on_module_is_registered_once_and_has_its_test():
    modules = {p.stem for p in ADDONS_DIR.glob("*.py")} - SHARED
    modules |= {p.name for p in ADDONS_DIR.iterdir() if (p / "__init__.py").exists()}
    registered = {a.deploy.__module__ if a.deploy else None for a in ADDONS}
    registered |= {a.settings.__module__ for a in ADDONS if a.settings}
    for module in modules:
        assert f"components.addons.{module}" in registered, f"{module} is not in the registry"
        assert (TESTS_DIR / f"test_{module}.py").exists(), f"{module} has no test module"
    assert len(ADDONS) == len(modules)


def test_defaults_are_valid_choices():
    for addon in ADDONS:
        if addon.settings is None:
            continue
        for field, spec, kind in settings_fields(addon.settings):
            if typing.get_origin(kind) is not typing.Literal:
                continue
            defaults = (
                [spec.default.on_premises, spec.default.cloud]
                if isinstance(spec.default, PerSite)
                else [spec.default]
            )
            choices = typing.get_args(kind)
            assert all(d in choices for d in defaults), f"{addon.name}.{field.name}"
            assert dataclasses.is_dataclass(addon.settings)
