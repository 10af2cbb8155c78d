"""The kubeadm step scripts, run for real under bash in a temporary ROOT with stub commands.

Every stub appends "<name> <args>" to ROOT/calls.log and keeps its state under ROOT/.stub, so a
test can assert which commands ran, and that a second run of a step changes nothing.
"""

from __future__ import annotations

import base64
import os
import re
import shutil
import stat
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from components.kubeadm import scripts
from components.kubeadm.scripts import SCRIPTS_DIR, part_names, script_bundle, step_names
from tests.stub_host import StubHost

TOKEN_ID = "abcdef"
TOKEN_SECRET = "0123456789abcdef"
TOKEN = f"{TOKEN_ID}.{TOKEN_SECRET}"
CERT_KEY = "f" * 8 + "0123456789abcdef" * 3 + "e" * 8
CA_HASH = "sha256:" + "c" * 64
UBUNTU_2404 = (
    'PRETTY_NAME="Ubuntu 24.04.1 LTS"\nID=ubuntu\nVERSION_ID="24.04"\nVERSION_CODENAME=noble\n'
)
CENTOS_9 = 'NAME="CentOS Stream"\nID="centos"\nVERSION_ID="9"\n'
DEBIAN_12 = 'ID=debian\nVERSION_ID="12"\nVERSION_CODENAME=bookworm\n'

# name -> body (after the logging prologue)
STUBS: dict[str, str] = {
    "sleep": ":",
    "hostname": "echo test-host",
    "timeout": """
        while [[ $1 == -* ]]; do shift; done
        shift
        exec "$@"
    """,
    "dpkg": "echo amd64",
    "dpkg-query": """
        pkg=${!#}
        [[ -f $S/dpkg/$pkg ]] || { echo "dpkg-query: no packages found matching $pkg" >&2; exit 1; }
        printf 'install ok installed %s\\n' "$(cat "$S/dpkg/$pkg")"
    """,
    "apt-get": """
        env >>"$S/apt-get-environment"
        [[ -e $S/fail-apt-get ]] && exit 100
        mode="" skip=false
        for arg in "$@"; do
            if $skip; then skip=false; continue; fi
            case $arg in
                -o) skip=true ;;
                -*) ;;
                update | install) mode=$arg ;;
                *)
                    if [[ $mode == install ]]; then
                        mkdir -p "$S/dpkg"
                        name=${arg%%=*} version=1.0-1
                        [[ $arg == *=* ]] && version=${arg#*=}
                        printf '%s\\n' "$version" >"$S/dpkg/$name"
                    fi
                    ;;
            esac
        done
    """,
    "apt-cache": """
        [[ $1 == madison ]] || exit 0
        if [[ $2 == containerd.io ]]; then
            for v in 2.2.10-1~ubuntu.24.04~noble 2.2.1-1~ubuntu.24.04~noble 2.1.5-1~ubuntu.24.04~noble; do
                printf ' %s | %s | https://download.docker.com/linux/ubuntu noble/stable amd64 Packages\\n' "$2" "$v"
            done
            exit 0
        fi
        for v in 1.36.40-1.1 1.36.4-1.1 1.36.3-1.1; do
            printf '   %s | %s | https://pkgs.k8s.io/core:/stable:/v1.36/deb  Packages\\n' "$2" "$v"
        done
    """,
    "getent": """
        [[ -e $S/no-user ]] && exit 2
        echo "$2:x:1000:1000::/home/$2:/bin/bash"
    """,
    "chown": ":",
    "apt-mark": """
        case $1 in
            showhold) cat "$S/holds" 2>/dev/null || true ;;
            hold) shift; printf '%s\\n' "$@" >>"$S/holds" ;;
        esac
    """,
    "curl": """
        if [[ " $* " == *" https://"*":6443/version "* ]]; then
            [[ -e $S/api-answers ]] && exit 0
            exit 7
        fi
        while (($#)); do [[ $1 == -o ]] && { echo "-----BEGIN PGP PUBLIC KEY BLOCK-----" >"$2"; }; shift; done
    """,
    "gpg": """
        while (($#)); do [[ $1 == -o ]] && { echo "binary keyring" >"$2"; }; shift; done
    """,
    "modprobe": 'mkdir -p "$ROOT/sys/module/$1"',
    "sysctl": ":",
    "swapoff": 'echo "Filename Type Size Used Priority" >"$ROOT/proc/swaps"',
    "systemctl": """
        cmd=$1; shift
        now=false
        for arg in "$@"; do [[ $arg == --now ]] && now=true; unit=$arg; done
        mkdir -p "$S/systemd"
        case $cmd in
            is-enabled) [[ -e $S/systemd/$unit.enabled ]] ;;
            is-active) [[ -e $S/systemd/$unit.active ]] ;;
            enable) touch "$S/systemd/$unit.enabled"; $now && touch "$S/systemd/$unit.active"; true ;;
            disable) rm -f "$S/systemd/$unit.enabled" "$S/systemd/$unit.active" ;;
            start | restart) touch "$S/systemd/$unit.active" ;;
            *) ;;
        esac
    """,
    "containerd": """
        if [[ $1 == --version ]]; then
            installed=$(cat "$S/dpkg/containerd.io" 2>/dev/null || echo 2.2.1)
            echo "containerd containerd.io $(cat "$S/containerd-version" 2>/dev/null || echo "${installed%%-*}") 0123abc"
            exit 0
        fi
        filter=(cat)
        [[ -e $S/systemd-cgroup-false ]] && filter=(sed "s/ShimCgroup = ''/&\\n            SystemdCgroup = false/")
        "${filter[@]}" <<'TOML'
version = 3
root = '/var/lib/containerd'

[plugins]
  [plugins.'io.containerd.cri.v1.runtime']
    [plugins.'io.containerd.cri.v1.runtime'.containerd]
      default_runtime_name = 'runc'
      [plugins.'io.containerd.cri.v1.runtime'.containerd.runtimes]
        [plugins.'io.containerd.cri.v1.runtime'.containerd.runtimes.runc]
          runtime_type = 'io.containerd.runc.v2'
          [plugins.'io.containerd.cri.v1.runtime'.containerd.runtimes.runc.options]
            BinaryName = ''
            ShimCgroup = ''

  [plugins.'io.containerd.grpc.v1.cri']
    disable_tcp_service = true
TOML
    """,
    "nvidia-smi": '[[ -e $S/no-gpu ]] && { echo "NVIDIA-SMI has failed" >&2; exit 9; }; echo GPU 0',
    "kubeadm": """
        K=$ROOT/etc/kubernetes
        config=""
        args=("$@")
        for ((i = 0; i < ${#args[@]}; i++)); do
            [[ ${args[i]} == --config ]] && config=${args[i + 1]}
        done
        if [[ -n $config ]]; then
            stat -c '%a' "$config" >"$S/config-mode"
            cat "$config" >>"$S/configs"
        fi
        case "$1 ${2:-}" in
            "init phase")
                echo "[upload-certs] Using certificate key:"
                grep -oE '[0-9a-f]{64}' "$config" | head -n 1
                ;;
            "init "*)
                ls "$K/manifests" >"$S/manifests-at-init" 2>/dev/null || true
                cp "$K/pki/ca.crt" "$S/ca-at-init" 2>/dev/null || true
                ls -A "$K/ml-platform-patches" >"$S/patches-at-init" 2>/dev/null || true
                cp "$K/manifests/kube-vip.yaml" "$S/kube-vip-at-init" 2>/dev/null || true
                [[ -e $S/fail-init ]] && { echo "error execution phase wait-control-plane" >&2; exit 1; }
                mkdir -p "$K/manifests" "$K/pki"
                echo "apiVersion: v1 # admin" >"$K/admin.conf"
                echo kubelet >"$K/kubelet.conf"
                echo pod >"$K/manifests/kube-apiserver.yaml"
                echo pod >"$K/manifests/etcd.yaml"
                token=$(grep -oE '[a-z0-9]{6}\\.[a-z0-9]{16}' "$config" | head -n 1)
                key=$(grep -oE '[0-9a-f]{64}' "$config" | head -n 1)
                echo "kubeadm join vip:6443 --token $token --discovery-token-ca-cert-hash sha256:$(printf 'c%.0s' {1..64}) --control-plane --certificate-key $key"
                ;;
            "join "*)
                ls -A "$K/manifests" >"$S/manifests-at-join" 2>/dev/null || true
                ls -A "$K/ml-platform-patches" >"$S/patches-at-join" 2>/dev/null || true
                if [[ -e $S/token-expired ]]; then
                    echo "couldn't validate the identity of the API Server: token id \\"abcdef\\" is invalid for this cluster or it has expired" >&2
                    exit 1
                fi
                if [[ -f $S/join-failures ]] && (($(cat "$S/join-failures") > 0)); then
                    echo $(($(cat "$S/join-failures") - 1)) >"$S/join-failures"
                    echo "couldn't validate the identity of the API Server" >&2
                    exit 1
                fi
                mkdir -p "$K/manifests"
                echo kubelet >"$K/kubelet.conf"
                if grep -q controlPlane "$config"; then
                    echo pod >"$K/manifests/kube-apiserver.yaml"
                    echo "apiVersion: v1 # admin" >"$K/admin.conf"
                fi
                ;;
            "reset "*)
                echo reset >>"$S/resets"
                rm -rf "$K/admin.conf" "$K/super-admin.conf" "$K/kubelet.conf" "$K/pki" "$ROOT/var/lib/kubelet"
                rm -f "$K/manifests/"*
                ;;
        esac
    """,
    "kubectl": """
        args=("$@")
        node=""
        for ((i = 0; i < ${#args[@]}; i++)); do
            case ${args[i]} in node | drain | secret) node=${args[i + 1]} ;; esac
        done
        case " $* " in
            *" apply "*) { cat; echo "---"; } >>"$S/kubectl-stdin"; echo "secret/x serverside-applied" ;;
            *" get node "*)
                [[ -e $S/fail-api ]] && exit 1
                if [[ -e $S/nodes/$node ]]; then
                    ready=$(cat "$S/nodes/$node"); echo "$node ${ready:-True}"
                fi
                true
                ;;
            *" drain "*) [[ -e $S/fail-drain ]] && exit 1; echo "node/$node drained" ;;
            *" delete node "*) rm -f "$S/nodes/$node"; echo "node \\"$node\\" deleted" ;;
            *" delete secret "*) echo "$node" >>"$S/deleted-secrets"; echo deleted ;;
        esac
    """,
    "crictl": """
        case " $* " in
            *" ps "*) echo 4f2e9a7b1c0d ;;
            *" member list "*) cat "$S/etcd-members" 2>/dev/null || true ;;
            *" member remove "*)
                grep -v "^${!#}," "$S/etcd-members" >"$S/etcd-members.new" || true
                mv "$S/etcd-members.new" "$S/etcd-members"
                echo "Member ${!#} removed"
                ;;
            *" snapshot save "*) mkdir -p "$(dirname "$ROOT${!#}")"; echo snapshot >"$ROOT${!#}" ;;
        esac
    """,
}


