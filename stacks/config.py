"""The stack config: typed, frozen settings, validated before any resource exists.

`load_config()` reads the `ml-platform:*` keys of the running stack; `parse_config()` is the
pure part, turning the decoded values into a `StackConfig` or raising one `ConfigError` that
lists every problem (key path, bad value, fix). Each section has its reader: the cluster's
in `stacks/sections/kubernetes.py`, the machines' in `sections/baremetal.py` and
`sections/aws.py`, each add-on's in its own module (through `read_platform`), the tenants' in
`model/tenants.py`, the identity provider's in `sections/identity.py`; rules across sections
are in `stacks/checks.py`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

import pulumi
from pulumi.runtime import config as runtime_config

from components.addons.platform import PlatformSettings, read_platform
from components.kubeadm.settings import KubernetesSettings
from model import tenants
from model.fields import MISSING, ConfigError, Fields, Problems
from model.settings import Context
from model.site import Site
from model.tenants import TenantsConfig
from stacks import checks
from stacks.sections import aws, baremetal, identity, kubernetes, ssh
from stacks.sections.aws import AwsConfig
from stacks.sections.baremetal import BaremetalConfig
from stacks.sections.identity import IdentityConfig

NAMESPACE = "ml-platform"
TOP_LEVEL_KEYS = (
    "infrastructure",
    "sshPrivateKey",
    "sshAuthorizedKeys",
    "kubernetes",
    "baremetal",
    "aws",
    "platform",
    "tenants",
    "identity",
)
Infrastructure = Literal["aws", "baremetal"]

__all__ = ["ConfigError", "StackConfig", "load_config", "parse_config"]


@dataclass(frozen=True)
class StackConfig:
    """The whole validated stack config; the only thing the layers below read."""

    stack: str
    infrastructure: Infrastructure
    ssh_private_key: pulumi.Output[str]
    kubernetes: KubernetesSettings
    site: Site
    platform: PlatformSettings
    tenants: TenantsConfig
    identity: IdentityConfig
    baremetal: BaremetalConfig | None = None
    aws: AwsConfig | None = None
    # Public keys let in on every host besides the public half of ssh_private_key.
    ssh_authorized_keys: tuple[str, ...] = ()


def load_config() -> StackConfig:
    """The running stack's config, validated; raises ConfigError before any resource."""
    prefix = f"{NAMESPACE}:"
    raw = {**runtime_config.get_config_env(), **runtime_config.CONFIG.get()}
    values = {k[len(prefix) :]: _decode(v) for k, v in raw.items() if k.startswith(prefix)}
    key_is_secret = runtime_config.is_config_secret(f"{prefix}sshPrivateKey")
    ssh_key = pulumi.Config(NAMESPACE).get_secret("sshPrivateKey")
    identity_is_secret = runtime_config.is_config_secret(f"{prefix}identity")
    return parse_config(
        values, ssh_key, key_is_secret, pulumi.get_stack(), identity_is_secret=identity_is_secret
    )


def _decode(value: Any) -> Any:
    """Structured config values arrive JSON-encoded; plain strings stay strings."""
    if isinstance(value, str) and value[:1] in "{[":
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


def parse_config(
    values: Mapping[str, Any],
    ssh_private_key: pulumi.Output[str] | None,
    key_is_secret: bool,
    stack: str,
    identity_is_secret: bool = False,
) -> StackConfig:
    problems = Problems()
    top = Fields(values, f"{NAMESPACE}:", problems, TOP_LEVEL_KEYS)
    infrastructure = top.choice("infrastructure", ("aws", "baremetal"))
    _check_ssh_key(top, ssh_private_key, key_is_secret)
    provisional_ssh = ssh.read(top, Context(Site.unknown(None), stack))
    provisional = Context(Site.unknown("aws" if infrastructure == "aws" else None), stack)
    k8s = kubernetes.read(top, provisional)
    machines = _machines(top, infrastructure, provisional)
    site = machines.site() if machines else provisional.site
    tenant_config = tenants.read(top, Context(site, stack))
    context = Context(site, stack, tenant_config)
    platform = read_platform(top, context, k8s.cluster_name if k8s else None)
    identity_config = identity.read(top, context, identity_is_secret)
    if k8s and machines:
        checks.networks(top, k8s, machines)
    if tenant_config and identity_config:
        checks.tenant_names_and_users(top, tenant_config, identity_config.usernames)
    if tenant_config and platform and site.hosts_known:
        checks.tenant_capacity(top, tenant_config, platform, site)
    if tenant_config and platform:
        checks.served_by_tenants(top, tenant_config, platform)
    if platform and identity_config:
        checks.mlops_example_sign_in(top, platform, identity_config)
    problems.raise_if_any()
    return StackConfig(
        stack=stack,
        infrastructure=infrastructure,
        ssh_private_key=ssh_private_key,
        kubernetes=k8s,
        site=site,
        platform=platform,
        tenants=tenant_config,
        identity=identity_config,
        baremetal=machines if isinstance(machines, BaremetalConfig) else None,
        aws=machines if isinstance(machines, AwsConfig) else None,
        ssh_authorized_keys=provisional_ssh.authorized_keys if provisional_ssh else (),
    )


def _machines(
    top: Fields, infrastructure: str | None, context: Context
) -> BaremetalConfig | AwsConfig | None:
    """The section of the chosen infrastructure; the other one must be absent."""
    if infrastructure not in ("aws", "baremetal"):
        return None
    other = "aws" if infrastructure == "baremetal" else "baremetal"
    if top.raw(other) is not MISSING:
        top.bad(
            other,
            f"is set but infrastructure is {infrastructure}",
            f"remove the {other} section or set infrastructure: {other}",
        )
    section = baremetal if infrastructure == "baremetal" else aws
    return section.read(top, context)


def _check_ssh_key(top: Fields, key: pulumi.Output[str] | None, is_secret: bool) -> None:
    fix = "pulumi config set --secret sshPrivateKey < ~/.ssh/id_ed25519"
    if key is None:
        top.bad("sshPrivateKey", "is required to reach the hosts over SSH", fix)
    elif not is_secret:
        top.problems.add(
            top.key("sshPrivateKey"), "(plain text, not shown)", "is stored in plain text", fix
        )
