"""Interpretation domain, pure: booths, consoles, routing. No asyncio, no aiortc, no I/O."""
