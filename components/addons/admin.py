"""Steps an add-on runs with the cluster's admin credentials, on the first control plane:
readiness gates where Helm's wait is not readiness, and upstream dashboards fetched at deploy
time. Each is a host script of components/kubeadm/scripts sent on stdin to `sudo bash -s`,
as the cluster's own steps are.
"""

from __future__ import annotations

import hashlib
import json
import shlex
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_command as command

from components import yamltext
from components.addons.addon import AddonContext
from components.kubeadm.scripts import RUN_FROM_STDIN, b64, script_bundle
from components.outputs import with_resolved
from components.versions import Dashboard

# How long a gate waits before `pulumi up` stops with a message naming what is not ready.
GATE_TIMEOUT_SECONDS = 900
GATE_POLL_SECONDS = 10


def revision(*parts: Any) -> str:
    """A digest of what a gate waits for (a chart's version and values): a new one runs it
    again, so an upgrade is waited for as the first install was."""
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()


@dataclass(frozen=True)
class MlflowServer:
    """Where an admin step reaches MLflow: its Service, the in-cluster host name it answers
    to, and the Secret with its admin's `username` and `password`."""

    namespace: str
    service: str
    port: int
    host: str
    admin_secret: str


def _on_admin_host(
    name: str,
    step: str,
    params: Mapping[str, pulumi.Input[str]],
    context: AddonContext,
    parent: pulumi.Resource,
    depends_on: Sequence[pulumi.Resource],
    delete_params: Mapping[str, str] | None = None,
    quiet: bool = False,
) -> command.remote.Command:
    """`step` on the first control plane; its stdin is secret when a parameter is. `quiet`:
    the step handles secrets (components/kubeadm/scripts.py)."""
    host = context.inventory.first_control_plane
    delete = None
    if delete_params is not None:
        # pulumi-command hands a delete the stored stdin of the create (pulumi-command@v1.2.1
        # provider/pkg/provider/remote): the delete's own bundle, with other parameters, goes
        # on the command line instead, so only parameters that are not secret may be there.
        bundle = script_bundle(step, {"NODE_NAME": host.name, **delete_params}, quiet)
        delete = f"sudo bash -c {shlex.quote(bundle)}"
    stdin = with_resolved(
        {"NODE_NAME": host.name, **params}, lambda values: script_bundle(step, values, quiet)
    )
    return command.remote.Command(
        name,
        connection=host.connection,
        create=RUN_FROM_STDIN,
        stdin=stdin,
        delete=delete,
        add_previous_output_in_env=False,
        opts=pulumi.ResourceOptions(parent=parent, depends_on=list(depends_on)),
    )


def wait_for_webhook(
    name: str,
    what: str,
    manifest: Mapping[str, Any],
    context: AddonContext,
    parent: pulumi.Resource,
    depends_on: Sequence[pulumi.Resource],
) -> command.remote.Command:
    """Passes once the API server admits `manifest` in a server-side dry run: the webhook
    that guards it answers."""
    params = {
        "WHAT": what,
        "MANIFEST_B64": b64(yamltext.dump(dict(manifest))),
        "TIMEOUT_SECONDS": str(GATE_TIMEOUT_SECONDS),
        "POLL_SECONDS": str(GATE_POLL_SECONDS),
    }
    return _on_admin_host(name, "webhook-ready", params, context, parent, depends_on)


def wait_for_status(
    name: str,
    resource: str,
    namespace: str,
    expected: str,
    context: AddonContext,
    parent: pulumi.Resource,
    depends_on: Sequence[pulumi.Resource],
    revision: str,
    jsonpath: str = "{.status.phase}",
) -> command.remote.Command:
    """Passes once `resource` (kind/name) in `namespace` has `expected` at `jsonpath`."""
    params = {
        "RESOURCE": resource,
        "NAMESPACE": namespace,
        "JSONPATH": jsonpath,
        "EXPECTED": expected,
        "TIMEOUT_SECONDS": str(GATE_TIMEOUT_SECONDS),
        "POLL_SECONDS": str(GATE_POLL_SECONDS),
        "REVISION": revision,
    }
    return _on_admin_host(name, "status-ready", params, context, parent, depends_on)


def upstream_dashboard(
    name: str,
    dashboard: Dashboard,
    namespace: str,
    folder: str,
    context: AddonContext,
    parent: pulumi.Resource,
    depends_on: Sequence[pulumi.Resource],
) -> command.remote.Command:
    """`dashboard` as a ConfigMap in `namespace` that the Grafana sidecar loads into `folder`,
    downloaded at deploy time from its pinned URL and checked against its SHA-256."""
    where = {"DASHBOARD": dashboard.name, "NAMESPACE": namespace}
    params = {
        **where,
        "ACTION": "apply",
        "FOLDER": folder,
        "URL": dashboard.url,
        "SHA256": dashboard.sha256,
    }
    return _on_admin_host(
        name,
        "dashboard",
        params,
        context,
        parent,
        depends_on,
        delete_params={**where, "ACTION": "delete"},
    )


def mlflow_user(
    name: str,
    *,
    username: str,
    password: pulumi.Input[str],
    experiment: str,
    model: str,
    permission: str,
    mlflow: MlflowServer,
    context: AddonContext,
    parent: pulumi.Resource,
    depends_on: Sequence[pulumi.Resource],
) -> command.remote.Command:
    """An MLflow user of an application's own with `permission` on `experiment` and `model`,
    made with MLflow's admin credentials read from their Secret on the cluster (the
    `mlflow-user` step); deleted when this resource is. The password is secret on stdin."""
    where = {
        "USERNAME": username,
        "NAMESPACE": mlflow.namespace,
        "SERVICE": mlflow.service,
        "PORT": str(mlflow.port),
        "HOST_HEADER": mlflow.host,
        "ADMIN_SECRET": mlflow.admin_secret,
        "TIMEOUT_SECONDS": str(GATE_TIMEOUT_SECONDS),
        "POLL_SECONDS": str(GATE_POLL_SECONDS),
    }
    params: dict[str, pulumi.Input[str]] = {
        **where,
        "ACTION": "apply",
        "PASSWORD": pulumi.Output.secret(password),
        "EXPERIMENT": experiment,
        "MODEL": model,
        "PERMISSION": permission,
    }
    delete = {**where, "ACTION": "delete"}
    return _on_admin_host(
        name, "mlflow-user", params, context, parent, depends_on, delete_params=delete, quiet=True
    )
