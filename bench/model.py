"""What a scenario reports: rows of percentiles or single values, each with its goal."""

import statistics
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass
class Goal:
    """A target from issue 6: `check` decides it on the row's p50 (or value)."""

    text: str
    check: Callable[[float], bool]


@dataclass
class Row:
    """One measured quantity: a distribution (`samples`) or a single `value`."""

    scenario: str
    metric: str
    unit: str
    samples: list[float] = field(default_factory=list)
    value: float | None = None
    goal: Goal | None = None
    note: str = ""
    errors: int = 0

    @property
    def n(self) -> int:
        return len(self.samples) if self.samples else (1 if self.value is not None else 0)

    def percentile(self, q: int) -> float | None:
        if not self.samples:
            return None
        if len(self.samples) == 1:
            return self.samples[0]
        cuts = statistics.quantiles(self.samples, n=100, method="inclusive")
        return cuts[q - 1]

    @property
    def headline(self) -> float | None:
        """The number a goal is judged on: p50 of a distribution, else the value."""
        return self.percentile(50) if self.samples else self.value

    @property
    def met(self) -> bool | None:
        if self.goal is None or self.headline is None:
            return None
        return self.errors == 0 and self.goal.check(self.headline)

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data.pop("goal")
        data.update(
            n=self.n,
            p50=self.percentile(50),
            p95=self.percentile(95),
            p99=self.percentile(99),
            goal=self.goal.text if self.goal else None,
            met=self.met,
        )
        return data


def at_most(limit: float, text: str) -> Goal:
    return Goal(text, lambda measured: measured <= limit)


def at_least(limit: float, text: str) -> Goal:
    return Goal(text, lambda measured: measured >= limit)


def ms(seconds: list[float]) -> list[float]:
    return [round(s * 1000, 3) for s in seconds]
