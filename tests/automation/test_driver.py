"""The Automation API driver, with a stand-in CLI: what it runs, what it refuses, what it says.

No Pulumi CLI exists here, so the runs use a stand-in `pulumi` on PATH that answers the
commands the SDK sends (`version`, `whoami --json`, `stack select`, `stack init`, `preview`
and the other operations with `--event-log FILE`, `config set`) the way the CLI does: the same
error texts on the same streams, engine events as JSON lines in the event log. Everything
between (LocalWorkspace, Stack, error classification, event parsing) is the SDK's own code.
"""

from __future__ import annotations

import json
import os
import shutil
import sys

import pytest

from automation import driver
from automation.__main__ import main

FAKE_CLI = """\
#!{python}
import json, os, sys
args = [a for a in sys.argv[1:] if a != "--non-interactive"]
env = os.environ
record = {{
    "args": args,
    "backend": env.get("PULUMI_BACKEND_URL"),
    "passphrase": env.get("PULUMI_CONFIG_PASSPHRASE"),
}}
if args[:2] == ["config", "set"]:
    record["stdin"] = sys.stdin.read()
with open(env["FAKE_PULUMI_LOG"], "a") as log:
    log.write(json.dumps(record) + "\\n")
stacks = env["FAKE_PULUMI_STACKS"]
if args == ["version"]:
    print(env.get("FAKE_PULUMI_VERSION", "v3.200.0"))  # < 3.206: events come through a file
    if env.get("FAKE_PULUMI_VERSION_STDERR"):
        print(env["FAKE_PULUMI_VERSION_STDERR"], file=sys.stderr)
    sys.exit(int(env.get("FAKE_PULUMI_VERSION_EXIT", "0")))
elif args == ["whoami", "--json"]:
    if not env.get("FAKE_PULUMI_LOGIN"):
        # What the CLI says with no stored login and no token, non-interactively.
        print("error: PULUMI_ACCESS_TOKEN must be set for login during non-interactive CLI "
              "sessions", file=sys.stderr)
        sys.exit(255)
    print(json.dumps({{"user": "ops", "url": env["FAKE_PULUMI_LOGIN"]}}))
elif args[:2] == ["stack", "select"]:
    name = args[args.index("--stack") + 1]
    if not os.path.exists(os.path.join(stacks, name)):
        print(f"error: no stack named '{{name}}' found", file=sys.stderr)
        sys.exit(255)
elif args[:2] == ["stack", "init"]:
    open(os.path.join(stacks, args[2]), "w").close()
elif args[:2] == ["stack", "output"]:  # after `up`
    print("{{}}")
elif args[:2] == ["stack", "history"]:  # after `up`, `refresh`, `destroy`
    print(json.dumps([{{"kind": "update", "startTime": "2026-11-02T04:23:10.000000Z",
                       "message": "", "environment": {{}}, "config": {{}},
                       "result": "succeeded"}}]))
elif args[0] in ("preview", "refresh", "up", "destroy"):
    with open(args[args.index("--event-log") + 1], "a") as events:
        for event in json.load(open(env["FAKE_PULUMI_EVENTS"])):
            events.write(json.dumps(event) + "\\n")
        events.write(json.dumps({{"sequence": 999, "timestamp": 0, "cancelEvent": {{}}}}) + "\\n")
    print("Previewing update (lab):")
    if env.get("FAKE_PULUMI_STDERR"):
        print(env["FAKE_PULUMI_STDERR"], file=sys.stderr)
    sys.exit(int(env.get("FAKE_PULUMI_EXIT", "0")))
elif args[:2] != ["config", "set"]:
    print(f"fake pulumi: unexpected {{args}}", file=sys.stderr)
    sys.exit(3)
"""
URN = "urn:pulumi:lab::ml-platform::ml-platform:kubeadm:KubeadmCluster$command:remote:Command::"
SECRET = {"4dabf18193072939515e22adb298388d": "1b47061264138c4ac30d75fd1eb44270"}
# What the CLI prints when a self-managed backend's stack is locked (pkg/backend/diy/lock.go).
LOCKED = (
    "error: the stack is currently locked by 1 lock(s). Either wait for the other process(es) "
    "to end or delete the lock file with `pulumi cancel`.\n"
    "  s3://ml-state/.pulumi/locks/organization/ml-platform/lab/4f2a.json: created by "
    "runner@ci-7 (pid 4242) at 2026-11-02T04:23:10Z"
)


