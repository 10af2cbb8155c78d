"""Kubeflow Pipelines standalone, on the platform's PostgreSQL and object store (faked here with
the model.services protocols): what the program asks of them, the kustomization it applies,
the UI behind TLS and a login. What the upstream manifests build from that kustomization is
checked against facts recorded by tools/manifest_facts.py from the sources at the pin."""

from __future__ import annotations

import pytest

from components import versions
from components.addons import pipelines
from components.addons.pipelines import PipelinesSettings, pipelines_kustomization, store_endpoint
from model.fields import ConfigError
from tests.charts.test_images import unpinned
from tests.helpers import (
    FakeObjectStore,
    FakePostgres,
    applied_kustomization,
    custom,
    deploy_addon,
    fake_data_services,
    plain_text,
    read_platform_config,
    refused,
    stdin_parameters,
    waits_for,
)
from tools import manifest_facts, pod_security

ON = PipelinesSettings(enabled=True)


def evaluation(endpoint: str = "http://rook-ceph-rgw-store.rook-ceph.svc:80", preview=False):
    made: dict = {}

    def data_services():
        # Inside the program: components need the stack to be their root.
        made["store"], made["postgres"] = FakeObjectStore(endpoint), FakePostgres()
        return fake_data_services(made["store"], made["postgres"])

    built = deploy_addon(
        pipelines.ADDON,
        ON,
        enabled=["object-store", "postgres", "ingress", "certificates"],
        deployed=data_services,
        preview=preview,
    )
    return built, made["store"], made["postgres"]


@pytest.fixture(scope="module")
def lab_like():
    return evaluation()


def the_command(built):
    (command,) = built.of_type("command:remote:Command")
    return command


def patch_of(document, kind, name):
    import yaml

    (found,) = [
        p
        for p in (yaml.safe_load(x["patch"]) for x in document["patches"])
        if p["kind"] == kind and p["metadata"]["name"] == name
    ]
    return found


def env_of(patch):
    (container,) = patch["spec"]["template"]["spec"]["containers"]
    return {e["name"]: e for e in container["env"] if "name" in e}


# ---- what it asks of the data services -----------------------------------------------------------


def test_it_gets_its_own_bucket_and_two_databases_in_its_namespace(lab_like):
    _, store, postgres = lab_like
    assert store.calls == [
        {"consumer": "kubeflow-pipelines", "namespace": "kubeflow", "versioned": False}
    ]
    # The API server runs CREATE DATABASE at every start (see model/services.py): its role
    # needs CREATEDB; ML Metadata skips creation and its role does not.
    assert postgres.calls == [
        {"name": "mlpipeline", "namespace": "kubeflow", "createdb": True},
        {"name": "mlmetadata", "namespace": "kubeflow", "createdb": False},
    ]


def test_the_manifests_wait_for_the_namespace_bucket_and_databases(lab_like):
    built, _, _ = lab_like
    command = the_command(built)
    for name in ("kubeflow-pipelines-bucket", "mlpipeline-db", "mlmetadata-db"):
        assert waits_for(built, command, built.named(name)), name
    assert waits_for(built, command, built.named("kubeflow-namespace"))
    params = stdin_parameters(command)
    assert params["NEEDS_GIT"] == "true"
    assert params["WAIT_NAMESPACE"] == "kubeflow"
    assert "workflows.argoproj.io" in params["WAIT_ESTABLISHED"].split()


# ---- the kustomization ---------------------------------------------------------------------------


def test_it_composes_upstream_bases_at_the_pinned_tag_and_no_bundled_services(lab_like):
    document = applied_kustomization(the_command(lab_like[0]))
    assert document["namespace"] == "kubeflow"
    assert document["resources"] == [
        f"https://github.com/kubeflow/pipelines//{base}?ref={versions.KUBEFLOW_PIPELINES}"
        "&timeout=300s"
        for base in pipelines.BASES
    ]
    # Never upstream's env/ (its own PostgreSQL, SeaweedFS, default passwords).
    assert not any("/env/" in r or "third-party/postgresql" in r for r in document["resources"])
    bumped = pipelines_kustomization(manifest_facts.SAMPLE_STORES, "2.18.0")
    assert all("ref=2.18.0" in r for r in bumped["resources"])


