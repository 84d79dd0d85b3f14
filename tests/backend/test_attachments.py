"""Photos and files in a conversation (bot/attachments), in-process against a fake Rasa: the
type is sniffed, never believed; the size is limited; EXIF is stripped; each route admits its
audience only (the customer of the conversation, the staff who may see it, the holder to
send); a photo goes with the conversation's work orders, booked before or after; the agent's
file reaches the customer through Rasa; typing signals both ways.
"""

from __future__ import annotations

import asyncio
import io
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import TestClient
from PIL import Image

from bot.app import create_app
from bot.clock import Clock
from bot.contracts.chat_tokens import new_session_id
from bot.db import Database
from bot.desk.accounts import COOKIE, CSRF_HEADER, Role, create_account
from bot.desk.broker import line_of
from bot.settings import Settings
from tests.support.chat import CHAT_SECRET, token_for
from tests.support.database import API_HEADERS
from tests.support.fake_rasa import FakeRasa, ServerFactory

MAKER = "StarPhone-X9"
PASSWORD = "attachment-test-password"
STAFF: dict[str, tuple[str, Role]] = {
    "zhang": ("张敏", "agent"),
    "li": ("李强", "agent"),
    "wang": ("王芳", "supervisor"),
}


@dataclass
class Staffer:
    """One logged-in desk user, as the desk page is one: session cookie and CSRF header."""

    client: TestClient
    name: str
    cookie: str = ""
    csrf: str = ""

    async def call(self, method: str, path: str, *, csrf: bool = True) -> tuple[int, Any]:
        headers = {"Cookie": f"{COOKIE}={self.cookie}"}
        if csrf:
            headers[CSRF_HEADER] = self.csrf
        async with self.client.request(method, path, headers=headers) as reply:
            return reply.status, await reply.json()

    async def ok(self, method: str, path: str, body: Any = None) -> Any:
        headers = {"Cookie": f"{COOKIE}={self.cookie}", CSRF_HEADER: self.csrf}
        async with self.client.request(method, path, json=body, headers=headers) as reply:
            answer = await reply.json()
            assert reply.status < 300, (method, path, reply.status, answer)
            return answer

    async def refused(self, method: str, path: str) -> tuple[int, str]:
        status, answer = await self.call(method, path)
        assert status >= 400, (method, path, status, answer)
        return status, answer["error"]["code"]

    async def socket(self) -> aiohttp.ClientWebSocketResponse:
        return await self.client.ws_connect(
            "/desk/ws", headers={"Cookie": f"{COOKIE}={self.cookie}"}
        )


def jpeg_with_exif() -> bytes:
    image = Image.new("RGB", (64, 48), (200, 30, 30))
    exif = Image.Exif()
    exif[0x010F] = MAKER  # Make
    exif[0x0131] = "secret-software"  # Software
    out = io.BytesIO()
    image.save(out, "JPEG", exif=exif.tobytes())
    return out.getvalue()


def png() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (8, 8), (0, 90, 200)).save(out, "PNG")
    return out.getvalue()


PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


@pytest.fixture
async def rasa(aiohttp_server: ServerFactory) -> FakeRasa:
    return await FakeRasa.start(aiohttp_server)


@pytest.fixture
def files_dir(tmp_path: Path) -> Path:
    return tmp_path / "attachments"


@pytest.fixture
async def backend(
    aiohttp_client: Any, settings: Settings, clock: Clock, rasa: FakeRasa, files_dir: Path
) -> TestClient:
    app = create_app(
        replace(
            settings,
            rasa_url=rasa.url,
            chat_secret=CHAT_SECRET,
            attachments_dir=files_dir,
            attachment_max_bytes=200_000,
        ),
        clock,
    )
    client: TestClient = await aiohttp_client(
        app, cookie_jar=aiohttp.DummyCookieJar(), headers=API_HEADERS
    )
    return client


@pytest.fixture
async def staff(backend: TestClient, db: Database, clock: Clock) -> dict[str, Staffer]:
    """张敏 and 李强 (agents) and 王芳 (supervisor), logged in (as in test_desk.py)."""
    async with db.write() as conn:
        for username, (name, role) in STAFF.items():
            await create_account(conn, username, name, role, PASSWORD, Clock.to_db(clock.now()))
    users = {}
    for username, (name, _) in STAFF.items():
        reply = await backend.post(
            "/desk/api/login", json={"username": username, "password": PASSWORD}
        )
        me = await reply.json()
        users[username] = Staffer(backend, name, reply.cookies[COOKIE].value, me["csrf_token"])
    return users


def kept_files(directory: Path) -> list[Path]:
    return list(directory.iterdir()) if directory.exists() else []


