"""bench.features: the feature benchmarks' keys reach latest.json and latest.md's table."""

from __future__ import annotations

import json
from pathlib import Path

from bench import features


def test_fold_copies_the_named_keys_and_keeps_the_others(tmp_path: Path) -> None:
    (tmp_path / "latest.json").write_text(json.dumps({"fanout_us_per_packet_listener": 18.0}))
    (tmp_path / "webcast.json").write_text(json.dumps(
        {"at": "2026-11-29T06:00:00Z", "viewers": [{"noise": 1}],
         "keys": {"webcast_viewers_per_core": 5200, "webcast_latency_s": 2.4}}))
    (tmp_path / "captions.json").write_text(json.dumps(
        {"when": "2026-11-29T06:01:00Z", "caption_cores_for_7_channels": 1.25,
         "caption_wer": {"en/tiny.en": 0.1, "fr/base": 0.4}}))
    res = features.fold(tmp_path)
    assert res["fanout_us_per_packet_listener"] == 18.0
    assert res["webcast_viewers_per_core"] == 5200
    assert res["caption_cores_for_7_channels"] == 1.25
    assert "lipsync_ms" not in res  # no video.json: nothing invented
    assert res["features_sources"]["webcast"]["at"] == "2026-11-29T06:00:00Z"
    assert set(res["features_sources"]) == {"webcast", "captions"}
    table = "\n".join(features.rows(res))
    assert "| webcast: viewers per core | 5200 | >= 5,000 | yes |" in table
    assert "| captions: cores for floor + 6 channels | 1.25 | <= 1 | **no** |" in table
    # one language over the goal fails the whole key
    assert "en/tiny.en 0.1, fr/base 0.4 | <= 0.25 each | **no** |" in table


def test_lip_sync_goal_is_the_bt1359_window() -> None:
    rows = {v: features.rows({"lipsync_ms": v})[0] for v in (-130.0, -40.0, 50.0)}
    assert rows[-130.0].endswith("| **no** |")
    assert rows[-40.0].endswith("| yes |")
    assert rows[50.0].endswith("| **no** |")
