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
    # The N of 1/N; None: its notebooks get no GPU.
    notebook_gpu_fraction: int | None = setting(
        "notebookGpuFraction",
        None,
        format=FRACTION,
        doc="a notebook's share of a shared GPU, 1/N with N = platform.gpu.timeSlicing.replicas "
        "(one slice); unset: CPU-only notebooks",
    )


@dataclass(frozen=True, kw_only=True)
class TenantsConfig:
    faculty: tuple[Faculty, ...] = setting("faculty", (), doc="professors")
    courses: tuple[Course, ...] = setting("courses", (), doc="courses")

    @property
    def members(self) -> tuple[Faculty | Course, ...]:
        return (*self.faculty, *self.courses)

    @property
    def users(self) -> tuple[str, ...]:
        """Everyone of every tenant, once each, in order."""
        return tuple(dict.fromkeys(u for m in self.members for u in m.users))

    def of_user(self, user: str) -> tuple[Faculty | Course, ...]:
        return tuple(m for m in self.members if user in m.users)


def kind(member: Faculty | Course) -> str:
    """`faculty` or `course`: what the tenant's namespace is labelled with."""
    return "faculty" if isinstance(member, Faculty) else "course"


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
    for key, members in (("faculty", config.faculty), ("courses", config.courses)):
        for index, member in enumerate(members):
            for user, seen in Counter(member.users).items():
                if seen > 1:
                    section.problems.add(
                        f"{section.key(key)}[{index}].users", user,
                        f"{member.name} lists {user} {seen} times", "list each user once",
                    )  # fmt: skip
    return config
