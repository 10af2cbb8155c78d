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
from typing import Any

import pulumi
import pulumi_command as command

from components import yamltext
from components.addons.addon import AddonContext
from components.kubeadm.scripts import RUN_FROM_STDIN, b64, script_bundle
from components.versions import Dashboard

# How long a gate waits before `pulumi up` stops with a message naming what is not ready.
GATE_TIMEOUT_SECONDS = 900
GATE_POLL_SECONDS = 10


def revision(*parts: Any) -> str:
    """A digest of what a gate waits for (a chart's version and values): a new one runs it
    again, so an upgrade is waited for as the first install was."""
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()


def _on_admin_host(
    name: str,
    step: str,
    params: Mapping[str, str],
    context: AddonContext,
    parent: pulumi.Resource,
    depends_on: Sequence[pulumi.Resource],
    delete_params: Mapping[str, str] | None = None,
) -> command.remote.Command:
    host = context.inventory.first_control_plane
    delete = None
    if delete_params is not None:
        # pulumi-command hands a delete the stored stdin of the create (pulumi-command@v1.2.1
        # provider/pkg/provider/remote): the delete's own bundle, with other parameters, goes
        # on the command line instead, so only parameters that are not secret may be there.
        bundle = script_bundle(step, {"NODE_NAME": host.name, **delete_params})
        delete = f"sudo bash -c {shlex.quote(bundle)}"
    return command.remote.Command(
        name,
        connection=host.connection,
        create=RUN_FROM_STDIN,
        stdin=script_bundle(step, {"NODE_NAME": host.name, **params}),
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
