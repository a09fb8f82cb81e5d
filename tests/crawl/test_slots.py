"""HostSlots bookkeeping with a hand-driven clock: capacity, spacing, deferral, adaptive delay."""

import pytest

from scraper.crawl.slots import HostSlots


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


def test_capacity_is_per_host(clock: Clock):
    """A host at capacity has no wait time (None) while another host is free."""
    slots = HostSlots(2, 0.0, clock=clock)
    slots.acquire("a")
    slots.acquire("a")
    assert slots.wait_s("a") is None
    assert slots.wait_s("b") == 0.0
    slots.release("a")
    assert slots.wait_s("a") == 0.0


def test_reservations_are_spaced_by_the_delay(clock: Clock):
    """Three reservations in a row start 0, 0.5 and 1.0 s from now."""
    slots = HostSlots(4, 0.5, clock=clock)
    assert [slots.reserve("a") for _ in range(3)] == [0.0, 0.5, 1.0]
    clock.now += 2
    assert slots.reserve("a") == 0.0


def test_defer_holds_the_host_until_then(clock: Clock):
    """After defer(10) the next request to the host waits 10 s; other hosts are unaffected."""
    slots = HostSlots(4, 0.0, clock=clock)
    slots.defer("a", 10)
    assert slots.wait_s("a") == pytest.approx(10)
    assert slots.reserve("a") == pytest.approx(10)
    assert slots.wait_s("b") == 0.0


def test_crawl_delay_raises_the_floor_capped(clock: Clock):
    """A Crawl-delay raises the host's delay, but never above max_delay_s."""
    slots = HostSlots(4, 0.1, max_delay_s=5.0, clock=clock)
    slots.set_crawl_delay("a", 2.0)
    assert slots.delay_of("a") == 2.0
    slots.set_crawl_delay("b", 3600)
    assert slots.delay_of("b") == 5.0
    assert slots.delay_of("c") == 0.1


def test_autothrottle_backs_off_on_429_and_recovers(clock: Clock):
    """429 doubles the delay (at least 1 s); fast good responses bring it back to the floor."""
    slots = HostSlots(2, 0.1, max_delay_s=8.0, autothrottle=True, clock=clock)
    slots.observe("a", 429, 0.01)
    assert slots.delay_of("a") == 1.0
    slots.observe("a", 429, 0.01)
    slots.observe("a", 503, 0.01)
    slots.observe("a", 429, 0.01)
    assert slots.delay_of("a") == 8.0  # capped
    for _ in range(20):
        slots.observe("a", 200, 0.01)
    assert slots.delay_of("a") == pytest.approx(0.1)


def test_autothrottle_follows_latency(clock: Clock):
    """Slow responses raise the delay toward latency / per_host; errors never lower it."""
    slots = HostSlots(2, 0.0, max_delay_s=60, autothrottle=True, clock=clock)
    for _ in range(30):
        slots.observe("a", 200, 3.0)
    assert slots.delay_of("a") == pytest.approx(1.5, rel=0.01)
    slots.observe("a", 500, 0.001)
    slots.observe("a", 0, 0.001)
    assert slots.delay_of("a") == pytest.approx(1.5, rel=0.01)


def test_autothrottle_off_keeps_the_delay(clock: Clock):
    """Without autothrottle, responses do not change a host's delay."""
    slots = HostSlots(2, 0.25, autothrottle=False, clock=clock)
    slots.observe("a", 429, 5.0)
    assert slots.delay_of("a") == 0.25


def test_idle_hosts_are_forgotten(clock: Clock):
    """A host with nothing in flight and no pending gap or tuning leaves no state behind."""
    slots = HostSlots(2, 0.0, clock=clock)
    slots.acquire("a")
    slots.reserve("a")
    slots.release("a")
    assert slots.snapshot() == []


def test_slots_idle_for_a_minute_are_collected_but_crawl_delay_ones_kept(clock: Clock):
    """With a delay every host keeps a slot after its fetch; a minute idle drops it, so memory
    follows the hosts of the last minute (a Crawl-delay slot stays, a busy one too)."""
    slots = HostSlots(1, 1.0, autothrottle=True, clock=clock)
    for n in range(1_000):
        host = f"h{n}.example"
        slots.acquire(host)
        slots.reserve(host)
        slots.observe(host, 429, 0.1)  # tuned: doubled delay
        slots.release(host)
    slots.set_crawl_delay("slow.example", 5.0)
    slots.acquire("busy.example")
    assert len(slots.snapshot()) == 1_002
    clock.now += 59.0
    slots.acquire("other.example")
    assert len(slots.snapshot()) == 1_003  # not idle long enough yet
    clock.now += 61.0
    slots.acquire("late.example")
    assert {s.host for s in slots.snapshot()} == {
        "slow.example",
        "busy.example",
        "other.example",
        "late.example",
    }
    assert slots.delay_of("h1.example") == 1.0  # forgotten: back to the configured delay


def test_busiest_ranks_hosts_by_queued_plus_in_flight():
    """The top hosts by URLs queued plus in flight, most first, ties by name (last first); only
    hosts with a slot."""
    slots = HostSlots(per_host=4, delay_s=1.0, clock=lambda: 100.0)
    for host, flights in (("a", 1), ("b", 2), ("c", 1), ("d", 0)):
        for _ in range(flights):
            slots.acquire(host)
    queued = {"a": 3, "c": 1, "x": 9}.get
    top = slots.busiest(lambda host: queued(host) or 0, 3)
    assert [(s.host, s.in_flight) for s in top] == [("a", 1), ("c", 1), ("b", 2)]
    assert slots.busiest(lambda host: 0, 1)[0].host == "b"
