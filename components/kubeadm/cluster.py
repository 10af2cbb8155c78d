"""KubeadmCluster: an Inventory turned into a highly available Kubernetes cluster over SSH.

The chain: prepare every host (in parallel) -> `kubeadm init` on the first control plane ->
renew the join token -> control planes join one after another, workers all at once ->
read the kubeconfig -> CNI. Only the first four links are on the critical path to the API,
and none of them grows with the number of workers.
"""

from __future__ import annotations

import shlex
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import pulumi
import pulumi_command as command
import pulumi_kubernetes as kubernetes

from components import versions
from components.kubeadm import documents
from components.kubeadm.cni import Cni, CniArgs
from components.kubeadm.scripts import RUN_FROM_STDIN, script_bundle
from components.kubeadm.secrets import ClusterSecrets
from components.kubeadm.settings import KubernetesSettings
from components.outputs import with_resolved
from model.inventory import Host, Inventory
from model.site import Site


@dataclass(frozen=True)
class KubeadmClusterArgs:
    inventory: Inventory
    site: Site
    kubernetes: KubernetesSettings
    # "preinstalled": the driver comes with the host image, and host preparation checks it.
    gpu_driver: str
    # kube-vip's interface on bare metal; None where a cloud load balancer fronts the API.
    vip_interface: str | None = None
    # Longhorn is the storage provider: host preparation installs what it needs.
    longhorn: bool = False


def bundle(step: str, params: Mapping[str, pulumi.Input[str]]) -> pulumi.Input[str]:
    """The stdin text of a step; secret when any parameter is."""
    return with_resolved(params, lambda values: script_bundle(step, values))


def inline(step: str, params: Mapping[str, pulumi.Input[str]]) -> pulumi.Input[str]:
    """A step as a `delete` command line, for steps whose parameters are not secret (pulumi
    passes no stdin to delete commands)."""
    text = bundle(step, params)
    if isinstance(text, pulumi.Output):
        return text.apply(lambda value: f"sudo bash -c {shlex.quote(value)}")
    return f"sudo bash -c {shlex.quote(text)}"


