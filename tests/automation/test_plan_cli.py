"""`python -m automation plan`: what reviewers and CI read."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from automation.__main__ import main
from automation.engine import PROJECT_DIR


def test_plan_of_the_lab_lists_hosts_roles_and_exports(capsys):
    assert main(["plan", "--stack", "lab"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("Offline plan of stack 'lab'")
    assert "Hosts (43):" in out
    assert "     3 x control-plane" in out and "    40 x worker" in out
    assert (
        "gpu-06       192.168.10.106   worker; gpu 1 x rtx-4090 (exclusive); storage /dev/nvme1n1"
        in out
    )
    assert "apiServer: https://192.168.10.10:6443" in out


def test_plan_json_is_machine_readable(capsys):
    assert main(["plan", "--stack", "dev", "--json"]) == 0
    document = json.loads(capsys.readouterr().out)
    assert document["stack"] == "dev"
    assert document["countsByType"]["aws:ec2/instance:Instance"] == 8
    assert document["resources"] == len(document["resourcesTree"])
    assert len(document["exports"]["hosts"]) == 7


def test_plan_of_an_unknown_stack_says_which_exist(capsys):
    assert main(["plan", "--stack", "nope"]) == 1
    assert "stacks here: dev, lab" in capsys.readouterr().err


def test_the_readme_command_runs_as_a_module():
    result = subprocess.run(
        [sys.executable, "-m", "automation", "plan", "--stack", "lab"],
        cwd=PROJECT_DIR, capture_output=True, text=True, check=False, timeout=120,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "Hosts (43):" in result.stdout


def test_a_usage_error_exits_1_as_2_means_changes_found(capsys):
    with pytest.raises(SystemExit) as stop:
        main(["diff"])
    assert stop.value.code == 1
    assert "the following arguments are required: --stack" in capsys.readouterr().err
