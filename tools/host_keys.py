"""Collect the lab hosts' SSH host keys for review, so that `baremetal.hosts[].hostKey` can be
filled in: the program then verifies every connection against them.

    python tools/host_keys.py --stack lab

It asks each host of `Pulumi.<stack>.yaml` for its ed25519 host key with `ssh-keyscan`, through
the bastion when the stack has one (`ssh <bastion> ssh-keyscan ...`, which itself verifies the
bastion against your known_hosts: add the bastion's key there first, checked out of band), and
prints for each host the `hostKey` line and the key's SHA256 fingerprint. It never writes the
stack file and never trusts what it got: compare each fingerprint with the host's own
(`ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub` on its console or through your inventory
system), then paste the lines. A key that differs from the one in the stack file is flagged:
either the host was reinstalled, or someone else answers on its address.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import shlex
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from components import yamltext  # noqa: E402
from model.formats import SSH_HOST_KEY  # noqa: E402

KEY_TYPE = "ssh-ed25519"
TIMEOUT_SECONDS = 5


@dataclass(frozen=True)
class Target:
    name: str
    address: str
    configured: str | None


def fingerprint(key: str) -> str:
    """OpenSSH's SHA256 fingerprint of `<type> <base64>` (ssh-keygen -l)."""
    blob = base64.b64decode(key.split()[1])
    digest = base64.b64encode(hashlib.sha256(blob).digest()).decode().rstrip("=")
    return f"SHA256:{digest}"


def targets(stack_file: Path) -> tuple[list[Target], dict | None]:
    document = yamltext.load(stack_file.read_text()) or {}
    baremetal = (document.get("config") or {}).get("ml-platform:baremetal") or {}
    hosts = [
        Target(str(h["name"]), str(h["address"]), h.get("hostKey"))
        for h in baremetal.get("hosts") or []
    ]
    return hosts, baremetal.get("bastion")


def scan_command(addresses: Sequence[str], port: int, bastion: dict | None, user: str) -> list[str]:
    scan = ["ssh-keyscan", "-t", "ed25519", "-T", str(TIMEOUT_SECONDS), "-p", str(port)]
    scan += list(addresses)
    if bastion is None:
        return scan
    # Through the bastion: its own key must already be known (StrictHostKeyChecking=yes).
    login = f"{bastion.get('user') or user}@{bastion['address']}"
    return [
        "ssh",
        "-o",
        "StrictHostKeyChecking=yes",
        "-o",
        "BatchMode=yes",
        login,
        shlex.join(scan),
    ]


def parse(output: str) -> dict[str, str]:
    """`<address> <type> <base64>` lines of ssh-keyscan as {address: "<type> <base64>"}."""
    found: dict[str, str] = {}
    for line in output.splitlines():
        fields = line.split()
        if len(fields) != 3 or line.startswith("#") or fields[1] != KEY_TYPE:
            continue
        address = fields[0].removeprefix("[").split("]")[0]
        key = f"{fields[1]} {fields[2]}"
        ok, _, _ = SSH_HOST_KEY.parse(key)
        if ok:
            found[address] = key
    return found


def report(hosts: Sequence[Target], found: dict[str, str]) -> tuple[list[str], int]:
    lines, problems = [], 0
    for index, host in enumerate(hosts):
        key = found.get(host.address)
        where = f"hosts[{index}] {host.name} ({host.address})"
        if key is None:
            lines.append(f"# {where}: NO ANSWER: no ed25519 host key was offered")
            problems += 1
            continue
        note = ""
        if host.configured and host.configured != key:
            note = "  # CHANGED: differs from the stack file: reinstalled, or not this host?"
            problems += 1
        elif host.configured == key:
            note = "  # same as the stack file"
        lines.append(f"# {where}: {fingerprint(key)}")
        lines.append(f'      - {{name: {host.name}, ..., hostKey: "{key}"}}{note}')
    return lines, problems


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--stack", required=True, help="the stack whose hosts to scan, e.g. lab")
    parser.add_argument("--project-dir", type=Path, default=ROOT, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    stack_file = args.project_dir / f"Pulumi.{args.stack}.yaml"
    if not stack_file.exists():
        print(f"no stack file {stack_file.name}", file=sys.stderr)
        return 2
    hosts, bastion = targets(stack_file)
    if not hosts:
        print(f"{stack_file.name} lists no baremetal hosts", file=sys.stderr)
        return 2
    document = yamltext.load(stack_file.read_text()) or {}
    baremetal = (document.get("config") or {}).get("ml-platform:baremetal") or {}
    port = int(baremetal.get("sshPort", 22))
    user = str(baremetal.get("sshUser", "ubuntu"))
    command = scan_command([h.address for h in hosts], port, bastion, user)
    try:
        result = subprocess.run(command, capture_output=True, text=True, check=False, timeout=120)
    except FileNotFoundError:
        print(f"{command[0]} is not installed (OpenSSH client)", file=sys.stderr)
        return 2
    found = parse(result.stdout)
    lines, problems = report(hosts, found)
    print(
        "# Check every fingerprint against the host's own before pasting (see the tool's help);\n"
        f"# collected {'through ' + bastion['address'] if bastion else 'directly'}."
    )
    print("\n".join(lines))
    if bastion is not None:
        print(
            f"# The bastion's own key: take it from your known_hosts (ssh-keygen -F "
            f"{bastion['address']}), checked out of band, for baremetal.bastion.hostKey."
        )
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
