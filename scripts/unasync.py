"""Write the sync SDK from the async one: each `shipyard/_async*.py` becomes its `_sync*.py`.

`python scripts/unasync.py` (re)writes them; `--check` writes nothing and fails, naming each
file, when one differs from what it would write (`make lint` runs that). Each line goes through
the substitutions in RULES, in order, and the result through `ruff check --fix` and
`ruff format`, as `make fmt` would. Where the two sides truly differ, the async module uses a
hand-kept pair from a shared module, named `AsyncX`/`X` or `async_x`/`x` (see `_terminal.py`).
"""

import argparse
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SDK = ROOT / "packages/sdk/src/shipyard"
HEADER = "# generated from {name} by scripts/unasync.py; do not edit\n"

# Names and syntax first, then the few words of prose that differ in docstrings.
RULES = [
    (r"\bAsyncGenerator\[(.+), None\]", r"Generator[\1, None, None]"),
    (r"\bAsync(?=[A-Z])", ""),
    (r"\basync_(?=\w)", ""),
    (r"\bshipyard\._async", "shipyard._sync"),
    (r"\bwebsockets\.asyncio\b", "websockets.sync"),
    (r"\basync (def|with|for)\b", r"\1"),
    (r"\bawait ", ""),
    (r"\b__a(enter|exit|iter|next)__\b", r"__\1__"),
    (r"\banext\(", "next("),
    (r"\bStopAsyncIteration\b", "StopIteration"),
    (r"\basynccontextmanager\b", "contextmanager"),
    (r"\ba(close|read)\b", r"\1"),
    (r"\baiter_", "iter_"),
    (r"\benter_async_context\(", "enter_context("),
    (r"^import asyncio$", "import time"),
    (r"\basyncio\.sleep\(", "time.sleep("),
    (r"\bAsync client\b", "Synchronous client"),
    (r"\(async\)", "(sync)"),
]
COMPILED = [(re.compile(pattern), replacement) for pattern, replacement in RULES]


def unasync_line(line: str) -> str:
    for pattern, replacement in COMPILED:
        line = pattern.sub(replacement, line)
    return line


def ruff(args: list[str], source: str, target: Path) -> str:
    """`source` as ruff leaves it, read and written through stdin as if it were `target`."""
    command = [sys.executable, "-m", "ruff", *args, "--config", str(ROOT / "pyproject.toml")]
    command += ["--quiet", "--stdin-filename", str(target), "-"]
    done = subprocess.run(command, input=source, capture_output=True, text=True, cwd=ROOT)
    if done.returncode != 0:
        sys.exit(f"{' '.join(command)} failed on {target}:\n{done.stderr}")
    return done.stdout


def generate(source: Path, target: Path) -> str:
    """The text of `target` as written from the async module `source`."""
    lines = source.read_text().splitlines(keepends=True)
    text = HEADER.format(name=source.name) + "".join(map(unasync_line, lines))
    text = ruff(["check", "--fix", "--exit-zero"], text, target)
    return ruff(["format"], text, target)


def pairs(package: Path) -> list[tuple[Path, Path]]:
    sources = sorted(package.glob("_async*.py"))
    return [(s, s.with_name(s.name.replace("_async", "_sync", 1))) for s in sources]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="fail when a file differs")
    parser.add_argument("package", nargs="?", type=Path, default=SDK, help="default: the SDK")
    args = parser.parse_args()
    drifted = []
    for source, target in pairs(args.package):
        text = generate(source, target)
        if target.exists() and target.read_text() == text:
            continue
        if args.check:
            drifted.append(target)
        else:
            target.write_text(text)
            print(f"wrote {target}")
    for target in drifted:
        print(f"{target} differs from what scripts/unasync.py writes", file=sys.stderr)
    if drifted:
        print("run `python scripts/unasync.py` and commit the result", file=sys.stderr)
    return 1 if drifted else 0


if __name__ == "__main__":
    sys.exit(main())