@dataclass
class Result:
    returncode: int
    stdout: str
    stderr: str
    calls: list[str]


class Host(StubHost):
    """A temporary ROOT with the stub commands above, on Ubuntu 24.04."""

    def __init__(self, root: Path) -> None:
        super().__init__(root, STUBS)
        self.write("etc/os-release", UBUNTU_2404)

    def flag(self, name: str, text: str = "") -> None:
        (self.stub / name).write_text(text)

    def run(self, step: str, quiet: bool = False, **params: str) -> Result:
        before = len(self.read_log())
        proc = self.run_step(step, params, quiet)
        return Result(proc.returncode, proc.stdout, proc.stderr, self.read_log()[before:])


@pytest.fixture
def host(tmp_path: Path) -> Host:
    return Host(tmp_path / "root")


def ok(result: Result) -> Result:
    assert result.returncode == 0, result.stderr
    return result


def ran(result: Result, prefix: str) -> list[str]:
    """Calls that start with `prefix` (a command run through `timeout` is logged by both stubs;
    only its own line counts here)."""
    return [c for c in result.calls if c.startswith(prefix)]


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


# ---- static checks and the bundle contract ---------------------------------------------------


def test_shellcheck_is_clean_on_every_script():
    if shutil.which("shellcheck") is None:
        pytest.skip("shellcheck is not installed (CI installs it: apt-get install shellcheck)")
    files = sorted(str(p.relative_to(SCRIPTS_DIR)) for p in SCRIPTS_DIR.rglob("*.sh"))
    proc = subprocess.run(
        ["shellcheck", "-x", "--severity=style", *files],
        cwd=SCRIPTS_DIR,
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_every_step_script_stands_alone_and_relies_on_common_sh_explicitly():
    for path in SCRIPTS_DIR.rglob("*.sh"):
        if path.name in ("common.sh", "lib.sh"):
            continue
        text = path.read_text()
        assert "set -euo pipefail" in text, path
        assert "# shellcheck source" in text, path
        assert re.search(r'^ML_STEP="[a-z/-]+"$', text, re.M), f"{path} names no step"


def test_bundle_is_header_exports_common_then_step():
    bundle = script_bundle("write-manifest", {"MANIFEST_PATH": "/etc/x y", "B": "it's\nmulti"})
    lines = bundle.splitlines()
    assert lines[0] == "set -euo pipefail"
    assert lines[1] == "{"
    assert "B='it'\"'\"'s\nmulti'\nMANIFEST_PATH='/etc/x y'\n" in bundle
    assert "export" not in bundle.split("# ---- common.sh")[0]
    common = (SCRIPTS_DIR / "common.sh").read_text()
    step = (SCRIPTS_DIR / "write-manifest.sh").read_text()
    assert bundle.index("MANIFEST_PATH=") < bundle.index(common) < bundle.index(step)
    assert bundle.rstrip().endswith("} </dev/null")


def test_bundle_rejects_bad_names_unknown_steps_and_bad_base64():
    with pytest.raises(ValueError, match="invalid parameter name"):
        script_bundle("init", {"node_name": "x"})
    with pytest.raises(ValueError, match="invalid parameter name"):
        script_bundle("init", {"A-B": "x"})
    with pytest.raises(ValueError, match="reserved"):
        script_bundle("init", {"PATH": "/tmp"})
    with pytest.raises(ValueError, match="unknown kubeadm step"):
        script_bundle("../etc/passwd", {})
    with pytest.raises(ValueError, match="base64"):
        script_bundle("init", {"KUBEADM_CONFIG_B64": "not base64!"})


def test_step_names_lists_the_steps():
    assert {
        "prepare-host",
        "write-manifest",
        "init",
        "join",
        "admit-node",
        "revoke-join-token",
        "read-kubeconfig",
        "drain-node",
        "reset-node",
        "remove-node",
        "etcd-snapshot",
    } <= set(step_names())
    assert "common" not in step_names()
    assert scripts.SCRIPTS_DIR.is_dir()


def test_parameters_are_not_exported_to_the_commands_a_step_runs(host):
    # A secret handed to a step must not reach the environment of apt-get, curl, kubeadm...
    result = ok(host.run("prepare-host/time-sync", NODE_NAME="cp-1", TOKEN_SECRET=TOKEN_SECRET))
    assert ran(result, "apt-get")
    environment = (host.stub / "apt-get-environment").read_text()
    assert "DEBIAN_FRONTEND=noninteractive" in environment  # what apt-get is meant to get
    assert TOKEN_SECRET not in environment and "NODE_NAME" not in environment


def test_a_quiet_step_keeps_the_output_of_its_tools_in_a_root_only_log(host):
    host.flag("fail-init")
    result = host.run("init", quiet=True, **init_params())
    assert result.returncode == 1
    # What pulumi-command would put in its error: only the step's own fixed lines.
    assert all(line.startswith("ml-platform: ") for line in result.stderr.splitlines())
    assert "error execution phase" not in result.stderr and result.stdout == ""
    log = host.path("var/log/ml-platform/init.log")
    assert "error execution phase wait-control-plane" in log.read_text()
    assert mode(log) == 0o600
    assert "its output is in /var/log/ml-platform/init.log on this host" in result.stderr


def test_exported_values_reach_the_script_verbatim(host):
    tricky = "a 'b' \"c\" $(touch pwned) `x` ${y}\nline2"
    result = ok(host.run("write-manifest", MANIFEST_PATH="/etc/t.yaml", MANIFEST_B64=b64(tricky)))
    assert host.path("etc/t.yaml").read_text() == tricky + "\n"
    assert not host.path("pwned").exists()
    assert result.stdout == ""


# ---- prepare-host ----------------------------------------------------------------------------

PREPARE = {
    "NODE_NAME": "cp-1",
    "K8S_VERSION": "1.36.4",
    "K8S_MINOR": "1.36",
    "GPU": "false",
    "GPU_DRIVER": "preinstalled",
    "CONTAINERD_VERSION": "2.2.1",
    "SANDBOX_IMAGE": "registry.k8s.io/pause:3.10.1",
}


def test_prepare_host_installs_and_configures_everything(host):
    host.write("etc/fstab", "UUID=1 / ext4 defaults 0 1\n/swap.img none swap sw 0 0\n")
    host.write("proc/swaps", "Filename Type\n/swap.img file 1024 0 -2\n")
    result = ok(host.run("prepare-host", **PREPARE))

    assert ran(result, "swapoff -a")
    fstab = host.path("etc/fstab").read_text()
    assert "UUID=1 / ext4 defaults 0 1\n" in fstab
    assert re.search(r"^# .*/swap.img none swap sw 0 0$", fstab, re.M)
    assert host.path("etc/modules-load.d/kubernetes.conf").read_text().split()[-2:] == [
        "overlay",
        "br_netfilter",
    ]
    assert ran(result, "modprobe overlay") and ran(result, "modprobe br_netfilter")
    sysctl = host.path("etc/sysctl.d/99-kubernetes.conf").read_text()
    for key in (
        "net.bridge.bridge-nf-call-iptables",
        "net.bridge.bridge-nf-call-ip6tables",
        "net.ipv4.ip_forward",
    ):
        assert f"{key} = 1" in sysctl
    assert ran(result, "sysctl --system")

    docker = host.path("etc/apt/sources.list.d/docker.list").read_text()
    assert "signed-by=/etc/apt/keyrings/docker.asc" in docker
    assert "https://download.docker.com/linux/ubuntu noble stable" in docker
    k8s = host.path("etc/apt/sources.list.d/kubernetes.list").read_text()
    assert "https://pkgs.k8s.io/core:/stable:/v1.36/deb/ /" in k8s
    assert "signed-by=/etc/apt/keyrings/kubernetes-apt-keyring.gpg" in k8s
    assert host.path("etc/apt/keyrings/kubernetes-apt-keyring.gpg").exists()

    installs = ran(result, "apt-get")
    install_lines = [c for c in installs if " install " in c]
    assert any("containerd.io" in c for c in install_lines)
    assert any("chrony" in c for c in install_lines)
    k8s_install = [c for c in install_lines if "kubeadm=" in c]
    assert len(k8s_install) == 1
    assert all(f"{p}=1.36.4-1.1" in k8s_install[0] for p in ("kubelet", "kubeadm", "kubectl"))
    assert "1.36.40" not in k8s_install[0]
    assert ran(result, "apt-mark hold kubelet kubeadm kubectl")
    assert ran(result, "systemctl enable kubelet")
    assert ran(result, "systemctl enable --now chrony")

    config = host.path("etc/containerd/config.toml").read_text()
    section = config.split(
        "[plugins.'io.containerd.cri.v1.runtime'.containerd.runtimes.runc.options]"
    )
    assert len(section) == 2
    options = section[1].split("[", 1)[0]
    assert re.search(r"^\s+SystemdCgroup = true$", options, re.M)
    assert config.count("SystemdCgroup") == 1
    assert ran(result, "systemctl restart containerd")
    assert not ran(result, "nvidia-ctk")
    assert result.stdout == ""


def test_prepare_host_runs_its_parts_in_order_one_per_concern():
    assert part_names("prepare-host") == (
        "prepare-host/operating-system",
        "prepare-host/ssh-keys",
        "prepare-host/gpu-driver",
        "prepare-host/swap",
        "prepare-host/kernel",
        "prepare-host/time-sync",
        "prepare-host/container-runtime",
        "prepare-host/kubernetes-packages",
        "prepare-host/longhorn",
    )
    bundle = script_bundle("prepare-host", PREPARE)
    positions = [bundle.index(f'ML_STEP="{part}"') for part in part_names("prepare-host")]
    assert positions == sorted(positions)


@pytest.mark.parametrize("part", part_names("prepare-host"))
def test_each_part_of_prepare_host_runs_alone_and_changes_nothing_the_second_time(host, part):
    host.write("etc/fstab", "/swap.img none swap sw 0 0\n")
    host.write("proc/swaps", "Filename Type\n/swap.img file 1024 0 -2\n")
    ok(host.run(part, **PREPARE))
    second = ok(host.run(part, **PREPARE))
    changing = ("apt-get", "curl", "gpg", "modprobe", "sysctl", "swapoff", "apt-mark hold")
    assert not [c for c in second.calls if c.startswith(changing)], second.calls
    assert not [c for c in second.calls if re.search(r"systemctl (restart|enable|start)", c)]


def test_longhorns_prerequisites_are_installed_only_when_it_is_the_storage(host):
    without = ok(host.run("prepare-host", **PREPARE))
    assert not [c for c in ran(without, "apt-get") if "open-iscsi" in c or "nfs-common" in c]
    assert not ran(without, "modprobe iscsi_tcp") and not ran(without, "systemctl enable iscsid")
    assert not host.path("etc/modules-load.d/longhorn.conf").exists()
    result = ok(host.run("prepare-host", **{**PREPARE, "LONGHORN": "true"}))
    (install,) = [c for c in ran(result, "apt-get") if "open-iscsi" in c]
    assert "nfs-common" in install
    assert ran(result, "modprobe iscsi_tcp")
    assert ran(result, "systemctl enable --now iscsid")
    assert "iscsi_tcp" in host.path("etc/modules-load.d/longhorn.conf").read_text()
    second = ok(host.run("prepare-host", **{**PREPARE, "LONGHORN": "true"}))
    assert not ran(second, "apt-get") and not ran(second, "modprobe")
    assert not [c for c in second.calls if re.search(r"systemctl (restart|enable|start)", c)]


def test_a_wrong_longhorn_flag_is_refused_before_anything_is_installed(host):
    result = host.run("prepare-host/longhorn", **{**PREPARE, "LONGHORN": "yes"})
    assert result.returncode == 1
    assert 'parameter LONGHORN must be "true" or "false"' in result.stderr
    assert not ran(result, "apt-get")


def test_an_unknown_part_is_refused():
    with pytest.raises(ValueError, match="unknown kubeadm step"):
        script_bundle("prepare-host/firewall", {})
    with pytest.raises(ValueError, match="unknown kubeadm step"):
        script_bundle("prepare-host/../init", {})


def test_prepare_host_second_run_changes_nothing(host):
    host.write("etc/fstab", "/swap.img none swap sw 0 0\n")
    ok(host.run("prepare-host", **PREPARE))
    fstab = host.path("etc/fstab").read_text()
    second = ok(host.run("prepare-host", **PREPARE))
    for command in ("apt-get", "curl", "gpg", "modprobe", "sysctl", "swapoff", "apt-mark hold"):
        assert not ran(second, command), (command, second.calls)
    assert not [c for c in second.calls if re.search(r"systemctl (restart|enable|start)", c)]
    assert host.path("etc/fstab").read_text() == fstab


def test_prepare_host_replaces_an_existing_systemd_cgroup_setting(host):
    host.flag("systemd-cgroup-false")
    ok(host.run("prepare-host", **PREPARE))
    config = host.path("etc/containerd/config.toml").read_text()
    assert "            SystemdCgroup = true\n" in config
    assert config.count("SystemdCgroup") == 1


def test_prepare_host_keeps_changes_made_by_others_to_the_containerd_config(host):
    ok(host.run("prepare-host", **PREPARE))
    config = host.path("etc/containerd/config.toml")
    config.write_text("imports = ['/etc/containerd/conf.d/*.toml']\n" + config.read_text())
    second = ok(host.run("prepare-host", **PREPARE))
    assert config.read_text().startswith("imports")
    assert not ran(second, "systemctl restart")


def test_prepare_host_gpu_with_preinstalled_driver_checks_it_and_leaves_the_toolkit(host):
    result = ok(host.run("prepare-host", **{**PREPARE, "GPU": "true"}))
    assert ran(result, "nvidia-smi")
    # The GPU operator owns the container toolkit and its containerd drop-in.
    assert not [c for c in ran(result, "apt-get") if "nvidia" in c]
    assert not host.path("etc/apt/sources.list.d/nvidia-container-toolkit.list").exists()


def test_prepare_host_gpu_without_a_working_driver_fails_clearly(host):
    host.flag("no-gpu")
    result = host.run("prepare-host", **{**PREPARE, "GPU": "true"})
    assert result.returncode != 0
    assert "ml-platform: prepare-host/gpu-driver failed on cp-1: " in result.stderr
    assert "nvidia-smi" in result.stderr
    assert not ran(result, "apt-get")  # it stops before installing anything


def test_prepare_host_gpu_with_managed_driver_leaves_the_toolkit_to_the_operator(host):
    host.flag("no-gpu")
    result = ok(host.run("prepare-host", **{**PREPARE, "GPU": "true", "GPU_DRIVER": "managed"}))
    assert not ran(result, "nvidia")


def test_prepare_host_rejects_an_unsupported_os(host):
    host.write("etc/os-release", CENTOS_9)
    result = host.run("prepare-host", **PREPARE)
    assert result.returncode == 1
    assert (
        "ml-platform: prepare-host/operating-system failed on cp-1: unsupported operating system"
        " centos 9" in result.stderr
    )
    assert not ran(result, "apt-get") and not ran(result, "swapoff")


def test_prepare_host_uses_the_debian_repository_on_debian(host):
    host.write("etc/os-release", DEBIAN_12)
    ok(host.run("prepare-host", **PREPARE))
    docker = host.path("etc/apt/sources.list.d/docker.list").read_text()
    assert "https://download.docker.com/linux/debian bookworm stable" in docker


def test_prepare_host_requires_containerd_2(host):
    host.flag("containerd-version", "1.7.27")
    result = host.run("prepare-host", **PREPARE)
    assert result.returncode == 1
    assert "containerd 2.x is required" in result.stderr


def test_a_version_bump_on_a_joined_node_says_an_upgrade_is_pending_and_changes_nothing(host):
    ok(host.run("prepare-host", **PREPARE))
    host.write("etc/kubernetes/kubelet.conf", "x")
    result = ok(host.run("prepare-host", **{**PREPARE, "K8S_VERSION": "1.36.3"}))
    assert "WARNING: UPGRADE PENDING" in result.stderr
    assert "kubelet 1.36.4-1.1" in result.stderr and "1.36.3" in result.stderr
    assert "docs/operations/upgrade.md" in result.stderr
    assert not [c for c in ran(result, "apt-get") if " install " in c]
    assert (host.stub / "dpkg" / "kubelet").read_text().strip() == "1.36.4-1.1"


def test_a_node_that_has_not_joined_gets_the_configured_version(host):
    ok(host.run("prepare-host", **PREPARE))
    result = ok(host.run("prepare-host", **{**PREPARE, "K8S_VERSION": "1.36.3"}))
    assert "UPGRADE PENDING" not in result.stderr
    assert [c for c in ran(result, "apt-get") if "kubeadm=1.36.3-1.1" in c]


def test_an_unexpected_command_failure_stops_with_the_standard_message(host):
    (host.bin / "apt-mark").write_text("#!/bin/bash\necho 'E: broken' >&2\nexit 3\n")
    result = host.run("prepare-host", **PREPARE)
    assert result.returncode == 1
    assert (
        "ml-platform: prepare-host/container-runtime failed on cp-1: command exited with status 3"
        in result.stderr
    )
    assert not ran(result, "systemctl enable kubelet")


def test_containerd_is_pinned_held_and_its_sandbox_image_pinned(host):
    result = ok(host.run("prepare-host", **PREPARE))
    installs = [c for c in ran(result, "apt-get") if " install " in c]
    assert [c for c in installs if c.endswith("containerd.io=2.2.1-1~ubuntu.24.04~noble")]
    assert not [c for c in installs if "2.2.10" in c]
    assert ran(result, "apt-mark hold containerd.io")
    config = host.path("etc/containerd/config.toml").read_text()
    section = config.split("[plugins.'io.containerd.cri.v1.images'.pinned_images]")[1]
    assert "  sandbox = 'registry.k8s.io/pause:3.10.1'" in section.split("[", 1)[0]
    # A new sandbox image pin reaches the config (and containerd restarts for it).
    again = ok(
        host.run("prepare-host", **{**PREPARE, "SANDBOX_IMAGE": "registry.k8s.io/pause:3.11"})
    )
    assert (
        "sandbox = 'registry.k8s.io/pause:3.11'"
        in host.path("etc/containerd/config.toml").read_text()
    )
    assert ran(again, "systemctl restart containerd")


def test_a_joined_node_keeps_its_containerd_and_says_an_upgrade_is_pending(host):
    ok(host.run("prepare-host", **PREPARE))
    host.write("etc/kubernetes/kubelet.conf", "x")
    result = ok(host.run("prepare-host", **{**PREPARE, "CONTAINERD_VERSION": "2.2.10"}))
    assert "UPGRADE PENDING" in result.stderr and "containerd.io" in result.stderr
    assert not [c for c in ran(result, "apt-get") if " install " in c]


def test_ssh_keys_are_managed_in_a_block_and_other_keys_are_kept(host):
    home = host.write("home/ubuntu/.ssh/authorized_keys", "ssh-ed25519 AAAAadmin admin@laptop\n")
    keys = "ssh-ed25519 AAAAC3current\nssh-ed25519 AAAAC3next"
    params = {"SSH_USER": "ubuntu", "AUTHORIZED_KEYS_B64": b64(keys), "EXCLUSIVE_KEYS": "false"}
    ok(host.run("prepare-host/ssh-keys", **params))
    text = home.read_text()
    assert text.startswith("ssh-ed25519 AAAAadmin admin@laptop\n# BEGIN ml-platform")
    assert "ssh-ed25519 AAAAC3current\nssh-ed25519 AAAAC3next\n# END" in text
    assert mode(home) == 0o600 and mode(home.parent) == 0o700
    # The rotation's second step: the old key leaves the block, the admin's key stays.
    rotated = {**params, "AUTHORIZED_KEYS_B64": b64("ssh-ed25519 AAAAC3next")}
    ok(host.run("prepare-host/ssh-keys", **rotated))
    text = home.read_text()
    assert "AAAAC3current" not in text and "AAAAC3next" in text and "AAAAadmin" in text
    assert "updated" not in ok(host.run("prepare-host/ssh-keys", **rotated)).stderr
    # Exclusive (instances the program created): the file holds the managed keys only.
    ok(host.run("prepare-host/ssh-keys", **{**rotated, "EXCLUSIVE_KEYS": "true"}))
    assert "AAAAadmin" not in home.read_text()


def test_ssh_keys_refuse_a_line_that_is_not_a_key(host):
    bad = {"SSH_USER": "ubuntu", "AUTHORIZED_KEYS_B64": b64('command="sh" ssh-ed25519 AAAA')}
    result = host.run("prepare-host/ssh-keys", **bad)
    assert result.returncode == 1 and "not a public key" in result.stderr
    assert not host.path("home/ubuntu/.ssh/authorized_keys").exists()


def test_prepare_host_missing_package_version_fails(host):
    result = host.run("prepare-host", **{**PREPARE, "K8S_VERSION": "1.36.9"})
    assert result.returncode == 1
    assert "no kubelet package for Kubernetes 1.36.9" in result.stderr


def test_network_failures_are_retried_then_reported(host):
    host.flag("fail-apt-get")
    result = host.run("prepare-host", **PREPARE)
    assert result.returncode == 1
    assert len(ran(result, "apt-get")) == 5
    assert [c for c in result.calls if c.startswith("sleep")] == [
        "sleep 5",
        "sleep 10",
        "sleep 20",
        "sleep 40",
    ]
    assert "ml-platform: prepare-host/time-sync failed on cp-1: apt-get" in result.stderr


# ---- init ------------------------------------------------------------------------------------

KUBEADM_CONFIG = f"""apiVersion: kubeadm.k8s.io/v1beta4
kind: InitConfiguration
bootstrapTokens:
  - token: "{TOKEN}"
certificateKey: "{CERT_KEY}"
---
apiVersion: kubeadm.k8s.io/v1beta4
kind: ClusterConfiguration
"""
VIP_INIT = "kind: Pod # hostPath /etc/kubernetes/super-admin.conf\n"
VIP_FINAL = "kind: Pod # hostPath /etc/kubernetes/admin.conf\n"


CA_CERT = "-----BEGIN CERTIFICATE-----\nMIIBcluster\n-----END CERTIFICATE-----\n"
CA_KEY = "-----BEGIN PRIVATE KEY-----\nMIIEcakey\n-----END PRIVATE KEY-----\n"
ETCD_PATCH = "spec: {containers: [{name: etcd, args: [--listen-metrics-urls=x]}]}\n"


def init_params(**extra: str) -> dict[str, str]:
    return {
        "NODE_NAME": "cp-1",
        "CONTROL_PLANE_ENDPOINT": "192.168.10.10:6443",
        "KUBEADM_CONFIG_B64": b64(KUBEADM_CONFIG),
        "CA_CERT_B64": b64(CA_CERT),
        "CA_KEY_B64": b64(CA_KEY),
        "ETCD_PATCH_B64": b64(ETCD_PATCH),
        "ENCRYPTION_CONFIG_B64": b64("kind: EncryptionConfiguration\n"),
        "AUDIT_POLICY_B64": b64("kind: Policy\n"),
        "KUBE_VIP_MANIFEST_B64": b64(VIP_INIT),
        "KUBE_VIP_FINAL_MANIFEST_B64": b64(VIP_FINAL),
        **extra,
    }


def assert_no_secrets(result: Result, host: Host) -> None:
    for secret in (TOKEN_SECRET, CERT_KEY):
        assert secret not in "\n".join(result.calls)
        assert secret not in result.stdout
        assert secret not in result.stderr
    assert not list(host.path("etc/kubernetes").glob(".ml-platform*"))


def test_init_runs_kubeadm_with_a_private_config_and_swaps_kube_vip_to_admin_conf(host):
    result = ok(host.run("init", **init_params()))
    init = ran(result, "kubeadm init")
    assert len(init) == 1 and "--upload-certs" in init[0] and "--config " in init[0]
    assert (host.stub / "config-mode").read_text().strip() == "600"
    assert KUBEADM_CONFIG in (host.stub / "configs").read_text()
    assert (host.stub / "kube-vip-at-init").read_text() == VIP_INIT
    assert host.path("etc/kubernetes/manifests/kube-vip.yaml").read_text() == VIP_FINAL
    encryption = host.path("etc/kubernetes/encryption/config.yaml")
    assert encryption.read_text() == "kind: EncryptionConfiguration\n"
    assert mode(encryption) == 0o600
    assert mode(encryption.parent) == 0o700
    assert host.path("etc/kubernetes/audit/policy.yaml").read_text() == "kind: Policy\n"
    assert "<redacted-token>" in result.stderr and "<redacted-key>" in result.stderr
    assert_no_secrets(result, host)


def test_init_second_run_is_a_no_op(host):
    ok(host.run("init", **init_params()))
    second = ok(host.run("init", **init_params()))
    assert not ran(second, "kubeadm")
    assert not ran(second, "systemctl")
    assert host.path("etc/kubernetes/manifests/kube-vip.yaml").read_text() == VIP_FINAL


def test_init_on_an_initialised_node_still_puts_the_final_kube_vip_in_place(host):
    host.write("etc/kubernetes/admin.conf", "x")
    host.write("etc/kubernetes/pki/ca.crt", CA_CERT)
    host.write("etc/kubernetes/manifests/kube-vip.yaml", VIP_INIT)
    result = ok(host.run("init", **init_params()))
    assert not ran(result, "kubeadm")
    assert host.path("etc/kubernetes/manifests/kube-vip.yaml").read_text() == VIP_FINAL


def test_init_installs_the_generated_ca_before_kubeadm_keeps_it(host):
    ok(host.run("init", **init_params()))
    assert (host.stub / "ca-at-init").read_text() == CA_CERT
    assert mode(host.path("etc/kubernetes/pki/ca.key")) == 0o600
    assert (host.stub / "patches-at-init").read_text().split() == ["etcd+strategic.yaml"]


def test_init_refuses_to_start_a_second_cluster_when_the_api_already_answers(host):
    # The init host's machine was replaced: the cluster runs on the other control planes.
    host.flag("api-answers")
    result = host.run("init", quiet=True, **init_params())
    assert result.returncode == 1
    assert "already answers on 192.168.10.10:6443" in result.stderr
    assert not ran(result, "kubeadm")
    (check,) = [c for c in ran(result, "curl") if "/version" in c]
    assert "--cacert" in check and check.endswith("https://192.168.10.10:6443/version")
    assert not list(host.path("etc/kubernetes").glob(".ml-platform*"))


def test_init_refuses_an_initialised_cluster_with_another_ca(host):
    host.write("etc/kubernetes/admin.conf", "x")
    host.write("etc/kubernetes/pki/ca.crt", "-----BEGIN CERTIFICATE-----\nother\n")
    result = host.run("init", **init_params())
    assert result.returncode == 1
    assert "is not the CA in the stack's state" in result.stderr
    assert not ran(result, "kubeadm")


def test_init_failure_stops_with_the_standard_message_and_resets(host):
    host.flag("fail-init")
    result = host.run("init", **init_params())
    assert result.returncode == 1
    assert "ml-platform: init failed on cp-1: kubeadm init exited with status 1" in result.stderr
    assert ran(result, "kubeadm reset -f")
    assert not host.path("etc/kubernetes/admin.conf").exists()
    assert_no_secrets(result, host)


def test_init_refuses_to_run_over_an_old_control_plane(host):
    host.write("etc/kubernetes/manifests/etcd.yaml", "x")
    result = host.run("init", **init_params())
    assert result.returncode == 1
    assert "/etc/kubernetes/manifests/etcd.yaml exists" in result.stderr
    assert not ran(result, "kubeadm")


def test_missing_parameter_is_reported(host):
    params = init_params()
    del params["AUDIT_POLICY_B64"]
    result = host.run("init", **params)
    assert result.returncode == 1
    assert "required parameter AUDIT_POLICY_B64 is not set" in result.stderr


# ---- join ------------------------------------------------------------------------------------

JOIN_WORKER = f"""apiVersion: kubeadm.k8s.io/v1beta4
kind: JoinConfiguration
discovery:
  bootstrapToken:
    token: "{TOKEN}"
"""
JOIN_CP = JOIN_WORKER + f'controlPlane:\n  certificateKey: "{CERT_KEY}"\n'


def test_worker_join_runs_once_and_is_idempotent(host):
    params = {"NODE_NAME": "gpu-1", "JOIN_CONFIG_B64": b64(JOIN_WORKER), "CONTROL_PLANE": "false"}
    first = ok(host.run("join", **params))
    assert len(ran(first, "kubeadm join --config ")) == 1
    assert (host.stub / "config-mode").read_text().strip() == "600"
    assert not host.path("etc/kubernetes/encryption").exists()
    assert_no_secrets(first, host)
    second = ok(host.run("join", **params))
    assert not ran(second, "kubeadm")


def test_control_plane_join_writes_files_and_kube_vip_after_the_join(host):
    host.write("etc/kubernetes/manifests/kube-vip.yaml", "stale")
    params = {
        "NODE_NAME": "cp-2",
        "JOIN_CONFIG_B64": b64(JOIN_CP),
        "CONTROL_PLANE": "true",
        "ENCRYPTION_CONFIG_B64": b64("kind: EncryptionConfiguration\n"),
        "AUDIT_POLICY_B64": b64("kind: Policy\n"),
        "KUBE_VIP_MANIFEST_B64": b64(VIP_FINAL),
    }
    result = ok(host.run("join", **params))
    assert (host.stub / "manifests-at-join").read_text() == ""
    assert host.path("etc/kubernetes/manifests/kube-vip.yaml").read_text() == VIP_FINAL
    assert mode(host.path("etc/kubernetes/encryption/config.yaml")) == 0o600
    assert_no_secrets(result, host)
    assert not ran(ok(host.run("join", **params)), "kubeadm")


def test_a_control_plane_join_puts_its_etcd_patch_in_place_first(host):
    params = {
        "NODE_NAME": "cp-2",
        "JOIN_CONFIG_B64": b64(JOIN_CP),
        "CONTROL_PLANE": "true",
        "ENCRYPTION_CONFIG_B64": b64("kind: EncryptionConfiguration\n"),
        "AUDIT_POLICY_B64": b64("kind: Policy\n"),
        "ETCD_PATCH_B64": b64(ETCD_PATCH),
    }
    ok(host.run("join", **params))
    assert (host.stub / "patches-at-join").read_text().split() == ["etcd+strategic.yaml"]
    patch = host.path("etc/kubernetes/ml-platform-patches/etcd+strategic.yaml")
    assert patch.read_text() == ETCD_PATCH and mode(patch) == 0o600


def test_a_join_whose_token_was_refused_says_how_to_mint_a_new_one(host):
    host.flag("token-expired")
    params = {"NODE_NAME": "gpu-1", "JOIN_CONFIG_B64": b64(JOIN_WORKER), "CONTROL_PLANE": "false"}
    result = host.run("join", quiet=True, **params)
    assert result.returncode == 1
    assert "refused this node's join token" in result.stderr
    assert "pulumi up --replace <URN of admit-gpu-1>" in result.stderr
    assert all(line.startswith("ml-platform: ") for line in result.stderr.splitlines())


def test_join_retries_and_resets_between_attempts(host):
    host.flag("join-failures", "2")
    params = {"NODE_NAME": "gpu-1", "JOIN_CONFIG_B64": b64(JOIN_WORKER), "CONTROL_PLANE": "false"}
    result = ok(host.run("join", **params))
    assert len(ran(result, "kubeadm join")) == 3
    assert len(ran(result, "kubeadm reset -f")) == 2
    assert ran(result, "sleep") == ["sleep 15", "sleep 30"]


def test_join_that_keeps_failing_reports_it(host):
    host.flag("join-failures", "99")
    params = {"NODE_NAME": "gpu-1", "JOIN_CONFIG_B64": b64(JOIN_WORKER), "CONTROL_PLANE": "false"}
    result = host.run("join", **params)
    assert result.returncode == 1
    assert "ml-platform: join failed on gpu-1: kubeadm join failed" in result.stderr
    assert_no_secrets(result, host)


# ---- admit-node, revoke-join-token --------------------------------------------------------------

UPLOAD_CONFIG = f'kind: InitConfiguration\ncertificateKey: "{CERT_KEY}"\n'


def admit_params(**extra: str) -> dict[str, str]:
    return {
        "NODE_NAME": "cp-1",
        "TARGET_NODE": "gpu-7",
        "SELF": "false",
        "CONTROL_PLANE": "false",
        "TOKEN_ID": TOKEN_ID,
        "TOKEN_SECRET": TOKEN_SECRET,
        "TOKEN_TTL_HOURS": "72",
        **extra,
    }


def test_admit_mints_the_nodes_own_token_on_stdin(host):
    host.write("etc/kubernetes/admin.conf", "x")
    before = time.time()
    result = ok(host.run("admit-node", quiet=True, **admit_params()))
    apply = [c for c in ran(result, "kubectl") if " apply " in c]
    assert len(apply) == 1 and apply[0].endswith("-f -")
    assert f"--kubeconfig {host.root}/etc/kubernetes/admin.conf" in apply[0]
    manifest = (host.stub / "kubectl-stdin").read_text()
    assert "name: bootstrap-token-abcdef" in manifest
    assert "namespace: kube-system" in manifest
    assert "type: bootstrap.kubernetes.io/token" in manifest
    data = dict(
        (k.strip(), base64.b64decode(v.strip()).decode())
        for k, v in re.findall(r"^  ([a-z-]+): (\S+)$", manifest, re.M)
        if k not in ("name", "namespace")
    )
    assert data["token-id"] == TOKEN_ID
    assert data["token-secret"] == TOKEN_SECRET
    assert data["usage-bootstrap-authentication"] == "true"
    assert data["auth-extra-groups"] == "system:bootstrappers:kubeadm:default-node-token"
    assert "gpu-7" in data["description"]
    expires = time.mktime(time.strptime(data["expiration"], "%Y-%m-%dT%H:%M:%SZ")) - time.timezone
    assert before + 71.9 * 3600 < expires < time.time() + 72.1 * 3600
    # A worker needs no control-plane certificates.
    assert not ran(result, "kubeadm")
    assert_no_secrets(result, host)


def test_admit_a_control_plane_also_uploads_the_certificates(host):
    host.write("etc/kubernetes/admin.conf", "x")
    params = admit_params(CONTROL_PLANE="true", CERTIFICATE_KEY_CONFIG_B64=b64(UPLOAD_CONFIG))
    result = ok(host.run("admit-node", quiet=True, **params))
    upload = ran(result, "kubeadm init phase upload-certs --upload-certs --config ")
    assert len(upload) == 1
    assert UPLOAD_CONFIG in (host.stub / "configs").read_text()
    assert_no_secrets(result, host)


def test_admit_mints_nothing_for_a_node_already_in_the_cluster_or_the_init_host(host):
    host.write("etc/kubernetes/admin.conf", "x")
    host.write(".stub/nodes/gpu-7", "True")
    result = ok(host.run("admit-node", quiet=True, **admit_params(CONTROL_PLANE="true")))
    assert not [c for c in ran(result, "kubectl") if " apply " in c] and not ran(result, "kubeadm")
    assert "already" in result.stderr
    init_host = {
        "NODE_NAME": "cp-1",
        "TARGET_NODE": "cp-1",
        "SELF": "true",
        "CONTROL_PLANE": "true",
    }
    assert ok(host.run("admit-node", **init_host)).calls == []


def test_admit_refuses_a_bad_token_without_showing_it(host):
    host.write("etc/kubernetes/admin.conf", "x")
    result = host.run("admit-node", **admit_params(TOKEN_SECRET="NOT-A-TOKEN-0000"))
    assert result.returncode == 1 and "value not shown" in result.stderr
    assert "NOT-A-TOKEN-0000" not in result.stderr


def test_revoke_deletes_the_token_once_the_node_joined(host):
    host.write("etc/kubernetes/admin.conf", "x")
    params = {"NODE_NAME": "cp-1", "TARGET_NODE": "gpu-7", "SELF": "false", "TOKEN_ID": TOKEN_ID}
    ok(host.run("revoke-join-token", quiet=True, **params))
    assert (host.stub / "deleted-secrets").read_text().split() == ["bootstrap-token-abcdef"]
    ok(host.run("revoke-join-token", quiet=True, **params))  # gone already: still fine
    assert ok(host.run("revoke-join-token", **{**params, "SELF": "true"})).calls == []


# ---- read-kubeconfig, write-manifest ----------------------------------------------------------


def test_read_kubeconfig_prints_only_the_file(host):
    host.write("etc/kubernetes/admin.conf", "apiVersion: v1\nkind: Config\n")
    result = ok(host.run("read-kubeconfig", NODE_NAME="cp-1"))
    assert result.stdout == "apiVersion: v1\nkind: Config\n"


def test_read_kubeconfig_fails_clearly_without_admin_conf(host):
    result = host.run("read-kubeconfig", NODE_NAME="cp-1")
    assert result.returncode == 1 and result.stdout == ""
    assert "ml-platform: read-kubeconfig failed on cp-1: /etc/kubernetes/admin.conf" in (
        result.stderr
    )


def test_write_manifest_is_idempotent_and_private(host):
    params = {"MANIFEST_PATH": "/etc/kubernetes/manifests/kube-vip.yaml", "MANIFEST_B64": b64("a")}
    first = ok(host.run("write-manifest", **params))
    path = host.path("etc/kubernetes/manifests/kube-vip.yaml")
    assert path.read_text() == "a\n" and mode(path) == 0o600
    assert "updated" in first.stderr
    assert "already up to date" in ok(host.run("write-manifest", **params)).stderr
    bad = host.run("write-manifest", MANIFEST_PATH="etc/x", MANIFEST_B64=b64("a"))
    assert bad.returncode == 1 and "absolute path" in bad.stderr


def test_hostname_is_used_when_node_name_is_absent(host):
    result = host.run("read-kubeconfig")
    assert "ml-platform: read-kubeconfig failed on test-host: " in result.stderr


# ---- removal: drain-node, reset-node, remove-node ---------------------------------------------

DRAIN = {"NODE_NAME": "cp-1", "TARGET_NODE": "gpu-7", "SELF": "false"}


def test_drain_node_drains_a_ready_node_and_leaves_it_in_place(host):
    host.write("etc/kubernetes/admin.conf", "x")
    host.write(".stub/nodes/gpu-7", "True")
    result = ok(host.run("drain-node", **DRAIN))
    drain = [c for c in ran(result, "kubectl") if " drain " in c]
    assert (
        drain
        and "drain gpu-7 --ignore-daemonsets --delete-emptydir-data --timeout=300s" in drain[0]
    )
    # The Node stays: kubeadm reset on the host needs it to leave etcd.
    assert not [c for c in ran(result, "kubectl") if " delete " in c]
    assert host.path(".stub/nodes/gpu-7").exists()
    assert result.stdout == ""


def test_drain_node_failure_on_a_ready_node_stops_the_removal(host):
    host.write("etc/kubernetes/admin.conf", "x")
    host.write(".stub/nodes/gpu-7", "True")
    host.flag("fail-drain")
    result = host.run("drain-node", **DRAIN)
    assert result.returncode == 1 and "kubectl drain gpu-7 did not finish" in result.stderr


def test_a_dead_node_is_drained_without_waiting_and_the_removal_goes_on(host):
    host.write("etc/kubernetes/admin.conf", "x")
    host.write(".stub/nodes/gpu-7", "Unknown")
    host.flag("fail-drain")
    result = ok(host.run("drain-node", **DRAIN))
    (drain,) = [c for c in ran(result, "kubectl") if " drain " in c]
    assert "--skip-wait-for-delete-timeout=1" in drain and "--timeout=180s" in drain
    assert "--force" in drain
    assert "kubelet is unreachable" in result.stderr


def test_drain_of_a_node_that_is_gone_or_of_the_init_host_does_nothing(host):
    host.write("etc/kubernetes/admin.conf", "x")
    result = ok(host.run("drain-node", **DRAIN))
    assert "not in the cluster" in result.stderr
    assert not [c for c in ran(result, "kubectl") if " drain " in c]
    assert ok(host.run("drain-node", **{**DRAIN, "SELF": "true"})).calls == []


def test_reset_node_is_a_no_op_on_a_node_that_never_joined(host):
    result = ok(host.run("reset-node", NODE_NAME="gpu-1"))
    assert not ran(result, "kubeadm") and not ran(result, "systemctl")


def test_reset_node_resets_a_member_once_and_keeps_the_etcd_snapshots(host):
    host.write("etc/kubernetes/kubelet.conf", "x")
    host.write("etc/kubernetes/encryption/config.yaml", "key")
    host.write("etc/kubernetes/ml-platform-patches/etcd+strategic.yaml", "patch")
    host.write("etc/cni/net.d/10-canal.conflist", "{}")
    snapshot = host.write("var/lib/ml-platform/etcd-snapshots/etcd-cp-2-20260101T000000Z.db", "s")
    result = ok(host.run("reset-node", NODE_NAME="cp-2"))
    assert ran(result, "kubeadm reset -f")
    assert ran(result, "systemctl restart containerd")
    assert list(host.path("etc/cni/net.d").iterdir()) == []
    assert not host.path("etc/kubernetes/encryption").exists()
    assert not host.path("etc/kubernetes/ml-platform-patches").exists()
    assert snapshot.read_text() == "s"
    second = ok(host.run("reset-node", NODE_NAME="cp-2"))
    assert not ran(second, "kubeadm") and not ran(second, "systemctl")


REMOVE = {"NODE_NAME": "cp-1", "TARGET_NODE": "cp-3", "SELF": "false", "CONTROL_PLANE": "true"}
MEMBERS = (
    "8e9e05c52164694d, started, cp-1, https://192.168.10.11:2380, https://192.168.10.11:2379, false\n"
    "91bc3c398fb3c146, started, cp-2, https://192.168.10.12:2380, https://192.168.10.12:2379, false\n"
)


def test_remove_node_deletes_the_node_after_the_reset_left_etcd(host):
    host.write("etc/kubernetes/admin.conf", "x")
    host.write(".stub/nodes/cp-3", "True")
    host.write(".stub/etcd-members", MEMBERS)
    result = ok(host.run("remove-node", **REMOVE))
    assert not [c for c in ran(result, "crictl") if "member remove" in c]
    assert [c for c in ran(result, "kubectl") if "delete node cp-3" in c]
    assert not host.path(".stub/nodes/cp-3").exists()


def test_a_dead_control_planes_etcd_member_is_removed_from_a_live_one(host):
    host.write("etc/kubernetes/admin.conf", "x")
    host.write(".stub/nodes/cp-3", "Unknown")
    dead = "c2a1b0e6d5f4a3b2, started, cp-3, https://192.168.10.13:2380, https://192.168.10.13:2379, false\n"
    host.write(".stub/etcd-members", MEMBERS + dead)
    result = ok(host.run("remove-node", **REMOVE))
    (remove,) = [c for c in ran(result, "crictl") if "member remove" in c]
    assert remove.endswith("member remove c2a1b0e6d5f4a3b2")
    assert "--endpoints=https://127.0.0.1:2379" in remove
    assert (host.stub / "etcd-members").read_text() == MEMBERS
    calls = result.calls
    assert calls.index(next(c for c in calls if "member remove" in c)) < calls.index(
        next(c for c in calls if "delete node cp-3" in c)
    )
    # A worker has no etcd member to look for.
    worker = ok(
        host.run("remove-node", **{**REMOVE, "TARGET_NODE": "gpu-7", "CONTROL_PLANE": "false"})
    )
    assert not ran(worker, "crictl")


def test_removal_runs_drain_then_reset_then_node_deletion_on_a_control_plane(host, tmp_path):
    """The three removal steps in the order the engine deletes them, on two stub hosts: the
    reset finds the Node (kubeadm leaves etcd itself), and the Node goes last."""
    admin = host
    admin.write("etc/kubernetes/admin.conf", "x")
    admin.write(".stub/nodes/cp-3", "True")
    admin.write(".stub/etcd-members", MEMBERS)
    leaving = Host(tmp_path / "cp-3" / "root")
    leaving.write("etc/kubernetes/kubelet.conf", "x")
    ok(admin.run("drain-node", **{**DRAIN, "TARGET_NODE": "cp-3"}))
    assert admin.path(".stub/nodes/cp-3").exists()  # still there for the reset
    ok(leaving.run("reset-node", NODE_NAME="cp-3"))
    assert (leaving.stub / "resets").read_text().split() == ["reset"]
    ok(admin.run("remove-node", **REMOVE))
    assert not admin.path(".stub/nodes/cp-3").exists()


# ---- etcd-snapshot ---------------------------------------------------------------------------


def test_etcd_snapshot_installs_the_timer_once(host):
    first = ok(host.run("etcd-snapshot", NODE_NAME="cp-1", RETENTION_DAYS="14"))
    tool = host.path("usr/local/sbin/ml-platform-etcd-snapshot")
    assert mode(tool) == 0o755 and "RETENTION_DAYS=14" in tool.read_text()
    units = host.path("etc/systemd/system")
    assert (
        "ExecStart=/usr/local/sbin/ml-platform-etcd-snapshot"
        in (units / "ml-platform-etcd-snapshot.service").read_text()
    )
    assert "OnCalendar=daily" in (units / "ml-platform-etcd-snapshot.timer").read_text()
    assert ran(first, "systemctl daemon-reload")
    assert ran(first, "systemctl enable --now ml-platform-etcd-snapshot.timer")

    second = ok(host.run("etcd-snapshot", NODE_NAME="cp-1", RETENTION_DAYS="14"))
    assert [c for c in second.calls if c.startswith("systemctl")] == [
        "systemctl is-enabled --quiet ml-platform-etcd-snapshot.timer",
        "systemctl is-active --quiet ml-platform-etcd-snapshot.timer",
    ]
    changed = ok(host.run("etcd-snapshot", NODE_NAME="cp-1", RETENTION_DAYS="7"))
    assert ran(changed, "systemctl daemon-reload")


def test_installed_snapshot_tool_snapshots_via_crictl_and_prunes(host):
    ok(host.run("etcd-snapshot", NODE_NAME="cp-1", RETENTION_DAYS="3"))
    tool = host.path("usr/local/sbin/ml-platform-etcd-snapshot")
    if shutil.which("shellcheck"):
        check = subprocess.run(["shellcheck", str(tool)], capture_output=True, text=True)
        assert check.returncode == 0, check.stdout
    # Outside the data directory, which `kubeadm reset` empties.
    snapshots = host.path("var/lib/ml-platform/etcd-snapshots")
    old = host.write("var/lib/ml-platform/etcd-snapshots/etcd-cp-1-20200101T000000Z.db", "old")
    recent = host.write("var/lib/ml-platform/etcd-snapshots/etcd-cp-1-20200102T000000Z.db", "x")
    os.utime(old, (time.time() - 4 * 86400,) * 2)
    os.utime(recent, (time.time() - 2 * 86400,) * 2)
    env = {"PATH": f"{host.bin}:/usr/bin:/bin", "ROOT": str(host.root)}
    proc = subprocess.run(["/bin/bash", str(tool)], env=env, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    calls = host.read_log()
    exec_call = next(c for c in calls if c.startswith("crictl") and " exec " in c)
    assert "exec 4f2e9a7b1c0d etcdctl --endpoints=https://127.0.0.1:2379" in exec_call
    assert "--cacert=/etc/kubernetes/pki/etcd/ca.crt" in exec_call
    # etcd can only write inside its data directory; the file is moved out at once.
    assert exec_call.endswith("snapshot save /var/lib/etcd/.ml-platform-snapshot.db")
    assert not host.path("var/lib/etcd/.ml-platform-snapshot.db").exists()
    names = sorted(p.name for p in snapshots.iterdir())
    assert old.name not in names and recent.name in names and len(names) == 2
    (new,) = [p for p in snapshots.iterdir() if p.name not in (old.name, recent.name)]
    assert re.fullmatch(r"etcd-test-host-[0-9]{8}T[0-9]{6}Z\.db", new.name)
    assert mode(new) == 0o600 and mode(snapshots) == 0o700
