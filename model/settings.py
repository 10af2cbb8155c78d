"""Settings declared once: a frozen dataclass whose fields say their config key, default,
format and meaning.

    @dataclass(frozen=True, kw_only=True)
    class MonitoringSettings:
        retention: str = setting("retention", "15d", format=PROMETHEUS_DURATION,
                                 doc="how long Prometheus keeps samples")

`read_section` builds one from a section of the stack config, recording every problem (with
key path, bad value and fix) on the shared `Problems` so that all are reported together;
`describe` lists the keys, types and defaults for the generated reference. The field's type
says how it is read: `bool`, `int`, `str`, a `Literal` of choices, another settings
dataclass (a nested section), `tuple[...]` (a list), each optionally `| None`.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Literal, TypeVar

from model.fields import MISSING, Fields, suggestion
from model.formats import Format
from model.site import Site

T = TypeVar("T")
REQUIRED: Any = MISSING
# A value that could not be read; the problem is recorded already.
_INVALID: Any = object()


@dataclass(frozen=True)
class Context:
    """What defaults and checks may look at besides the config itself."""

    site: Site
    stack: str
    # Professors and courses (model.tenants.TenantsConfig, read before the platform), for
    # add-ons that serve them. (Typed loosely: model.tenants reads its section with this.)
    tenants: Any = None

    @property
    def has_tenants(self) -> bool:
        return bool(self.tenants and self.tenants.members)


@dataclass(frozen=True)
class PerSite:
    """A default that differs between bare metal and a cloud."""

    on_premises: Any
    cloud: Any

    def pick(self, context: Context) -> Any:
        return self.cloud if context.site.cloud else self.on_premises

    def __str__(self) -> str:
        return f"`{self.on_premises}` (bare metal), `{self.cloud}` (AWS)"


@dataclass(frozen=True)
class Derived:
    """A default computed from the context and the values read before it in the section."""

    compute: Callable[[Context, Mapping[str, Any]], Any]
    text: str

    def __str__(self) -> str:
        return self.text


@dataclass(frozen=True)
class Setting:
    key: str
    default: Any
    doc: str
    format: Format | None = None
    minimum: int | None = None
    maximum: int | None = None
    # How the reference shows the default when the value is not how it is written (1 for 1/1).
    shown: str | None = None


def setting(
    key: str,
    default: Any = REQUIRED,
    *,
    doc: str,
    format: Format | None = None,
    minimum: int | None = None,
    maximum: int | None = None,
    shown: str | None = None,
) -> Any:
    """A settings field read from `key`. A plain default is also the dataclass default, so
    code and tests can build settings directly."""
    spec = Setting(key, default, doc, format, minimum, maximum, shown)
    plain = default is not REQUIRED and not isinstance(default, PerSite | Derived)
    return dataclasses.field(
        default=default if plain else dataclasses.MISSING, metadata={"setting": spec}
    )


# The default of a nested section: absent, it is read as empty, so its own defaults apply.
SECTION_DEFAULTS: Any = object()


def subsection(key: str, cls: type, *, doc: str, required: bool = False) -> Any:
    """A nested section read as a `cls`; absent, it takes `cls`'s defaults (unless required)."""
    spec = Setting(key, REQUIRED if required else SECTION_DEFAULTS, doc)
    plain = not required and all(
        f.default is not dataclasses.MISSING or f.default_factory is not dataclasses.MISSING
        for f in dataclasses.fields(cls)
    )
    factory = cls if plain else dataclasses.MISSING
    return dataclasses.field(default_factory=factory, metadata={"setting": spec})


def settings_fields(cls: type) -> list[tuple[dataclasses.Field, Setting, Any]]:
    """(field, its Setting, its resolved type) in declaration order."""
    hints = typing.get_type_hints(cls, include_extras=False)
    return [
        (f, f.metadata["setting"], hints[f.name])
        for f in dataclasses.fields(cls)
        if "setting" in f.metadata
    ]


def keys_of(cls: type) -> tuple[str, ...]:
    return tuple(spec.key for _, spec, _ in settings_fields(cls))


def is_settings(kind: Any) -> bool:
    return dataclasses.is_dataclass(kind) and bool(settings_fields(kind))


def _optional(kind: Any) -> tuple[Any, bool]:
    """(inner type, whether None is allowed) of `X | None`."""
    if typing.get_origin(kind) in (typing.Union, types.UnionType):
        inner = [a for a in typing.get_args(kind) if a is not type(None)]
        if len(inner) == 1 and len(typing.get_args(kind)) == 2:
            return inner[0], True
    return kind, False


def read_section(
    parent: Fields, key: str, cls: type[T], context: Context, required: bool = False
) -> T | None:
    """The section `key` of `parent` as a `cls`; defaults fill an absent section unless it is
    required. None when anything in it is wrong (the problems are recorded)."""
    section = parent.section(key, keys_of(cls), required=required)
    return None if section is None else read_settings(cls, section, context)


def read_settings(cls: type[T], section: Fields, context: Context) -> T | None:
    values: dict[str, Any] = {}
    for field, spec, kind in settings_fields(cls):
        values[field.name] = _read(section, spec, kind, context, values)
    if any(v is _INVALID for v in values.values()):
        return None
    return cls(**values)


def _default(spec: Setting, context: Context, values: Mapping[str, Any]) -> Any:
    if isinstance(spec.default, PerSite):
        return spec.default.pick(context)
    if isinstance(spec.default, Derived):
        return spec.default.compute(context, values)
    return spec.default


