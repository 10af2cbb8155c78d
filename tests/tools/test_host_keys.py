"""tools/host_keys.py: host keys collected for review, through the bastion, never trusted or
written by itself."""

from __future__ import annotations

import os
import textwrap
from pathlib import Path

import pytest

from tests.helpers import host_key
from tools import host_keys

STACK = """\
config:
  ml-platform:baremetal:
    sshUser: admin
    hosts:
      - {name: cp-1, address: 192.168.10.11, roles: [control-plane], hostKey: "KEY_CP1"}
      - {name: gpu-01, address: 192.168.10.101, roles: [worker]}
      - {name: gpu-02, address: 192.168.10.102, roles: [worker]}
"""


@pytest.fixture
def lab(tmp_path, monkeypatch):
    """A stack file, and stub ssh-keyscan/ssh on PATH that log their arguments and answer for
    the addresses listed in ANSWERS (gpu-02 does not answer)."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    answers = {
        "192.168.10.11": host_key("cp-1"),
        "192.168.10.101": host_key("gpu-01"),
    }
    lines = "".join(f"{address} {key}\n" for address, key in answers.items())
    scan = f"""#!/bin/bash
    echo "ssh-keyscan $*" >>"{tmp_path}/calls"
    echo "# 192.168.10.11:22 SSH-2.0-OpenSSH_9.6"
    printf '%s' '{lines}'
    """
    ssh = f"""#!/bin/bash
    echo "ssh $*" >>"{tmp_path}/calls"
    exec bash -c "${{@: -1}}"
    """
    for name, body in (("ssh-keyscan", scan), ("ssh", ssh)):
        (bin_dir / name).write_text(textwrap.dedent(body))
        (bin_dir / name).chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}:{os.environ['PATH']}")
    stack = tmp_path / "Pulumi.lab.yaml"
    stack.write_text(STACK.replace("KEY_CP1", host_key("cp-1")))
    return tmp_path


def run(lab: Path, capsys) -> tuple[int, str, str]:
    code = host_keys.main(["--stack", "lab", "--project-dir", str(lab)])
    out = capsys.readouterr().out
    calls = (lab / "calls").read_text()
    return code, out, calls


def test_keys_are_printed_with_fingerprints_for_review(lab, capsys):
    before = (lab / "Pulumi.lab.yaml").read_text()
    code, out, calls = run(lab, capsys)
    assert "ssh-keyscan -t ed25519 -T 5 -p 22 192.168.10.11 192.168.10.101 192.168.10.102" in calls
    assert f'hostKey: "{host_key("gpu-01")}"' in out
    assert host_keys.fingerprint(host_key("gpu-01")) in out
    assert "cp-1" in out and "same as the stack file" in out
    # A host that did not answer is reported, and the exit status says something is wrong.
    assert "gpu-02 (192.168.10.102): NO ANSWER" in out and code == 1
    assert (lab / "Pulumi.lab.yaml").read_text() == before  # never written


def test_a_changed_key_is_flagged(lab, capsys):
    stack = lab / "Pulumi.lab.yaml"
    stack.write_text(stack.read_text().replace(host_key("cp-1"), host_key("someone-else")))
    code, out, _ = run(lab, capsys)
    assert "CHANGED" in out and code == 1


def test_keys_are_collected_through_the_bastion_whose_key_must_be_known(lab, capsys):
    stack = lab / "Pulumi.lab.yaml"
    stack.write_text(
        stack.read_text().replace(
            "    hosts:", "    bastion: {address: bastion.lab.example.edu}\n    hosts:"
        )
    )
    _, out, calls = run(lab, capsys)
    (ssh,) = [line for line in calls.splitlines() if line.startswith("ssh ")]
    assert "-o StrictHostKeyChecking=yes" in ssh and "admin@bastion.lab.example.edu" in ssh
    assert "through bastion.lab.example.edu" in out
    assert "ssh-keygen -F bastion.lab.example.edu" in out


def test_the_fingerprint_is_openssh_s():
    # ssh-keygen -lf of this key prints SHA256:<43 base64 characters, no padding>.
    value = host_keys.fingerprint(host_key("cp-1"))
    assert value.startswith("SHA256:") and len(value) == len("SHA256:") + 43
