"""The one configuration system of keepfit: pydantic models that forbid unknown keys (the builder's ``Params``
style), YAML files read as YAML 1.2, and ``--set section.key=value`` overrides.

Every error is a :class:`~keepfit.errors.ConfigError` that names the file and the key ("pipelines/x.yaml:
unknown config key 'train.lrr' (valid keys in train: ...)"): a misspelled setting must never be silently
ignored, as the reference's ``parse_known_args`` did.
"""

from __future__ import annotations

import re
import types
import typing
from pathlib import Path
from typing import Any, ClassVar

import yaml
from pydantic import BaseModel, ConfigDict, ValidationError

from .errors import ConfigError


class Settings(BaseModel):
    """Base of every keepfit config section: unknown keys are errors, numbers coerce to strings.

    Read configs with :meth:`from_dict` / :func:`load_settings` (errors become :class:`ConfigError` naming the
    file and key); constructing one in code raises pydantic's ``ValidationError`` for a bad value.
    """

    model_config = ConfigDict(extra="forbid", coerce_numbers_to_str=True, validate_assignment=True)
    #: dotted name of the section in a whole config ("model", "train", ...), used in error messages
    section: ClassVar[str] = ""

    def to_dict(self) -> dict[str, Any]:
        """JSON-able values (what checkpoints and ``config.yaml`` hold)."""
        return self.model_dump(mode="json")

    @classmethod
    def from_dict(cls, data: dict[str, Any], source: str = "") -> Any:
        """Validate a mapping (e.g. read back from a checkpoint); errors name ``source`` and the key."""
        try:
            return cls.model_validate(data)
        except ValidationError as e:
            raise ConfigError(describe_errors(e, cls, source=source, prefix=cls.section)) from None


# ------------------------------------------------------------------------------------------- errors


def _unwrap(tp: Any) -> Any:
    """The settings class inside ``X | None`` / ``list[X]`` annotations (or ``tp`` itself)."""
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType, list):
        for arg in typing.get_args(tp):
            inner = _unwrap(arg)
            if isinstance(inner, type) and issubclass(inner, BaseModel):
                return inner
    return tp


def _keys_at(cls: type[BaseModel], loc: tuple[Any, ...]) -> list[str]:
    """Valid keys of the section at ``loc`` (integer parts step into list items)."""
    node: Any = cls
    for part in loc:
        if isinstance(part, int):
            continue
        field = node.model_fields.get(part) if isinstance(node, type) and issubclass(node, BaseModel) else None
        if field is None:
            return []
        node = _unwrap(field.annotation)
    return sorted(node.model_fields) if isinstance(node, type) and issubclass(node, BaseModel) else []


def describe_errors(err: ValidationError, cls: type[BaseModel], source: str = "", prefix: str = "") -> str:
    """One line per problem: ``SOURCE: unknown config key 'a.b' (valid keys in a: ...)`` or
    ``SOURCE: a.b: <what is wrong> (got <value>)``."""
    lead = f"{source}: " if source else ""
    lines = []
    for e in err.errors():
        loc = tuple(e["loc"])
        shown = ".".join(str(p) if not isinstance(p, int) else f"[{p}]" for p in loc).replace(".[", "[")
        shown = f"{prefix}.{shown}" if prefix and shown else (prefix or shown)
        if e["type"] == "extra_forbidden":
            section = ".".join(str(p) for p in ((prefix,) if prefix else ()) + loc[:-1] if not isinstance(p, int))
            valid = ", ".join(_keys_at(cls, loc[:-1]))
            lines.append(f"unknown config key '{shown}' (valid keys in {section or 'top level'}: {valid})")
        else:
            msg = e["msg"].removeprefix("Value error, ")
            got = f" (got {e['input']!r})" if e["type"] != "missing" and not isinstance(e.get("input"), dict) else ""
            lines.append(f"{shown or 'config'}: {msg}{got}")
    return lead + "; ".join(lines)


# -------------------------------------------------------------------------------------------- YAML


class _Yaml12Loader(yaml.SafeLoader):
    """YAML 1.2 scalars: only true/false are booleans (``mode: off`` stays the string 'off') and
    ``1e-4`` is a float."""


_Yaml12Loader.yaml_implicit_resolvers = {
    key: [
        (tag, rx) for tag, rx in resolvers if tag not in ("tag:yaml.org,2002:bool", "tag:yaml.org,2002:float")
    ]
    for key, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_Yaml12Loader.add_implicit_resolver(
    "tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF")
)
_Yaml12Loader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(
        r"^(?:[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?"
        r"|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$"
    ),
    list("-+0123456789."),
)


def yaml_load(text: str) -> Any:
    return yaml.load(text, Loader=_Yaml12Loader)  # safe: a SafeLoader subclass


def read_yaml(path: str | Path) -> dict[str, Any]:
    """A YAML mapping from ``path`` (empty file = empty mapping); errors name the file."""
    p = Path(path)
    if not p.is_file():
        raise ConfigError(f"{p}: config file not found")
    try:
        loaded = yaml_load(p.read_text(encoding="utf-8"))
    except yaml.YAMLError as e:
        raise ConfigError(f"{p}: not valid YAML ({e})") from e
    if loaded is not None and not isinstance(loaded, dict):
        raise ConfigError(f"{p}: the top level must be a mapping")
    return loaded or {}


def apply_override(data: dict[str, Any], assignment: str) -> None:
    """Apply one ``a.b.c=value`` to a nested mapping (value parsed as YAML: numbers, true, null, lists)."""
    if "=" not in assignment:
        raise ConfigError(f"--set {assignment!r}: expected key=value")
    key, raw = assignment.split("=", 1)
    parts = key.strip().split(".")
    if not all(parts):
        raise ConfigError(f"--set {assignment!r}: empty key part")
    try:
        value = yaml_load(raw) if raw.strip() else ""
    except yaml.YAMLError as e:
        raise ConfigError(f"--set {key}: cannot parse value {raw!r} ({e})") from e
    node = data
    for part in parts[:-1]:
        child = node.setdefault(part, {})
        if not isinstance(child, dict):
            raise ConfigError(f"--set {key}: '{part}' is not a section")
        node = child
    node[parts[-1]] = value


def load_settings(cls: type[Settings], path: str | Path | None = None, overrides: list[str] | None = None) -> Any:
    """Read ``path`` (None = defaults), apply ``--set`` overrides, validate as ``cls``."""
    data = read_yaml(path) if path is not None else {}
    for assignment in overrides or []:
        apply_override(data, assignment)
    source = str(path) if path is not None else "defaults"
    if overrides:
        source += " + --set"
    return cls.from_dict(data, source)
