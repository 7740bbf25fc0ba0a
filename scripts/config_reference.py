#!/usr/bin/env python3
"""Write docs/configuration.md from Bay's settings model (packages/bay/src/bay/config.py).

    config_reference.py          rewrite docs/configuration.md
    config_reference.py --check  exit 1 when the committed file differs from what it would write

Every setting is read from the model: its YAML path, its environment variable, its type, its
default and its description. Run it after changing `bay.config`; a test fails until you do.
"""

import argparse
import sys
import types
import typing
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, SecretStr
from pydantic.fields import FieldInfo

from bay.config import ContainerSettings, ProfileSettings, Settings

REFERENCE = Path(__file__).resolve().parents[1] / "docs" / "configuration.md"
HEADER = """\
# Configuration reference

<!-- Written by scripts/config_reference.py from bay.config; do not edit by hand. -->

Bay reads its settings from, in order of priority: the environment (`BAY_` prefix, `__` between
sections: `server.port` is `BAY_SERVER__PORT`), then the YAML file named by `BAY_CONFIG_FILE`
(nested keys: `server: {port: 8114}`), then the defaults below. A list or a mapping set through
the environment is JSON (`BAY_PROFILES='[{"id": "p"}]'`).
"""
PROFILES_INTRO = """\
## Profiles

`profiles:` is a list of these; it replaces the default list whole. Defaults: {names}.
"""
CONTAINERS_INTRO = """\
### Profile containers

A profile is one Ship (the fields above), or lists its runtimes in `containers`: one `ship`
and at most one `browser` (headless Chromium driven by agent-browser). A legacy profile reads
as one container named `primary` offering the profile's `capabilities`. The profile offers its
`capabilities` list when set explicitly, else the union of its containers'. A capability is
served by the first container naming it in `primary_for`, else the first offering it; the
primary container (whose `resources` are Ship's and the ones `GET /v1/profiles` shows) is the
one named `primary` or `ship`, else the first. `browser: isolated` gives a profile without a
browser container a browser with the profile's own limits; `browser: shared` (upstream's
global browser service) is refused at load, since this Bay has none.

A session of a profile offering `browser` runs the browser beside Ship: the local driver
inside the sandbox's own walls (its limits are Ship's plus the browser's), the Docker driver in
a sidecar container with the browser container's limits, sharing the cargo and the network
policy. `browser-python` is such a profile: Python, shell, files and a browser with 2g of
memory and one CPU of its own, no network. Each container's `env` is added to the profile's
(the primary container's last).

| field | type | default | meaning |
|---|---|---|---|
"""


@dataclass(frozen=True)
class Row:
    """One setting as the reference shows it."""

    path: str
    kind: str
    default: str
    description: str

    @property
    def env(self) -> str:
        return "BAY_" + self.path.upper().replace(".", "__")


def rows(model: type[BaseModel], prefix: str = "") -> Iterator[Row]:
    """Every leaf setting of `model`, depth first in declaration order; sections recurse."""
    for name, field in model.model_fields.items():
        section = _section(field)
        if section is not None:
            yield from rows(section, f"{prefix}{name}.")
        else:
            kind = _kind(field.annotation)
            yield Row(prefix + name, kind, _default(field), field.description or "")


def sections(model: type[BaseModel], prefix: str = "") -> Iterator[tuple[str, str]]:
    """Each section's path and the first line of its docstring, when it has one."""
    for name, field in model.model_fields.items():
        section = _section(field)
        if section is not None:
            doc = (section.__doc__ or "").strip().splitlines()
            yield prefix + name, doc[0] if doc else ""
            yield from sections(section, f"{prefix}{name}.")


def _section(field: FieldInfo) -> type[BaseModel] | None:
    annotation = field.annotation
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    return None


def _kind(annotation: Any) -> str:
    origin = typing.get_origin(annotation)
    arguments = typing.get_args(annotation)
    if origin is Literal:
        return " \\| ".join(f"`{value}`" for value in arguments)
    if origin in (typing.Union, types.UnionType):
        return " or ".join(_kind(argument) for argument in arguments)
    if origin is typing.Annotated:
        return _kind(arguments[0])
    if origin in (list, dict):
        return f"{origin.__name__} of {', '.join(_kind(argument) for argument in arguments)}"
    if annotation is type(None):
        return "null"
    if annotation is SecretStr:
        return "secret"
    return getattr(annotation, "__name__", str(annotation))


def _default(field: FieldInfo) -> str:
    if field.is_required():
        return "required"
    if field.default_factory is not None:
        value = field.get_default(call_default_factory=True, validated_data={})
        # A factory reading the host (cwd, $HOSTNAME) is described, not shown.
        if not isinstance(value, list | dict):
            return "see description"
        if value and isinstance(value, list) and isinstance(value[0], BaseModel):
            return "see [Profiles](#profiles)"
        return "none" if not value else f"`{_plain(value)}`"
    return f"`{_plain(field.default)}`" if field.default is not None else "null"


def _plain(value: Any) -> str:
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, BaseModel):
        return str(value.model_dump(mode="json"))
    return str(value)


def _settings_table(items: list[Row]) -> list[str]:
    lines = ["| setting | environment | type | default | meaning |", "|---|---|---|---|---|"]
    for row in items:
        cells = (f"`{row.path}`", f"`{row.env}`", row.kind, row.default, _cell(row.description))
        lines.append("| " + " | ".join(cells) + " |")
    return lines


def _profile_table(items: list[Row]) -> list[str]:
    lines = ["| field | type | default | meaning |", "|---|---|---|---|"]
    for row in items:
        cells = (f"`{row.path}`", row.kind, row.default, _cell(row.description))
        lines.append("| " + " | ".join(cells) + " |")
    return lines


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def render() -> str:
    """The whole reference, as the committed file must read."""
    lines = [HEADER, "## Settings", ""]
    lines += _settings_table(list(rows(Settings)))
    lines += ["", "## Sections", ""]
    lines += [f"- `{path}`: {doc}" for path, doc in sections(Settings) if doc]
    defaults = Settings.model_fields["profiles"].get_default(
        call_default_factory=True, validated_data={}
    )
    names = ", ".join(f"`{profile.id}`" for profile in defaults)
    lines += ["", PROFILES_INTRO.format(names=names)]
    lines += _profile_table(list(rows(ProfileSettings)))
    lines += ["", CONTAINERS_INTRO.rstrip("\n")]
    lines += _profile_table(list(rows(ContainerSettings)))[2:]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--check", action="store_true", help="only compare; exit 1 if stale")
    args = parser.parse_args(argv)
    text = render()
    if args.check:
        current = REFERENCE.read_text() if REFERENCE.exists() else ""
        if current != text:
            print(f"{REFERENCE} is stale: run scripts/config_reference.py", file=sys.stderr)
            return 1
        return 0
    REFERENCE.parent.mkdir(exist_ok=True)
    REFERENCE.write_text(text)
    print(f"wrote {REFERENCE}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
