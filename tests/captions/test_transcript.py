"""The captions option of a meeting and its transcript download (api/captions.py,
store/transcripts.py), on the real app with a real SQLite file."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

from mirp.store.transcripts import Line, save
from tests.support.factory import make_meeting, organizer_token, running_app, standard_meeting_body

T0 = datetime(2026, 5, 4, 9, 0, tzinfo=UTC)
S = timedelta(seconds=1)


async def test_the_organizer_chooses_the_captioned_channels_and_downloads_the_transcript(
        tmp_path: Path) -> None:
    async with running_app(tmp_path) as (app, client):
        body = standard_meeting_body()
        body["options"]["captions"] = ["floor", "fr"]
        fx = await make_meeting(client, body=body, delegates=1, interpreters={}, observer=False)
        auth = {"Authorization": f"Bearer {fx.organizer_token}"}
        mid = fx.meeting_id
        assert fx.meeting["options"]["captions"] == ["floor", "fr"]
        r = await client.patch(f"/api/meetings/{mid}", json={"options": {"captions": ["xx"]}},
                               headers=auth)
        assert r.status_code in (400, 422) and "captions" in r.text, r.text
        r = await client.patch(f"/api/meetings/{mid}",
                               json={"options": {"captions": ["floor", "fr", "ar"]}},
                               headers=auth)
        assert r.json()["options"]["captions"] == ["floor", "fr", "ar"], r.text
        spec = await app.state.admission.load_spec(mid)
        assert spec.captions == ("floor", "fr", "ar")

        db = app.state.db
        # saved out of order: read back in order of time
        await save(db, mid, Line("fr", "fr", T0 + 5 * S, T0 + 8 * S, "Le budget est adopté.",
                                 speakers=("Chair",)))
        await save(db, mid, Line("floor", "en", T0 + 4 * S, T0 + 7 * S,
                                 "The budget is adopted.", speakers=("Chair",)))
        await save(db, mid, Line("floor", "en", T0 + 20 * S, T0 + 22 * S, "I object.",
                                 speakers=("Delegate1",)))
        r = await client.get(f"/api/meetings/{mid}/transcript", headers=auth)
        assert r.status_code == 200, r.text
        assert [x["text"] for x in r.json()] == [
            "The budget is adopted.", "Le budget est adopté.", "I object."]
        assert r.json()[0]["start"].startswith("2026-05-04T09:00:04")
        r = await client.get(f"/api/meetings/{mid}/transcript?format=text&channel=floor",
                             headers=auth)
        assert r.text.splitlines() == ["[09:00:04] floor — Chair: The budget is adopted.",
                                       "[09:00:20] floor — Delegate1: I object."]
        r = await client.get(f"/api/meetings/{mid}/transcript?format=vtt", headers=auth)
        assert r.headers["content-type"].startswith("text/vtt")
        cues = re.findall(r"(\d\d:\d\d:\d\d\.\d{3}) --> (\d\d:\d\d:\d\d\.\d{3})\n(.*)", r.text)
        assert r.text.startswith("WEBVTT\n") and cues == [
            ("00:00:00.000", "00:00:03.000", "<v Chair>The budget is adopted."),
            ("00:00:01.000", "00:00:04.000", "<v Chair>Le budget est adopté."),
            ("00:00:16.000", "00:00:18.000", "<v Delegate1>I object.")]
        r = await client.get(f"/api/meetings/{mid}/transcript/turns", headers=auth)
        assert [(t["speakers"], t["channels"]) for t in r.json()] == [
            (["Chair"], {"floor": "The budget is adopted.", "fr": "Le budget est adopté."}),
            (["Delegate1"], {"floor": "I object."})]

        stranger = {"Authorization": f"Bearer {await organizer_token(client, 'x@example.org')}"}
        r = await client.get(f"/api/meetings/{mid}/transcript", headers=stranger)
        assert r.status_code in (403, 404), r.text


async def test_a_meeting_without_captions_has_an_empty_transcript(tmp_path: Path) -> None:
    async with running_app(tmp_path) as (_, client):
        fx = await make_meeting(client, delegates=0, interpreters={}, observer=False)
        assert fx.meeting["options"]["captions"] == []
        for fmt, empty in (("json", "[]"), ("text", ""), ("vtt", "WEBVTT\n")):
            r = await client.get(f"/api/meetings/{fx.meeting_id}/transcript?format={fmt}",
                                 headers={"Authorization": f"Bearer {fx.organizer_token}"})
            assert (r.status_code, r.text) == (200, empty)
