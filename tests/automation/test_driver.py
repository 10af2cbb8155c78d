"""The Automation API driver: no CLI, a clear message; with a CLI, real SDK calls and exit codes.

No Pulumi CLI exists here, so the runs use a stand-in `pulumi` on PATH that answers the few
commands the SDK sends (`version`, `stack select`, `preview --event-log FILE`, `config set`)
the way the CLI does, writing engine events as JSON lines into the event log. Everything
between (LocalWorkspace, Stack, event parsing) is the SDK's own code.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import textwrap

import pytest

from automation import driver
from automation.__main__ import main

FAKE_CLI = """\
#!{python}
import json, os, sys
args = [a for a in sys.argv[1:] if a != "--non-interactive"]
record = {{"args": args, "backend": os.environ.get("PULUMI_BACKEND_URL")}}
if args[:2] == ["config", "set"]:
    record["stdin"] = sys.stdin.read()
with open(os.environ["FAKE_PULUMI_LOG"], "a") as log:
    log.write(json.dumps(record) + "\\n")
if args == ["version"]:
    print("v3.200.0")  # before 3.206 the SDK reads events from a file, not over gRPC
elif args[:2] == ["stack", "select"]:
    if os.environ.get("FAKE_PULUMI_NO_STACK"):
        print("error: no stack named 'lab' found", file=sys.stderr)
        sys.exit(255)
elif args[0] in ("preview", "refresh", "up", "destroy"):
    with open(args[args.index("--event-log") + 1], "a") as events:
        for event in json.load(open(os.environ["FAKE_PULUMI_EVENTS"])):
            events.write(json.dumps(event) + "\\n")
        events.write(json.dumps({{"sequence": 999, "timestamp": 0, "cancelEvent": {{}}}}) + "\\n")
    print("Previewing update (lab):")
    sys.exit(int(os.environ.get("FAKE_PULUMI_EXIT", "0")))
elif args[:2] != ["config", "set"]:
    print(f"fake pulumi: unexpected {{args}}", file=sys.stderr)
    sys.exit(3)
"""
URN = "urn:pulumi:lab::ml-platform::ml-platform:kubeadm:KubeadmCluster$command:remote:Command::"
SECRET = {"4dabf18193072939515e22adb298388d": "1b47061264138c4ac30d75fd1eb44270"}


def create_event(name: str) -> dict:
    state = {
        "type": "command:remote:Command",
        "urn": URN + name,
        "inputs": {"stdin": {**SECRET, "ciphertext": "[secret]"}, "create": "sudo bash -s"},
    }
    metadata = {"op": "create", "urn": URN + name, "type": state["type"], "new": state}
    return {"sequence": 1, "timestamp": 0, "resourcePreEvent": {"metadata": metadata}}


def summary(**changes: int) -> dict:
    return {"sequence": 2, "timestamp": 0, "summaryEvent": {"resourceChanges": changes}}


@pytest.fixture
def fake_cli(tmp_path, monkeypatch):
    """A `pulumi` on PATH; returns a function setting the events it reports and reading the
    commands it received."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    cli = bin_dir / "pulumi"
    cli.write_text(FAKE_CLI.format(python=sys.executable))
    cli.chmod(0o755)
    log, events = tmp_path / "calls.jsonl", tmp_path / "events.json"
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("FAKE_PULUMI_LOG", str(log))
    monkeypatch.setenv("FAKE_PULUMI_EVENTS", str(events))
    monkeypatch.setenv("PULUMI_CONFIG_PASSPHRASE", "correct horse")
    monkeypatch.delenv("PULUMI_BACKEND_URL", raising=False)
    events.write_text("[]")

    def calls(reported: list[dict] | None = None) -> list[dict]:
        if reported is not None:
            events.write_text(json.dumps(reported))
        if not log.exists():
            return []
        return [json.loads(line) for line in log.read_text().splitlines()]

    return calls


@pytest.mark.parametrize("command", ["preview", "up", "refresh", "destroy"])
def test_without_the_cli_it_says_what_to_install_and_stops(command, monkeypatch, capsys):
    monkeypatch.setattr(shutil, "which", lambda name: None)
    assert main([command, "--stack", "lab"]) == 1
    err = capsys.readouterr().err
    assert "the Pulumi CLI is not installed" in err
    assert "curl -fsSL https://get.pulumi.com | sh" in err
    assert "python -m automation plan --stack lab" in err


def test_the_sdks_own_error_for_a_missing_cli_gets_the_same_message(tmp_path, monkeypatch, capsys):
    # `which` found something, but the SDK's `pulumi version` cannot run it.
    monkeypatch.setattr(shutil, "which", lambda name: "/gone/pulumi")
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.setenv("PULUMI_CONFIG_PASSPHRASE", "x")
    assert main(["preview", "--stack", "lab"]) == 1
    assert "curl -fsSL https://get.pulumi.com | sh" in capsys.readouterr().err