def test_the_platforms_stores_reach_every_component(lab_like):
    document = applied_kustomization(the_command(lab_like[0]))
    (generated,) = document["configMapGenerator"]
    config = dict(item.split("=", 1) for item in generated["literals"])
    assert config["postgresHost"] == "postgres-rw.postgres.svc"
    assert config["pipelineDb"] == "mlpipeline" and config["dbType"] == "pgx"
    bucket = config["bucketName"]
    assert bucket.startswith("kubeflow-pipelines-")
    assert config["defaultPipelineRoot"] == f"s3://{bucket}/v2/artifacts"

    api = env_of(patch_of(document, "Deployment", "ml-pipeline"))
    assert api["DBDRIVERNAME"]["value"] == "pgx"
    assert api["DBCONFIG_POSTGRESQLCONFIG_PASSWORD"]["valueFrom"]["secretKeyRef"] == {
        "name": "mlpipeline-db", "key": "password"
    }  # fmt: skip
    assert api["OBJECTSTORECONFIG_HOST"]["value"] == "rook-ceph-rgw-store.rook-ceph.svc"
    assert api["OBJECTSTORECONFIG_PORT"]["value"] == "80"
    assert api["OBJECTSTORECONFIG_SECURE"]["value"] == "false"
    assert api["OBJECTSTORECONFIG_ACCESSKEY"]["valueFrom"]["secretKeyRef"] == {
        "name": "kubeflow-pipelines-bucket", "key": "AWS_ACCESS_KEY_ID"
    }  # fmt: skip
    assert api["V2_LAUNCHER_IMAGE"]["value"] == (
        f"ghcr.io/kubeflow/kfp-launcher:{versions.KUBEFLOW_PIPELINES}"
    )

    metadata = patch_of(document, "Deployment", "metadata-grpc-deployment")
    (server,) = metadata["spec"]["template"]["spec"]["containers"]
    assert "--postgres_config_dbname=mlmetadata" in server["args"]
    assert "--postgres_config_skip_db_creation=true" in server["args"]

    import yaml

    launcher = patch_of(document, "ConfigMap", "kfp-launcher")["data"]
    s3 = yaml.safe_load(launcher["providers"])["s3"]["default"]
    assert s3["endpoint"] == "rook-ceph-rgw-store.rook-ceph.svc:80" and s3["disableSSL"] is True
    assert s3["credentials"]["secretRef"]["secretName"] == "kubeflow-pipelines-bucket"
    argo = yaml.safe_load(
        patch_of(document, "ConfigMap", "workflow-controller-configmap")["data"][
            "artifactRepository"
        ]
    )
    assert argo["s3"]["bucket"] == bucket and argo["s3"]["insecure"] is True


def test_an_aws_bucket_is_reached_over_tls():
    built, _, _ = evaluation("https://s3.eu-central-1.amazonaws.com")
    document = applied_kustomization(the_command(built))
    api = env_of(patch_of(document, "Deployment", "ml-pipeline"))
    assert api["OBJECTSTORECONFIG_SECURE"]["value"] == "true"
    assert api["OBJECTSTORECONFIG_PORT"]["value"] == "443"


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("http://rgw.rook-ceph.svc:80", ("rgw.rook-ceph.svc", 80, False)),
        ("http://minio.minio.svc:9000/", ("minio.minio.svc", 9000, False)),
        ("https://s3.us-east-1.amazonaws.com", ("s3.us-east-1.amazonaws.com", 443, True)),
    ],
)
def test_store_endpoints_are_split_into_host_port_and_tls(url, expected):
    endpoint = store_endpoint(url)
    assert (endpoint.host, endpoint.port, endpoint.secure) == expected


