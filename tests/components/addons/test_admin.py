"""Steps add-ons run on the first control plane: the readiness gates and the upstream
dashboards, as registered, and their scripts under bash with stub commands."""

from __future__ import annotations

import base64
import hashlib
import subprocess
from pathlib import Path

import pytest

from components import versions
from tests.stub_host import StubHost

# kubectl answers from $S: `dry-run` (exit codes, one per call, the last repeating), `status`
# (likewise, the jsonpath's value; "missing" is an error) and records applied manifests.
KUBECTL = r"""
next_line() {  # next_line FILE: the next line of FILE, the last one repeating
    local n; n=$(cat "$1.calls" 2>/dev/null || echo 0); echo $((n + 1)) >"$1.calls"
    local total; total=$(wc -l <"$1"); sed -n "$((n + 1 > total ? total : n + 1))p" "$1"
}
case " $* " in
    *" --dry-run=server "*) code=$(next_line "$S/dry-run"); ((code == 0)) || echo "Error from server (InternalError): failed calling webhook" >&2; exit "$code" ;;
    *" get "*) state=$(next_line "$S/status"); [[ $state == missing ]] && exit 1; printf '%s' "$state" ;;
    *" create configmap "*) printf 'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\n' ;;
    *" label "* | *" annotate "*) cat ;;
    *" apply "*) cat "${@: -1}" >"$S/applied.yaml"; echo applied ;;
    *" delete configmap "*) echo deleted ;;
    *) exit 3 ;;
esac
"""
STUBS = {
    "kubectl": KUBECTL,
    "curl": r"""while (($#)); do [[ $1 == -o ]] && cat "$S/download" >"$2"; shift; done""",
    "sleep": ":",
    "timeout": 'while [[ $1 == -* ]]; do shift; done; shift; exec "$@"',
    "hostname": "echo test-host",
}


class Host(StubHost):
    def __init__(self, tmp_path: Path) -> None:
        super().__init__(tmp_path / "root", STUBS)
        self.write("etc/kubernetes/admin.conf", "apiVersion: v1\n")

    def answers(self, name: str, *lines: str) -> None:
        (self.stub / name).write_text("\n".join(lines) + "\n")

    def run(self, step: str, **params: str) -> subprocess.CompletedProcess:
        return self.run_step(step, {"NODE_NAME": "cp-1", **params})


@pytest.fixture
def host(tmp_path) -> Host:
    return Host(tmp_path)


POOL = base64.b64encode(b"apiVersion: metallb.io/v1beta1\nkind: IPAddressPool\n").decode()
WAIT = {"TIMEOUT_SECONDS": "30", "POLL_SECONDS": "10"}


def test_the_webhook_gate_waits_until_a_dry_run_is_admitted(host):
    host.answers("dry-run", "1", "1", "0")
    result = host.run("webhook-ready", WHAT="MetalLB's webhook", MANIFEST_B64=POOL, **WAIT)
    assert result.returncode == 0, result.stderr
    assert len(host.calls("kubectl")) == 3 and len(host.calls("sleep")) == 2
    assert "waiting for MetalLB's webhook: Error from server (InternalError)" in result.stderr


def test_the_webhook_gate_gives_up_naming_the_webhook(host):
    host.answers("dry-run", "1")
    result = host.run("webhook-ready", WHAT="MetalLB's webhook", MANIFEST_B64=POOL, **WAIT)
    assert result.returncode == 1
    assert (
        "ml-platform: webhook-ready failed on cp-1: MetalLB's webhook did not answer within 30s"
        in result.stderr
    )


def test_the_status_gate_waits_for_the_expected_phase(host):
    host.answers("status", "missing", "Progressing", "Ready")
    params = {"RESOURCE": "cephblockpool/ceph-blockpool", "NAMESPACE": "rook-ceph",
              "JSONPATH": "{.status.phase}", "EXPECTED": "Ready", "REVISION": "1", **WAIT}  # fmt: skip
    result = host.run("status-ready", **params)
    assert result.returncode == 0, result.stderr
    assert "waiting for cephblockpool/ceph-blockpool: not there yet" in result.stderr
    assert "waiting for cephblockpool/ceph-blockpool: Progressing" in result.stderr
    host.answers("status", "Failure")
    (host.stub / "status.calls").unlink()
    failed = host.run("status-ready", **params)
    assert failed.returncode == 1
    assert "is not Ready after 30s (it is Failure)" in failed.stderr


def test_the_status_gate_refuses_a_jsonpath_that_is_not_a_plain_field(host):
    result = host.run("status-ready", RESOURCE="pod/x", NAMESPACE="ns", JSONPATH="{range .items[*]}",
                      EXPECTED="Ready", REVISION="1", **WAIT)  # fmt: skip
    assert result.returncode == 1 and "JSONPATH must look like" in result.stderr


def dashboard_params(content: bytes, **changes: str) -> dict[str, str]:
    return {"ACTION": "apply", "DASHBOARD": "ceph-cluster", "NAMESPACE": "rook-ceph",
            "FOLDER": "Ceph", "URL": "https://example.org/d.json",
            "SHA256": hashlib.sha256(content).hexdigest(), **changes}  # fmt: skip


def test_a_dashboard_is_installed_only_when_its_content_is_the_pinned_one(host):
    (host.stub / "download").write_bytes(b'{"title": "Ceph"}')
    result = host.run("dashboard", **dashboard_params(b'{"title": "Ceph"}'))
    assert result.returncode == 0, result.stderr
    (apply,) = [c for c in host.calls("kubectl") if " apply " in c]
    assert "--server-side" in apply and "--field-manager=ml-platform" in apply
    tampered = host.run("dashboard", **dashboard_params(b"something else"))
    assert tampered.returncode == 1
    assert "is not the pinned dashboard (SHA-256 differs)" in tampered.stderr


def test_a_dashboard_is_removed_with_its_add_on(host):
    result = host.run("dashboard", ACTION="delete", DASHBOARD="ceph-cluster", NAMESPACE="rook-ceph")
    assert result.returncode == 0, result.stderr
    assert (
        host.calls("kubectl")
        and "delete configmap grafana-dashboard-ceph-cluster" in host.calls("kubectl")[0]
    )


def test_pinned_dashboards_are_https_with_a_digest():
    for dashboard in (versions.DCGM_DASHBOARD, *versions.CEPH_DASHBOARDS):
        assert dashboard.url.startswith("https://raw.githubusercontent.com/")
        assert len(dashboard.sha256) == 64
        assert versions.ROOK in dashboard.url or "dcgm-exporter" in dashboard.url
