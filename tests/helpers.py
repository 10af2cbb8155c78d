"""What tests share: the committed stack files changed the way a user would, the deployment
graph of an evaluation, and one add-on deployed on its own."""

from __future__ import annotations

import base64
import copy
import dataclasses
import shlex
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import pulumi
import pulumi_kubernetes as kubernetes
import pulumi_random as random
from pulumi.runtime import rpc

from automation.engine import Evaluation, Registration, StackSettings, evaluate, load_stack, run
from components import versions
from components.addons.addon import Addon, AddonContext, Deployed
from components.addons.platform import PlatformSettings, read_platform
from model.fields import ConfigError, Fields, Problems
from model.identity import Oidc
from model.inventory import GpuSpec, Host, Inventory, SshAccess
from model.settings import Context
from model.site import Site
from model.tenants import TenantsConfig

Config = dict[str, Any]
# The Kubernetes OpenAPI schema objects are validated against: the pinned minor's.
SCHEMA_VERSION = f"{versions.minor(versions.KUBERNETES_VERSION)}.0"
PREFIX = "ml-platform:"


def stack_config(stack: str) -> Config:
    """The plain `ml-platform:` keys of a committed stack file, as data to edit."""
    base = load_stack(stack)
    return {
        key[len(PREFIX) :]: copy.deepcopy(value)
        for key, value in base.values.items()
        if key.startswith(PREFIX) and key not in base.secret_keys
    }


def evaluate_config(stack: str, config: Config, remove: tuple[str, ...] = ()) -> Evaluation:
    """Evaluate `stack` with its plain `ml-platform:` keys replaced by `config`; secrets stay
    (as offline placeholders) unless named in `remove`."""
    base = load_stack(stack)
    values = {
        k: v for k, v in base.values.items() if not k.startswith(PREFIX) or k in base.secret_keys
    }
    values.update({PREFIX + key: value for key, value in config.items()})
    for key in remove:
        values.pop(key, None)
    return evaluate(stack, StackSettings(values, base.secret_keys - set(remove)))


def evaluate_changed(stack: str, change: Callable[[Config], Any]) -> Evaluation:
    config = stack_config(stack)
    change(config)
    return evaluate_config(stack, config)


# Free addresses on the lab's /24 between the last worker (.140) and the MetalLB pool (.200).
FREE_ON_LAB_SEGMENT = 59


def host_key(name: str) -> str:
    """A well-formed ed25519 host key of its own for a host added by a test (derived from its
    name, as Pulumi.lab.yaml's example keys are)."""
    import hashlib

    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ed25519

    seed = hashlib.sha256(f"ml-platform example lab host key:{name}".encode()).digest()
    public = ed25519.Ed25519PrivateKey.from_private_bytes(seed).public_key()
    return public.public_bytes(
        serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH
    ).decode()


def lab_with_workers(count: int) -> Config:
    """The lab stack with `count` GPU workers: the committed ones first, then more added the
    way a user appends hosts: the free addresses of 192.168.10.0/24 first, then the next /24s
    (the host network then widens to a /21)."""
    config = stack_config("lab")
    hosts = config["baremetal"]["hosts"]
    control_planes = [h for h in hosts if "control-plane" in h["roles"]]
    workers = [h for h in hosts if "control-plane" not in h["roles"]][:count]
    for n in range(len(workers), count):
        extra = n - 40
        if extra < FREE_ON_LAB_SEGMENT:
            address = f"192.168.10.{141 + extra}"
        else:
            beyond = extra - FREE_ON_LAB_SEGMENT
            address = f"192.168.{11 + beyond // 250}.{beyond % 250 + 1}"
        workers.append(
            {
                "name": f"gpu-{n + 1:03d}",
                "address": address,
                "roles": ["worker"],
                "gpu": {"model": "rtx-4090", "count": 1},
                "hostKey": host_key(f"gpu-{n + 1:03d}"),
            }
        )
    config["baremetal"]["hosts"] = control_planes + workers
    if count > 40 + FREE_ON_LAB_SEGMENT:
        config["baremetal"]["hostNetwork"] = "192.168.8.0/21"
    return config


