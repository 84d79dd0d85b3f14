"""Command line of the service backend: ``python -m bot COMMAND``."""

from __future__ import annotations

import argparse
import asyncio
import getpass
import json
import logging
import re
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path

import yaml
from sqlalchemy import func, select

from bot import privacy, serving, tables
from bot.api import openapi_document
from bot.app import ROUTES, VERSION, create_app
from bot.clock import Clock
from bot.db import Database, create_engine
from bot.demo import seed_demo
from bot.desk.accounts import create_account
from bot.importer import IMPORTERS, ImportFailed
from bot.knowledge import dictionary_words, nlu_lookups
from bot.migrate import upgrade
from bot.settings import Settings


async def _with_db(settings: Settings, work: Callable[[Database], Awaitable[int]]) -> int:
    db = Database(create_engine(settings.database_url))
    try:
        return await work(db)
    finally:
        await db.close()


def cmd_serve(settings: Settings, args: argparse.Namespace) -> int:
    return serving.serve(create_app(settings), settings.host, settings.port)


def cmd_migrate(settings: Settings, args: argparse.Namespace) -> int:
    upgrade(settings.database_url)
    print("database schema is up to date")
    return 0


def cmd_seed(settings: Settings, args: argparse.Namespace) -> int:
    async def work(db: Database) -> int:
        async with db.read() as conn:
            filled = await conn.scalar(select(func.count()).select_from(tables.models))
        if filled:
            if args.if_empty:
                print("demo data already loaded")
                return 0
            print(
                "the database already holds data; the demo loads only into an empty one",
                file=sys.stderr,
            )
            return 1
        lines = await seed_demo(
            db, settings, settings.clock(), devices=args.devices, codes=args.codes
        )
        print("demo data loaded. Try:")
        for line in lines:
            print("  " + line)
        return 0

    if args.migrate:
        upgrade(settings.database_url)
    return asyncio.run(_with_db(settings, work))


def cmd_import(settings: Settings, args: argparse.Namespace) -> int:
    path = Path(args.file)
    if not path.is_file():
        print(f"{path}: no such file", file=sys.stderr)
        return 2
    clock = settings.clock()

    async def work(db: Database) -> int:
        try:
            count = await IMPORTERS[args.kind](db, path, clock.now())
        except ImportFailed as exc:
            for problem in exc.problems[:100]:
                print(problem, file=sys.stderr)
            if len(exc.problems) > 100:
                print(f"... and {len(exc.problems) - 100} more", file=sys.stderr)
            print(f"{path.name}: {exc}", file=sys.stderr)
            return 1
        print(
            f"{path.name}: imported {count} {args.kind} record(s). "
            "Restart the backend or POST /api/knowledge/reindex to refresh search."
        )
        return 0

    return asyncio.run(_with_db(settings, work))


def cmd_openapi(settings: Settings, args: argparse.Namespace) -> int:
    print(
        json.dumps(
            openapi_document(ROUTES, title="星辰科技售后服务后端 API", version=VERSION),
            ensure_ascii=False,
            indent=2,
        )
    )
    return 0


def cmd_nlu_data(settings: Settings, args: argparse.Namespace) -> int:
    """Write what the NLU learns from the catalogue: the jieba user dictionary and lookup tables."""

    async def work(db: Database) -> int:
        async with db.read() as conn:
            words = await dictionary_words(conn)
            lookups = await nlu_lookups(conn)
        words += _annotated_words(Path(args.lookups).parent.parent)
        _write_nlu_data(Path(args.dictionary), Path(args.lookups), words, lookups)
        return 0

    return asyncio.run(_with_db(settings, work))


_ANNOTATION = re.compile(r"\[([^\]\n]{2,12})\]\(")


def _annotated_words(nlu_dir: Path) -> list[str]:
    """Entity values and synonyms of the training data: the tokenizer must keep them whole
    (明天下午, 延保, 上门), or the entity extractor sees half a word."""
    words: set[str] = set()
    for path in sorted(nlu_dir.glob("*.yml")):
        content = path.read_text(encoding="utf-8")
        words.update(m.strip() for m in _ANNOTATION.findall(content))
        for block in (yaml.safe_load(content) or {}).get("nlu", []):
            if "synonym" in block:
                words.update(
                    line[2:].strip()
                    for line in block["examples"].splitlines()
                    if line.strip().startswith("- ")
                )
    # Serials, codes and phone numbers are matched by regexes, not looked up as words.
    return sorted(w for w in words if w and " " not in w and not re.fullmatch(r"[\x00-\x7f]+", w))


