"""Every response in domain.yml is reachable: in a rule or story, or chosen by an action, a
channel or the support desk.

`rasa data validate` only sees rules and stories, so it lists the responses our actions choose
by name as unused; this test checks the other half.
"""

from __future__ import annotations

import re
from pathlib import Path

import yaml

from bot.contracts.rules import TRANSITIONS

ROOT = Path(__file__).resolve().parents[1]


def test_every_response_is_used() -> None:
    domain = yaml.safe_load((ROOT / "domain.yml").read_text(encoding="utf-8"))
    code = "\n".join(
        p.read_text(encoding="utf-8")
        for folder, pattern in (
            ("actions", "**/*.py"),
            ("connectors", "*.py"),
            ("bot/desk", "*.py"),
            # The handoff transitions tell the customer what the desk did.
            ("bot", "handoffs.py"),
            # What the customer is told later: notices, surveys and 回访 (bot/outbox.py).
            ("bot", "outbox*.py"),
            # A complaint's number and outcome (bot/complaints/escalation.py).
            ("bot/complaints", "*.py"),
        )
        for p in sorted((ROOT / folder).glob(pattern))
    )
    data = "\n".join(p.read_text(encoding="utf-8") for p in (ROOT / "data").rglob("*.yml"))
    forms = domain["forms"]
    # Labels are picked as label(domain, f"kind_{...}"): the prefixes in the code count.
    prefixes = set(re.findall(r'label\(domain, f"(\w+_)\{', code))
    intents = set(domain["intents"])
    unused = []
    for name in domain["responses"]:
        key = name.removeprefix("utter_label_")
        asked_slot = name.removeprefix("utter_ask_")
        if (
            re.search(rf"\b{name}\b", data + code)
            or (name.startswith("utter_label_") and (f'"{key}"' in code or key in intents))
            or any(name.startswith("utter_label_" + p) for p in prefixes)
            # utter_ask_<slot> and utter_ask_<form>_<slot> are asked by the forms themselves.
            or any(asked_slot in spec["required_slots"] for spec in forms.values())
            or any(
                asked_slot.startswith(f"{form}_")
                and asked_slot[len(form) + 1 :] in spec["required_slots"]
                for form, spec in forms.items()
            )
        ):
            continue
        unused.append(name)
    assert unused == []


def test_every_work_order_status_has_a_label_for_customers() -> None:
    domain = yaml.safe_load((ROOT / "domain.yml").read_text(encoding="utf-8"))
    missing = [s for s in TRANSITIONS if f"utter_label_status_{s}" not in domain["responses"]]
    assert missing == []


# Pictographs and dingbats: where no colour-emoji font is installed (many desktops, Chromium in
# a container) they render as empty boxes, so a reply must never lean on one.
EMOJI = re.compile("[\u2600-\u27bf\u2b00-\u2bff\U0001f000-\U0001faff\ufe0f]")


def test_no_reply_carries_an_emoji() -> None:
    domain = yaml.safe_load((ROOT / "domain.yml").read_text(encoding="utf-8"))
    found = [
        (name, variant.get("text", ""))
        for name, variants in domain["responses"].items()
        for variant in variants
        if EMOJI.search(str(variant.get("text", "")))
        or any(EMOJI.search(str(b.get("title", ""))) for b in variant.get("buttons") or [])
    ]
    assert found == []
