"""Restoring etcd from a snapshot: the host steps restore-etcd and fetch-etcd-snapshot, run
under bash in a temporary ROOT with stub commands (as the other host steps are), and the tool
that prints them for ssh."""

from __future__ import annotations

import io
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path

import pytest

from components import versions
from components.kubeadm.scripts import SCRIPTS_DIR
from tests.components.kubeadm.test_scripts import Host, ok, ran
from tools import etcd_restore

ETCD_MANIFEST = """apiVersion: v1
kind: Pod
spec:
  containers:
  - command:
    - etcd
    - --data-dir=/var/lib/etcd
    - --initial-advertise-peer-urls=https://192.168.10.11:2380
    - --name=cp-1
    image: registry.k8s.io/etcd:3.6.6-0
"""
CLUSTER = "cp-1=https://192.168.10.11:2380,cp-2=https://192.168.10.12:2380,cp-3=https://192.168.10.13:2380"
# ctr: `run ... etcdutl snapshot restore ... --data-dir D` leaves a member directory in D;
# `run ... /bin/sh -c SCRIPT` (a fetch) writes the snapshot the script names and prints it.
CTR = """
args=("$@")
if [[ " $* " == *" etcdutl snapshot restore "* ]]; then
    for ((i = 0; i < ${#args[@]}; i++)); do
        [[ ${args[i]} == --data-dir ]] && mkdir -p "$ROOT${args[i+1]}/member/snap"
    done
elif [[ " $* " == *" run "* ]]; then
    for ((i = 0; i < ${#args[@]}; i++)); do
        [[ ${args[i]} == --env-file ]] && cp "${args[i+1]}" "$S/env-file-copy"
    done
    mkdir -p "$ROOT/var/lib/ml-platform/etcd-snapshots"
    echo encrypted-then-decrypted >"$ROOT/var/lib/ml-platform/etcd-snapshots/etcd-cp-2-20261129T021500Z.db"
    echo etcd-cp-2-20261129T021500Z.db
fi
true
"""
# crictl: etcd runs until its manifest leaves the kubelet's directory.
CRICTL = """
[[ -f $ROOT/etc/kubernetes/manifests/etcd.yaml ]] && echo 4f2e9a7b1c0d
true
"""


@pytest.fixture
def control_plane(tmp_path: Path) -> Host:
    host = Host(tmp_path / "root")
    host.add_stub("ctr", CTR)
    host.add_stub("crictl", CRICTL)
    host.write("etc/kubernetes/manifests/etcd.yaml", ETCD_MANIFEST)
    host.write("etc/kubernetes/manifests/kube-apiserver.yaml", "kind: Pod\n")
    host.write("var/lib/etcd/member/snap/db", "the broken member")
    host.write("var/lib/ml-platform/etcd-snapshots/etcd-cp-1-20261128T021500Z.db", "older")
    newest = host.write(
        "var/lib/ml-platform/etcd-snapshots/etcd-cp-1-20261129T021500Z.db", "newest"
    )
    import os
    import time

    os.utime(newest, (time.time() + 60,) * 2)
    return host


def restore(host: Host, **params: str):
    base = {"NODE_NAME": "cp-1", "INITIAL_CLUSTER": CLUSTER, "CONFIRM": "restore-cp-1"}
    return host.run("restore-etcd", **{**base, **params})


def test_a_member_is_restored_from_the_newest_snapshot_with_its_own_name_and_peer_url(
    control_plane,
):
    result = ok(restore(control_plane))
    (call,) = ran(result, "ctr --namespace k8s.io run")
    assert "registry.k8s.io/etcd:3.6.6-0" in call
    assert (
        "etcdutl snapshot restore /var/lib/ml-platform/etcd-snapshots/etcd-cp-1-20261129T021500Z.db "
        "--name cp-1 --initial-cluster " + CLUSTER + " --initial-cluster-token "
        "restore-etcd-cp-1-20261129T021500Z --initial-advertise-peer-urls "
        "https://192.168.10.11:2380 --data-dir /var/lib/etcd-restore-"
    ) in call
    root = control_plane.root
    # The restored member in place, the old one kept, the snapshots untouched, pods back.
    assert (root / "var/lib/etcd/member/snap").is_dir()
    (before,) = root.glob("var/lib/etcd-before-restore-*")
    assert (before / "member/snap/db").read_text() == "the broken member"
    assert len(list((root / "var/lib/ml-platform/etcd-snapshots").iterdir())) == 2
    assert (root / "etc/kubernetes/manifests/etcd.yaml").read_text() == ETCD_MANIFEST
    assert (root / "etc/kubernetes/manifests/kube-apiserver.yaml").exists()
    assert not list(root.glob("var/lib/etcd-restore-*"))


def test_every_member_uses_the_snapshot_it_is_given(control_plane):
    result = ok(restore(control_plane, SNAPSHOT="etcd-cp-1-20261128T021500Z.db"))
    (call,) = ran(result, "ctr --namespace k8s.io run")
    assert "--initial-cluster-token restore-etcd-cp-1-20261128T021500Z " in call


