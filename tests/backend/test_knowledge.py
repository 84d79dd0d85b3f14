"""Chinese search over the fault cases: error codes first, synonyms, traditional and full-width."""

from __future__ import annotations

from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from bot.knowledge import normalize_code
from tests.support.api import call, error_code


async def search(api: TestClient, q: str, **params: Any) -> list[dict[str, Any]]:
    hits: list[dict[str, Any]] = await call(
        api, "POST", "/api/knowledge/search", 200, json={"q": q, **params}
    )
    return hits


@pytest.mark.parametrize(
    ("query", "code"),
    [
        ("蓝屏 0x0000007B", "KB024"),
        ("开机就蓝屏，代码0x7b", "KB024"),
        ("INACCESSIBLE_BOOT_DEVICE", "KB024"),
        ("复印机报E000", "KB017"),
        ("复印机显示c2801怎么办", "KB015"),
        ("ＣＯＰＩＥＲ　Ｃ３１００", "KB016"),
    ],
)
async def test_an_error_code_wins(api: TestClient, query: str, code: str) -> None:
    hits = await search(api, query)
    assert hits[0]["case"]["code"] == code
    assert hits[0]["matched_by"] == "error_code"


@pytest.mark.parametrize(
    ("query", "title_word"),
    [
        ("打印机卡纸了怎么办", "卡纸"),
        ("印表機一直夾紙", "卡纸"),  # traditional characters and a synonym
        ("電池鼓包了還能用嗎", "鼓包"),
        ("我的硒鼓装上提示不是原装", "非原装"),
        ("充电到80就不充了", "80%"),
        ("咖啡洒在键盘上了", "进水"),
        ("笔记本开不了机", "无法开机"),
        ("键盘有几个键没反应", "按键失灵"),
        ("打出来的字有黑线", "竖线"),
    ],
)
async def test_everyday_descriptions_find_the_case(
    api: TestClient, query: str, title_word: str
) -> None:
    hits = await search(api, query)
    assert title_word in hits[0]["case"]["title"], [h["case"]["title"] for h in hits]
    assert hits[0]["case"]["steps"]


async def test_category_and_model_narrow_the_search(api: TestClient) -> None:
    hits = await search(api, "wifi连不上", category="laptop")
    assert {h["case"]["category"] for h in hits} == {"laptop"}
    printer = await search(api, "LJ2405D 卡纸")
    assert all(not h["case"]["models"] or "LJ2405D" in h["case"]["models"] for h in printer[:3])


async def test_safety_cases_are_flagged(api: TestClient) -> None:
    hits = await search(api, "电池鼓包")
    assert hits[0]["case"]["safety"] is True


async def test_nothing_to_match_is_an_empty_list(api: TestClient) -> None:
    assert await search(api, "hello") == []
    assert await search(api, "😀😀😀") == []
    assert await search(api, "的了吗") == []


async def test_a_very_long_message_still_finds_the_fault(api: TestClient) -> None:
    long = "打印机卡纸" + "，然后" * 3000
    assert len(long) > 9000
    hits = await search(api, long)
    assert "卡纸" in hits[0]["case"]["title"]


async def test_bad_searches(api: TestClient) -> None:
    path = "/api/knowledge/search"
    assert await error_code(api, "POST", path, 422, json={}) == "invalid_body"
    assert await error_code(api, "POST", path, 422, json={"q": "卡纸", "category": "toaster"}) == (
        "invalid_body"
    )
    assert await error_code(api, "POST", path, 422, json={"q": "x" * 10_001}) == "invalid_body"
    assert await error_code(api, "POST", path, 422, json={"q": "卡纸", "model": "X B/1"}) == (
        "invalid_body"
    )


async def test_case_by_code(api: TestClient) -> None:
    case = await call(api, "GET", "/api/knowledge/cases/kb057", 200)
    assert case["safety"] is True
    assert await error_code(api, "GET", "/api/knowledge/cases/KB999", 404) == "case_not_found"


async def test_reindex_after_an_import(api: TestClient) -> None:
    body = await call(api, "POST", "/api/knowledge/reindex", 200)
    assert body["cases"] == 60
    assert body["words"] > 300


@pytest.mark.parametrize(
    ("raw", "code"), [("E-202", "e202"), ("0x7B", "0x0000007b"), ("c2801", "c2801")]
)
def test_error_codes_are_compared_in_one_form(raw: str, code: str) -> None:
    assert normalize_code(raw) == code
