"""Calico (issue 11, item 2): its CRDs as their own release, the operator's release waiting
for it, both with fixed names, and the pod network ready when calico-node is Ready: a gate on
the first control plane that everything after the CNI waits for. The gate's script runs here
under bash with a stub kubectl."""

from __future__ import annotations

import subprocess
import textwrap
from pathlib import Path

import pytest
from pulumi.runtime import rpc

from automation.engine import unwrap_secrets
from components import versions
from tests.charts.graph import RELEASE, upstream
from tests.stub_host import StubHost
from tools.chart_facts import VARIANTS, evaluated

COMMAND = "command:remote:Command"
GATE = "cluster-cni-calico-ready"


@pytest.fixture(scope="module", params=[v.name for v in VARIANTS])
def evaluation(request):
    return evaluated(request.param)


def named_releases(evaluation) -> dict:
    return {r.inputs["name"]: r for r in evaluation.of_type(RELEASE)}


def test_the_crds_come_from_their_own_release_with_a_fixed_name(evaluation):
    crds = named_releases(evaluation)["calico-crds"]
    assert (crds.inputs["chart"], crds.inputs["version"]) == (
        "crd.projectcalico.org.v1",
        versions.CALICO_VERSION,
    )
    assert crds.inputs["repositoryOpts"]["repo"] == versions.CALICO_CHART_REPO
    assert not crds.inputs.get("atomic")  # a rolled back upgrade must not delete the CRDs


def test_the_operator_release_waits_for_the_crd_release(evaluation):
    r = named_releases(evaluation)
    assert r["calico"].inputs["chart"] == versions.CALICO_CHART
    assert r["calico-crds"].urn in upstream(evaluation, r["calico"].urn)
    assert r["calico"].urn not in upstream(evaluation, r["calico-crds"].urn)


def test_the_gate_runs_on_the_first_control_plane_after_the_operator(evaluation):
    gate = evaluation.named(GATE)
    assert named_releases(evaluation)["calico"].urn in gate.dependencies
    init = evaluation.named("join-cp-1")  # the init host (baremetal.initHost / AWS cp-1)
    assert unwrap_secrets(gate.inputs["connection"]) == unwrap_secrets(init.inputs["connection"])
    assert not gate.ignore_changes  # commands follow the machine (issue 10)
    assert gate.inputs["create"] == "sudo bash -s"
    stdin = rpc.unwrap_rpc_secret(gate.inputs["stdin"])
    assert "# ---- calico-ready.sh ----" in stdin
    assert f"\nCALICO_VERSION={versions.CALICO_VERSION}\n" in stdin


def test_everything_that_waits_for_the_cni_waits_for_the_gate(evaluation):
    """What waited for the operator release (through the Cni component) now also waits for
    calico-node Ready: every add-on, and nothing on the cluster's own path."""
    gate = evaluation.named(GATE)
    operator = named_releases(evaluation)["calico"]
    cni = {gate.urn, operator.urn, named_releases(evaluation)["calico-crds"].urn}
    after_cni = [
        r
        for r in evaluation.registrations
        if r.urn not in cni and operator.urn in upstream(evaluation, r.urn)
    ]
    assert len(after_cni) > 10
    assert [r.name for r in after_cni if gate.urn not in upstream(evaluation, r.urn)] == []
    add_ons = [r for n, r in named_releases(evaluation).items() if not n.startswith("calico")]
    assert all(gate.urn in upstream(evaluation, r.urn) for r in add_ons)


def test_a_new_calico_version_or_new_values_run_the_gate_again(evaluation):
    gate = evaluation.named(GATE)
    stdin = rpc.unwrap_rpc_secret(gate.inputs["stdin"])
    assert "\nVALUES_DIGEST=" in stdin and "\nTIMEOUT_SECONDS=900\n" in stdin


# ---- calico-ready.sh under bash --------------------------------------------------------------

# Answers from $ROOT/.stub: `ds` lines, one per call (the last one repeats), and `pods`.
KUBECTL = r"""
case " $* " in
    *" get daemonset calico-node "*)
        n=$(cat "$S/ds-calls" 2>/dev/null || echo 0)
        echo $((n + 1)) >"$S/ds-calls"
        total=$(wc -l <"$S/ds")
        line=$((n + 1 > total ? total : n + 1))
        state=$(sed -n "${line}p" "$S/ds")
        [[ $state == missing ]] && { echo 'Error from server (NotFound)' >&2; exit 1; }
        printf '%s' "$state"
        ;;
    *" get pods "*)
        # pods.1, pods.2 ... one per call, the last one repeating.
        n=$(cat "$S/pods-calls" 2>/dev/null || echo 0)
        n=$((n + 1))
        echo "$n" >"$S/pods-calls"
        while ((n > 1)) && [[ ! -e $S/pods.$n ]]; do n=$((n - 1)); done
        cat "$S/pods.$n" 2>/dev/null
        ;;
    *" get nodes "*) printf '%s' "$(cat "$S/planes" 2>/dev/null || echo cp-1 cp-2 cp-3)" ;;
    *) exit 3 ;;
esac
"""
STUBS = {
    "kubectl": KUBECTL,
    "sleep": ":",
    "timeout": 'while [[ $1 == -* ]]; do shift; done; shift; exec "$@"',
    "hostname": "echo test-host",
}
IMAGE = f"quay.io/calico/node:{versions.CALICO_VERSION}"
CONTROL_PLANES_READY = "cp-1=Running/True\ncp-2=Running/True\ncp-3=Running/True\n"


