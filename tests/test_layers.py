"""Imports point down: model/ at the bottom, then components/, then stacks/, then the
program; nothing imports from a layer above it, and no module imports itself back."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LAYERS = {"model": 0, "components": 1, "stacks": 2, "__main__": 3}


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports(path: Path) -> set[str]:
    """First-party modules `path` imports (every import, type-checking ones included)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found |= {f"{node.module}.{alias.name}" for alias in node.names}
    return {name for name in found if name.split(".")[0] in LAYERS}


def program_modules() -> dict[str, set[str]]:
    paths = [ROOT / "__main__.py"]
    for layer in ("model", "components", "stacks"):
        paths += sorted((ROOT / layer).rglob("*.py"))
    modules = {module_name(p): imports(p) for p in paths}
    # `from package import module` names a module; `from module import name` names the module.
    return {m: {i for i in deps if i in modules} for m, deps in modules.items()}


def test_no_module_imports_from_a_layer_above_it():
    upward = [
        f"{module} imports {imported}"
        for module, deps in program_modules().items()
        for imported in deps
        if LAYERS[imported.split(".")[0]] > LAYERS[module.split(".")[0]]
    ]
    assert upward == []


def test_there_are_no_import_cycles():
    graph = program_modules()
    state: dict[str, str] = {}
    cycles: list[str] = []

    def visit(module: str, path: list[str]) -> None:
        state[module] = "open"
        for dependency in sorted(graph[module]):
            if dependency == module or module.startswith(f"{dependency}."):
                continue  # a package's own submodules and the package itself
            if state.get(dependency) == "open":
                cycles.append(" -> ".join([*path, module, dependency]))
            elif dependency not in state:
                visit(dependency, [*path, module])
        state[module] = "done"

    for module in sorted(graph):
        if module not in state:
            visit(module, [])
    assert cycles == []


def test_the_check_sees_real_imports():
    graph = program_modules()
    assert "model.fields" in graph["components.addons.addon"]
    assert "components.addons.platform" in graph["stacks.config"]
