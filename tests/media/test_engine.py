"""The engine without a network: a fake Fanout records what each tick publishes."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Mapping

import numpy as np
import pytest

from mirp.errors import InvalidInput, NotFound, Unavailable
from mirp.media.engine import MediaEngine
from mirp.media.mixer import FRAME_SAMPLES, Frame
from mirp.media.plan import FeedKey, MixPlan, db_to_gain
from tests.media.fake_fanout import FakeFanout
from tests.media.test_encoder import decode_all
from tests.support.audio import level_db_at, peak_hz, tone
from tests.support.wait import until

FLOOR = FeedKey("floor")
FR = FeedKey("fr")


Rig = tuple[MediaEngine, FakeFanout]


@pytest.fixture
async def engine_and_fanout() -> AsyncIterator[Rig]:
    fan = FakeFanout()
    eng = MediaEngine(fan)
    yield eng, fan
    await eng.close()


def feed_tone(eng: MediaEngine, sid: str, signal: np.ndarray, tick: int) -> None:
    eng.push_pcm(sid, signal[tick * FRAME_SAMPLES:(tick + 1) * FRAME_SAMPLES])


async def test_tone_through_mix_and_encode(engine_and_fanout: Rig) -> None:
    eng, fan = engine_and_fanout
    a, b = tone(440, 1.0, -12.0), tone(1000, 1.0, -12.0)
    eng.add_source("a")
    eng.add_source("b")
    eng.apply(MixPlan.of({FLOOR: (("a", 1.0), ("b", db_to_gain(-10))),
                          FeedKey("floor", minus="a"): (("a", 1.0), ("b", 1.0))}))
    eng.add_listener("l1", None, FLOOR)
    eng.add_listener("l2", None, FeedKey("floor", minus="a"))
    for t in range(50):
        feed_tone(eng, "a", a, t)
        feed_tone(eng, "b", b, t)
        eng.run_tick()
    y = decode_all(fan.payloads(FLOOR))[12_000:]
    assert abs(peak_hz(y) - 440) < 15
    assert abs(level_db_at(y, 440) - -12) < 2
    assert abs(level_db_at(y, 1000) - -22) < 2
    z = decode_all(fan.payloads(FeedKey("floor", minus="a")))[12_000:]
    assert abs(peak_hz(z) - 1000) < 15
    assert level_db_at(z, 440) < -40
    assert eng.stats().decoding == 2


async def test_plan_swaps_at_the_tick_boundary(engine_and_fanout: Rig) -> None:
    eng, _fan = engine_and_fanout
    eng.add_source("a")
    first = MixPlan.of({FLOOR: (("a", 1.0),)})
    second = MixPlan.of({FLOOR: (("a", 0.5),)})
    third = MixPlan.of({FR: (("a", 1.0),)})
    eng.apply(first)
    assert eng.plan.feeds == {}  # nothing changes between ticks
    eng.run_tick()
    assert eng.plan is first
    eng.apply(second)
    eng.apply(third)  # the latest apply before a tick wins
    assert eng.plan is first
    eng.run_tick()
    assert eng.plan is third
    assert eng.stats().plan_swaps == 2


@pytest.mark.parametrize("n", [1, 10, 50])
async def test_encoders_follow_distinct_keys_not_listeners(engine_and_fanout: Rig, n: int) -> None:
    eng, fan = engine_and_fanout
    eng.add_source("a")
    eng.apply(MixPlan.of({FLOOR: (("a", 1.0),), FR: (("a", 0.5),)}))
    for i in range(n):
        eng.add_listener(f"l{i}", None, FLOOR)
    eng.run_tick()
    s = eng.stats()
    assert (s.listeners, s.feeds, s.feeds_in_use, s.encoders) == (n, 2, 1, 1)
    eng.add_listener("fr-1", None, FR)
    eng.run_tick()
    assert eng.stats().encoders == 2
    assert all(set(p) == {FLOOR} for _, p in fan.published[:1])
    assert set(fan.published[-1][1]) == {FLOOR, FR}


async def test_unused_encoders_go_after_their_grace() -> None:
    fan = FakeFanout()
    eng = MediaEngine(fan, encoder_grace_ticks=3)
    eng.add_listener("l", None, FLOOR)
    eng.run_tick()
    eng.switch("l", FR)
    eng.run_tick()
    assert eng.stats().encoders == 2  # FLOOR within its grace
    for _ in range(5):
        eng.run_tick()
    s = eng.stats()
    assert (s.encoders, s.feeds_in_use) == (1, 1)
    eng.remove_listener("l")
    for _ in range(5):
        eng.run_tick()
    assert eng.stats().encoders == 0
    await eng.close()


async def test_parked_sources_are_not_decoded(engine_and_fanout: Rig) -> None:
    eng, _fan = engine_and_fanout
    src = eng.add_source("parked")
    eng.add_source("used")
    eng.apply(MixPlan.of({FLOOR: (("used", 1.0),)}))
    eng.run_tick()
    eng.push_rtp("parked", 1, b"\xfc\xff\xfe")
    eng.push_pcm("parked", np.ones(FRAME_SAMPLES, np.float32))
    assert src.parked_drops == 2 and src.jitter.received == 0
    s = eng.stats()
    assert (s.sources, s.decoding) == (2, 1)
    eng.apply(MixPlan.of({FLOOR: (("parked", 1.0),)}))
    eng.run_tick()
    assert src.active and eng.stats().decoding == 1


async def test_failing_source_is_dropped_while_ticks_go_on(engine_and_fanout: Rig) -> None:
    eng, fan = engine_and_fanout
    eng.add_source("good")
    bad = eng.add_source("bad")

    def boom() -> None:
        raise RuntimeError("decoder exploded (test)")

    bad.pull = boom  # type: ignore[method-assign]
    eng.apply(MixPlan.of({FLOOR: (("good", 1.0), ("bad", 1.0))}))
    eng.add_listener("l", None, FLOOR)
    x = tone(440, 0.5, -12.0)
    for t in range(25):
        feed_tone(eng, "good", x, t)
        eng.run_tick()
    s = eng.stats()
    assert (s.sources, s.sources_dropped, s.ticks) == (1, 1, 25)
    assert len(fan.payloads(FLOOR)) == 25
    assert abs(peak_hz(decode_all(fan.payloads(FLOOR))[4800:]) - 440) < 15


async def test_failing_feed_and_publish_do_not_stop_the_tick(engine_and_fanout: Rig) -> None:
    eng, fan = engine_and_fanout
    eng.add_listener("l", None, FLOOR)
    eng.run_tick()
    fan.fail_publish = True
    eng.run_tick()
    fan.fail_publish = False
    eng._limiters[FLOOR].process = None  # type: ignore[assignment,method-assign,unused-ignore]
    eng.run_tick()  # the feed fails: logged, skipped
    eng.run_tick()  # and comes back with a fresh limiter and encoder
    s = eng.stats()
    assert s.ticks == 4 and s.feed_failures == 1
    assert [bool(p) for _, p in fan.published] == [True, False, True]


async def test_levels_reported_a_few_times_per_tick_window(engine_and_fanout: Rig) -> None:
    eng, _fan = engine_and_fanout
    got: list[dict[str, float]] = []
    eng.on_levels = got.append
    eng.add_source("a")
    eng.add_source("quiet")
    eng.add_source("parked")
    eng.apply(MixPlan.of({FLOOR: (("a", 1.0), ("quiet", 1.0))}))
    x = tone(440, 1.0, -6.0)
    for t in range(48):
        feed_tone(eng, "a", x, t)
        eng.run_tick()
    assert len(got) == 4  # every 12 ticks: ~4 per second
    assert set(got[-1]) == {"a", "quiet"}
    assert abs(got[-1]["a"] - -9.0) < 0.5
    assert got[-1]["quiet"] == -100.0


async def test_clock_pts_steps_960_through_switches() -> None:
    fan = FakeFanout()
    eng = MediaEngine(fan)
    eng.add_source("a")
    eng.apply(MixPlan.of({FLOOR: (("a", 1.0),), FR: (("a", 0.3),)}))
    eng.add_listener("l", None, FLOOR)
    await eng.start()
    await eng.start()  # idempotent
    switched_at: list[tuple[int, FeedKey]] = []
    for key in (FR, FLOOR, FR):
        n = len(fan.published)
        await until(lambda n=n: len(fan.published) >= n + 10, "10 more ticks")  # type: ignore[misc]
        eng.switch("l", key)
        switched_at.append((len(fan.published), key))
    await until(lambda: len(fan.published) >= 40, "40 ticks")
    s = eng.stats()
    await eng.close()
    pts = [p for p, _ in fan.published]
    assert all(p % FRAME_SAMPLES == 0 for p in pts)
    steps = np.diff(pts) // FRAME_SAMPLES
    assert steps.min() >= 1
    # the only gaps allowed are ticks the clock skipped to catch up with wall time
    assert int(np.sum(steps - 1)) == s.skipped_ticks
    # every tick carried a packet for the key in use, whichever it was
    assert all(len(p) == 1 for _, p in fan.published)
    # a switch is carried within 3 ticks (counted in ticks, not in seconds)
    for at, key in switched_at:
        assert key in fan.published[at + 2][1], (at, key, [set(p) for _, p in fan.published])


async def test_close_is_idempotent_and_releases_everything() -> None:
    fan = FakeFanout()
    eng = MediaEngine(fan)
    base = asyncio.all_tasks()
    await eng.start()
    for i in range(3):
        eng.add_source(f"s{i}")
        eng.add_listener(f"l{i}", None, FeedKey("floor", minus=f"s{i}"))
    eng.apply(MixPlan.of({FLOOR: (("s0", 1.0),)}))
    await until(lambda: eng.stats().encoders == 3, "three encoders")
    for i in range(3):
        eng.remove_source(f"s{i}")
        eng.remove_source(f"s{i}")  # idempotent
        eng.remove_listener(f"l{i}")
    await until(lambda: eng.stats().encoders == 0, "encoders dropped after their grace")
    s = eng.stats()
    assert (s.sources, s.decoding, s.listeners, s.feeds_in_use) == (0, 0, 0, 0)
    await eng.close()
    await eng.close()
    assert fan.closed == 1
    assert asyncio.all_tasks() == base
    with pytest.raises(Unavailable):
        await eng.start()
    with pytest.raises(Unavailable):
        eng.add_source("late")


async def test_bad_input_gets_typed_errors(engine_and_fanout: Rig) -> None:
    eng, _fan = engine_and_fanout
    with pytest.raises(NotFound):
        eng.push_pcm("nobody", np.zeros(FRAME_SAMPLES, np.float32))
    eng.add_source("a")
    eng.apply(MixPlan.of({FLOOR: (("a", 1.0),)}))
    eng.run_tick()
    with pytest.raises(InvalidInput):
        eng.push_pcm("a", np.array(["not", "audio"]))
    eng.push_pcm("a", np.zeros(FRAME_SAMPLES, np.int16))
    eng.run_tick()
    assert eng.stats().sources == 1


async def test_a_stalled_loop_skips_ticks_instead_of_bursting() -> None:
    fan = FakeFanout()
    eng = MediaEngine(fan)
    eng.add_listener("l", None, FLOOR)
    await eng.start()
    await until(lambda: len(fan.published) >= 5, "5 ticks")
    time.sleep(0.25)  # noqa: ASYNC251 - the point: block the event loop like a CPU hog would
    n = len(fan.published)
    await until(lambda: len(fan.published) >= n + 5, "5 more ticks")
    s = eng.stats()
    await eng.close()
    assert s.late_ticks >= 1 and s.skipped_ticks >= 3
    pts = [p for p, _ in fan.published]
    steps = np.diff(pts) // FRAME_SAMPLES
    # every tick publishes (a listener from the start), so every gap in pts is a counted skip;
    # on a loaded machine the very first ticks may have been skipped too (pts[0] > 0)
    assert int(np.sum(steps - 1)) + pts[0] // FRAME_SAMPLES == s.skipped_ticks
    assert int(steps.max()) > 3  # one jump forward on wall time, not a burst of catch-up ticks


async def test_the_clock_survives_an_unexpected_error_in_a_tick() -> None:
    fan = FakeFanout()
    eng = MediaEngine(fan)
    eng.add_listener("l", None, FLOOR)
    original = eng._gather
    failures: list[int] = []

    def flaky() -> dict[str, Frame]:
        if not failures:
            failures.append(1)
            raise RuntimeError("bug (test)")
        return original()

    eng._gather = flaky  # type: ignore[method-assign]
    await eng.start()
    await until(lambda: len(fan.published) >= 10, "10 ticks after the failure")
    await eng.close()
    assert failures == [1]
    pts = [p for p, _ in fan.published]
    assert pts[0] >= FRAME_SAMPLES  # the failed tick 0 was not retried: its pts is gone


class _RelayOut:
    """A relay that carries `keys` out (the webcast's link) and records what it is given."""

    def __init__(self, keys: frozenset[FeedKey]) -> None:
        self.keys = keys
        self.published: list[tuple[int, dict[FeedKey, bytes]]] = []

    def keys_out(self) -> frozenset[FeedKey]:
        return self.keys

    def keys_in(self) -> frozenset[FeedKey]:
        return frozenset()

    def publish(self, pts: int, packets: Mapping[FeedKey, bytes]) -> None:
        self.published.append((pts, {k: v for k, v in packets.items() if k in self.keys}))


async def test_an_alias_carries_its_target_s_packets_and_costs_no_encoder(
        engine_and_fanout: Rig) -> None:
    """The webcast's key of French is an alias: French listeners and the relay link get the
    very same bytes, encoded once; at a switch the alias follows at the plan's tick."""
    eng, fan = engine_and_fanout
    alias = FeedKey("fr", 0, "~broadcast")
    relay = _RelayOut(frozenset({alias}))
    eng.relay = relay
    a, b = tone(440, 2.0, -12.0), tone(1000, 2.0, -12.0)
    eng.add_source("floor1")
    eng.add_source("int1")
    booth_on = MixPlan.of({FLOOR: (("floor1", 1.0),), FR: (("int1", 1.0),)}, {alias: FR})
    booth_off = MixPlan.of({FLOOR: (("floor1", 1.0),), FR: ()}, {alias: FLOOR})
    eng.apply(booth_on)
    eng.add_listener("fr-listener", None, FR)
    eng.add_listener("webcast-viewer", None, alias)  # a fan-out listener of the alias, too
    switch_at = 60
    for t in range(100):
        if t == switch_at:
            eng.apply(booth_off)
        feed_tone(eng, "floor1", a, t)
        feed_tone(eng, "int1", b, t)
        eng.run_tick()
        s = eng.stats()
        # the alias is never encoded: one encoder per real key in use (+ FR in its grace)
        assert alias not in eng._encoders.keys()
        assert s.encoders <= 2 and s.feeds == 2
    assert eng.stats().feeds_in_use == 2  # FR for its listener, the floor for the alias
    for pts, packets in fan.published:
        target = FR if pts < switch_at * FRAME_SAMPLES else FLOOR
        assert packets[alias] is packets[target]  # the same bytes, not a second encode
    assert [p for _, p in relay.published] == [
        {alias: p[alias]} for _, p in fan.published]  # the link carries the alias
    assert [pts for pts, _ in relay.published] == [t * FRAME_SAMPLES for t in range(100)]
    y = decode_all(fan.payloads(alias))
    before, after = y[20 * FRAME_SAMPLES:switch_at * FRAME_SAMPLES], y[(switch_at + 5)
                                                                       * FRAME_SAMPLES:]
    assert abs(peak_hz(before) - 1000) < 15 and abs(peak_hz(after) - 440) < 15


async def test_an_alias_alone_makes_its_target_encoded(engine_and_fanout: Rig) -> None:
    """No French listener: the relay's alias alone puts FR in use (like keys_out)."""
    eng, fan = engine_and_fanout
    alias = FeedKey("fr", 0, "~broadcast")
    eng.relay = relay = _RelayOut(frozenset({alias}))
    eng.add_source("int1")
    eng.apply(MixPlan.of({FR: (("int1", 1.0),)}, {alias: FR}))
    for _ in range(3):
        eng.push_pcm("int1", np.zeros(FRAME_SAMPLES, dtype=np.float32))
        eng.run_tick()
    s = eng.stats()
    assert (s.feeds_in_use, s.encoders) == (1, 1)
    assert all(set(p) == {alias} for _, p in relay.published) and len(relay.published) == 3
    assert fan.published[-1][1][FR] == relay.published[-1][1][alias]


def test_an_alias_of_an_alias_is_refused() -> None:
    with pytest.raises(ValueError):
        MixPlan.of({FR: ()}, {FeedKey("a"): FeedKey("b"), FeedKey("b"): FR})
    plan = MixPlan.of({FR: ()}, {FeedKey("a"): FR})
    assert plan.real(FeedKey("a")) == FR and plan.real(FR) == FR
