"""The `tenants:` section: professors with dedicated GPUs and courses whose students share
them. The stack config reads it; add-ons that serve tenants get it in their context."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from model.fields import Fields
from model.formats import DNS_LABEL, FRACTION
from model.settings import Context, keys_of, read_settings, setting


@dataclass(frozen=True, kw_only=True)
class Faculty:
    name: str = setting("name", format=DNS_LABEL, doc="the tenant's name, also its namespace")
    users: tuple[str, ...] = setting("users", (), doc="who works in it")
    dedicated_gpus: int = setting("dedicatedGpus", 0, doc="whole GPUs reserved for it")


@dataclass(frozen=True, kw_only=True)
class Course:
    name: str = setting("name", format=DNS_LABEL, doc="the tenant's name, also its namespace")
    users: tuple[str, ...] = setting("users", (), doc="its students and teaching assistants")
    gpu_quota: int = setting("gpuQuota", 0, doc="GPUs its queued jobs may use at once")
    # The N of 1/N.
    notebook_gpu_fraction: int = setting(
        "notebookGpuFraction",
        1,
        format=FRACTION,
        shown="`1/1`",
        doc="share of a GPU per notebook, 1/N; N at most the time-slicing replicas",
    )


@dataclass(frozen=True, kw_only=True)
class TenantsConfig:
    faculty: tuple[Faculty, ...] = setting("faculty", (), doc="professors")
    courses: tuple[Course, ...] = setting("courses", (), doc="courses")

    @property
    def members(self) -> tuple[Faculty | Course, ...]:
        return (*self.faculty, *self.courses)


def read(top: Fields, context: Context) -> TenantsConfig | None:
    section = top.section("tenants", keys_of(TenantsConfig))
    config = None if section is None else read_settings(TenantsConfig, section, context)
    if config is None:
        return None
    for name, seen in Counter(m.name for m in config.members).items():
        if seen > 1:
            section.problems.add(
                section.path,
                name,
                f"{seen} tenants are named {name}",
                "give each tenant its own name",
            )
    return config
