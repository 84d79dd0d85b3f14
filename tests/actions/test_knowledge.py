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
    others = next(e["value"] for e in events if e["name"] == "kb_candidates")
    assert events == [
        SlotSet("fault", "打印机卡纸了，纸卡在里面拿不出来"),
        SlotSet("kb_case", case),
        SlotSet("steps_tried", []),
        SlotSet("kb_candidates", others),
        SlotSet("kb_step", 0.0),
    ]
    # The other likely cases are kept for "不是这个", the case itself is not among them.
    assert others and case not in others and len(others) <= 3
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


async def test_not_this_case_offers_the_other_candidates_as_buttons(
    service: ServiceClient, dispatcher: CollectingDispatcher, domain: dict[str, Any]
) -> None:
    tracker = make_tracker(
        "不是这个问题",
        "deny",
        slots={"kb_case": "KB004", "kb_step": 0.0, "kb_candidates": ["KB007", "KB052", "KB004"]},
    )
    events = await ActionDiagnosisStep().run(dispatcher, tracker, domain)
    assert responses(dispatcher) == ["utter_other_cases"]
    payloads = [b["payload"] for b in dispatcher.messages[0]["buttons"]]
    assert payloads == [
        '/choose_case{"case_code":"KB007"}',
        '/choose_case{"case_code":"KB052"}',
        "/request_human",
    ]
    # No next step of the wrong case; the candidates wait for the choice.
    assert events == [SlotSet("kb_candidates", ["KB007", "KB052"]), SlotSet("kb_step", None)]


async def test_the_not_this_button_is_a_wrong_case_too(
    service: ServiceClient, dispatcher: CollectingDispatcher, domain: dict[str, Any]
) -> None:
    tracker = make_tracker(
        '/deny{"case_code":"other"}',
        "deny",
        entities=[{"entity": "case_code", "value": "other"}],
        slots={"kb_case": "KB004", "kb_step": 1.0, "kb_candidates": ["KB007"]},
    )
    await ActionDiagnosisStep().run(dispatcher, tracker, domain)
    assert responses(dispatcher) == ["utter_other_cases"]


async def test_not_this_but_that_starts_the_case_the_customer_names(
    service: ServiceClient, dispatcher: CollectingDispatcher, domain: dict[str, Any]
) -> None:
    tracker = make_tracker(
        "不对 不是脱机 是纸卡在里面拿不出来",
        "deny",
        slots={"kb_case": "KB004", "kb_step": 0.0, "product": "打印机"},
    )
    events = await ActionDiagnosisStep().run(dispatcher, tracker, domain)
    assert responses(dispatcher) == ["utter_diagnosis_intro", "utter_diagnosis_step"]
    chosen = next(e["value"] for e in events if e["name"] == "kb_case")
    assert chosen != "KB004"
    assert "卡纸" in (await service.case(chosen)).title


async def test_a_candidate_is_chosen_by_button_or_by_its_place(
    service: ServiceClient, domain: dict[str, Any]
) -> None:
    for text, entities in (
        ('/choose_case{"case_code":"KB052"}', [{"entity": "case_code", "value": "KB052"}]),
        ("第二个", []),
    ):
        dispatcher = CollectingDispatcher()
        tracker = make_tracker(
            text,
            "choose_case",
            entities=entities,
            slots={"kb_case": "KB004", "kb_candidates": ["KB007", "KB052"]},
        )
        events = await ActionDiagnose().run(dispatcher, tracker, domain)
        assert SlotSet("kb_case", "KB052") in events
        assert SlotSet("kb_candidates", ["KB007"]) in events
        assert responses(dispatcher) == ["utter_diagnosis_intro", "utter_diagnosis_step"]


async def test_a_detail_at_a_step_searches_again_with_everything_said(
    service: ServiceClient, dispatcher: CollectingDispatcher, domain: dict[str, Any]
) -> None:
    tracker = make_tracker(
        "每页都有一条竖的黑线",
        "report_fault",
        slots={"kb_case": "KB004", "kb_step": 0.0, "fault": "打印机打出来的东西有问题"},
    )
    events = await ActionDiagnose().run(dispatcher, tracker, domain)
    assert SlotSet("fault", "打印机打出来的东西有问题 每页都有一条竖的黑线") in events
    assert SlotSet("kb_case", "KB007") in events


async def test_a_detail_that_confirms_the_case_goes_on_to_the_next_step(
    service: ServiceClient, dispatcher: CollectingDispatcher, domain: dict[str, Any]
) -> None:
    tracker = make_tracker(
        "是黑色的竖线 每张都在左边",
        "inform",
        slots={"kb_case": "KB007", "kb_step": 0.0, "fault": "激光打印出来有竖线条纹"},
    )
    events = await ActionDiagnose().run(dispatcher, tracker, domain)
    assert responses(dispatcher) == ["utter_diagnosis_step"]
    assert dispatcher.messages[0]["number"] == 2
    assert SlotSet("kb_step", 1.0) in events


async def test_a_yes_that_is_not_fixed_is_not_called_solved(
    service: ServiceClient, domain: dict[str, Any]
) -> None:
    running = {"kb_case": "KB031", "kb_step": 0.0}
    dispatcher = CollectingDispatcher()
    await ActionDiagnosisDone().run(dispatcher, make_tracker("嗯", "affirm", slots=running), domain)
    assert responses(dispatcher) == ["utter_ask_step_result"]
    for said in ("好了 可以打字了", "/affirm"):
        dispatcher = CollectingDispatcher()
        await ActionDiagnosisDone().run(
            dispatcher, make_tracker(said, "affirm", slots=running), domain
        )
        assert responses(dispatcher) == ["utter_glad_solved"]


async def test_a_no_after_a_digression_carries_on_and_without_a_case_asks_what_else(
    service: ServiceClient, domain: dict[str, Any]
) -> None:
    dispatcher = CollectingDispatcher()
    events = await ActionDiagnosisStep().run(
        dispatcher,
        make_tracker("还是不行", "deny", slots={"kb_case": "KB001", "kb_step": 0.0}),
        domain,
    )
    assert responses(dispatcher) == ["utter_diagnosis_step"]
    assert SlotSet("kb_step", 1.0) in events
    dispatcher = CollectingDispatcher()
    assert await ActionDiagnosisStep().run(dispatcher, make_tracker("不用", "deny"), domain) == []
    assert responses(dispatcher) == ["utter_anything_else"]
