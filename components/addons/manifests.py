"""Upstream manifests that come as plain YAML or kustomize bases, not as a Helm chart: fetched
at deploy time from pinned refs, never stored in the program, applied from the first control
plane (`apply-manifests`, like Canal's manifest).

Why not one of pulumi-kubernetes' manifest resources: `yaml.v2.ConfigFile`/`ConfigGroup` and
`kustomize.v2.Directory` read their input when they are constructed, in preview too
(pulumi/pulumi-kubernetes@v4.32.0: provider/pkg/provider/yaml/v2/yaml.go fetches URLs with
http.Get; provider/pkg/provider/kustomize/v2/directory.go runs kustomize, which clones remote
bases, in Construct). A plan would then need the network, and a URL fetched at plan time is
not what "fetched at deploy time" means. A remote Command runs only in an update: the first
`pulumi preview` of a new environment shows it as to be created, and an offline plan makes no
network call.

What the program owns stays a Pulumi resource (namespaces, Secrets, Ingresses, custom
resources); what upstream ships is applied by the Command. The Command runs again whenever its
kustomization changes, so a version bump re-applies everything, CRDs included (Helm never
upgrades a chart's `crds/`). Removing the Command deletes nothing: objects in a namespace go
with the namespace the program deletes, and CRDs stay, as Helm leaves them, so that users'
custom resources survive an add-on being switched off by mistake (docs/operations/upgrade.md).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_command as command

from components import yamltext
from components.kubeadm.scripts import RUN_FROM_STDIN, b64, script_bundle
from model.inventory import Host

# kustomize's default for git operations is 27s, too short for a clone of a large repository.
GIT_TIMEOUT = "300s"


def github_directory(repository: str, path: str, ref: str) -> str:
    """A kustomize remote base: `path` of GitHub `repository` at tag or commit `ref`."""
    return f"https://github.com/{repository}//{path}?ref={ref}&timeout={GIT_TIMEOUT}"


def github_file(repository: str, ref: str, path: str) -> str:
    """One file of GitHub `repository` at `ref`, as kustomize fetches a URL resource."""
    return f"https://raw.githubusercontent.com/{repository}/{ref}/{path}"


def kustomization(
    resources: Sequence[str],
    *,
    namespace: str | None = None,
    patches: Sequence[Mapping[str, Any]] = (),
    labels: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """A kustomization.yaml as data: `patches` are strategic-merge patches (objects)."""
    document: dict[str, Any] = {
        "apiVersion": "kustomize.config.k8s.io/v1beta1",
        "kind": "Kustomization",
    }
    if namespace:
        document["namespace"] = namespace
    document["resources"] = list(resources)
    if labels:
        # Not in selectors: a Deployment's selector cannot change after it exists.
        document["labels"] = [{"pairs": dict(labels), "includeSelectors": False}]
    if patches:
        document["patches"] = [{"patch": yamltext.dump(p)} for p in patches]
    return document


def needs_git(document: Mapping[str, Any]) -> bool:
    """Whether a resource is a remote directory (kustomize clones those with git)."""
    return any(r.startswith("https://github.com/") for r in document.get("resources", []))


@dataclass(frozen=True)
class UpstreamManifests:
    name: str  # kebab-case: logs and /var/lib/ml-platform/manifests/<name>.yaml on the host
    # The kustomization; Outputs inside (a bucket's name) are resolved before it is sent.
    kustomization: pulumi.Input[Mapping[str, Any]]
    needs_git: bool
    # CRDs to be Established, and a namespace whose Deployments must be Available, before
    # whatever depends on the Command starts.
    wait_established: tuple[str, ...] = ()
    wait_namespace: str | None = None
    timeout_seconds: int = 600


def parameters(manifests: UpstreamManifests, kustomization_text: str) -> dict[str, str]:
    params = {
        "NAME": manifests.name,
        "KUSTOMIZATION_B64": b64(kustomization_text),
        "NEEDS_GIT": "true" if manifests.needs_git else "false",
        "WAIT_TIMEOUT_SECONDS": str(manifests.timeout_seconds),
    }
    if manifests.wait_established:
        params["WAIT_ESTABLISHED"] = " ".join(manifests.wait_established)
    if manifests.wait_namespace:
        params["WAIT_NAMESPACE"] = manifests.wait_namespace
    return params


def apply_manifests(
    manifests: UpstreamManifests,
    host: Host,
    parent: pulumi.Resource,
    depends_on: Sequence[pulumi.Resource] = (),
) -> command.remote.Command:
    """The Command that applies `manifests` from `host` (a control plane) on every change."""
    stdin = pulumi.Output.from_input(manifests.kustomization).apply(
        lambda document: script_bundle(
            "apply-manifests", parameters(manifests, yamltext.dump(document))
        )
    )
    return command.remote.Command(
        f"{manifests.name}-manifests",
        connection=host.connection,
        create=RUN_FROM_STDIN,
        stdin=stdin,
        add_previous_output_in_env=False,
        opts=pulumi.ResourceOptions(parent=parent, depends_on=list(depends_on)),
    )
