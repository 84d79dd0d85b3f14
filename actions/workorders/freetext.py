"""Free text a form stores for a person to read: the fault and the on-site address.

What is stored reaches an engineer; "。", "asdf" or "我的单子到哪了" are no fault, and "asdf"
is no address. These checks refuse what cannot be one, so the form asks again with an
example; they do not judge what can.
"""

from __future__ import annotations

import re
import unicodedata

_CJK = re.compile(r"[\u4e00-\u9fff]")
_LETTER_WORDS = re.compile(r"[a-zA-Z]{2,}")
# A code on the screen ("E-202", "0x0000007B", "50.4") is a fault description in itself.
_CODE = re.compile(r"(?i)\b(?:0x[0-9a-f]{4,}|[a-z]{1,3}-?\d{2,4}|\d{2,3}\.\d{1,2})\b")
# A question about an order, a warranty or a place: to be answered, not stored as the fault.
_QUESTION = re.compile(
    r"(进度|到哪|什么时候(能)?(修好|好|到)|单号|工单|保修(期|还有|多久|到)|在哪[里儿]?[?？]?$)"
)
# Words every Chinese address has at least one of.
_ADDRESS_WORDS = re.compile(
    r"[省市区县镇乡村路街道巷弄号栋幢楼层室座园苑院里坊湾寨屯]|小区|大厦|广场|公寓|花园|中心|胡同"
)


def meaningful(text: str) -> str:
    """The text without punctuation, symbols and white space."""
    return "".join(c for c in text if unicodedata.category(c)[0] in "LN")


def fault_problem(text: str, intent: str | None) -> str | None:
    """Why this cannot be stored as the fault ("empty", "question"), or None when it can."""
    said = meaningful(unicodedata.normalize("NFKC", text))
    if intent in ("check_repair_status", "check_warranty", "ask_warranty_policy") or (
        _QUESTION.search(text) and len(_CJK.findall(text)) < 20
    ):
        return "question"
    if _CJK.search(said):
        return None if len(_CJK.findall(said)) >= 2 else "empty"
    # No Chinese at all: English words ("paper jam") or a code on the screen will do.
    if len(_LETTER_WORDS.findall(text)) >= 2 or _CODE.search(text):
        return None
    return "empty"


def looks_like_address(text: str) -> bool:
    """Chinese, at least five characters, and a word of an address (路, 号, 小区, 区...)."""
    said = meaningful(unicodedata.normalize("NFKC", text))
    return len(said) >= 5 and len(_CJK.findall(said)) >= 3 and bool(_ADDRESS_WORDS.search(said))
