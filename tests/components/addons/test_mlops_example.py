"""The MLOps example on the platform: what the lab gets (the model through the serving add-on,
the upload Job, the drift CronJob in the tenant's queue, the roll-out RBAC, the network paths,
the MLflow user and its Secrets, dashboard and alerts), how it is wired, what a config change
moves, what the config refuses, and the MLflow user step under bash with a fake MLflow."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import pytest

from automation.engine import Evaluation, unwrap_secrets
from components.addons import mlops_example as example
from components.addons import pipelines, serving
from components.kubeadm.scripts import script_bundle
from model.fields import ConfigError
from model.formats import DAILY_CRON
from model.tenants import Course, Faculty, TenantsConfig
from model.values import DailySchedule
from tests.helpers import (
    bundle_params,
    custom,
    deploy_addon,
    descendants,
    evaluate_changed,
    plain_text,
    read_platform_config,
    refused,
    releases,
    waits_for,
)
from tests.netpol import Pod, cluster_of
from tests.schemas import validate_objects
from tests.stub_host import StubHost
from tools.pod_security import RESTRICTED, evaluate_pod, forbidden_detail

ROOT = Path(__file__).resolve().parents[3]
TENANT = "prof-lee"
MODEL = "breast-cancer-classifier"
SERVICE_IMAGE = "registry.lab.example.edu/ml-platform/mlops-service:sha-4f2e9a7"


def of(evaluation: Evaluation, kind: str, name: str) -> dict:
    return unwrap_secrets(custom(evaluation, kind, name).inputs)


def ours(evaluation: Evaluation) -> list:
    urns = descendants(evaluation, "ml-platform:platform:MlopsExample")
    return [r for r in evaluation.registrations if r.urn in urns]


def env_of(container: dict) -> dict[str, object]:
    return {e["name"]: e.get("value", e.get("valueFrom")) for e in container["env"]}


# ---- what the lab gets -------------------------------------------------------------------------


def test_the_lab_gets_the_examples_objects(lab):
    kinds = sorted(r.type.rsplit(":", 1)[-1] for r in ours(lab) if r.custom)
    assert kinds == sorted([
        # The model, through the serving add-on's objects.
        "Deployment", "Service", "HorizontalPodAutoscaler", "PodDisruptionBudget",
        "NetworkPolicy", "ServiceMonitor", "Middleware", "Ingress",
        # Its MLflow user and the two Secrets with its credentials; its bucket.
        "RandomPassword", "Command", "Secret", "Secret", "ObjectBucketClaim",
        # The pipeline's upload, its roll-out rights, the drift check and its network paths.
        "Job", "Role", "RoleBinding", "CronJob", "NetworkPolicy", "NetworkPolicy",
        "ConfigMap", "PrometheusRule",
    ])  # fmt: skip
    assert lab.exports["mlopsExampleModelUrl"].value == (
        f"https://models.ml.lab.example.edu/{MODEL}"
    )


def test_the_model_is_served_by_the_serving_add_ons_objects_in_the_tenants_namespace(lab):
    deployment = of(lab, "Deployment", f"{TENANT}-{MODEL}-model")
    assert "Serving" in custom(lab, "Deployment", f"{TENANT}-{MODEL}-model").urn
    assert deployment["metadata"]["namespace"] == TENANT
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    assert container["image"] == SERVICE_IMAGE
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    env = env_of(container)
    secret = example.MLFLOW_SECRET
    assert env["MLFLOW_TRACKING_URI"] == "http://mlflow.mlflow.svc:80"
    assert env["MLFLOW_TRACKING_USERNAME"] == {"secretKeyRef": {"name": secret, "key": "username"}}
    assert env["MLFLOW_TRACKING_PASSWORD"] == {"secretKeyRef": {"name": secret, "key": "password"}}
    assert env["MLOPS_MODEL_NAME"] == MODEL
    # Its inputs go to the example's own bucket, with that bucket's own credentials.
    claim = of(lab, "ObjectBucketClaim", "mlops-example-bucket-claim")
    assert claim["metadata"]["namespace"] == TENANT
    assert env["MLOPS_S3_BUCKET"] == claim["spec"]["bucketName"] == "ml-platform-lab-mlops-example"
    assert env["MLOPS_S3_ENDPOINT_URL"].startswith("http://rook-ceph-rgw-")
    assert env["AWS_ACCESS_KEY_ID"] == {
        "secretKeyRef": {"name": "mlops-example-bucket", "key": "AWS_ACCESS_KEY_ID"}
    }
    assert "AWS_SECRET_ACCESS_KEY" in env and "AWS_REGION" in env
    # It has nothing to serve until the first run: Pulumi does not wait for it to serve.
    skip = {"pulumi.com/skipAwait": "true"}
    assert deployment["metadata"]["annotations"] == skip
    assert of(lab, "Service", f"{TENANT}-{MODEL}-service")["metadata"]["annotations"] == skip
    # The serving add-on's own models still wait (its default).
    assert "annotations" not in serving.deployment(serving.Model(name="m", image="r/m:1",
                                                                 namespace="t"))["metadata"]  # fmt: skip


def test_the_upload_job_publishes_the_train_image_and_starts_the_first_run(lab):
    job = of(lab, "batch/v1:Job", "mlops-example-publish")
    assert job["metadata"]["namespace"] == pipelines.NAMESPACE
    assert job["metadata"]["name"].startswith("mlops-example-publish-")
    (container,) = job["spec"]["template"]["spec"]["containers"]
    assert container["image"] == "registry.lab.example.edu/ml-platform/mlops-train:sha-4f2e9a7"
    assert container["command"] == ["python", "-m", "mlops.publish", "--first-run"]
    env = env_of(container)
    assert env["MLOPS_TRAIN_IMAGE"] == container["image"]
    assert env["MLOPS_KFP_ENDPOINT"] == "http://ml-pipeline.kubeflow.svc:8888"
    assert env["MLOPS_KFP_PIPELINE_NAME"] == "mlops-retrain"
    assert json.loads(env["MLOPS_KFP_PIPELINE_PARAMS"]) == {
        "tracking_uri": "http://mlflow.mlflow.svc:80",
        "service_namespace": TENANT,
        "service_deployment": MODEL,
        "model_name": MODEL,
        "dataset": "breast_cancer",
        "mlflow_secret": example.MLFLOW_SECRET,
    }
    assert env["MLFLOW_TRACKING_PASSWORD"]["secretKeyRef"]["name"] == example.MLFLOW_SECRET
    # Pulumi's Job await: no TTL, so the finished Job stays and a second run changes nothing.
    assert "ttlSecondsAfterFinished" not in job["spec"]


def test_the_job_waits_for_pipelines_the_mlflow_user_the_rollout_rights_and_the_model(lab):
    job = custom(lab, "batch/v1:Job", "mlops-example-publish")
    for earlier in (
        custom(lab, "Command", "mlops-example-mlflow-user"),
        custom(lab, "Secret", "mlops-example-pipeline-mlflow-credentials"),
        custom(lab, "RoleBinding", "mlops-example-rollout"),
        custom(lab, "Deployment", f"{TENANT}-{MODEL}-model"),
        # The pipelines' API server itself, through its component.
        custom(lab, "Command", "kubeflow-pipelines-manifests"),
    ):
        assert waits_for(lab, job, earlier), earlier.name
    user = custom(lab, "Command", "mlops-example-mlflow-user")
    assert waits_for(lab, user, releases(lab)["mlflow"])


def test_the_drift_check_is_a_cron_job_of_the_tenants_queue(lab):
    cron = of(lab, "CronJob", "mlops-example-drift")
    assert cron["metadata"]["namespace"] == TENANT
    spec = cron["spec"]
    assert spec["schedule"] == "17 * * * *" and spec["timeZone"] == "Etc/UTC"
    assert spec["concurrencyPolicy"] == "Forbid"
    # Kueue takes a Job's queue from this label, which the CronJob copies to its Jobs.
    assert spec["jobTemplate"]["metadata"]["labels"]["kueue.x-k8s.io/queue-name"] == "default"
    assert spec["jobTemplate"]["spec"]["backoffLimit"] == 2
    (container,) = spec["jobTemplate"]["spec"]["template"]["spec"]["containers"]
    assert container["image"] == "registry.lab.example.edu/ml-platform/mlops-drift:sha-4f2e9a7"
    assert "command" not in container  # the image's own: python -m mlops.drift
    env = env_of(container)
    assert env["MLOPS_PUSHGATEWAY_URL"] == "http://pushgateway.monitoring.svc:9091"
    assert env["MLOPS_KFP_ENDPOINT"] == "http://ml-pipeline.kubeflow.svc:8888"
    assert env["MLOPS_DRIFT_WINDOW_HOURS"] == "24"
    params = json.loads(env["MLOPS_KFP_PIPELINE_PARAMS"])
    assert {"tracking_uri", "service_namespace", "service_deployment"} <= set(params)
    assert {"MLOPS_S3_BUCKET", "AWS_ACCESS_KEY_ID", "MLFLOW_TRACKING_USERNAME"} <= set(env)
    # Its LocalQueue must exist (and Kueue's webhook answer) before its first Job.
    queue = custom(lab, "LocalQueue", f"kueue-{TENANT}-local-queue")
    assert waits_for(lab, custom(lab, "CronJob", "mlops-example-drift"), queue)


@pytest.mark.parametrize(
    ("kind", "name", "path"),
    [
        ("batch/v1:Job", "mlops-example-publish", ("spec", "template")),
        ("CronJob", "mlops-example-drift", ("spec", "jobTemplate", "spec", "template")),
        ("Deployment", f"{TENANT}-{MODEL}-model", ("spec", "template")),
    ],
)
def test_its_pods_are_admitted_by_the_restricted_pod_security_level(lab, kind, name, path):
    template = of(lab, kind, name)
    for key in path:
        template = template[key]
    problems = evaluate_pod(template, RESTRICTED)
    assert problems == [], forbidden_detail(problems)
    assert template["spec"]["securityContext"]["runAsNonRoot"] is True


def test_the_pipelines_service_account_may_get_and_patch_that_deployment_only(lab):
    role = of(lab, "Role", "mlops-example-rollout")
    assert role["metadata"]["namespace"] == TENANT
    assert role["rules"] == [
        {
            "apiGroups": ["apps"],
            "resources": ["deployments"],
            "resourceNames": [MODEL],
            "verbs": ["get", "patch"],
        }
    ]
    binding = of(lab, "RoleBinding", "mlops-example-rollout")
    assert binding["roleRef"] == {
        "apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "mlops-example-rollout",
    }  # fmt: skip
    assert binding["subjects"] == [
        {"kind": "ServiceAccount", "name": "pipeline-runner", "namespace": "kubeflow"}
    ]


def test_the_drift_check_reaches_the_pushgateway_and_the_pipelines_api_and_nothing_more(lab):
    cluster = cluster_of(lab.registrations, {"kube-system": {}})
    drift = Pod(TENANT, {"app.kubernetes.io/name": "mlops-example-drift",
                         "app.kubernetes.io/part-of": "ml-platform"})  # fmt: skip
    model = Pod(TENANT, {"app.kubernetes.io/name": MODEL, "app.kubernetes.io/component": "model"})
    other = Pod(TENANT, {"app": "notebook"})
    pushgateway = Pod("monitoring", {"app.kubernetes.io/name": "prometheus-pushgateway",
                                     "app.kubernetes.io/instance": "pushgateway"})  # fmt: skip
    api = Pod("kubeflow", {"app": "ml-pipeline"})
    ui = Pod("kubeflow", {"app": "ml-pipeline-ui"})
    mlflow = Pod("mlflow", {"app.kubernetes.io/name": "mlflow"})
    prometheus = Pod("monitoring", {"app.kubernetes.io/name": "prometheus"})
    grafana = Pod("monitoring", {"app.kubernetes.io/name": "grafana"})
    student = Pod("cs231", {"app": "notebook"})
    assert cluster.connects(drift, pushgateway, 9091)
    assert cluster.connects(drift, api, 8888)
    assert cluster.connects(drift, mlflow, 5000)  # the tenant's own policy
    assert not cluster.connects(drift, api, 8887)
    assert not cluster.connects(drift, ui, 3000)
    assert not cluster.connects(drift, prometheus, 9090)
    assert not cluster.connects(drift, prometheus, 9091)  # the Pushgateway's pods only
    assert not cluster.connects(drift, grafana, 3000)
    assert not cluster.connects(drift, student, 8888)
    # Only the drift check: neither the model nor the tenant's other pods reach the API.
    assert not cluster.connects(model, api, 8888)
    assert not cluster.connects(other, api, 8888)
    assert not cluster.connects(other, pushgateway, 9091)
    assert cluster.connects(model, mlflow, 5000)


def test_the_mlflow_users_password_is_generated_and_never_in_plain_text(lab):
    password = custom(lab, "RandomPassword", "mlops-example-mlflow-password")
    assert password.inputs["length"] >= 32 and password.inputs["special"] is False
    values = set()
    for name, namespace in (("mlops-example-mlflow-credentials", TENANT),
                            ("mlops-example-pipeline-mlflow-credentials", "kubeflow")):  # fmt: skip
        secret = custom(lab, "Secret", name)
        data = unwrap_secrets(secret.inputs)
        assert data["metadata"] == {"name": example.MLFLOW_SECRET, "namespace": namespace,
                                    "labels": data["metadata"]["labels"]}  # fmt: skip
        assert set(data["stringData"]) == {"username", "password"}
        assert data["stringData"]["username"] == "mlops-example"
        values.add(data["stringData"]["password"])
        assert data["stringData"]["password"] not in plain_text(secret.inputs)
    (value,) = values  # the same user in both namespaces
    user = custom(lab, "Command", "mlops-example-mlflow-user")
    assert bundle_params(user)["PASSWORD"] == value
    for registration in ours(lab):
        assert value not in plain_text(registration.inputs), registration.name
    # The step reads MLflow's admin credentials on the cluster: they are not in its input.
    admin = unwrap_secrets(custom(lab, "Secret", "mlflow-admin").inputs)["stringData"]["password"]
    assert admin not in json.dumps(unwrap_secrets(user.inputs))


def test_the_mlflow_user_may_edit_its_experiment_and_model(lab):
    params = bundle_params(custom(lab, "Command", "mlops-example-mlflow-user"))
    assert {k: params[k] for k in ("ACTION", "USERNAME", "EXPERIMENT", "MODEL", "PERMISSION")} == {
        "ACTION": "apply", "USERNAME": "mlops-example", "EXPERIMENT": f"mlops-{MODEL}",
        "MODEL": MODEL, "PERMISSION": "EDIT",
    }  # fmt: skip
    assert {k: params[k] for k in ("NAMESPACE", "SERVICE", "PORT", "ADMIN_SECRET")} == {
        "NAMESPACE": "mlflow", "SERVICE": "mlflow", "PORT": "80", "ADMIN_SECRET": "mlflow-admin",
    }  # fmt: skip
    # Its delete runs the same step with no secret on the command line.
    delete = custom(lab, "Command", "mlops-example-mlflow-user").inputs["delete"]
    assert "\nACTION=delete\n" in delete and "\nPASSWORD=" not in delete


def test_dashboard_and_alerts_cover_the_model_and_its_drift(lab):
    board = json.loads(next(iter(of(lab, "ConfigMap", "mlops-example-dashboard")["data"].values())))
    titles = [p["title"] for p in board["panels"]]
    assert titles[:5] == ["Requests", "Latency", "Errors (5xx share)", "Replicas", "GPU use"]
    assert {"Drift", "KS statistic per feature", "Since the last drift check"} <= set(titles)
    exprs = " ".join(t["expr"] for p in board["panels"] for t in p["targets"])
    assert f'job="mlops-drift",model="{MODEL}"' in exprs and f'service=~"{MODEL}"' in exprs
    rules = of(lab, "PrometheusRule", "mlops-example-alerts")
    assert rules["metadata"] == {"name": "mlops-example", "namespace": "monitoring"}
    alerts = {r["alert"]: r for g in rules["spec"]["groups"] for r in g["rules"]}
    assert set(alerts) == {"ModelErrorRateHigh", "ModelLatencyHigh", "MlopsDriftDetected",
                           "MlopsDriftCheckNotRunning", "MlopsDriftUndecided"}  # fmt: skip
    assert alerts["MlopsDriftDetected"]["expr"] == (
        f'max by (model) (mlops_drift_detected{{job="mlops-drift",model="{MODEL}"}}) == 1'
    )
    late = [r for g in rules["spec"]["groups"] for r in g["rules"]
            if r["alert"] == "MlopsDriftCheckNotRunning"]  # fmt: skip
    # Hourly: late after three hours, or never reported for three hours.
    assert {r["expr"].rsplit(" ", 1)[-1] for r in late if "time()" in r["expr"]} == {"10800"}
    assert [r["for"] for r in late if r["expr"].startswith("absent(")] == ["10800s"]


def test_every_object_validates_against_its_schema():
    evaluation = deploy_addon(example.ADDON, SETTINGS, deployed=fake_platform)
    # The model's eight, two Secrets, Role and binding, Job, CronJob, two policies, the
    # dashboard and the rules; and the fakes' Namespace and bucket Secret.
    assert validate_objects(evaluation) == 8 + 2 + 2 + 2 + 2 + 2 + 2


# ---- what a change moves ------------------------------------------------------------------------


def changed(before: Evaluation, after: Evaluation) -> set[str]:
    a, b = before.by_urn(), after.by_urn()
    return (set(a) ^ set(b)) | {
        u for u in set(a) & set(b) if unwrap_secrets(a[u].inputs) != unwrap_secrets(b[u].inputs)
    }


def test_a_new_train_image_reruns_only_the_upload(lab):
    def bump(config: dict) -> None:
        images = config["platform"]["mlops"]["example"]["images"]
        images["train"] = images["train"].replace("sha-4f2e9a7", "sha-9b1c3d5")

    after = evaluate_changed("lab", bump).check()
    moved = changed(lab, after)
    assert {(lab.by_urn().get(u) or after.by_urn()[u]).name for u in moved} == {
        "mlops-example-publish"
    }
    old, new = (of(e, "batch/v1:Job", "mlops-example-publish") for e in (lab, after))
    # Another Job (a Job's template cannot change): it runs the upload again.
    assert old["metadata"]["name"] != new["metadata"]["name"]


def test_disabling_the_example_removes_exactly_its_objects(lab):
    def off(config: dict) -> None:
        config["platform"]["mlops"]["example"]["enabled"] = False

    without = evaluate_changed("lab", off).check()
    mine = descendants(lab, "ml-platform:platform:MlopsExample")
    assert changed(lab, without) == mine
    assert set(without.by_urn()) == set(lab.by_urn()) - mine
    assert "mlopsExampleModelUrl" not in without.exports
    # Its MLflow user goes with it (the step's delete), its bucket stays (the class retains).
    assert "ACTION=delete" in custom(lab, "Command", "mlops-example-mlflow-user").inputs["delete"]
    assert custom(lab, "StorageClass", "ceph-rgw-bucket-class").inputs["reclaimPolicy"] == "Retain"


# ---- what the config refuses ------------------------------------------------------------------

TENANTS = TenantsConfig(faculty=(Faculty(name=TENANT, dedicated_gpus=1),),
                        courses=(Course(name="cs231"),))  # fmt: skip
IMAGES = {
    "train": "ghcr.io/lab/ml-platform/mlops-train:sha-1",
    "service": "ghcr.io/lab/ml-platform/mlops-service:sha-1",
    "drift": "ghcr.io/lab/ml-platform/mlops-drift:sha-1",
}


def platform_with(**example_keys) -> dict:
    return {
        "monitoring": {"pushgateway": True},
        "pipelines": {"enabled": True},
        "mlops": {"example": {"enabled": True, "tenant": TENANT, "images": dict(IMAGES),
                              **example_keys}},
    }  # fmt: skip


def test_a_complete_config_is_read():
    settings = read_platform_config(platform_with(), tenants=TENANTS)
    assert "mlops-example" in settings.enabled
    read = settings["mlops-example"].example
    assert read.drift_schedule == DailySchedule.parse("17 * * * *")
    assert read.model_name == MODEL and read.first_run is True
    assert "mlops-example" not in read_platform_config({}, tenants=TENANTS).enabled
    own = read_platform_config(platform_with(dataset="mypackage.data:load"), tenants=TENANTS)
    assert own["mlops-example"].example.dataset == "mypackage.data:load"


@pytest.mark.parametrize(
    ("change", "key", "says"),
    [
        (lambda p: p.update(mlflow={"enabled": False}), "enabled", "platform.mlflow.enabled"),
        (lambda p: p.update(pipelines={"enabled": False}), "enabled", "platform.pipelines"),
        (lambda p: p.update(objectStore={"provider": "none"}), "enabled",
         "platform.objectStore.provider is none"),
        (lambda p: p.update(monitoring={"pushgateway": False}), "enabled",
         "platform.monitoring.pushgateway"),
        (lambda p: p.update(monitoring={"enabled": False, "pushgateway": True}), "enabled",
         "platform.monitoring.pushgateway"),
        (lambda p: p.update(queueing={"enabled": False}), "enabled", "platform.queueing"),
        (lambda p: p["mlops"]["example"]["images"].pop("drift"), "images.drift", "required"),
        (lambda p: p["mlops"]["example"].update(tenant="nobody"), "tenant", "cs231, prof-lee"),
        (lambda p: p["mlops"]["example"].pop("tenant"), "tenant", "must name a tenant"),
        (lambda p: p.update(serving={"models": [{"name": MODEL, "namespace": TENANT,
                                                 "image": "r/m:1"}]}),
         "modelName", "serves prof-lee/breast-cancer-classifier already"),
        (lambda p: p["mlops"]["example"].update(driftSchedule="0 0 * * *"), "driftWindowHours",
         "not longer than the 24 h between two drift checks"),
        (lambda p: p["mlops"]["example"].update(dataset="my data; rm -rf"), "dataset",
         "is not a data set name or package.module:function"),
    ],
)  # fmt: skip
def test_what_the_example_needs_is_refused_with_the_key_named(change, key, says):
    platform = platform_with()
    change(platform)
    with pytest.raises(ConfigError) as error:
        read_platform_config(platform, tenants=TENANTS)
    assert says in refused(error.value, f"ml-platform:platform.mlops.example.{key}")


@pytest.mark.parametrize(
    "schedule",
    ["17 * * * 1", "@hourly", "60 * * * *", "*/0 * * * *", "17 * * *", "5-1 * * * *", "a * * * *"],
)
def test_a_drift_schedule_that_is_not_daily_cron_is_refused(schedule):
    with pytest.raises(ConfigError) as error:
        read_platform_config(platform_with(driftSchedule=schedule), tenants=TENANTS)
    problem = refused(error.value, "ml-platform:platform.mlops.example.driftSchedule")
    assert "cron schedule that runs every day" in problem


def test_daily_schedules_and_the_time_between_their_runs():
    for text, gap, runs in (("17 * * * *", 60, 24), ("*/15 * * * *", 15, 96),
                            ("0 */6 * * *", 360, 4), ("5 1,13 * * *", 720, 2),
                            ("5/20 2-4 * * *", 1280, 9), ("30 23 * * *", 1440, 1)):  # fmt: skip
        ok, schedule, _ = DAILY_CRON.parse(text)
        assert ok and (schedule.longest_gap_minutes, len(schedule.times)) == (gap, runs), text
        assert str(schedule) == text


def test_an_oidc_provider_refuses_the_example():
    from tests.tenants import campus_config, evaluate_campus

    config = campus_config()
    config["platform"]["mlops"]["example"]["enabled"] = True
    error = evaluate_campus(config).error
    assert isinstance(error, ConfigError), error
    assert "OIDC provider" in refused(error, "ml-platform:platform.mlops.example.enabled")


# ---- the example's names are the loop's ----------------------------------------------------------


def test_the_names_it_uses_are_those_of_the_loops_code():
    source = {name: (ROOT / "mlops" / f"{name}.py").read_text() for name in ("pipeline", "train",
                                                                         "drift")}  # fmt: skip
    assert f'PIPELINE_NAME = "{example.PIPELINE}"' in source["pipeline"]
    assert 'experiment or f"mlops-{model_name}"' in source["train"]
    assert example.EXPERIMENT_PREFIX == "mlops-"
    assert f'PUSH_JOB = "{example.DRIFT_JOB}"' in source["drift"]
    signature = re.search(r"def retrain\((.*?)\) -> None:", source["pipeline"], re.S).group(1)
    parameters = set(re.findall(r"^\s*(\w+):", signature, re.M))
    assert set(example.pipeline_parameters(SETTINGS.example)) <= parameters
    for image in ("train", "service", "drift"):
        dockerfile = (ROOT / "mlops" / "docker" / f"{image}.Dockerfile").read_text()
        assert f"USER {example.IMAGE_USER}" in dockerfile


# ---- one add-on on its own ------------------------------------------------------------------------


def fake_platform():
    import pulumi
    import pulumi_kubernetes as kubernetes

    from components.addons.addon import Deployed
    from tests.helpers import FakeObjectStore

    tenancy = pulumi.ComponentResource("test:index:Tenancy", "tenancy")
    namespace = kubernetes.core.v1.Namespace(
        f"tenant-{TENANT}", metadata={"name": TENANT}, opts=pulumi.ResourceOptions(parent=tenancy)
    )
    tenancy.spaces = {TENANT: type("Space", (), {"namespace": namespace})()}
    deployed = {"tenancy": Deployed(tenancy), "object-store": Deployed(FakeObjectStore())}
    for name in ("mlflow", "kubeflow-pipelines", "kueue", "monitoring"):
        deployed[name] = Deployed(pulumi.ComponentResource(f"test:index:{name}", name))
    return deployed


SETTINGS = example.MlopsSettings(
    example=example.ExampleSettings(
        enabled=True,
        tenant=TENANT,
        images=example.ExampleImages(**IMAGES),
    )
)


def test_without_the_first_run_the_job_only_uploads():
    settings = example.ExampleSettings(
        enabled=True, tenant=TENANT, images=example.ExampleImages(**IMAGES), first_run=False
    )
    job = example.publish_job(settings)
    assert job["spec"]["template"]["spec"]["containers"][0]["command"] == [
        "python", "-m", "mlops.publish",
    ]  # fmt: skip
    assert job["metadata"]["name"] != example.publish_job(SETTINGS.example)["metadata"]["name"]


# ---- the MLflow user step, under bash with a fake MLflow -----------------------------------------

ADMIN_PASSWORD = 's3cr3t"pw\\x'
USER_PASSWORD = "Abcdefghij0123456789KLMNOPqrstuv"

FAKE_MLFLOW = r'''#!/usr/bin/env python3
"""curl as the step calls it, answering as MLflow's basic-auth server would."""
import json, os, stat, sys, urllib.parse
root = os.environ["ROOT"]
S = os.path.join(root, ".stub")
with open(os.path.join(root, "calls.log"), "a") as log:
    log.write("curl " + " ".join(sys.argv[1:]) + "\n")
