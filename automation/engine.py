"""The offline engine: runs `__main__.py` under the SDK's mocks and records every registration.

It needs no Pulumi CLI, no state and no credentials. Stack config comes from
`Pulumi.<stack>.yaml` (plus overrides); `secure:` values are replaced by placeholders and never
decrypted. The program runs in update mode by default, so `apply` callbacks run and checks
inside them are real (in preview mode they would pass vacuously).
"""

from __future__ import annotations

import contextvars
import hashlib
import json
import runpy
import sys
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pulumi
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519
from pulumi.runtime import mocks as sdk_mocks
from pulumi.runtime import rpc
from pulumi.runtime.proto import resource_pb2
from pulumi.runtime.settings import ROOT
from pulumi.runtime.stack import massage, run_pulumi_func
from pulumi.runtime.sync_await import _sync_await

from automation.mocks import MockProviders
from components import yamltext

PROJECT_DIR = Path(__file__).resolve().parent.parent
PROJECT = "ml-platform"


class DuplicateUrnError(pulumi.RunError):
    """Two resources with one URN: the real engine refuses the whole deployment."""


@dataclass(frozen=True)
class StackSettings:
    """A stack's config as the engine hands it to the program."""

    values: dict[str, Any]
    secret_keys: frozenset[str]


@dataclass(frozen=True)
class Registration:
    urn: str
    type: str
    name: str
    parent: str
    custom: bool
    # Inputs as the engine receives them; secret values stay wrapped (see `is_secret`).
    inputs: dict[str, Any]
    dependencies: frozenset[str]
    property_dependencies: Mapping[str, frozenset[str]]
    provider: str
    additional_secret_outputs: tuple[str, ...]
    ignore_changes: tuple[str, ...]
    replace_on_changes: tuple[str, ...]
    delete_before_replace: bool
    # Left in place (and forgotten) when it leaves the program.
    retain_on_delete: bool = False
    protect: bool = False

    @property
    def all_dependencies(self) -> frozenset[str]:
        """Explicit `depends_on` and the URNs behind every Output input."""
        implicit = (urn for urns in self.property_dependencies.values() for urn in urns)
        return self.dependencies | frozenset(implicit)


@dataclass(frozen=True)
class Export:
    value: Any
    secret: bool


@dataclass
class Evaluation:
    stack: str
    registrations: list[Registration] = field(default_factory=list)
    exports: dict[str, Export] = field(default_factory=dict)
    error: BaseException | None = None

    def check(self) -> Evaluation:
        if self.error is not None:
            raise self.error
        return self

    def by_urn(self) -> dict[str, Registration]:
        return {r.urn: r for r in self.registrations}

    def of_type(self, type_: str) -> list[Registration]:
        return [r for r in self.registrations if r.type == type_]

    def named(self, name: str) -> Registration:
        matches = [r for r in self.registrations if r.name == name]
        if len(matches) != 1:
            raise KeyError(f"{len(matches)} resources are named {name}")
        return matches[0]


