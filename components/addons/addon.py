"""An add-on as the registry knows it: its config section, its checks, what it needs, what it
deploys. Each add-on module defines one `ADDON`; `components/addons/__init__.py` lists them."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

import pulumi

from components.versions import HelmChart
from model.fields import Fields
from model.identity import Oidc
from model.inventory import Inventory
from model.settings import Context, keys_of, read_settings
from model.site import Site
from model.tenants import TenantsConfig

S = TypeVar("S")


@dataclass(frozen=True)
class AddonContext:
    """What an add-on may use when it deploys."""

    site: Site
    inventory: Inventory
    domain: str
    # Every add-on's settings by name (None for those without a section); an add-on reads
    # another's only where it depends on it.
    settings: Mapping[str, Any]
    # The add-ons this stack deploys.
    enabled_addons: frozenset[str]
    # What it waits for: those of its needs that are enabled, or else the cluster.
    depends_on: Sequence[pulumi.Resource]
    # The add-ons deployed before it, by name.
    deployed: Mapping[str, Deployed]
    # Parent: the platform component; providers come from it.
    opts: pulumi.ResourceOptions
    # Host name -> what makes that host a node of the cluster (its join): what an add-on
    # needs running on particular hosts (Ceph's OSDs on the storage hosts) waits for it.
    nodes: Mapping[str, pulumi.Resource] = field(default_factory=dict)
    # Professors and courses, and the identity provider when there is one.
    tenants: TenantsConfig = field(default_factory=TenantsConfig)
    identity: Oidc | None = None

    def enabled(self, name: str) -> bool:
        return name in self.enabled_addons


@dataclass(frozen=True)
class Deployed:
    """What a deployed add-on gives the rest: its component (what dependents wait for) and
    the stack outputs it adds."""

    component: pulumi.ComponentResource
    exports: Mapping[str, pulumi.Input[Any]] = field(default_factory=dict)


# A check of an add-on's settings: the settings, its section (for key paths), the context and
# every add-on's settings by name. It records problems on the section.
Check = Callable[[S, Fields, Context, Mapping[str, Any]], None]


def _always(_settings: Any, _context: Context) -> bool:
    return True


@dataclass(frozen=True)
class Addon(Generic[S]):
    name: str  # kebab-case; what `needs` name
    summary: str  # one line for the reference
    # None: a config section only, read and checked, that other add-ons act on.
    deploy: Callable[[S, AddonContext], Deployed] | None
    settings: type[S] | None = None  # its config section's dataclass, if it has one
    section: str | None = None  # that section's key under `platform:`
    needs: tuple[str, ...] = ()  # add-ons it waits for when they are enabled
    charts: tuple[HelmChart, ...] = ()
    enabled: Callable[[S, Context], bool] = _always
    # Whether it applies given every add-on's settings by name (an add-on that completes
    # another one, e.g. Longhorn's UI, exists only with it); None: always.
    applies: Callable[[Mapping[str, Any]], bool] | None = None
    when: str = "always"  # when it is enabled, for the reference
    check: Check | None = None
    # Every other add-on waits for it (nodes are not schedulable until it runs).
    first: bool = False
    # The namespaces it creates: no tenant may take their names (stacks/checks.py), whether
    # the add-on is enabled or not, so that enabling it later collides with no tenant.
    namespaces: tuple[str, ...] = ()

    def read(self, platform: Fields, context: Context) -> tuple[bool, S | None, Fields | None]:
        """(ok, settings, section reader) from the `platform:` section."""
        if self.settings is None or self.section is None:
            return True, None, None
        section = platform.section(self.section, keys_of(self.settings))
        if section is None:
            return False, None, None
        settings = read_settings(self.settings, section, context)
        return settings is not None, settings, section


def deploy_order(addons: Sequence[Addon]) -> list[Addon]:
    """`addons` with every add-on after those of its needs that are among them, and the
    `first` ones before all; otherwise in the given order. Raises ValueError on a cycle."""
    names = {a.name for a in addons}
    ordered: list[Addon] = []
    placed: set[str] = set()
    pending = sorted(addons, key=lambda a: not a.first)
    while pending:
        ready = [a for a in pending if all(n in placed or n not in names for n in a.needs)]
        if not ready:
            raise ValueError(f"add-ons need each other: {', '.join(a.name for a in pending)}")
        ordered.append(ready[0])
        placed.add(ready[0].name)
        pending.remove(ready[0])
    return ordered