def plain_text(value: Any) -> str:
    """Every string of `value` that is not inside a secret: what a log or plain state shows."""
    if rpc.is_rpc_secret(value):
        return ""
    if isinstance(value, dict):
        return " ".join(plain_text(v) for v in value.values())
    if isinstance(value, list):
        return " ".join(plain_text(v) for v in value)
    return str(value)


# ---- the deployment graph ----------------------------------------------------------------

RELEASE = "kubernetes:helm.sh/v3:Release"


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


def descendants(evaluation: Evaluation, component_type: str) -> set[str]:
    """The URNs of the components of `component_type` and of everything under them."""
    graph = evaluation.by_urn()
    roots = {r.urn for r in evaluation.registrations if r.type == component_type}

    def under(urn: str | None) -> bool:
        while urn:
            if urn in roots:
                return True
            urn = graph[urn].parent if urn in graph else None
        return False

    return {urn for urn in graph if under(urn)}


def custom(evaluation: Evaluation, type_suffix: str, name: str) -> Registration:
    """The one custom resource of a type ending in `type_suffix` named `name`."""
    (match,) = [
        r
        for r in evaluation.registrations
        if r.custom and r.type.endswith(type_suffix) and r.name == name
    ]
    return match


# ---- one add-on on its own -----------------------------------------------------------------


def site(cloud: str | None = None, **changes: Any) -> Site:
    """A site like the lab's (or, with cloud="aws", like dev's), with `changes`."""
    if cloud == "aws":
        base = Site(
            "aws", 6443, "10.0.0.0/16", "^ip-.*$", True, None, True, 2, 2, 0,
            shared_gpus=2, region="us-east-1",
        )  # fmt: skip
    else:
        base = Site(None, 6443, "192.168.10.0/24", "^[a-z0-9-]+$", False, "192.168.10.200-192.168.10.220", False, 4, 4, 3, shared_gpus=1)  # fmt: skip
    return dataclasses.replace(base, **changes)


def sample_hosts(access: SshAccess) -> tuple[Host, ...]:
    """cp-1, and gpu-1..gpu-4 with one GPU each (gpu-4's time-sliced); gpu-1..gpu-3 carry a
    Ceph device."""
    hosts = [Host("cp-1", "192.168.10.11", ("control-plane",), access.connection("192.168.10.11"))]
    for n in range(1, 5):
        address = f"192.168.10.{100 + n}"
        hosts.append(
            Host(
                f"gpu-{n}",
                address,
                ("worker",),
                access.connection(address),
                gpu=GpuSpec(model="rtx-4090", count=1, sharing="shared" if n == 4 else "exclusive"),
                storage_devices=("/dev/nvme1n1",) if n < 4 else (),
                node_name=f"gpu-{n}",
            )
        )
    return tuple(hosts)


