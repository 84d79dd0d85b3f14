"""The insight commands of ``python -m bot``: the early-warning scan and the rollups."""

from __future__ import annotations

import argparse
import sys

from bot.clock import Clock
from bot.db import Database


async def insight_scan(db: Database, clock: Clock, _: argparse.Namespace) -> int:
    from bot.insight.alerts import scan

    print(f"{await scan(db, clock)} new alert(s)")
    return 0


async def reports(db: Database, clock: Clock, args: argparse.Namespace) -> int:
    from bot.reports import rollups

    if args.action == "rebuild":
        print(f"{await rollups.rebuild(db, clock)} daily counter(s) rebuilt from raw data")
        return 0
    wrong = await rollups.check(db, clock)
    for line in wrong[:50]:
        print(line)
    if wrong:
        print(f"{len(wrong)} counter(s) differ from the raw rows", file=sys.stderr)
        return 1
    print("the rollups equal the raw counts")
    return 0