def create_event(name: str) -> dict:
    state = {
        "type": "command:remote:Command",
        "urn": URN + name,
        "inputs": {"stdin": {**SECRET, "ciphertext": "[secret]"}, "create": "sudo bash -s"},
    }
    metadata = {"op": "create", "urn": URN + name, "type": state["type"], "new": state}
    return {"sequence": 1, "timestamp": 0, "resourcePreEvent": {"metadata": metadata}}


def summary(policy_packs: dict | None = None, **changes: int) -> dict:
    event = {"resourceChanges": changes, "PolicyPacks": policy_packs or {}}
    return {"sequence": 2, "timestamp": 0, "summaryEvent": event}


@pytest.fixture
def fake_cli(tmp_path, monkeypatch):
    """A `pulumi` on PATH, on a backend where stacks `lab` and `dev` exist; returns a function
    setting the events it reports and reading the commands it received."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    cli = bin_dir / "pulumi"
    cli.write_text(FAKE_CLI.format(python=sys.executable))
    cli.chmod(0o755)
    stacks = tmp_path / "stacks"
    stacks.mkdir()
    for name in ("lab", "dev"):
        (stacks / name).touch()
    log, events = tmp_path / "calls.jsonl", tmp_path / "events.json"
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("FAKE_PULUMI_LOG", str(log))
    monkeypatch.setenv("FAKE_PULUMI_EVENTS", str(events))
    monkeypatch.setenv("FAKE_PULUMI_STACKS", str(stacks))
    monkeypatch.setenv("PULUMI_CONFIG_PASSPHRASE", "correct horse")
    monkeypatch.setenv("PULUMI_BACKEND_URL", "s3://ml-state")
    for name in ("PULUMI_CONFIG_PASSPHRASE_FILE", "ML_PLATFORM_SSH_PRIVATE_KEY"):
        monkeypatch.delenv(name, raising=False)
    events.write_text(json.dumps([summary(same=1)]))

    def calls(reported: list[dict] | None = None) -> list[dict]:
        if reported is not None:
            events.write_text(json.dumps(reported))
        if not log.exists():
            return []
        return [json.loads(line) for line in log.read_text().splitlines()]

    calls.stacks = stacks
    calls.bin = bin_dir
    return calls


def commands(calls: list[dict]) -> list[list[str]]:
    return [c["args"][:2] if c["args"][0] in ("stack", "config") else c["args"][:1] for c in calls]


# ---- no CLI, or a broken one -------------------------------------------------------------------


@pytest.mark.parametrize("command", ["preview", "up", "refresh", "destroy"])
def test_without_the_cli_it_says_what_to_install_and_stops(command, monkeypatch, capsys):
    monkeypatch.setattr(shutil, "which", lambda name: None)
    argv = [command, "--stack", "lab"] + (["--yes"] if command == "destroy" else [])
    assert main(argv) == 1
    err = capsys.readouterr().err
    assert "error: the Pulumi CLI is not installed" in err
    # The version CI installs, from the one file that pins it.
    version = (driver.PROJECT_DIR / ".pulumi-version").read_text().strip()
    assert f"curl -fsSL https://get.pulumi.com | sh -s -- --version {version}" in err
    assert "python -m automation plan --stack lab" in err


def test_the_sdks_own_error_for_a_missing_cli_gets_the_same_message(tmp_path, monkeypatch, capsys):
    # `which` found something, but the SDK's `pulumi version` cannot run it.
    found = iter(["/gone/pulumi"])
    monkeypatch.setattr(shutil, "which", lambda name: next(found, None))
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.setenv("PULUMI_BACKEND_URL", "s3://ml-state")
    monkeypatch.setenv("PULUMI_CONFIG_PASSPHRASE", "x")
    assert main(["preview", "--stack", "lab"]) == 1
    assert "the Pulumi CLI is not installed" in capsys.readouterr().err


def test_a_cli_whose_version_command_fails_is_named_broken_and_nothing_runs(
    fake_cli, monkeypatch, capfd
):
    monkeypatch.setenv("FAKE_PULUMI_VERSION_EXIT", "2")
    monkeypatch.setenv("FAKE_PULUMI_VERSION_STDERR", "panic: runtime error: invalid memory address")
    assert main(["preview", "--stack", "lab"]) == 1
    err = capfd.readouterr().err
    assert f"the Pulumi CLI at {fake_cli.bin / 'pulumi'} does not work" in err
    assert "`pulumi version` exited 2" in err and "Reinstall it: curl -fsSL" in err
    assert "not installed" not in err
    assert commands(fake_cli()) == [["version"]]


def test_a_cli_too_old_for_the_sdk_says_so(fake_cli, monkeypatch, capsys):
    monkeypatch.setenv("FAKE_PULUMI_VERSION", "v3.0.0")
    assert main(["preview", "--stack", "lab"]) == 1
    err = capsys.readouterr().err
    assert "does not work: Minimum version requirement failed" in err


@pytest.mark.parametrize(
    "content, reason",
    [
        ("#!/nonexistent/interpreter\n", "is its interpreter or loader missing?"),
        ("\x7fELF garbage, not a program\n", "it cannot be run (Exec format error)"),
    ],
)
def test_a_cli_that_cannot_be_executed_is_named_broken_not_missing(
    fake_cli, content, reason, capsys
):
    (fake_cli.bin / "pulumi").write_text(content)
    assert main(["preview", "--stack", "lab"]) == 1
    err = capsys.readouterr().err
    assert "does not work" in err and reason in err and "not installed" not in err


# ---- the backend -------------------------------------------------------------------------------


def test_without_a_backend_given_it_uses_the_clis_login_and_forces_none(
    fake_cli, monkeypatch, capsys
):
    monkeypatch.delenv("PULUMI_BACKEND_URL")
    monkeypatch.setenv("FAKE_PULUMI_LOGIN", "s3://team-state?region=eu-west-1")
    assert main(["up", "--stack", "dev"]) == 0
    err = capsys.readouterr().err
    assert "up of stack 'dev' on s3://team-state?region=eu-west-1 (the Pulumi CLI's login)" in err
    calls = fake_cli()
    assert ["whoami"] in commands(calls) and ["up"] in commands(calls)
    # Nothing set PULUMI_BACKEND_URL for the CLI: it used its own login, for every command.
    assert all(call["backend"] is None for call in calls)
    assert "file://~" not in err


def test_an_empty_backend_variable_is_unset_as_for_the_cli(fake_cli, monkeypatch, capsys):
    monkeypatch.setenv("PULUMI_BACKEND_URL", "")
    monkeypatch.setenv("FAKE_PULUMI_LOGIN", "https://api.pulumi.com")
    assert main(["preview", "--stack", "lab"]) == 0
    assert "on https://api.pulumi.com (the Pulumi CLI's login)" in capsys.readouterr().err


def test_the_given_backend_wins_and_reaches_every_cli_command(fake_cli, monkeypatch, capsys):
    monkeypatch.setenv("FAKE_PULUMI_LOGIN", "file://~")
    assert main(["preview", "--stack", "lab", "--backend", "gs://other-state"]) == 0
    assert "on gs://other-state (--backend)" in capsys.readouterr().err
    calls = fake_cli()
    assert ["whoami"] not in commands(calls)
    assert {c["backend"] for c in calls if c["args"] != ["version"]} == {"gs://other-state"}
    assert main(["preview", "--stack", "lab"]) == 0
    assert "on s3://ml-state ($PULUMI_BACKEND_URL)" in capsys.readouterr().err


def test_the_backend_line_shows_no_secret(fake_cli, monkeypatch, capsys):
    url = "postgres://ops:hunter2@db:5432/state?sslmode=require&password=s3cr3t&access_key=AKIA9"
    monkeypatch.setenv("PULUMI_BACKEND_URL", url)
    assert main(["preview", "--stack", "lab"]) == 0
    err = capsys.readouterr().err
    assert "on postgres://ops:***@db:5432/state?sslmode=require&password=***&access_key=***" in err
    assert "hunter2" not in err and "s3cr3t" not in err and "AKIA9" not in err


def test_not_logged_in_and_no_backend_given_says_how_to_choose_one(fake_cli, monkeypatch, capsys):
    monkeypatch.delenv("PULUMI_BACKEND_URL")
    assert main(["preview", "--stack", "lab"]) == 1
    err = capsys.readouterr().err
    assert "no state backend" in err and "the Pulumi CLI is not logged in" in err
    assert "PULUMI_ACCESS_TOKEN must be set for login" in err  # the CLI's own reason
    assert "`pulumi login <backend URL>`" in err and "--backend" in err
    assert commands(fake_cli()) == [["version"], ["whoami"]]


def test_a_backend_in_pulumi_yaml_is_used_as_the_cli_would(tmp_path, monkeypatch):
    (tmp_path / "Pulumi.yaml").write_text("name: x\nbackend:\n  url: s3://project-state\n")
    monkeypatch.delenv("PULUMI_BACKEND_URL", raising=False)
    chosen = driver.given_backend(None, {}, tmp_path)
    assert (chosen.url, chosen.source) == ("s3://project-state", "backend.url in Pulumi.yaml")
    assert (
        driver.given_backend(None, {"PULUMI_BACKEND_URL": "s3://env"}, tmp_path).url == "s3://env"
    )
    assert driver.given_backend(None, {}, driver.PROJECT_DIR) is None


# ---- stacks are created only by `up` ---------------------------------------------------------


@pytest.mark.parametrize(
    "argv",
    [
        ["preview"],
        ["preview", "--refresh"],
        ["refresh"],
        ["refresh", "--preview-only"],
        ["destroy", "--yes"],
    ],
)
def test_a_read_only_run_of_a_new_stack_name_creates_nothing(fake_cli, argv, capsys, tmp_path):
    (fake_cli.stacks / "lab").unlink()
    comment = tmp_path / "comment.md"
    assert main([*argv, "--stack", "lab", "--comment-file", str(comment)]) == 1
    err = capsys.readouterr().err
    assert "no stack 'lab' on s3://ml-state ($PULUMI_BACKEND_URL)" in err
    assert f"`{argv[0]}` never creates one" in err and "`pulumi stack init lab`" in err
    assert commands(fake_cli()) == [["version"], ["stack", "select"]]
    assert not (fake_cli.stacks / "lab").exists()
    # Reviewers read the comment, not the log.
    assert "failed" in comment.read_text() and "pulumi stack init lab" in comment.read_text()


def test_up_creates_a_stack_that_does_not_exist(fake_cli, capsys):
    (fake_cli.stacks / "dev").unlink()
    assert main(["up", "--stack", "dev"]) == 0
    assert commands(fake_cli())[:4] == [["version"], ["stack", "select"], ["stack", "init"], ["up"]]
    assert (fake_cli.stacks / "dev").exists()


# ---- the passphrase ----------------------------------------------------------------------------


def test_passphrase_and_confirmation_are_checked_before_the_cli_runs(fake_cli, monkeypatch, capsys):
    monkeypatch.delenv("PULUMI_CONFIG_PASSPHRASE")
    assert main(["preview", "--stack", "lab"]) == 1
    err = capsys.readouterr().err
    assert "stack 'lab' keeps its secrets with a passphrase: set PULUMI_CONFIG_PASSPHRASE" in err
    monkeypatch.setenv("PULUMI_CONFIG_PASSPHRASE_FILE", "/nonexistent/passphrase")
    assert main(["preview", "--stack", "lab"]) == 1
    assert "cannot be read" in capsys.readouterr().err
    monkeypatch.setenv("PULUMI_CONFIG_PASSPHRASE", "x")
    assert main(["destroy", "--stack", "lab"]) == 1
    assert "run it again with --yes" in capsys.readouterr().err
    assert fake_cli() == []


def test_an_empty_passphrase_is_a_missing_passphrase(fake_cli, monkeypatch, capsys, tmp_path):
    # GitHub Actions gives a secret that is not defined as an empty string.
    monkeypatch.setenv("PULUMI_CONFIG_PASSPHRASE", "")
    assert main(["up", "--stack", "lab"]) == 1
    err = capsys.readouterr().err
    assert "keeps its secrets with a passphrase" in err and "set but empty" in err
    empty = tmp_path / "empty"
    empty.write_text("\n")
    monkeypatch.setenv("PULUMI_CONFIG_PASSPHRASE_FILE", str(empty))
    assert main(["up", "--stack", "lab"]) == 1
    assert "which is empty: an empty passphrase is a missing one" in capsys.readouterr().err
    assert fake_cli() == []  # no stack was created with an empty passphrase


def test_with_an_empty_variable_the_cli_gets_the_files_passphrase(fake_cli, monkeypatch, tmp_path):
    # The CLI would take the empty variable over the file; the driver hands it the file's.
    phrase = tmp_path / "passphrase"
    phrase.write_text("from the file\n")
    monkeypatch.setenv("PULUMI_CONFIG_PASSPHRASE", "")
    monkeypatch.setenv("PULUMI_CONFIG_PASSPHRASE_FILE", str(phrase))
    assert main(["preview", "--stack", "lab"]) == 0
    calls = [c for c in fake_cli() if c["args"] != ["version"]]
    assert calls and {c["passphrase"] for c in calls} == {"from the file"}


def test_pulumi_cloud_needs_no_passphrase_unless_the_stack_names_one(tmp_path):
    cloud, diy = "https://api.pulumi.com", "s3://ml-state"
    assert driver.passphrase_env(cloud, "lab", driver.PROJECT_DIR, {}) == {}
    with pytest.raises(driver.Stop, match="keeps its secrets with a passphrase"):
        driver.passphrase_env(diy, "lab", driver.PROJECT_DIR, {})
    (tmp_path / "Pulumi.lab.yaml").write_text("secretsprovider: passphrase\nconfig: {}\n")
    with pytest.raises(driver.Stop):
        driver.passphrase_env(cloud, "org/ml-platform/lab", tmp_path, {})
    (tmp_path / "Pulumi.lab.yaml").write_text("secretsprovider: awskms://alias/ml\n")
    assert driver.passphrase_env(diy, "lab", tmp_path, {}) == {}


def test_check_runs_the_same_checks_and_nothing_else(monkeypatch, capsys):
    monkeypatch.setattr(shutil, "which", lambda name: None)  # no CLI needed with a backend
    environ = {"PULUMI_BACKEND_URL": "s3://ml-state", "PULUMI_CONFIG_PASSPHRASE": "x"}
    assert driver.check("lab", environ=environ) == 0
    assert "stack 'lab': backend s3://ml-state ($PULUMI_BACKEND_URL)" in capsys.readouterr().err
    assert driver.check("lab", environ={**environ, "PULUMI_CONFIG_PASSPHRASE": ""}) == 1
    assert "set but empty" in capsys.readouterr().err
    assert driver.check("lab", environ={}) == 1  # no backend named, and no CLI to ask
    assert "the Pulumi CLI is not installed" in capsys.readouterr().err


# ---- running ---------------------------------------------------------------------------------


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
    body = comment.read_text()
    assert "### Preview of stack `lab`: failed" in body
    assert "pulumi preview failed; the run's log says why." in body


def test_a_locked_stack_names_the_lock_and_pulumi_cancel(fake_cli, monkeypatch, tmp_path, capsys):
    monkeypatch.setenv("FAKE_PULUMI_EXIT", "255")
    monkeypatch.setenv("FAKE_PULUMI_STDERR", LOCKED)
    comment = tmp_path / "up.md"
    assert main(["up", "--stack", "lab", "--comment-file", str(comment)]) == 1
    err = capsys.readouterr().err
    lock = (
        "s3://ml-state/.pulumi/locks/organization/ml-platform/lab/4f2a.json: created by runner@ci-7"
    )
    assert f"error: stack 'lab' is locked by another update: {lock}" in err
    assert "`pulumi cancel --stack lab --yes`" in err
    body = comment.read_text()
    assert lock in body and "pulumi cancel --stack lab --yes" in body


def test_a_cloud_update_conflict_says_another_update_runs(fake_cli, monkeypatch, capsys):
    monkeypatch.setenv("FAKE_PULUMI_EXIT", "255")
    monkeypatch.setenv(
        "FAKE_PULUMI_STDERR", "error: [409] Conflict: Another update is currently in progress."
    )
    monkeypatch.setenv("PULUMI_BACKEND_URL", "https://api.pulumi.com")
    assert main(["refresh", "--stack", "lab"]) == 1
    err = capsys.readouterr().err
    assert "another update of stack 'lab' is in progress on https://api.pulumi.com" in err
    assert "`pulumi cancel --stack lab --yes`" in err


def test_policy_violations_reach_the_log_and_the_comment(fake_cli, monkeypatch, tmp_path, capsys):
    violation = {
        "message": "<{%reset%}>Buckets must not be public.\n<{%reset%}>",
        "color": "raw",
        "policyName": "no-public-buckets",
        "policyPackName": "ml-guard",
        "policyPackVersion": "0.3.0",
        "enforcementLevel": "advisory",
        "resourceUrn": URN + "artifacts",
    }
    fake_cli([
        {"sequence": 1, "timestamp": 0, "policyEvent": violation},
        summary(policy_packs={"ml-guard": "0.3.0"}, same=3),
    ])  # fmt: skip
    comment = tmp_path / "c.md"
    assert main(["preview", "--stack", "lab", "--comment-file", str(comment)]) == 0
    assert "preview of stack 'lab': no changes; 1 policy violation" in capsys.readouterr().err
    body = comment.read_text()
    assert "Policy packs: `ml-guard` 0.3.0." in body
    line = "- advisory `ml-guard/no-public-buckets` on `artifacts`: Buckets must not be public."
    assert line in body and "<{%" not in body


def test_secret_config_from_the_environment_goes_through_stdin(fake_cli, tmp_path, monkeypatch):
    key = tmp_path / "id_ed25519"
    key.write_text("-----BEGIN OPENSSH PRIVATE KEY-----\nAAAA\n-----END OPENSSH PRIVATE KEY-----\n")
    monkeypatch.setenv("ML_PLATFORM_SSH_PRIVATE_KEY_FILE", str(key))
    fake_cli([summary(same=1)])
    assert main(["preview", "--stack", "lab"]) == 0
    (config,) = [c for c in fake_cli() if c["args"][:2] == ["config", "set"]]
    assert config["args"] == ["config", "set", "--secret", "ml-platform:sshPrivateKey", "--stack", "lab"]  # fmt: skip
    assert config["stdin"] == key.read_text()


def test_helpers():
    assert driver.secret_env_name("ml-platform:sshPrivateKey") == "ML_PLATFORM_SSH_PRIVATE_KEY"
    assert (
        driver.shown_url("postgres://ops:hunter2@db:5432/state")
        == "postgres://ops:***@db:5432/state"
    )
    assert driver.shown_url("s3://b?region=eu-west-1") == "s3://b?region=eu-west-1"
    assert driver.given_backend(None, {}) is None  # no file://~ fallback any more
    assert driver.given_backend("s3://x", {"PULUMI_BACKEND_URL": "s3://b"}).source == "--backend"
