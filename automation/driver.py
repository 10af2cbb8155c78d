"""`python -m automation preview|up|refresh|destroy --stack NAME`: the real engine, through the
Automation API.

A LocalWorkspace on this repository (its Pulumi.yaml and Pulumi.<stack>.yaml) runs the Pulumi
CLI, streams its progress, and collects its engine events into a change summary, optionally
written as a pull-request comment. Exit codes: 0 done, 1 failed, 2 changes found when
`--expect-no-changes` is given (what drift checks look for).

It needs the Pulumi CLI; without it, it says what to install and stops. The offline commands
(`plan`, `diff`) need no CLI.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO
from urllib.parse import urlsplit, urlunsplit

import yaml
from pulumi import automation as auto

from automation.comment import headline, render
from automation.engine import PROJECT_DIR, declared_secrets
from automation.events import EventCollector

EXIT_OK, EXIT_FAILED, EXIT_CHANGES = 0, 1, 2
# `pulumi login --local`: state under ~/.pulumi, shared with the CLI used by hand.
DEFAULT_BACKEND = "file://~"
INSTALL_HINT = """\
error: the Pulumi CLI is not installed (no `pulumi` on PATH).
`python -m automation {command}` runs the real engine through the Automation API, which drives
the CLI; nothing was run. Install the CLI, then run the command again:

    curl -fsSL https://get.pulumi.com | sh      # installs into ~/.pulumi/bin
    export PATH="$HOME/.pulumi/bin:$PATH"

(other ways: https://www.pulumi.com/docs/iac/download-install/). Without the CLI, the offline
commands still work: `python -m automation plan --stack {stack}` and
`python -m automation diff --stack {stack} --base origin/main`."""


class CliMissing(Exception):
    """No Pulumi CLI to drive."""


@dataclass(frozen=True)
class Operation:
    """One run of the real engine, as the command line asked for it."""

    command: str  # preview | up | refresh | destroy
    stack: str
    backend: str | None = None
    diff: bool = False
    # preview/up: refresh the state from the providers first (in memory for a preview).
    refresh: bool = False
    # refresh: show what a refresh would change, write nothing.
    preview_only: bool = False
    expect_no_changes: bool = False
    message: str | None = None
    comment_file: Path | None = None
    yes: bool = False
    project_dir: Path = PROJECT_DIR

    @property
    def kind(self) -> str:
        """The comment kind, part of its marker."""
        return (
            "refresh-preview" if self.command == "refresh" and self.preview_only else self.command
        )


def backend_url(explicit: str | None, environ: Mapping[str, str]) -> str:
    return explicit or environ.get("PULUMI_BACKEND_URL") or DEFAULT_BACKEND


def shown_url(url: str) -> str:
    """The backend URL with any password in it hidden (a postgres:// backend may hold one)."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.hostname or ""
    netloc = f"{parts.username}:***@{host}" + (f":{parts.port}" if parts.port else "")
    return urlunsplit(parts._replace(netloc=netloc))


def passphrase_problem(
    backend: str, stack: str, project_dir: Path, environ: Mapping[str, str]
) -> str | None:
    """Why the CLI would stop for a missing passphrase, said before it runs; None if fine.

    Self-managed backends encrypt secrets with a passphrase unless the stack names another
    secrets provider; the CLI reads it from PULUMI_CONFIG_PASSPHRASE or from the file named by
    PULUMI_CONFIG_PASSPHRASE_FILE, and in CI there is no one to prompt."""
    if urlsplit(backend).scheme in ("http", "https"):
        return None  # Pulumi Cloud keeps the keys
    # `org/project/lab` keeps its settings in Pulumi.lab.yaml, as the CLI does.
    stack_file = project_dir / f"Pulumi.{stack.split('/')[-1]}.yaml"
    settings = yaml.safe_load(stack_file.read_text()) if stack_file.exists() else None
    provider = str((settings or {}).get("secretsprovider") or "passphrase")
    if not provider.startswith("passphrase"):
        return None
    if "PULUMI_CONFIG_PASSPHRASE" in environ:
        return None
    path = environ.get("PULUMI_CONFIG_PASSPHRASE_FILE")
    if path is None:
        return (
            f"stack {stack!r} keeps its secrets with a passphrase: set PULUMI_CONFIG_PASSPHRASE, "
            "or PULUMI_CONFIG_PASSPHRASE_FILE to a file that holds it."
        )
    if not os.access(path, os.R_OK):
        return f"PULUMI_CONFIG_PASSPHRASE_FILE names {path}, which cannot be read."
    return None


def secret_env_name(key: str) -> str:
    """`ml-platform:sshPrivateKey` -> `ML_PLATFORM_SSH_PRIVATE_KEY`."""
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])|[:-]", "_", key).upper()


