"""The committed stacks, evaluated once per test session and shared by every test."""

from __future__ import annotations

import pytest

from automation.engine import Evaluation, evaluate


@pytest.fixture(scope="session")
def lab() -> Evaluation:
    return evaluate("lab").check()


@pytest.fixture(scope="session")
def dev() -> Evaluation:
    return evaluate("dev").check()
