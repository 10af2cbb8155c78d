"""Settings declared once: read from config with every problem reported, and described."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import pytest

from model.fields import ConfigError, Fields, Problems
from model.formats import DNS_LABEL, FRACTION
from model.settings import Context, Derived, PerSite, describe, read_section, setting, subsection
from tests.helpers import site


@dataclass(frozen=True, kw_only=True)
class Limits:
    replicas: int = setting("replicas", 1, minimum=1, maximum=8, doc="copies")


@dataclass(frozen=True, kw_only=True)
class Member:
    name: str = setting("name", format=DNS_LABEL, doc="its name")
    share: int = setting("share", 1, format=FRACTION, shown="`1/1`", doc="1/N")


@dataclass(frozen=True, kw_only=True)
class Example:
    mode: Literal["fast", "safe"] = setting(
        "mode", PerSite(on_premises="safe", cloud="fast"), doc="m"
    )
    label: str = setting(
        "label", Derived(lambda c, _: f"x-{c.stack}", "`x-<stack>`"), format=DNS_LABEL, doc="l"
    )
    on: bool = setting("on", True, doc="switch")
    limits: Limits = subsection("limits", Limits, doc="limits")
    members: tuple[Member, ...] = setting("members", (), doc="members")
    tags: tuple[Literal["a", "b"], ...] = setting("tags", (), doc="tags")
    note: str | None = setting("note", None, doc="free text")


def read(data: dict, cloud: str | None = None, stack: str = "dev") -> Example:
    problems = Problems()
    top = Fields({"example": data}, "ml-platform:", problems, ("example",))
    result = read_section(top, "example", Example, Context(site(cloud), stack))
    problems.raise_if_any()
    return result


def test_defaults_fill_an_empty_section_per_site():
    assert read({}) == Example(mode="safe", label="x-dev", limits=Limits(replicas=1))
    assert read({}, cloud="aws").mode == "fast"


def test_values_are_typed_converted_and_nested():
    example = read(
        {"mode": "fast", "limits": {"replicas": 3}, "tags": ["a"], "note": "hello",
         "members": [{"name": "cs231", "share": "1/4"}]}
    )  # fmt: skip
    assert example.limits.replicas == 3 and example.tags == ("a",) and example.note == "hello"
    assert example.members == (Member(name="cs231", share=4),)


def test_every_problem_is_reported_with_its_key_path():
    with pytest.raises(ConfigError) as error:
        read(
            {"mode": "quick", "on": "yes", "limits": {"replicas": 9, "replica": 1},
             "members": [{"name": "CS231"}, {"name": "ok", "share": "2/3"}], "tags": ["c"]}
        )  # fmt: skip
    problems = {p.key: p.render() for p in error.value.problems}
    assert set(problems) == {
        "ml-platform:example.mode",
        "ml-platform:example.on",
        "ml-platform:example.limits.replicas",
        "ml-platform:example.limits.replica",
        "ml-platform:example.members[0].name",
        "ml-platform:example.members[1].share",
        "ml-platform:example.tags",
    }
    assert "must be at most 8" in problems["ml-platform:example.limits.replicas"]
    assert "did you mean 'replicas'" in problems["ml-platform:example.limits.replica"]
    assert "not a DNS label" in problems["ml-platform:example.members[0].name"]


def test_a_computed_default_is_checked_like_a_written_value():
    with pytest.raises(ConfigError) as error:
        read({}, stack="My_Stack")
    assert "'x-My_Stack' is not a DNS label" in error.value.problems[0].render()


def test_the_reference_lists_every_key_with_its_type_and_default():
    rows = {row.key: (row.type, row.default) for row in describe(Example)}
    assert rows["mode"] == ("`fast` \\| `safe`", "`safe` (bare metal), `fast` (AWS)")
    assert rows["label"] == ("DNS label", "`x-<stack>`")
    assert rows["limits.replicas"] == ("int ≥ 1, ≤ 8", "`1`")
    assert rows["members[].share"] == ("1/N", "`1/1`")
    assert rows["members"] == ("list of mappings", "empty")
    assert rows["note"] == ("string", "none")
