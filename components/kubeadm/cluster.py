"""KubeadmCluster: an Inventory turned into a highly available Kubernetes cluster over SSH.

Per host, four commands, the same for every host whatever its role (so that naming another init
host, or reordering the hosts, deletes nothing):

    prepare-<host>  on the host          packages, kernel, containerd, SSH keys
    admit-<host>    on the init host     create: mint the host's own join token (+ upload the
                                         control-plane certificates); delete: remove its etcd
                                         member if still listed, then its Node object
    join-<host>     on the host          create: kubeadm init (the init host) or join;
                                         delete: kubeadm reset
    drain-<host>    on the init host     create: delete the join token once joined;
                                         delete: drain the node

Creation runs top to bottom; Pulumi deletes in reverse dependency order, so a removed host is
drained, then reset (kubeadm's remove-etcd-member phase needs the Node object to leave etcd),
then its Node is deleted. Each command's `triggers` hold the machine's identity (instance id, or
the lab host's address) and the id of the command before it, with `deleteBeforeReplace`: a new
machine under the same name makes the engine delete the old one's drain, join and admit first
(in that order: a delete-before-replace also deletes the dependents whose inputs come from the
replaced resource; pulumi/pulumi pkg/resource/deploy/step_generator.go
calculateDependentReplacements) and then prepare and join the new machine.

Control planes join one after another (etcd accepts one membership change at a time) and leave
in reverse order, one at a time, the init host last; workers join in parallel. The critical path
to a working API (prepare -> init -> the control-plane chain -> kubeconfig) does not depend on
any worker.

pulumi-command facts this relies on (pulumi/pulumi-command@v1.2.1:provider/pkg/provider):
- only `triggers` is replaceOnChanges (common/inputs.go); any other input change is an update,
  which runs `create` again (remote/commandController.go Update) with the new connection;
- Delete runs the *stored* `delete` command over the *stored* connection (Delete uses
  req.State), so a replacement's or removal's delete reaches the old machine;
- `hostKey` pins the host key (remote/connection.go);
- a failed command's error carries its whole stdout and stderr (remote/commandOutputs.go):
  steps that handle secrets print only fixed text (see scripts.py `quiet`).
"""

from __future__ import annotations

import base64
import shlex
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import pulumi
import pulumi_command as command
import pulumi_kubernetes as kubernetes

from components import versions, yamltext
from components.kubeadm import documents
from components.kubeadm.cni import Cni, CniArgs
from components.kubeadm.scripts import RUN_FROM_STDIN, script_bundle
from components.kubeadm.secrets import ClusterSecrets
from components.kubeadm.settings import KubernetesSettings
from components.outputs import with_resolved
from model.identity import Oidc
from model.inventory import Host, Inventory
from model.site import Site

# A node's join token lives until the node has joined (its drain step deletes it then), and at
# most this long: a join that failed can be retried for three days with the same token.
JOIN_TOKEN_TTL_HOURS = 72
# The name the init token is derived under (not a host name: those are DNS labels).
INIT_TOKEN = "@kubeadm-init"


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
    # The OIDC provider the API server trusts, if any.
    identity: Oidc | None = None


@dataclass(frozen=True)
class Member:
    """The three cluster commands of one host (see the module docstring)."""

    admit: command.remote.Command
    join: command.remote.Command
    drain: command.remote.Command


def bundle(
    step: str, params: Mapping[str, pulumi.Input[str]], quiet: bool = False
) -> pulumi.Input[str]:
    """The stdin text of a step; secret when any parameter is."""
    return with_resolved(params, lambda values: script_bundle(step, values, quiet))


def inline(step: str, params: Mapping[str, pulumi.Input[str]]) -> pulumi.Input[str]:
    """A step as a `delete` command line, for steps whose parameters are not secret: the
    stored stdin of a command is its create step's."""
    text = bundle(step, params)
    if isinstance(text, pulumi.Output):
        return text.apply(lambda value: f"sudo bash -c {shlex.quote(value)}")
    return f"sudo bash -c {shlex.quote(text)}"


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def flag(value: bool) -> str:
    return "true" if value else "false"


