"""How much the offline plan costs beyond the SDK's own registration work, and how it scales.

Prints, for the lab stack (3 control planes, 40 workers): the time of the offline plan and the
time of a bare program registering as many resources under the SDK's plain mock monitor, and
their ratio (the target is at most 1.5). Then the plan's time and resource count from 40 to
400 workers, and the time per resource, which stays flat when the plan is linear.
"""

from __future__ import annotations

import statistics
import sys
import textwrap
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import pulumi
from pulumi.runtime.stack import run_pulumi_func
from pulumi.runtime.sync_await import _sync_await

from automation.engine import evaluate
from tests.helpers import evaluate_config, lab_with_workers

REPEATS = 5


class EchoMocks(pulumi.runtime.Mocks):
    def new_resource(self, args):
        return f"{args.name}-id", args.inputs

    def call(self, args):
        return {}, []


def bare_registration(count: int) -> float:
    """Seconds for the SDK alone to register `count` resources with a few inputs each."""
    import contextvars

    def run() -> float:
        pulumi.runtime.set_mocks(EchoMocks(), project="bench", stack="bench", preview=False)
        source = textwrap.dedent(
            """
            import pulumi
            for i in range(COUNT):
                pulumi.CustomResource("bench:index:Thing", f"thing-{i}", {"a": str(i), "b": [1, 2], "c": {"d": "e"}})
            """
        ).replace("COUNT", str(count))
        started = time.perf_counter()
        _sync_await(run_pulumi_func(lambda: exec(source, {})))
        return time.perf_counter() - started

    return contextvars.Context().run(run)


def timed(fn) -> tuple[float, object]:
    started = time.perf_counter()
    result = fn()
    return time.perf_counter() - started, result


def median_time(fn) -> tuple[float, object]:
    runs = [timed(fn) for _ in range(REPEATS)]
    return statistics.median(t for t, _ in runs), runs[-1][1]


def main() -> None:
    evaluate("lab").check()  # warm imports
    plan_time, lab = median_time(lambda: evaluate("lab").check())
    count = len(lab.registrations)
    bare_time = statistics.median(bare_registration(count) for _ in range(REPEATS))
    print(f"lab stack, 43 hosts: {count} resources")
    print(f"  offline plan        {plan_time * 1000:8.1f} ms (median of {REPEATS})")
    print(f"  bare SDK, {count} regs {bare_time * 1000:8.1f} ms")
    print(f"  ratio               {plan_time / bare_time:8.2f}  (target <= 1.5)")
    print()
    print("workers  resources   plan ms   ms/resource")
    for workers in (40, 100, 200, 400):
        config = lab_with_workers(workers)
        seconds, evaluation = median_time(lambda c=config: evaluate_config("lab", c).check())
        n = len(evaluation.registrations)
        print(f"{workers:7d}  {n:9d}  {seconds * 1000:8.1f}  {seconds * 1000 / n:12.3f}")


if __name__ == "__main__":
    main()
