"""Self-service diagnosis: find the fault case, walk its steps one at a time, remember the tries.

The diagnosis listens: "不是这个/不对" at a step is not "the step did not help" but "this is
not my fault": the other likely cases of the description come as buttons (or, when the
customer says what it is instead, the best case for the new words starts). A detail given at a
step ("是黑线 每张都在同一个地方") searches again with everything said so far: a better case
takes over, the same case goes on. The case stays in its slots through a digression, so a
later "还是不行" carries on. "问题解决了" is said only when the customer says so.
"""

from __future__ import annotations

import re
from typing import Any

from rasa_sdk import Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.common import BackendAction, TurnAction, client, label
from actions.conversation import entity, latest_intent, latest_text
from bot.contracts.knowledge import Case, Hit
from bot.normalize import normalize_text

STEP_BUTTONS = "utter_diagnosis_step"
CANDIDATES = 3
OTHER = "other"  # the case_code of the "不是这个问题" button
ORDINALS = {"1": 0, "一": 0, "2": 1, "二": 1, "两": 1, "3": 2, "三": 2}
_ORDINAL = re.compile(r"第?\s*([123一二两三])\s*(个|种|条|项)?")
# "This case is not mine", as opposed to "the step did not help" (还是不行, 没用).
_WRONG_CASE = re.compile(
    r"不是(这个|这样|这种|这回事|那个|这问题|这个问题|.{0,8}的?问题)|不对|说的不是|答非所问|"
    r"牛头不对马嘴|搞错|弄错|错了|not this|wrong"
)
# What a customer says when it is fixed; a bare "嗯" or "是" at a step is not.
_SOLVED = re.compile(
    r"解决|好了|可以了|行了|正常了|恢复了|搞定|能用了|能打印了|能开机了|亮了|有声音了|没问题了|"
    r"ok|fixed|works",
    re.I,
)


async def _category(tracker: Tracker) -> str | None:
    """The category the customer's words or device point at, if any."""
    known = tracker.get_slot("device_category")
    if known:
        return str(known)
    words = " ".join(str(tracker.get_slot(s) or "") for s in ("product", "model")).strip()
    if not words:
        return None
    return (await client().resolve(words)).category


async def _search(tracker: Tracker, description: str) -> list[Hit]:
    category = await _category(tracker)
    model = tracker.get_slot("model")
    hits = await client().search_knowledge(description, category=category, model=model)
    if not hits and category:
        hits = await client().search_knowledge(description, model=model)
    return hits


def _step(dispatcher: CollectingDispatcher, case: Case, index: int) -> None:
    dispatcher.utter_message(
        response=STEP_BUTTONS, number=index + 1, total=len(case.steps), step=case.steps[index]
    )


def _start(dispatcher: CollectingDispatcher, case: Case, candidates: list[str]) -> list[EventType]:
    """Begin a case at its first step (a safety case gives its instruction, no steps)."""
    left = [c for c in candidates if c != case.code]
    events: list[EventType] = [
        SlotSet("kb_case", case.code),
        SlotSet("steps_tried", []),
        SlotSet("kb_candidates", left),
    ]
    if case.safety:
        dispatcher.utter_message(
            response="utter_diagnosis_safety",
            title=case.title,
            first_step=case.steps[0],
            stop_when=case.stop_when,
        )
        return [*events, SlotSet("kb_step", None), SlotSet("steps_tried", case.steps[:1])]
    dispatcher.utter_message(response="utter_diagnosis_intro", title=case.title)
    _step(dispatcher, case, 0)
    return [*events, SlotSet("kb_step", 0.0)]


def _running(tracker: Tracker) -> bool:
    return bool(tracker.get_slot("kb_case")) and tracker.get_slot("kb_step") is not None


