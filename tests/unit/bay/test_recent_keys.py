"""Recently authenticated keys: trusted for a moment, forgotten on revocation."""

from bay.services.keys import Principal
from bay.services.recent_keys import RecentKeys

ALICE = Principal(owner="alice")


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_a_key_is_recalled_until_its_time_runs_out() -> None:
    clock = Clock()
    recent = RecentKeys(ttl=2.0, clock=clock)
    recent.remember("h", ALICE, recent.generation)

    clock.now += 1.9
    assert recent.recall("h") == ALICE
    clock.now += 0.2
    assert recent.recall("h") is None


def test_forget_all_drops_keys_and_lookups_that_raced_it() -> None:
    recent = RecentKeys(ttl=2.0, clock=Clock())
    recent.remember("h", ALICE, recent.generation)
    started = recent.generation  # a lookup reads the table, then a revocation lands

    recent.forget_all()
    recent.remember("other", ALICE, started)

    assert recent.recall("h") is None
    assert recent.recall("other") is None


def test_zero_ttl_remembers_nothing() -> None:
    recent = RecentKeys(ttl=0, clock=Clock())
    recent.remember("h", ALICE, recent.generation)
    assert recent.recall("h") is None