def secrets_from_environment(
    project_dir: Path, environ: Mapping[str, str]
) -> dict[str, tuple[str, str]]:
    """The declared secret config values that the environment provides, as key -> (value,
    the variable it came from): NAME holds the value, NAME_FILE the path of a file."""
    found = {}
    for key in declared_secrets(project_dir):
        name = secret_env_name(key)
        # Empty counts as unset: GitHub Actions sets a missing secret to "".
        if environ.get(name):
            found[key] = (environ[name], name)
        elif environ.get(f"{name}_FILE"):
            found[key] = (Path(environ[f"{name}_FILE"]).read_text(), f"{name}_FILE")
    return found


def set_secret(stack: auto.Stack, key: str, value: str) -> None:
    """`pulumi config set --secret KEY` with the value on stdin: the SDK's `set_config` puts
    it on the command line, where other processes can read it."""
    workspace = stack.workspace
    command = workspace.pulumi_command.command
    subprocess.run(
        [command, "config", "set", "--secret", key, "--stack", stack.name],
        input=value,
        text=True,
        cwd=workspace.work_dir,
        env={**os.environ, **workspace.env_vars},
        capture_output=True,
        check=True,
    )


def open_stack(operation: Operation, backend: str) -> auto.Stack:
    """The stack in a LocalWorkspace on the project directory. `preview` and `up` create it
    on first use, as the first preview of a new environment must work; `refresh` and
    `destroy` only select it."""
    if shutil.which("pulumi") is None:
        raise CliMissing()
    options = auto.LocalWorkspaceOptions(
        env_vars={"PULUMI_BACKEND_URL": backend, "PULUMI_SKIP_UPDATE_CHECK": "true"}
    )
    work_dir = str(operation.project_dir)
    try:
        if operation.command in ("preview", "up"):
            return auto.create_or_select_stack(operation.stack, work_dir=work_dir, opts=options)
        return auto.select_stack(operation.stack, work_dir=work_dir, opts=options)
    except FileNotFoundError as error:
        # The SDK runs `pulumi version` first; a CLI gone since `which` fails there.
        if Path(str(error.filename or "")).name == "pulumi":
            raise CliMissing() from error
        raise


def execute(
    stack: auto.Stack, operation: Operation, collector: EventCollector, out: TextIO, err: TextIO
) -> None:
    """Run the operation, streaming the CLI's output and its engine events to `collector`."""
    streams: dict[str, Any] = {
        "on_output": lambda line: print(line, file=out, flush=True),
        "on_error": lambda line: print(line, file=err, flush=True),
        "on_event": collector,
    }
    diff = operation.diff or None
    if operation.command == "preview":
        stack.preview(diff=diff, refresh=operation.refresh or None, **streams)
    elif operation.command == "up":
        # show_secrets only concerns the returned summary's config; it is never printed.
        stack.up(
            diff=diff,
            refresh=operation.refresh or None,
            message=operation.message,
            show_secrets=False,
            **streams,
        )
    elif operation.command == "refresh" and operation.preview_only:
        stack.preview_refresh(diff=diff, show_secrets=False, **streams)
    elif operation.command == "refresh":
        stack.refresh(diff=diff, message=operation.message, show_secrets=False, **streams)
    elif operation.command == "destroy":
        stack.destroy(diff=diff, message=operation.message, show_secrets=False, **streams)
    else:
        raise ValueError(f"unknown command {operation.command!r}")