def deploy_addon(
    addon: Addon,
    settings: Any = None,
    *,
    at: Site | None = None,
    others: Mapping[str, Any] | None = None,
    enabled: Iterable[str] = (),
    shared_filesystem_id: str | None = None,
    before: Iterable[Addon] = (),
    identity: Callable[[], Oidc] | None = None,
    deployed: Callable[[], Mapping[str, Deployed]] | None = None,
    domain: str = "ml.example.edu",
    tenants: TenantsConfig | None = None,
    preview: bool = False,
) -> Evaluation:
    """`addon` deployed alone from `settings`, under the offline engine: what it registers,
    with a stand-in `cluster` component as everything it waits for. `others` are other
    add-ons' settings it reads; `enabled` the other add-ons the stack has; `deployed` makes,
    inside the program, the add-ons deployed before it (e.g. fake data services). `before`:
    add-ons deployed first, for real (their settings in `others`), that `addon` uses (a
    consumer and the object store or PostgreSQL); each waits for those of its needs among
    them. On AWS the inventory carries an AWS provider, as stacks/aws.py's does. `identity`
    makes the OIDC provider inside the program (its client secret is an Output)."""

    def program() -> None:
        # A custom resource: depending on a component means depending on its children.
        cluster = random.RandomString("cluster", length=4)
        platform = pulumi.ComponentResource("test:index:Platform", "platform")
        access = SshAccess("ubuntu", pulumi.Output.secret("offline-key"))
        where = at or site()
        provider = None
        if where.cloud == "aws":
            import pulumi_aws as aws

            provider = aws.Provider("aws", region=where.region)
        inventory = Inventory(
            "test",
            sample_hosts(access),
            "192.168.10.10",
            shared_filesystem_id,
            cloud_provider=provider,
        )
        # Stand-ins for the hosts' joins, named join-<host>.
        nodes = {h.name: random.RandomString(f"join-{h.name}", length=4) for h in inventory.hosts}
        every = {addon.name: settings, **(others or {})}
        oidc = identity() if identity else None
        made: dict[str, Deployed] = dict(deployed()) if deployed else {}
        first = list(before)
        for current in [*first, addon]:
            # Waits for its needs among `before` (stand-ins from `deployed` are not waited for).
            real = {a.name for a in first}
            needed = [made[n].component for n in current.needs if n in made and n in real]
            context = AddonContext(
                site=where,
                inventory=inventory,
                domain=domain,
                settings=every,
                enabled_addons=frozenset({addon.name, *enabled, *(a.name for a in first)}),
                depends_on=needed or [cluster],
                deployed=dict(made),
                opts=pulumi.ResourceOptions(parent=platform),
                tenants=tenants or TenantsConfig(),
                identity=oidc,
                nodes=nodes,
            )
            made[current.name] = current.deploy(every.get(current.name), context)
        for name, value in made[addon.name].exports.items():
            pulumi.export(name, value)

    return run(program, preview=preview).check()


def read_platform_config(
    platform: Mapping[str, Any], at: Site | None = None, tenants: TenantsConfig | None = None
) -> PlatformSettings:
    """The `platform:` section read as a stack at `at` (with `tenants`) would read it; raises
    ConfigError."""
    problems = Problems()
    top = Fields({"platform": platform}, "ml-platform:", problems, ("platform",))
    context = Context(at or site(), "test", tenants)
    settings = read_platform(top, context, "ml-platform-test")
    problems.raise_if_any()
    return settings


def refused(error: ConfigError, key: str) -> str:
    """The rendered problems naming `key` (fails when none does)."""
    found = [p.render() for p in error.problems if p.key == key]
    assert found, f"no problem names {key}: {error}"
    return " ".join(found)


# ---- upstream manifests applied by a Command ---------------------------------------------------


def stdin_parameters(command: Registration) -> dict[str, str]:
    """The parameters a step bundle (a remote Command's stdin) exports."""
    bundle = command.inputs["stdin"]
    exports = bundle[bundle.index("{\n") + 2 : bundle.index("\n# ---- common.sh ----")]
    tokens = shlex.split(exports)
    return dict(t.split("=", 1) for t in tokens if t != "export")


def applied_kustomization(command: Registration) -> dict[str, Any]:
    """The kustomization an `apply-manifests` Command builds and applies."""
    text = base64.b64decode(stdin_parameters(command)["KUSTOMIZATION_B64"]).decode()
    return yaml_load(text)


def yaml_load(text: str) -> Any:
    from components import yamltext

    return yamltext.load(text)


# ---- data services, faked -----------------------------------------------------------------------


