"""The roll-out step against a local HTTP server standing in for the Kubernetes API."""

from __future__ import annotations

import pytest
from kubernetes import client as k8s

from mlops import rollout

PATH = "/apis/apps/v1/namespaces/models/deployments/classifier"


def deployment(
    generation: int,
    observed: int,
    replicas: int,
    updated: int,
    available: int,
    total: int | None = None,
    deadline: bool = False,
) -> dict:
    conditions = [
        {
            "type": "Progressing",
            "status": "False" if deadline else "True",
            "reason": "ProgressDeadlineExceeded" if deadline else "ReplicaSetUpdated",
        }
    ]
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "classifier", "namespace": "models", "generation": generation},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": "classifier"}},
            "template": {"metadata": {"labels": {"app": "classifier"}}, "spec": {"containers": []}},
        },
        "status": {
            "observedGeneration": observed,
            "replicas": total if total is not None else replicas,
            "updatedReplicas": updated,
            "availableReplicas": available,
            "conditions": conditions,
        },
    }


def apps(fake_api) -> k8s.AppsV1Api:
    configuration = k8s.Configuration(host=fake_api.url)
    return k8s.AppsV1Api(k8s.ApiClient(configuration))


def serve_in_turn(fake_api, states: list[dict]) -> None:
    remaining = list(states)
    fake_api.route(
        "GET", PATH, lambda _: (200, remaining.pop(0) if len(remaining) > 1 else remaining[0])
    )


def test_patches_the_template_and_waits_for_every_replica(fake_api):
    fake_api.route("PATCH", PATH, deployment(2, 1, 2, 0, 2))
    serve_in_turn(
        fake_api,
        [
            deployment(2, 1, 2, 0, 2),  # the controller has not seen the new template
            deployment(2, 2, 2, 1, 2, total=3),  # one new pod, old ones still there
            deployment(2, 2, 2, 2, 1, total=2),  # all updated, one not yet available
            deployment(2, 2, 2, 2, 2),  # done
        ],
    )
    state = rollout.roll_out(
        apps(fake_api), "models", "classifier", "clf", "7", timeout=10, poll=0.01
    )
    assert state == "rolled out"
    patch = fake_api.requests[0]
    assert (patch.method, patch.path) == ("PATCH", PATH)
    assert patch.headers["Content-Type"] == "application/strategic-merge-patch+json"
    assert patch.body == {
        "spec": {"template": {"metadata": {"annotations": {rollout.ANNOTATION: "clf/7"}}}}
    }
    assert [r.method for r in fake_api.requests] == ["PATCH"] + ["GET"] * 4


def test_fails_on_the_progress_deadline(fake_api):
    fake_api.route("PATCH", PATH, deployment(3, 2, 2, 2, 2))
    serve_in_turn(fake_api, [deployment(3, 3, 2, 1, 1, total=3, deadline=True)])
    with pytest.raises(rollout.RolloutError, match="exceeded its progress deadline"):
        rollout.roll_out(apps(fake_api), "models", "classifier", "clf", "8", timeout=10, poll=0.01)


def test_fails_on_its_own_timeout(fake_api):
    fake_api.route("PATCH", PATH, deployment(3, 2, 2, 2, 2))
    serve_in_turn(fake_api, [deployment(3, 3, 2, 1, 1, total=3)])
    with pytest.raises(rollout.RolloutError, match="1 of 2 replicas updated"):
        rollout.roll_out(
            apps(fake_api), "models", "classifier", "clf", "8", timeout=0.05, poll=0.01
        )
