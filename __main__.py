"""ml-platform: config, infrastructure, cluster, platform, exports."""

import pulumi

from components.addons.platform import MlPlatform, MlPlatformArgs
from components.kubeadm.cluster import KubeadmCluster, KubeadmClusterArgs
from model.inventory import host_summary
from stacks import aws, baremetal
from stacks.config import load_config

config = load_config()
infrastructure = {"aws": aws, "baremetal": baremetal}[config.infrastructure]
inventory = infrastructure.build_inventory(config)
cluster = KubeadmCluster(
    "cluster",
    KubeadmClusterArgs(
        inventory=inventory,
        site=config.site,
        kubernetes=config.kubernetes,
        gpu_driver=config.platform["gpu"].driver,
        vip_interface=config.baremetal.vip_interface if config.baremetal else None,
        longhorn=config.platform["storage"].provider == "longhorn",
        identity=config.identity.oidc,
    ),
)
platform = MlPlatform(
    "platform",
    MlPlatformArgs(
        config.platform,
        config.site,
        inventory,
        cluster_ready=cluster.cni,
        nodes=cluster.node_ready,
        tenants=config.tenants,
        identity=config.identity.oidc,
    ),
    opts=pulumi.ResourceOptions(providers={"kubernetes": cluster.provider}),
)

pulumi.export("infrastructure", config.infrastructure)
pulumi.export("kubernetesVersion", config.kubernetes.version)
pulumi.export(
    "apiServer",
    pulumi.Output.format("https://{0}:{1}", inventory.api_endpoint, config.site.api_port),
)
pulumi.export("hosts", {host.name: host_summary(host) for host in inventory.hosts})
pulumi.export("kubeconfig", cluster.kubeconfig)
for name, value in platform.exports.items():
    pulumi.export(name, value)