@pytest.mark.parametrize("url", ["rgw:80", "ftp://rgw", "http://rgw/bucket", "http://"])
def test_an_endpoint_that_is_not_a_base_url_is_refused(url):
    with pytest.raises(ValueError, match="is not http"):
        store_endpoint(url)


# ---- the UI --------------------------------------------------------------------------------------


def test_the_ui_is_at_pipelines_domain_with_tls_and_a_login(lab_like):
    built, _, _ = lab_like
    ingress = built.named("kubeflow-pipelines-ui")
    spec = ingress.inputs["spec"]
    assert spec["rules"][0]["host"] == "pipelines.ml.example.edu"
    assert spec["tls"] == [
        {"hosts": ["pipelines.ml.example.edu"], "secretName": "pipelines-ui-tls"}
    ]
    annotations = ingress.inputs["metadata"]["annotations"]
    assert annotations["cert-manager.io/cluster-issuer"] == "platform"
    assert annotations["traefik.ingress.kubernetes.io/router.middlewares"] == (
        "kubeflow-pipelines-ui-auth@kubernetescrd"
    )
    middleware = custom(built, "Middleware", "kubeflow-pipelines-ui-auth")
    assert middleware.inputs["spec"]["basicAuth"]["secret"] == "pipelines-ui-login"
    login = built.named("kubeflow-pipelines-ui-login")
    assert login.inputs["type"] == "kubernetes.io/basic-auth"
    assert built.exports["kubeflowPipelinesUrl"].value == "https://pipelines.ml.example.edu"
    assert built.exports["kubeflowPipelinesPassword"].secret
    # The generated password appears nowhere in plain text.
    password = built.named("kubeflow-pipelines-admin-password")
    assert password.custom
    for registration in built.registrations:
        assert "fake-mlpipeline-password" not in plain_text(registration.inputs)


def test_only_the_platform_reaches_the_api_and_traefik_only_the_ui(lab_like):
    policy = lab_like[0].named("kubeflow-pipelines-ingress").inputs["spec"]
    traefik, platform = policy["ingress"][1], policy["ingress"][2]
    assert traefik["ports"] == [
        {"protocol": "TCP", "port": 3000},
        {"protocol": "TCP", "port": 8089},  # cert-manager's HTTP-01 solver
    ]
    assert {p["port"] for p in platform["ports"]} == {8887, 8888}
    assert platform["from"] == [
        {"namespaceSelector": {"matchLabels": {"app.kubernetes.io/part-of": "ml-platform"}}}
    ]


# ---- settings ------------------------------------------------------------------------------------


def test_it_is_off_until_the_data_services_exist_and_refused_without_them():
    assert read_platform_config({})["kubeflow-pipelines"].enabled is False
    # With the data services on (both stacks' defaults) it may be enabled.
    assert "kubeflow-pipelines" in read_platform_config({"pipelines": {"enabled": True}}).enabled
    without = {"pipelines": {"enabled": True}, "postgres": {"enabled": False},
               "mlflow": {"enabled": False}}  # fmt: skip
    with pytest.raises(ConfigError) as error:
        read_platform_config(without)
    assert "no postgres" in refused(error.value, "ml-platform:platform.pipelines.enabled")
    no_store = {"pipelines": {"enabled": True}, "objectStore": {"provider": "none"},
                "mlflow": {"enabled": False}, "postgres": {"backups": False}}  # fmt: skip
    with pytest.raises(ConfigError) as error:
        read_platform_config(no_store)
    assert "no object-store" in refused(error.value, "ml-platform:platform.pipelines.enabled")


def test_every_object_it_builds_validates(lab_like):
    from tests.schemas import kubernetes_objects, validate_objects

    kinds = {key.split(" ")[0] for key in kubernetes_objects(lab_like[0])}
    assert kinds >= {
        "networking.k8s.io/v1:Ingress", "networking.k8s.io/v1:NetworkPolicy",
        "traefik.io/v1alpha1:Middleware", "core/v1:Secret", "core/v1:Namespace",
    }  # fmt: skip
    assert validate_objects(lab_like[0]) == len(kubernetes_objects(lab_like[0]))


