"""Live captions of every channel from its own audio (issue 15; docs/captions.md).

A worker process (`python -m mirp.captions.worker`) receives the captioned feeds through the
relay seam (docs/relay.md), cuts utterances by voice activity and decodes each once with
faster-whisper; the app side (`service.CaptionService`) starts it, asks the media plane to relay
the feeds to it and hands the captions to the rooms and the transcript store.
"""
