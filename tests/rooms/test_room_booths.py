"""Booths inside the Room: on air, handover, cough, chat, slow down, retour, relay, auto-relay,
and relay cycles."""

from __future__ import annotations

from typing import Any

from mirp.errors import Conflict, InvalidInput
from mirp.interpretation.routing import find_cycle
from mirp.rooms import commands as c
from mirp.rooms.events import Chat, Event, Notice
from mirp.rooms.model import OnAirTurnRecord
from tests.rooms.kit import FLOOR, Kit, messages, records


def cast() -> Kit:
    return Kit(None, None, "ch", "d1", "d2", "fr1", "fr2", "de1", "es1", "it1")


def booth_msg(events: list[Event], language: str) -> dict[str, Any]:
    return [m for m in messages(events, "booth") if m["language"] == language][-1]


def test_on_air_is_shown_to_everyone_and_a_partner_cannot_take_the_mic() -> None:
    k = cast()
    ev = k.do("fr1", c.OnAir(True))
    b = booth_msg(ev, "fr")
    assert (b["on_air"], b["channel"], b["live"]) == ("fr1", "fr", True)
    assert messages(ev, "channels")[0]["channels"]["fr"]["route"] == "interpretation"
    k.refuse("fr2", c.OnAir(True), Conflict)
    k.now += 300
    ev = k.do("fr1", c.OnAir(False))
    (turn,) = records(ev, OnAirTurnRecord)
    assert (turn.participant_id, turn.booth, turn.channel) == ("fr1", "fr", "fr")
    assert (turn.ended_at - turn.started_at).total_seconds() == 300


def test_handover_request_and_accept_moves_the_mic_at_once() -> None:
    k = cast()
    k.do("fr1", c.OnAir(True))
    ev = k.do("fr1", c.HandoverRequest(None))  # the only partner
    h = booth_msg(ev, "fr")["handover"]
    assert (h["from"], h["to"], h["next_on_air"], h["expires_in_s"]) == ("fr1", "fr2", "fr2", 20)
    k.refuse("fr1", c.HandoverAccept(), Conflict)
    k.now += 3
    ev = k.do("fr2", c.HandoverAccept())
    b = booth_msg(ev, "fr")
    assert (b["on_air"], b["handover"]) == ("fr2", None)
    assert records(ev, OnAirTurnRecord)[0].participant_id == "fr1"
    assert k.route("fr")["interpreter"] == "fr2"
    k.do("d1", c.Subscribe("fr"))
    assert k.recipe("d1") == (("fr2", 1.0),)


def test_the_partner_off_air_may_ask_to_take_over() -> None:
    k = cast()
    k.do("fr1", c.OnAir(True))
    k.do("fr2", c.HandoverRequest(None))
    handover = k.room.booths["fr"].handover
    assert handover is not None and handover.next_on_air == "fr2"
    k.do("fr1", c.HandoverAccept())
    assert k.room.booths["fr"].on_air == "fr2"


def test_an_unanswered_handover_expires_on_tick() -> None:
    k = cast()
    k.do("fr1", c.OnAir(True))
    k.do("fr1", c.HandoverRequest("fr2"))
    assert k.room.next_deadline() == k.now + 20
    assert k.advance(19.9) == []
    ev = k.advance(0.1)
    (n,) = [e for e in ev if isinstance(e, Notice)]
    assert n.message() == {
        "type": "notice",
        "kind": "handover_expired",
        "from": "fr1",
        "participant_id": "fr2",
        "booth": "fr",
    }
    assert sorted(k.room.recipients(n.audience)) == ["fr1", "fr2"]
    assert booth_msg(ev, "fr")["handover"] is None
    k.refuse("fr2", c.HandoverAccept(), Conflict)
    assert k.room.booths["fr"].on_air == "fr1"


def test_decline_tells_the_booth() -> None:
    k = cast()
    k.do("fr1", c.OnAir(True))
    k.do("fr1", c.HandoverRequest("fr2"))
    ev = k.do("fr2", c.HandoverDecline())
    (n,) = [e for e in ev if isinstance(e, Notice)]
    assert (n.kind, n.sender, n.participant_id) == ("handover_declined", "fr2", "fr1")


def test_chat_goes_to_the_booth_only() -> None:
    k = cast()
    ev = k.do("fr1", c.BoothChat("I take the next speaker"))
    (chat,) = [e for e in ev if isinstance(e, Chat)]
    assert chat.message()["from"] == "fr1" and chat.message()["text"] == "I take the next speaker"
    assert sorted(k.room.recipients(chat.audience)) == ["fr1", "fr2"]


