"""The Dockerfiles, which cannot be built here (no Docker engine): pinned bases, non-root
numeric users, the dependencies from requirements-mlops.txt, and entry points that exist."""

from __future__ import annotations

import importlib
import json
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
IMAGES = ("train", "service", "drift")


def instructions(image: str) -> list[tuple[str, str]]:
    text = (ROOT / "mlops" / "docker" / f"{image}.Dockerfile").read_text()
    text = re.sub(r"\\\n", " ", text)
    lines = [line.strip() for line in text.splitlines()]
    return [tuple(line.split(None, 1)) for line in lines if line and not line.startswith("#")]


@pytest.mark.parametrize("image", IMAGES)
def test_image_is_pinned_non_root_and_installs_the_requirements(image):
    steps = instructions(image)
    (base,) = [arg for op, arg in steps if op == "FROM"]
    assert re.fullmatch(r"python:3\.11\.\d+-slim-bookworm", base), base
    users = [arg for op, arg in steps if op == "USER"]
    assert users and users[-1].isdigit() and int(users[-1]) > 0
    runs = " ".join(arg for op, arg in steps if op == "RUN")
    assert "pip install -r requirements-mlops.txt" in runs
    assert ("COPY", "mlops/ mlops/") in steps
    env = " ".join(arg for op, arg in steps if op == "ENV")
    assert "MLFLOW_DISABLE_TELEMETRY=true" in env  # nothing phones home from a pod


@pytest.mark.parametrize("image", IMAGES)
def test_entry_point_exists(image):
    (command,) = [json.loads(arg) for op, arg in instructions(image) if op == "CMD"]
    if command[0] == "bentoml":
        assert command[1:3] == ["serve", "mlops.service:ModelService"]
        assert command[command.index("--port") + 1] == "3000"
        module, _, attribute = command[2].partition(":")
        assert hasattr(importlib.import_module(module), attribute)
    else:
        assert command[:2] == ["python", "-m"]
        assert callable(importlib.import_module(command[2]).main)


def test_service_image_exposes_3000():
    assert ("EXPOSE", "3000") in instructions("service")


def test_every_requirement_is_pinned():
    lines = (ROOT / "requirements-mlops.txt").read_text().splitlines()
    requirements = [line for line in lines if line and not line.startswith("#")]
    assert requirements
    for requirement in requirements:
        assert re.fullmatch(r"[A-Za-z0-9_.\-\[\]]+==[0-9][0-9A-Za-z.]*", requirement), requirement