args, i, opts = sys.argv[1:], 0, {"headers": []}
while i < len(args):
    a = args[i]
    if a in ("--config", "-o", "-w", "-X", "--data-binary", "--max-time"):
        opts[a] = args[i + 1]; i += 2; continue
    if a == "-H":
        opts["headers"].append(args[i + 1]); i += 2; continue
    if a.startswith("http"):
        opts["url"] = a
    i += 1
state_file = os.path.join(S, "mlflow.json")
state = json.load(open(state_file)) if os.path.exists(state_file) else {
    "users": {}, "experiments": {"Default": "0"}, "models": [], "grants": {}}
def answer(status, body):
    json.dump(state, open(state_file, "w"))
    open(opts["-o"], "w").write(json.dumps(body))
    sys.stdout.write(str(status))
    sys.exit(0)
if os.path.exists(os.path.join(S, "down")):
    sys.stdout.write("000"); sys.exit(7)
mode = stat.S_IMODE(os.stat(opts["--config"]).st_mode)
if mode != 0o600:
    open(os.path.join(S, "bad-mode"), "w").write(oct(mode))
config = open(opts["--config"]).read()
user = json.loads(config.split("=", 1)[1].strip())
known = os.path.join(S, "mlflow-admin-password")  # MLflow's own, when it differs
if user != "admin:" + open(known if os.path.exists(known) else os.path.join(S, "admin-password")).read():
    answer(401, {"error": "unauthenticated"})
