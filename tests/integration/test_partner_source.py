"""The booth partner listens to their own booth's channel before taking over (issue 12, point 14).

Real aiortc peers and an FFT on what each hears. Tones: delegate1 440 Hz (the floor),
interpreter_fr1 660, interpreter_fr2 880 (both in the French booth). The partner off air may hear
the booth's channel; the voice on air never hears itself: choosing its own channel is refused (a
relay loop), and a partner who goes on air while listening to the booth is sent back to the floor.
"""

from __future__ import annotations

from tests.integration.conftest import Harness
from tests.integration.test_media_e2e import hears, pid
from tests.support.wait import until


async def test_partner_hears_the_booth_then_takes_over_and_never_hears_themselves(
    harness: Harness,
) -> None:
    h = harness
    chair = await h.attend("chair", media=False)
    await h.attend("delegate1", 440)
    fr1 = await h.attend("interpreter_fr1", 660)
    fr2 = await h.attend("interpreter_fr2", 880)
    await chair.ws.ok("floor_give", participant_id=pid(h, "delegate1"))
    await chair.ws.ok("floor_language", language="en")
    await fr1.ws.ok("on_air", on=True)
    # the partner picks "Partner (this booth)": the French channel, i.e. fr1's voice
    await fr2.ws.ok("subscribe", channel="fr", floor_under=None)
    await hears(fr2, [660], [440, 880])
    # the voice on air cannot choose its own channel (it would hear nothing of the floor)
    loop = await fr1.ws.request("subscribe", channel="fr", floor_under=None)
    assert loop["type"] == "error" and loop["code"] == "conflict", loop
    await hears(fr1, [440], [660, 880])
    # handover to the partner who is listening to the booth: now on air, they go back to the
    # floor (never their own voice), and the one who handed over may listen to the booth
    await fr1.ws.ok("handover_request", to=pid(h, "interpreter_fr2"))
    await until(lambda: (fr2.ws.last("booth") or {}).get("handover"), "handover offered")
    await fr2.ws.ok("handover_accept")
    await hears(fr2, [440], [660, 880])
    await fr1.ws.ok("subscribe", channel="fr", floor_under=None)
    await hears(fr1, [880], [440, 660])
