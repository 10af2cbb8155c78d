"""The tenants' test stack, shared by the tenancy, Kueue and JupyterHub tests."""

from __future__ import annotations

import pytest

from automation.engine import Evaluation
from tests.tenants import NEW_COURSE, campus_config, evaluate_campus


@pytest.fixture(scope="session")
def campus() -> Evaluation:
    """The lab with three professors, three courses and an OIDC provider."""
    return evaluate_campus(campus_config()).check()


@pytest.fixture(scope="session")
def campus_plus_course() -> Evaluation:
    """The same with one more course."""
    return evaluate_campus(campus_config([NEW_COURSE])).check()