if "Host: mlflow.mlflow.svc" not in opts["headers"]:
    answer(400, {"error": "Invalid Host header"})
url = urllib.parse.urlsplit(opts["url"])
query = dict(urllib.parse.parse_qsl(url.query))
body = {}
if "--data-binary" in opts:
    path = opts["--data-binary"][1:]
    body = json.load(open(path))
    if stat.S_IMODE(os.stat(path).st_mode) != 0o600:
        open(os.path.join(S, "bad-mode"), "w").write("body")
method, route = opts.get("-X", "GET"), url.path
with open(os.path.join(S, "requests"), "a") as requests:
    requests.write(f"{method} {route}\n")
exists = {"error_code": "RESOURCE_ALREADY_EXISTS"}
missing = {"error_code": "RESOURCE_DOES_NOT_EXIST"}
users, grants = state["users"], state["grants"]
RANK = ["READ", "USE", "EDIT", "MANAGE"]
if route == "/api/2.0/mlflow/users/get":
    answer(200, {"user": {"username": query["username"]}}) if query["username"] in users else answer(404, missing)
if route == "/api/2.0/mlflow/users/create":
    if body["username"] in users: answer(400, exists)
    users[body["username"]] = body["password"]; answer(200, {"user": {"username": body["username"]}})
if route == "/api/2.0/mlflow/users/update-password":
    users[body["username"]] = body["password"]; answer(200, {})
