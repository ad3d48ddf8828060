"""`python -m bench.trends [meetings]`: how long the trends page's query takes over 10,000
meetings of history (issue 17's `trends_query_ms`, goal <= 1000), on SQLite and PostgreSQL.

tests/support/history.py writes the history (20 organizers, about 180 rows per meeting, over
five years) into a new SQLite file and into a real PostgreSQL 15 started for the run
(tests/support/postgres.py), both migrated to head (so with migration 0003's indexes); then
PostgreSQL is ANALYZEd, as its autovacuum would have done after such a load. Each query runs once
to warm the caches, then 5 times; the median is reported, in ms, for three views:
an administrator's months over everything (`trends_query_ms`: the trends page's worst case), the
same in quarters, and one organizer's months. Prints a table; writes
bench/results/trends.json. Takes about a minute and a half.
"""

from __future__ import annotations

import asyncio
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from sqlalchemy import text
from tests.support import history
from tests.support.postgres import start_postgres

from mirp.store import tables as t
from mirp.store.db import Database
from mirp.store.trends import trends

RESULTS = Path(__file__).resolve().parent / "results" / "trends.json"
RUNS = 5


async def _median_ms(db: Database, organizer: t.Organizer, **kw: Any) -> tuple[float, int]:
    await trends(db, organizer, **kw)  # warm
    times = []
    for _ in range(RUNS):
        start = time.perf_counter()
        result = await trends(db, organizer, **kw)
        times.append((time.perf_counter() - start) * 1000)
    return round(statistics.median(times), 1), sum(r.meetings for r in result.rows)


async def measure(url: str, count: int) -> dict[str, Any]:
    db = Database(url)
    await db.start()
    try:
        start = time.perf_counter()
        # a quality sample per participant an hour: the trends read the per-meeting totals
        rows = await history.write(db, count, quality_every_s=3600)
        write_s = time.perf_counter() - start
        if db.dialect == "postgresql":
            async with db.engine.begin() as conn:
                await conn.execute(text("ANALYZE"))
        async with db.session() as session:
            admin = await session.get(t.Organizer, "hist-o0")
            one = await session.get(t.Organizer, "hist-o1")
        assert admin is not None and one is not None
        all_months, seen = await _median_ms(db, admin, period="month")
        assert seen == count, (seen, count)
        all_quarters, _ = await _median_ms(db, admin, period="quarter")
        own_months, own = await _median_ms(db, one, period="month")
        return {"trends_query_ms": all_months, "trends_quarter_ms": all_quarters,
                "trends_one_organizer_ms": own_months, "one_organizer_meetings": own,
                "rows": sum(rows.values()), "write_s": round(write_s, 1)}
    finally:
        await db.close()


async def run(count: int) -> dict[str, Any]:
    out: dict[str, Any] = {"meetings": count}
    with tempfile.TemporaryDirectory() as d:
        out["sqlite"] = await measure(f"sqlite+aiosqlite:///{d}/history.sqlite3", count)
    with start_postgres() as pg:
        out["postgresql"] = await measure(pg.create_database(), count)
    return out


def main() -> None:
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 10_000
    result = asyncio.run(run(count))
    print(f"trends over {count} meetings (median of {RUNS}, ms)")
    print(f"{'database':<12}{'all, months':>13}{'all, quarters':>15}{'one organizer':>15}"
          f"{'rows':>10}{'write s':>9}")
    for name in ("sqlite", "postgresql"):
        r = result[name]
        print(f"{name:<12}{r['trends_query_ms']:>13}{r['trends_quarter_ms']:>15}"
              f"{r['trends_one_organizer_ms']:>15}{r['rows']:>10}{r['write_s']:>9}")
    result["trends_query_ms"] = max(result["sqlite"]["trends_query_ms"],
                                    result["postgresql"]["trends_query_ms"])
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=1) + "\n")


if __name__ == "__main__":
    main()
