"""The organizer's pages of one meeting, visited one after another: the walk the accessibility
audit (test_axe.py) and the screenshots (test_screens.py) both make, defined once."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any


def organizer_pages(mid: str) -> tuple[tuple[str, str, str], ...]:
    """(name, path, a selector present once the page has its data) for each organizer page."""
    return (("meetings", "/meetings.html", "main h1"),
            ("meeting", f"/meeting.html#id={mid}", "#webcast-card:not([hidden])"),
            ("invitations", f"/meeting.html#id={mid}&tab=invitations", "[data-invitation]"),
            ("registrations", f"/meeting.html#id={mid}&tab=registrations", "main h1"),
            ("live", f"/meeting.html#id={mid}&tab=live", "#live .grid-3"),
            ("report", f"/report.html#id={mid}", "main h1"),
            ("trends", "/trends.html", "main h1"))


async def walk_organizer_pages(page: Any, base: str, mid: str, token: str,
                               look: Callable[[Any, str], Awaitable[list[str]]]) -> list[str]:
    """Signs `page` in as the organizer, opens each page fresh (about:blank between, so no
    state carries over), waits for its data and the network to settle, and gathers what
    `look(page, name)` finds wrong."""
    await page.evaluate("t => localStorage.setItem('mirp.organizer', JSON.stringify({token: t}))",
                        token)
    problems: list[str] = []
    for name, path, ready in organizer_pages(mid):
        await page.goto("about:blank")
        await page.goto(f"{base}{path}")
        await page.wait_for_selector(ready, timeout=15000)
        await page.wait_for_load_state("networkidle")
        problems += await look(page, name)
    return problems