@pytest.mark.parametrize(
    ("params", "words"),
    [
        ({"CONFIRM": ""}, "set CONFIRM=restore-cp-1"),
        ({"INITIAL_CLUSTER": "cp-2=https://192.168.10.12:2380"}, "does not name this member"),
        ({"INITIAL_CLUSTER": "cp-1=http://x; rm -rf /"}, "INITIAL_CLUSTER must be"),
        ({"SNAPSHOT": "../../etc/shadow"}, "SNAPSHOT must be a file name"),
        ({"SNAPSHOT": "etcd-cp-9-20200101T000000Z.db"}, "is missing or empty"),
    ],
)
def test_a_restore_that_cannot_be_right_stops_before_touching_anything(
    control_plane, params, words
):
    result = restore(control_plane, **params)
    assert result.returncode == 1 and words in result.stderr
    assert not ran(result, "ctr")
    assert (control_plane.root / "etc/kubernetes/manifests/etcd.yaml").exists()


SECRETS = {
    "AWS_ACCESS_KEY_ID": "AKIAEXAMPLEKEYID0001",
    "AWS_SECRET_ACCESS_KEY": "example-secret-access-key-0123456789abcd",
    "PASSPHRASE": "example-passphrase-0123456789abcdefghijkl",
}
FETCH = {
    "NODE_NAME": "cp-1",
    "STORE_ENDPOINT": "http://10.96.12.34:80",
    "STORE_REGION": "us-east-1",
    "BUCKET": "ml-platform-lab-etcd-snapshots",
    "FROM_HOST": "cp-2",
    "RCLONE_IMAGE": versions.RCLONE_IMAGE,
    **SECRETS,
}


def test_a_shipped_snapshot_comes_back_decrypted_with_secrets_only_in_a_removed_file(
    control_plane,
):
    result = ok(control_plane.run("fetch-etcd-snapshot", **FETCH))
    assert result.stdout.strip() == "etcd-cp-2-20261129T021500Z.db"
    assert ran(result, f"ctr --namespace k8s.io images pull {versions.RCLONE_IMAGE}")
    (run_call,) = ran(result, "ctr --namespace k8s.io run")
    for value in SECRETS.values():
        assert value not in "\n".join(result.calls), "a secret reached a command line"
    env = (control_plane.root / ".stub/env-file-copy").read_text()
    assert f"PASSPHRASE={SECRETS['PASSPHRASE']}" in env
    assert "RCLONE_CONFIG_SNAPSHOTS_REMOTE=store:ml-platform-lab-etcd-snapshots/etcd/cp-2" in env
    assert "RCLONE_CONFIG_STORE_PROVIDER=Other" in env
    assert not list(control_plane.root.glob("var/lib/ml-platform/.ml-platform-fetch.*"))
    assert run_call.endswith("/bin/sh -c set -eu")  # the script, whose first line is logged
    script = (SCRIPTS_DIR / "fetch-etcd-snapshot.sh").read_text()
    assert "| rclone obscure -)" in script and "rclone lsf snapshots: --include" in script


def test_a_fetch_refuses_an_unpinned_image_and_bad_names(control_plane):
    for changed, words in (
        ({"RCLONE_IMAGE": "rclone/rclone:latest"}, "pinned by digest"),
        ({"BUCKET": "Bad_Bucket"}, "not an S3 bucket name"),
        ({"SNAPSHOT": "x; rm -rf /"}, "SNAPSHOT must be latest"),
    ):
        result = control_plane.run("fetch-etcd-snapshot", **{**FETCH, **changed})
        assert result.returncode == 1 and words in result.stderr
        assert not ran(result, "ctr")


def run_tool(argv: list[str], environ: dict[str, str]) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        code = etcd_restore.main(argv, environ)
    return code, out.getvalue(), err.getvalue()


def test_the_tool_takes_secrets_from_the_environment_only():
    argv = ["fetch", "--host", "cp-1", "--from-host", "cp-2", "--endpoint",
            "http://10.96.12.34:80", "--region", "us-east-1", "--bucket", "b-etcd"]  # fmt: skip
    code, out, err = run_tool(argv, {})
    assert code == 2 and "ETCD_BACKUP_PASSPHRASE" in err and out == ""
    environ = {
        "AWS_ACCESS_KEY_ID": "id",
        "AWS_SECRET_ACCESS_KEY": "key",
        "ETCD_BACKUP_PASSPHRASE": "phrase",
    }
    code, out, _ = run_tool(argv, environ)
    assert code == 0
    assert "\nPASSPHRASE=phrase\n" in out and "# ---- fetch-etcd-snapshot.sh ----" in out


def test_the_tool_prints_a_confirmed_restore_for_the_host():
    code, out, _ = run_tool(
        ["restore", "--host", "cp-1", "--initial-cluster", CLUSTER, "--snapshot", "etcd-a.db"], {}
    )
    assert code == 0
    assert "\nCONFIRM=restore-cp-1\n" in out and "\nSNAPSHOT=etcd-a.db\n" in out
