"""Browser traces cut into replayable segments, and the synthetic evaluation of a segment.

A segment is a run of consecutive successful steps (exit code 0); a failed step ends
it. Read-only steps (READ_ONLY_PREFIXES: `snapshot`, `get …`, `wait` …) neither end a run nor
count as actions, and they stay in its commands: a replay needs the `snapshot` that made the
`@e1` refs the next `click` uses and the `wait` that let the page load, and reads at the end
are what the skill answers. A run of fewer than two actions is no segment. (Upstream cuts runs
at read-only steps, which leaves replays clicking refs that no snapshot made.)

Evaluation is synthetic, counted in actions: score min(0.99, 0.75 + 0.08 * actions), replay
success 1.0, samples 10 * actions; it passes at the configured thresholds (with the defaults,
three actions at least).
"""

from dataclasses import dataclass
from typing import Any

from bay.config import BrowserLearningSettings
from bay.db.models import ExecutionHistory

READ_ONLY_PREFIXES = (
    "snapshot",
    "get ",
    "is ",
    "wait",
    "cookies",
    "storage",
    "network requests",
    "tab",
    "frame",
    "dialog",
)
MIN_ACTIONS = 2


class NothingToLearnError(Exception):
    """The execution gives no skill; the message is its learn_error."""


@dataclass(frozen=True)
class Segment:
    steps: list[dict[str, Any]]
    actions: int

    @property
    def commands(self) -> list[str]:
        return [step["cmd"] for step in self.steps]


@dataclass(frozen=True)
class Verdict:
    score: float
    samples: int
    passed: bool
    replay_success: float = 1.0


def read_only(cmd: str) -> bool:
    return cmd.strip().lower().startswith(READ_ONLY_PREFIXES)


def trace_steps(payload: object) -> list[dict[str, Any]]:
    """The steps of a `browser_exec_trace` or `browser_batch_trace` payload."""
    steps = payload.get("steps") if isinstance(payload, dict) else None
    if not isinstance(steps, list):
        raise NothingToLearnError("trace unreadable: it holds no list of steps")
    for index, step in enumerate(steps):
        exit_code = step.get("exit_code") if isinstance(step, dict) else None
        if not isinstance(step, dict) or not isinstance(step.get("cmd"), str):
            raise NothingToLearnError(f"trace unreadable: step {index} has no command")
        if not isinstance(exit_code, int) or isinstance(exit_code, bool):
            raise NothingToLearnError(f"trace unreadable: step {index} has no exit code")
    return steps


def segments(steps: list[dict[str, Any]]) -> list[Segment]:
    """The runs of successful steps holding at least MIN_ACTIONS actions, in trace order."""
    found: list[Segment] = []
    run: list[dict[str, Any]] = []
    for step in [*steps, None]:
        if step is not None and step["exit_code"] == 0:
            run.append(step)
            continue
        actions = sum(not read_only(each["cmd"]) for each in run)
        if actions >= MIN_ACTIONS:
            found.append(Segment(run, actions))
        run = []
    return found


def evaluate(actions: int, settings: BrowserLearningSettings) -> Verdict:
    score = round(min(0.99, 0.75 + 0.08 * actions), 6)
    samples = 10 * actions
    replay = 1.0
    passed = (
        score >= settings.score_threshold
        and replay >= settings.replay_success_threshold
        and samples >= settings.min_samples
    )
    return Verdict(score, samples, passed, replay)


def skill_key(row: ExecutionHistory) -> str:
    """The key a `skill:<key>` tag names, else `browser-<sandbox id>`."""
    for tag in (row.tags or "").split(","):
        key = tag.strip().removeprefix("skill:").strip()
        if tag.strip().startswith("skill:") and key:
            return key
    return f"browser-{row.sandbox_id}"
