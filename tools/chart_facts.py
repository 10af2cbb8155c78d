"""Render every Helm release the program registers with real Helm and record facts about it.

The program installs its charts as `helm.v3.Release`s, so nothing offline ever sees what they
put in the cluster. This tool evaluates each stack variant offline (`VARIANTS` below), takes
every `kubernetes:helm.sh/v3:Release` registration as registered (release name, chart,
version, namespace, values), renders it with Helm's own Go library (`helm-python-sdk`) from the
chart sources at the pinned version, with the stack's Kubernetes version and API versions that
include the CRDs the platform installs (charts gate ServiceMonitors and the like on
`.Capabilities.APIVersions.Has`), and writes FACTS, not upstream files, to
`tests/fixtures/chart_facts/<variant>/<release>.json`:

- chart, version, namespace and a digest of (chart, version, values);
- the kinds rendered (apiVersion, kind, namespace; hooks marked);
- the CRDs the release provides (group, kind, scope, served versions; from `crds/` of the
  chart and its enabled subcharts, and from templates);
- every pod template (Pod, Deployment, DaemonSet, StatefulSet, ReplicaSet, Job, CronJob, ...)
  with its namespace and the fields the Pod Security Standards look at (host namespaces and
  user namespace, volume types and hostPath paths, host ports, probe/lifecycle hosts, the pod's
  and each container's securityContext, AppArmor/seccomp annotations, OS);
- the images of those pods.

`tests/charts/` checks the program against these facts in CI, without the chart sources.
Failing here, before anything is written: values that the chart's `values.schema.json`
rejects (Helm refuses them at install), a custom resource a release renders whose fields its
CRD's schema does not declare, a release without a fixed name, a missing chart source.

Chart sources. The tool reads `<sources>/<chart>-<version>/`: the chart as published, what

    helm pull <chart> --repo <repo> --version <version> --untar --untardir <sources>/<chart>-<version>
    helm pull oci://<registry>/<chart> --version <version> --untar --untardir <sources>/<chart>-<version>

give (then the chart is in `<sources>/<chart>-<version>/<chart>/`, which is accepted too; a
published chart carries its dependencies under `charts/`). For a missing source the tool
prints that exact command, with the repository the program registers. Keep the directory
outside the repository: charts are upstream code and are never committed.

Run it from the repository root whenever a chart pin, a release's values, its name or its
namespace changes (the tests say so, with this command):

    python -m tools.chart_facts --sources ~/chart-sources

Caveats: rendering uses Helm 4's library (helm-python-sdk embeds it); pulumi-kubernetes
installs with Helm 3, whose template engine is the same for these charts. Helm's offline
capabilities always include its built-in list of group/versions (some no longer served by
Kubernetes 1.36, such as policy/v1beta1); an object rendered with such an apiVersion shows up
in the CRD test as a kind nothing provides. Test hooks (`helm.sh/hook: test`) are left out: the
program never runs `helm test`.
"""

from __future__ import annotations

import argparse
import functools
import hashlib
import json
import re
import sys
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import kubernetes_validate
import yaml
from pulumi.runtime import rpc

from automation.engine import Evaluation, evaluate, load_stack, with_overrides

PROJECT_DIR = Path(__file__).resolve().parent.parent
FACTS_DIR = PROJECT_DIR / "tests" / "fixtures" / "chart_facts"
RELEASE_TYPE = "kubernetes:helm.sh/v3:Release"
CONFIG_PREFIX = "ml-platform:"
# The command that records facts; SOURCES is a directory of <chart>-<version>/ chart sources.
REGENERATE = "python -m tools.chart_facts --sources SOURCES"
CAPABILITIES_FILE = "_capabilities.json"


class _KubernetesLoader(getattr(yaml, "CSafeLoader", yaml.SafeLoader)):  # type: ignore[misc]
    """YAML as Kubernetes reads it: a bare `=` is a string (YAML 1.1's `value` tag is not)."""


_KubernetesLoader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:value"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


# Helm splits a rendered template into documents with this (releaseutil.SplitManifests), so
# `---# comment` starts a document as well.
_DOCUMENT_SEPARATOR = re.compile(r"(?:^|\s*\n)---\s*")


def load_documents(text: str) -> list[Any]:
    documents = []
    for chunk in _DOCUMENT_SEPARATOR.split(text):
        if chunk.strip():
            document = yaml.load(chunk, Loader=_KubernetesLoader)
            if document is not None:
                documents.append(document)
    return documents