def test_slow_down_goes_to_chairs_and_floor_holders() -> None:
    k = cast()
    k.do("ch", c.FloorGive("d1"))
    ev = k.do("es1", c.SlowDown())
    (n,) = [e for e in ev if isinstance(e, Notice)]
    assert n.message() == {"type": "notice", "kind": "slow_down", "from": "es1", "booth": "es"}
    assert sorted(k.room.recipients(n.audience)) == ["ch", "d1"]


def test_cough_from_off_air_is_a_no_op_and_disconnect_releases_cough() -> None:
    k = cast()
    assert messages(k.do("fr2", c.Cough(True)), "booth") == []
    k.do("fr1", c.OnAir(True))
    k.do("fr1", c.Cough(True))
    k.room.disconnect("fr1", k.now)
    assert not k.room.booths["fr"].coughing
    assert k.route("fr")["kind"] == "auto_floor"  # away: the channel falls back to the floor
    k.join("fr1")
    assert k.route("fr")["kind"] == "interpretation" and k.room.booths["fr"].on_air == "fr1"


def test_output_switch_to_retour_and_refusals() -> None:
    k = cast()
    k.do("fr1", c.OnAir(True))
    ev = k.do("fr1", c.ConsoleOutput("en"))
    assert booth_msg(ev, "fr")["channel"] == "en"
    ch = messages(ev, "channels")[0]["channels"]
    assert ch["en"]["booth"] == "fr" and ch["fr"]["route"] == "auto_floor"
    k.refuse("fr2", c.ConsoleOutput("fr"), Conflict)
    k.refuse("fr1", c.ConsoleOutput("de"), InvalidInput)
    k.refuse("de1", c.ConsoleOutput("en"), InvalidInput)


def test_auto_relay_follows_the_floor_language() -> None:
    k = cast()
    k.do("ch", c.FloorGive("d1"))  # d1 speaks en
    # es takes only fr: relay from fr, whose booth takes en directly
    assert k.channel("es1") == "fr"
    assert k.channel("de1") == FLOOR and k.channel("fr1") == FLOOR
    es_sub = [m for m in messages(k.log, "subscribed")][-1]
    assert es_sub == {"type": "subscribed", "channel": "fr", "floor_under": None, "auto": True}
    assert k.room.snapshot("es1")["booths"][2]["relay_auto"] == "fr"
    k.do("fr1", c.OnAir(True))
    assert k.sources_heard("es1") == {"fr1"}
    ev = k.do("ch", c.FloorLanguage("fr"))  # now es takes the floor directly
    assert k.channel("es1") == FLOOR
    assert {"type": "subscribed", "channel": "floor", "floor_under": None, "auto": True} in (
        messages(ev, "subscribed")
    )
    assert k.sources_heard("es1") == {"d1"}


def test_auto_relay_prefers_a_booth_on_air() -> None:
    k = cast()
    k.do("ch", c.FloorGive("d1"))
    k.do("de1", c.OnAir(True))
    assert k.channel("es1") == "fr"  # es does not take de; fr is the only choice
    k.do("ch", c.FloorLanguage("it"))  # nobody takes it directly but it1
    # es understands fr only; fr cannot take it: no useful relay, the floor
    assert k.channel("es1") == FLOOR
    assert k.channel("de1") == FLOOR  # de does not take it either: no booth speaks de/en/fr
    k.do("it1", c.OnAir(True))
    k.do("it1", c.ConsoleOutput("it"))
    assert k.channel("es1") == FLOOR  # es cannot use it1's Italian


def test_manual_relay_then_auto_again() -> None:
    k = cast()
    k.do("ch", c.FloorGive("d1"))
    k.do("es1", c.Subscribe(FLOOR))  # by hand: the interpreter takes en after all
    assert k.channel("es1") == FLOOR
    assert k.room.consoles["es1"].auto is False
    k.do("fr1", c.OnAir(True))  # changes elsewhere do not move a manual choice
    assert k.channel("es1") == FLOOR
    ev = k.do("es1", c.Subscribe(c.AUTO_RELAY))
    assert k.channel("es1") == "fr"
    assert messages(ev, "subscribed")[-1]["auto"] is True
    k.do("es1", c.Subscribe("de"))  # manual relay from de
    assert k.room.consoles["es1"].auto is False
    k.do("ch", c.FloorLanguage("fr"))  # a floor language change: auto-relay for all again
    assert k.channel("es1") == FLOOR and k.room.consoles["es1"].auto
    k.do("es1", c.Subscribe("de"))
    k.do("ch", c.FloorLanguage(None))  # back to en (d1's language): relay from fr
    assert k.channel("es1") == "fr"


