"""The public surface: `__all__` is exactly what `shipyard` exposes, each part documented, and
the twins match (scripts/unasync.py writes them; this checks what its rules produce)."""

import inspect
from types import ModuleType

import pytest

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

TWINS = [
    (async_cls, _classes(sync_module)[name.removeprefix("Async")])
    for async_module, sync_module in zip(MODULES[:6], MODULES[6:], strict=True)
    for name, async_cls in _classes(async_module).items()
]


def _plain(doc: str | None) -> str:
    """A docstring with the async wording taken out."""
    return (doc or "").replace("async ", "").replace("Async", "")


@pytest.mark.parametrize(("async_cls", "sync_cls"), TWINS, ids=lambda c: c.__name__)
def test_sync_twin_has_the_same_methods_and_parameters(async_cls: type, sync_cls: type) -> None:
    renamed = {"aclose": "close"}
    for name, method in vars(async_cls).items():
        if name.startswith("_") or not callable(method):
            continue
        twin = getattr(sync_cls, renamed.get(name, name))
        assert (
            inspect.signature(twin).parameters.keys() == inspect.signature(method).parameters.keys()
        )
        assert _plain(twin.__doc__) == _plain(method.__doc__)


def test_every_public_method_has_a_docstring() -> None:
    for cls in [cls for module in MODULES for cls in _classes(module).values()]:
        for name, member in vars(cls).items():
            if not name.startswith("_"):
                assert inspect.getdoc(member), f"{cls.__name__}.{name}"