@dataclass(frozen=True)
class Variant:
    """A stack evaluation whose releases get facts: a stack file, optionally with
    `ml-platform:` config keys replaced (as `pulumi config set` would)."""

    name: str
    stack: str
    config: Mapping[str, Any] = field(default_factory=dict)


# Every evaluation the facts cover. Add a variant here when a config setting changes which
# releases exist or what values they get in a way the committed stacks do not show.
VARIANTS: tuple[Variant, ...] = (
    Variant("lab", "lab"),
    Variant("dev", "dev"),
    # A lab without spare disks: Longhorn, its UI and backups, and MinIO as the object store.
    Variant(
        "lab-longhorn-minio",
        "lab",
        {
            "platform": {
                "domain": "ml.lab.example.edu",
                "gpu": {"driver": "preinstalled", "timeSlicing": {"replicas": 4}},
                "storage": {"provider": "longhorn"},
                "objectStore": {"provider": "minio"},
            }
        },
    ),
)


class ChartFactsError(Exception):
    """Something the tool cannot record facts for; the message says what to fix."""


@functools.cache
def evaluated(variant_name: str) -> Evaluation:
    """The variant evaluated offline, once per process."""
    (variant,) = [v for v in VARIANTS if v.name == variant_name]
    settings = load_stack(variant.stack)
    if variant.config:
        values = {CONFIG_PREFIX + key: value for key, value in variant.config.items()}
        settings = with_overrides(settings, values=values)
    return evaluate(variant.stack, settings).check()


# ---- releases as registered -------------------------------------------------------------------


def plain(value: Any) -> Any:
    """A registered input as JSON data: secrets masked, integral numbers as integers (the wire
    format makes every number a float; Helm sees 1 either way)."""
    if rpc.is_rpc_secret(value):
        return "[secret]"
    if isinstance(value, str) and value == rpc.UNKNOWN:
        raise ChartFactsError("a release input is unknown offline; facts need known values")
    if isinstance(value, Mapping):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def digest(chart: str, version: str, values: Any, skip_crds: bool = False) -> str:
    """sha256 of (chart, version, values, and skipCrds when set) in canonical JSON."""
    document = {"chart": chart, "version": version, "values": values}
    if skip_crds:
        document["skip_crds"] = True
    text = json.dumps(
        document,
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=True,
    )
    return "sha256:" + hashlib.sha256(text.encode()).hexdigest()


@dataclass(frozen=True)
class Release:
    urn: str
    resource: str  # the Pulumi resource name
    name: str  # the Helm release name
    reference: str  # the chart as registered (a name, or an oci:// reference)
    repo: str
    version: str
    namespace: str
    values: Any
    # `skipCrds`: Helm leaves the chart's crds/ out (the program applies those CRDs itself).
    skip_crds: bool = False

    @property
    def chart(self) -> str:
        return chart_name(self.reference)

    @property
    def digest(self) -> str:
        return digest(self.chart, self.version, self.values, self.skip_crds)


def chart_name(reference: str) -> str:
    """An OCI reference ends in the chart's name."""
    return reference.rstrip("/").rsplit("/", 1)[-1]


def releases(evaluation: Evaluation) -> dict[str, Release]:
    """Every Helm release of an evaluation, by release name."""
    found: dict[str, Release] = {}
    for registration in evaluation.of_type(RELEASE_TYPE):
        inputs = registration.inputs
        name = inputs.get("name")
        if not name:
            raise ChartFactsError(
                f"release {registration.name} has no fixed `name`: Pulumi would name it "
                "with a random suffix, so nothing can refer to it; set `name=`"
            )
        if name in found:
            raise ChartFactsError(f"two releases are named {name}")
        found[name] = Release(
            urn=registration.urn,
            resource=registration.name,
            name=name,
            reference=inputs["chart"],
            repo=(inputs.get("repositoryOpts") or {}).get("repo", ""),
            version=inputs["version"],
            namespace=inputs.get("namespace") or "default",
            values=plain(inputs.get("values") or {}),
            skip_crds=bool(inputs.get("skipCrds")),
        )
    return found


# ---- the Kubernetes API ----------------------------------------------------------------------