if route == "/api/2.0/mlflow/users/delete":
    del users[body["username"]]
    state["grants"] = {k: v for k, v in grants.items() if not k.startswith(body["username"] + "|")}
    answer(200, {})
if route == "/api/2.0/mlflow/experiments/get-by-name":
    name = query["experiment_name"]
    if name not in state["experiments"]: answer(404, missing)
    answer(200, {"experiment": {"experiment_id": state["experiments"][name], "name": name}})
if route == "/api/2.0/mlflow/experiments/create":
    state["experiments"][body["name"]] = str(len(state["experiments"]) + 6)
    answer(200, {"experiment_id": state["experiments"][body["name"]]})
if route == "/api/2.0/mlflow/registered-models/get":
    answer(200, {"registered_model": {"name": query["name"]}}) if query["name"] in state["models"] else answer(404, missing)
if route == "/api/2.0/mlflow/registered-models/create":
    state["models"].append(body["name"]); answer(200, {"registered_model": {"name": body["name"]}})
if route.startswith("/api/3.0/mlflow/users/permissions/"):
    source = query if method == "GET" else body
    key = "|".join((source["username"], source["resource_type"], source["resource_id"]))
    if route.endswith("/get"):
        answer(200, {"permission": max(grants.get(key, "READ"), "READ", key=RANK.index)})
    if route.endswith("/grant"):
        if key in grants: answer(400, exists)
        grants[key] = body["permission"]; answer(200, {})
    if route.endswith("/revoke"):
        grants.pop(key); answer(200, {})
