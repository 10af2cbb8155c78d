"""`python -m automation preview|up|refresh|destroy --stack NAME`: the real engine, through the
Automation API; `python -m automation check --stack NAME`: what those check before they start.

A LocalWorkspace on this repository (its Pulumi.yaml and Pulumi.<stack>.yaml) runs the Pulumi
CLI, streams its progress, and collects its engine events into a change summary, optionally
written as a pull-request comment. Exit codes: 0 done, 1 failed, 2 changes found when
`--expect-no-changes` is given (what drift checks look for).

The state backend is never forced: `--backend`, else PULUMI_BACKEND_URL, else `backend.url` in
Pulumi.yaml, else the backend the CLI is logged in to (`pulumi whoami`): the CLI's own order
(pkg/workspace/creds.go, GetCurrentCloudURL). The line naming the stack says which was used.

Only `up` creates a stack. `preview`, `refresh` (with or without `--preview-only`) and `destroy`
select an existing one: a read-only run never leaves a stack behind, and a stack that does not
exist is an error naming the command that creates it.

It needs a working Pulumi CLI; without one it says what to install and stops. The offline
commands (`plan`, `diff`) need no CLI.
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
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import yaml
from pulumi import automation as auto

from automation.comment import headline, render
from automation.engine import PROJECT_DIR, declared_secrets
from automation.events import ChangeSummary, EventCollector

EXIT_OK, EXIT_FAILED, EXIT_CHANGES = 0, 1, 2
# The Pulumi CLI version CI installs; every workflow reads it from this file.
VERSION_FILE = ".pulumi-version"
# The one command that may create its stack.
CREATES_STACK = frozenset({"up"})
# Query parameters of a backend URL whose values are not shown.
_SENSITIVE_QUERY = re.compile(r"pass|secret|token|key|credential|signature|sig$", re.IGNORECASE)
# A lock in the CLI's error for a locked self-managed backend (pkg/backend/diy/lock.go):
# "  <lock URL>: created by <user>@<host> (pid <n>) at <time>".
_LOCK_LINE = re.compile(r"^\s*(?P<lock>\S.*): created by (?P<by>\S+) \(pid \d+\) at \S+\s*$")
# Pulumi Cloud's answer while another update of the stack runs (sdk/python automation/errors.py).
_CLOUD_CONFLICT = "[409] Conflict"


class Stop(Exception):
    """A reason to stop before the operation runs; the message says what to do."""


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


@dataclass(frozen=True)
class Backend:
    """The state backend an operation uses, and where that choice came from."""

    url: str
    source: str

    def __str__(self) -> str:
        return f"{shown_url(self.url)} ({self.source})"


# ---- the CLI ---------------------------------------------------------------------------------


def pinned_cli_version(project_dir: Path = PROJECT_DIR) -> str | None:
    """The CLI version CI installs, from `.pulumi-version`; None without that file."""
    try:
        return (project_dir / VERSION_FILE).read_text().strip() or None
    except OSError:
        return None


def _install_command(project_dir: Path) -> str:
    version = pinned_cli_version(project_dir)
    pinned = f" -s -- --version {version}" if version else ""
    return f"curl -fsSL https://get.pulumi.com | sh{pinned}"


def install_hint(command: str, stack: str, project_dir: Path = PROJECT_DIR) -> str:
    version = pinned_cli_version(project_dir)
    pinned = f"CI installs {version}, the version in {VERSION_FILE}; " if version else ""
    return f"""\
the Pulumi CLI is not installed (no `pulumi` on PATH).
`python -m automation {command}` runs the real engine through the Automation API, which drives
the CLI; nothing was run. Install the CLI, then run the command again:

    {_install_command(project_dir)}      # installs into ~/.pulumi/bin
    export PATH="$HOME/.pulumi/bin:$PATH"

