"""The public surface: `__all__` is exactly what `shipyard` exposes, each part documented.

That the sync twins match the async classes is scripts/unasync.py's job (test_unasync.py)."""

import inspect
from types import ModuleType

import shipyard
from shipyard import (
    _async,
    _async_execs,
    _async_sandbox,
    _async_skills,
    _async_stream,
    _async_terminal,
    _sync,
    _sync_execs,
    _sync_sandbox,
    _sync_skills,
    _sync_stream,
    _sync_terminal,
)


def test_all_is_exactly_the_public_api() -> None:
    public = {
        name
        for name, value in vars(shipyard).items()
        if not name.startswith("_") and not isinstance(value, ModuleType)
    }
    assert public == set(shipyard.__all__)


def _classes(module: ModuleType) -> dict[str, type]:
    return {
        name: value
        for name, value in vars(module).items()
        if inspect.isclass(value) and value.__module__ == module.__name__
    }


MODULES = (
    _async,
    _async_sandbox,
    _async_execs,
    _async_skills,
    _async_stream,
    _async_terminal,
    _sync,
    _sync_sandbox,
    _sync_execs,
    _sync_skills,
    _sync_stream,
    _sync_terminal,
)


def test_every_public_method_has_a_docstring() -> None:
    for cls in [cls for module in MODULES for cls in _classes(module).values()]:
        for name, member in vars(cls).items():
            if not name.startswith("_"):
                assert inspect.getdoc(member), f"{cls.__name__}.{name}"
