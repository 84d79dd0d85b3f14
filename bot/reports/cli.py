"""The insight commands of ``python -m bot``: the early-warning scan and the rollups."""

from __future__ import annotations

import argparse
import sys

from bot.db import Database
from bot.settings import Settings


async def insight_scan(db: Database, settings: Settings, _: argparse.Namespace) -> int:
    from bot.insight.alerts import scan

    print(f"{await scan(db, settings.clock())} new alert(s)")
    return 0


async def reports(db: Database, settings: Settings, args: argparse.Namespace) -> int:
    from bot.reports import rollups

    if args.action == "rebuild":
        written = await rollups.rebuild(db, settings.clock(), settings)
        print(f"{written} daily counter(s) rebuilt from raw data")
        return 0
    wrong = await rollups.check(db, settings.clock(), settings)
    for line in wrong[:50]:
        print(line)
    if wrong:
        print(f"{len(wrong)} counter(s) differ from the raw rows", file=sys.stderr)
        return 1
    print("the rollups equal the raw counts")
    return 0