class KubeadmCluster(pulumi.ComponentResource):
    kubeconfig: pulumi.Output[str]
    provider: kubernetes.Provider

    def __init__(
        self, name: str, args: KubeadmClusterArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("ml-platform:kubeadm:KubeadmCluster", name, None, opts)
        self._args = args
        inventory = args.inventory
        self._secrets = ClusterSecrets(f"{name}-secrets", opts=pulumi.ResourceOptions(parent=self))
        self._external_cloud = args.site.cloud is not None
        prepared = {host.name: self._prepare(host) for host in inventory.hosts}
        first = inventory.first_control_plane
        init = self._init(first, prepared[first.name])
        refresh = self._refresh_join(first, init)
        self.joins: dict[str, command.remote.Command] = {}
        previous: pulumi.Resource = init
        for host in inventory.control_planes[1:]:
            # Control planes join one at a time: each adds an etcd member, and etcd accepts
            # one membership change at a time.
            previous = self._join(host, [init, refresh, prepared[host.name], previous])
            self.joins[host.name] = previous
        for host in inventory.workers:
            self.joins[host.name] = self._join(host, [init, refresh, prepared[host.name]])
        # Host name -> what makes it a node: what needs a particular host waits for this.
        self.node_ready: dict[str, pulumi.Resource] = {first.name: init, **self.joins}
        for host in inventory.hosts:
            if host is not first:
                self._drain_on_removal(first, host, self.joins[host.name])
        for host in inventory.control_planes:
            self._etcd_snapshots(host, self.joins.get(host.name, init))
        self.kubeconfig = self._read_kubeconfig(first, init)
        self.provider = kubernetes.Provider(
            f"{name}-provider",
            kubeconfig=self.kubeconfig,
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.cni = Cni(
            f"{name}-cni",
            CniArgs(args.kubernetes.cni, str(args.kubernetes.pod_subnet), first, init),
            opts=pulumi.ResourceOptions(parent=self, providers={"kubernetes": self.provider}),
        )
        self.register_outputs({"kubeconfig": self.kubeconfig})

    # Every command on a host shares these options.
    def _command(
        self,
        name: str,
        host: Host,
        stdin: pulumi.Input[str] | None,
        depends_on: Sequence[pulumi.Resource],
        secret: bool = False,
        delete: pulumi.Input[str] | None = None,
        triggers: Sequence[pulumi.Input[str]] | None = None,
    ) -> command.remote.Command:
        return command.remote.Command(
            name,
            connection=host.connection,
            create=RUN_FROM_STDIN if stdin is not None else None,
            stdin=stdin,
            delete=delete,
            triggers=list(triggers) if triggers else None,
            # A secret step's output could echo its secrets into the engine's logs.
            logging=command.remote.Logging.NONE if secret else None,
            # The previous run's stdout would otherwise be handed to the next run's environment.
            add_previous_output_in_env=False,
            opts=pulumi.ResourceOptions(
                parent=self,
                depends_on=list(depends_on),
                # A new bastion address or a rotated SSH key must not re-run what a host has
                # already done: the connection is how we reach it, not what it should be.
                ignore_changes=["connection"],
                additional_secret_outputs=["stdout", "stderr"] if secret else None,
            ),
        )

    def _cluster_settings(self, endpoint: str) -> documents.ClusterSettings:
        """The cluster's kubeadm settings; `endpoint` is resolved (an NLB name on AWS)."""
        k8s = self._args.kubernetes
        return documents.ClusterSettings(
            cluster_name=self._args.inventory.cluster_name,
            kubernetes_version=k8s.version,
            control_plane_endpoint=endpoint,
            api_port=self._args.site.api_port,
            pod_subnet=str(k8s.pod_subnet),
            service_subnet=str(k8s.service_subnet),
            external_cloud_provider=self._external_cloud,
        )

    def _node(self, host: Host, name: str, address: str) -> documents.NodeSettings:
        return documents.NodeSettings(
            name=name,
            address=address,
            control_plane=host.is_control_plane,
            gpu_model=host.gpu.model if host.gpu else None,
            external_cloud_provider=self._external_cloud,
        )

    def _document(
        self,
        host: Host,
        build: Callable[[documents.NodeSettings, documents.ClusterSettings, str, str], str],
    ) -> pulumi.Output[str]:
        """A base64 kubeadm document for `host`, built once its name, address, the API
        endpoint and the join secrets are known."""
        values = {
            "name": host.node_name or host.name,
            "address": host.address,
            "endpoint": self._args.inventory.api_endpoint,
            "token": self._secrets.token,
            "certificate_key": self._secrets.certificate_key,
        }
        return with_resolved(
            values,
            lambda v: documents.b64(
                build(
                    self._node(host, v["name"], v["address"]),
                    self._cluster_settings(v["endpoint"]),
                    v["token"],
                    v["certificate_key"],
                )
            ),
        )

    def _prepare(self, host: Host) -> command.remote.Command:
        version = self._args.kubernetes
        params = {
            "NODE_NAME": host.name,
            "K8S_VERSION": version.version,
            "K8S_MINOR": version.minor,
            "GPU": "true" if host.gpu else "false",
            "GPU_DRIVER": self._args.gpu_driver,
            "CONTAINERD_PACKAGE": versions.CONTAINERD_PACKAGE,
            "LONGHORN": "true" if self._args.longhorn else "false",
        }
        return self._command(
            f"prepare-{host.name}", host, bundle("prepare-host", params), self._args.inventory.ready
        )

    def _kube_vip(self, kubeconfig_path: str) -> str | None:
        if self._args.vip_interface is None:
            return None
        vip = str(self._args.inventory.api_endpoint)
        return documents.b64(documents.kube_vip_pod(vip, self._args.vip_interface, kubeconfig_path))

    def _control_plane_files(self) -> dict[str, pulumi.Input[str]]:
        files = {
            "ENCRYPTION_CONFIG_B64": self._secrets.encryption_key.apply(
                lambda key: documents.b64(documents.encryption_configuration(key))
            ),
            "AUDIT_POLICY_B64": documents.b64(documents.audit_policy()),
        }
        manifest = self._kube_vip("/etc/kubernetes/admin.conf")
        if manifest:
            files["KUBE_VIP_MANIFEST_B64"] = manifest
        return files

    def _init(self, host: Host, prepared: command.remote.Command) -> command.remote.Command:
        config = self._document(host, documents.init_documents)
        params = {
            "NODE_NAME": host.name,
            "KUBEADM_CONFIG_B64": config,
            **self._control_plane_files(),
        }
        first_manifest = self._kube_vip("/etc/kubernetes/super-admin.conf")
        if first_manifest:
            # During init only super-admin.conf has rights; init.sh swaps back afterwards.
            params["KUBE_VIP_FINAL_MANIFEST_B64"] = params.pop("KUBE_VIP_MANIFEST_B64")
            params["KUBE_VIP_MANIFEST_B64"] = first_manifest
        return self._command("init", host, bundle("init", params), [prepared], secret=True)

    def _refresh_join(self, first: Host, init: command.remote.Command) -> command.remote.Command:
        upload = self._document(first, documents.upload_certs_documents)
        params = {
            "NODE_NAME": first.name,
            "TOKEN_ID": self._secrets.token_id,
            "TOKEN_SECRET": self._secrets.token_secret,
            "CERTIFICATE_KEY_CONFIG_B64": upload,
        }
        # Tokens expire after 24 hours and uploaded certificates after two: renew both
        # whenever the set of hosts changes, so that a node added weeks later still joins.
        return self._command(
            "refresh-join",
            first,
            bundle("refresh-join", params),
            [init],
            secret=True,
            triggers=sorted(h.name for h in self._args.inventory.hosts),
        )

    def _join(self, host: Host, depends_on: Sequence[pulumi.Resource]) -> command.remote.Command:
        config = self._document(host, documents.join_documents)
        params: dict[str, pulumi.Input[str]] = {
            "NODE_NAME": host.name,
            "JOIN_CONFIG_B64": config,
            "CONTROL_PLANE": "true" if host.is_control_plane else "false",
        }
        if host.is_control_plane:
            params.update(self._control_plane_files())
        return self._command(
            f"join-{host.name}",
            host,
            bundle("join", params),
            depends_on,
            secret=True,
            delete=inline("reset-node", {"NODE_NAME": host.name}),
        )

    def _drain_on_removal(
        self, first: Host, host: Host, joined: command.remote.Command
    ) -> command.remote.Command:
        # Runs only when the host leaves the config: deleted before its join (which depends
        # on nothing here, so the engine deletes this first), it drains and deletes the node
        # from the first control plane; the join's own delete then resets the host.
        node_name = host.node_name or host.name
        return self._command(
            f"drain-{host.name}",
            first,
            None,
            [joined],
            delete=inline("drain-node", {"NODE_NAME": node_name}),
        )

    def _etcd_snapshots(self, host: Host, member: pulumi.Resource) -> command.remote.Command:
        days = str(self._args.kubernetes.etcd_snapshot_retention_days)
        return self._command(
            f"etcd-snapshots-{host.name}",
            host,
            bundle("etcd-snapshot", {"NODE_NAME": host.name, "RETENTION_DAYS": days}),
            [member],
        )

    def _read_kubeconfig(self, first: Host, init: command.remote.Command) -> pulumi.Output[str]:
        read = self._command(
            "kubeconfig",
            first,
            bundle("read-kubeconfig", {"NODE_NAME": first.name}),
            [init],
            secret=True,
        )
        return pulumi.Output.secret(read.stdout)