class Host(StubHost):
    def __init__(self, tmp_path: Path) -> None:
        super().__init__(tmp_path / "root", STUBS)
        self.write("etc/kubernetes/admin.conf", "apiVersion: v1\n")

    def daemonset(self, *states: str, pods: tuple[str, ...] = (CONTROL_PLANES_READY,)) -> None:
        (self.stub / "ds").write_text("\n".join(states) + "\n")
        for n, listing in enumerate(pods, start=1):
            (self.stub / f"pods.{n}").write_text(textwrap.dedent(listing))

    def run(self, **overrides: str) -> subprocess.CompletedProcess:
        params = {
            "NODE_NAME": "cp-1",
            "CALICO_VERSION": versions.CALICO_VERSION,
            "TIMEOUT_SECONDS": "60",
            "POLL_SECONDS": "10",
            "VALUES_DIGEST": "0" * 64,
            **overrides,
        }
        return self.run_step("calico-ready", params)


@pytest.fixture
def host(tmp_path) -> Host:
    return Host(tmp_path)


def ds(desired: int, updated: int, ready: int, image: str = IMAGE, observed: int = 2) -> str:
    return f"2 {observed} {desired} {updated} {ready} {image}"


def test_ready_when_calico_node_is_ready_on_the_control_planes(host):
    host.daemonset(ds(43, 43, 43))
    result = host.run()
    assert result.returncode == 0, result.stderr
    assert "calico-node v3.32.1 is Ready on the control planes (on 43 of 43 nodes)" in result.stderr
    assert host.calls("sleep") == []
    for call in host.calls("kubectl"):
        assert f"--kubeconfig {host.root}/etc/kubernetes/admin.conf" in call


def test_a_worker_that_is_not_ready_does_not_hold_the_platform_back(host):
    pods = CONTROL_PLANES_READY + "gpu-07=Running/False\ngpu-12=Pending/\n"
    host.daemonset(ds(43, 43, 41), pods=(pods,))
    result = host.run()
    assert result.returncode == 0, result.stderr
    assert host.calls("sleep") == []


def test_waits_while_the_operator_creates_and_rolls_out_calico_node(host):
    host.daemonset(
        "missing",
        ds(3, 3, 3, image="quay.io/calico/node:v3.31.0"),
        ds(3, 3, 3, observed=1),
        ds(3, 1, 1),
        ds(3, 3, 2),
        ds(3, 3, 3),
        pods=("cp-1=Running/True\ncp-2=Running/False\ncp-3=Pending/\n", CONTROL_PLANES_READY),
    )
    result = host.run(TIMEOUT_SECONDS="100")
    assert result.returncode == 0, result.stderr
    assert host.calls("sleep") == ["sleep 10"] * 5
    for reason in (
        "the calico-node DaemonSet does not exist yet",
        "calico-node runs quay.io/calico/node:v3.31.0, not v3.32.1",
        "the calico-node DaemonSet's new spec is not observed yet",
        "calico-node is updated on 1 of 3 nodes",
        "calico-node is not Ready on the control planes cp-2 cp-3 (Ready on 2 of 3 nodes)",
    ):
        assert f"waiting: {reason}" in result.stderr


def test_gives_up_after_the_timeout_naming_what_is_not_ready(host):
    pods = """\
        cp-1=Running/True
        cp-2=Running/False
        gpu-12=Pending/
    """
    host.daemonset(ds(43, 43, 41), pods=(pods,))
    result = host.run(TIMEOUT_SECONDS="60", POLL_SECONDS="10")
    assert result.returncode == 1
    assert len(host.calls("sleep")) == 5  # 6 looks in 60 seconds, no sleep after the last
    assert result.stderr.splitlines()[-1] == (
        "ml-platform: calico-ready failed on cp-1: Calico is not ready after 60s: calico-node "
        "is not Ready on the control planes cp-2 cp-3 (Ready on 41 of 43 nodes); not Ready: "
        "cp-2=Running gpu-12=Pending "
        "(kubectl -n calico-system get pods -l k8s-app=calico-node; kubectl get tigerastatus)"
    )


def test_refuses_to_run_without_a_cluster_or_with_bad_parameters(host):
    host.daemonset(ds(1, 1, 1))
    assert "TIMEOUT_SECONDS must be a positive integer" in host.run(TIMEOUT_SECONDS="soon").stderr
    assert "required parameter CALICO_VERSION is not set" in host.run(CALICO_VERSION="").stderr
    (host.root / "etc/kubernetes/admin.conf").unlink()
    result = host.run()
    assert result.returncode == 1
    assert "no /etc/kubernetes/admin.conf: the cluster is not initialised" in result.stderr
