"""What every endpoint shares: JSON errors for bad requests, the OpenAPI document, health."""

from __future__ import annotations

from aiohttp.test_utils import TestClient

from tests.support.api import call, error_code


async def test_health(api: TestClient) -> None:
    # No Rasa runs here: serving, degraded. The details are internal (tests/backend/test_health.py).
    assert await call(api, "GET", "/api/health", 200) == {"status": "degraded"}


async def test_unknown_routes_and_methods_answer_json(api: TestClient) -> None:
    assert await error_code(api, "GET", "/api/nothing-here", 404) == "not_found"
    assert await error_code(api, "DELETE", "/api/workorders", 405) == "method_not_allowed"


async def test_malformed_bodies(api: TestClient) -> None:
    path = "/api/warranty/verdict"
    assert await error_code(api, "POST", path, 400, data=b"{not json") == "invalid_json"
    assert await error_code(api, "POST", path, 400, data=b"") == "empty_body"
    assert await error_code(api, "POST", path, 400, json=["PF2K7Q9A"]) == "invalid_json"
    assert await error_code(api, "POST", path, 400, data=b"\xff\xfe\x00") == "invalid_json"
    body = await call(api, "POST", path, 422, json={"serial": "PF2K7Q9A", "on_date": "someday"})
    assert body["error"]["fields"] == [{"field": "on_date", "message": "invalid date format"}]


async def test_an_oversize_body_is_refused_before_it_is_read(api: TestClient) -> None:
    huge = {"text": "投" * 100_000}
    assert await error_code(api, "POST", "/api/complaints", 413, json=huge) == "body_too_large"


async def test_emoji_and_odd_text_are_stored_as_given(api: TestClient) -> None:
    text = "打印机又卡纸了😡😡 ＡＢＣ 印表機 \u200b"
    created = await call(api, "POST", "/api/complaints", 201, json={"text": text})
    assert created["text"] == text.strip()


async def test_openapi_document_describes_every_operation(api: TestClient) -> None:
    doc = await call(api, "GET", "/api/openapi.json", 200)
    assert doc["openapi"].startswith("3.")
    ops = [(path, method) for path, item in doc["paths"].items() for method in item]
    assert ("/api/warranty/verdict", "post") in ops
    assert ("/api/workorders/{id}/reschedule", "post") in ops
    assert len(ops) >= 30
    schemas = doc["components"]["schemas"]
    for item in doc["paths"].values():
        for spec in item.values():
            ok = next(code for code in spec["responses"] if code.startswith("2"))
            media = spec["responses"][ok]["content"]
            if "application/json" not in media:  # a download: a file of its media type
                assert {m["schema"]["format"] for m in media.values()} == {"binary"}
                continue
            content = media["application/json"]["schema"]
            ref = content.get("$ref") or content["items"]["$ref"]
            assert ref.rsplit("/", 1)[1] in schemas
    assert doc["paths"]["/api/stations"]["get"]["parameters"][0]["name"] == "city"
