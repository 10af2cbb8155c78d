"""The Inventory: the only view later layers get of the machines."""

from __future__ import annotations

import textwrap

from automation.engine import evaluate, load_stack

PROGRAM = """
import pulumi
from stacks import aws, baremetal
from stacks.config import load_config

config = load_config()
inventory = {"aws": aws, "baremetal": baremetal}[config.infrastructure].build_inventory(config)
pulumi.export("endpoint", inventory.api_endpoint)
pulumi.export("control_planes", [h.name for h in inventory.control_planes])
pulumi.export("workers", [h.name for h in inventory.workers])
pulumi.export("gpu", {h.name: h.gpu.model for h in inventory.gpu_hosts})
pulumi.export("storage", {h.name: list(h.storage_devices) for h in inventory.storage_hosts})
pulumi.export("first", inventory.first_control_plane.name)
for host in inventory.hosts:
    c = host.connection
    pulumi.export(f"ssh-{host.name}", {"host": c.host, "user": c.user, "port": c.port,
                                      "proxy": c.proxy.host if c.proxy else None})
    pulumi.export(f"key-{host.name}", c.private_key)
"""


def inventory_of(stack, tmp_path):
    program = tmp_path / "__main__.py"
    program.write_text(textwrap.dedent(PROGRAM))
    return evaluate(stack, load_stack(stack), program=program).check().exports


def test_the_lab_inventory_has_43_hosts(tmp_path):
    exports = inventory_of("lab", tmp_path)
    assert exports["control_planes"].value == ["cp-1", "cp-2", "cp-3"]
    assert exports["workers"].value == [f"gpu-{n:02d}" for n in range(1, 41)]
    assert set(exports["gpu"].value.values()) == {"rtx-4090"} and len(exports["gpu"].value) == 40
    assert exports["storage"].value == {f"gpu-0{n}": ["/dev/nvme1n1"] for n in range(1, 7)}
    assert exports["endpoint"].value == "192.168.10.10"
    assert exports["first"].value == "cp-1"
    # As the engine stores outputs: a None (no bastion, so no proxy) is left out.
    assert exports["ssh-gpu-07"].value == {"host": "192.168.10.107", "user": "ubuntu", "port": 22}


def test_ssh_keys_stay_secret(tmp_path):
    exports = inventory_of("lab", tmp_path)
    keys = [e for name, e in exports.items() if name.startswith("key-")]
    assert len(keys) == 43 and all(k.secret for k in keys)


def test_aws_hosts_are_reached_through_the_bastion(tmp_path):
    exports = inventory_of("dev", tmp_path)
    assert exports["control_planes"].value == ["cp-1", "cp-2", "cp-3"]
    assert exports["workers"].value == ["worker-1", "worker-2", "gpu-1", "gpu-2"]
    assert exports["gpu"].value == {"gpu-1": "l4", "gpu-2": "l4"}
    ssh = exports["ssh-cp-1"].value
    assert ssh["host"].startswith("10.0.") and ssh["proxy"].startswith("203.0.113.")
    assert exports["endpoint"].value.endswith(".elb.us-east-1.amazonaws.com")