def run(
    operation: Operation,
    environ: Mapping[str, str] | None = None,
    out: TextIO | None = None,
    err: TextIO | None = None,
) -> int:
    """Run `operation` and return the exit code."""
    environ = os.environ if environ is None else environ
    out, err = out or sys.stdout, err or sys.stderr
    if shutil.which("pulumi") is None:
        print(INSTALL_HINT.format(command=operation.command, stack=operation.stack), file=err)
        return EXIT_FAILED
    if operation.command == "destroy" and not operation.yes:
        print(
            f"error: destroy deletes every resource of stack {operation.stack!r}; "
            "run it again with --yes to confirm.",
            file=err,
        )
        return EXIT_FAILED
    backend = backend_url(operation.backend, environ)
    problem = passphrase_problem(backend, operation.stack, operation.project_dir, environ)
    if problem:
        print(f"error: {problem}", file=err)
        return EXIT_FAILED
    print(f"{operation.kind} of stack {operation.stack!r} on {shown_url(backend)}", file=err)
    try:
        stack = open_stack(operation, backend)
        for key, (value, source) in secrets_from_environment(
            operation.project_dir, environ
        ).items():
            set_secret(stack, key, value)
            print(f"set {key} (secret) from ${source}", file=err)
    except CliMissing:
        print(INSTALL_HINT.format(command=operation.command, stack=operation.stack), file=err)
        return EXIT_FAILED
    except auto.StackNotFoundError:
        print(
            f"error: no stack {operation.stack!r} on {shown_url(backend)}; "
            f"`python -m automation up --stack {operation.stack}` creates it.",
            file=err,
        )
        return EXIT_FAILED
    except (auto.CommandError, auto.InvalidVersionError) as error:
        print(f"error: could not open stack {operation.stack!r}: {error}", file=err)
        return EXIT_FAILED
    except subprocess.CalledProcessError as error:
        print(f"error: setting a secret of stack {operation.stack!r} failed:", file=err)
        print(error.stderr.strip(), file=err)
        return EXIT_FAILED
    collector = EventCollector(operation.stack, operation.kind)
    try:
        execute(stack, operation, collector, out, err)
        failed = False
    except auto.CommandError:
        failed = True
    summary = collector.summary()
    if failed:
        # The CLI's own output, streamed above, says what went wrong.
        print(
            f"error: pulumi {operation.command} of stack {operation.stack!r} failed; "
            "its output above says why.",
            file=err,
        )
        if not summary.errors:
            summary.errors.append(f"pulumi {operation.command} failed; the run's log says why.")
    else:
        print(f"{operation.kind} of stack {operation.stack!r}: {headline(summary)}", file=err)
    if operation.comment_file is not None:
        text = render(summary, context=_context(environ), kind=operation.kind)
        operation.comment_file.write_text(text + "\n")
    if failed:
        return EXIT_FAILED
    if operation.expect_no_changes and summary.has_changes():
        print(f"changes found in stack {operation.stack!r} (--expect-no-changes)", file=err)
        return EXIT_CHANGES
    return EXIT_OK


def _context(environ: Mapping[str, str]) -> str:
    """A line naming the commit and the CI run, when running in GitHub Actions."""
    sha, server = environ.get("GITHUB_SHA", ""), environ.get("GITHUB_SERVER_URL", "")
    repository, run_id = environ.get("GITHUB_REPOSITORY", ""), environ.get("GITHUB_RUN_ID", "")
    if not (sha and repository and run_id):
        return ""
    return f"Commit {sha[:10]}, [workflow run]({server}/{repository}/actions/runs/{run_id})."