def test_the_first_preview_of_a_new_environment_shows_it_to_be_created():
    # Nothing exists yet: the bucket's name and the hosts are unknown; it still evaluates.
    built, _, _ = evaluation(preview=True)
    assert the_command(built) and built.named("kubeflow-pipelines-ui")


def test_planning_it_fetches_nothing(no_network):
    evaluation()


# ---- what the upstream manifests build (recorded facts) -----------------------------------------

FACTS = manifest_facts.load_facts("kubeflow-pipelines")


def test_the_facts_are_those_of_the_current_kustomization():
    current = manifest_facts.digest(manifest_facts.kustomizations()["kubeflow-pipelines"])
    assert FACTS["digest"] == current, (
        "the Kubeflow Pipelines kustomization changed: regenerate its facts with "
        f"{manifest_facts.REGENERATE}"
    )


def test_no_bundled_database_object_store_or_default_credentials():
    kinds = {(o["kind"], o["name"]) for o in FACTS["objects"]}
    workloads = {name for kind, name in kinds if kind == "Deployment"}
    assert not workloads & {
        "postgres", "metadata-postgres-db", "mysql", "seaweedfs", "minio",
        "cache-server", "cache-deployer-deployment",
    }  # fmt: skip
    assert not [o for o in FACTS["objects"] if o["kind"] in ("Secret", "PersistentVolumeClaim")]
    assert {o["namespace"] for o in FACTS["objects"] if o["kind"] not in CLUSTER_SCOPED} == {
        "kubeflow"
    }


CLUSTER_SCOPED = {"CustomResourceDefinition", "PriorityClass", "ClusterRole", "ClusterRoleBinding"}


def test_every_secret_and_config_map_a_pod_reads_exists():
    built = {f"{o['kind']}/{o['name']}" for o in FACTS["objects"]}
    stores = manifest_facts.SAMPLE_STORES
    platform = {
        f"Secret/{stores.bucket_secret}",
        f"Secret/{stores.pipeline_db.secret_name}",
        f"Secret/{stores.metadata_db.secret_name}",
    }
    for pod in FACTS["pods"]:
        assert set(pod["reads"]) <= built | platform, pod["workload"]


def test_the_api_server_keeps_the_settings_upstreams_postgres_overlay_drops():
    (api,) = [p for p in FACTS["pods"] if p["workload"] == "Deployment/ml-pipeline"]
    env = set(api["env"]["ml-pipeline-api-server"])
    assert {"V2_DRIVER_IMAGE", "V2_LAUNCHER_IMAGE", "DBDRIVERNAME", "OBJECTSTORECONFIG_HOST"} <= env
    assert not {e for e in env if "MYSQL" in e}


def test_its_namespace_admits_every_pod_and_the_images_are_pinned(lab_like):
    (namespace,) = [
        n for n in lab_like[0].of_type("kubernetes:core/v1:Namespace")
        if n.inputs["metadata"]["name"] == "kubeflow"
    ]  # fmt: skip
    level, version = pod_security.namespace_level(namespace.inputs["metadata"]["labels"])
    assert level == pod_security.BASELINE
    for pod in FACTS["pods"]:
        assert pod_security.evaluate_pod(pod, level, version) == [], pod["workload"]
        # KFP's own pods would pass restricted; pipeline steps (users' images) need baseline.
        assert pod_security.evaluate_pod(pod, pod_security.RESTRICTED) == [], pod["workload"]
    assert FACTS["images"] and not [i for i in FACTS["images"] if unpinned(i)]


def test_a_second_run_with_the_same_config_changes_nothing(lab_like):
    # The Command re-applies only when its kustomization changes: the same config gives the
    # same bytes (no ordering or generated value moves).
    again, _, _ = evaluation()
    first, second = the_command(lab_like[0]), the_command(again)
    assert first.inputs["stdin"] == second.inputs["stdin"]
