"""The `platform:` section and MlPlatform, which deploys every enabled add-on of the registry
in the order their `needs` give, so that everything not ordered installs in parallel."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import pulumi

from components.addons import ADDONS
from components.addons.addon import Addon, AddonContext, Deployed, deploy_order
from model.fields import Fields
from model.formats import DNS_SUBDOMAIN
from model.identity import Oidc
from model.inventory import Inventory
from model.settings import Context
from model.site import Site
from model.tenants import TenantsConfig

PLATFORM_KEYS = ("domain", *(a.section for a in ADDONS if a.section))


@dataclass(frozen=True)
class PlatformSettings:
    """The `platform:` section: the domain and every add-on's settings."""

    domain: str
    # Every add-on's settings by name; None for add-ons without a section.
    addons: Mapping[str, Any]
    # The add-ons this stack deploys, by name.
    enabled: frozenset[str]

    def __getitem__(self, name: str) -> Any:
        return self.addons[name]


def read_platform(
    top: Fields, context: Context, cluster_name: str | None
) -> PlatformSettings | None:
    """The `platform:` section: each add-on reads its own part; checks run once all read."""
    platform = top.section("platform", PLATFORM_KEYS)
    if platform is None:
        return None
    domain = platform.string("domain", f"{cluster_name or 'ml-platform'}.internal")
    if domain is not None and not DNS_SUBDOMAIN.parse(domain)[0]:
        platform.bad("domain", DNS_SUBDOMAIN.problem, "e.g. ml.lab.example.edu")
        domain = None
    results = {addon.name: addon.read(platform, context) for addon in ADDONS}
    if domain is None or not all(ok for ok, _, _ in results.values()):
        return None
    settings = {name: value for name, (_, value, _) in results.items()}
    for addon in ADDONS:
        _, value, section = results[addon.name]
        if addon.check is not None and section is not None:
            addon.check(value, section, context, settings)
    enabled = frozenset(
        a.name
        for a in ADDONS
        if a.deploy is not None
        and a.enabled(settings[a.name], context)
        and (a.applies is None or a.applies(settings))
    )
    return PlatformSettings(domain, settings, enabled)


@dataclass(frozen=True)
class MlPlatformArgs:
    settings: PlatformSettings
    site: Site
    inventory: Inventory
    # What must run before any add-on: the pod network.
    cluster_ready: pulumi.Resource
    # Host name -> its join (see AddonContext.nodes).
    nodes: Mapping[str, pulumi.Resource] = field(default_factory=dict)
    tenants: TenantsConfig = field(default_factory=TenantsConfig)
    identity: Oidc | None = None


class MlPlatform(pulumi.ComponentResource):
    exports: dict[str, pulumi.Input[Any]]

    def __init__(
        self, name: str, args: MlPlatformArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("ml-platform:platform:MlPlatform", name, None, opts)
        settings = args.settings
        enabled = [a for a in ADDONS if a.name in settings.enabled]
        base: list[pulumi.Resource] = [args.cluster_ready]
        deployed: dict[str, Deployed] = {}
        for addon in deploy_order(enabled):
            context = self._context(args, addon, base, deployed)
            deployed[addon.name] = addon.deploy(settings[addon.name], context)
            if addon.first:
                base = [deployed[addon.name].component]
        self.deployed = deployed
        self.exports = {k: v for d in deployed.values() for k, v in d.exports.items()}
        self.register_outputs({})

    def _context(
        self,
        args: MlPlatformArgs,
        addon: Addon,
        base: list[pulumi.Resource],
        deployed: Mapping[str, Deployed],
    ) -> AddonContext:
        needed = [deployed[n].component for n in addon.needs if n in deployed]
        return AddonContext(
            site=args.site,
            inventory=args.inventory,
            domain=args.settings.domain,
            settings=args.settings.addons,
            enabled_addons=args.settings.enabled,
            depends_on=needed or base,
            deployed=deployed,
            opts=pulumi.ResourceOptions(parent=self),
            nodes=args.nodes,
            tenants=args.tenants,
            identity=args.identity,
        )
