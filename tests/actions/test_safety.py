"""Hazards: the word list both ways, and the instruction at once whatever was running."""

from __future__ import annotations

from typing import Any

import pytest
from rasa_sdk.events import ActiveLoop, FollowupAction, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.safety import ActionSafety
from bot.contracts.safety import hazard
from bot.normalize import normalize_text
from tests.support.trackers import make_tracker, responses


@pytest.mark.parametrize(
    "text",
    [
        "没进水啊",
        "屏幕不亮",
        "风扇声音有点大",
        "不烫 就是卡",
        "没有冒烟 也没味道",
        "加墨水的时候洒出来一点",  # an ink refill: the ink case, not liquid in the electronics
        "碳粉洒了一机器",
        "笔记本掉电快",
        "打印机显示脱机",
    ],
)
def test_no_hazard_in_ordinary_faults_and_denials(text: str) -> None:
    assert hazard(normalize_text(text)) is None


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("电池鼓起来了 键盘都被顶起来了", "swelling"),
        ("后盖翘起来一块", "swelling"),
        ("電池膨脹了", "swelling"),
        ("不是按键的问题 是电池鼓包了 会不会爆炸", "swelling"),
        ("机器后面冒烟了！！", "smoke"),
        ("有股烧焦的味道", "burning"),
        ("插上插座就有火花", "sparks"),
        ("奶茶洒在键盘上了", "liquid"),
        ("spilled coffee on it", "liquid"),
        ("打游戏烫得摸不了", "overheat"),
    ],
)
def test_hazards_are_found_in_customers_words(text: str, kind: str) -> None:
    assert hazard(normalize_text(text)) == kind


async def test_a_hazard_mid_diagnosis_stops_the_steps(
    dispatcher: CollectingDispatcher, domain: dict[str, Any]
) -> None:
    tracker = make_tracker(
        "还有 电池那里鼓起来了",
        "report_hazard",
        slots={"kb_case": "KB060", "kb_step": 1.0},
    )
    events = await ActionSafety().run(dispatcher, tracker, domain)
    assert responses(dispatcher) == ["utter_hazard_swelling", "utter_hazard_next"]
    assert events == [
        SlotSet("kb_case", None),
        SlotSet("kb_step", None),
        SlotSet("fault", "还有 电池那里鼓起来了"),
    ]


async def test_a_hazard_leaves_a_form_other_than_the_booking(
    dispatcher: CollectingDispatcher, domain: dict[str, Any]
) -> None:
    tracker = make_tracker("充电器冒火花了", "report_hazard", active_loop="warranty_form")
    events = await ActionSafety().run(dispatcher, tracker, domain)
    assert responses(dispatcher) == ["utter_hazard_sparks", "utter_hazard_next"]
    assert events[-2:] == [ActiveLoop(None), SlotSet("requested_slot", None)]


async def test_a_booking_goes_on_with_the_hazard_in_its_fault(
    dispatcher: CollectingDispatcher, domain: dict[str, Any]
) -> None:
    tracker = make_tracker(
        "对了 它刚才冒烟了",
        "report_hazard",
        slots={"fault": "开不了机"},
        active_loop="booking_form",
    )
    events = await ActionSafety().run(dispatcher, tracker, domain)
    assert responses(dispatcher) == ["utter_hazard_smoke", "utter_hazard_booking_goes_on"]
    assert events == [
        SlotSet("kb_case", None),
        SlotSet("kb_step", None),
        SlotSet("fault", "开不了机；对了 它刚才冒烟了"),
        FollowupAction("booking_form"),
    ]