KUBERNETES_SCHEMAS = Path(kubernetes_validate.__file__).parent / "kubernetes-json-schema"

# Kinds served by Kubernetes 1.36 that are not namespaced (`kubectl api-resources
# --namespaced=false`); every other built-in kind is.
CLUSTER_SCOPED_BUILTINS = frozenset(
    {
        "APIService",
        "CertificateSigningRequest",
        "ClusterRole",
        "ClusterRoleBinding",
        "ClusterTrustBundle",
        "ComponentStatus",
        "CSIDriver",
        "CSINode",
        "CustomResourceDefinition",
        "DeviceClass",
        "DeviceTaintRule",
        "FlowSchema",
        "IngressClass",
        "IPAddress",
        "MutatingAdmissionPolicy",
        "MutatingAdmissionPolicyBinding",
        "MutatingWebhookConfiguration",
        "Namespace",
        "Node",
        "PersistentVolume",
        "PriorityClass",
        "PriorityLevelConfiguration",
        "ResourceSlice",
        "RuntimeClass",
        "SelfSubjectAccessReview",
        "SelfSubjectReview",
        "SelfSubjectRulesReview",
        "ServiceCIDR",
        "StorageClass",
        "StorageVersion",
        "StorageVersionMigration",
        "SubjectAccessReview",
        "TokenReview",
        "ValidatingAdmissionPolicy",
        "ValidatingAdmissionPolicyBinding",
        "ValidatingWebhookConfiguration",
        "VolumeAttachment",
        "VolumeAttributesClass",
    }
)


@functools.cache
def builtin_kinds(minor: str) -> frozenset[tuple[str, str, str]]:
    """(group, version, kind) of every GA object kind Kubernetes `minor` (e.g. "1.36") serves by
    default, from the OpenAPI schemas kubernetes-validate ships; the core group is ""."""
    path = KUBERNETES_SCHEMAS / f"v{minor}.0-local" / "_definitions.json"
    if not path.exists():
        raise ChartFactsError(f"kubernetes-validate has no schemas for Kubernetes {minor}")
    definitions = json.loads(path.read_text(encoding="utf-8"))["$defs"]
    kinds = set()
    for schema in definitions.values():
        metadata = (schema.get("properties") or {}).get("metadata", {})
        if "ObjectMeta" not in json.dumps(metadata):
            continue  # lists, options and other wire-only types
        for gvk in schema.get("x-kubernetes-group-version-kind", []):
            # Alpha and beta APIs are off by default since 1.24; a chart must not rely on them.
            if gvk["version"].removeprefix("v").isdigit():
                kinds.add((gvk["group"], gvk["version"], gvk["kind"]))
    return frozenset(kinds)


def kubernetes_minor(version: str) -> str:
    major, minor, *_ = version.removeprefix("v").split(".")
    return f"{major}.{minor}"


def group_version(api_version: str) -> tuple[str, str]:
    group, _, version = api_version.rpartition("/")
    return group, version


def api_version_of(group: str, version: str) -> str:
    return f"{group}/{version}" if group else version


def capability_versions(kinds: Iterable[tuple[str, str, str]]) -> list[str]:
    """Helm's `.Capabilities.APIVersions` entries for `kinds`: group/version and
    group/version/kind, as a cluster's discovery gives them."""
    entries = set()
    for group, version, kind in kinds:
        entries.add(api_version_of(group, version))
        entries.add(f"{api_version_of(group, version)}/{kind}")
    return sorted(entries)


def crd_kinds(crds: Iterable[Mapping[str, Any]]) -> set[tuple[str, str, str]]:
    return {(c["group"], v, c["kind"]) for c in crds for v in c["versions"]}


# ---- facts from rendered objects -------------------------------------------------------------

HOOK = "helm.sh/hook"
POD_TEMPLATE_PATHS: dict[str, tuple[str, ...]] = {
    "Pod": (),
    "PodTemplate": ("template",),
    "Deployment": ("spec", "template"),
    "ReplicaSet": ("spec", "template"),
    "ReplicationController": ("spec", "template"),
    "StatefulSet": ("spec", "template"),
    "DaemonSet": ("spec", "template"),
    "Job": ("spec", "template"),
    "CronJob": ("spec", "jobTemplate", "spec", "template"),
}
CONTAINER_LISTS = ("initContainers", "containers", "ephemeralContainers")
# What the Pod Security Standards read at pod level (k8s.io/pod-security-admission/policy).
POD_SECURITY_CONTEXT_FIELDS = (
    "appArmorProfile",
    "runAsNonRoot",
    "runAsUser",
    "seLinuxOptions",
    "seccompProfile",
    "sysctls",
    "windowsOptions",
)
POD_SECURITY_ANNOTATIONS = (
    "container.apparmor.security.beta.kubernetes.io/",
    "seccomp.security.alpha.kubernetes.io/pod",
    "container.seccomp.security.alpha.kubernetes.io/",
)
PROBES = ("livenessProbe", "readinessProbe", "startupProbe")


