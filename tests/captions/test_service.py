"""The app's side of the captioner (captions/service.py) with the real worker process: it tells
the media plane what to relay where as the captioned channels change, and a worker that cannot
start costs the captions only. Models (captions/models.py): from packages or a path."""

from __future__ import annotations

from collections.abc import Collection
from pathlib import Path

import pytest

from mirp.captions.models import resolve
from mirp.captions.service import LINK, CaptionService, Heard, Wanted
from mirp.errors import InvalidInput
from mirp.media.plan import FeedKey
from tests.support.wait import until

pytestmark = pytest.mark.process


class Plane:
    def __init__(self) -> None:
        self.calls: list[tuple[str, ...] | tuple[str, object, object, int]] = []

    def relay_to(self, link_id: str, address: tuple[str, int], keys: Collection[FeedKey],
                 epoch: int, sources: Collection[str] = ()) -> None:
        self.calls.append((link_id, address, sorted(keys), epoch))

    def relay_stop(self, link_id: str) -> None:
        self.calls.append(("stop", link_id))


async def nothing(_: Heard) -> None:
    return None


async def test_the_plane_relays_the_captioned_channels_to_the_worker(tmp_path: Path) -> None:
    plane = Plane()
    wanted = [Wanted("m1", "floor", ("en", "fr")), Wanted("m1", "fr", ("en", "fr"))]
    config = {"models": {"en": "tiny.en"}, "default_model": "tiny.en", "cache": str(tmp_path)}
    service = CaptionService(config, plane, lambda: list(wanted), nothing, poll_s=0.05)
    await service.start()
    try:
        await until(lambda: plane.calls, "the first relay_to", 120)
        link, address, keys, epoch = plane.calls[0]  # type: ignore[misc]
        assert (link, address, epoch) == (LINK, service.address, 0)
        assert keys == [FeedKey("m1/floor"), FeedKey("m1/fr")]
        wanted.clear()
        await until(lambda: plane.calls[-1] == ("stop", LINK), "relay_stop when none is left")
        assert len(plane.calls) == 2  # nothing sent again while nothing changed
    finally:
        await service.close()
    assert service._proc is not None and service._proc.returncode is not None


async def test_a_worker_that_cannot_start_costs_the_captions_only(tmp_path: Path) -> None:
    plane = Plane()
    config = {"default_model": str(tmp_path / "no-such-model"), "cache": str(tmp_path)}
    service = CaptionService(config, plane, lambda: [Wanted("m1", "floor", ("en",))], nothing)
    await service.start()
    proc = service._proc
    assert proc is not None
    await until(lambda: proc.returncode is not None, "the worker to give up", 60)
    assert not service.ready.is_set() and plane.calls == []
    await service.close()


def test_a_model_path_without_a_model_is_refused(tmp_path: Path) -> None:
    with pytest.raises(InvalidInput):
        resolve(str(tmp_path), tmp_path)
    tiny = resolve("tiny.en", tmp_path)
    assert tiny.languages == frozenset({"en"}) and (tiny.path / "model.bin").is_file()
    assert resolve(str(tiny.path), tmp_path).languages == frozenset({"en"})
