"""What a listener hears, end to end: browsers as real WebRTC peers, an FFT in the listener's page.

Every simulated participant has its own tone; we assert the frequency heard (±15 Hz) and relative
levels, never durations, and poll for each state with a deadline.
"""

from __future__ import annotations

import pytest

from .conftest import assert_no_refusals, join_all, until

pytestmark = pytest.mark.browser

FLOOR_HZ = 350.0  # the chair, speaking on the floor
FR_HZ = 520.0  # the French booth's first interpreter
FR2_HZ = 730.0  # the French booth's second interpreter
DELEGATE_HZ = 610.0  # a delegate who asks for the floor


async def pick_channel(p, channel: str) -> None:
    await p.page.click(f'[data-channel="{channel}"]')

    async def on() -> bool:
        return (await p.state()).get("channel") == channel
    await until(on, f"the listener to be on {channel}")


async def test_listener_hears_interpreter_then_floor(server, api, launch, tones, silence):
    api.organizer()
    m = api.meeting()
    chair, interp, listener = await join_all(
        launch,
        (tones(FLOOR_HZ), api.invite(m["id"], "chair", "Chair Person")),
        (tones(FR_HZ), api.invite(m["id"], "interpreter", "Ines Interprète", booth="fr")),
        (silence, api.invite(m["id"], "delegate", "Lena Listener")))

    await chair.page.click("#chair-speak")
    await until(lambda: _holds(chair), "the chair to hold the floor")
    await interp.page.click("#onair")

    async def interp_on_air() -> bool:
        return (await interp.page.get_attribute("#onair", "aria-pressed")) == "true"
    await until(interp_on_air, "the interpreter to be on air")

    # keyboard only: focus the chosen channel, the arrow keys move the choice (floor, en, fr)
    await listener.page.focus('[data-channel="floor"]')
    await listener.page.keyboard.press("ArrowRight")
    await listener.page.keyboard.press("ArrowRight")
    await until(lambda: _channel_is(listener, "fr"), "the listener on fr (arrow keys)")
    heard = await until(lambda: listener.hears(FR_HZ), f"the listener on fr to hear {FR_HZ} Hz")
    assert abs(heard["frequency"] - FR_HZ) <= 15

    await pick_channel(listener, "floor")
    heard = await until(lambda: listener.hears(FLOOR_HZ),
                        f"the listener on floor to hear {FLOOR_HZ} Hz")
    assert abs(heard["frequency"] - FLOOR_HZ) <= 15
    await assert_no_refusals(chair, interp, listener)


async def _holds(p) -> bool:
    return bool((await p.state()).get("i_have_floor"))


async def test_floor_given_then_taken(server, api, launch, tones, silence):
    api.organizer()
    m = api.meeting()
    chair, delegate, listener = await join_all(
        launch,
        (silence, api.invite(m["id"], "chair", "Chair Person")),
        (tones(DELEGATE_HZ), api.invite(m["id"], "delegate", "Dev Delegate", delegation="Kenya")),
        (silence, api.invite(m["id"], "delegate", "Lena Listener")))
    await pick_channel(listener, "floor")

    delegate_id = (await delegate.state())["me"]
    await delegate.page.click("#request-floor")
    await chair.page.wait_for_selector("[data-give]", timeout=15000)
    await chair.page.click("[data-give]")
    await until(lambda: _holds(delegate), "the delegate to be given the floor")
    await delegate.page.wait_for_selector("#mic-live")
    await delegate.page.click("#self-mute:has-text('Unmute to speak')")  # the floor starts muted

    await until(lambda: listener.hears(DELEGATE_HZ),
                f"the floor listener to hear the delegate ({DELEGATE_HZ} Hz)")

    # the delegate's connection drops: the page reconnects (a new Session, resumed), keeps the
    # floor within the grace period, and the listener hears the delegate again
    await delegate.page.evaluate("() => window.mirpTest.drop()")

    async def reconnected() -> dict | None:
        s = await delegate.state()
        ok = s.get("welcomes", 0) >= 2 and s.get("session") == "open" \
            and s.get("connection") == "connected"
        return s if ok else None
    s = await until(reconnected, "the delegate's page to reconnect on its own")
    assert s["resumed"] and s["i_have_floor"], s
    heard = await until(lambda: listener.hears(DELEGATE_HZ),
                        "the floor listener to hear the delegate again after the reconnect")
    speaking_db = heard["level_db"]

    async def silenced() -> dict | None:
        level = await listener.page.evaluate(
            "([hz, ms]) => window.mirpTest.levelAt(hz, ms)", [DELEGATE_HZ, 1200])
        return level if level["level_db"] < speaking_db - 25 else None

    # the chair mutes the speaker (who keeps the floor), then unmutes them
    await chair.page.click(f"[data-mute='{delegate_id}']")
    await until(silenced, "the muted delegate to fall silent")
    await delegate.page.wait_for_selector("#mic-live.muted")
    assert await _holds(delegate)
    await chair.page.click(f"[data-unmute='{delegate_id}']")
    await until(lambda: listener.hears(DELEGATE_HZ), "the delegate heard again once unmuted")

    await chair.page.click("[data-take]")
    await until(silenced, "the delegate's tone to fall silent once the floor is taken back")
    assert not await _holds(delegate)
    await delegate.page.wait_for_selector("#request-floor")
    await assert_no_refusals(chair, delegate, listener)

    # the chair closes the meeting: every page says so and stops reconnecting
    chair.page.once("dialog", lambda d: d.accept())
    await chair.page.click("#close-meeting")
    for p in (delegate, listener):
        await p.page.wait_for_selector("#ended:has-text('closed the meeting')")