def dig(document: Any, path: Iterable[str]) -> Any:
    for key in path:
        if not isinstance(document, Mapping):
            return None
        document = document.get(key)
    return document


def hook_of(document: Mapping[str, Any]) -> str | None:
    annotations = dig(document, ("metadata", "annotations")) or {}
    hook = annotations.get(HOOK)
    return ",".join(sorted(h.strip() for h in hook.split(","))) if hook else None


def is_test_hook(document: Mapping[str, Any]) -> bool:
    hook = hook_of(document) or ""
    return any(h.startswith("test") for h in hook.split(","))


def _host_only(handler: Any) -> dict[str, Any]:
    """A probe or lifecycle handler reduced to the `host` fields PSS restrict."""
    reduced = {}
    for kind in ("httpGet", "tcpSocket"):
        host = dig(handler, (kind, "host"))
        if host:
            reduced[kind] = {"host": host}
    return reduced


def container_facts(container: Mapping[str, Any]) -> dict[str, Any]:
    facts: dict[str, Any] = {"name": container.get("name"), "image": container.get("image")}
    if container.get("securityContext"):
        facts["securityContext"] = container["securityContext"]
    host_ports = [p for p in container.get("ports") or [] if p.get("hostPort")]
    if host_ports:
        facts["ports"] = [
            {k: p[k] for k in ("containerPort", "hostPort", "protocol") if k in p}
            for p in host_ports
        ]
    for probe in PROBES:
        reduced = _host_only(container.get(probe))
        if reduced:
            facts[probe] = reduced
    lifecycle = {
        stage: reduced
        for stage in ("postStart", "preStop")
        if (reduced := _host_only(dig(container, ("lifecycle", stage))))
    }
    if lifecycle:
        facts["lifecycle"] = lifecycle
    return facts


def volume_facts(volume: Mapping[str, Any]) -> dict[str, Any]:
    """A volume reduced to its type (and a hostPath's path and type)."""
    facts: dict[str, Any] = {"name": volume.get("name")}
    for key, source in volume.items():
        if key == "name":
            continue
        if key == "hostPath":
            facts[key] = {k: v for k, v in (source or {}).items() if k in ("path", "type")}
        else:
            facts[key] = {}
    return facts


def pod_facts(metadata: Mapping[str, Any], spec: Mapping[str, Any]) -> dict[str, Any]:
    """The part of a pod template the Pod Security Standards look at, in PodSpec shape."""
    reduced: dict[str, Any] = {}
    for key in ("hostNetwork", "hostPID", "hostIPC"):
        if spec.get(key):
            reduced[key] = True
    if spec.get("hostUsers") is not None:
        reduced["hostUsers"] = spec["hostUsers"]
    if spec.get("os"):
        reduced["os"] = {"name": spec["os"].get("name")}
    context = {
        k: v
        for k, v in (spec.get("securityContext") or {}).items()
        if k in POD_SECURITY_CONTEXT_FIELDS and v is not None
    }
    if context:
        reduced["securityContext"] = context
    if spec.get("volumes"):
        reduced["volumes"] = [volume_facts(v) for v in spec["volumes"]]
    for kind in CONTAINER_LISTS:
        if spec.get(kind):
            reduced[kind] = [container_facts(c) for c in spec[kind]]
    facts: dict[str, Any] = {}
    annotations = {
        k: v
        for k, v in ((metadata or {}).get("annotations") or {}).items()
        if k.startswith(POD_SECURITY_ANNOTATIONS)
    }
    if annotations:
        facts["metadata"] = {"annotations": annotations}
    facts["spec"] = reduced
    return facts


