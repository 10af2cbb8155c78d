"""How much the offline plan costs beyond the SDK's own registration work, and how it scales.

For the lab stack (3 control planes, 40 workers) it prints the CPU time of:

- the offline plan (`automation.engine.evaluate`: config, inventory, the program, recording);
- the SDK alone registering exactly the plan's resources again: the same generated classes,
  names, parents, inputs and dependencies, replayed from the plan with none of the program's
  own work. The ratio of the two is the target (at most 1.5);
- the SDK alone registering as many three-input resources: a floor, printed for scale (our
  commands carry a connection, scripts and a dozen declared outputs each).

Then the same from 40 to 400 workers: a flat ms/resource and a flat ratio mean linear.

Times are this process's CPU time (`time.process_time`), and the runs alternate: on a shared
CI machine, wall-clock time measures the neighbours too.
"""

from __future__ import annotations

import contextvars
import re
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import pulumi
import pulumi_command as command
import pulumi_kubernetes as kubernetes
import pulumi_random as random
from pulumi.runtime import rpc
from pulumi.runtime.stack import run_pulumi_func
from pulumi.runtime.sync_await import _sync_await
from pulumi.type_token import _PULUMI_TYPE

from automation.engine import Evaluation, Registration, evaluate
from tests.helpers import evaluate_config, lab_with_workers

REPEATS = 5

# The generated classes of the types the program registers. A generated class declares every
# output property and the SDK works on each, so replaying them as generic CustomResources
# would make the SDK look cheaper than it is.
RESOURCE_CLASSES: dict[str, type] = {
    getattr(cls, _PULUMI_TYPE): cls
    for cls in (
        command.remote.Command,
        kubernetes.Provider,
        kubernetes.helm.v3.Release,
        kubernetes.core.v1.Namespace,
        kubernetes.core.v1.Secret,
        random.RandomPassword,
        random.RandomString,
        random.RandomBytes,
        random.RandomId,
    )
}


class CountingMocks(pulumi.runtime.Mocks):
    def __init__(self) -> None:
        self.created = 0

    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str, dict]:
        self.created += 1
        return f"{args.name}-id", args.inputs

    def call(self, args: pulumi.runtime.MockCallArgs) -> tuple[dict, list]:
        return {}, []


def sdk_only(program: Callable[[], None]) -> tuple[float, int]:
    """CPU seconds for the SDK's plain mock monitor to run `program`, and the resources made."""
    mocks = CountingMocks()

    def run() -> float:
        pulumi.runtime.set_mocks(mocks, project="bench", stack="bench", preview=False)
        started = time.process_time()
        _sync_await(run_pulumi_func(program))
        return time.process_time() - started

    return contextvars.Context().run(run), mocks.created


def three_input_resources(count: int) -> Callable[[], None]:
    def program() -> None:
        for i in range(count):
            pulumi.CustomResource("bench:index:Thing", f"thing-{i}", {"a": str(i), "b": [1, 2]})

    return program


def _as_program_passes(value: Any, secrets: dict[str, pulumi.Output]) -> Any:
    """A recorded input as a program passes it; a secret becomes one secret Output per value
    (a program makes its SSH key an Output once, not once per command)."""
    if rpc.is_rpc_secret(value):
        plain = rpc.unwrap_rpc_secret(value)
        return secrets.setdefault(repr(plain), pulumi.Output.secret(plain))
    if isinstance(value, dict):
        return {k: _as_program_passes(v, secrets) for k, v in value.items()}
    if isinstance(value, list):
        return [_as_program_passes(v, secrets) for v in value]
    return value


# What CustomResource takes; a custom kind with other top-level fields (Kueue's
# WorkloadPriorityClass: value, description) is registered by the program as a plain resource.
CUSTOM_RESOURCE_INPUTS = {"apiVersion", "kind", "metadata", "spec"}