def placeholder(key: str) -> str:
    """A stand-in for a `secure:` value. Keys get a well-formed throwaway key, so code that
    parses the key (its public half for the EC2 key pair) runs as it would for real. It is
    derived from a public seed: it opens nothing."""
    if key.endswith("PrivateKey"):
        # Derived from the key name: two evaluations must differ only where the config does.
        seed = hashlib.sha256(f"offline-placeholder:{key}".encode()).digest()
        key_bytes = ed25519.Ed25519PrivateKey.from_private_bytes(seed).private_bytes(
            # PKCS#8, not OpenSSH: the OpenSSH format embeds random check bytes.
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        return key_bytes.decode()
    return f"offline-placeholder-for-{key}"


def load_stack(stack: str, project_dir: Path = PROJECT_DIR) -> StackSettings:
    path = project_dir / f"Pulumi.{stack}.yaml"
    if not path.exists():
        known = sorted(
            p.name[len("Pulumi.") : -len(".yaml")] for p in project_dir.glob("Pulumi.*.yaml")
        )
        raise FileNotFoundError(f"no stack file {path.name}; stacks here: {', '.join(known)}")
    document = yamltext.load(path.read_text()) or {}
    # Secrets the project declares are set per machine with `pulumi config set --secret` and
    # may be absent from the committed stack file; offline they are placeholders either way.
    values = {key: placeholder(key) for key in declared_secrets(project_dir)}
    secret_keys = set(values)
    for key, value in (document.get("config") or {}).items():
        if isinstance(value, Mapping) and set(value) == {"secure"}:
            secret_keys.add(key)
            value = placeholder(key)
        elif _holds_secure(value):
            # A secure value inside structured config (`pulumi config set --secret --path`):
            # the CLI hands the program the whole key as a secret.
            secret_keys.add(key)
            value = _placeholders(key, value)
        values[key] = value
    return StackSettings(values, frozenset(secret_keys))


def _holds_secure(value: Any) -> bool:
    if isinstance(value, Mapping):
        return set(value) == {"secure"} or any(_holds_secure(v) for v in value.values())
    return isinstance(value, list) and any(_holds_secure(v) for v in value)


def _placeholders(path: str, value: Any) -> Any:
    """`value` with each nested `{secure: ...}` replaced by a placeholder named by its path."""
    if isinstance(value, Mapping):
        if set(value) == {"secure"}:
            return placeholder(path)
        return {k: _placeholders(f"{path}.{k}", v) for k, v in value.items()}
    if isinstance(value, list):
        return [_placeholders(f"{path}[{i}]", v) for i, v in enumerate(value)]
    return value


def declared_secrets(project_dir: Path = PROJECT_DIR) -> list[str]:
    """Full keys of the config that Pulumi.yaml declares `secret: true`."""
    project = yamltext.load((project_dir / "Pulumi.yaml").read_text()) or {}
    declared = project.get("config") or {}
    return [
        key if ":" in key else f"{project.get('name', PROJECT)}:{key}"
        for key, spec in declared.items()
        if isinstance(spec, Mapping) and spec.get("secret")
    ]


def with_overrides(
    settings: StackSettings,
    values: Mapping[str, Any] | None = None,
    secrets: Mapping[str, str] | None = None,
    remove: tuple[str, ...] = (),
) -> StackSettings:
    """The settings with top-level keys replaced, added as secrets, or removed."""
    merged = {k: v for k, v in settings.values.items() if k not in remove}
    merged.update(values or {})
    merged.update(secrets or {})
    secret_keys = (settings.secret_keys - set(remove)) | set(secrets or {})
    return StackSettings(merged, frozenset(secret_keys))


def _wire_value(value: Any) -> str:
    """Config reaches programs as strings; structured values as JSON, as the CLI sends them."""
    if isinstance(value, str):
        return value
    return json.dumps(value)


class RecordingMonitor(sdk_mocks.MockMonitor):
    """The SDK's mock monitor, recording each registration and behaving like the engine for
    duplicate URNs and `additionalSecretOutputs`."""

    def __init__(self, mocks: pulumi.runtime.Mocks, preview: bool = False) -> None:
        super().__init__(mocks)
        self.preview = preview
        self.registrations: list[Registration] = []
        self.duplicates: list[str] = []
        # Registrations arrive on executor threads, concurrently.
        self._lock = threading.Lock()
        self._seen: set[str] = set()
        self._stack_urn = ""
        # The stack's outputs as the SDK sends them to the engine, secrets wrapped.
        self.stack_outputs: dict[str, Any] = {}

    def make_urn(self, parent: str, type_: str, name: str) -> str:
        # The engine qualifies a child's type with its parent's, except under the root stack.
        if parent.endswith("::pulumi:pulumi:Stack::" + parent.rsplit("::", 1)[-1]):
            parent = ""
        return super().make_urn(parent, type_, name)

    def RegisterResource(self, request: Any) -> Any:
        urn = self.make_urn(request.parent, request.type, request.name)
        if request.type == "pulumi:pulumi:Stack":
            self._stack_urn = urn
            return resource_pb2.RegisterResourceResponse(urn=urn)
        sdk_mocks._ensure_event_loop()
        inputs = rpc.deserialize_properties(request.object)
        with self._lock:
            if urn in self._seen:
                # Raised here, the error would only reach the SDK's resolvers and could go
                # unseen; the evaluation reports it once the program has finished.
                self.duplicates.append(urn)
            self._seen.add(urn)
            self.registrations.append(self._record(urn, request, inputs))
        resource_id, state = self.mocks.new_resource(
            sdk_mocks.MockResourceArgs(
                typ=request.type,
                name=request.name,
                inputs=inputs,
                provider=request.provider,
                resource_id=request.importId,
                custom=request.custom or False,
            )
        )
        if self.preview:
            # As in a real preview of a new stack: no id yet, computed outputs unknown, so
            # `apply` on them does not run.
            resource_id, state = "", dict(inputs)
        for key in request.additionalSecretOutputs:
            if key in state and not rpc.is_rpc_secret(state[key]):
                state[key] = rpc.wrap_rpc_secret(state[key])
        self.resources[urn] = sdk_mocks.MockMonitor.ResourceRegistration(urn, resource_id, state)
        response = _sync_await(rpc.serialize_properties(state, {}))
        return resource_pb2.RegisterResourceResponse(urn=urn, id=resource_id, object=response)

    def RegisterResourceOutputs(self, request: Any) -> Any:
        if request.urn == self._stack_urn:
            self.stack_outputs = rpc.deserialize_properties(request.outputs, keep_unknowns=True)
        return super().RegisterResourceOutputs(request)

    @staticmethod
    def _record(urn: str, request: Any, inputs: dict[str, Any]) -> Registration:
        return Registration(
            urn=urn,
            type=request.type,
            name=request.name,
            parent=request.parent,
            custom=request.custom,
            inputs=inputs,
            dependencies=frozenset(request.dependencies),
            property_dependencies={
                key: frozenset(deps.urns) for key, deps in request.propertyDependencies.items()
            },
            provider=request.provider,
            additional_secret_outputs=tuple(request.additionalSecretOutputs),
            ignore_changes=tuple(request.ignoreChanges),
            replace_on_changes=tuple(request.replaceOnChanges),
            delete_before_replace=request.deleteBeforeReplace,
            retain_on_delete=bool(request.retainOnDelete),
            protect=bool(request.protect),
        )


def _run_program(function: Callable[[], None]) -> None:
    """Run the program and register the stack's outputs, as the SDK's entry point does
    (`run_in_stack`); the monitor records them from that registration. (Under `set_mocks`
    the root stack registered its still empty outputs when it was made.)"""
    try:
        function()
    finally:
        root = ROOT.get()
        if root is not None:
            root.register_outputs(massage(root.outputs, []))


def _exports(stack_outputs: Mapping[str, Any]) -> dict[str, Export]:
    """The stack outputs the SDK registered, read from the wire rather than resolved again."""
    return {
        name: Export(unwrap_secrets(value), secret_values(value))
        for name, value in stack_outputs.items()
    }


def unwrap_secrets(value: Any) -> Any:
    """`value` with every secret replaced by what it holds (for checks, never for display)."""
    if rpc.is_rpc_secret(value):
        return unwrap_secrets(rpc.unwrap_rpc_secret(value))
    if isinstance(value, dict):
        return {k: unwrap_secrets(v) for k, v in value.items()}
    if isinstance(value, list):
        return [unwrap_secrets(v) for v in value]
    return value


def evaluate(
    stack: str,
    settings: StackSettings | None = None,
    preview: bool = False,
    program: Path = PROJECT_DIR / "__main__.py",
) -> Evaluation:
    """Run the program for `stack` offline and return what it registered and exported."""
    settings = settings or load_stack(stack)
    if str(program.parent) not in sys.path:
        sys.path.insert(0, str(program.parent))
    return run(lambda: runpy.run_path(str(program), run_name="__main__"), stack, settings, preview)


def run(
    function: Callable[[], None],
    stack: str = "test",
    settings: StackSettings | None = None,
    preview: bool = False,
) -> Evaluation:
    """Run `function` as a Pulumi program offline (a piece of the program, in tests) and
    return what it registered and exported."""
    settings = settings or StackSettings({}, frozenset())
    # A fresh context per run: the SDK keeps its settings, config and root stack in context
    # variables, so runs never see each other's state.
    return contextvars.Context().run(_evaluate, function, stack, settings, preview)


def _evaluate(
    function: Callable[[], None], stack: str, settings: StackSettings, preview: bool
) -> Evaluation:
    pulumi.runtime.set_all_config(
        {k: _wire_value(v) for k, v in settings.values.items()}, sorted(settings.secret_keys)
    )
    monitor = RecordingMonitor(MockProviders(), preview)
    pulumi.runtime.set_mocks(
        monitor.mocks, project=PROJECT, stack=stack, preview=preview, monitor=monitor
    )
    evaluation = Evaluation(stack, monitor.registrations)
    try:
        _sync_await(run_pulumi_func(lambda: _run_program(function)))
        evaluation.exports = _exports(monitor.stack_outputs)
        if monitor.duplicates:
            raise DuplicateUrnError(f"duplicate resource URNs: {', '.join(monitor.duplicates)}")
    except Exception as error:
        evaluation.error = error
    return evaluation


def secret_values(value: Any) -> bool:
    """Whether an input value is (or holds) a secret."""
    if rpc.is_rpc_secret(value):
        return True
    if isinstance(value, dict):
        return any(secret_values(v) for v in value.values())
    if isinstance(value, list):
        return any(secret_values(v) for v in value)
    return False


__all__ = [
    "DuplicateUrnError",
    "Evaluation",
    "Export",
    "Registration",
    "StackSettings",
    "evaluate",
    "load_stack",
    "placeholder",
    "run",
    "secret_values",
    "unwrap_secrets",
    "with_overrides",
]