class ActionDiagnose(BackendAction):
    """Start a diagnosis from the customer's description (or ask for one); a detail re-ranks."""

    retry = "/report_fault"

    def name(self) -> str:
        return "action_diagnose"

    async def act(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        intent = latest_intent(tracker)
        candidates = [str(c) for c in tracker.get_slot("kb_candidates") or []]
        if intent == "choose_case":
            chosen = entity(tracker, "case_code") or _by_ordinal(latest_text(tracker), candidates)
            if not chosen:
                dispatcher.utter_message(response="utter_ask_fault_detail")
                return []
            return _start(dispatcher, await client().case(chosen), candidates)
        # A description, or a bare error code ("E000") sent on its own.
        description = latest_text(tracker) if intent in ("report_fault", "inform") else ""
        if description.startswith("/"):  # a button, not a description
            description = ""
        if not description:
            dispatcher.utter_message(response="utter_ask_fault_detail")
            return []
        if tracker.get_slot("kb_case") and _WRONG_CASE.search(normalize_text(description)):
            return await _other_case(dispatcher, tracker, domain)
        earlier = tracker.get_slot("fault") if _running(tracker) else None
        fault = f"{earlier} {description}" if earlier else description
        # A detail is searched on its own: the first description found the current case
        # already and would drown the new words.
        hits = await _search(tracker, description if earlier else fault)
        events: list[EventType] = [SlotSet("fault", fault)]
        if earlier:
            near = [h.case.code for h in hits[:CANDIDATES]]
            if not hits or tracker.get_slot("kb_case") in near:
                # The detail fits the case (or nothing else): on to the next step.
                return [*events, *await _next_step(dispatcher, tracker)]
        if not hits:
            dispatcher.utter_message(response="utter_no_case_found")
            return [*events, SlotSet("kb_case", None), SlotSet("kb_step", None)]
        best = hits[0].case
        others = [h.case.code for h in hits[1 : CANDIDATES + 1]]
        return [*events, *_start(dispatcher, best, [best.code, *others])]


async def _next_step(dispatcher: CollectingDispatcher, tracker: Tracker) -> list[EventType]:
    """The step did not help: remember it and give the next one, or offer a repair."""
    case = await client().case(str(tracker.get_slot("kb_case")))
    index = int(tracker.get_slot("kb_step") or 0)
    tried: list[Any] = list(tracker.get_slot("steps_tried") or [])
    if index < len(case.steps) and case.steps[index] not in tried:
        tried.append(case.steps[index])
    if index + 1 < len(case.steps):
        _step(dispatcher, case, index + 1)
        return [SlotSet("steps_tried", tried), SlotSet("kb_step", float(index + 1))]
    dispatcher.utter_message(response="utter_steps_exhausted", stop_when=case.stop_when)
    return [SlotSet("steps_tried", tried), SlotSet("kb_step", None)]


class ActionDiagnosisStep(BackendAction):
    """A "no" at a step: the next step, or the other cases when this one is not the fault."""

    retry = "/deny"

    def name(self) -> str:
        return "action_diagnosis_step"

    async def act(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        words = normalize_text(latest_text(tracker))
        wrong = _WRONG_CASE.search(words) or entity(tracker, "case_code") == OTHER
        if not _running(tracker) and not (wrong and tracker.get_slot("kb_case")):
            # A "no" with nothing to refuse (no diagnosis running).
            dispatcher.utter_message(response="utter_anything_else")
            return []
        if not wrong:
            return await _next_step(dispatcher, tracker)
        return await _other_case(dispatcher, tracker, domain)


def _by_ordinal(words: str, candidates: list[str]) -> str | None:
    """ "第二个" among the cases offered as buttons."""
    found = _ORDINAL.search(normalize_text(words))
    index = ORDINALS[found.group(1)] if found else None
    return candidates[index] if index is not None and index < len(candidates) else None


async def _other_case(
    dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
) -> list[EventType]:
    """ "不是这个": the case the customer names instead, or the other likely cases as buttons."""
    words = normalize_text(latest_text(tracker))
    current = str(tracker.get_slot("kb_case"))
    candidates = [str(c) for c in tracker.get_slot("kb_candidates") or [] if c != current]
    rest = _WRONG_CASE.sub(" ", words).strip(" ，,。.!！?？是啊呀吧的了")
    if len(rest) >= 4:
        # "不是这个 是XX": the customer says what it is instead.
        hits = [h for h in await _search(tracker, rest) if h.case.code != current]
        if hits:
            found = [h.case.code for h in hits[: CANDIDATES + 1]]
            return [SlotSet("fault", rest), *_start(dispatcher, hits[0].case, found)]
    if not candidates:
        dispatcher.utter_message(response="utter_no_other_case")
        return [SlotSet("kb_case", None), SlotSet("kb_step", None)]
    cases = [await client().case(code) for code in candidates[:CANDIDATES]]
    buttons = [
        {"title": case.title, "payload": f'/choose_case{{"case_code":"{case.code}"}}'}
        for case in cases
    ]
    buttons.append({"title": label(domain, "none_of_these"), "payload": "/request_human"})
    dispatcher.utter_message(response="utter_other_cases", buttons=buttons)
    return [SlotSet("kb_candidates", candidates), SlotSet("kb_step", None)]


class ActionDiagnosisDone(TurnAction):
    """The customer fixed it: close the case (steps tried stay for the record)."""

    def name(self) -> str:
        return "action_diagnosis_done"

    async def act(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        words = latest_text(tracker)
        pressed = words.startswith("/")  # the "解决了" button
        if not pressed and not _SOLVED.search(normalize_text(words)) and _running(tracker):
            # "嗯", "是的", "对": agreement, not "fixed". Ask rather than declare it solved.
            dispatcher.utter_message(response="utter_ask_step_result")
            return []
        dispatcher.utter_message(response="utter_glad_solved")
        return [SlotSet("kb_case", None), SlotSet("kb_step", None)]