def _kubernetes_class(type_: str) -> type | None:
    """The generated class of a built-in kind: `kubernetes:networking.k8s.io/v1:Ingress` is
    kubernetes.networking.v1.Ingress (None for a custom resource's kind)."""
    if not type_.startswith("kubernetes:"):
        return None
    package, _, kind = type_.partition(":")[2].partition(":")
    group, _, version = package.rpartition("/")
    module = getattr(kubernetes, group.split(".")[0], None)
    cls = getattr(getattr(module, version, None), kind, None)
    return cls if isinstance(cls, type) and getattr(cls, _PULUMI_TYPE, None) == type_ else None


def _register(r: Registration, inputs: dict, opts: pulumi.ResourceOptions) -> pulumi.Resource:
    kwargs = {re.sub(r"(?<!^)(?=[A-Z])", "_", key).lower(): value for key, value in inputs.items()}
    cls = RESOURCE_CLASSES.get(r.type) or _kubernetes_class(r.type)
    if cls is None and r.type.startswith("kubernetes:") and set(inputs) <= CUSTOM_RESOURCE_INPUTS:
        # A custom resource (IPAddressPool, ClusterIssuer...): apiVersion and kind are inputs.
        cls = kubernetes.apiextensions.CustomResource
    if cls is None:
        return pulumi.CustomResource(r.type, r.name, inputs, opts)
    return cls(r.name, opts=opts, **kwargs)


def same_registrations(evaluation: Evaluation) -> Callable[[], None]:
    def program() -> None:
        made: dict[str, pulumi.Resource] = {}
        secrets: dict[str, pulumi.Output] = {}
        for r in evaluation.registrations:
            opts = pulumi.ResourceOptions(
                parent=made.get(r.parent),
                depends_on=[made[u] for u in sorted(r.all_dependencies) if u in made],
                additional_secret_outputs=list(r.additional_secret_outputs) or None,
                ignore_changes=list(r.ignore_changes) or None,
            )
            if r.custom:
                made[r.urn] = _register(r, _as_program_passes(r.inputs, secrets), opts)
            else:
                made[r.urn] = pulumi.ComponentResource(r.type, r.name, None, opts)

    return program


def measure(stack_config: dict | None, repeats: int = REPEATS) -> tuple[int, float, float, float]:
    """Resources, then median CPU ms of the plan, of the replay and of the floor."""

    def plan() -> Evaluation:
        if stack_config is None:
            return evaluate("lab").check()
        return evaluate_config("lab", stack_config).check()

    evaluation = plan()
    count = len(evaluation.registrations)
    plans, replays, floors = [], [], []
    for _ in range(repeats):
        started = time.process_time()
        plan()
        plans.append(time.process_time() - started)
        seconds, created = sdk_only(same_registrations(evaluation))
        if created != count:
            raise RuntimeError(f"the replay registered {created} resources, the plan {count}")
        replays.append(seconds)
        floors.append(sdk_only(three_input_resources(count))[0])
    return count, *(statistics.median(runs) * 1000 for runs in (plans, replays, floors))


def main() -> None:
    evaluate("lab").check()  # imports and caches, as in any second run
    count, plan_ms, replay_ms, floor_ms = measure(None)
    print(f"lab stack, 43 hosts and the platform: {count} resources (CPU ms, median of {REPEATS})")
    print(f"  offline plan                           {plan_ms:8.1f}")
    print(f"  SDK alone, the same registrations      {replay_ms:8.1f}")
    print(f"  SDK alone, {count} three-input resources {floor_ms:8.1f}")
    print(f"  ratio plan / same registrations        {plan_ms / replay_ms:8.2f}  (target <= 1.5)")
    print(f"  ratio plan / three-input resources     {plan_ms / floor_ms:8.2f}")
    print()
    print("workers  resources   plan ms  ms/resource   SDK ms  ratio   (median of 3)")
    for workers in (40, 100, 200, 400):
        n, plan_ms, replay_ms, _ = measure(lab_with_workers(workers), repeats=3)
        print(
            f"{workers:7d}  {n:9d}  {plan_ms:8.1f}  {plan_ms / n:11.3f}"
            f"  {replay_ms:7.1f}  {plan_ms / replay_ms:5.2f}"
        )


if __name__ == "__main__":
    main()
