"""Roll the service out so that it serves the new champion: the pipeline's last step.

    python -m mlops.rollout --namespace models --deployment breast-cancer-classifier --version 7

The service loads `models:/<name>@champion` when it starts, so rolling out is restarting its
Deployment. This sets the pod template annotation `mlops.ml-platform/model-version` to
`<name>/<version>` (a strategic merge patch): a changed template starts a rolling update under
the Deployment's own strategy and probes, and the annotation records what was rolled out
(re-running the step for the same version changes nothing). Then it waits, as
`kubectl rollout status` does, until every replica is updated and available, or fails on the
Deployment's progress deadline or the step's timeout.

Needs, in the Deployment's namespace: `get` and `patch` on `deployments` (apps) for the
service account the pipeline runs as; the Role is in docs/mlops.md.
"""

from __future__ import annotations

import argparse
import time
from typing import Any

from kubernetes import client as k8s
from kubernetes import config as k8s_config

from mlops import config

ANNOTATION = "mlops.ml-platform/model-version"


class RolloutError(RuntimeError):
    pass


def rollout_done(deployment: Any) -> tuple[bool, str]:
    """kubectl's rollout status logic: (done, what it is waiting for)."""
    spec, status = deployment.spec, deployment.status
    if (status.observed_generation or 0) < deployment.metadata.generation:
        return False, "waiting for the controller to see the new template"
    for condition in status.conditions or []:
        if condition.type == "Progressing" and condition.reason == "ProgressDeadlineExceeded":
            raise RolloutError(
                f"deployment {deployment.metadata.name} exceeded its progress deadline"
            )
    wanted = spec.replicas if spec.replicas is not None else 1
    updated = status.updated_replicas or 0
    if updated < wanted:
        return False, f"{updated} of {wanted} replicas updated"
    if (status.replicas or 0) > updated:
        return False, f"{(status.replicas or 0) - updated} old replicas terminating"
    if (status.available_replicas or 0) < updated:
        return False, f"{status.available_replicas or 0} of {updated} updated replicas available"
    return True, "rolled out"


def roll_out(
    apps: k8s.AppsV1Api,
    namespace: str,
    deployment: str,
    model_name: str,
    version: str,
    timeout: float = 600.0,
    poll: float = 5.0,
) -> str:
    patch = {
        "spec": {"template": {"metadata": {"annotations": {ANNOTATION: f"{model_name}/{version}"}}}}
    }
    apps.patch_namespaced_deployment(deployment, namespace, patch)
    deadline = time.monotonic() + timeout
    while True:
        done, state = rollout_done(apps.read_namespaced_deployment(deployment, namespace))
        if done:
            return state
        if time.monotonic() > deadline:
            raise RolloutError(
                f"deployment {namespace}/{deployment} not rolled out in {timeout:.0f} s: {state}"
            )
        time.sleep(poll)


def apps_api() -> k8s.AppsV1Api:
    """In a pod: its service account; elsewhere: the kubeconfig."""
    try:
        k8s_config.load_incluster_config()
    except k8s_config.ConfigException:
        k8s_config.load_kube_config()
    return k8s.AppsV1Api()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m mlops.rollout", description=__doc__)
    parser.add_argument(
        "--namespace",
        default=config.env_str("MLOPS_SERVICE_NAMESPACE"),
        required=config.env_str("MLOPS_SERVICE_NAMESPACE") is None,
    )
    parser.add_argument(
        "--deployment",
        default=config.env_str("MLOPS_SERVICE_DEPLOYMENT"),
        required=config.env_str("MLOPS_SERVICE_DEPLOYMENT") is None,
    )
    parser.add_argument("--model-name", default=config.model_name())
    parser.add_argument("--version", required=True)
    parser.add_argument("--timeout", type=float, default=600.0)
    args = parser.parse_args(argv)
    try:
        state = roll_out(
            apps_api(), args.namespace, args.deployment, args.model_name, args.version, args.timeout
        )
    except (RolloutError, k8s.ApiException) as error:
        print(f"error: {error}")
        return 1
    print(f"{args.namespace}/{args.deployment}: {state} ({args.model_name} version {args.version})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