def pod_templates(document: Mapping[str, Any]) -> Iterator[tuple[dict, dict]]:
    path = POD_TEMPLATE_PATHS.get(document.get("kind", ""))
    if path is None or not str(document.get("apiVersion", "")).startswith(
        ("v1", "apps/", "batch/")
    ):
        return
    template = dig(document, path) if path else document
    if isinstance(template, Mapping) and isinstance(template.get("spec"), Mapping):
        yield template.get("metadata") or {}, template["spec"]


def images_of(pod: Mapping[str, Any]) -> set[str]:
    return {
        c["image"] for kind in CONTAINER_LISTS for c in pod["spec"].get(kind, []) if c.get("image")
    }


def custom_resource_images(node: Any, path: str = "spec") -> Iterator[tuple[str, str]]:
    """Images a custom resource names for its operator to run: `image` fields, composed with a
    sibling `repository` and `version`/`tag` where the resource splits them (the GPU operator's
    ClusterPolicy does); parts marked `enabled: false` run nothing."""
    if isinstance(node, list):
        for i, item in enumerate(node):
            yield from custom_resource_images(item, f"{path}[{i}]")
        return
    if not isinstance(node, Mapping) or node.get("enabled") is False:
        return
    image = node.get("image")
    if isinstance(image, str) and image:
        repository, tag = node.get("repository"), node.get("version") or node.get("tag")
        if isinstance(repository, str) and repository and "/" not in image:
            image = f"{repository.rstrip('/')}/{image}"
        if isinstance(tag, str) and tag and ":" not in image.rsplit("/", 1)[-1]:
            image = f"{image}:{tag}"
        yield path, image
    for key, value in node.items():
        yield from custom_resource_images(value, f"{path}.{key}")


def crd_facts(document: Mapping[str, Any], source: str) -> dict[str, Any]:
    spec = document.get("spec") or {}
    return {
        "group": spec.get("group"),
        "kind": dig(spec, ("names", "kind")),
        "plural": dig(spec, ("names", "plural")),
        "scope": spec.get("scope"),
        "versions": sorted(v["name"] for v in spec.get("versions") or [] if v.get("served")),
        "source": source,
    }


def crd_schema(crd_document: Mapping[str, Any], version: str) -> dict | None:
    for entry in dig(crd_document, ("spec", "versions")) or []:
        if entry.get("name") == version:
            return dig(entry, ("schema", "openAPIV3Schema"))
    return None


def undeclared_fields(value: Any, schema: Mapping[str, Any], path: str = "") -> list[str]:
    """Fields of `value` its structural schema does not declare (the API server prunes them
    silently). `metadata` is the API server's own."""
    if schema.get("x-kubernetes-preserve-unknown-fields"):
        return []
    if isinstance(value, list):
        items = schema.get("items", {})
        return [f for i, v in enumerate(value) for f in undeclared_fields(v, items, f"{path}[{i}]")]
    if not isinstance(value, dict):
        return []
    properties = schema.get("properties", {})
    extra = schema.get("additionalProperties")
    found = []
    for key, item in value.items():
        if not path and key in ("metadata", "apiVersion", "kind"):
            continue
        if key in properties:
            found += undeclared_fields(item, properties[key], f"{path}.{key}")
        elif isinstance(extra, dict):
            found += undeclared_fields(item, extra, f"{path}.{key}")
        elif extra is not True:
            found.append(f"{path}.{key}")
    return found


def custom_resource_problems(document: Mapping[str, Any], schema: Mapping[str, Any]) -> list[str]:
    from jsonschema import Draft7Validator

    errors = [
        f"{'.'.join(str(p) for p in e.absolute_path) or '(root)'}: {e.message}"
        for e in Draft7Validator(schema).iter_errors(document)
        if not e.absolute_path or e.absolute_path[0] != "metadata"
    ]
    return errors + [f"undeclared field {f}" for f in undeclared_fields(document, schema)]


# ---- rendering -------------------------------------------------------------------------------


@dataclass
class Rendered:
    release: Release
    documents: list[dict]  # templates, in Helm's output order, test hooks left out
    crd_documents: list[dict]  # from crds/ of the chart and its enabled subcharts
    has_schema: bool