def with_server(kubeconfig: str, server: str | None) -> str:
    """The kubeconfig with its cluster's server replaced (an internet-facing load balancer, an
    SSH tunnel), the rest unchanged."""
    if not server or not kubeconfig:
        return kubeconfig
    document = yamltext.load(kubeconfig)
    for cluster in document.get("clusters") or []:
        cluster["cluster"]["server"] = server
    return yamltext.dump(document)


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
        self._admin = admin = inventory.init
        prepared = {host.name: self._prepare(host) for host in inventory.hosts}
        self.members: dict[str, Member] = {}
        init = self.members[admin.name] = self._member(admin, prepared[admin.name], [])
        # Control planes join one at a time, after the init host and each other: each adds an
        # etcd member, and etcd accepts one membership change at a time. Deletion runs the
        # chain backwards: they leave one at a time, the init host last.
        previous: pulumi.Resource = init.drain
        for host in inventory.control_planes:
            if host is not admin:
                member = self._member(host, prepared[host.name], [init.join, previous])
                self.members[host.name] = member
                previous = member.drain
        for host in inventory.workers:
            self.members[host.name] = self._member(host, prepared[host.name], [init.join])
        for host in inventory.control_planes:
            self._etcd_snapshots(host, self.members[host.name].join)
        self.joins = {name: member.join for name, member in self.members.items()}
        # Host name -> what makes it a node: what needs a particular host waits for this.
        self.node_ready: dict[str, pulumi.Resource] = dict(self.joins)
        if inventory.bastion is not None and inventory.ssh and inventory.ssh.authorized_keys:
            self._authorize_bastion(inventory.bastion)
        self.kubeconfig = self._read_kubeconfig(init.join)
        self.provider = kubernetes.Provider(
            f"{name}-provider",
            kubeconfig=self.kubeconfig,
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.cni = Cni(
            f"{name}-cni",
            CniArgs(args.kubernetes.cni, str(args.kubernetes.pod_subnet), admin, init.join),
            opts=pulumi.ResourceOptions(parent=self, providers={"kubernetes": self.provider}),
        )
        self.register_outputs({"kubeconfig": self.kubeconfig})

    # Every command shares these options.
    def _command(
        self,
        name: str,
        host: Host,
        stdin: pulumi.Input[str] | None,
        depends_on: Sequence[pulumi.Resource],
        secret: bool = False,
        delete: pulumi.Input[str] | None = None,
        triggers: Sequence[pulumi.Input[str]] | None = None,
        replace_first: bool = False,
        on_host: Host | None = None,
    ) -> command.remote.Command:
        """A command on `host`. `on_host`: the host this command works on when it runs on the
        host itself; an unreachable one keeps its commands (they are not run, and their delete
        is skipped: the machine is dead)."""
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
                additional_secret_outputs=["stdout", "stderr"] if secret else None,
                delete_before_replace=replace_first or None,
                retain_on_delete=True if on_host is not None and not on_host.reachable else None,
            ),
        )

    def _cluster_settings(
        self, endpoint: str, extra_names: Sequence[str]
    ) -> documents.ClusterSettings:
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
            extra_names=tuple(extra_names),
            oidc=self._oidc(),
        )

    def _oidc(self) -> documents.OidcIssuer | None:
        oidc = self._args.identity
        if oidc is None:
            return None
        return documents.OidcIssuer(
            oidc.issuer_url, oidc.client_id, oidc.username_claim, oidc.groups_claim
        )

    def _node(self, host: Host, name: str, address: str) -> documents.NodeSettings:
        return documents.NodeSettings(
            name=name,
            address=address,
            control_plane=host.is_control_plane,
            gpu_model=host.gpu.model if host.gpu else None,
            external_cloud_provider=self._external_cloud,
            worker=host.is_worker,
            gpu_sharing=host.gpu.sharing if host.gpu else None,
        )

    def _document(
        self,
        host: Host,
        token_of: str,
        build: Callable[
            [documents.NodeSettings, documents.ClusterSettings, documents.JoinSecrets], str
        ],
    ) -> pulumi.Output[str]:
        """A base64 kubeadm document for `host` with the join token of `token_of`, built once
        the node's name and address, the API endpoint and the secrets are known."""
        token_id, token_secret = self._secrets.token(token_of)
        extra = self._args.inventory.api_extra_names
        values = {
            "name": host.node_name or host.name,
            "address": host.address,
            "endpoint": self._args.inventory.api_endpoint,
            "token_id": token_id,
            "token_secret": token_secret,
            "certificate_key": self._secrets.certificate_key,
            "ca_hash": self._secrets.ca_cert_hash,
            **{f"extra{index}": name for index, name in enumerate(extra)},
        }
        return with_resolved(
            values,
            lambda v: documents.b64(
                build(
                    self._node(host, v["name"], v["address"]),
                    self._cluster_settings(
                        v["endpoint"], [v[f"extra{i}"] for i in range(len(extra))]
                    ),
                    documents.JoinSecrets(
                        token=f"{v['token_id']}.{v['token_secret']}",
                        certificate_key=v["certificate_key"],
                        ca_cert_hash=v["ca_hash"],
                    ),
                )
            ),
        )

    def _authorized_keys(self) -> pulumi.Input[str]:
        ssh = self._args.inventory.ssh
        keys = list(ssh.authorized_keys) if ssh else []
        return with_resolved(
            {f"k{i}": key for i, key in enumerate(keys)},
            # The key this run connects with comes first, and is never left out.
            lambda v: b64("\n".join(dict.fromkeys(v[f"k{i}"] for i in range(len(keys))))),
        )

    def _prepare(self, host: Host) -> command.remote.Command:
        k8s = self._args.kubernetes
        params: dict[str, pulumi.Input[str]] = {
            "NODE_NAME": host.name,
            "K8S_VERSION": k8s.version,
            "K8S_MINOR": k8s.minor,
            "GPU": flag(host.gpu is not None),
            "GPU_DRIVER": self._args.gpu_driver,
            "CONTAINERD_PACKAGE": versions.CONTAINERD_PACKAGE,
            "CONTAINERD_VERSION": versions.CONTAINERD_VERSION,
            "SANDBOX_IMAGE": versions.SANDBOX_IMAGE,
            "LONGHORN": flag(self._args.longhorn),
        }
        ssh = self._args.inventory.ssh
        if ssh is not None and ssh.authorized_keys:
            params["SSH_USER"] = ssh.user
            params["AUTHORIZED_KEYS_B64"] = self._authorized_keys()
            params["EXCLUSIVE_KEYS"] = flag(ssh.exclusive_keys)
        return self._command(
            f"prepare-{host.name}",
            host,
            bundle("prepare-host", params),
            self._args.inventory.ready,
            triggers=[host.machine],
            on_host=host,
        )

    def _kube_vip(self, kubeconfig_path: str) -> str | None:
        if self._args.vip_interface is None:
            return None
        vip = str(self._args.inventory.api_endpoint)
        return documents.b64(documents.kube_vip_pod(vip, self._args.vip_interface, kubeconfig_path))

    def _control_plane_files(self, host: Host) -> dict[str, pulumi.Input[str]]:
        files = {
            "ENCRYPTION_CONFIG_B64": self._secrets.encryption_key.apply(
                lambda key: documents.b64(documents.encryption_configuration(key))
            ),
            "AUDIT_POLICY_B64": documents.b64(documents.audit_policy()),
            "ETCD_PATCH_B64": pulumi.Output.from_input(host.address).apply(
                lambda address: documents.b64(documents.etcd_patch(address))
            )
            if isinstance(host.address, pulumi.Output)
            else documents.b64(documents.etcd_patch(host.address)),
        }
        if oidc := self._oidc():
            files["AUTHENTICATION_CONFIG_B64"] = documents.b64(
                documents.authentication_configuration(oidc)
            )
        manifest = self._kube_vip("/etc/kubernetes/admin.conf")
        if manifest:
            files["KUBE_VIP_MANIFEST_B64"] = manifest
        return files

    def _init_stdin(self, host: Host) -> pulumi.Input[str]:
        endpoint = pulumi.Output.format(
            "{0}:{1}", self._args.inventory.api_endpoint, self._args.site.api_port
        )
        params: dict[str, pulumi.Input[str]] = {
            "NODE_NAME": host.name,
            "CONTROL_PLANE_ENDPOINT": endpoint,
            "KUBEADM_CONFIG_B64": self._document(host, INIT_TOKEN, documents.init_documents),
            "CA_CERT_B64": self._secrets.ca_cert_pem.apply(b64),
            "CA_KEY_B64": self._secrets.ca_key_pem.apply(b64),
            **self._control_plane_files(host),
        }
        first_manifest = self._kube_vip("/etc/kubernetes/super-admin.conf")
        if first_manifest:
            # During init only super-admin.conf has rights; init.sh swaps back afterwards.
            params["KUBE_VIP_FINAL_MANIFEST_B64"] = params.pop("KUBE_VIP_MANIFEST_B64")
            params["KUBE_VIP_MANIFEST_B64"] = first_manifest
        return bundle("init", params, quiet=True)

    def _join_stdin(self, host: Host) -> pulumi.Input[str]:
        params: dict[str, pulumi.Input[str]] = {
            "NODE_NAME": host.name,
            "JOIN_CONFIG_B64": self._document(host, host.name, documents.join_documents),
            "CONTROL_PLANE": flag(host.is_control_plane),
        }
        if host.is_control_plane:
            params.update(self._control_plane_files(host))
        return bundle("join", params, quiet=True)

    def _member(
        self, host: Host, prepared: command.remote.Command, after: Sequence[pulumi.Resource]
    ) -> Member:
        admin = self._admin
        self_ = host is admin
        node_name = host.node_name or host.name
        token_id, token_secret = self._secrets.token(host.name)
        machine = host.machine
        target = {
            "NODE_NAME": admin.name,
            "TARGET_NODE": node_name,
            "SELF": flag(self_),
        }
        admit_params: dict[str, pulumi.Input[str]] = {
            **target,
            "CONTROL_PLANE": flag(host.is_control_plane),
        }
        if not self_:
            admit_params.update(
                TOKEN_ID=token_id,
                TOKEN_SECRET=token_secret,
                TOKEN_TTL_HOURS=str(JOIN_TOKEN_TTL_HOURS),
            )
            if host.is_control_plane:
                admit_params["CERTIFICATE_KEY_CONFIG_B64"] = self._document(
                    admin, INIT_TOKEN, documents.upload_certs_documents
                )
        admit = self._command(
            f"admit-{host.name}",
            admin,
            bundle("admit-node", admit_params, quiet=True),
            [prepared, *after],
            secret=True,
            delete=inline("remove-node", {**target, "CONTROL_PLANE": flag(host.is_control_plane)}),
            triggers=[machine],
            replace_first=True,
        )
        join = self._command(
            f"join-{host.name}",
            host,
            self._init_stdin(host) if self_ else self._join_stdin(host),
            [admit, prepared],
            secret=True,
            delete=inline("reset-node", {"NODE_NAME": host.name}),
            triggers=[machine, admit.id],
            replace_first=True,
            on_host=host,
        )
        revoke = {**target, **({} if self_ else {"TOKEN_ID": token_id})}
        drain = self._command(
            f"drain-{host.name}",
            admin,
            bundle("revoke-join-token", revoke, quiet=True),
            [join],
            secret=True,
            delete=inline("drain-node", target),
            triggers=[machine, join.id],
            replace_first=True,
        )
        return Member(admit, join, drain)

    def _authorize_bastion(self, connection: command.remote.ConnectionArgs) -> None:
        """The bastion the program created lets in the same keys as the hosts (rotation)."""
        ssh = self._args.inventory.ssh
        params = {
            "NODE_NAME": "bastion",
            "SSH_USER": ssh.user,
            "AUTHORIZED_KEYS_B64": self._authorized_keys(),
            "EXCLUSIVE_KEYS": flag(ssh.exclusive_keys),
        }
        command.remote.Command(
            "authorize-bastion",
            connection=connection,
            create=RUN_FROM_STDIN,
            stdin=bundle("prepare-host/ssh-keys", params),
            add_previous_output_in_env=False,
            opts=pulumi.ResourceOptions(parent=self, depends_on=list(self._args.inventory.ready)),
        )

    def _etcd_snapshots(self, host: Host, member: pulumi.Resource) -> command.remote.Command:
        days = str(self._args.kubernetes.etcd_snapshot_retention_days)
        return self._command(
            f"etcd-snapshots-{host.name}",
            host,
            bundle("etcd-snapshot", {"NODE_NAME": host.name, "RETENTION_DAYS": days}),
            [member],
            triggers=[host.machine],
            on_host=host,
        )

    def _read_kubeconfig(self, init: command.remote.Command) -> pulumi.Output[str]:
        read = self._command(
            "kubeconfig",
            self._admin,
            bundle("read-kubeconfig", {"NODE_NAME": self._admin.name}),
            [init],
            secret=True,
        )
        server = self._args.inventory.api_server_url
        return pulumi.Output.secret(
            pulumi.Output.all(read.stdout, server).apply(lambda v: with_server(v[0], v[1]))
        )
