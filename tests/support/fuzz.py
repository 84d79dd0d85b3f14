"""Requests made from the OpenAPI document, for the bounded fuzz run (tests/backend/test_fuzz.py).

For each operation, hypothesis draws a fixed number of requests from its declared schemas:
bodies that fit the schema (so the handlers behind validation are reached), bodies with the
right field names and any JSON values, query parameters from their schemas or any text, and
path parameters that are any text or one of a few ids the caller names. The draw is
derandomized: the same document gives the same requests on every run, so a failure repeats.

Also a snapshot of every table, to show that a run changed nothing another caller can see.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis_jsonschema import from_schema
from sqlalchemy import select

from bot import tables
from bot.db import Database

_ANY_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=30),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=8,
)


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    query: dict[str, str] = field(default_factory=dict)
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)


def _resolved(schema: dict[str, Any], components: dict[str, Any]) -> dict[str, Any]:
    """The schema with the document's components beside it, so its `$ref`s resolve."""
    return {**schema, "components": {"schemas": components}}


def _query_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return value if isinstance(value, str) else json.dumps(value)


def _query(parameters: list[dict[str, Any]], components: dict[str, Any]) -> st.SearchStrategy:
    fields: dict[str, st.SearchStrategy] = {}
    optional: dict[str, st.SearchStrategy] = {}
    for param in parameters:
        if param["in"] != "query":
            continue
        value = st.one_of(
            from_schema(_resolved(param["schema"], components)).map(_query_value),
            st.text(max_size=20),
        )
        (fields if param["required"] else optional)[param["name"]] = value
    return st.fixed_dictionaries(fields, optional=optional)


def _body(schema: dict[str, Any], components: dict[str, Any]) -> st.SearchStrategy:
    """Mostly bodies that fit the schema; some with its field names and any values."""
    name = schema["$ref"].rsplit("/", 1)[-1]
    names = sorted(components[name].get("properties", {}))
    loose = st.dictionaries(st.sampled_from(names), _ANY_JSON) if names else st.just({})
    return st.one_of(from_schema(_resolved(schema, components)), loose, _ANY_JSON)


def _path(template: str, ids: list[str]) -> st.SearchStrategy:
    names = re.findall(r"{(\w+)}", template)
    value = st.one_of(st.sampled_from(ids), st.text(max_size=24)) if ids else st.text(max_size=24)

    def fill(values: list[str]) -> str:
        path = template
        for name, raw in zip(names, values, strict=True):
            path = path.replace("{" + name + "}", quote(raw, safe=""), 1)
        return path

    return st.lists(value, min_size=len(names), max_size=len(names)).map(fill)


# A header's value: no control characters (the HTTP client refuses them before sending).
_HEADER_TEXT = st.characters(exclude_categories=["Cc", "Cs"])
_KEY = st.one_of(
    st.none(),
    st.just(""),
    st.text(_HEADER_TEXT, max_size=8),
    st.text(_HEADER_TEXT, min_size=90, max_size=130),
)


def requests_for(
    document: dict[str, Any], path: str, method: str, ids: list[str], examples: int
) -> list[Request]:
    """`examples` requests for one operation, the same ones on every run."""
    spec = document["paths"][path][method]
    components = document["components"]["schemas"]
    body_schema = spec.get("requestBody", {}).get("content", {}).get("application/json", {})
    bodies = _body(body_schema["schema"], components) if body_schema else st.none()
    # Idempotency-Key is read by the creating routes: absent, empty, short or too long.
    keyed = method == "post"
    strategy = st.builds(
        lambda p, q, b, k: Request(
            method.upper(), p, q, b, {"Idempotency-Key": k} if keyed and k is not None else {}
        ),
        _path(path, ids),
        _query(spec["parameters"], components),
        bodies,
        _KEY,
    )
    drawn: list[Request] = []

    @settings(
        max_examples=examples,
        derandomize=True,
        database=None,
        deadline=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(strategy)
    def collect(request: Request) -> None:
        drawn.append(request)

    collect()
    return drawn


# --- what another caller can see ------------------------------------------------------------

Snapshot = dict[str, dict[tuple[Any, ...], tuple[Any, ...]]]


async def snapshot(db: Database, skip: frozenset[str]) -> Snapshot:
    """Every row of every table but `skip`, by primary key."""
    taken: Snapshot = {}
    async with db.read() as conn:
        for table in tables.metadata.sorted_tables:
            if table.name in skip:
                continue
            keys = [c.name for c in table.primary_key.columns] or [c.name for c in table.columns]
            rows = (await conn.execute(select(table))).mappings().all()
            taken[table.name] = {tuple(row[k] for k in keys): tuple(row.values()) for row in rows}
    return taken


def changed(before: Snapshot, after: Snapshot) -> list[str]:
    """The rows of `before` that are gone or different in `after` (new rows are the caller's)."""
    return [
        f"{name} {key}: {row} -> {after[name].get(key)}"
        for name, rows in before.items()
        for key, row in rows.items()
        if after[name].get(key) != row
    ]
