"""Storage: Rook-Ceph, Longhorn, or EBS and EFS, built from their settings alone."""

from __future__ import annotations

import pytest

from components import versions
from components.addons import storage
from components.addons.storage import LonghornSettings, StorageSettings
from model.fields import ConfigError
from tests.helpers import (
    bundle_params,
    deploy_addon,
    read_platform_config,
    refused,
    releases,
    site,
    waits_for,
)


def rook() -> dict:
    evaluation = deploy_addon(storage.ADDON, StorageSettings(provider="rook-ceph"))
    return releases(evaluation)


def test_ceph_takes_exactly_the_storage_hosts_devices():
    spec = rook()["rook-ceph-cluster"].inputs["values"]["cephClusterSpec"]
    assert spec["mon"] == {"count": 3, "allowMultiplePerNode": False}
    assert spec["storage"]["useAllNodes"] is False and spec["storage"]["useAllDevices"] is False
    assert spec["storage"]["nodes"] == [
        {"name": f"gpu-{n}", "devices": [{"name": "/dev/nvme1n1"}]} for n in (1, 2, 3)
    ]


def test_the_block_pool_is_the_default_class_with_three_replicas_on_distinct_hosts():
    values = rook()["rook-ceph-cluster"].inputs["values"]
    (pool,) = values["cephBlockPools"]
    assert pool["spec"] == {"replicated": {"size": 3}, "failureDomain": "host"}
    assert pool["storageClass"]["isDefault"] is True
    (filesystem,) = values["cephFileSystems"]
    assert filesystem["storageClass"]["isDefault"] is False
    params = filesystem["storageClass"]["parameters"]
    assert params["csi.storage.k8s.io/node-stage-secret-name"] == "rook-csi-cephfs-node"


def test_the_object_store_is_not_the_storage_releases_and_claims_may_set_a_lifecycle():
    r = rook()
    # The chart would make its default store; the object-store add-on owns RGW.
    assert r["rook-ceph-cluster"].inputs["values"]["cephObjectStores"] == []
    allowed = r["rook-ceph"].inputs["values"]["obcAllowAdditionalConfigFields"].split(",")
    assert set(allowed) == {"maxObjects", "maxSize", "bucketLifecycle"}  # no policy, no owner


def test_no_rook_release_that_keeps_data_is_atomic():
    # A failed install of a stateful release must not be uninstalled with its pools.
    r = rook()
    for name in ("rook-ceph", "rook-ceph-cluster"):
        assert r[name].inputs["atomic"] is False, name


def test_rook_installs_in_three_steps_with_rooks_driver_names():
    evaluation = deploy_addon(storage.ADDON, StorageSettings(provider="rook-ceph"))
    r = releases(evaluation)
    assert waits_for(evaluation, r["ceph-csi-drivers"], r["rook-ceph"])
    assert waits_for(evaluation, r["rook-ceph-cluster"], r["ceph-csi-drivers"])
    drivers = r["ceph-csi-drivers"].inputs["values"]["drivers"]
    assert drivers["rbd"]["name"] == "rook-ceph.rbd.csi.ceph.com"
    assert drivers["cephfs"]["name"] == "rook-ceph.cephfs.csi.ceph.com"
    assert not drivers["nfs"]["enabled"] and not drivers["nvmeof"]["enabled"]


def test_aws_volumes_are_encrypted_gp3_by_default_and_efs_for_shared_ones():
    evaluation = deploy_addon(
        storage.ADDON, StorageSettings(provider="aws"), at=site("aws"), shared_filesystem_id="fs-1"
    )
    r = releases(evaluation)
    (gp3,) = r["aws-ebs-csi-driver"].inputs["values"]["storageClasses"]
    assert gp3["parameters"]["encrypted"] == "true" and gp3["parameters"]["type"] == "gp3"
    assert gp3["annotations"]["storageclass.kubernetes.io/is-default-class"] == "true"
    (efs,) = r["aws-efs-csi-driver"].inputs["values"]["storageClasses"]
    assert efs["parameters"]["provisioningMode"] == "efs-ap"
    assert efs["parameters"]["fileSystemId"] == "fs-1"


def test_aws_csi_controllers_run_on_the_control_planes_whose_role_has_their_rights():
    evaluation = deploy_addon(
        storage.ADDON, StorageSettings(provider="aws"), at=site("aws"), shared_filesystem_id="fs-1"
    )
    for chart, values in releases(evaluation).items():
        controller = values.inputs["values"]["controller"]
        assert controller["nodeSelector"] == {"node-role.kubernetes.io/control-plane": ""}, chart
        assert controller["tolerations"][0]["key"] == "node-role.kubernetes.io/control-plane"
    # Workers' pods reach no instance metadata: the EBS node plugin asks Kubernetes instead.
    ebs = releases(evaluation)["aws-ebs-csi-driver"].inputs["values"]
    assert ebs["node"]["metadataSources"] == "kubernetes"


def test_without_a_shared_file_system_there_is_no_efs_class():
    evaluation = deploy_addon(
        storage.ADDON, StorageSettings(provider="aws"), at=site("aws", shared_filesystem=False)
    )
    assert set(releases(evaluation)) == {"aws-ebs-csi-driver"}


