"""Bash step scripts that prepare hosts and run kubeadm, bundled for `sudo bash -s` over SSH.

Each step is `scripts/<step>.sh`, or a directory `scripts/<step>/` of parts `NN-<part>.sh` run in
the order of their numbers (`prepare-host/`: one part per concern), after the helpers only they
share in the directory's `lib.sh`; `scripts/common.sh` holds the helpers every step shares. A
part alone is the step `<step>/<part>` (without its number), for tests. The Python side
sends `script_bundle(step, params)` as the STDIN of `sudo bash -s` (pulumi-command
`remote.Command(stdin=...)`), so parameters, including secrets such as the bootstrap token and the
certificate key, never appear on a command line. Parameters are plain shell variables, not
exported: no process the step starts (apt-get, curl, kubeadm...) inherits them in its
environment; the step hands a secret to the one command that needs it through a 0600 file or
stdin.

Bundle layout::

    set -euo pipefail
    {
    NAME='value'                 # one line per parameter, shlex-quoted, sorted by name
    ML_OUTPUT_LOG=/var/log/ml-platform/<step>.log   # steps that handle secrets (quiet=True)
    <scripts/common.sh>
    <scripts/<step>.sh>          (or each part of scripts/<step>/, in order)
    } </dev/null

The braces make bash read the whole bundle before running any of it (a truncated transfer runs
nothing) and give the commands inside /dev/null as stdin, so no command can swallow the rest of the
script from bash's stdin. Multi-line values (YAML) go in parameters whose name ends in ``_B64``,
base64-encoded (see :func:`b64`).
"""

from __future__ import annotations

import base64
import functools
import re
import shlex
from collections.abc import Mapping
from pathlib import Path

SCRIPTS_DIR = Path(__file__).resolve().parent / "scripts"

_COMMON = "common"
_PARAM_NAME = re.compile(r"^[A-Z][A-Z0-9_]*$")
# The order prefix of a part's file name, `10-` in `prepare-host/10-swap.sh`.
_PART_NUMBER = re.compile(r"(?<=/)[0-9]+-")
# Names a parameter must not override: they change how bash or the scripts themselves behave.
_RESERVED = frozenset(
    {
        "PATH",
        "IFS",
        "HOME",
        "SHELL",
        "ENV",
        "BASH_ENV",
        "ROOT",
        "ML_STEP",
        "ML_OUTPUT_LOG",
        "SHELLOPTS",
        "PS4",
    }
)
# Where a quiet step's tools write their output, on the host (root only).
OUTPUT_LOG_DIR = "/var/log/ml-platform"


# The scripts are files of this checkout; read them once per process, not once per host.
@functools.cache
def step_names() -> tuple[str, ...]:
    """The available steps: every `scripts/*.sh` except common.sh, and every directory of
    parts, sorted."""
    files = {path.stem for path in SCRIPTS_DIR.glob("*.sh") if path.stem != _COMMON}
    directories = {path.name for path in SCRIPTS_DIR.iterdir() if path.is_dir()}
    return tuple(sorted(files | directories))


@functools.cache
def _parts(step: str) -> tuple[str, ...]:
    """The files of `step`, relative to SCRIPTS_DIR: one file, or a directory's `lib.sh` and
    parts in order, or its `lib.sh` and the one part named `<step>/<part>`. Empty for an
    unknown step."""
    if step in step_names() and (SCRIPTS_DIR / f"{step}.sh").is_file():
        return (f"{step}.sh",)
    directory, _, part = step.partition("/")
    if directory not in step_names() or not (SCRIPTS_DIR / directory).is_dir():
        return ()
    lib = (f"{directory}/lib.sh",) if (SCRIPTS_DIR / directory / "lib.sh").is_file() else ()
    parts = tuple(
        f"{directory}/{p.name}" for p in sorted((SCRIPTS_DIR / directory).glob("[0-9]*.sh"))
    )
    if not part:
        return lib + parts
    named = {_PART_NUMBER.sub("", p): p for p in parts}
    return (*lib, named[f"{directory}/{part}.sh"]) if f"{directory}/{part}.sh" in named else ()


def part_names(step: str) -> tuple[str, ...]:
    """`<step>/<part>` for each part of a step that is a directory."""
    return tuple(
        _PART_NUMBER.sub("", p).removesuffix(".sh") for p in _parts(step) if _PART_NUMBER.search(p)
    )


def b64(text: str) -> str:
    """Encode a multi-line value (a YAML document) for a ``*_B64`` parameter."""
    return base64.b64encode(text.encode()).decode("ascii")


@functools.cache
def _read(relative: str) -> str:
    text = (SCRIPTS_DIR / relative).read_text(encoding="utf-8")
    return text if text.endswith("\n") else text + "\n"


def script_bundle(step: str, params: Mapping[str, str], quiet: bool = False) -> str:
    """The text to send as STDIN to `sudo bash -s` to run `step` with `params`.

    `quiet`: the step handles secrets, so what it prints must be fixed text (pulumi-command puts
    a failed command's whole output in its error): the output of the tools it runs goes to
    /var/log/ml-platform/<step>.log on the host instead.

    Raises ValueError for an unknown step, a parameter name that is not ``^[A-Z][A-Z0-9_]*$`` (or
    is reserved, like PATH or ROOT), a value that is not a string or contains a NUL byte, or a
    ``*_B64`` value that is not valid base64.
    """
    parts = _parts(step)
    if not parts:
        raise ValueError(f"unknown kubeadm step {step!r}; known: {', '.join(step_names())}")
    exports: list[str] = []
    for name in sorted(params):
        value = params[name]
        if not _PARAM_NAME.fullmatch(name):
            raise ValueError(f"invalid parameter name {name!r}: must match ^[A-Z][A-Z0-9_]*$")
        if name in _RESERVED or name.startswith("BASH"):
            raise ValueError(f"parameter name {name!r} is reserved")
        if not isinstance(value, str):
            raise ValueError(f"parameter {name} must be a string, got {type(value).__name__}")
        if "\0" in value:
            raise ValueError(f"parameter {name} contains a NUL byte")
        if name.endswith("_B64") and value:
            try:
                base64.b64decode(value, validate=True)
            except ValueError as error:
                raise ValueError(f"parameter {name} is not valid base64") from error
        exports.append(f"{name}={shlex.quote(value)}\n")
    if quiet:
        log = f"{OUTPUT_LOG_DIR}/{step.replace('/', '-')}.log"
        exports.append(f"ML_OUTPUT_LOG={shlex.quote(log)}\n")
    return "".join(
        [
            "set -euo pipefail\n",
            "{\n",
            *exports,
            f"# ---- {_COMMON}.sh ----\n",
            _read(f"{_COMMON}.sh"),
            *(text for part in parts for text in (f"# ---- {part} ----\n", _read(part))),
            "} </dev/null\n",
        ]
    )


# How a step's bundle runs on a host: as root, from stdin, so nothing is on the command line.
RUN_FROM_STDIN = "sudo bash -s"