async def test_handover_between_booth_partners(server, api, launch, tones, silence):
    api.organizer()
    m = api.meeting()
    first, second, listener = await join_all(
        launch,
        (tones(FR_HZ), api.invite(m["id"], "interpreter", "Ines First", booth="fr")),
        (tones(FR2_HZ), api.invite(m["id"], "interpreter", "Paul Second", booth="fr")),
        (silence, api.invite(m["id"], "delegate", "Lena Listener")))

    # the partner's console starts on auto-relay; a source picked by hand, then Auto again
    await second.page.wait_for_selector('[data-source="auto"][aria-checked="true"]')
    await second.page.click('[data-source="es"]')
    await until(lambda: _hears_source(second, "es", auto=False), "the partner's relay from es")
    await second.page.click('[data-source="auto"]')
    await until(lambda: _hears_source(second, "floor", auto=True), "the partner back on auto")

    await first.page.click("#onair")
    await pick_channel(listener, "fr")
    await until(lambda: listener.hears(FR_HZ), "the fr listener to hear the first interpreter")

    # cough: holding C silences the voice on air, releasing it brings it back
    base = await listener.page.evaluate(
        "([hz, ms]) => window.mirpTest.levelAt(hz, ms)", [FR_HZ, 1200])
    await first.page.focus("body")
    await first.page.keyboard.down("c")

    async def coughed() -> dict | None:
        lv = await listener.page.evaluate(
            "([hz, ms]) => window.mirpTest.levelAt(hz, ms)", [FR_HZ, 1200])
        return lv if lv["level_db"] < base["level_db"] - 25 else None
    await until(coughed, "the cough to silence the interpreter")
    assert await first.page.get_attribute("#onair-light", "class") == "onair-light cough"
    await first.page.keyboard.up("c")
    await until(lambda: listener.hears(FR_HZ), "the interpreter back after the cough")

    await first.page.click("#request-handover")
    await second.page.wait_for_selector("#accept-handover", timeout=15000)
    await second.page.click("#accept-handover")

    async def second_on_air() -> bool:
        return (await second.page.get_attribute("#onair", "aria-pressed")) == "true"
    await until(second_on_air, "the partner to be on air after accepting")
    heard = await until(lambda: listener.hears(FR2_HZ),
                        f"the fr listener to hear the partner ({FR2_HZ} Hz) after the handover")
    assert abs(heard["frequency"] - FR2_HZ) <= 15
    assert (await first.page.get_attribute("#onair", "aria-pressed")) == "false"

    async def first_gone() -> dict | None:
        old = await listener.page.evaluate(
            "([hz, ms]) => window.mirpTest.levelAt(hz, ms)", [FR_HZ, 1200])
        return old if old["level_db"] < heard["level_db"] - 25 else None
    await until(first_gone, "the first interpreter's voice to leave the fr channel")
    await assert_no_refusals(first, second, listener)


async def _hears_source(p, channel: str, *, auto: bool) -> dict | None:
    s = await p.state()
    return s if s.get("auto") is auto and s.get("channel") == channel else None


async def _channel_is(p, channel: str) -> bool:
    return (await p.state()).get("channel") == channel


async def test_the_hear_meter_follows_the_new_stream_after_a_reconnect(server, api, launch, tones,
                                                                        silence):
    """A reconnect gives the page a new peer connection and a new remote stream: the page's
    "what you hear" meter must move onto it (the old meter stayed on the dead stream, at zero)."""
    api.organizer()
    m = api.meeting()
    chair, listener = await join_all(
        launch,
        (tones(FLOOR_HZ), api.invite(m["id"], "chair", "Chair Person")),
        (silence, api.invite(m["id"], "delegate", "Lena Listener")))
    await chair.page.click("#chair-speak")
    await until(lambda: _holds(chair), "the chair to hold the floor")
    await pick_channel(listener, "floor")
    await until(lambda: listener.hears(FLOOR_HZ), f"the listener to hear the floor ({FLOOR_HZ} Hz)")

    async def meter_up() -> float | None:
        width = await listener.page.evaluate(
            "() => parseFloat(document.querySelector('#hear-fill').style.width || '0')")
        return width if width > 40 else None
    await until(meter_up, "the hear meter to show the floor's tone")

    await listener.page.evaluate("() => window.mirpTest.drop()")

    async def reconnected() -> dict | None:
        s = await listener.state()
        ok = s.get("welcomes", 0) >= 2 and s.get("connection") == "connected"
        return s if ok else None
    await until(reconnected, "the listener's page to reconnect")
    await until(lambda: listener.hears(FLOOR_HZ), "the listener to hear the floor again")
    await until(meter_up, "the hear meter to show the tone on the new stream")
    await assert_no_refusals(chair, listener)
