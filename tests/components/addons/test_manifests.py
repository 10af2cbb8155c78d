"""Upstream manifests applied from the first control plane: the kustomization the program
builds, and `apply-manifests` run for real under bash with stub commands (kubectl, apt-get) in
a temporary ROOT, on a PATH that has only what the script may use."""

from __future__ import annotations

import base64
import shutil
import textwrap
from dataclasses import dataclass
from pathlib import Path

import pulumi
import pytest

from components import yamltext
from components.addons.manifests import (
    UpstreamManifests,
    apply_manifests,
    github_directory,
    github_file,
    kustomization,
    needs_git,
)
from model.inventory import Host, SshAccess
from tests.helpers import applied_kustomization, stdin_parameters
from tests.stub_host import StubHost

# ---- the kustomization --------------------------------------------------------------------------


def test_remote_resources_are_pinned_refs():
    assert (
        github_directory("kubeflow/pipelines", "manifests/kustomize/base/pipeline", "2.17.0")
        == "https://github.com/kubeflow/pipelines//manifests/kustomize/base/pipeline"
        "?ref=2.17.0&timeout=300s"
    )
    assert (
        github_file("ray-project/kuberay", "v1.7.0", "helm-chart/kuberay-operator/crds/x.yaml")
        == "https://raw.githubusercontent.com/ray-project/kuberay/v1.7.0/"
        "helm-chart/kuberay-operator/crds/x.yaml"
    )


