"""Replay a history of fault reports through the early-warning detector (``python -m bot insight
backtest``).

REPORTS.csv has a header and one row per fault report: ``date,model_code,fault_code,region``
(date as YYYY-MM-DD; other columns are ignored, region may be empty). UNITS.csv, optional, has
``model_code,units``: the installed base of each model; without it every model counts equally.
Days without a row count as zero. Prints one JSON object per alert, in order of ``raised_on``,
and nothing during the warm-up. Bad input is reported on stderr with exit code 2.
"""

from __future__ import annotations

import csv
import json
import math
import re
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import TextIO

import numpy as np

from bot.insight.detector import Cell, History, Reports, detect

REPORT_COLUMNS = ("date", "model_code", "fault_code", "region")
UNIT_COLUMNS = ("model_code", "units")
UNKNOWN_REGION = "未知地区"
# cells × days held in memory at once (int64 counts, about 160 MB at the limit).
MAX_CELL_DAYS = 20_000_000
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


class InputError(Exception):
    """A problem with an input file, worded for the person who made it."""


def _rows(path: Path, columns: tuple[str, ...]) -> Iterator[tuple[int, dict[str, str]]]:
    """(line number, row) for each non-empty row, checking the header names ``columns``."""
    if not path.is_file():
        raise InputError(f"{path}: {'not a file' if path.exists() else 'no such file'}")
    try:
        yield from _read(path, columns)
    except UnicodeDecodeError:
        raise InputError(f"{path}: not UTF-8 text (save the CSV as UTF-8)") from None


def _read(path: Path, columns: tuple[str, ...]) -> Iterator[tuple[int, dict[str, str]]]:
    with path.open(encoding="utf-8-sig", newline="") as handle:
        reader = csv.reader(handle)
        header = next(reader, None)
        names = [h.strip().lower() for h in header or []]
        missing = [c for c in columns if c not in names]
        if missing:
            raise InputError(
                f"{path}: the header must name the columns {','.join(columns)}"
                f" (found: {','.join(names) or 'nothing'})"
            )
        where = {c: names.index(c) for c in columns}
        for row in reader:
            line = reader.line_num
            if not any(field.strip() for field in row):
                continue
            if len(row) < len(names):
                raise InputError(
                    f"{path}, line {line}: {len(row)} field(s), the header has {len(names)}"
                )
            yield line, {c: row[i].strip() for c, i in where.items()}


def read_units(path: Path) -> dict[str, float]:
    units: dict[str, float] = {}
    for line, row in _rows(path, UNIT_COLUMNS):
        model = row["model_code"]
        if not model:
            raise InputError(f"{path}, line {line}: empty model_code")
        try:
            value = float(row["units"])
        except ValueError:
            value = math.nan
        if not math.isfinite(value) or value <= 0:
            raise InputError(
                f"{path}, line {line}: units must be a positive number (got {row['units']!r})"
            )
        if model in units:
            raise InputError(f"{path}, line {line}: model {model} is listed twice")
        units[model] = value
    return units


def read_reports(path: Path, units: dict[str, float] | None = None) -> History:
    """The daily counts per model × fault code from the first to the last date of the file."""
    cell_index: dict[tuple[str, str], int] = {}
    region_index: dict[str, int] = {}
    dates: dict[str, int] = {}
    cells: list[int] = []
    days: list[int] = []
    regions: list[int] = []
    for line, row in _rows(path, REPORT_COLUMNS):
        text = row["date"]
        day = dates.get(text)
        if day is None:
            try:
                if not _DATE.fullmatch(text):
                    raise ValueError(text)
                day = date.fromisoformat(text).toordinal()
            except ValueError:
                raise InputError(
                    f"{path}, line {line}: malformed date {text!r} (expected YYYY-MM-DD)"
                ) from None
            dates[text] = day
        model, fault = row["model_code"], row["fault_code"]
        if not model or not fault:
            raise InputError(f"{path}, line {line}: model_code and fault_code must not be empty")
        cells.append(cell_index.setdefault((model, fault), len(cell_index)))
        regions.append(region_index.setdefault(row["region"] or UNKNOWN_REGION, len(region_index)))
        days.append(day)
    if not cells:
        return History(date(1970, 1, 1), (), np.zeros((0, 0), dtype=np.int64))

    first = min(days)
    span = max(days) - first + 1
    if len(cell_index) * span > MAX_CELL_DAYS:
        raise InputError(
            f"{path}: {len(cell_index)} model × fault cells over {span} days is too large for one"
            f" replay (limit {MAX_CELL_DAYS:,} cell-days); split the file by model or by period"
        )
    cell_arr = np.array(cells, dtype=np.int64)
    day_arr = np.array(days, dtype=np.int64) - first
    counts = np.zeros((len(cell_index), span), dtype=np.int64)
    np.add.at(counts, (cell_arr, day_arr), 1)
    keys = tuple(Cell(model, fault) for model, fault in cell_index)
    exposure = None
    if units is not None:
        absent = sorted({c.model_code for c in keys} - set(units))
        if absent:
            raise InputError(
                f"no installed base for model(s) {', '.join(absent[:10])}"
                + (f" and {len(absent) - 10} more" if len(absent) > 10 else "")
                + " in the units file"
            )
        exposure = np.array([units[c.model_code] for c in keys], dtype=float)
    reports = Reports(cell_arr, day_arr, np.array(regions, dtype=np.int64), tuple(region_index))
    return History(date.fromordinal(first), keys, counts, exposure, reports)


def run(reports: str, exposure: str | None, warmup_days: int, out: TextIO, err: TextIO) -> int:
    """The command: 0 when the replay ran (with or without alerts), 2 on bad input."""
    if warmup_days < 0:
        print("--warmup-days must be 0 or more", file=err)
        return 2
    try:
        units = read_units(Path(exposure)) if exposure is not None else None
        history = read_reports(Path(reports), units)
    except InputError as exc:
        print(exc, file=err)
        return 2
    except (OSError, csv.Error) as exc:
        print(f"cannot read the input: {exc}", file=err)
        return 2
    alerts = detect(history, warmup_days=warmup_days) if history.cells else []
    for alert in alerts:
        out.write(json.dumps(alert.as_json(), ensure_ascii=False) + "\n")
    out.flush()
    print(
        f"{len(alerts)} alert(s) from {history.days} day(s) × {len(history.cells)} model × fault"
        f" cell(s), warm-up {warmup_days} day(s)",
        file=err,
    )
    return 0
