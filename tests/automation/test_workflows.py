"""The GitHub Actions workflows: what each job may read, what it checks first, and how the
scripts in them behave, run under bash with stand-ins for `gh` and the driver's environment.

GitHub's own evaluation cannot run here; the workflow files are read as data, and every
script that decides something (which comments to post, whether a stack's settings are complete)
is executed as written.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import yaml
from packaging.specifiers import SpecifierSet
from packaging.version import Version

from automation import driver
from automation.engine import PROJECT_DIR

WORKFLOWS = PROJECT_DIR / ".github" / "workflows"
# Commands that read (or write) a stack's state.
STATE_COMMAND = re.compile(r"\.venv/bin/python -m automation (preview|up|refresh|destroy|check)\b")


def workflow(name: str) -> dict:
    return yaml.safe_load((WORKFLOWS / name).read_text())


def all_jobs() -> list[tuple[str, str, dict]]:
    return [
        (path.name, name, job)
        for path in sorted(WORKFLOWS.glob("*.yml"))
        for name, job in yaml.safe_load(path.read_text())["jobs"].items()
    ]


def state_jobs() -> list[tuple[str, str, dict]]:
    return [
        (file, name, job)
        for file, name, job in all_jobs()
        if any(STATE_COMMAND.search(step.get("run", "")) for step in job["steps"])
    ]


def uses(step: dict, action: str) -> bool:
    return step.get("uses", "").split("@")[0] == action


def stacks_of(file: str, job: dict) -> list[str]:
    """The stacks a job runs for: its matrix, or the STACK its workflow or job sets."""
    matrix = (job.get("strategy") or {}).get("matrix") or {}
    if "stack" in matrix:
        return list(matrix["stack"])
    return [job.get("env", {}).get("STACK") or workflow(file)["env"]["STACK"]]


def for_stack(text: str, stack: str) -> str:
    return text.replace("${{ matrix.stack }}", stack)


def test_the_cli_version_comes_from_one_file_inside_the_sdks_range():
    version = (PROJECT_DIR / ".pulumi-version").read_text().strip()
    assert re.fullmatch(r"\d+\.\d+\.\d+", version)
    requirement = next(
        line.split("#")[0].strip()
        for line in (PROJECT_DIR / "requirements.txt").read_text().splitlines()
        if re.match(r"pulumi\s*[<>=!~]", line)
    )
    assert Version(version) in SpecifierSet(requirement.removeprefix("pulumi"))
    assert driver.pinned_cli_version() == version
    installs = [
        step for _, _, job in all_jobs() for step in job["steps"] if uses(step, "pulumi/actions")
    ]
    assert installs and all(
        step["with"] == {"pulumi-version-file": ".pulumi-version"} for step in installs
    )
    for path in WORKFLOWS.glob("*.yml"):
        assert (
            "PULUMI_VERSION" not in path.read_text() and "pulumi-version:" not in path.read_text()
        )


def test_every_job_has_a_timeout():
    missing = [f"{file}:{name}" for file, name, job in all_jobs() if not job.get("timeout-minutes")]
    assert missing == []


def test_no_job_can_read_the_whole_secret_set():
    # A computed index into `secrets` (or the whole context) makes GitHub hand every secret of
    # the repository to the runner: secrets are named literally, one by one.
    for path in WORKFLOWS.glob("*.yml"):
        text = path.read_text()
        assert "secrets[" not in text and "toJSON(secrets)" not in text, path.name
        for expression in re.findall(r"secrets\.(\S+?)\s*}}", text):
            assert re.fullmatch(r"[A-Z][A-Z0-9_]*", expression), (path.name, expression)


def test_each_stack_job_reads_only_its_own_stacks_environment():
    jobs = state_jobs()
    assert {(file, name) for file, name, _ in jobs} == {
        ("deploy.yml", "preview"),
        ("deploy.yml", "up"),
        ("drift.yml", "drift"),
        ("pull-request.yml", "preview"),
    }
    for file, name, job in jobs:
        for stack in stacks_of(file, job):
            environment = for_stack(job["environment"], stack)
            assert environment in (f"{stack}-preview", stack), (file, name, environment)
    # Every job that names a secret other than the token GitHub gives each run reads it from
    # an environment of its own: a stack job from its stack's, the MLOps gate from `mlops`.
    secret_users = {
        (file, name): job
        for file, name, job in all_jobs()
        if "secrets." in json.dumps(job).replace("secrets.GITHUB_TOKEN", "")
    }
    assert set(secret_users) == {(f, n) for f, n, _ in jobs} | {("mlops.yml", "gate")}
    assert secret_users[("mlops.yml", "gate")]["environment"] == "mlops"
    # Only `up` may write: it alone uses the environment with required reviewers.
    writers = {(f, n) for f, n, job in jobs if not job["environment"].endswith("-preview")}
    assert writers == {("deploy.yml", "up")}


def test_state_credentials_reach_every_step_that_reads_state():
    for file, name, job in state_jobs():
        steps = job["steps"]
        for index, step in enumerate(steps):
            if not STATE_COMMAND.search(step.get("run", "")):
                continue
            env = step.get("env", {})
            for variable in (
                "PULUMI_BACKEND_URL",
                "PULUMI_ACCESS_TOKEN",
                "PULUMI_CONFIG_PASSPHRASE",
            ):
                assert env.get(variable) == f"${{{{ secrets.{variable} }}}}", (file, name, variable)
            if "automation check" in step["run"]:
                continue
            # The state bucket's (and dev's) AWS credentials come before the command.
            aws = [
                i for i, s in enumerate(steps) if uses(s, "aws-actions/configure-aws-credentials")
            ]
            assert aws and aws[0] < index, (file, name)
            assert steps[aws[0]]["with"]["role-to-assume"] == "${{ vars.AWS_ROLE_ARN }}"
            assert "vars.AWS_ROLE_ARN != ''" in steps[aws[0]]["if"]


def test_every_stack_job_checks_its_settings_before_it_installs_the_cli():
    scripts = set()
    for file, name, job in state_jobs():
        steps = job["steps"]
        (check,) = [i for i, s in enumerate(steps) if s.get("id") == "check"]
        assert "python -m automation check --stack" in steps[check]["run"], (file, name)
        cli = next(i for i, s in enumerate(steps) if uses(s, "pulumi/actions"))
        assert check < cli, (file, name)
        scripts.add(steps[check]["run"])
        expected = "skip" if file == "pull-request.yml" else "fail"
        assert steps[check]["env"]["UNCONFIGURED"] == expected, (file, name)
    assert len(scripts) == 1  # one check, word for word, in every workflow


@pytest.fixture
def check_step(tmp_path):
    """Runs the check step's script as a job would: in a checkout with .venv/bin/python."""
    (_, _, job), *_ = state_jobs()
    script = next(s["run"] for s in job["steps"] if s.get("id") == "check")
    python = tmp_path / ".venv" / "bin" / "python"
    python.parent.mkdir(parents=True)
    python.write_text(f'#!/bin/sh\nexec "{sys.executable}" "$@"\n')
    python.chmod(0o755)

    def run(**env: str) -> tuple[int, str, str]:
        output = tmp_path / "github-output"
        output.write_text("")
        variables = {
            "PATH": os.environ["PATH"],
            "PYTHONPATH": str(PROJECT_DIR),
            "GITHUB_OUTPUT": str(output),
            "STACK": "lab",
            "UNCONFIGURED": "fail",
            "AWS_ROLE_ARN": "",
            "PULUMI_BACKEND_URL": "",
            "PULUMI_ACCESS_TOKEN": "",
            "PULUMI_CONFIG_PASSPHRASE": "",
            **env,
        }
        result = subprocess.run(
            ["bash", "-e", "-c", script],
            cwd=tmp_path,
            env=variables,
            capture_output=True,
            text=True,
            timeout=120,
        )
        return result.returncode, result.stdout + result.stderr, output.read_text()

    return run


