"""A lab with several professors and courses and an OIDC provider: the tenancy add-ons' test
stack, evaluated once per session (see tests/components/addons/conftest.py)."""

from __future__ import annotations

import copy
from typing import Any

from automation.engine import Evaluation, StackSettings, evaluate, load_stack
from tests.helpers import Config, stack_config

OIDC = {
    "issuerUrl": "https://login.lab.example.edu/realms/lab",
    "clientId": "ml-platform",
    "clientSecret": "offline-oidc-client-secret-0123456789",
    # As the provider's discovery document lists them (Keycloak's paths), for Grafana's login.
    "endpoints": {
        "authorization": "https://login.lab.example.edu/realms/lab/protocol/openid-connect/auth",
        "token": "https://login.lab.example.edu/realms/lab/protocol/openid-connect/token",
        "userinfo": "https://login.lab.example.edu/realms/lab/protocol/openid-connect/userinfo",
    },
}
FACULTY = [
    {"name": "prof-lee", "users": ["lee@lab.example.edu", "phd-a@lab.example.edu"], "dedicatedGpus": 8},
    {"name": "prof-kim", "users": ["kim@lab.example.edu"], "dedicatedGpus": 4},
    {"name": "prof-ng", "users": ["ng@lab.example.edu"]},
]  # fmt: skip
COURSES = [
    {"name": "cs231", "users": ["ta-cs231@lab.example.edu", "s1@lab.example.edu", "s2@lab.example.edu"],
     "gpuQuota": 4, "notebookGpuFraction": "1/4"},
    {"name": "cs229", "users": ["ta-cs229@lab.example.edu"], "gpuQuota": 2, "notebookGpuFraction": "1/4"},
    {"name": "ml101", "users": ["s1@lab.example.edu", "s3@lab.example.edu"]},
]  # fmt: skip
NEW_COURSE = {"name": "cs330", "users": ["s4@lab.example.edu"], "gpuQuota": 2, "notebookGpuFraction": "1/4"}  # fmt: skip
# The lab's 32 exclusive GPUs less what the tenants above have as their own.
POOL = 32 - (8 + 4) - (4 + 2)


def campus_config(extra_courses: list[dict[str, Any]] = ()) -> Config:
    config = stack_config("lab")
    config["tenants"] = {
        "faculty": copy.deepcopy(FACULTY),
        "courses": copy.deepcopy(COURSES) + copy.deepcopy(list(extra_courses)),
    }
    config["identity"] = {"oidc": dict(OIDC)}
    # The MLOps example makes its MLflow user with MLflow's basic auth, which an OIDC provider
    # replaces (stacks/checks.py mlops_example_sign_in).
    config["platform"]["mlops"]["example"]["enabled"] = False
    return config


def evaluate_campus(config: Config) -> Evaluation:
    """`config` on the lab, its `identity` key stored as a secret (as `pulumi config set
    --secret --path` stores it)."""
    base = load_stack("lab")
    values = {k: v for k, v in base.values.items() if k in base.secret_keys}
    values.update({f"ml-platform:{key}": value for key, value in config.items()})
    return evaluate("lab", StackSettings(values, base.secret_keys | {"ml-platform:identity"}))
