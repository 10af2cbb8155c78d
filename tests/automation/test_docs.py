"""docs/automation.md says what the code does: its command table, the environments, secrets
and variables the workflows read, and the pointer the README keeps in place of the section."""

from __future__ import annotations

import argparse
import re

import yaml

from automation.__main__ import _parser
from automation.engine import PROJECT_DIR

DOC = PROJECT_DIR / "docs" / "automation.md"
WORKFLOWS = PROJECT_DIR / ".github" / "workflows"


def subcommands() -> dict[str, argparse.ArgumentParser]:
    action = next(a for a in _parser()._actions if isinstance(a, argparse._SubParsersAction))
    return dict(action.choices)


def test_the_command_table_names_every_command_with_flags_it_accepts():
    rows = re.findall(r"^\| `([a-z]+) --stack S([^`]*)` \|", DOC.read_text(), re.MULTILINE)
    commands = subcommands()
    assert sorted(name for name, _ in rows) == sorted(commands)
    for name, rest in rows:
        accepted = {option for a in commands[name]._actions for option in a.option_strings}
        documented = set(re.findall(r"--[a-z-]+", rest))
        # Every documented flag exists, and every flag of the command is documented.
        assert documented == accepted - {"-h", "--help", "--stack"}, name


def test_the_setup_tables_name_what_the_workflows_read():
    text = DOC.read_text()
    environments, names = set(), set()
    for path in WORKFLOWS.glob("*.yml"):
        workflow = yaml.safe_load(path.read_text())
        for job in workflow["jobs"].values():
            environment = job.get("environment")
            if environment:
                stacks = (job.get("strategy") or {}).get("matrix", {}).get("stack", [None])
                environments |= {environment.replace("${{ matrix.stack }}", str(s)) for s in stacks}
        names |= set(re.findall(r"(?:secrets|vars)\.([A-Z_]+)", path.read_text()))
    assert environments == {"lab-preview", "dev-preview", "dev", "mlops"}
    for environment in environments:
        assert f"| `{environment}` |" in text, environment
    for name in names:
        assert f"`{name}`" in text, name


def test_the_readme_points_to_the_page_and_keeps_none_of_its_content():
    readme = (PROJECT_DIR / "README.md").read_text()
    assert "[docs/automation.md](docs/automation.md)" in readme
    assert "| command | what it does |" not in readme
    assert "### Pull-request comments" not in readme