def test_a_preview_streams_collects_events_and_writes_the_comment(fake_cli, tmp_path, capsys):
    fake_cli([create_event("join-gpu-041"), summary(create=1, same=142)])
    comment = tmp_path / "preview-lab.md"
    argv = ["preview", "--stack", "lab", "--diff", "--comment-file", str(comment)]
    assert main([*argv, "--backend", "s3://state-bucket"]) == 0
    out, err = capsys.readouterr()
    assert "Previewing update (lab):" in out
    assert "preview of stack 'lab': 1 to create" in err
    body = comment.read_text()
    assert body.startswith("<!-- ml-platform:preview:lab -->")
    assert '+    stdin: "[secret]"' in body
    preview = next(c for c in fake_cli() if c["args"][0] == "preview")
    assert "--diff" in preview["args"] and preview["backend"] == "s3://state-bucket"
    # Changes are judged from the events, so the CLI is not asked to fail on them.
    assert "--expect-no-changes" not in preview["args"]


def test_expect_no_changes_exits_2_on_changes_and_0_without(fake_cli):
    fake_cli([create_event("join-gpu-041"), summary(create=1, same=142)])
    assert main(["preview", "--stack", "lab", "--expect-no-changes"]) == 2
    fake_cli([summary(same=143)])
    assert main(["preview", "--stack", "lab", "--expect-no-changes"]) == 0


def test_a_failed_operation_exits_1_and_says_so_in_the_comment(fake_cli, monkeypatch, tmp_path):
    monkeypatch.setenv("FAKE_PULUMI_EXIT", "255")
    fake_cli([summary(same=1)])
    comment = tmp_path / "c.md"
    argv = ["preview", "--stack", "lab", "--expect-no-changes", "--comment-file", str(comment)]
    assert main(argv) == 1
    assert "### Preview of stack `lab`: failed" in comment.read_text()


def test_refresh_of_a_stack_that_does_not_exist_says_how_to_create_it(
    fake_cli, monkeypatch, capsys
):
    monkeypatch.setenv("FAKE_PULUMI_NO_STACK", "1")
    assert main(["refresh", "--stack", "lab", "--preview-only"]) == 1
    err = capsys.readouterr().err
    assert "no stack 'lab' on file://~" in err and "automation up --stack lab" in err


def test_secret_config_from_the_environment_goes_through_stdin(fake_cli, tmp_path, monkeypatch):
    key = tmp_path / "id_ed25519"
    key.write_text("-----BEGIN OPENSSH PRIVATE KEY-----\nAAAA\n-----END OPENSSH PRIVATE KEY-----\n")
    monkeypatch.setenv("ML_PLATFORM_SSH_PRIVATE_KEY_FILE", str(key))
    fake_cli([summary(same=1)])
    assert main(["preview", "--stack", "lab"]) == 0
    (config,) = [c for c in fake_cli() if c["args"][:2] == ["config", "set"]]
    assert config["args"] == ["config", "set", "--secret", "ml-platform:sshPrivateKey", "--stack", "lab"]  # fmt: skip
    assert config["stdin"] == key.read_text()


def test_passphrase_and_confirmation_are_checked_before_anything_runs(
    fake_cli, monkeypatch, capsys
):
    monkeypatch.delenv("PULUMI_CONFIG_PASSPHRASE")
    assert main(["preview", "--stack", "lab"]) == 1
    assert (
        "set PULUMI_CONFIG_PASSPHRASE, or PULUMI_CONFIG_PASSPHRASE_FILE" in capsys.readouterr().err
    )
    monkeypatch.setenv("PULUMI_CONFIG_PASSPHRASE_FILE", "/nonexistent/passphrase")
    assert main(["preview", "--stack", "lab"]) == 1
    assert "cannot be read" in capsys.readouterr().err
    monkeypatch.setenv("PULUMI_CONFIG_PASSPHRASE", "x")
    assert main(["destroy", "--stack", "lab"]) == 1
    assert "run it again with --yes" in capsys.readouterr().err
    assert fake_cli() == []


def test_helpers():
    assert driver.secret_env_name("ml-platform:sshPrivateKey") == "ML_PLATFORM_SSH_PRIVATE_KEY"
    assert (
        driver.shown_url("postgres://ops:hunter2@db:5432/state")
        == "postgres://ops:***@db:5432/state"
    )
    assert driver.backend_url(None, {}) == "file://~"
    assert driver.backend_url(None, {"PULUMI_BACKEND_URL": "s3://b"}) == "s3://b"
    assert (
        driver.passphrase_problem("https://api.pulumi.com", "lab", driver.PROJECT_DIR, {}) is None
    )
    assert textwrap.dedent(driver.INSTALL_HINT).startswith("error:")