answer(404, {"error": "no route"})
'''

STUBS = {
    "kubectl": r"""
        case " $* " in
            *" get service "* | *" get secret "*" -o name "*) [[ -e $S/no-mlflow ]] && exit 1; echo found ;;
            *"{.data.username}"*) printf 'admin' | base64 ;;
            *"{.data.password}"*) base64 <"$S/admin-password" ;;
            *" port-forward "*) echo "Forwarding from 127.0.0.1:43210 -> 5000" ;;
            *) exit 3 ;;
        esac
    """,
    "timeout": 'while [[ $1 == -* ]]; do shift; done; shift; exec "$@"',
    "sleep": "exec /bin/sleep 0.05",
    "hostname": "echo cp-1",
}


class Host(StubHost):
    def __init__(self, tmp_path: Path) -> None:
        super().__init__(tmp_path / "root", {**STUBS, "curl": FAKE_MLFLOW})
        self.write("etc/kubernetes/admin.conf", "apiVersion: v1\n")
        (self.stub / "admin-password").write_text(ADMIN_PASSWORD)

    def run(self, action: str = "apply", **changes: str) -> subprocess.CompletedProcess:
        params = {
            "NODE_NAME": "cp-1", "ACTION": action, "USERNAME": "mlops-example",
            "NAMESPACE": "mlflow", "SERVICE": "mlflow", "PORT": "80",
            "HOST_HEADER": "mlflow.mlflow.svc", "ADMIN_SECRET": "mlflow-admin",
            "TIMEOUT_SECONDS": "3", "POLL_SECONDS": "1",
        }  # fmt: skip
        if action == "apply":
            params |= {"PASSWORD": USER_PASSWORD, "EXPERIMENT": f"mlops-{MODEL}",
                       "MODEL": MODEL, "PERMISSION": "EDIT"}  # fmt: skip
        params |= changes
        return self.run_step("mlflow-user", params, quiet=True)

    @property
    def mlflow(self) -> dict:
        return json.loads((self.stub / "mlflow.json").read_text())

    def requests(self) -> list[str]:
        path = self.stub / "requests"
        lines = path.read_text().splitlines() if path.exists() else []
        path.unlink(missing_ok=True)
        return lines

    def log_text(self) -> str:
        return "\n".join(self.read_log())


@pytest.fixture
def host(tmp_path: Path) -> Host:
    return Host(tmp_path)


def test_the_step_makes_the_user_its_experiment_and_model_and_grants_edit(host):
    result = host.run()
    assert result.returncode == 0, result.stderr
    state = host.mlflow
    assert state["users"] == {"mlops-example": USER_PASSWORD}
    assert state["experiments"][f"mlops-{MODEL}"] and state["models"] == [MODEL]
    experiment = state["experiments"][f"mlops-{MODEL}"]
    assert state["grants"] == {
        f"mlops-example|experiment|{experiment}": "EDIT",
        f"mlops-example|registered_model|{MODEL}": "EDIT",
    }
    assert "created" in result.stderr and "is ready" in result.stderr
    assert not (host.stub / "bad-mode").exists()  # credentials and bodies in 0600 files


def test_a_second_run_sets_the_password_again_and_makes_nothing(host):
    assert host.run().returncode == 0
    host.requests()
    result = host.run(PASSWORD="Zyxwvutsrq9876543210ZYXWVUTSRQpo")
    assert result.returncode == 0, result.stderr
    writes = [r for r in host.requests() if not r.startswith("GET ")]
    assert writes == ["PATCH /api/2.0/mlflow/users/update-password"]
    assert host.mlflow["users"]["mlops-example"] == "Zyxwvutsrq9876543210ZYXWVUTSRQpo"


def test_a_lower_grant_of_its_own_is_replaced(host):
    assert host.run().returncode == 0
    state = host.mlflow
    key = f"mlops-example|registered_model|{MODEL}"
    state["grants"][key] = "READ"
    (host.stub / "mlflow.json").write_text(json.dumps(state))
    host.requests()
    assert host.run().returncode == 0
    assert "POST /api/3.0/mlflow/users/permissions/revoke" in host.requests()
    assert host.mlflow["grants"][key] == "EDIT"


def test_no_password_is_on_a_command_line_or_in_what_the_step_prints(host):
    result = host.run()
    assert result.returncode == 0
    log = host.root / "var/log/ml-platform/mlflow-user.log"
    for secret in (USER_PASSWORD, ADMIN_PASSWORD, "s3cr3t"):
        assert secret not in host.log_text()
        assert secret not in result.stdout + result.stderr
        assert not log.exists() or secret not in log.read_text()
    assert "--config" in host.log_text() and "--data-binary @" in host.log_text()


def test_delete_removes_the_user_and_its_grants(host):
    assert host.run().returncode == 0
    result = host.run("delete")
    assert result.returncode == 0, result.stderr
    assert host.mlflow["users"] == {} and host.mlflow["grants"] == {}
    assert host.mlflow["models"] == [MODEL]  # the model stays
    assert host.run("delete").returncode == 0  # already gone: nothing to do


def test_delete_goes_on_when_mlflow_is_gone_or_silent(host):
    (host.stub / "no-mlflow").write_text("")
    result = host.run("delete")
    assert result.returncode == 0 and "MLflow is gone" in result.stderr
    (host.stub / "no-mlflow").unlink()
    (host.stub / "down").write_text("")
    result = host.run("delete", TIMEOUT_SECONDS="1")
    assert result.returncode == 0 and "is left in it" in result.stderr


def test_apply_fails_clearly_when_mlflow_is_missing_silent_or_refuses_the_admin(host):
    (host.stub / "no-mlflow").write_text("")
    result = host.run()
    assert result.returncode == 1 and "MLflow is not installed" in result.stderr
    (host.stub / "no-mlflow").unlink()
    (host.stub / "down").write_text("")
    result = host.run(TIMEOUT_SECONDS="1")
    assert result.returncode == 1 and "does not answer after 1s" in result.stderr
    (host.stub / "down").unlink()
    (host.stub / "mlflow-admin-password").write_text("changed")  # not the Secret's any more
    result = host.run()
    assert result.returncode == 1 and "refused the admin credentials" in result.stderr


@pytest.mark.parametrize(
    ("param", "value"),
    [("PASSWORD", "short"), ("PASSWORD", "has space in it 0123456"), ("USERNAME", "a b"),
     ("MODEL", "x;rm"), ("PERMISSION", "OWNER"), ("ACTION", "drop")],
)  # fmt: skip
def test_bad_parameters_are_refused_without_showing_them(host, param, value):
    result = host.run(**{param: value})
    assert result.returncode == 1 and f"{param} must" in result.stderr
    if param == "PASSWORD":
        assert value not in result.stderr
    assert not (host.stub / "mlflow.json").exists()


def test_the_step_is_bundled_with_its_parameters_on_stdin_only():
    params = {"NODE_NAME": "cp-1", "ACTION": "apply", "PASSWORD": USER_PASSWORD}
    bundle = script_bundle("mlflow-user", params, quiet=True)
    assert f"PASSWORD={USER_PASSWORD}" in bundle
    assert "ML_OUTPUT_LOG=/var/log/ml-platform/mlflow-user.log" in bundle
