"""Kubeflow Trainer v2: the chart with JobSet, JobSet's CRD applied by the program on every
bump, no runtime installer fetching kubectl, and the platform's `torch-distributed` runtime fit
for restricted tenant namespaces."""

from __future__ import annotations

from components import versions
from components.addons import trainer
from components.addons.trainer import TrainerSettings, jobset_crd_manifests, torch_runtime
from tests.helpers import (
    applied_kustomization,
    custom,
    deploy_addon,
    read_platform_config,
    releases,
    stdin_parameters,
    waits_for,
)
from tools import pod_security


def evaluation(gpu: bool = True):
    return deploy_addon(trainer.ADDON, TrainerSettings(), enabled=["gpu"] if gpu else [])


def test_jobsets_crd_comes_from_the_tag_the_trainer_chart_depends_on():
    built = evaluation()
    (crds,) = built.of_type("command:remote:Command")
    assert applied_kustomization(crds)["resources"] == [
        "https://raw.githubusercontent.com/kubernetes-sigs/jobset/"
        f"{versions.JOBSET}/charts/jobset/crds/jobset.x-k8s.io_jobsets.yaml"
    ]
    assert stdin_parameters(crds)["WAIT_ESTABLISHED"] == "jobsets.jobset.x-k8s.io"
    chart = releases(built)["kubeflow-trainer"]
    assert chart.inputs["chart"] == versions.KUBEFLOW_TRAINER.chart
    assert chart.inputs["skipCrds"] is True  # the subchart's crds/; Trainer's are templates
    assert waits_for(built, chart, crds)
    assert jobset_crd_manifests("v0.13.0").kustomization != applied_kustomization(crds)


def test_the_chart_installs_jobset_and_no_runtime_installer():
    values = releases(evaluation())["kubeflow-trainer"].inputs["values"]
    assert values["jobset"] == {"install": True}
    # The installer hook Job downloads kubectl when it starts.
    assert values["runtimes"] == {"defaultEnabled": False}
    assert values["dataCache"] == {"enabled": False}


def test_the_runtime_is_created_once_the_trainer_is_ready():
    built = evaluation()
    runtime = custom(built, "ClusterTrainingRuntime", "kubeflow-trainer-runtime-torch-distributed")
    assert runtime.inputs["metadata"]["name"] == "torch-distributed"
    assert waits_for(built, runtime, releases(built)["kubeflow-trainer"])


def test_the_runtimes_pods_are_admitted_by_a_restricted_namespace():
    for gpus in (True, False):
        jobs = torch_runtime(gpus)["template"]["spec"]["replicatedJobs"]
        pod = jobs[0]["template"]["spec"]["template"]
        assert pod_security.evaluate_pod(pod, pod_security.RESTRICTED) == []
        assert (pod["spec"].get("runtimeClassName") == "nvidia") is gpus
    # The check would refuse the upstream runtime as it is (root, no seccomp).
    upstream = {"spec": {"containers": [{"name": "node", "image": trainer.RUNTIME_IMAGE}]}}
    assert pod_security.evaluate_pod(upstream, pod_security.RESTRICTED)


def test_its_namespace_is_restricted():
    (namespace,) = evaluation().of_type("kubernetes:core/v1:Namespace")
    assert namespace.inputs["metadata"] == {
        "name": "kubeflow-system",
        "labels": {
            "pod-security.kubernetes.io/enforce": "restricted",
            "pod-security.kubernetes.io/warn": "restricted",
            "app.kubernetes.io/part-of": "ml-platform",
        },
    }


def test_it_is_on_by_default():
    assert read_platform_config({})["kubeflow-trainer"].enabled is True
    assert "kubeflow-trainer" not in read_platform_config({"trainer": {"enabled": False}}).enabled


def test_planning_it_fetches_nothing(no_network):
    evaluation()


def test_the_jobset_pin_is_the_one_the_trainer_chart_installs():
    # The chart facts (tools/chart_facts.py, rendered from the published chart's sources) show
    # the JobSet controller image the subchart runs; its CRD is applied from versions.JOBSET.
    from tools.chart_facts import load_facts

    facts = load_facts("lab")["kubeflow-trainer"]
    assert f"registry.k8s.io/jobset/jobset:{versions.JOBSET}" in facts["images"]
    # Helm provides Trainer's own CRDs (templates, upgraded with the release), not JobSet's.
    assert {c["kind"] for c in facts["crds"]} == {
        "TrainJob", "TrainingRuntime", "ClusterTrainingRuntime"
    }  # fmt: skip


def test_the_documented_trainjob_is_valid_queued_and_asks_for_eight_gpus():
    from tests.helpers import documented
    from tests.schemas import crd_schemas, custom_resource_problems

    (job,) = documented("compute.md", "TrainJob")
    schema = crd_schemas()["trainer.kubeflow.org/v1alpha1:TrainJob"]
    assert custom_resource_problems(job, schema) == []
    assert job["metadata"]["labels"]["kueue.x-k8s.io/queue-name"] == "default"
    assert job["spec"]["runtimeRef"]["name"] == trainer.RUNTIME
    spec = job["spec"]["trainer"]
    assert spec["numNodes"] * int(spec["resourcesPerNode"]["limits"]["nvidia.com/gpu"]) == 8
