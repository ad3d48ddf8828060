"""Random command sequences from random participants never break the Room's invariants:
at most one interpreter on air per booth, only permitted microphones in the plan, nobody hears
their own voice, no relay loop, the plan holds exactly the keys in use, and a refused command
changes nothing."""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mirp.errors import MirpError
from mirp.interpretation.routing import find_cycle
from mirp.rooms import commands as c
from tests.rooms.kit import CAST, LANGUAGES, Kit

PIDS = sorted(CAST)
CHANNELS = ["floor", "auto", *LANGUAGES]

INTERPRETERS = [p for p in PIDS if CAST[p][1] is not None]
subscribe = st.builds(
    c.Subscribe, st.sampled_from(CHANNELS), st.sampled_from([None, -12, -18, -24])
)
delegate_cmds = st.one_of(
    st.builds(c.FloorRequest, st.sampled_from(["speak", "point_of_order"])),
    st.just(c.FloorWithdraw()),
)
chair_cmds = st.one_of(
    st.builds(c.FloorGive, st.sampled_from(PIDS)),
    st.builds(c.FloorTake, st.sampled_from(PIDS)),
    st.builds(c.FloorTimeLimit, st.sampled_from([None, 5, 60])),
    st.builds(c.ParticipantMute, st.sampled_from(PIDS), st.booleans()),
    st.builds(c.FloorLanguage, st.sampled_from([None, *LANGUAGES])),
    st.builds(c.ParticipantRemove, st.sampled_from(PIDS)),
    st.builds(c.SpeakersReorder, st.permutations(["d1", "d2"]).map(tuple)),
)
booth_cmds = st.sampled_from(
    [
        c.OnAir(True),
        c.OnAir(True),
        c.OnAir(False),
        c.Cough(True),
        c.Cough(True),
        c.Cough(False),
        c.ConsoleOutput("en"),
        c.ConsoleOutput("fr"),
        c.HandoverRequest(None),
        c.HandoverRequest("fr2"),
        c.HandoverAccept(),
        c.HandoverDecline(),
        c.SlowDown(),
    ]
)
any_cmd = st.one_of(subscribe, delegate_cmds, chair_cmds, booth_cmds, st.just(c.MeetingClose()))
steps = st.lists(
    st.one_of(
        st.tuples(st.just("cmd"), st.sampled_from(INTERPRETERS), booth_cmds),
        st.tuples(st.just("cmd"), st.sampled_from(["fr1", "fr2"]), booth_cmds),
        st.tuples(st.just("cmd"), st.sampled_from(INTERPRETERS), subscribe),
        st.tuples(st.just("cmd"), st.sampled_from(["ch", "org"]), chair_cmds),
        st.tuples(st.just("cmd"), st.sampled_from(["d1", "d2", "d3", "ch"]), delegate_cmds),
        st.tuples(st.just("cmd"), st.sampled_from(PIDS), subscribe),
        st.tuples(st.just("cmd"), st.sampled_from(PIDS), any_cmd),
        st.tuples(st.just("join"), st.sampled_from(PIDS), st.none()),
        st.tuples(st.just("disconnect"), st.sampled_from(PIDS), st.none()),
        st.tuples(st.just("leave"), st.sampled_from(PIDS), st.none()),
        st.tuples(st.just("time"), st.sampled_from([1.0, 10.0, 25.0, 40.0]), st.none()),
    ),
    min_size=10,
    max_size=60,
)


LISTENERS = [
    ("ob", "fr", None),
    ("d3", "es", -12),
    ("org", "it", None),
    ("d2", "en", -18),
    ("d1", "de", None),
]


def fingerprint(k: Kit) -> object:
    r = k.room
    return (r.snapshot("ch"), r.mix_plan(), r.feeds(), r.next_deadline(), tuple(r.participants))


def check_invariants(k: Kit) -> None:
    room = k.room
    plan = room.mix_plan()
    allowed = {
        h.participant_id
        for h in room.floor.holders.values()
        if not h.muted and room.participants[h.participant_id].connected
    } | {
        b.on_air
        for b in room.booths.values()
        if b.on_air and not b.coughing and room.participants[b.on_air].connected
    }
    assert plan.sources() <= allowed
    for b in room.booths.values():
        assert b.on_air is None or b.on_air in b.members
        assert len(b.members) == len(set(b.members))
    feeds = room.feeds()
    assert set(plan.feeds) == set(feeds.values())
    for pid, key in feeds.items():
        assert pid not in {s for s, _ in plan.recipe(key)}, f"{pid} hears themselves"
    assert find_cycle(room.interpretation.inputs(), room.routes) is None
    for pid in room.floor.holders:
        assert pid in room.participants
    assert not (set(room.participants) & room.removed)
    d = room.next_deadline()
    assert d is None or d > k.now


@settings(
    max_examples=100,
    database=None,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(steps)
def test_random_sequences_keep_the_invariants(seq: list[Any]) -> None:
    k = Kit(None, None, *PIDS)
    # listeners on every kind of channel, so that what booths do reaches the plan
    for pid, channel, under in LISTENERS:
        k.do(pid, c.Subscribe(channel, under))
    for kind, who, cmd in seq:
        try:
            if kind == "cmd":
                before = fingerprint(k)
                try:
                    k.do(who, cmd)
                except MirpError:
                    assert fingerprint(k) == before, f"refused {cmd} changed the room"
            elif kind == "join":
                k.join(who)
            elif kind == "disconnect":
                k.room.disconnect(who, k.now)
            elif kind == "leave":
                k.room.leave(who, k.now)
            else:
                k.advance(who)
        except MirpError:
            pass
        check_invariants(k)
