"""A release's health: its window's success and error rates against a baseline, and the verdict."""

import json
import math
from dataclasses import dataclass
from datetime import datetime, timedelta

from shipyard_protocol.skills import SkillReleaseHealth

DEFAULT_WINDOW = timedelta(hours=24)
SUCCESS_DROP = 0.03
ERROR_RATE_MULTIPLIER = 2.0
ERROR_RATE_FLOOR = 0.01  # a zero baseline error rate is judged as 1%, so a multiplier exists


@dataclass(frozen=True)
class Sample:
    """One execution tagged with the release."""

    success: bool
    duration_ms: int


@dataclass(frozen=True)
class Metrics:
    samples: int
    success_rate: float
    error_rate: float
    p95_duration: int = 0


PERFECT = Metrics(samples=0, success_rate=1.0, error_rate=0.0)


@dataclass(frozen=True)
class Thresholds:
    """Past either, a release is unhealthy and should be rolled back."""

    success_drop: float = SUCCESS_DROP
    error_rate_multiplier: float = ERROR_RATE_MULTIPLIER


DEFAULT_THRESHOLDS = Thresholds()


@dataclass(frozen=True)
class Window:
    start: datetime
    end: datetime


def window(promoted_at: datetime, window_end_at: datetime | None) -> Window:
    return Window(promoted_at, window_end_at or promoted_at + DEFAULT_WINDOW)


def metrics(samples: list[Sample]) -> Metrics:
    if not samples:
        return Metrics(samples=0, success_rate=0.0, error_rate=0.0)
    successes = sum(sample.success for sample in samples)
    durations = sorted(sample.duration_ms for sample in samples)
    rank = max(math.ceil(0.95 * len(durations)), 1)  # nearest-rank percentile
    rate = successes / len(samples)
    return Metrics(len(samples), rate, 1.0 - rate, durations[rank - 1])


def report_baseline(report: str | None) -> Metrics | None:
    """`replay_success`, `error_rate` and `samples` of an evaluation's JSON report, if any."""
    try:
        fields = json.loads(report) if report else None
    except ValueError:
        return None
    if not isinstance(fields, dict) or not isinstance(fields.get("replay_success"), int | float):
        return None
    success = float(fields["replay_success"])
    error = fields.get("error_rate")
    samples = fields.get("samples")
    return Metrics(
        samples=int(samples) if isinstance(samples, int | float) else 0,
        success_rate=success,
        error_rate=float(error) if isinstance(error, int | float) else max(1.0 - success, 0.0),
    )


def judge(
    release_id: str,
    skill_key: str,
    stage: str,
    span: Window,
    now: datetime,
    current: Metrics,
    baseline: Metrics,
    limits: Thresholds = DEFAULT_THRESHOLDS,
) -> SkillReleaseHealth:
    """With no samples there is nothing to judge: healthy, no rollback."""
    drop, multiplier = 0.0, 0.0
    if current.samples:
        # Rounded so that 1.0 - 0.97 is 0.03, not past the threshold by a float's error.
        drop = round(max(baseline.success_rate - current.success_rate, 0.0), 9)
        multiplier = round(current.error_rate / max(baseline.error_rate, ERROR_RATE_FLOOR), 9)
    reasons = []
    if drop > limits.success_drop:
        reasons.append(f"success rate dropped by {drop:.4f} (threshold {limits.success_drop})")
    if multiplier > limits.error_rate_multiplier:
        reasons.append(
            f"error rate grew {multiplier:.2f} times (threshold {limits.error_rate_multiplier})"
        )
    return SkillReleaseHealth(
        release_id=release_id,
        skill_key=skill_key,
        stage=stage,
        window_start_at=span.start,
        window_end_at=span.end,
        window_complete=now >= span.end,
        samples=current.samples,
        success_rate=round(current.success_rate, 6),
        error_rate=round(current.error_rate, 6),
        p95_duration=current.p95_duration,
        baseline_success_rate=round(baseline.success_rate, 6),
        baseline_error_rate=round(baseline.error_rate, 6),
        baseline_samples=baseline.samples,
        success_drop=round(drop, 6),
        error_rate_multiplier=round(multiplier, 6),
        healthy=not reasons,
        should_rollback=bool(reasons),
        rollback_reasons=reasons,
        thresholds={
            "success_drop": limits.success_drop,
            "error_rate_multiplier": limits.error_rate_multiplier,
        },
    )
