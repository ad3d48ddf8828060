"""Routes, relay choice and relay cycles, on Booth objects directly."""

from __future__ import annotations

from mirp.interpretation.booth import Booth
from mirp.interpretation.routing import (
    FLOOR,
    Route,
    compute_routes,
    find_cycle,
    relay_choice,
)
from mirp.rooms.model import BoothSpec

LANGS = ("en", "fr", "de", "es", "it", "pt")


def booths() -> dict[str, Booth]:
    specs = [
        BoothSpec("fr", retour="en", understands=frozenset({"en"})),
        BoothSpec("de", understands=frozenset({"en", "fr"})),
        BoothSpec("es", understands=frozenset({"fr", "de"})),
        BoothSpec("it", understands=frozenset({"en"}), auto_floor=False),
        BoothSpec("en", understands=frozenset({"fr"})),
    ]
    out = {s.language: Booth(s) for s in specs}
    for b in out.values():
        b.add(b.language + "1")
        b.add(b.language + "2")
    return out


ALL = {f"{x}{n}" for x in ("fr", "de", "es", "it", "en") for n in (1, 2)}


def routes(
    bs: dict[str, Booth], floor_language: str | None = None, connected: set[str] = ALL
) -> dict[str, Route]:
    return compute_routes(LANGS, list(bs.values()), floor_language, connected)


def test_idle_channels_auto_floor_or_silence_and_no_booth_carries_the_floor() -> None:
    r = routes(booths())
    assert r[FLOOR] == Route(FLOOR, "floor")
    assert r["fr"].kind == "auto_floor" and r["fr"].carries_floor
    assert r["it"].kind == "silence" and not r["it"].carries_floor
    assert r["pt"].kind == "auto_floor"  # no booth at all


def test_on_air_interpreter_carries_the_channel_and_cough_silences_it() -> None:
    bs = booths()
    bs["fr"].set_on_air("fr1", True, 0)
    r = routes(bs)
    assert r["fr"] == Route("fr", "interpretation", "fr", "fr1", True)
    bs["fr"].set_cough("fr1", True)
    assert routes(bs)["fr"] == Route("fr", "interpretation", "fr", "fr1", False)


def test_disconnected_on_air_interpreter_falls_back_to_auto_floor() -> None:
    bs = booths()
    bs["fr"].set_on_air("fr1", True, 0)
    assert routes(bs, connected=ALL - {"fr1"})["fr"].kind == "auto_floor"


def test_retour_routes_to_the_other_channel_native_booth_wins() -> None:
    bs = booths()
    bs["fr"].set_on_air("fr1", True, 0)
    bs["fr"].set_output("fr1", "en", 0)
    r = routes(bs)
    assert r["en"] == Route("en", "interpretation", "fr", "fr1", True)
    assert r["fr"].kind == "auto_floor"
    bs["en"].set_on_air("en1", True, 0)
    assert routes(bs)["en"].booth == "en"  # the native booth wins over a retour


def test_floor_language_channel_carries_the_floor_unless_someone_interprets_into_it() -> None:
    bs = booths()
    assert routes(bs, "it")["it"].kind == "floor_language"  # even with auto_floor off
    bs["it"].set_on_air("it1", True, 0)
    assert routes(bs, "it")["it"].kind == "interpretation"


def test_find_cycle() -> None:
    bs = booths()
    bs["de"].set_on_air("de1", True, 0)
    bs["es"].set_on_air("es1", True, 0)
    r = routes(bs)
    assert find_cycle({"de": FLOOR, "es": "de"}, r) is None
    assert sorted(find_cycle({"de": "es", "es": "de"}, r) or []) == ["de", "es"]
    assert find_cycle({"de": "de"}, r) == ["de"]  # relaying oneself
    # a chain that ends at an idle channel (auto-floor) is not a cycle
    assert find_cycle({"es": "fr"}, r) is None


def test_relay_choice_prefers_a_booth_on_air_that_takes_the_floor_directly() -> None:
    bs = booths()
    r = routes(bs, "en")
    # es does not take en; fr and de are idle but would take en directly: the first language
    assert relay_choice(bs["es"], "en", LANGS, list(bs.values()), r, {}) == "fr"
    bs["de"].set_on_air("de1", True, 0)
    r = routes(bs, "en")
    assert relay_choice(bs["es"], "en", LANGS, list(bs.values()), r, {"de": FLOOR}) == "de"
    # a booth that understands the floor language hears the floor
    assert relay_choice(bs["de"], "en", LANGS, list(bs.values()), r, {"de": FLOOR}) == FLOOR


def test_relay_choice_prefers_direct_over_relay_of_relay() -> None:
    bs = booths()
    bs["fr"].set_on_air("fr1", True, 0)
    bs["de"].set_on_air("de1", True, 0)
    r = routes(bs, "pt")  # nobody takes pt but... fr relays de? set inputs by hand:
    inputs = {"fr": FLOOR, "de": "fr"}
    assert relay_choice(bs["es"], "pt", LANGS, list(bs.values()), r, inputs) == "fr"
    inputs = {"fr": "de", "de": FLOOR}
    assert relay_choice(bs["es"], "pt", LANGS, list(bs.values()), r, inputs) == "de"


def test_relay_choice_never_makes_a_cycle_and_falls_back_to_floor() -> None:
    bs = booths()
    bs["es"].set_on_air("es1", True, 0)
    bs["de"].set_on_air("de1", True, 0)
    r = routes(bs, "pt")
    # de's interpreter relays es: es must not relay de back
    choice = relay_choice(bs["es"], "pt", LANGS, list(bs.values()), r, {"de": "es"})
    assert choice != "de"
    # nothing es understands is available at all: the floor
    lone = {"es": Booth(BoothSpec("es", understands=frozenset({"fr"})))}
    r2 = compute_routes(("en", "es"), list(lone.values()), "en", set())
    assert relay_choice(lone["es"], "en", ("en", "es"), list(lone.values()), r2, {}) == FLOOR


def test_relay_choice_skips_a_silent_channel() -> None:
    bs = booths()
    r = routes(bs, "pt")
    # `it` is silent while idle (auto_floor off): nobody should be put on a silent relay
    b = Booth(BoothSpec("xx", understands=frozenset({"it"})))
    assert relay_choice(b, "pt", LANGS, [*bs.values(), b], r, {}) == FLOOR
