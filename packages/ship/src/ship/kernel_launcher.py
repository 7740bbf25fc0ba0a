"""The kernel process's entry point: ipykernel without its debugger.

While it starts, ipykernel imports debugpy for Jupyter's visual debugger, which Ship never
offers; that import is about a tenth of a cold kernel's start (623 -> 557 ms median here).
`%debug` and pdb do not need it and still work.
"""

import sys


def main() -> None:
    sys.modules["debugpy"] = None  # type: ignore[assignment]  # `import debugpy` -> ImportError
    from ipykernel.kernelapp import launch_new_instance

    launch_new_instance()


if __name__ == "__main__":
    main()
