"""Media plane: aiortc, PyAV and numpy. Knows Sources, Feeds and a clock; no Meeting, no Role."""
