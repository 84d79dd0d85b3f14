"""Knowledge: fault cases with ordered troubleshooting steps, and Chinese search over them.

Search normalises the customer's words (full-width, traditional characters, synonyms), tries an
exact error-code match first (an error code names the fault better than any description),
then ranks cases with BM25 over jieba tokens, using a user dictionary built from the
catalogue and the domain terms so that 搓纸轮 or 定影器 stay whole words.
"""

from __future__ import annotations

import logging
import math
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache

import jieba
from aiohttp import web
from pydantic import Field, StrictBool
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from bot import tables
from bot.api import DB, Routes
from bot.contracts.base import Body
from bot.contracts.errors import INVALID_BODY
from bot.contracts.knowledge import Case, Hit, Reindexed, SearchIn
from bot.contracts.rules import CODE, MODEL_CODE
from bot.contracts.text import normalize_model_code
from bot.errors import Invalid, not_found
from bot.normalize import normalize_text

log = logging.getLogger(__name__)
routes = Routes("knowledge")

# Words that carry no meaning for matching a fault.
STOPWORDS = frozenset(
    """
    的 了 吗 呢 吧 啊 呀 哦 嘛 我 我的 你 你们 他 它 这 那
    这个 那个 是 在 有 就 都 也 和 与 还 又 很 太 怎么 怎么办
    怎么回事 怎样 如何 什么 为什么 一下 一直 老是 总是 经常 突然
    今天 昨天 请问 请 帮 帮忙 帮我 能 能不能 可以 会 要 想 问
    问一下 出现 提示 一个 个 台 下 上 了吗 啦 喔 嗯 额 呃
    谢谢 你好 机器 电脑 东西 问题 情况 时候
    """.split()  # noqa: SIM905
)
_TOKEN = re.compile(r"[0-9a-z\u4e00-\u9fff]")
_CODE_CANDIDATE = re.compile(r"0x[0-9a-f]{1,8}|[a-z]{1,3}-?\d{2,5}[a-z]?|[a-z]+(?:_[a-z]+)+")


class CaseRecord(Body):
    code: str = Field(regex=r"^KB\d{3,6}$")
    category: str = Field(regex=CODE)
    models: list[str] = []
    title: str = Field(min_length=1, max_length=100)
    symptoms: list[str] = Field(min_items=1)
    error_codes: list[str] = []
    steps: list[str] = Field(min_items=1, max_items=12)
    stop_when: str = Field(min_length=1)
    suspect_part: str | None = Field(None, regex=CODE)
    performance_fault: StrictBool = True
    safety: StrictBool = False


class VocabularyRecord(Body):
    synonyms: dict[str, list[str]] = {}
    terms: list[str] = []


def normalize_code(raw: str) -> str:
    """E-202 and e202 are one code; 0x7B and 0x0000007B are one stop code."""
    code = raw.lower().replace("-", "")
    if code.startswith("0x"):
        return "0x" + code[2:].rjust(8, "0")
    return code


@lru_cache(maxsize=1)
def _base_dictionary() -> tuple[dict[str, int], int]:
    base = jieba.Tokenizer()
    base.initialize()
    return base.FREQ, base.total


def _fresh_tokenizer() -> jieba.Tokenizer:
    """A tokenizer with jieba's main dictionary, loaded from disk once per process (about 1 s).

    Each index gets its own copy of the word table, because user words are added to it.
    """
    freq, total = _base_dictionary()
    tokenizer = jieba.Tokenizer()
    tokenizer.FREQ, tokenizer.total, tokenizer.initialized = dict(freq), total, True
    return tokenizer