def test_auto_is_for_interpreters_and_channels_must_exist() -> None:
    k = cast()
    k.refuse("d1", c.Subscribe(c.AUTO_RELAY), InvalidInput)
    k.refuse("d1", c.Subscribe("ru"), InvalidInput)
    k.refuse("d1", c.Subscribe("fr", -13), InvalidInput)
    k.refuse("d1", c.Subscribe("fr", 0), InvalidInput)
    k.refuse("es1", c.Subscribe("ru"), InvalidInput)
    k.do("d1", c.Subscribe(FLOOR, -12))  # the floor under the floor is the floor
    assert k.room.participants["d1"].floor_under is None


def test_a_relay_that_closes_a_loop_is_refused() -> None:
    k = cast()
    k.do("ch", c.FloorLanguage("it"))  # only the it booth takes Italian
    k.do("de1", c.OnAir(True))
    k.do("fr1", c.OnAir(True))
    assert k.channel("de1") == "fr"  # de takes fr: auto-relay from fr1
    err = k.refuse("fr1", c.Subscribe("de"), Conflict)  # fr relaying de would close a loop
    assert sorted(err.details["cycle"]) == ["de", "fr"]
    k.refuse("fr1", c.Subscribe("fr"), Conflict)  # relaying oneself
    k.do("fr2", c.Subscribe("fr"))  # off air, monitoring the partner: fine
    k.do("de1", c.Subscribe(FLOOR))
    k.do("fr1", c.Subscribe("de"))  # no loop any more
    k.refuse("de1", c.Subscribe("fr"), Conflict)


def test_a_loop_of_one_made_by_a_handover_is_broken() -> None:
    k = cast()
    k.do("ch", c.FloorLanguage("it"))
    k.do("fr1", c.OnAir(True))
    k.do("fr2", c.Subscribe("fr"))  # fr2 monitors fr while off air
    k.do("fr1", c.HandoverRequest("fr2"))
    ev = k.do("fr2", c.HandoverAccept())  # on air, fr2 would now hear its own channel
    assert k.channel("fr2") == FLOOR
    assert {"type": "subscribed", "channel": FLOOR, "floor_under": None, "auto": True} in (
        messages(ev, "subscribed")
    )
    assert "fr2" not in k.sources_heard("fr2")


def test_a_loop_of_two_made_by_going_on_air_is_broken() -> None:
    k = cast()
    k.do("ch", c.FloorLanguage("it"))
    k.do("fr1", c.OnAir(True))
    k.do("de1", c.Subscribe("fr"))  # off air: de1 relays fr (by hand)
    k.do("fr1", c.Subscribe("de"))  # de is idle (auto-floor): no loop yet
    k.do("de1", c.OnAir(True))  # now fr relays de relays fr
    inputs = {"de": k.channel("de1"), "fr": k.channel("fr1")}
    assert FLOOR in inputs.values()
    assert find_cycle(k.room.interpretation.inputs(), k.room.routes) is None


def test_interpreter_output_and_booth_view_in_welcome() -> None:
    k = cast()
    k.do("ch", c.FloorGive("d1"))
    k.do("fr1", c.OnAir(True))
    k.do("es1", c.OnAir(True))
    s = k.room.snapshot("es1")
    es = next(b for b in s["booths"] if b["language"] == "es")
    assert (es["input"], es["relay"], es["relay_auto"], es["understands_floor"]) == (
        "fr",
        "fr",
        "fr",
        False,
    )
    assert s["subscription"] == {"channel": "fr", "floor_under": None, "auto": True}


def test_resubscribing_to_the_current_channel_keeps_auto_relay() -> None:
    k = cast()
    k.do("ch", c.FloorGive("d1"))
    assert k.channel("es1") == "fr"
    ev = k.do("es1", c.Subscribe("fr"))  # what a reconnecting client sends
    assert messages(ev, "subscribed")[-1]["auto"] is True
    assert k.room.consoles["es1"].auto


def test_booth_chat_history_is_in_the_welcome_of_its_interpreters_only() -> None:
    k = cast()
    for i in range(55):
        k.do("fr1", c.BoothChat(f"line {i}"))
    k.do("de1", c.BoothChat("hallo"))
    k.room.leave("fr2", k.now)
    k.join("fr2")
    chat = k.room.snapshot("fr2")["chat"]
    assert len(chat) == 50 and chat[-1]["text"] == "line 54" and chat[0]["text"] == "line 5"
    assert [m["text"] for m in k.room.snapshot("de1")["chat"]] == ["hallo"]
    assert k.room.snapshot("d1")["chat"] == []