def chart_directory(sources: Path, release: Release) -> Path:
    base = sources / f"{release.chart}-{release.version}"
    for candidate in (base, base / release.chart):
        if (candidate / "Chart.yaml").is_file():
            return candidate
    if release.reference.startswith("oci://"):
        pull = f"helm pull {release.reference} --version {release.version}"
    else:
        pull = f"helm pull {release.chart} --repo {release.repo} --version {release.version}"
    raise ChartFactsError(
        f"no chart source for release {release.name} ({release.chart} {release.version}) in "
        f"{base}; get it with:\n    {pull} --untar --untardir {base}"
    )


def dependency_enabled(dependency: Mapping[str, Any], values: Mapping, prefix: str) -> bool:
    """Helm's rule (chartutil.processDependencyEnabled): the first `condition` path that holds
    a boolean decides, else any true tag enables and false tags disable, else enabled."""
    for condition in (dependency.get("condition") or "").split(","):
        value = dig(values, (prefix + condition.strip()).split(".")) if condition.strip() else None
        if isinstance(value, bool):
            return value
    tags = [(values.get("tags") or {}).get(t) for t in dependency.get("tags") or []]
    if any(t is True for t in tags):
        return True
    return not any(t is False for t in tags)


def chart_metadata(directory: Path) -> dict[str, Any]:
    """Chart.yaml of a chart directory (a subchart packed as .tgz: its metadata via Helm)."""
    if (directory / "Chart.yaml").is_file():
        return yaml.safe_load((directory / "Chart.yaml").read_text(encoding="utf-8")) or {}
    import helm_python as helm

    packed = sorted(directory.parent.glob(f"{directory.name}-*.tgz"))
    if not packed:
        return {}
    with helm.Chart.load(packed[0]) as chart:
        return chart.metadata


def subchart_enabled(directory: Path, chain: list[str], values: Mapping) -> bool:
    """Whether the subchart at `chain` (chart names below charts/, from the top chart in
    `directory`) is installed: every chart on the way must be enabled in its parent."""
    metadata, prefix = chart_metadata(directory), ""
    for name in chain:
        declared = [
            d for d in metadata.get("dependencies") or [] if name in (d.get("name"), d.get("alias"))
        ]
        if declared and not dependency_enabled(declared[0], values, prefix):
            return False
        prefix += (declared[0].get("alias") or name if declared else name) + "."
        directory = directory / "charts" / name
        metadata = chart_metadata(directory)
    return True


# Dependencies a chart declares that may be missing from its source because the program's
# values disable them (the tool checks that they are disabled, so they render nothing), by
# (chart, version). mlflow 1.11.5 declares Bitnami's postgresql 18.8.12 and mysql 14.0.3 and
# MinIO's chart 5.4.0 (community-charts/helm-charts@mlflow-1.11.5:charts/mlflow/Chart.lock);
# Bitnami no longer publishes postgresql 18.x as source (bitnami/charts ends at 17.1.0), so
# the three, all disabled, are left out rather than mixed from other versions.
ABSENT_DISABLED_DEPENDENCIES: dict[tuple[str, str], frozenset[str]] = {
    ("mlflow", "1.11.5"): frozenset({"postgresql", "mysql", "minio"}),
}