@dataclass
class KnowledgeIndex:
    """An in-memory BM25 index; rebuilt from the database at start-up and on reindex."""

    cases: dict[str, Case] = field(default_factory=dict)
    synonyms: dict[str, str] = field(default_factory=dict)
    words: set[str] = field(default_factory=set)
    model_codes: set[str] = field(default_factory=set)
    by_code: dict[str, list[str]] = field(default_factory=dict)
    docs: dict[str, Counter[str]] = field(default_factory=dict)
    doc_freq: Counter[str] = field(default_factory=Counter)
    avg_len: float = 1.0
    _tokenizer: jieba.Tokenizer | None = None
    _synonym_re: re.Pattern[str] | None = None

    def build(
        self,
        cases: Iterable[Case],
        synonyms: dict[str, str],
        words: Iterable[str],
        model_codes: Iterable[str],
    ) -> None:
        self.cases = {c.code: c for c in cases}
        self.synonyms = {normalize_text(k).lower(): v for k, v in synonyms.items()}
        self.model_codes = {m.lower() for m in model_codes}
        self.words = {normalize_text(w).lower() for w in words} | set(self.synonyms.values())
        self.words |= self.model_codes
        tokenizer = _fresh_tokenizer()
        for word in self.words:
            if word:
                tokenizer.add_word(word, freq=200_000)
        self._tokenizer = tokenizer
        variants = sorted(self.synonyms, key=len, reverse=True)
        self._synonym_re = (
            re.compile("|".join(re.escape(v) for v in variants)) if variants else None
        )
        self.by_code = {}
        self.docs = {}
        for case in self.cases.values():
            for code in case.error_codes:
                self.by_code.setdefault(normalize_code(code), []).append(case.code)
            text = " ".join(
                [case.title, case.title, *case.symptoms, *case.symptoms, *case.error_codes]
            )
            self.docs[case.code] = Counter(self.tokens(text))
        self.doc_freq = Counter(t for doc in self.docs.values() for t in doc)
        self.avg_len = sum(sum(d.values()) for d in self.docs.values()) / max(1, len(self.docs))

    def canonical(self, text: str) -> str:
        text = normalize_text(text).lower()
        if self._synonym_re is not None:
            text = self._synonym_re.sub(lambda m: self.synonyms[m.group(0)], text)
        return text

    def tokens(self, text: str) -> list[str]:
        assert self._tokenizer is not None, "build() the index first"
        words = self._tokenizer.lcut_for_search(self.canonical(text))
        return [w for w in words if _TOKEN.search(w) and w not in STOPWORDS]

    def _bm25(self, query: list[str], code: str) -> float:
        doc = self.docs[code]
        length = sum(doc.values())
        n = len(self.docs)
        score = 0.0
        for term in set(query):
            tf = doc.get(term, 0)
            if not tf:
                continue
            idf = math.log(1 + (n - self.doc_freq[term] + 0.5) / (self.doc_freq[term] + 0.5))
            score += idf * tf * 2.5 / (tf + 1.5 * (0.25 + 0.75 * length / self.avg_len))
        return score

    def _mentioned_model(self, clean: str) -> str | None:
        for code in sorted(self.model_codes, key=len, reverse=True):
            if re.search(rf"(?<![a-z0-9]){re.escape(code)}(?![a-z0-9])", clean):
                return code
        return None

    def search(
        self, text: str, *, category: str | None = None, model: str | None = None, limit: int = 5
    ) -> list[Hit]:
        clean = self.canonical(text)
        if model is None:
            model = self._mentioned_model(clean)
        model = model.lower() if model else None
        codes = [normalize_code(c) for c in _CODE_CANDIDATE.findall(clean)]
        exact = [
            cid
            for c in codes
            if c.lower() not in self.model_codes
            for cid in self.by_code.get(c, [])
        ]
        hits: dict[str, Hit] = {}
        for cid in dict.fromkeys(exact):
            case = self.cases[cid]
            matched = [c for c in case.error_codes if normalize_code(c) in codes]
            hits[cid] = Hit(case=case, score=100.0, matched_by="error_code", matched_terms=matched)
        query = self.tokens(text)
        for cid, case in self.cases.items():
            if cid in hits or (category and case.category != category):
                continue
            score = self._bm25(query, cid)
            if score <= 0:
                continue
            if model and case.models:
                score *= 1.5 if model.upper() in case.models else 0.4
            matched = sorted({t for t in query if t in self.docs[cid]})
            hits[cid] = Hit(
                case=case, score=round(score, 3), matched_by="text", matched_terms=matched
            )
        ranked = sorted(hits.values(), key=lambda h: -h.score)
        if category:
            ranked = [h for h in ranked if h.case.category == category] or ranked
        return ranked[:limit]


KNOWLEDGE = web.AppKey("knowledge", KnowledgeIndex)


async def upsert_cases(conn: AsyncConnection, records: Sequence[CaseRecord]) -> None:
    k = tables.knowledge_cases
    for rec in records:
        await conn.execute(k.delete().where(k.c.code == rec.code))
        await conn.execute(k.insert().values(**rec.dict()))


async def upsert_vocabulary(conn: AsyncConnection, record: VocabularyRecord) -> None:
    s, t = tables.synonyms, tables.dictionary_terms
    for canonical, variants in record.synonyms.items():
        for variant in {canonical, *variants}:
            key = normalize_text(variant).lower()
            await conn.execute(s.delete().where(s.c.variant == key))
            await conn.execute(
                s.insert().values(variant=key, canonical=normalize_text(canonical).lower())
            )
    for term in record.terms:
        await conn.execute(t.delete().where(t.c.term == term))
        await conn.execute(t.insert().values(term=term))