class Customer:
    def __init__(self, backend: TestClient) -> None:
        self.backend = backend
        self.conversation = new_session_id()
        self.auth = {"Authorization": f"Bearer {token_for(self.conversation)}"}

    async def upload(self, data: bytes, name: str = "photo.jpg") -> tuple[int, Any]:
        async with self.backend.post(
            f"/api/chat/attachments?name={name}", data=data, headers=self.auth
        ) as reply:
            return reply.status, await reply.json()

    async def open(self, attachment: str) -> aiohttp.ClientResponse:
        reply = await self.backend.get(f"/api/chat/attachments/{attachment}", headers=self.auth)
        await reply.read()
        return reply


async def hand_off(backend: TestClient, rasa: FakeRasa, customer: Customer) -> str:
    rasa.events[customer.conversation] += [
        {"event": "user", "text": "转人工", "timestamp": 1.0},
        {"event": "pause"},
    ]
    reply = await backend.post(
        "/api/handoffs",
        json={
            "conversation_id": customer.conversation,
            "channel": "webchat",
            "reason": "requested",
        },
    )
    assert reply.status == 201, await reply.text()
    return str((await reply.json())["id"])


async def desk_get(staffer: Staffer, path: str) -> int:
    headers = {"Cookie": f"{COOKIE}={staffer.cookie}"} if staffer.cookie else {}
    async with staffer.client.get(path, headers=headers) as reply:
        await reply.read()
        return reply.status


async def desk_send(staffer: Staffer, handoff: str, data: bytes, name: str) -> tuple[int, Any]:
    headers = {"Cookie": f"{COOKIE}={staffer.cookie}", CSRF_HEADER: staffer.csrf}
    async with staffer.client.post(
        f"/desk/api/handoffs/{handoff}/attachments?name={name}", data=data, headers=headers
    ) as reply:
        return reply.status, await reply.json()


# --- what is kept ------------------------------------------------------------------------


async def test_a_photo_is_kept_without_its_exif_under_a_random_name(
    backend: TestClient, files_dir: Path
) -> None:
    customer = Customer(backend)
    original = jpeg_with_exif()
    assert MAKER.encode() in original
    status, sent = await customer.upload(original, "../../etc/IMG_0001.JPG")
    assert status == 201, sent
    assert (sent["content_type"], sent["image"]) == ("image/jpeg", True)
    assert sent["name"] == "IMG_0001.jpg"
    [kept] = kept_files(files_dir)
    assert kept.name != sent["id"] and "IMG" not in kept.name and not kept.suffix
    stored = kept.read_bytes()
    assert MAKER.encode() not in stored and b"secret-software" not in stored
    with Image.open(io.BytesIO(stored)) as image:
        assert image.size == (64, 48) and not dict(image.getexif())

    reply = await customer.open(sent["id"])
    assert reply.status == 200
    assert reply.headers["Content-Type"] == "image/jpeg"
    assert reply.headers["X-Content-Type-Options"] == "nosniff"
    assert reply.headers["Content-Disposition"] == "inline; filename*=UTF-8''IMG_0001.jpg"
    assert "sandbox" in reply.headers["Content-Security-Policy"]
    assert await reply.read() == stored


async def test_the_type_is_sniffed_from_the_bytes_not_the_name(backend: TestClient) -> None:
    customer = Customer(backend)
    html = b"<html><script>alert(1)</script></html>"
    svg = b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>'
    for data, name in [(html, "photo.jpg"), (svg, "photo.svg"), (b"MZ\x90\x00", "a.pdf")]:
        status, answer = await customer.upload(data, name)
        assert (status, answer["error"]["code"]) == (415, "unsupported_file_type"), name
    status, answer = await customer.upload(b"\xff\xd8\xff\xe0" + b"garbage" * 20, "x.jpg")
    assert (status, answer["error"]["code"]) == (422, "broken_image")
    status, answer = await customer.upload(b"", "x.jpg")
    assert (status, answer["error"]["code"]) == (400, "empty_file")
    # A real PNG named as a page comes back as a PNG, and a PDF is a download.
    status, sent = await customer.upload(png(), "evil.html")
    assert (status, sent["name"], sent["content_type"]) == (201, "evil.png", "image/png")
    status, sent = await customer.upload(PDF, "发票.pdf")
    assert (status, sent["content_type"], sent["image"]) == (201, "application/pdf", False)
    reply = await customer.open(sent["id"])
    assert reply.headers["Content-Disposition"].startswith("attachment;")
    assert reply.headers["X-Content-Type-Options"] == "nosniff"