({pinned}other ways: https://www.pulumi.com/docs/iac/download-install/). Without the CLI, the
offline commands still work: `python -m automation plan --stack {stack}` and
`python -m automation diff --stack {stack} --base origin/main`."""


def _broken_cli(path: str, reason: str, project_dir: Path) -> Stop:
    return Stop(
        f"the Pulumi CLI at {path} does not work: {reason}. Nothing was run. Reinstall it: "
        f"{_install_command(project_dir)}"
    )


def open_workspace(project_dir: Path, env_vars: Mapping[str, str]) -> auto.LocalWorkspace:
    """A LocalWorkspace on `project_dir`. Building one runs `pulumi version` (the SDK's
    PulumiCommand): a CLI that is missing raises CliMissing, one that fails raises Stop."""
    path = shutil.which("pulumi")
    if path is None:
        raise CliMissing()
    try:
        return auto.LocalWorkspace(work_dir=str(project_dir), env_vars=dict(env_vars))
    except FileNotFoundError as error:
        if Path(str(error.filename or "")).name != "pulumi":
            raise
        if shutil.which("pulumi") is None:
            raise CliMissing() from error  # gone since `which` found it
        # Still there, yet not found when run: a script whose interpreter is missing.
        reason = f"it cannot be run ({error.strerror}: is its interpreter or loader missing?)"
        raise _broken_cli(path, reason, project_dir) from error
    except subprocess.CalledProcessError as error:
        reason = f"`pulumi version` exited {error.returncode} (its own message, if any, is above)"
        raise _broken_cli(path, reason, project_dir) from error
    except OSError as error:
        reason = f"it cannot be run ({error.strerror or error})"
        raise _broken_cli(path, reason, project_dir) from error
    except auto.InvalidVersionError as error:
        raise _broken_cli(path, str(error), project_dir) from error


def _cli_error(error: Exception) -> str:
    """The CLI's own error lines from a CommandError (whose text is code, stdout, stderr)."""
    text = str(error)
    stderr = text.split("\n stderr: ", 1)[-1] if "\n stderr: " in text else text
    lines = [line.strip() for line in stderr.strip().splitlines() if line.strip()]
    return " ".join(lines[-3:]) or "no message"


# ---- backend and passphrase ------------------------------------------------------------------


def shown_url(url: str) -> str:
    """The backend URL without its secrets: a password (a postgres:// backend may hold one) and
    the values of query parameters named like credentials are replaced by `***`."""
    parts = urlsplit(url)
    netloc = parts.netloc
    if parts.password is not None:
        host = parts.hostname or ""
        netloc = f"{parts.username}:***@{host}" + (f":{parts.port}" if parts.port else "")
    query = parts.query
    if query:
        pairs = parse_qsl(query, keep_blank_values=True)
        query = urlencode(
            [(k, "***" if _SENSITIVE_QUERY.search(k) else v) for k, v in pairs], safe="*/:"
        )
    return urlunsplit(parts._replace(netloc=netloc, query=query))


def _yaml_file(path: Path) -> dict[str, Any]:
    if not path.exists():
        return {}
    loaded = yaml.safe_load(path.read_text())
    return loaded if isinstance(loaded, dict) else {}


def given_backend(
    explicit: str | None, environ: Mapping[str, str], project_dir: Path = PROJECT_DIR
) -> Backend | None:
    """The backend named without asking the CLI, in the CLI's order; None when only the CLI's
    login can tell. An empty PULUMI_BACKEND_URL counts as unset, as it does for the CLI."""
    if explicit:
        return Backend(explicit, "--backend")
    if environ.get("PULUMI_BACKEND_URL"):
        return Backend(environ["PULUMI_BACKEND_URL"], "$PULUMI_BACKEND_URL")
    project = _yaml_file(project_dir / "Pulumi.yaml")
    settings = project.get("backend")
    url = settings.get("url") if isinstance(settings, dict) else None
    if url:
        return Backend(str(url), "backend.url in Pulumi.yaml")
    return None


def logged_in_backend(workspace: auto.LocalWorkspace) -> Backend:
    """The backend the CLI is logged in to (`pulumi whoami --json`, which resolves it exactly
    as any other command would)."""
    try:
        who = workspace.who_am_i()
    except auto.CommandError as error:
        raise Stop(
            "no state backend: neither --backend nor PULUMI_BACKEND_URL is set, and the Pulumi "
            f"CLI is not logged in (`pulumi whoami`: {_cli_error(error)}). Log in "
            "(`pulumi login <backend URL>`, or `pulumi login --local` for state under "
            "~/.pulumi), set PULUMI_BACKEND_URL, or pass --backend."
        ) from error
    if not who.url:
        raise Stop(
            "the Pulumi CLI does not say which backend it is logged in to (`pulumi whoami "
            "--json` gave no URL); set PULUMI_BACKEND_URL or pass --backend."
        )
    return Backend(who.url, "the Pulumi CLI's login")


def _is_cloud(url: str) -> bool:
    return urlsplit(url).scheme in ("http", "https")


def secrets_provider(backend_url: str, stack: str, project_dir: Path = PROJECT_DIR) -> str:
    """The stack's secrets provider: the one its stack file names, else the backend's default
    (Pulumi Cloud keeps the keys; a self-managed backend uses a passphrase)."""
    # `org/project/lab` keeps its settings in Pulumi.lab.yaml, as the CLI does.
    settings = _yaml_file(project_dir / f"Pulumi.{stack.split('/')[-1]}.yaml")
    named = str(settings.get("secretsprovider") or "")
    if named and named != "default":
        return named
    return "service" if _is_cloud(backend_url) else "passphrase"


def passphrase_env(
    backend_url: str, stack: str, project_dir: Path, environ: Mapping[str, str]
) -> dict[str, str]:
    """What the CLI's environment needs so that it finds the stack's passphrase: nothing when
    the environment serves it already or the stack needs none. Raises Stop, said before the
    CLI runs, when it would stop for a missing passphrase (in CI there is no one to prompt).

    An empty passphrase is a missing one. The CLI takes PULUMI_CONFIG_PASSPHRASE whenever it is
    set, even empty, before PULUMI_CONFIG_PASSPHRASE_FILE (pkg/secrets/passphrase/manager.go,
    readPassphrase), and GitHub Actions gives an unset secret as an empty string: so with an
    empty variable and a file, the file's passphrase is handed to the CLI in the variable."""
    if not secrets_provider(backend_url, stack, project_dir).startswith("passphrase"):
        return {}
    if environ.get("PULUMI_CONFIG_PASSPHRASE"):
        return {}
    empty = "PULUMI_CONFIG_PASSPHRASE" in environ
    path = environ.get("PULUMI_CONFIG_PASSPHRASE_FILE")
    if not path:
        raise Stop(
            f"stack {stack!r} keeps its secrets with a passphrase: set PULUMI_CONFIG_PASSPHRASE, "
            "or PULUMI_CONFIG_PASSPHRASE_FILE to a file that holds it"
            + (
                " (PULUMI_CONFIG_PASSPHRASE is set but empty, and an empty passphrase is a "
                "missing one: is the secret defined where this job can read it?)."
                if empty
                else "."
            )
        )
    try:
        passphrase = Path(path).read_text().strip()
    except OSError:
        raise Stop(f"PULUMI_CONFIG_PASSPHRASE_FILE names {path}, which cannot be read.") from None
    if not passphrase:
        raise Stop(
            f"PULUMI_CONFIG_PASSPHRASE_FILE names {path}, which is empty: an empty passphrase "
            "is a missing one."
        )
    return {"PULUMI_CONFIG_PASSPHRASE": passphrase} if empty else {}


def prepare(
    operation: Operation, environ: Mapping[str, str]
) -> tuple[auto.LocalWorkspace, Backend]:
    """The workspace and backend for `operation`, after every check that needs no stack.
    With the backend known beforehand the passphrase is checked before the CLI runs at all;
    otherwise after `pulumi version` and `pulumi whoami`, which read nothing of the stack."""
    if shutil.which("pulumi") is None:
        raise CliMissing()
    backend = given_backend(operation.backend, environ, operation.project_dir)
    env_vars = {"PULUMI_SKIP_UPDATE_CHECK": "true"}
    if operation.backend:
        env_vars["PULUMI_BACKEND_URL"] = operation.backend
    if backend is not None:
        env_vars |= passphrase_env(backend.url, operation.stack, operation.project_dir, environ)
    workspace = open_workspace(operation.project_dir, env_vars)
    if backend is None:
        backend = logged_in_backend(workspace)
        extra = passphrase_env(backend.url, operation.stack, operation.project_dir, environ)
        workspace.env_vars = {**workspace.env_vars, **extra}
    return workspace, backend


# ---- the stack -------------------------------------------------------------------------------


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


def open_stack(operation: Operation, workspace: auto.LocalWorkspace) -> auto.Stack:
    """The stack: `up` creates it when it does not exist; every other command only selects
    it (`pulumi stack select`, which fails with StackNotFoundError)."""
    if operation.command in CREATES_STACK:
        return auto.Stack.create_or_select(operation.stack, workspace)
    return auto.Stack.select(operation.stack, workspace)


def missing_stack_message(operation: Operation, backend: Backend) -> str:
    stack = operation.stack
    return (
        f"no stack {stack!r} on {backend}; `{operation.command}` never creates one. Create it "
        f"once on that backend with `pulumi stack init {stack}` (in this directory, with the "
        f"stack's passphrase set), or deploy it with `python -m automation up --stack {stack}`."
    )


def lock_message(stack: str, backend: Backend, error: Exception) -> str:
    """What to do about a stack that another update holds, from the CLI's error."""
    text = str(error)
    locks = [m.group(0).strip() for m in map(_LOCK_LINE.match, text.splitlines()) if m]
    cancel = f"`pulumi cancel --stack {stack} --yes` (on the same backend)"
    if locks:
        return (
            f"stack {stack!r} is locked by another update: {'; '.join(locks)}. If that update "
            "is still running, wait for it. If it is not (a cancelled or timed-out job leaves "
            f"its lock behind), {cancel} deletes the lock; then run this again."
        )
    if _CLOUD_CONFLICT in text:
        return (
            f"another update of stack {stack!r} is in progress on {backend} ({_CLOUD_CONFLICT}). "
            f"Wait for it; if it is stuck, {cancel} cancels it."
        )
    return (
        f"stack {stack!r} is held by another update ({_cli_error(error)}). Wait for it; if it "
        f"is not running any more, {cancel} releases the stack."
    )


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


# ---- the commands ----------------------------------------------------------------------------


def _stop(
    operation: Operation,
    message: str,
    environ: Mapping[str, str],
    err: TextIO,
    summary: ChangeSummary | None = None,
) -> int:
    """Say why the operation stopped, in the log and, with --comment-file, in the comment."""
    print(f"error: {message}", file=err)
    if operation.comment_file is not None:
        summary = summary or ChangeSummary(operation.stack, operation.kind)
        if message not in summary.errors:
            summary.errors.append(message)
        _write_comment(operation, summary, environ)
    return EXIT_FAILED


def _write_comment(
    operation: Operation, summary: ChangeSummary, environ: Mapping[str, str]
) -> None:
    assert operation.comment_file is not None
    text = render(summary, context=_context(environ), kind=operation.kind)
    operation.comment_file.write_text(text + "\n")


def _version_note(workspace: auto.LocalWorkspace, project_dir: Path) -> str | None:
    # The parsed version; None when the SDK's version check is switched off and it did not parse.
    version = workspace.pulumi_command.version
    pinned, running = pinned_cli_version(project_dir), str(version) if version else None
    if pinned and running and running != pinned:
        return f"note: Pulumi CLI {running} here; CI runs {pinned} ({VERSION_FILE})."
    return None


def run(
    operation: Operation,
    environ: Mapping[str, str] | None = None,
    out: TextIO | None = None,
    err: TextIO | None = None,
) -> int:
    """Run `operation` and return the exit code."""
    environ = os.environ if environ is None else environ
    out, err = out or sys.stdout, err or sys.stderr
    stack_name = operation.stack
    if operation.command == "destroy" and not operation.yes:
        message = (
            f"destroy deletes every resource of stack {stack_name!r}; "
            "run it again with --yes to confirm."
        )
        return _stop(operation, message, environ, err)
    try:
        workspace, backend = prepare(operation, environ)
    except CliMissing:
        hint = install_hint(operation.command, stack_name, operation.project_dir)
        return _stop(operation, hint, environ, err)
    except Stop as stop:
        return _stop(operation, str(stop), environ, err)
    print(f"{operation.kind} of stack {stack_name!r} on {backend}", file=err)
    note = _version_note(workspace, operation.project_dir)
    if note:
        print(note, file=err)
    try:
        stack = open_stack(operation, workspace)
        for key, (value, source) in secrets_from_environment(
            operation.project_dir, environ
        ).items():
            set_secret(stack, key, value)
            print(f"set {key} (secret) from ${source}", file=err)
    except auto.StackNotFoundError:
        return _stop(operation, missing_stack_message(operation, backend), environ, err)
    except auto.CommandError as error:
        message = f"could not open stack {stack_name!r}: {_cli_error(error)}"
        return _stop(operation, message, environ, err)
    except subprocess.CalledProcessError as error:
        message = f"setting a secret of stack {stack_name!r} failed: {error.stderr.strip()}"
        return _stop(operation, message, environ, err)

    collector = EventCollector(stack_name, operation.kind)
    # What went wrong, for the log and for the comment (which has no log above it).
    failure: tuple[str, str] | None = None
    try:
        execute(stack, operation, collector, out, err)
    except auto.ConcurrentUpdateError as error:
        message = lock_message(stack_name, backend, error)
        failure = (message, message)
    except auto.CommandError:
        # The CLI's own output, streamed above, says what went wrong; so do the engine's error
        # events, which the comment shows when there are any.
        failure = (
            f"pulumi {operation.command} of stack {stack_name!r} failed; "
            "its output above says why.",
            f"pulumi {operation.command} failed; the run's log says why.",
        )
    except RuntimeError as error:
        # The SDK's "summary event never found": the CLI ended without reporting its changes.
        message = f"pulumi {operation.command} of stack {stack_name!r} gave no summary: {error}"
        failure = (message, message)
    summary = collector.summary()
    if failure is not None:
        logged, commented = failure
        print(f"error: {logged}", file=err)
        if not summary.errors or commented == logged:
            summary.errors.append(commented)
        if operation.comment_file is not None:
            _write_comment(operation, summary, environ)
        return EXIT_FAILED
    print(f"{operation.kind} of stack {stack_name!r}: {headline(summary)}", file=err)
    if operation.comment_file is not None:
        _write_comment(operation, summary, environ)
    if operation.expect_no_changes and summary.has_changes():
        print(f"changes found in stack {stack_name!r} (--expect-no-changes)", file=err)
        return EXIT_CHANGES
    return EXIT_OK


def check(
    stack: str,
    backend: str | None = None,
    environ: Mapping[str, str] | None = None,
    err: TextIO | None = None,
    project_dir: Path = PROJECT_DIR,
) -> int:
    """`python -m automation check`: the checks every real command makes before it touches
    the stack (which backend, whether its secrets can be decrypted), and nothing else. It needs
    the CLI only when neither --backend, PULUMI_BACKEND_URL nor Pulumi.yaml names a backend,
    so CI runs it before installing the CLI."""
    environ = os.environ if environ is None else environ
    err = err or sys.stderr
    try:
        chosen = given_backend(backend, environ, project_dir)
        if chosen is None:
            env_vars = {"PULUMI_SKIP_UPDATE_CHECK": "true"}
            chosen = logged_in_backend(open_workspace(project_dir, env_vars))
        passphrase_env(chosen.url, stack, project_dir, environ)
    except CliMissing:
        print(f"error: {install_hint('check', stack, project_dir)}", file=err)
        return EXIT_FAILED
    except Stop as stop:
        print(f"error: {stop}", file=err)
        return EXIT_FAILED
    provider = secrets_provider(chosen.url, stack, project_dir)
    print(f"stack {stack!r}: backend {chosen}; secrets provider {provider}", file=err)
    return EXIT_OK


def _context(environ: Mapping[str, str]) -> str:
    """A line naming the commit and the CI run, when running in GitHub Actions."""
    sha, server = environ.get("GITHUB_SHA", ""), environ.get("GITHUB_SERVER_URL", "")
    repository, run_id = environ.get("GITHUB_REPOSITORY", ""), environ.get("GITHUB_RUN_ID", "")
    if not (sha and repository and run_id):
        return ""
    return f"Commit {sha[:10]}, [workflow run]({server}/{repository}/actions/runs/{run_id})."
