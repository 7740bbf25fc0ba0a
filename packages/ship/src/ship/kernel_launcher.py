"""The kernel process's entry point: ipykernel without its debugger, and without the
workspace shadowing what starts it.

While it starts, ipykernel imports debugpy for Jupyter's visual debugger, which Ship never
offers; that import is about a tenth of a cold kernel's start (623 -> 557 ms median here).
`%debug` and pdb do not need it and still work.

The kernel runs in the workspace, and `python -m` would put that directory first on the
module path: a user's `json.py` or `ship/` would then break every kernel start. Ship runs
this module with `-P` (no such entry) and adds the workspace back the way IPython does
(after the standard library), once the kernel's own modules are loaded.
"""

import os
import sys


def main() -> None:
    sys.modules["debugpy"] = None  # type: ignore[assignment]  # `import debugpy` -> ImportError
    from ipykernel.kernelapp import launch_new_instance

    _add_workspace_to_path()
    launch_new_instance()


def _add_workspace_to_path() -> None:
    """What IPython's `init_path` does unless -P is set: '' just before site-packages."""
    if "" in sys.path:
        return
    for index, path in enumerate(sys.path):
        if os.path.basename(path) in ("site-packages", "dist-packages"):
            sys.path.insert(index, "")
            return
    sys.path.insert(0, "")


if __name__ == "__main__":
    main()
