"""The committed stacks, evaluated once per test session and shared by every test."""

from __future__ import annotations

import pytest

from automation.engine import Evaluation, evaluate
from tests.tenants import NEW_COURSE, campus_config, evaluate_campus


@pytest.fixture(scope="session")
def lab() -> Evaluation:
    return evaluate("lab").check()


@pytest.fixture(scope="session")
def dev() -> Evaluation:
    return evaluate("dev").check()


@pytest.fixture(scope="session")
def campus() -> Evaluation:
    """The lab with three professors, three courses and an OIDC provider (tests/tenants.py)."""
    return evaluate_campus(campus_config()).check()


@pytest.fixture(scope="session")
def campus_plus_course() -> Evaluation:
    """The same with one more course."""
    return evaluate_campus(campus_config([NEW_COURSE])).check()