class FakeObjectStore(pulumi.ComponentResource):
    """model.services.ObjectStore as a consumer sees it: each bucket a Secret with its own
    credentials in the consumer's namespace. `calls` records what was asked."""

    def __init__(self, endpoint: str = "http://rook-ceph-rgw-store.rook-ceph.svc:80") -> None:
        super().__init__("test:index:ObjectStore", "object-store")
        self.endpoint = endpoint
        self.calls: list[dict[str, Any]] = []

    def bucket(self, consumer, namespace, *, versioned=False, expire_after_days=None,
               depends_on=(), endpoint_key=None, parent=None):  # fmt: skip
        from model.services import ACCESS_KEY_ID, SECRET_ACCESS_KEY, BucketAccess

        self.calls.append({"consumer": consumer, "namespace": namespace, "versioned": versioned})
        secret = kubernetes.core.v1.Secret(
            f"{consumer}-bucket",
            metadata={"name": f"{consumer}-bucket", "namespace": namespace},
            string_data={
                ACCESS_KEY_ID: pulumi.Output.secret("fake-access-key-id"),
                SECRET_ACCESS_KEY: pulumi.Output.secret("fake-secret-access-key"),
            },
            opts=pulumi.ResourceOptions(parent=parent or self, depends_on=list(depends_on)),
        )
        bucket = random.RandomString(f"{consumer}-bucket-suffix", length=6, special=False,
                                     upper=False, opts=pulumi.ResourceOptions(parent=self))  # fmt: skip
        return BucketAccess(
            endpoint=self.endpoint,
            region="us-east-1",
            bucket=pulumi.Output.concat(consumer, "-", bucket.result),
            namespace=namespace,
            secret_name=f"{consumer}-bucket",
            ready=[secret],
        )


class FakePostgres(pulumi.ComponentResource):
    """model.services.Postgres: each database a Secret with its owner's credentials."""

    def __init__(self) -> None:
        super().__init__("test:index:Postgres", "postgres")
        self.calls: list[dict[str, Any]] = []

    def database(self, name, namespace, *, depends_on=(), createdb=False, parent=None):
        from model.services import PASSWORD, USERNAME, DatabaseAccess

        self.calls.append({"name": name, "namespace": namespace, "createdb": createdb})
        secret = kubernetes.core.v1.Secret(
            f"{name}-db",
            metadata={"name": f"{name}-db", "namespace": namespace},
            string_data={USERNAME: name, PASSWORD: pulumi.Output.secret(f"fake-{name}-password")},
            opts=pulumi.ResourceOptions(parent=parent or self, depends_on=list(depends_on)),
        )
        return DatabaseAccess(
            "postgres-rw.postgres.svc", 5432, name, namespace, f"{name}-db", [secret]
        )


def fake_data_services(
    object_store: FakeObjectStore | None = None, postgres: FakePostgres | None = None
) -> dict[str, Deployed]:
    return {
        "object-store": Deployed(object_store or FakeObjectStore()),
        "postgres": Deployed(postgres or FakePostgres()),
    }


def documented(page: str, kind: str) -> list[dict[str, Any]]:
    """The objects of `kind` in the ```yaml blocks of docs/<page>."""
    import re
    from pathlib import Path

    from components import yamltext

    text = (Path(__file__).resolve().parents[1] / "docs" / page).read_text(encoding="utf-8")
    blocks = re.findall(r"```yaml\n(.*?)```", text, re.S)
    return [d for d in (yamltext.load(b) for b in blocks) if d and d.get("kind") == kind]


def bundle_params(registration: Registration) -> dict[str, str]:
    """The parameters of a host step: the `NAME=value` lines of its stdin before common.sh
    (components/kubeadm/scripts.py; not exported, so no child process inherits them)."""

    stdin = rpc.unwrap_rpc_secret(registration.inputs["stdin"])
    params = {}
    for line in stdin.split("# ---- common.sh")[0].splitlines()[2:]:
        name, _, value = line.partition("=")
        params[name] = shlex.split(value)[0] if value else ""
    return params
