"""The deterministic demo data set: the seed files under ``bot/seed`` plus generated devices,
security codes and a few work orders, all from one random seed.

Dates are relative to the day of seeding, so the showcase devices below are always "bought 3
days ago", "bought 10 days ago" and so on, whatever day the demo is started.

Over 350 lines on purpose: one cohesive tool, the demo data set and the showcase cases the
stories rely on.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncConnection

from bot import importer, tables
from bot.authenticity import BatchRecord, CodeRecord, insert_codes, upsert_batches
from bot.clock import Clock
from bot.contracts.rules import CONSUMABLE_CATEGORIES, SLOTS
from bot.contracts.workorders import CreateIn, TransitionIn
from bot.db import Database
from bot.extensions import purchase
from bot.settings import Settings
from bot.stations import get_station
from bot.warranty import DeviceRecord, RepairRecord, upsert_devices
from bot.workorders import advance, book

SEED_DIR = Path(__file__).resolve().parent / "seed"
POLICY_DIR = Path(__file__).resolve().parent / "policies"

SERIAL_PREFIX = {
    "laptop": "PF",
    "desktop": "MJ",
    "printer": "CN",
    "copier": "CX",
    "monitor": "MN",
    "battery": "BT",
}
_ALNUM = "ABCDEFGHJKLMNPQRSTUVWXYZ0123456789"  # no I or O: they read as 1 and 0
SELLERS = (
    "京东自营星辰科技官方旗舰店",
    "天猫星辰科技官方旗舰店",
    "苏宁易购",
    "国美电器",
    "星辰科技官方商城",
    "拼多多星辰科技官方旗舰店",
    "北京中关村海龙电子城星辰专柜",
    "深圳华强北星辰授权专卖店",
    "上海百脑汇星辰授权店",
    "成都数码广场星辰专卖店",
    "政企采购（星辰科技大客户部）",
)
SURNAMES = (
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯"
    "邓曹彭曾肖田董潘袁蔡蒋余于杜叶程魏苏吕丁任沈"
)
GIVEN = (
    "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华玉兰萍鹏辉建国红梅斌宇浩凯晨欣怡子涵一诺梓轩"
)
CITIES = (
    "北京",
    "上海",
    "广州",
    "深圳",
    "杭州",
    "南京",
    "苏州",
    "成都",
    "重庆",
    "武汉",
    "西安",
    "天津",
    "长沙",
    "郑州",
    "青岛",
    "沈阳",
    "厦门",
    "合肥",
    "济南",
    "昆明",
)


@dataclass(frozen=True)
class Showcase:
    serial: str
    model: str
    days_ago: int | None  # None: no invoice
    story: str
    repairs: tuple[tuple[int, str, str], ...] = ()  # (days ago, part, fault)
    plan: str | None = None  # extended-warranty plan bought a month after the purchase


# Devices listed in README.md for trying the warranty journey by hand.
SHOWCASE = (
    Showcase("PF2K7Q9A", "XB14", 3, "bought 3 days ago: return, exchange or repair"),
    Showcase("PF8M3X6T", "XB16", 10, "bought 10 days ago: exchange or repair"),
    Showcase("MJ5R8W2K", "DT720", 200, "bought 200 days ago: free repair"),
    Showcase("PF4N9C2H", "XT14", 400, "bought 400 days ago: main parts free, other parts paid"),
    Showcase("CN0H4T2M11", "LJ2605DN", 800, "bought 800 days ago: paid repair"),
    Showcase(
        "PF7D2V5L",
        "XG15",
        150,
        "two mainboard repairs already: exchange",
        repairs=((90, "mainboard", "开机无显示"), (40, "mainboard", "开机无显示")),
    ),
    Showcase("MN3K8P1Z", "MT27Q", 500, "monitor with a 2-year extension bought", plan="EW-MON-2Y"),
    Showcase("CX9A5D4E", "MC3025", 100, "A3 copier bought 100 days ago"),
    Showcase("PF1Q6H8S", "XB13", None, "no invoice: paid repair unless the date can be proven"),
)

# Security codes listed in README.md.
GENUINE_CODE = "8861220355409172"
COPIED_CODE = "4409118722650031"  # queried 37 times: the classic counterfeit signal
UNKNOWN_CODE = "1234567890123456"

# The phones on the demo work orders, fixed so that README.md and the test stories can give
# them (a customer proves an order is theirs with the last four digits, or the whole number).
DEMO_ORDER_PHONES = {"MJ5R8W2K": "13911240317", "CX9A5D4E": "18610255524"}


def _serial(rng: random.Random, category: str, taken: set[str]) -> str:
    while True:
        serial = SERIAL_PREFIX[category] + "".join(
            rng.choice(_ALNUM) for _ in range(rng.choice((8, 8, 10)))
        )
        if serial not in taken:
            taken.add(serial)
            return serial


def _name(rng: random.Random) -> str:
    return rng.choice(SURNAMES) + "".join(rng.choice(GIVEN) for _ in range(rng.choice((1, 2))))


def _phone(rng: random.Random) -> str:
    return rng.choice(("138", "139", "150", "186", "177", "133")) + f"{rng.randrange(10**8):08d}"


def _days_ago(rng: random.Random) -> int | None:
    """Purchase ages spread over every 三包 window: 7 days, 15 days, 1 year, 2 years, expired."""
    roll = rng.random()
    if roll < 0.04:
        return rng.randint(0, 7)
    if roll < 0.08:
        return rng.randint(8, 15)
    if roll < 0.40:
        return rng.randint(16, 365)
    if roll < 0.70:
        return rng.randint(366, 730)
    if roll < 0.97:
        return rng.randint(731, 1600)
    return None


def generate_devices(
    rng: random.Random, models: dict[str, tuple[str, date]], count: int, today: date
) -> list[DeviceRecord]:
    taken = {s.serial for s in SHOWCASE}
    records = []
    for show in SHOWCASE:
        invoice = today - timedelta(days=show.days_ago) if show.days_ago is not None else None
        records.append(
            DeviceRecord(
                serial=show.serial,
                model_code=show.model,
                invoice_date=invoice,
                seller=SELLERS[0],
                invoice_no=None if invoice is None else f"0440{rng.randrange(10**8):08d}",
                customer_name=_name(rng),
                customer_phone=_phone(rng),
                city="北京",
                repairs=[
                    RepairRecord(repaired_on=today - timedelta(days=d), part=p, fault=f)
                    for d, p, f in show.repairs
                ],
            )
        )
    device_models = [code for code, (cat, _) in models.items() if cat in SERIAL_PREFIX]
    weights = [
        {"laptop": 6, "desktop": 3, "printer": 3, "copier": 2, "monitor": 3, "battery": 1}[
            models[m][0]
        ]
        for m in device_models
    ]
    for _ in range(count - len(records)):
        code = rng.choices(device_models, weights)[0]
        category, launched = models[code]
        age = _days_ago(rng)
        invoice = None if age is None else max(today - timedelta(days=age), launched)
        repairs = []
        if invoice is not None and rng.random() < 0.15:
            for _ in range(rng.choice((1, 1, 1, 2))):
                when = invoice + timedelta(days=rng.randint(20, max(21, (today - invoice).days)))
                if when <= today:
                    repairs.append(RepairRecord(repaired_on=when, part=None, fault="常规检修"))
        records.append(
            DeviceRecord(
                serial=_serial(rng, category, taken),
                model_code=code,
                invoice_date=invoice,
                seller=rng.choice(SELLERS),
                invoice_no=None if invoice is None else f"{rng.randrange(10**12):012d}",
                customer_name=_name(rng),
                customer_phone=_phone(rng),
                city=rng.choice(CITIES),
                repairs=repairs,
            )
        )
    return records


PLANS = {
    "laptop": ("EW-PC-1Y", "EW-PC-2Y"),
    "desktop": ("EW-PC-1Y", "EW-PC-2Y"),
    "printer": ("EW-PRT-1Y",),
    "copier": ("EW-MFP-1Y",),
    "monitor": ("EW-MON-2Y",),
}


def generate_extensions(
    rng: random.Random,
    records: list[DeviceRecord],
    models: dict[str, tuple[str, date]],
    today: date,
) -> list[tuple[str, str, date]]:
    """(serial, plan, day bought): the showcase ones, and about one device in twelve."""
    plans = {s.serial: s.plan for s in SHOWCASE if s.plan}
    bought = []
    for rec in records:
        category = models[rec.model_code][0]
        if rec.invoice_date is None or category not in PLANS:
            continue
        plan = plans.get(rec.serial)
        if plan is None and rec.serial not in {s.serial for s in SHOWCASE} and rng.random() < 0.08:
            plan = rng.choice(PLANS[category])
        day = rec.invoice_date + timedelta(days=30)
        if plan and day <= today:
            bought.append((rec.serial, plan, day))
    return bought


def generate_codes(
    rng: random.Random, consumables: dict[str, date], count: int, today: date, now: datetime
) -> tuple[list[BatchRecord], list[CodeRecord]]:
    """Codes in batches of 200 per consumable model; some already queried, a few many times."""
    batches: list[BatchRecord] = []
    codes: list[CodeRecord] = []
    taken = {GENUINE_CODE, COPIED_CODE, UNKNOWN_CODE}
    models = sorted(consumables)
    per_batch = 200
    for n in range((count + per_batch - 1) // per_batch):
        model = models[n % len(models)]
        produced = max(consumables[model], today - timedelta(days=rng.randint(30, 700)))
        batch = BatchRecord(
            code=f"B{produced:%y%m}-{model}-{n + 1:02d}",
            model_code=model,
            produced_on=produced,
            quantity=min(per_batch, count - n * per_batch),
        )
        batches.append(batch)
        for i in range(batch.quantity):
            if n == 0 and i == 0:
                code, queries = GENUINE_CODE, 0
            elif n == 0 and i == 1:
                code, queries = COPIED_CODE, 37
            else:
                code = f"{rng.randrange(1, 10**16):016d}"
                while code in taken:
                    code = f"{rng.randrange(1, 10**16):016d}"
                roll = rng.random()
                queries = 0 if roll < 0.85 else 1 if roll < 0.97 else rng.randint(3, 60)
            taken.add(code)
            first = (
                now - timedelta(days=rng.randint(5, 300), minutes=rng.randint(0, 1439))
                if queries
                else None
            )
            codes.append(
                CodeRecord(
                    code=code,
                    batch_code=batch.code,
                    query_count=queries,
                    first_queried_at=first,
                    last_queried_at=now - timedelta(days=1) if queries else None,
                )
            )
    return batches, codes


async def _next_open_slot(
    conn: AsyncConnection, clock: Clock, station_code: str
) -> tuple[date, str]:
    station = await get_station(conn, station_code)
    day = clock.today() + timedelta(days=2)
    while day.weekday() not in station.open_weekdays:
        day += timedelta(days=1)
    return day, SLOTS[2][0]


async def seed_demo(
    db: Database,
    settings: Settings,
    clock: Clock,
    *,
    devices: int = 2000,
    codes: int = 5000,
    seed: int = 20261120,
) -> list[str]:
    """Load the demo data; returns lines describing what to try. Refuses a non-empty database."""
    async with db.read() as conn:
        if await conn.scalar(select(func.count()).select_from(tables.models)):
            raise RuntimeError(
                "the database already holds data; the demo loads only into an empty one"
            )
    rng = random.Random(seed)
    now = clock.now()
    today = clock.today()
    await importer.import_catalogue(db, SEED_DIR / "catalogue.yml", now)
    await importer.import_vocabulary(db, SEED_DIR / "synonyms.yml", now)
    for path in sorted(POLICY_DIR.glob("*.yml")):
        await importer.import_policy(db, path, now)
    await importer.import_plans(db, SEED_DIR / "warranty_plans.yml", now)
    await importer.import_stations(db, SEED_DIR / "stations.yml", now)
    await importer.import_knowledge(db, SEED_DIR / "knowledge.yml", now)

    async with db.write() as conn:
        rows = (
            await conn.execute(
                select(
                    tables.models.c.code, tables.models.c.category, tables.models.c.launched_on
                ).order_by(tables.models.c.code)
            )
        ).all()
        models = {r.code: (r.category, r.launched_on) for r in rows}
        device_records = generate_devices(rng, models, devices, today)
        await upsert_devices(conn, device_records, clock.to_db(now))
        for serial, plan, day in generate_extensions(rng, device_records, models, today):
            bought_at = datetime.combine(day, time(11, 0), tzinfo=clock.tz)
            await purchase(conn, Clock(clock.tz, fixed=bought_at), serial, plan)
        consumables = {
            c: launched for c, (cat, launched) in models.items() if cat in CONSUMABLE_CATEGORIES
        }
        batches, code_records = generate_codes(rng, consumables, codes, today, clock.to_db(now))
        await upsert_batches(conn, batches)
        for start in range(0, len(code_records), 1000):
            await insert_codes(conn, code_records[start : start + 1000])

    lines = [f"{s.serial} ({s.model}): {s.story}" for s in SHOWCASE]
    lines += [
        f"security code {GENUINE_CODE}: genuine, never queried",
        f"security code {COPIED_CODE}: genuine but queried 37 times before",
        f"security code {UNKNOWN_CODE}: unknown",
    ]
    async with db.write() as conn:
        # One upcoming booking, and one repair booked 10 days ago and now waiting for its rating.
        past = Clock(clock.tz, fixed=now - timedelta(days=10))
        for serial, station, kind, fault, when in (
            ("MJ5R8W2K", "BJ01", "drop_off", "开机后风扇狂转，屏幕无显示", clock),
            ("CX9A5D4E", "BJ02", "on_site", "复印时报 C3100，定影温度异常", past),
        ):
            finish = when is past
            day, slot_start = await _next_open_slot(conn, when, station)
            order_id, _ = await book(
                conn,
                when,
                settings,
                CreateIn(
                    kind=kind,
                    serial=serial,
                    fault=fault,
                    station_code=station,
                    slot_date=day,
                    slot_start=slot_start,
                    customer_name=_name(rng),
                    phone=DEMO_ORDER_PHONES[serial],
                    address="北京市海淀区学院路30号" if kind == "on_site" else None,
                    channel="web",
                ),
            )
            if finish:
                for to, note, part in (
                    ("received", "工程师已到场", None),
                    ("diagnosing", "检测定影组件", None),
                    ("repaired", "更换定影组件，测试复印正常", "fuser"),
                    ("closed", "客户确认", None),
                ):
                    await advance(
                        conn,
                        past,
                        order_id,
                        TransitionIn(to=to, note=note, actor="engineer:demo", part=part),
                    )
            # History, not news: nobody is told of the demo's past steps at the first start.
            await conn.execute(
                tables.notifications.update()
                .where(tables.notifications.c.work_order_id == order_id)
                .values(status="skipped", last_error="demo history")
            )
            state = "closed, ready for a rating" if finish else "scheduled"
            phone = DEMO_ORDER_PHONES[serial]
            lines.append(f"work order {order_id}: {state}; phone on it ends in {phone[-4:]}")
    return lines
