"""Small helpers for talking to the backend in tests."""

from __future__ import annotations

from typing import Any

from aiohttp.test_utils import TestClient


async def call(api: TestClient, method: str, path: str, expect: int, **kwargs: Any) -> Any:
    """Make a request and check its status; the JSON body is returned."""
    resp = await api.request(method, path, **kwargs)
    body = await resp.json()
    assert resp.status == expect, f"{method} {path}: {resp.status} {body}"
    assert resp.content_type == "application/json"
    return body


async def error_code(api: TestClient, method: str, path: str, expect: int, **kwargs: Any) -> str:
    body = await call(api, method, path, expect, **kwargs)
    assert body["error"]["message"]
    code: str = body["error"]["code"]
    return code