async def test_files_over_the_limit_are_refused(backend: TestClient, files_dir: Path) -> None:
    customer = Customer(backend)
    status, answer = await customer.upload(PDF + b"0" * 200_001, "big.pdf")
    assert (status, answer["error"]["code"]) == (413, "file_too_large")
    assert kept_files(files_dir) == []


async def test_a_picture_of_too_many_pixels_is_refused_before_it_is_decoded(
    backend: TestClient,
) -> None:
    out = io.BytesIO()
    Image.new("1", (10_000, 6_000)).save(out, "PNG")  # 60 million pixels in a few KB
    status, answer = await Customer(backend).upload(out.getvalue(), "bomb.png")
    assert (status, answer["error"]["code"]) == (422, "image_too_large")


async def test_a_conversation_sends_at_most_twenty_files_an_hour(backend: TestClient) -> None:
    customer, other = Customer(backend), Customer(backend)
    for _ in range(20):
        assert (await customer.upload(png(), "p.png"))[0] == 201
    status, answer = await customer.upload(png(), "p.png")
    assert (status, answer["error"]["code"]) == (429, "too_many_files")
    assert (await other.upload(png(), "p.png"))[0] == 201


# --- who opens what ----------------------------------------------------------------------


async def test_only_the_customer_and_the_staff_who_see_the_conversation_open_its_photo(
    backend: TestClient, rasa: FakeRasa, staff: dict[str, Staffer]
) -> None:
    customer, stranger = Customer(backend), Customer(backend)
    _, sent = await customer.upload(jpeg_with_exif())
    path = f"/api/chat/attachments/{sent['id']}"
    assert (await stranger.open(sent["id"])).status == 403
    assert (await backend.get(path, headers={"Authorization": ""})).status == 401
    assert (await backend.get(path, headers={"Authorization": "Bearer forged"})).status == 401
    desk_path = f"/desk/api/attachments/{sent['id']}"
    zhang, li, wang = staff["zhang"], staff["li"], staff["wang"]
    # No handoff yet: the conversation is the bot's, no agent's.
    assert await desk_get(zhang, desk_path) == 403
    handoff = await hand_off(backend, rasa, customer)
    assert await desk_get(zhang, desk_path) == 200  # in the queue: every agent sees it
    await zhang.ok("POST", f"/desk/api/handoffs/{handoff}/claim")
    assert await desk_get(zhang, desk_path) == 200
    assert await desk_get(li, desk_path) == 403  # a colleague's conversation
    assert await desk_get(wang, desk_path) == 200  # supervisors see every one
    nobody = Staffer(backend, "nobody")
    assert await desk_get(nobody, desk_path) == 401
    # The customer's chat token opens no desk route; a desk session no customer route.
    reply = await backend.get(desk_path, headers=customer.auth)
    assert reply.status == 401
    listed = await li.call("GET", f"/desk/api/handoffs/{handoff}/attachments")
    assert listed[0] == 403
    [row] = await zhang.ok("GET", f"/desk/api/handoffs/{handoff}/attachments")
    assert (row["id"], row["sender"]) == (sent["id"], "customer")


async def test_the_holder_sends_the_customer_a_file_through_rasa(
    backend: TestClient, rasa: FakeRasa, staff: dict[str, Staffer]
) -> None:
    customer = Customer(backend)
    handoff = await hand_off(backend, rasa, customer)
    zhang, li = staff["zhang"], staff["li"]
    status, answer = await desk_send(zhang, handoff, png(), "接线图.png")
    assert (status, answer["error"]["code"]) == (409, "not_holding")
    await zhang.ok("POST", f"/desk/api/handoffs/{handoff}/claim")
    status, answer = await desk_send(li, handoff, png(), "接线图.png")
    assert (status, answer["error"]["code"]) == (409, "not_holding")
    reply = await backend.post(
        f"/desk/api/handoffs/{handoff}/attachments", data=png(), headers=customer.auth
    )
    assert reply.status == 401
    status, sent = await desk_send(zhang, handoff, png(), "接线图.png")
    assert status == 201, sent
    said = [e for e in rasa.events[customer.conversation] if e.get("event") == "bot"][-1]
    assert said["text"] == "接线图.png"
    assert said["data"]["custom"]["attachment"]["id"] == sent["id"]
    assert said["metadata"]["desk_agent"] == "张敏"
    # The customer opens it; the desk's transcript shows it with the agent's line.
    assert (await customer.open(sent["id"])).status == 200
    conversation = await zhang.ok("GET", f"/desk/api/handoffs/{handoff}")
    assert conversation["transcript"][-1]["attachment"]["id"] == sent["id"]