def test_the_check_step_refuses_an_empty_passphrase(check_step):
    s3 = {"PULUMI_BACKEND_URL": "s3://ml-state", "AWS_ROLE_ARN": "arn:aws:iam::1:role/state"}
    code, log, output = check_step(**s3)
    assert code == 1 and "keeps its secrets with a passphrase" in log and "set but empty" in log
    assert "ready=true" not in output
    code, log, output = check_step(**s3, PULUMI_CONFIG_PASSPHRASE="correct horse")
    assert code == 0 and "ready=true" in output
    assert "stack 'lab': backend s3://ml-state ($PULUMI_BACKEND_URL)" in log


def test_the_check_step_wants_the_states_credentials(check_step):
    code, log, _ = check_step(PULUMI_BACKEND_URL="https://api.pulumi.com")
    assert code == 1 and "set the PULUMI_ACCESS_TOKEN secret" in log
    # Pulumi Cloud keeps the keys: with its token, no passphrase is needed.
    code, log, output = check_step(
        PULUMI_BACKEND_URL="https://api.pulumi.com", PULUMI_ACCESS_TOKEN="pul-123"
    )
    assert code == 0 and "ready=true" in output
    code, log, _ = check_step(PULUMI_BACKEND_URL="s3://ml-state", PULUMI_CONFIG_PASSPHRASE="x")
    assert code == 1 and "set the AWS_ROLE_ARN variable" in log
    code, log, _ = check_step(
        STACK="dev", PULUMI_BACKEND_URL="gs://ml-state", PULUMI_CONFIG_PASSPHRASE="x"
    )
    assert code == 1 and "stack dev reads AWS" in log