def test_a_kustomization_keeps_labels_out_of_selectors_and_patches_as_text():
    document = kustomization(
        ["https://github.com/a/b//c?ref=1"],
        namespace="ns",
        patches=[{"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "x"}}],
        labels={"app.kubernetes.io/part-of": "ml-platform"},
    )
    assert document["namespace"] == "ns"
    assert document["labels"] == [
        {"pairs": {"app.kubernetes.io/part-of": "ml-platform"}, "includeSelectors": False}
    ]
    assert yamltext.load(document["patches"][0]["patch"])["metadata"] == {"name": "x"}
    assert needs_git(document)
    assert not needs_git(kustomization([github_file("a/b", "v1", "crd.yaml")]))


def test_the_command_carries_its_kustomization_and_waits():
    def program() -> None:
        access = SshAccess("ubuntu", pulumi.Output.secret("key"))
        host = Host("cp-1", "192.168.10.11", ("control-plane",), access.connection("192.168.10.11"))
        parent = pulumi.ComponentResource("test:index:Parent", "parent")
        wanted = UpstreamManifests(
            "things",
            kustomization([github_file("a/b", "v1", "crd.yaml")]),
            needs_git=False,
            wait_established=("things.example.io",),
            wait_namespace="things",
        )
        apply_manifests(wanted, host, parent)

    from automation.engine import run

    evaluation = run(program).check()
    (command,) = evaluation.of_type("command:remote:Command")
    params = stdin_parameters(command)
    assert params["NAME"] == "things" and params["NEEDS_GIT"] == "false"
    assert params["WAIT_ESTABLISHED"] == "things.example.io"
    assert params["WAIT_NAMESPACE"] == "things"
    assert applied_kustomization(command)["resources"] == [
        "https://raw.githubusercontent.com/a/b/v1/crd.yaml"
    ]
    # Nothing to delete: namespaces go with the program's Namespace objects, CRDs stay.
    assert "delete" not in command.inputs
    assert command.inputs["create"] == "sudo bash -s"


# ---- the script, for real --------------------------------------------------------------------

STUBS = {
    "sleep": ":",
    "hostname": "echo cp-1",
    "kubectl": """
        args=("$@")
        case " $* " in
            *" kustomize "*)
                dir=${args[-1]}
                cp "$dir/kustomization.yaml" "$S/kustomization-seen.yaml"
                if [[ -e $S/fail-kustomize ]]; then
                    n=$(cat "$S/fail-kustomize")
                    if ((n > 0)); then echo $((n - 1)) >"$S/fail-kustomize"; exit 1; fi
                fi
                cat "$S/rendered.yaml"
                ;;
            *" apply "*)
                for ((i = 0; i < ${#args[@]}; i++)); do
                    [[ ${args[i]} == -f ]] && cp "${args[i + 1]}" "$S/applied.yaml"
                done
                echo "applied"
                ;;
            *" wait "*) [[ -e $S/fail-wait ]] && exit 1; true ;;
        esac
    """,
    "apt-get": """
        for arg in "$@"; do
            if [[ $arg == git ]]; then
                printf '#!/bin/bash\\nexit 0\\n' >"$(dirname "$0")/git"
                chmod +x "$(dirname "$0")/git"
            fi
        done
    """,
}
# What the script and common.sh may run besides the stubs.
TOOLS = (
    "bash", "cat", "chmod", "cmp", "cp", "dirname", "grep", "mkdir", "mktemp", "mv", "rm",
    "stat", "timeout", "base64", "basename", "printf", "awk", "env",
)  # fmt: skip

RENDERED = textwrap.dedent(
    """\
    apiVersion: apiextensions.k8s.io/v1
    kind: CustomResourceDefinition
    metadata:
      name: things.example.io
    ---
    apiVersion: apps/v1
    kind: Deployment
    metadata:
      name: thing-controller
      namespace: things
    """
)


@dataclass
class Result:
    returncode: int
    stderr: str
    calls: list[str]


class ControlPlane(StubHost):
    """The stubs, and only TOOLS besides them on PATH."""

    def __init__(self, tmp: Path) -> None:
        super().__init__(tmp / "root", STUBS, search_path=str(tmp / "bin"))
        for tool in TOOLS:
            found = shutil.which(tool)
            assert found, tool
            (self.bin / tool).symlink_to(found)
        self.write("etc/kubernetes/admin.conf", "kubeconfig")
        (self.stub / "rendered.yaml").write_text(RENDERED)

    def run(self, **params: str) -> Result:
        before = len(self.read_log())
        proc = self.run_step("apply-manifests", params)
        return Result(proc.returncode, proc.stderr, self.read_log()[before:])


@pytest.fixture
def control_plane(tmp_path: Path) -> ControlPlane:
    return ControlPlane(tmp_path)


KUSTOMIZATION = "resources:\n- https://raw.githubusercontent.com/a/b/v1/crd.yaml\n"


def params(**changes: str) -> dict[str, str]:
    base = {
        "NAME": "things",
        "KUSTOMIZATION_B64": base64.b64encode(KUSTOMIZATION.encode()).decode(),
        "NEEDS_GIT": "false",
        "WAIT_ESTABLISHED": "things.example.io",
        "WAIT_NAMESPACE": "things",
    }
    return {**base, **changes}


def test_it_builds_applies_server_side_waits_and_records(control_plane):
    result = control_plane.run(**params())
    assert result.returncode == 0, result.stderr
    assert (control_plane.stub / "kustomization-seen.yaml").read_text() == KUSTOMIZATION
    (apply,) = [c for c in result.calls if " apply " in c]
    assert "--server-side --force-conflicts --field-manager=ml-platform" in apply
    assert (control_plane.stub / "applied.yaml").read_text() == RENDERED
    waits = [c for c in result.calls if " wait " in c]
    assert waits == [
        "kubectl --kubeconfig "
        f"{control_plane.root}/etc/kubernetes/admin.conf wait --for=condition=Established "
        "--timeout=600s crd/things.example.io",
        f"kubectl --kubeconfig {control_plane.root}/etc/kubernetes/admin.conf -n things wait "
        "--for=condition=Available --timeout=600s deployment --all",
    ]
    record = control_plane.root / "var/lib/ml-platform/manifests/things.yaml"
    assert record.read_text() == RENDERED
    assert record.stat().st_mode & 0o777 == 0o600
    # Nothing is installed when no remote directory needs git.
    assert not [c for c in result.calls if c.startswith("apt-get")]


def test_a_second_run_applies_the_same_and_keeps_the_record(control_plane):
    assert control_plane.run(**params()).returncode == 0
    record = control_plane.root / "var/lib/ml-platform/manifests/things.yaml"
    first = record.stat().st_mtime_ns
    second = control_plane.run(**params())
    assert second.returncode == 0, second.stderr
    assert record.stat().st_mtime_ns == first
    assert "wrote /var/lib/ml-platform" not in second.stderr


def test_a_fetch_that_fails_is_retried_and_one_that_keeps_failing_stops_it(control_plane):
    (control_plane.stub / "fail-kustomize").write_text("2")
    assert control_plane.run(**params()).returncode == 0
    (control_plane.stub / "fail-kustomize").write_text("9")
    (control_plane.stub / "applied.yaml").unlink()
    result = control_plane.run(**params())
    assert result.returncode != 0
    assert "kubectl kustomize failed: cannot fetch or build the things manifests" in result.stderr
    assert not (control_plane.stub / "applied.yaml").exists()


def test_git_is_installed_only_when_a_remote_directory_needs_it(control_plane):
    result = control_plane.run(**params(NEEDS_GIT="true"))
    assert result.returncode == 0, result.stderr
    assert [c for c in result.calls if c.startswith("apt-get") and " install " in c]
    again = control_plane.run(**params(NEEDS_GIT="true"))
    assert not [c for c in again.calls if c.startswith("apt-get")]


def test_deployments_that_never_become_available_fail_the_step(control_plane):
    (control_plane.stub / "fail-wait").write_text("")
    result = control_plane.run(**params(WAIT_ESTABLISHED=""))
    assert result.returncode != 0
    assert "the Deployments in things are not Available after 600s" in result.stderr


def test_it_refuses_without_a_cluster_or_with_a_bad_name(control_plane):
    bad = control_plane.run(**params(NAME="Things; rm -rf /"))
    assert bad.returncode != 0 and "NAME must be kebab-case" in bad.stderr
    (control_plane.root / "etc/kubernetes/admin.conf").unlink()
    result = control_plane.run(**params())
    assert result.returncode != 0 and "the cluster is not initialised" in result.stderr
    assert not [c for c in result.calls if c.startswith("kubectl")]


# ---- no network at plan time ------------------------------------------------------------------


def test_the_guard_would_catch_a_fetch(no_network):
    import urllib.request

    with pytest.raises(AssertionError, match="tried to use the network"):
        urllib.request.urlopen("https://raw.githubusercontent.com/")


def test_applying_manifests_fetches_nothing_while_planning(no_network):
    # The program's whole manifest machinery, offline: building the Command's input resolves no
    # name and opens no connection (the fetch happens on the host, at deploy time).
    test_the_command_carries_its_kustomization_and_waits()
