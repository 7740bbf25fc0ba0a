"""The kernel process's entry point: ipykernel without its debugger, without the workspace
shadowing what starts it, and with its output capped where it is made (`kernel_stream`).

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

OUTPUT_LIMIT_FLAG = "--ship-output-limit="


def main() -> None:
    sys.modules["debugpy"] = None  # type: ignore[assignment]  # `import debugpy` -> ImportError
    limit = _take_output_limit(sys.argv)
    from ipykernel.kernelapp import IPKernelApp

    from ship import kernel_stream

    _add_workspace_to_path()
    # What `launch_new_instance` does, with stdout and stderr capped per execution.
    app = IPKernelApp.instance(outstream_class="ship.kernel_stream.CappedOutStream")
    app.initialize()  # type: ignore[no-untyped-call]
    kernel_stream.install(app.shell, (sys.stdout, sys.stderr), limit)
    app.start()  # type: ignore[no-untyped-call]


def _take_output_limit(argv: list[str]) -> int:
    """Ship's own option (bytes per stream per execution; 0: no cap), removed from `argv`."""
    for arg in argv[1:]:
        if arg.startswith(OUTPUT_LIMIT_FLAG):
            argv.remove(arg)
            return int(arg.removeprefix(OUTPUT_LIMIT_FLAG))
    return 0


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