def render(release: Release, sources: Path, kube_version: str, api_versions: list[str]) -> Rendered:
    import helm_python as helm
    from helm_python import _native

    directory = chart_directory(sources, release)
    try:
        loaded_chart = helm.Chart.load(directory)
    except helm.HelmError as error:
        raise ChartFactsError(f"{directory}: Helm cannot load the chart:\n{error}") from error
    with loaded_chart as chart:
        if (chart.name, chart.version) != (release.chart, release.version):
            raise ChartFactsError(
                f"{directory} holds {chart.name} {chart.version}, not {release.chart} "
                f"{release.version}"
            )
        # As `helm install` does (action.CheckDependencies): every dependency the chart
        # declares must be packed under charts/, or the source is not the published chart.
        loaded = {d.get("name") for d in chart.dependencies}
        merged_values = chart.merge_values(release.values or {})
        may_lack = ABSENT_DISABLED_DEPENDENCIES.get((release.chart, release.version), frozenset())
        absent = [
            d["name"]
            for d in chart.metadata.get("dependencies") or []
            if d["name"] not in loaded
            and not (d["name"] in may_lack and not dependency_enabled(d, merged_values, ""))
        ]
        if absent:
            raise ChartFactsError(
                f"{directory}: dependencies {', '.join(absent)} are declared in Chart.yaml but "
                "missing from charts/ (a published chart packs them; `helm pull` gets them)"
            )
        values = release.values or {}
        try:
            chart.validate_schema(values)
        except helm.HelmValuesError as error:
            raise ChartFactsError(
                f"release {release.name}: its values fail {release.chart} {release.version}'s "
                f"values.schema.json (Helm refuses to install them):\n{error}"
            ) from error
        options = {
            "name": release.name,
            "namespace": release.namespace,
            "is_install": True,
            "revision": 1,
            # The C ABI's render options take these; Chart.render() does not expose them.
            "kube_version": kube_version,
            "api_versions": api_versions,
        }
        try:
            rendered = json.loads(
                _native.call_string(
                    "helm_render", chart._raw(), json.dumps(values), json.dumps(options)
                )
            )
        except helm.HelmError as error:
            raise ChartFactsError(
                f"release {release.name}: Helm cannot render it:\n{error}"
            ) from error
        documents = []
        for template in sorted(rendered):
            if template.endswith("NOTES.txt"):
                continue
            try:
                parsed = load_documents(rendered[template])
            except yaml.YAMLError as error:
                raise ChartFactsError(
                    f"release {release.name}: {template} renders invalid YAML:\n{error}"
                ) from error
            for document in parsed:
                if not isinstance(document, dict) or "kind" not in document:
                    raise ChartFactsError(f"{template}: not a Kubernetes object")
                if not is_test_hook(document):
                    documents.append(document)
        crd_documents = []
        for crd in [] if release.skip_crds else chart.crds:
            parts = crd["filename"].split("/")[1:]
            chain = []
            while len(parts) > 2 and parts[0] == "charts":
                chain.append(parts[1])
                parts = parts[2:]
            if subchart_enabled(directory, chain, merged_values):
                crd_documents += load_documents(crd["data"])
        return Rendered(release, documents, crd_documents, chart.schema is not None)


def release_facts(
    rendered: Rendered,
    scopes: Mapping[tuple[str, str], str],
    builtin: frozenset[tuple[str, str, str]],
) -> dict[str, Any]:
    """The facts file of one release. `scopes` maps (group, kind) of every CRD of the
    evaluation to its scope; `builtin` are the kinds Kubernetes itself serves."""
    release = rendered.release
    objects, pods, crds, images = set(), [], [], set()

    def namespace_of(document: Mapping[str, Any]) -> str | None:
        group, _ = group_version(str(document.get("apiVersion", "")))
        kind = document.get("kind", "")
        explicit = dig(document, ("metadata", "namespace"))
        if scopes.get((group, kind)) == "Cluster" or (
            (group, kind) not in scopes and kind in CLUSTER_SCOPED_BUILTINS
        ):
            return None
        return explicit or release.namespace

    cr_images = []
    for document in rendered.documents:
        hook = hook_of(document)
        entry = (document["apiVersion"], document["kind"], namespace_of(document), hook)
        objects.add(entry)
        group, version = group_version(document["apiVersion"])
        if (group, version, document["kind"]) not in builtin:
            name = f"{document['kind']}/{dig(document, ('metadata', 'name'))}"
            cr_images += [
                {"object": name, "path": path, "image": image}
                for path, image in custom_resource_images(document.get("spec"))
            ]
        if document["kind"] == "CustomResourceDefinition":
            crds.append(crd_facts(document, "templates"))
        for metadata, spec in pod_templates(document):
            pod = {
                "workload": f"{document['kind']}/{dig(document, ('metadata', 'name'))}",
                "namespace": namespace_of(document),
                **pod_facts(metadata, spec),
            }
            if hook:
                pod["hook"] = hook
            pods.append(pod)
            images |= images_of(pod)
    crds += [crd_facts(d, "crds") for d in rendered.crd_documents]
    return {
        "release": release.name,
        "chart": release.chart,
        "version": release.version,
        "namespace": release.namespace,
        "digest": release.digest,
        "values_schema": rendered.has_schema,
        "objects": [
            {
                "apiVersion": a,
                "kind": k,
                "namespace": n,
                **({"hook": h} if h else {}),
            }
            for a, k, n, h in sorted(objects, key=lambda o: tuple(x or "" for x in o))
        ],
        "crds": sorted(crds, key=lambda c: (c["group"], c["kind"])),
        "pods": sorted(pods, key=lambda p: (p["namespace"] or "", p["workload"])),
        "images": sorted(images),
        "custom_resource_images": sorted(cr_images, key=lambda i: (i["object"], i["path"])),
    }


