"""The offline diff: two evaluations compared by URN, secrets masked, the base read from git."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys

import pytest

from automation import diff, registrations
from automation.__main__ import main
from automation.engine import PROJECT_DIR, load_stack
from automation.redact import SIG_KEY
from tests.helpers import evaluate_config, host_key, lab_with_workers

GPU_041 = ["admit-gpu-041", "drain-gpu-041", "join-gpu-041", "prepare-gpu-041"]
# The base of a diff comes from git: those tests need the project to be a git work tree.
in_git = (
    shutil.which("git") is not None
    and subprocess.run(
        ["git", "rev-parse", "--is-inside-work-tree"], cwd=PROJECT_DIR, capture_output=True
    ).returncode
    == 0
)
needs_git = pytest.mark.skipif(not in_git, reason="the project is not a git work tree")


@pytest.fixture(scope="module")
def evaluations():
    before = evaluate_config("lab", lab_with_workers(40)).check()
    return before, evaluate_config("lab", lab_with_workers(41)).check()


@pytest.fixture(scope="module")
def documents(evaluations):
    return tuple(registrations.document(evaluation) for evaluation in evaluations)


@pytest.fixture(scope="module")
def forty_one(documents):
    return diff.compare(*documents, base_label="origin/main (0123456789)")


def test_a_41st_worker_adds_exactly_its_own_resources(forty_one, evaluations):
    before, after = (evaluation.by_urn() for evaluation in evaluations)
    added = sorted(r.name for r in forty_one.added)
    assert added == sorted(after[urn].name for urn in after.keys() - before.keys())
    assert set(GPU_041) <= set(added) and all(name.endswith("-gpu-041") for name in added)
    assert forty_one.removed == []
    # Changed: only what lists every node: the CSR approver's addresses and its node names.
    changed = [r.urn for r in forty_one.changed]
    assert changed == sorted(u for u in before.keys() & after.keys() if before[u].inputs != after[u].inputs)  # fmt: skip
    assert sorted(r.name for r in forty_one.changed) == [
        "kubelet-csr-approver",
        "kubelet-csr-approver-node-names",
        "kueue-cohort",
    ]
    approver = next(r for r in forty_one.changed if r.name == "kubelet-csr-approver")
    assert [c.path for c in approver.changes] == ["values.providerIpPrefixes"]
    assert forty_one.unchanged == len(before) - len(changed)
    assert [c.path for c in forty_one.exports] == ["hosts.gpu-041"]


def test_the_report_reads_as_text_and_as_a_comment(forty_one):
    added, changed = len(forty_one.added), len(forty_one.changed)
    text = diff.render_text(forty_one)
    assert f"{added} added, 0 removed, {changed} changed, {forty_one.unchanged} unchanged" in text
    assert '  +        [7] "192.168.10.141/32"' in text
    body = diff.render_markdown(forty_one)
    assert body.startswith("<!-- ml-platform:diff:lab -->\n")
    assert f"### Offline diff of stack `lab`: {changed} changed, {added} added, 1 stack output change" in body  # fmt: skip
    assert f"| {added} | 0 | {changed} | {forty_one.unchanged} |" in body
    assert (
        "- `kubelet-csr-approver` (`kubernetes:helm.sh/v3:Release`): `values.providerIpPrefixes`"
        in body
    )
    assert body.index("#### Changed") < body.index("#### Added") < body.index("<details>")


def test_secrets_are_masked_and_their_digests_never_shown(forty_one, documents):
    key = load_stack("lab").values["ml-platform:sshPrivateKey"].splitlines()[1]
    shown = diff.render_markdown(forty_one) + diff.render_text(forty_one)
    assert '+    stdin: "[secret]"' in shown and '+    connection: "[secret]"' in shown
    assert key not in shown and SIG_KEY not in shown and "sha256:" not in shown
    # The document itself holds digests in place of secret values, never the values.
    assert key not in json.dumps(documents[1])
    join = next(r for r in documents[1]["resources"] if r["name"] == "join-gpu-041")
    assert join["inputs"]["stdin"]["digest"].startswith("sha256:")


def test_a_secret_on_either_side_is_masked_and_a_changed_secret_shows_as_changed():
    def document(inputs):
        resource = {"urn": "urn:x", "type": "t", "name": "x", "inputs": inputs}
        return {"stack": "lab", "resources": [resource], "exports": {}}

    marker = {SIG_KEY: "1b47061264138c4ac30d75fd1eb44270"}
    before = document({"password": "hunter2", "token": {**marker, "digest": "sha256:1"}})
    after = document({"password": {**marker, "digest": "sha256:2"}, "token": {**marker, "digest": "sha256:3"}})  # fmt: skip
    report = diff.compare(before, after)
    text = diff.render_text(report)
    assert "hunter2" not in text and "sha256" not in text
    assert text.count("[secret] => [secret] (secret value changed)") == 2


def test_the_registrations_command_writes_the_document(tmp_path):
    output = tmp_path / "lab.json"
    assert main(["registrations", "--stack", "lab", "--output", str(output)]) == 0
    document = json.loads(output.read_text())
    assert document["format"] == registrations.FORMAT and document["error"] is None
    init = next(r for r in document["resources"] if r["name"] == "join-cp-1")
    assert init["type"] == "command:remote:Command" and init["dependencies"]
    key = load_stack("lab").values["ml-platform:sshPrivateKey"].splitlines()[1]
    assert key not in output.read_text()


def test_an_invalid_config_at_head_is_reported_not_diffed():
    base = registrations.document(evaluate_config("lab", lab_with_workers(40)))
    broken = lab_with_workers(40)
    broken["kubernetes"]["podSubnet"] = "10.96.0.0/16"  # overlaps the service subnet
    head = registrations.document(evaluate_config("lab", broken))
    assert head["error"] and "podSubnet" in head["error"]
    assert base["error"] is None


@needs_git
def test_an_unknown_base_ref_says_what_to_fetch(capsys, tmp_path):
    comment = tmp_path / "diff-lab.md"
    argv = ["diff", "--stack", "lab", "--base", "no-such-ref", "--comment-file", str(comment)]
    assert main(argv) == 1
    assert "unknown git ref 'no-such-ref'" in capsys.readouterr().err
    body = comment.read_text()
    assert "### Offline diff of stack `lab`: evaluation failed" in body and "fetch-depth: 0" in body


def test_a_base_without_the_engine_or_without_the_stack_says_so(tmp_path):
    bare = tmp_path / "bare"
    bare.mkdir()
    (bare / "Pulumi.yaml").write_text("name: ml-platform\n")
    document = diff.evaluate_checkout(bare, "lab")
    assert "this revision has no offline engine" in document["error"]

    shutil.copytree(PROJECT_DIR, tmp_path / "copy", ignore=shutil.ignore_patterns(".*", "tests"))
    (tmp_path / "copy" / "Pulumi.lab.yaml").unlink()
    document = diff.evaluate_checkout(tmp_path / "copy", "lab")
    assert "no stack file Pulumi.lab.yaml" in document["missing"]


def _copy_of_the_working_tree(tmp_path):
    listed = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard"],
        cwd=PROJECT_DIR, capture_output=True, text=True, check=True,
    ).stdout.split()  # fmt: skip
    repo = tmp_path / "repo"
    for name in listed:
        source = PROJECT_DIR / name
        if source.is_file() and not name.startswith("tests/"):
            (repo / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, repo / name)
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@example.com"]
    subprocess.run([*git, "init", "-q"], cwd=repo, check=True)
    subprocess.run([*git, "add", "-A"], cwd=repo, check=True)
    subprocess.run([*git, "commit", "-q", "-m", "base"], cwd=repo, check=True)
    return repo


@needs_git
def test_the_command_reads_the_base_from_git_and_evaluates_it_apart(tmp_path):
    repo = _copy_of_the_working_tree(tmp_path)
    stack_file = repo / "Pulumi.lab.yaml"
    lines = stack_file.read_text().splitlines()
    last_host = max(i for i, line in enumerate(lines) if line.strip().startswith("- {name: gpu-"))
    lines.insert(
        last_host + 1,
        "      - {name: gpu-41, address: 192.168.10.141, roles: [worker], "
        f'gpu: {{count: 1, model: rtx-4090}}, hostKey: "{host_key("gpu-41")}"}}',
    )
    stack_file.write_text("\n".join(lines) + "\n")
    comment = tmp_path / "diff-lab.md"
    result = subprocess.run(
        [sys.executable, "-m", "automation", "diff", "--stack", "lab", "--base", "HEAD",
         "--comment-file", str(comment), "--expect-no-changes"],
        cwd=repo, capture_output=True, text=True, check=False, timeout=120,
    )  # fmt: skip
    assert result.returncode == 2, result.stderr
    assert " added, 0 removed, " in result.stdout
    for name in ("admit-gpu-41", "drain-gpu-41", "join-gpu-41", "prepare-gpu-41"):
        assert f"+ command:remote:Command {name}\n" in result.stdout
    body = comment.read_text()
    assert body.startswith("<!-- ml-platform:diff:lab -->")
    assert "Base `HEAD (" in body
    # Nothing of the base's checkout is left behind in the repository.
    status = subprocess.run(
        ["git", "status", "--porcelain"], cwd=repo, capture_output=True, text=True, check=True
    )
    assert status.stdout.strip() == "M Pulumi.lab.yaml"
