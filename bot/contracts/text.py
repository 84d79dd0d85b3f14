"""Free-text names customers type: cities and model codes, in one canonical form."""

from __future__ import annotations

import re
import unicodedata

from bot.normalize import normalize_text


def normalize_city(raw: str) -> str:
    city = normalize_text(raw).replace(" ", "")
    return re.sub(r"(市|地区)$", "", city)


def normalize_model_code(raw: str) -> str:
    return re.sub(r"\s", "", unicodedata.normalize("NFKC", raw)).upper()
