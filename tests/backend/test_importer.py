"""Importing a manufacturer's files: all-or-nothing, with errors that name file, row and field."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest
from sqlalchemy import func, select

from bot import tables
from bot.__main__ import main
from bot.db import Database
from bot.importer import (
    ImportFailed,
    import_codes,
    import_devices,
    import_knowledge,
    import_stations,
)
from tests.support.database import TZ

NOW = datetime(2026, 11, 20, 10, 0, tzinfo=TZ)


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


async def count(db: Database, table: object) -> int:
    async with db.read() as conn:
        return int(await conn.scalar(select(func.count()).select_from(table)))


async def test_devices_csv_with_excel_bom(db: Database, tmp_path: Path) -> None:
    path = tmp_path / "devices.csv"
    path.write_text(
        "serial,model_code,invoice_date,seller,city\n"
        "PFQQ000001,XB14,2026-10-01,京东,上海\n"
        "MNQQ000002,MT27Q,,线下门店,\n",
        encoding="utf-8-sig",
    )
    before = await count(db, tables.devices)
    assert await import_devices(db, path, NOW) == 2
    assert await count(db, tables.devices) == before + 2


async def test_one_bad_row_imports_nothing_and_names_the_place(
    db: Database, tmp_path: Path
) -> None:
    path = write(
        tmp_path,
        "devices.csv",
        "serial,model_code,invoice_date,seller\n"
        "PFQQ000001,XB14,2026-10-01,京东\n"
        "PFQQ000002,XB14,2026-02-30,京东\n"
        "12,XB14,2026-10-01,京东\n"
        "PFQQ000004,NOPE1,2026-10-01,京东\n"
        "PFQQ000001,XB14,2026-10-01,京东\n"
        "PFQQ000006,XB14,2027-10-01,京东\n",
    )
    before = await count(db, tables.devices)
    with pytest.raises(ImportFailed) as failed:
        await import_devices(db, path, NOW)
    messages = [str(p) for p in failed.value.problems]
    assert "devices.csv, row 3, invoice_date: invalid date format" in messages
    assert any(m.startswith("devices.csv, row 4, serial:") for m in messages)
    assert "devices.csv, row 5, model_code: unknown model 'NOPE1'" in messages
    assert "devices.csv, row 6, serial: 'PFQQ000001' appears again (first at row 2)" in messages
    assert "devices.csv, row 7, invoice_date: lies in the future" in messages
    assert await count(db, tables.devices) == before


async def test_security_codes_make_their_batches(db: Database, tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "codes.csv",
        "code,batch_code,model_code,produced_on\n"
        "1111222233334444,B2611-TN2405-99,TN2405,2026-11-01\n"
        "1111222233335555,B2611-TN2405-99,TN2405,2026-11-01\n",
    )
    assert await import_codes(db, path, NOW) == 2
    async with db.read() as conn:
        quantity = await conn.scalar(
            select(tables.security_batches.c.quantity).where(
                tables.security_batches.c.code == "B2611-TN2405-99"
            )
        )
    assert quantity == 2
    with pytest.raises(ImportFailed) as failed:
        await import_codes(db, path, NOW)
    assert (
        str(failed.value.problems[0])
        == "codes.csv, row 2, code: 1111222233334444 is already issued"
    )


async def test_json_stations_and_lists_in_csv(db: Database, tmp_path: Path) -> None:
    json_path = write(
        tmp_path,
        "stations.json",
        """{"stations": [{"code": "LS01", "kind": "service",
      "name": "星辰授权服务站（拉萨店）", "city": "拉萨市", "district": "城关区",
      "address": "北京中路1号",
      "phone": "0891-6330000", "hours": "周一至周五 09:30-18:00", "services": ["drop_off"],
      "categories": ["laptop"], "daily_capacity": 8, "lat": 29.65, "lon": 91.13}]}""",
    )
    assert await import_stations(db, json_path, NOW) == 1
    csv_path = write(
        tmp_path,
        "stations.csv",
        "code,kind,name,city,district,address,phone,hours,services,categories,daily_capacity,lat,lon\n"
        "LS02,service,拉萨二店,拉萨,城关区,江苏路2号,0891-6330001,周一至周六 09:30-18:00,"
        "drop_off|remote,laptop|spaceship,8,29.65,91.13\n",
    )
    with pytest.raises(ImportFailed) as failed:
        await import_stations(db, csv_path, NOW)
    assert [str(p) for p in failed.value.problems] == [
        "stations.csv, row 2, categories: unknown category 'spaceship'"
    ]


async def test_knowledge_yaml_errors(db: Database, tmp_path: Path) -> None:
    path = write(
        tmp_path, "cases.yml", "cases:\n  - code: KB900\n    category: printer\n    title: 测试\n"
    )
    with pytest.raises(ImportFailed) as failed:
        await import_knowledge(db, path, NOW)
    fields = {p.field for p in failed.value.problems}
    assert {"symptoms", "steps", "stop_when"} <= fields
    broken = write(tmp_path, "broken.yml", "cases: [\n")
    with pytest.raises(ImportFailed) as failed:
        await import_knowledge(db, broken, NOW)
    assert failed.value.problems[0].row == "file"


def test_the_import_command_prints_problems(
    database_url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("BOT_DATABASE_URL", database_url)
    path = write(
        tmp_path,
        "devices.csv",
        "serial,model_code,invoice_date,seller\nPFQQ000009,XB14,yesterday,京东\n",
    )
    assert main(["import", "devices", str(path)]) == 1
    err = capsys.readouterr().err
    assert "devices.csv, row 2, invoice_date: invalid date format" in err
    assert "nothing was imported" in err
    good = write(
        tmp_path,
        "good.csv",
        "serial,model_code,invoice_date,seller\nPFQQ000009,XB14,2026-11-01,京东\n",
    )
    assert main(["import", "devices", str(good)]) == 0
    assert main(["import", "devices", str(tmp_path / "missing.csv")]) == 2