def test_without_a_backend_a_pull_request_skips_the_preview_and_deploy_and_drift_fail(check_step):
    code, log, output = check_step(UNCONFIGURED="skip")
    assert code == 0 and "ready=false" in output and "no real preview of lab" in log
    code, log, output = check_step(UNCONFIGURED="fail")
    assert code == 1 and "set the PULUMI_BACKEND_URL secret" in log


def test_deploy_and_drift_share_one_concurrency_group_per_stack():
    deploy = workflow("deploy.yml")["concurrency"]
    drift = workflow("drift.yml")["jobs"]["drift"]["concurrency"]
    assert deploy == {"group": "pulumi-dev", "cancel-in-progress": False}
    assert drift["cancel-in-progress"] is False
    assert for_stack(drift["group"], "dev") == deploy["group"]
    assert for_stack(drift["group"], "lab") == "pulumi-lab"
    # No other workflow takes (and could cancel) a stack's group.
    for file, name, job in all_jobs():
        if file not in ("deploy.yml", "drift.yml"):
            assert "pulumi-" not in json.dumps(job.get("concurrency", "")), (file, name)
    assert "pulumi-" not in json.dumps(workflow("pull-request.yml")["concurrency"])


def test_pip_and_plugin_downloads_are_cached():
    for file, name, job in all_jobs():
        steps = job["steps"]
        for step in steps:
            if uses(step, "actions/setup-python"):
                assert step["with"]["cache"] == "pip", (file, name)
                assert step["with"]["cache-dependency-path"].startswith("requirements"), (
                    file,
                    name,
                )
        cli = [i for i, s in enumerate(steps) if uses(s, "pulumi/actions")]
        if not cli:
            continue
        caches = [
            s for s in steps[: cli[0]]
            if uses(s, "actions/cache") and s["with"]["path"] == "~/.pulumi/plugins"
        ]  # fmt: skip
        assert len(caches) == 1, (file, name)
        key = caches[0]["with"]["key"]
        assert "hashFiles('.pulumi-version')" in key and "steps.deps.outputs.plugins" in key
        deps = next(s for s in steps if s.get("id") == "deps")
        assert "pip freeze" in deps["run"] and "plugins=" in deps["run"]


def test_actions_are_pinned_by_commit():
    for path in WORKFLOWS.glob("*.yml"):
        for line in path.read_text().splitlines():
            if "uses:" in line:
                assert re.search(r"uses: [\w.-]+/[\w.-]+@[0-9a-f]{40} # v\d", line), line


def test_scripts_take_expressions_only_through_env():
    # An expression spliced into a script is a shell injection waiting for a branch name.
    for file, name, job in all_jobs():
        for step in job["steps"]:
            assert "${{" not in step.get("run", ""), (file, name, step.get("name"))


