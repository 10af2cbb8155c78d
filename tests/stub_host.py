"""A host for the step scripts under bash: a temporary ROOT, stub commands first on PATH.

Every stub appends "<name> <args>" to ROOT/calls.log and keeps its state under ROOT/.stub (`$S`
in a stub's body), so a test can assert which commands ran, feed answers to later calls, and
check that a second run of a step changes nothing.
"""

from __future__ import annotations

import subprocess
import textwrap
from collections.abc import Mapping
from pathlib import Path

from components.kubeadm.scripts import script_bundle

LOG_PROLOGUE = (
    'printf \'%s\\n\' "$(basename "$0") $*" >>"$ROOT/calls.log"\nS="$ROOT/.stub"\nmkdir -p "$S"\n'
)


class StubHost:
    """ROOT is `root`; the stubs live beside it in `bin`. `search_path` is the PATH the steps
    run with: the stubs, then the machine's own tools unless a test narrows it."""

    def __init__(self, root: Path, stubs: Mapping[str, str], search_path: str = "") -> None:
        self.root = root
        self.stub = root / ".stub"
        self.bin = root.parent / "bin"
        self.bin.mkdir(parents=True)
        self.stub.mkdir(parents=True)
        self.search_path = search_path or f"{self.bin}:/usr/bin:/bin"
        for name, body in stubs.items():
            self.add_stub(name, body)

    def add_stub(self, name: str, body: str) -> Path:
        """bin/`name`: the logging prologue, then `body`; a body with a #! line of its own is
        written as it is (it logs, or not, itself)."""
        path = self.bin / name
        if body.startswith("#!"):
            path.write_text(body)
        else:
            path.write_text("#!/bin/bash\n" + LOG_PROLOGUE + textwrap.dedent(body).strip() + "\n")
        path.chmod(0o755)
        return path

    def path(self, relative: str) -> Path:
        return self.root / relative

    def write(self, relative: str, text: str) -> Path:
        path = self.path(relative)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        return path

    def read_log(self) -> list[str]:
        log = self.root / "calls.log"
        return log.read_text().splitlines() if log.exists() else []

    def calls(self, prefix: str) -> list[str]:
        return [line for line in self.read_log() if line.startswith(prefix)]

    def run_step(
        self, step: str, params: Mapping[str, str], quiet: bool = False
    ) -> subprocess.CompletedProcess:
        """The step's bundle on bash's stdin, as the program sends it over SSH."""
        return subprocess.run(
            ["/bin/bash", "-s"],
            input=script_bundle(step, params, quiet),
            env={
                "PATH": self.search_path,
                "ROOT": str(self.root),
                "HOME": str(self.root),
                "LC_ALL": "C",
            },
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
