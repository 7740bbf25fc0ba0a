"""What a lookup found a moment ago: trusted for a while, never past a forget that raced it."""

from bay.services.memory import Memory


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_a_value_is_recalled_until_its_time_runs_out() -> None:
    clock = Clock()
    memory = Memory[str](ttl=2.0, clock=clock)
    memory.remember("h", "alice", memory.generation)

    clock.now += 1.9
    assert memory.recall("h") == "alice"
    clock.now += 0.2
    assert memory.recall("h") is None


def test_a_shorter_time_is_kept_and_a_longer_one_cut_to_the_memorys() -> None:
    clock = Clock()
    memory = Memory[str](ttl=2.0, clock=clock)
    memory.remember("short", "a", memory.generation, ttl=0.5)
    memory.remember("long", "b", memory.generation, ttl=60)

    clock.now += 1.0
    assert memory.recall("short") is None
    assert memory.recall("long") == "b"
    clock.now += 1.1
    assert memory.recall("long") is None


def test_forget_all_drops_values_and_lookups_that_raced_it() -> None:
    memory = Memory[str](ttl=2.0, clock=Clock())
    memory.remember("h", "alice", memory.generation)
    started = memory.generation  # a lookup reads the table, then a revocation lands

    memory.forget_all()
    memory.remember("other", "alice", started)

    assert memory.recall("h") is None
    assert memory.recall("other") is None


def test_a_lookup_that_read_before_a_forget_is_not_remembered_after_it() -> None:
    memory = Memory[str](ttl=30.0, clock=Clock())
    read_at = memory.generation  # a check starts reading the row...
    memory.forget("sandbox-1")  # ...a delete commits and forgets it...
    memory.remember("sandbox-1", "row", read_at)  # ...the check's stale read comes back
    assert memory.recall("sandbox-1") is None

    memory.remember("sandbox-1", "row", memory.generation)
    assert memory.recall("sandbox-1") == "row"


def test_zero_ttl_remembers_nothing() -> None:
    memory = Memory[str](ttl=0, clock=Clock())
    memory.remember("h", "alice", memory.generation)
    assert memory.recall("h") is None


def test_past_its_size_the_oldest_goes_first() -> None:
    memory = Memory[int](ttl=2.0, clock=Clock(), size=2)
    for n, key in enumerate(("a", "b", "a", "c")):  # "a" again: now newer than "b"
        memory.remember(key, n, memory.generation)

    assert memory.recall("b") is None
    assert memory.recall("a") == 2
    assert memory.recall("c") == 3