class _BlockDumper(yaml.SafeDumper):
    """Multi-line strings as YAML literal blocks, the way Rasa's own data files look."""


_BlockDumper.add_representer(
    str,
    lambda dumper, value: dumper.represent_scalar(
        "tag:yaml.org,2002:str", value, style="|" if "\n" in value else None
    ),
)


def _write_nlu_data(
    dictionary: Path, lookups_file: Path, words: list[str], lookups: dict[str, list[str]]
) -> None:
    dictionary.mkdir(parents=True, exist_ok=True)
    # jieba matches dictionary words case-sensitively; customers type model codes in any case.
    variants = sorted({v for w in words if " " not in w for v in (w, w.lower(), w.upper())})
    (dictionary / "userdict.txt").write_text(
        "".join(f"{w} 200000\n" for w in variants), encoding="utf-8"
    )
    lookups_file.parent.mkdir(parents=True, exist_ok=True)
    document = {
        "version": "3.1",
        "nlu": [
            {"lookup": name, "examples": "".join(f"- {v}\n" for v in values)}
            for name, values in lookups.items()
        ],
    }
    header = "# Generated by `python -m bot nlu-data` from the catalogue and knowledge base.\n"
    lookups_file.write_text(
        header + yaml.dump(document, Dumper=_BlockDumper, allow_unicode=True, sort_keys=False),
        encoding="utf-8",
    )
    print(
        f"{dictionary}: {len(variants)} words; {lookups_file}: "
        + ", ".join(f"{len(v)} {k}" for k, v in lookups.items())
    )


def cmd_desk_user(settings: Settings, args: argparse.Namespace) -> int:
    """Create a desk account. The password is read from stdin (or asked for), never argv."""
    if sys.stdin.isatty():
        password = getpass.getpass(f"password for {args.username}: ")
    else:
        password = sys.stdin.readline().rstrip("\n")

    async def work(db: Database) -> int:
        try:
            async with db.write() as conn:
                await create_account(
                    conn,
                    args.username,
                    args.name or args.username,
                    args.role,
                    password,
                    Clock.to_db(settings.clock().now()),
                    station_code=args.station,
                )
        except ValueError as exc:
            print(f"desk-user: {exc}", file=sys.stderr)
            return 1
        where = f" at station {args.station.upper()}" if args.station else ""
        print(f"desk account {args.username!r} ({args.role}{where}) created")
        return 0

    return asyncio.run(_with_db(settings, work))


def _operator() -> str:
    """Who runs an admin command, for the audit log."""
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"


def cmd_privacy(settings: Settings, args: argparse.Namespace) -> int:
    """Export, erase (by phone) or purge (by retention) customers' personal data; audited."""
    clock = settings.clock()

    async def work(db: Database) -> int:
        async with privacy.open_stores(
            db, settings.tracker_db_url, settings.desk_events_url
        ) as stores:
            for note in stores.notes:
                print(f"privacy: {note}", file=sys.stderr)
            if args.action == "export":
                held = await privacy.export(stores, args.phone, clock.now(), _operator())
                print(json.dumps(held, ensure_ascii=False, indent=2, default=str))
                return 0
            if args.action == "erase":
                counts = await privacy.erase(stores, args.phone, clock.now(), _operator())
            else:
                retention = privacy.Retention(
                    settings.retention_work_orders_days, settings.retention_transcripts_days
                )
                counts = await privacy.purge(
                    stores, retention, clock.now(), privacy.wall_clock(), _operator()
                )
        print(json.dumps(counts, ensure_ascii=False, indent=2))
        if counts.get("open_work_orders"):
            print(
                f"privacy: {counts['open_work_orders']} work order(s) were still open and have "
                "lost their contact details; tell the station",
                file=sys.stderr,
            )
        return 0

    try:
        return asyncio.run(_with_db(settings, work))
    except privacy.NotAPhone as exc:
        print(f"privacy: {exc}", file=sys.stderr)
        return 2


