"""Kubeflow Trainer v2: TrainJobs run as JobSets (the chart installs JobSet as a dependency),
from ClusterTrainingRuntimes; the platform ships one, `torch-distributed`, fit for the tenants'
restricted namespaces.

The Trainer chart keeps its own CRDs in templates/ (kubeflow/trainer@v2.3.0:
charts/kubeflow-trainer/templates/crd/), so Helm upgrades them with the release. The JobSet
subchart keeps its CRD in crds/ (kubernetes-sigs/jobset@v0.12.0: charts/jobset/crds/), which Helm
would install once and never upgrade: the program applies it from the pinned tag before the
release and on every bump, and the release skips crds/.

TrainJobs go through Kueue: a TrainJob labelled `kueue.x-k8s.io/queue-name: <LocalQueue>` is
suspended until its queue admits it (Kueue's `trainer.kubeflow.org/trainjob` integration,
configured by the queueing add-on; docs/kubeflow.md has a professor's 8-GPU example).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_kubernetes as kubernetes

from components import versions
from components.addons.addon import Addon, AddonContext, Deployed
from components.addons.helm import RESTRICTED, namespace, release
from components.addons.manifests import (
    UpstreamManifests,
    apply_manifests,
    github_file,
    kustomization,
)
from model.inventory import Host
from model.settings import setting

NAMESPACE = "kubeflow-system"
RUNTIME = "torch-distributed"
# kubeflow/trainer@v2.3.0: charts/kubeflow-trainer/files/runtimes/torch-distributed.yaml.
RUNTIME_IMAGE = "pytorch/pytorch:2.13.0-cuda13.0-cudnn9-runtime"
# Not root: the tenants' namespaces enforce the restricted Pod Security level.
RUNTIME_USER = 1000
# The runtime class the GPU operator creates; GPU pods of the platform name it.
GPU_RUNTIME_CLASS = "nvidia"


@dataclass(frozen=True, kw_only=True)
class TrainerSettings:
    enabled: bool = setting(
        "enabled", True, doc="install Kubeflow Trainer v2 (TrainJob) with JobSet"
    )


def jobset_crd_manifests(jobset: str) -> UpstreamManifests:
    crd = github_file(
        "kubernetes-sigs/jobset", jobset, "charts/jobset/crds/jobset.x-k8s.io_jobsets.yaml"
    )
    return UpstreamManifests(
        name="jobset-crds",
        kustomization=kustomization([crd]),
        needs_git=False,
        wait_established=("jobsets.jobset.x-k8s.io",),
    )


def trainer_values() -> dict[str, Any]:
    """kubeflow-trainer values (kubeflow/trainer@v2.3.0:charts/kubeflow-trainer/values.yaml)."""
    return {
        # The chart's runtimes come through a hook Job that installs kubectl from the internet
        # when it starts (runtimes.installer); the platform ships its runtime as an object.
        "runtimes": {"defaultEnabled": False},
        "jobset": {"install": True},
        "dataCache": {"enabled": False},
    }


def torch_runtime(gpus: bool) -> dict[str, Any]:
    """The `torch-distributed` ClusterTrainingRuntime: upstream's (the file named above: torch
    mlPolicy, one `node` replicated job of the trainer step), with what the tenants'
    namespaces need: a restricted security context, shared memory for PyTorch's data loader
    workers and NCCL, the GPU runtime class where the platform has GPUs."""
    pod_spec: dict[str, Any] = {
        "securityContext": {
            "runAsNonRoot": True,
            "runAsUser": RUNTIME_USER,
            "runAsGroup": RUNTIME_USER,
            "fsGroup": RUNTIME_USER,
            "seccompProfile": {"type": "RuntimeDefault"},
        },
        "containers": [
            {
                "name": "node",
                "image": RUNTIME_IMAGE,
                # The image's user is root, whose home a non-root user cannot write to.
                "env": [{"name": "HOME", "value": "/tmp"}],
                "securityContext": {
                    "allowPrivilegeEscalation": False,
                    "capabilities": {"drop": ["ALL"]},
                },
                "volumeMounts": [{"name": "dshm", "mountPath": "/dev/shm"}],
            }
        ],
        "volumes": [{"name": "dshm", "emptyDir": {"medium": "Memory"}}],
    }
    if gpus:
        pod_spec["runtimeClassName"] = GPU_RUNTIME_CLASS
    return {
        "mlPolicy": {"numNodes": 1, "torch": {}},
        "template": {
            "spec": {
                "replicatedJobs": [
                    {
                        "name": "node",
                        "template": {
                            "metadata": {
                                "labels": {"trainer.kubeflow.org/trainjob-ancestor-step": "trainer"}
                            },
                            "spec": {"template": {"spec": pod_spec}},
                        },
                    }
                ]
            }
        },
    }


@dataclass(frozen=True)
class TrainerArgs:
    first_control_plane: Host
    gpus: bool
    depends_on: Sequence[pulumi.Resource]


class Trainer(pulumi.ComponentResource):
    def __init__(
        self, name: str, args: TrainerArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("ml-platform:platform:KubeflowTrainer", name, None, opts)
        ns = namespace(NAMESPACE, RESTRICTED, self, args.depends_on)
        self.jobset_crds = apply_manifests(
            jobset_crd_manifests(versions.JOBSET), args.first_control_plane, self, args.depends_on
        )
        self.release = release(
            "kubeflow-trainer",
            versions.KUBEFLOW_TRAINER,
            ns,
            trainer_values(),
            self,
            depends_on=[self.jobset_crds],
            skip_crds=True,
        )
        # Helm waited for the manager to be ready, and with it its validating webhook.
        self.runtime = kubernetes.apiextensions.CustomResource(
            f"{name}-runtime-{RUNTIME}",
            api_version="trainer.kubeflow.org/v1alpha1",
            kind="ClusterTrainingRuntime",
            metadata={
                "name": RUNTIME,
                "labels": {
                    "trainer.kubeflow.org/framework": "torch",
                    "app.kubernetes.io/part-of": "ml-platform",
                },
            },
            spec=torch_runtime(args.gpus),
            opts=pulumi.ResourceOptions(parent=self, depends_on=[self.release]),
        )
        self.register_outputs({})


def _deploy(_settings: TrainerSettings, context: AddonContext) -> Deployed:
    args = TrainerArgs(
        context.inventory.first_control_plane, context.enabled("gpu"), context.depends_on
    )
    return Deployed(Trainer("kubeflow-trainer", args, context.opts))


ADDON: Addon[TrainerSettings] = Addon(
    name="kubeflow-trainer",
    summary="Kubeflow Trainer v2 (TrainJob) with JobSet, and a `torch-distributed` runtime",
    deploy=_deploy,
    settings=TrainerSettings,
    section="trainer",
    # The runtime names the GPU operator's runtime class.
    needs=("gpu",),
    charts=(versions.KUBEFLOW_TRAINER,),
    enabled=lambda settings, _context: settings.enabled,
    when="`enabled` (by default)",
    namespaces=(NAMESPACE,),
)
