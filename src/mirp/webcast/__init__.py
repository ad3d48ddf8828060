"""The webcast (HLS per meeting, one audio rendition per channel) and the recordings (Ogg Opus per
channel): consumers of the media plane's feed relay, off the media loop (docs/webcast.md)."""
