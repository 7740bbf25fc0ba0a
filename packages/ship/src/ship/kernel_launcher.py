"""The kernel process's entry point: ipykernel without its debugger, without the workspace
shadowing what starts it, with its output capped where it is made (`kernel_stream`) and its
imports kept current (`kernel_imports`).

While it starts, ipykernel imports debugpy for Jupyter's visual debugger, which Ship never
offers; that import is about a tenth of a cold kernel's start (623 -> 557 ms median here).
`%debug` and pdb do not need it and still work.

The kernel runs in the workspace, and `python -m` would put that directory first on the
module path: a user's `json.py` or `ship/` would then break every kernel start. Ship runs
this module with `-P` (no such entry) and `kernel_imports` adds the workspace back the way
IPython does (after the standard library), once the kernel's own modules are loaded.

It runs in the user's Python, which may hold nothing of Ship's but this package: the modules
it imports from `ship` need only ipykernel and the standard library.
"""

import sys

OUTPUT_LIMIT_FLAG = "--ship-output-limit="
PRELOAD_FLAG = "--ship-preload="


def main() -> None:
    sys.modules["debugpy"] = None  # type: ignore[assignment]  # `import debugpy` -> ImportError
    limit = int(_take_option(sys.argv, OUTPUT_LIMIT_FLAG) or 0)
    preload = [name for name in (_take_option(sys.argv, PRELOAD_FLAG) or "").split(",") if name]
    from ipykernel.kernelapp import IPKernelApp

    from ship import kernel_display, kernel_imports, kernel_stream

    kernel_imports.extend_path()
    # What `launch_new_instance` does, with stdout and stderr capped per execution.
    app = IPKernelApp.instance(outstream_class="ship.kernel_stream.CappedOutStream")
    app.initialize()  # type: ignore[no-untyped-call]
    kernel_stream.install(app.shell, (sys.stdout, sys.stderr), limit)
    kernel_display.install(app.shell, limit)
    kernel_imports.install(app.shell, preload)
    app.start()  # type: ignore[no-untyped-call]


def _take_option(argv: list[str], flag: str) -> str | None:
    """The value of one of Ship's own options (`flag` ends with `=`), removed from `argv`."""
    for arg in argv[1:]:
        if arg.startswith(flag):
            argv.remove(arg)
            return arg.removeprefix(flag)
    return None


if __name__ == "__main__":
    main()
