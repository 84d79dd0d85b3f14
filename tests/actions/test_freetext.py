"""Free text for an engineer: a fault or an address that is none is refused; real ones pass."""

from __future__ import annotations

import pytest

from actions.workorders.freetext import fault_problem, looks_like_address


@pytest.mark.parametrize(
    ("said", "problem"),
    [
        ("。", "empty"),
        ("asdf", "empty"),
        ("？？？", "empty"),
        ("坏", "empty"),
        ("我的单子到哪了", "question"),
        ("工单现在什么进度", "question"),
    ],
)
def test_what_is_no_fault_is_refused(said: str, problem: str) -> None:
    assert fault_problem(said, "inform") == problem


def test_a_status_question_is_never_stored_as_the_fault() -> None:
    assert fault_problem("帮我看看那个", "check_repair_status") == "question"


@pytest.mark.parametrize(
    "said", ["打印机卡纸", "屏幕一闪一闪的", "paper jam", "E-202", "0x0000007B", "坏了"]
)
def test_a_fault_description_is_kept(said: str) -> None:
    assert fault_problem(said, "inform") is None


@pytest.mark.parametrize(
    "said", ["朝阳区建国门外大街1号", "浦东新区张江路88弄5号301", "南山区科技园 腾讯大厦 12楼"]
)
def test_an_address_passes(said: str) -> None:
    assert looks_like_address(said)


@pytest.mark.parametrize("said", ["asdf", "家里", "上海", "12345", "公司"])
def test_what_is_no_address_is_refused(said: str) -> None:
    assert not looks_like_address(said)
