"""Normalising what customers type: traditional to simplified, full-width to half-width.

OpenCC's Taiwan-phrases profile converts words, not only characters (印表機 → 打印机,
筆記型電腦 → 笔记本电脑), which is what customers from Taiwan and Hong Kong write.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

import opencc

_INVISIBLE = re.compile("[\u200b-\u200f\u2060\ufeff]")
_SPACES = re.compile(r"\s+")


@lru_cache(maxsize=1)
def _converter() -> opencc.OpenCC:
    # Built on first use: loading the dictionaries is file I/O, not for import time.
    return opencc.OpenCC("tw2sp")


def to_simplified(text: str) -> str:
    return str(_converter().convert(text))


def normalize_text(text: str) -> str:
    """Full-width to half-width (NFKC), traditional to simplified, tidy white space."""
    text = unicodedata.normalize("NFKC", text)
    text = _INVISIBLE.sub("", text)
    text = to_simplified(text)
    return _SPACES.sub(" ", text).strip()


@lru_cache(maxsize=1)
def _char_converter() -> opencc.OpenCC:
    return opencc.OpenCC("t2s")


def _half_width(char: str) -> str:
    folded = unicodedata.normalize("NFKC", char)
    return folded if len(folded) == 1 else char


def normalize_aligned(text: str) -> str:
    """Like `normalize_text`, but the result has exactly the length of the input.

    The NLU pipeline rewrites messages with this before tokenising; keeping every character
    at its position keeps the entity offsets of training examples valid. Phrase-level
    conversion (印表機 → 打印机) is used when it keeps the length, which it nearly always does;
    otherwise each character is converted on its own.
    """
    folded = "".join(" " if _INVISIBLE.fullmatch(c) else _half_width(c) for c in text)
    phrases = to_simplified(folded)
    if len(phrases) == len(folded):
        return phrases
    chars = _char_converter()
    return "".join(c2 if len(c2 := str(chars.convert(c))) == 1 else c for c in folded)