async def test_a_photo_in_the_customers_message_reaches_the_desk_transcript_and_feed(
    backend: TestClient, rasa: FakeRasa, staff: dict[str, Staffer]
) -> None:
    customer = Customer(backend)
    _, sent = await customer.upload(jpeg_with_exif())
    handoff = await hand_off(backend, rasa, customer)
    event = {
        "event": "user",
        "text": "/share_attachment",
        "timestamp": 5.0,
        "metadata": {"display": "[图片] photo.jpg", "attachment": sent},
    }
    rasa.events[customer.conversation].append(event)
    line = line_of(customer.conversation, event)
    assert line is not None and line.data == {"attachment": sent}
    assert line.words == "[图片] photo.jpg"
    conversation = await staff["zhang"].ok("GET", f"/desk/api/handoffs/{handoff}")
    assert conversation["transcript"][-1]["attachment"]["id"] == sent["id"]


async def test_photos_go_with_the_conversations_work_orders_booked_before_or_after(
    backend: TestClient, rasa: FakeRasa, staff: dict[str, Staffer]
) -> None:
    customer = Customer(backend)
    _, photo = await customer.upload(jpeg_with_exif())
    handoff = await hand_off(backend, rasa, customer)
    zhang = staff["zhang"]
    await zhang.ok("POST", f"/desk/api/handoffs/{handoff}/claim")
    booking = {"kind": "drop_off", "fault": "屏幕碎裂", "station_code": "BJ01"}
    booking |= {"slot_date": "2026-11-25", "slot_start": "09:00"}
    order = (await zhang.ok("POST", f"/desk/api/handoffs/{handoff}/workorders", booking))["id"]
    _, later = await customer.upload(png(), "after.png")
    reply = await backend.get(f"/api/workorders/{order}/attachments")
    assert reply.status == 200
    listed = await reply.json()
    # (The test's clock stands still: both were sent at the same moment.)
    assert {a["id"] for a in listed} == {photo["id"], later["id"]}
    assert all(a["work_order_ids"] == [order] for a in listed)
    # The internal API needs its token.
    reply = await backend.get(f"/api/workorders/{order}/attachments", headers={"Authorization": ""})
    assert reply.status == 401
    other = await backend.get("/api/workorders/WO20990101-0001/attachments")
    assert other.status == 404


async def test_a_channel_keeps_its_customers_file_with_the_internal_token(
    backend: TestClient,
) -> None:
    path = "/api/attachments?conversation_id=123456&channel=telegram&name=p.jpg"
    reply = await backend.post(path, data=jpeg_with_exif(), headers={"Authorization": ""})
    assert reply.status == 401
    reply = await backend.post(path, data=jpeg_with_exif())
    assert reply.status == 201
    assert (await reply.json())["sender"] == "customer"


# --- typing ------------------------------------------------------------------------------


async def test_typing_signals_go_both_ways_to_those_in_the_conversation_only(
    backend: TestClient, rasa: FakeRasa, staff: dict[str, Staffer]
) -> None:
    customer = Customer(backend)
    handoff = await hand_off(backend, rasa, customer)
    zhang, li = staff["zhang"], staff["li"]
    await zhang.ok("POST", f"/desk/api/handoffs/{handoff}/claim")
    mine, colleague = await zhang.socket(), await li.socket()
    try:
        reply = await backend.post("/api/chat/typing", headers=customer.auth)
        assert (reply.status, await reply.json()) == (202, {"delivered": True})
        signal = await _next_typing(mine)
        assert signal == {"kind": "typing", "who": "customer", "handoff_id": handoff}
        with pytest.raises(asyncio.TimeoutError):
            await _next_typing(colleague, 0.5)
        # Throttled: a second signal at once goes nowhere.
        reply = await backend.post("/api/chat/typing", headers=customer.auth)
        assert (await reply.json()) == {"delivered": False}
    finally:
        await mine.close()
        await colleague.close()
    assert (await backend.post("/api/chat/typing", headers={"Authorization": ""})).status == 401

    assert await li.refused("POST", f"/desk/api/handoffs/{handoff}/typing") == (409, "not_holding")
    assert await zhang.ok("POST", f"/desk/api/handoffs/{handoff}/typing") == {"delivered": True}
    assert rasa.typing == [{"conversation_id": customer.conversation, "agent": "张敏"}]
    status, _ = await zhang.call("POST", f"/desk/api/handoffs/{handoff}/typing", csrf=False)
    assert status == 403


async def _next_typing(socket: aiohttp.ClientWebSocketResponse, seconds: float = 5) -> Any:
    async def read() -> Any:
        while True:
            message = await socket.receive_json()
            if message.get("kind") == "typing":
                return message

    return await asyncio.wait_for(read(), seconds)
