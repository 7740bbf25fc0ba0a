"""What the kernel can import: the workspace and the user site on its path, installs seen at
once, and the profile's modules imported before the first execution.

Runs inside the kernel process, in the user's Python: the standard library and IPython only.

`pip install --user` (HOME is the workspace) installs into the user site, which Python puts
on the path at start only if it exists then; and the import system remembers a directory it
found missing, or the listing of one it read, until its caches are invalidated. So the user
site goes on the path whether or not it exists yet, and the caches are invalidated before
each execution: what the shell installed imports in the running kernel at once.
"""

import importlib
import os
import site
import sys
from typing import Any

PYPLOT = "matplotlib.pyplot"


def extend_path() -> None:
    """The user site where `site` would have put it (before the system's site-packages), then
    the workspace ('') where IPython puts it unless -P is set: just before site-packages."""
    user_site = site.getusersitepackages() if site.ENABLE_USER_SITE else None
    if user_site and user_site not in sys.path:
        sys.path.insert(_site_packages_index(), user_site)
    if "" not in sys.path:
        sys.path.insert(_site_packages_index(), "")


def install(shell: Any, preload: list[str]) -> None:
    """Invalidate import caches before every execution; import `preload` now, and tell the
    first execution (on its stderr) which of them failed."""
    shell.events.register("pre_execute", importlib.invalidate_caches)
    failures = [failure for name in preload if (failure := _import(name))]
    if PYPLOT in sys.modules and (failure := _prime_pyplot()):
        failures.append(failure)
    if failures:
        _warn_at_first_cell(shell, failures)


def _import(name: str) -> str | None:
    """None once `name` is imported, else why not."""
    try:
        importlib.import_module(name)
    except (Exception, SystemExit) as exc:  # noqa: BLE001 - a module's failure must not end the kernel
        return f"{name}: {type(exc).__name__}: {exc}"
    return None


def _prime_pyplot() -> str | None:
    """Load pyplot's backend now (IPython's inline one unless MPLBACKEND says otherwise), so
    the first chart does not pay for it."""
    pyplot = sys.modules[PYPLOT]
    try:
        pyplot.switch_backend(pyplot.get_backend())
    except Exception as exc:  # noqa: BLE001 - as in `_import`
        return f"{PYPLOT} backend: {type(exc).__name__}: {exc}"
    return None


def _warn_at_first_cell(shell: Any, failures: list[str]) -> None:
    """Write the failures to the first (non-silent) execution's stderr, once: the kernel's
    own stderr before it answers reaches no one."""

    def warn(info: object) -> None:
        shell.events.unregister("pre_run_cell", warn)
        lines = "".join(f"  {failure}\n" for failure in failures)
        sys.stderr.write(f"Warning: modules the profile preloads failed to import:\n{lines}")

    shell.events.register("pre_run_cell", warn)


def _site_packages_index() -> int:
    """Where the first site-packages directory is on the path (0, as IPython does, when there
    is none)."""
    for index, path in enumerate(sys.path):
        if os.path.basename(path) in ("site-packages", "dist-packages"):
            return index
    return 0