def test_shellcheck_is_clean_on_every_workflow_script(tmp_path):
    if shutil.which("shellcheck") is None:
        pytest.skip("shellcheck is not installed (CI installs it: apt-get install shellcheck)")
    files = []
    for file, name, job in all_jobs():
        for index, step in enumerate(job["steps"]):
            if "run" in step:
                script = tmp_path / f"{Path(file).stem}-{name}-{index}.sh"
                # GitHub runs a step's script as `bash -e {0}`.
                script.write_text("#!/usr/bin/env bash\nset -e\n" + step["run"])
                files.append(str(script))
    result = subprocess.run(
        ["shellcheck", "--shell=bash", "--severity=style", *files], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout


def test_real_previews_run_only_for_pull_requests_from_this_repository():
    job = workflow("pull-request.yml")["jobs"]["preview"]
    condition = job["if"]
    assert "github.event.pull_request.head.repo.full_name == github.repository" in condition
    assert "github.actor != 'dependabot[bot]'" in condition


# ---- posting comments ------------------------------------------------------------------------

FAKE_GH = """\
#!{python}
import json, os, sys
args = sys.argv[1:]
with open(os.environ["FAKE_GH_LOG"], "a") as log:
    log.write(json.dumps(args) + "\\n")
path = next(a for a in args if a.startswith("repos/"))
if "--method" in args:
    body = next(a for a in args if a.startswith("body=@"))[len("body=@"):]
    with open(os.environ["FAKE_GH_LOG"], "a") as log:
        log.write(json.dumps(["posted", args[args.index("--method") + 1], path, body]) + "\\n")
elif path.endswith("/comments"):  # our earlier comment with the marker, if any
    print(os.environ.get("FAKE_GH_EXISTING", ""))
else:  # the pull request: its head commit and repository, as the --jq expression gives them
    print(os.environ["FAKE_GH_HEAD"])
"""
DIFF = "<!-- ml-platform:diff:lab -->\n### Offline diff of stack `lab`: 1 added\n"
PREVIEW = "<!-- ml-platform:preview:lab -->\n### Preview of stack `lab`: no changes\n"


@pytest.fixture
def post_comments(tmp_path):
    """Runs the comment workflow's script on the given artifact files; returns what it posted."""
    job = workflow("pull-request-comments.yml")["jobs"]["comment"]
    script = next(s["run"] for s in job["steps"] if "run" in s)
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "gh").write_text(FAKE_GH.format(python=sys.executable))
    (bin_dir / "gh").chmod(0o755)

    def run(files: dict[str, str], head_repository: str, pr_head: str | None = None, **env):
        work = tmp_path / "work"
        shutil.rmtree(work, ignore_errors=True)
        (work / "comments").mkdir(parents=True)
        (work / "comments" / "pr-number").write_text("17\n")
        for name, text in files.items():
            (work / "comments" / name).write_text(text)
        log = tmp_path / "gh.jsonl"
        log.write_text("")
        variables = {
            "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}",
            "FAKE_GH_LOG": str(log),
            "FAKE_GH_HEAD": pr_head or f"abc123 {head_repository}",
            "GH_TOKEN": "t",
            "REPOSITORY": "lab/ml-platform",
            "HEAD_SHA": "abc123",
            "HEAD_REPOSITORY": head_repository,
            **env,
        }
        result = subprocess.run(
            ["bash", "-e", "-c", script],
            cwd=work, env=variables, capture_output=True, text=True, timeout=60,
        )  # fmt: skip
        assert result.returncode == 0, result.stderr
        calls = [json.loads(line) for line in log.read_text().splitlines()]
        posted = [(c[1], Path(c[3]).name) for c in calls if c[0] == "posted"]
        return posted, result.stdout

    return run


def test_a_forks_preview_comment_is_not_posted(post_comments):
    files = {"diff-lab.md": DIFF, "preview-lab.md": PREVIEW}
    posted, log = post_comments(files, head_repository="mallory/ml-platform")
    assert posted == [("POST", "diff-lab.md")]
    assert "preview-lab.md is not a comment this run may post" in log


def test_this_repositorys_preview_and_diff_comments_are_posted(post_comments):
    files = {"diff-lab.md": DIFF, "preview-lab.md": PREVIEW}
    posted, _ = post_comments(files, head_repository="lab/ml-platform")
    assert posted == [("POST", "diff-lab.md"), ("POST", "preview-lab.md")]


def test_an_earlier_comment_is_updated_in_place(post_comments):
    posted, _ = post_comments(
        {"diff-lab.md": DIFF}, head_repository="lab/ml-platform", FAKE_GH_EXISTING="991"
    )
    assert posted == [("PATCH", "diff-lab.md")]


def test_a_diff_marker_on_something_else_is_not_posted(post_comments):
    fake = "<!-- ml-platform:diff:lab -->\n### Preview of stack `lab`: no changes (trust me)\n"
    posted, log = post_comments({"diff-lab.md": fake}, head_repository="mallory/ml-platform")
    assert posted == [] and "no offline-diff heading" in log


def test_nothing_is_posted_when_the_pull_request_has_moved_on_or_changed_repository(post_comments):
    files = {"diff-lab.md": DIFF}
    moved, log = post_comments(files, "lab/ml-platform", pr_head="def456 lab/ml-platform")
    assert moved == [] and "is no longer at abc123" in log
    # The number in the artifact names a pull request of another head repository.
    other, _ = post_comments(files, "mallory/ml-platform", pr_head="abc123 lab/ml-platform")
    assert other == []
    # A deleted fork: no head repository, so no preview, and the heads cannot match either.
    gone, _ = post_comments(files, "", pr_head="abc123 ")
    assert gone == [("POST", "diff-lab.md")]


def test_the_drift_workflow_reads_its_own_step_outputs():
    # The issue step acts on the drift step's exit codes, not on the preflight's.
    steps = workflow("drift.yml")["jobs"]["drift"]["steps"]
    issue = next(s for s in steps if s.get("name", "").startswith("Open, update or close"))
    ids = {s.get("id") for s in steps}
    for expression in re.findall(r"steps\.(\w+)\.outputs", json.dumps(issue)):
        assert expression in ids and expression != "check"
    assert textwrap.dedent(issue["env"]["REFRESH"]) == "${{ steps.drift.outputs.refresh }}"