def _read(section: Fields, spec: Setting, kind: Any, context: Context, values: Mapping) -> Any:
    inner, optional = _optional(kind)
    raw = section.raw(spec.key)
    if is_settings(inner):
        # An optional section left out, or written empty, is None.
        if optional and (raw is MISSING or (isinstance(raw, Mapping) and not raw)):
            return None
        sub = section.section(spec.key, keys_of(inner), required=spec.default is REQUIRED)
        result = None if sub is None else read_settings(inner, sub, context)
        return _INVALID if result is None else result
    default = _default(spec, context, values) if raw is MISSING else MISSING
    if raw is MISSING and default is not MISSING:
        if isinstance(spec.default, Derived) and spec.format and isinstance(default, str):
            # A computed default is checked like a written value (a stack name may not fit).
            value = _formatted(section, spec.key, spec.format, default, f"'{default}' ")
            return _INVALID if value is None else value
        return default
    if typing.get_origin(inner) is tuple:
        return _read_list(section, spec, typing.get_args(inner)[0], context)
    value = _read_scalar(section, spec, inner, raw)
    return _INVALID if value is None else value


def _read_scalar(section: Fields, spec: Setting, kind: Any, raw: Any) -> Any:
    key = spec.key
    if spec.format is not None:
        # Written as text, whatever it becomes (an address, a network, the N of 1/N).
        text = section.string(key)
        return None if text is None else _formatted(section, key, spec.format, text)
    if kind is bool:
        return section.boolean(key)
    if kind is int:
        value = section.integer(key, minimum=spec.minimum or 0)
        if value is not None and spec.maximum is not None and value > spec.maximum:
            section.bad(key, f"must be at most {spec.maximum}", f"use {spec.maximum} or less")
            return None
        return value
    if typing.get_origin(kind) is Literal:
        return section.choice(key, typing.get_args(kind))
    return section.string(key)


def _formatted(section: Fields, key: str, format: Format, text: str, label: str = "") -> Any:
    ok, value, problem = format.parse(text)
    if not ok:
        section.bad(key, f"{label}{problem}", format.fix)
        return None
    return value


def _read_list(section: Fields, spec: Setting, item: Any, context: Context) -> Any:
    entries = section.items(spec.key)
    if entries is None:
        return _INVALID
    if is_settings(item):
        read = [
            _read_element(section, spec.key, index, entry, item, context)
            for index, entry in enumerate(entries)
        ]
        return _INVALID if None in read else tuple(read)
    if not all(isinstance(v, str) and v for v in entries):
        section.bad(spec.key, "must be a list of non-empty strings", "quote each entry as a string")
        return _INVALID
    if typing.get_origin(item) is Literal:
        choices = typing.get_args(item)
        wrong = [v for v in entries if v not in choices]
        for value in wrong:
            section.bad(spec.key, f"has an unknown entry '{value}'", suggestion(value, choices))
        return _INVALID if wrong else tuple(entries)
    if spec.format is None:
        return tuple(entries)
    parsed = [_formatted(section, spec.key, spec.format, v, f"'{v}' ") for v in entries]
    return _INVALID if None in parsed else tuple(parsed)


def _read_element(
    section: Fields, key: str, index: int, entry: Any, cls: type, context: Context
) -> Any:
    element = section.element(key, index, entry, keys_of(cls))
    return None if element is None else read_settings(cls, element, context)


# ---- the generated reference -----------------------------------------------------------------


@dataclass(frozen=True)
class KeyDoc:
    key: str
    type: str
    default: str
    doc: str


def _type_text(spec: Setting, kind: Any) -> str:
    inner, _ = _optional(kind)
    if typing.get_origin(inner) is tuple:
        item = typing.get_args(inner)[0]
        if is_settings(item):
            return "list of mappings"
        return f"list of {_scalar_text(spec, item)}"
    return _scalar_text(spec, inner)


def _scalar_text(spec: Setting, kind: Any) -> str:
    if spec.format is not None:
        return spec.format.name
    if kind is bool:
        return "bool"
    if kind is int:
        bounds = f" ≥ {spec.minimum}" if spec.minimum else ""
        if spec.maximum is not None:
            bounds += f", ≤ {spec.maximum}"
        return f"int{bounds}"
    if typing.get_origin(kind) is Literal:
        return " \\| ".join(f"`{c}`" for c in typing.get_args(kind))
    return "string"


def _default_text(spec: Setting) -> str:
    if spec.shown is not None:
        return spec.shown
    if spec.default is REQUIRED:
        return "required"
    if spec.default is SECTION_DEFAULTS:
        return "see below"
    if spec.default is None:
        return "none"
    if isinstance(spec.default, PerSite | Derived):
        return str(spec.default)
    if isinstance(spec.default, bool):
        return f"`{str(spec.default).lower()}`"
    if isinstance(spec.default, tuple):
        return "empty" if not spec.default else f"`{list(spec.default)}`"
    return f"`{spec.default}`"


def describe(cls: type, prefix: str = "") -> Iterator[KeyDoc]:
    """Every key of `cls`, nested sections and list entries included, as dotted paths."""
    for _, spec, kind in settings_fields(cls):
        path = f"{prefix}{spec.key}"
        inner, _ = _optional(kind)
        if is_settings(inner):
            yield KeyDoc(path, "mapping", _default_text(spec), spec.doc)
            yield from describe(inner, f"{path}.")
            continue
        yield KeyDoc(path, _type_text(spec, kind), _default_text(spec), spec.doc)
        if typing.get_origin(inner) is tuple and is_settings(typing.get_args(inner)[0]):
            yield from describe(typing.get_args(inner)[0], f"{path}[].")
