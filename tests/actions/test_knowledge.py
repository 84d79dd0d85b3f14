"""Diagnosis actions: a fault case found, its steps one at a time, the tries remembered."""

from __future__ import annotations

from typing import Any

from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.knowledge import ActionDiagnose, ActionDiagnosisDone, ActionDiagnosisStep
from bot.client import ServiceClient
from tests.support.trackers import make_tracker, responses


async def test_a_description_starts_the_first_step(
    service: ServiceClient, dispatcher: CollectingDispatcher, domain: dict[str, Any]
) -> None:
    tracker = make_tracker(
        "打印机卡纸了，纸卡在里面拿不出来", "report_fault", slots={"product": "打印机"}
    )
    events = await ActionDiagnose().run(dispatcher, tracker, domain)
    assert responses(dispatcher) == ["utter_diagnosis_intro", "utter_diagnosis_step"]
    assert dispatcher.messages[1]["number"] == 1
    case = next(e["value"] for e in events if e["name"] == "kb_case")
    assert events == [
        SlotSet("fault", "打印机卡纸了，纸卡在里面拿不出来"),
        SlotSet("kb_case", case),
        SlotSet("steps_tried", []),
        SlotSet("kb_step", 0.0),
    ]
    assert (await service.case(case)).category == "printer"


async def test_an_error_code_finds_its_case(
    service: ServiceClient, dispatcher: CollectingDispatcher, domain: dict[str, Any]
) -> None:
    events = await ActionDiagnose().run(
        dispatcher, make_tracker("开机蓝屏 0x0000007B", "report_fault"), domain
    )
    assert SlotSet("kb_case", "KB024") in events


async def test_failed_steps_are_remembered_until_they_run_out(
    service: ServiceClient, domain: dict[str, Any]
) -> None:
    case = await service.case("KB001")
    tried: list[str] = []
    for index in range(len(case.steps) - 1):
        dispatcher = CollectingDispatcher()
        tracker = make_tracker(
            "还是不行",
            "deny",
            slots={"kb_case": "KB001", "kb_step": float(index), "steps_tried": tried},
        )
        events = await ActionDiagnosisStep().run(dispatcher, tracker, domain)
        tried = case.steps[: index + 1]
        assert events == [SlotSet("steps_tried", tried), SlotSet("kb_step", float(index + 1))]
        assert responses(dispatcher) == ["utter_diagnosis_step"]
        assert dispatcher.messages[0]["step"] == case.steps[index + 1]
    dispatcher = CollectingDispatcher()
    last = float(len(case.steps) - 1)
    tracker = make_tracker(
        "没用", "deny", slots={"kb_case": "KB001", "kb_step": last, "steps_tried": tried}
    )
    events = await ActionDiagnosisStep().run(dispatcher, tracker, domain)
    assert events == [SlotSet("steps_tried", case.steps), SlotSet("kb_step", None)]
    assert responses(dispatcher) == ["utter_steps_exhausted"]
    assert dispatcher.messages[0]["stop_when"] == case.stop_when


async def test_a_swollen_battery_is_a_safety_case(
    service: ServiceClient, dispatcher: CollectingDispatcher, domain: dict[str, Any]
) -> None:
    events = await ActionDiagnose().run(
        dispatcher, make_tracker("笔记本电池鼓包了，后盖都顶起来了", "report_fault"), domain
    )
    assert responses(dispatcher) == ["utter_diagnosis_safety"]
    assert SlotSet("kb_step", None) in events


async def test_nothing_found_offers_a_repair(
    service: ServiceClient, dispatcher: CollectingDispatcher, domain: dict[str, Any]
) -> None:
    events = await ActionDiagnose().run(dispatcher, make_tracker("嗯嗯", "report_fault"), domain)
    assert responses(dispatcher) == ["utter_no_case_found"]
    assert events == [SlotSet("fault", "嗯嗯"), SlotSet("kb_case", None), SlotSet("kb_step", None)]


async def test_a_button_without_words_asks_for_a_description(
    service: ServiceClient, dispatcher: CollectingDispatcher, domain: dict[str, Any]
) -> None:
    assert (
        await ActionDiagnose().run(
            dispatcher, make_tracker("/report_fault", "report_fault"), domain
        )
        == []
    )
    assert responses(dispatcher) == ["utter_ask_fault_detail"]


async def test_solved(dispatcher: CollectingDispatcher, domain: dict[str, Any]) -> None:
    events = await ActionDiagnosisDone().run(
        dispatcher, make_tracker("好了", "affirm", slots={"kb_case": "KB001"}), domain
    )
    assert events == [SlotSet("kb_case", None), SlotSet("kb_step", None)]
    assert responses(dispatcher) == ["utter_glad_solved"]


async def test_backend_down_apologises_with_a_retry(
    backend_down: None, dispatcher: CollectingDispatcher, domain: dict[str, Any]
) -> None:
    events = await ActionDiagnose().run(
        dispatcher, make_tracker("打印机卡纸", "report_fault"), domain
    )
    assert events == []
    assert responses(dispatcher) == ["utter_backend_down"]
    assert dispatcher.messages[0]["retry"] == "/report_fault"