def cmd_insight_backtest(settings: Settings, args: argparse.Namespace) -> int:
    from bot.insight.backtest import run  # numpy/scipy only when this command runs

    return run(args.reports, args.exposure, args.warmup_days, sys.stdout, sys.stderr)


def cmd_insight(settings: Settings, args: argparse.Namespace) -> int:
    from bot.reports import cli

    command = cli.reports if args.command == "reports" else cli.insight_scan
    return asyncio.run(_with_db(settings, lambda db: command(db, settings, args)))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bot", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("serve", help="run the HTTP API").set_defaults(run=cmd_serve)
    sub.add_parser("migrate", help="bring the schema up to date").set_defaults(run=cmd_migrate)
    seed = sub.add_parser("seed", help="load the demo data set into an empty database")
    seed.add_argument("--devices", type=int, default=2000)
    seed.add_argument("--codes", type=int, default=5000)
    seed.add_argument("--if-empty", action="store_true", help="do nothing when data is present")
    seed.add_argument("--migrate", action="store_true", help="migrate the schema first")
    seed.set_defaults(run=cmd_seed)
    imp = sub.add_parser("import", help="import a manufacturer's data file (CSV, JSON or YAML)")
    imp.add_argument("kind", choices=sorted(IMPORTERS))
    imp.add_argument("file")
    imp.set_defaults(run=cmd_import)
    sub.add_parser("openapi", help="print the OpenAPI document").set_defaults(run=cmd_openapi)
    user = sub.add_parser("desk-user", help="create a support desk account (password on stdin)")
    user.add_argument("username")
    user.add_argument("--name", help="name shown to customers, e.g. 张敏")
    roles = ["agent", "supervisor", "manager", "station", "operator"]
    user.add_argument("--role", choices=roles, default="agent")
    user.add_argument(
        "--station", help="the station code of a station account (--role station), e.g. BJ01"
    )
    user.set_defaults(run=cmd_desk_user)
    data = sub.add_parser(
        "privacy", help="customers' personal data: export or erase by phone, apply retention"
    )
    actions = data.add_subparsers(dest="action", required=True)
    for name, text in (
        ("export", "print as JSON everything held about the customer with this phone"),
        ("erase", "anonymise the customer's records and delete their conversations"),
    ):
        one = actions.add_parser(name, help=text)
        one.add_argument("--phone", required=True, help="the customer's phone number")
    actions.add_parser(
        "purge",
        help="apply BOT_RETENTION_WORK_ORDERS_DAYS and BOT_RETENTION_TRANSCRIPTS_DAYS",
    )
    data.set_defaults(run=cmd_privacy)
    nlu = sub.add_parser("nlu-data", help="write the NLU's user dictionary and lookup tables")
    nlu.add_argument("--dictionary", default="var/nlu/dictionary")
    nlu.add_argument("--lookups", default="data/nlu/generated/lookups.yml")
    nlu.set_defaults(run=cmd_nlu_data)
    insight = sub.add_parser("insight", help="early warning of faults that spread")
    insight_commands = insight.add_subparsers(dest="insight_command", required=True)
    insight_commands.add_parser(
        "scan", help="run the detector over the stored fault reports; store new alerts"
    ).set_defaults(run=cmd_insight)
    backtest = insight_commands.add_parser(
        "backtest", help="replay REPORTS.csv (date,model_code,fault_code,region); alerts as JSON"
    )
    backtest.add_argument("reports", metavar="REPORTS.csv")
    backtest.add_argument("--exposure", metavar="UNITS.csv", help="model_code,units")
    backtest.add_argument("--warmup-days", type=int, default=180, metavar="N")
    backtest.set_defaults(run=cmd_insight_backtest)
    reports = sub.add_parser("reports", help="the reports' daily rollups")
    reports.add_argument(
        "action",
        choices=["rebuild", "check"],
        help="rebuild: recount every day from the raw rows; check: compare rollups with them",
    )
    reports.set_defaults(run=cmd_insight)
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    run: Callable[[Settings, argparse.Namespace], int] = args.run
    return run(Settings.from_env(), args)


if __name__ == "__main__":
    sys.exit(main())