def check_custom_resources(
    rendered: list[Rendered], crds: Mapping[tuple[str, str], dict]
) -> list[str]:
    """Problems of custom resources the releases render, against their CRDs' schemas (`crds`
    by group and kind)."""
    problems = []
    for result in rendered:
        for document in result.documents:
            group, version = group_version(document["apiVersion"])
            crd = crds.get((group, document["kind"]))
            schema = crd_schema(crd, version) if crd else None
            if schema is None:
                continue
            name = f"{document['kind']}/{dig(document, ('metadata', 'name'))}"
            problems += [
                f"release {result.release.name}: {name}: {p}"
                for p in custom_resource_problems(document, schema)
            ]
    return problems


def record_variant(variant: Variant, sources: Path) -> dict[str, dict]:
    """Facts of every release of `variant`, by release name (plus the capabilities file)."""
    evaluation = evaluated(variant.name)
    kube_version = "v" + str(evaluation.exports["kubernetesVersion"].value)
    builtin = builtin_kinds(kubernetes_minor(kube_version))
    found = releases(evaluation)
    custom: set[tuple[str, str, str]] = set()
    # Render until the CRDs the releases provide no longer change what they render.
    for _ in range(4):
        api_versions = capability_versions(builtin | custom)
        rendered = [render(r, sources, kube_version, api_versions) for r in found.values()]
        crd_documents = [
            d
            for r in rendered
            for d in [*r.crd_documents, *r.documents]
            if d.get("kind") == "CustomResourceDefinition"
        ]
        provided = crd_kinds(crd_facts(d, "") for d in crd_documents)
        if provided == custom:
            break
        custom = provided
    else:
        raise ChartFactsError(f"{variant.name}: the CRDs rendered never settle")
    crds = {
        (dig(c, ("spec", "group")), dig(c, ("spec", "names", "kind"))): c for c in crd_documents
    }
    problems = check_custom_resources(rendered, crds)
    if problems:
        raise ChartFactsError(
            f"{variant.name}: custom resources the charts render do not match their CRDs:\n  "
            + "\n  ".join(problems)
        )
    scopes = {key: dig(crd, ("spec", "scope")) for key, crd in crds.items()}
    facts = {r.release.name: release_facts(r, scopes, builtin) for r in rendered}
    facts[CAPABILITIES_FILE] = {
        "kube_version": kube_version,
        # Built-in API versions come from the Kubernetes schemas; these are the CRDs'.
        "custom_api_versions": capability_versions(custom),
    }
    return facts


def dumps(facts: Any) -> str:
    return json.dumps(facts, indent=1, sort_keys=True, ensure_ascii=False) + "\n"


def load_facts(variant: str) -> dict[str, dict]:
    """The recorded facts of a variant, by file stem (release name, or `_capabilities`)."""
    directory = FACTS_DIR / variant
    return {
        p.stem: json.loads(p.read_text(encoding="utf-8")) for p in sorted(directory.glob("*.json"))
    }


def write_variant(variant: Variant, facts: Mapping[str, dict]) -> list[Path]:
    directory = FACTS_DIR / variant.name
    directory.mkdir(parents=True, exist_ok=True)
    wanted = {name if name.endswith(".json") else f"{name}.json" for name in facts}
    for stale in directory.glob("*.json"):
        if stale.name not in wanted:
            stale.unlink()
    written = []
    for name, content in facts.items():
        path = directory / (name if name.endswith(".json") else f"{name}.json")
        path.write_text(dumps(content), encoding="utf-8")
        written.append(path)
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--sources",
        type=Path,
        required=True,
        help="directory of chart sources laid out as <chart>-<version>/",
    )
    parser.add_argument(
        "--variant",
        action="append",
        choices=[v.name for v in VARIANTS],
        help="only these variants (default: all)",
    )
    args = parser.parse_args(argv)
    chosen = [v for v in VARIANTS if not args.variant or v.name in args.variant]
    try:
        for variant in chosen:
            facts = record_variant(variant, args.sources.expanduser())
            written = write_variant(variant, facts)
            print(f"{variant.name}: {len(written) - 1} releases -> {FACTS_DIR / variant.name}")
    except ChartFactsError as error:
        print(f"chart_facts: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