def test_longhorn_keeps_three_replicas_on_distinct_nodes_as_the_default_class():
    settings = StorageSettings(
        provider="longhorn", longhorn=LonghornSettings(data_path="/srv/longhorn")
    )
    evaluation = deploy_addon(storage.ADDON, settings)
    (release,) = releases(evaluation).values()
    values = release.inputs["values"]
    assert release.inputs["name"] == "longhorn" and release.inputs["atomic"] is False
    assert values["persistence"]["defaultClass"] is True
    assert values["persistence"]["defaultClassReplicaCount"] == 3
    assert values["defaultSettings"]["defaultDataPath"] == "/srv/longhorn"
    assert values["defaultSettings"]["replicaSoftAntiAffinity"] == "false"
    assert values["defaultSettings"]["defaultReplicaCount"] == '{"v1":"3"}'
    (ns,) = evaluation.of_type("kubernetes:core/v1:Namespace")
    assert ns.inputs["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "privileged"


def test_the_block_class_follows_the_provider():
    assert storage.BLOCK_CLASSES == {
        "rook-ceph": "ceph-block", "longhorn": "longhorn", "aws": "gp3", "none": None
    }  # fmt: skip


def test_defaults_follow_the_site_and_none_deploys_nothing():
    assert read_platform_config({})["storage"].provider == "rook-ceph"
    assert read_platform_config({}, at=site("aws"))["storage"].provider == "aws"
    none = read_platform_config(
        {"storage": {"provider": "none"},
         "objectStore": {"provider": "minio", "minio": {"storageClass": "local-nvme"}},
         "monitoring": {"storageClass": "local-nvme"}, "postgres": {"storageClass": "local-nvme"}}
    )  # fmt: skip
    assert "storage" not in none.enabled


@pytest.mark.parametrize(
    ("provider", "at", "words"),
    [
        ("rook-ceph", site("aws"), "Rook-Ceph is for bare-metal hosts"),
        ("rook-ceph", site(storage_hosts=2), "only 2 host(s) list storageDevices"),
        ("aws", site(), "EBS and EFS exist only on AWS"),
        ("longhorn", site("aws"), "Longhorn is for bare-metal hosts"),
    ],
)
def test_a_provider_the_site_cannot_offer_is_refused(provider, at, words):
    config = {"storage": {"provider": provider}, "objectStore": {"provider": "minio"}}
    with pytest.raises(ConfigError) as error:
        read_platform_config(config, at=at)
    assert words in refused(error.value, "ml-platform:platform.storage.provider")


def rook_evaluation(**kwargs):
    return deploy_addon(storage.ADDON, StorageSettings(provider="rook-ceph"), **kwargs)


def test_the_ceph_cluster_waits_for_its_storage_hosts_to_be_nodes_and_for_no_other_host():
    evaluation = rook_evaluation()
    cluster = releases(evaluation)["rook-ceph-cluster"]
    joins = {r.name: r.urn for r in evaluation.registrations if r.name.startswith("join-")}
    assert {"join-gpu-1", "join-gpu-2", "join-gpu-3"} == {
        name for name, urn in joins.items() if urn in cluster.dependencies
    }


def test_what_needs_a_volume_waits_for_the_pools_not_for_helm():
    evaluation = rook_evaluation()
    cluster = releases(evaluation)["rook-ceph-cluster"]
    for pool, kind in (("ceph-blockpool", "cephblockpool"), ("ceph-filesystem", "cephfilesystem")):
        gate = evaluation.named(f"rook-ceph-{pool}-ready")
        assert cluster.urn in gate.dependencies
        params = bundle_params(gate)
        assert params["RESOURCE"] == f"{kind}/{pool}" and params["EXPECTED"] == "Ready"
        assert params["JSONPATH"] == "{.status.phase}"
    # A new chart version or new values run the gates again.
    assert len(bundle_params(evaluation.named("rook-ceph-ceph-blockpool-ready"))["REVISION"]) == 64


def test_the_storage_releases_are_never_rolled_back_over_their_data():
    r = releases(rook_evaluation())
    for name in ("rook-ceph", "rook-ceph-cluster"):
        assert r[name].inputs["atomic"] is False and r[name].inputs["cleanupOnFail"] is False
    assert r["ceph-csi-drivers"].inputs["atomic"] is True  # holds no data


def test_ceph_daemons_get_the_resources_and_priority_rook_recommends():
    r = releases(rook_evaluation())
    values = r["rook-ceph-cluster"].inputs["values"]
    mds = values["cephFileSystems"][0]["spec"]["metadataServer"]
    assert mds["priorityClassName"] == "system-cluster-critical"
    assert mds["resources"]["requests"] == {"cpu": "1000m", "memory": "4Gi"}
    # Ceph's object store belongs to the object-store add-on (tests/.../test_object_store.py).
    assert values["cephObjectStores"] == []
    defaults = r["ceph-csi-drivers"].inputs["values"]["operatorConfig"]["driverSpecDefaults"]
    assert defaults["controllerPlugin"]["priorityClassName"] == "system-cluster-critical"


def test_the_ceph_dashboards_ship_with_rook_when_the_stack_has_monitoring():
    monitored = rook_evaluation(enabled=["monitoring"])
    urls = {
        bundle_params(r)["URL"] for r in monitored.registrations if r.name.endswith("-dashboard")
    }
    assert urls == {d.url for d in versions.CEPH_DASHBOARDS}
    assert not [r for r in rook_evaluation().registrations if r.name.endswith("-dashboard")]