async def dictionary_words(conn: AsyncConnection) -> list[str]:
    """Words the tokenizer must keep whole: domain terms, models, parts, categories, codes."""
    words: set[str] = set((await conn.execute(select(tables.dictionary_terms.c.term))).scalars())
    words |= set((await conn.execute(select(tables.synonyms.c.canonical))).scalars())
    words |= set((await conn.execute(select(tables.models.c.code))).scalars())
    for table in (tables.parts, tables.categories):
        for row in await conn.execute(select(table.c.name, table.c.synonyms)):
            words.add(row.name)
            words.update(s for s in row.synonyms if not re.search(r"\s", s))
    for row in await conn.execute(select(tables.knowledge_cases.c.error_codes)):
        words.update(row.error_codes)
    return sorted(w for w in words if w)


async def nlu_lookups(conn: AsyncConnection) -> dict[str, list[str]]:
    """Lookup tables for the NLU: every model, product word, part word and error code we know.

    A word that names both a product and a part (屏幕, 电池) is kept only as a part: the
    action decides from the context which device it belongs to.
    """
    parts: set[str] = set()
    for row in await conn.execute(select(tables.parts.c.name, tables.parts.c.synonyms)):
        parts.update([row.name, *row.synonyms])
    products: set[str] = set()
    for row in await conn.execute(select(tables.categories.c.name, tables.categories.c.synonyms)):
        products.update([row.name, *row.synonyms])
    codes: set[str] = set()
    for row in await conn.execute(select(tables.knowledge_cases.c.error_codes)):
        codes.update(row.error_codes)
    models = (await conn.execute(select(tables.models.c.code))).scalars().all()

    def chinese(words: set[str]) -> list[str]:
        # Lookups match without word boundaries (Chinese has none), so an English word would
        # match inside longer words ("ink" in "think") and one character inside everything.
        return _longest_first(w for w in words if re.search(r"[\u4e00-\u9fff]", w) and len(w) > 1)

    return {
        "model": _longest_first(models),
        "product": chinese(products - parts),
        "part": chinese(parts),
        "error_code": _longest_first(codes),
    }


def _longest_first(words: Iterable[str]) -> list[str]:
    """Regex alternation takes the first alternative that matches: 屏幕 must come before 屏."""
    return sorted(set(words), key=lambda w: (-len(w), w))


async def build_index(conn: AsyncConnection) -> KnowledgeIndex:
    cases = [Case.parse_obj(r._mapping) for r in await conn.execute(select(tables.knowledge_cases))]
    synonyms = {r.variant: r.canonical for r in await conn.execute(select(tables.synonyms))}
    models = (await conn.execute(select(tables.models.c.code))).scalars().all()
    index = KnowledgeIndex()
    index.build(cases, synonyms, await dictionary_words(conn), models)
    log.info("knowledge index: %d cases, %d dictionary words", len(cases), len(index.words))
    return index


# --- HTTP --------------------------------------------------------------------------------


# POST, not GET: a customer's message can be 10,000 characters, longer than a URL may be.
@routes.post(
    "/api/knowledge/search",
    summary="Fault cases matching a description or an error code",
    body=SearchIn,
    response=list[Hit],
)
async def search(request: web.Request, body: SearchIn) -> list[Hit]:
    model = normalize_model_code(body.model) if body.model else None
    if model and not re.fullmatch(MODEL_CODE, model):
        raise Invalid(
            INVALID_BODY,
            f"{body.model!r} is not a model code",
            fields=[{"field": "model", "message": "not a model code"}],
        )
    # Long pastes (logs, whole e-mails) are cut: the fault is described early or not at all.
    return request.config_dict[KNOWLEDGE].search(
        body.q[:2000], category=body.category, model=model, limit=body.limit
    )


@routes.get("/api/knowledge/cases/{code}", summary="One fault case", response=Case, errors=(404,))
async def show_case(request: web.Request, _: None) -> Case:
    code = request.match_info["code"].upper()
    case = request.config_dict[KNOWLEDGE].cases.get(code)
    if case is None:
        raise not_found("case", code)
    return case


@routes.post(
    "/api/knowledge/reindex",
    summary="Rebuild the search index after an import (staff)",
    response=Reindexed,
    audience="staff",
)
async def reindex(request: web.Request, _: None) -> Reindexed:
    async with request.config_dict[DB].read() as conn:
        return await refresh_index(request.app, conn)


async def refresh_index(app: web.Application, conn: AsyncConnection) -> Reindexed:
    """Rebuild the app's search index from what `conn` sees (its own writes included)."""
    index = await build_index(conn)
    app[KNOWLEDGE].__dict__.update(index.__dict__)
    return Reindexed(cases=len(index.cases), words=len(index.words))
