"""A customer's photo in Telegram against the whole running system and the fake Bot API: the
channel downloads it (getFile, then the file URL), the backend keeps it without its EXIF, the
agent holding the conversation sees it in the transcript and opens it; the agent's photo
reaches Telegram as a photo. Sent to the bot, a photo is acknowledged.
"""

from __future__ import annotations

import asyncio
import io
from collections.abc import AsyncIterator

import aiohttp
import pytest
import yaml
from PIL import Image

from tests.support.desk import DeskUser, create_account
from tests.support.fake_telegram import FakeTelegram
from tests.support.stack import ROOT, Stack
from tests.support.telegram_updates import deliver, message, new_chat, text_update, update_id

MAKER = "StarPhone-X9"
RESPONSES = yaml.safe_load((ROOT / "domain.yml").read_text(encoding="utf-8"))["responses"]


def phone_photo() -> bytes:
    exif = Image.Exif()
    exif[0x010F] = MAKER
    out = io.BytesIO()
    Image.new("RGB", (320, 240), (120, 60, 30)).save(out, "JPEG", exif=exif.tobytes())
    return out.getvalue()


def photo_update(chat: int, file_id: str) -> dict[str, object]:
    size = {"file_id": file_id, "file_unique_id": file_id, "width": 320, "height": 240}
    return {"update_id": update_id(), "message": message(chat, photo=[size])}


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as opened:
        yield opened


@pytest.fixture
async def agent(stack: Stack) -> AsyncIterator[DeskUser]:
    create_account(stack, "photo-agent", "张敏")
    user = await DeskUser.login(stack.backend_url, "photo-agent")
    yield user
    await user.close()


async def test_a_telegram_photo_reaches_the_agent(
    stack: Stack, session: aiohttp.ClientSession, agent: DeskUser, fake_telegram: FakeTelegram
) -> None:
    chat = new_chat()
    for words in ("我的打印机摔了一下，外壳裂了", "转人工"):
        assert (await deliver(session, stack, text_update(chat, words)))[0] == 200
    queue = await agent.ok("GET", "/desk/api/handoffs?scope=queue")
    [item] = [i for i in queue if i["conversation_id"] == str(chat)]
    await agent.ok("POST", f"/desk/api/handoffs/{item['id']}/claim")
    answered = len(fake_telegram.texts(chat))

    fake_telegram.add_file(f"crack{chat}", phone_photo())
    assert (await deliver(session, stack, photo_update(chat, f"crack{chat}")))[0] == 200
    opened = await agent.ok("GET", f"/desk/api/handoffs/{item['id']}")
    last = opened["transcript"][-1]
    assert last["kind"] == "customer" and last["text"].startswith("[photo] telegram-")
    attachment = last["attachment"]
    assert (attachment["content_type"], attachment["image"]) == ("image/jpeg", True)
    # The agent opens it: the photo without the phone's EXIF.
    async with agent.session.get(
        f"{stack.backend_url}/desk/api/attachments/{attachment['id']}"
    ) as reply:
        assert reply.status == 200
        assert reply.headers["X-Content-Type-Options"] == "nosniff"
        assert MAKER.encode() not in await reply.read()
    # The bot stays silent while the agent holds the conversation.
    await asyncio.sleep(0.5)
    assert len(fake_telegram.texts(chat)) == answered

    # Listed with the conversation's photos, which go with its work orders (booking one here
    # would shift the work-order ids the conversation stories expect on the stack's day:
    # tests/backend/test_attachments.py books one).
    [listed] = await agent.ok("GET", f"/desk/api/handoffs/{item['id']}/attachments")
    assert (listed["id"], listed["sender"], listed["work_order_ids"]) == (
        attachment["id"],
        "customer",
        [],
    )


async def test_a_photo_sent_to_the_bot_is_acknowledged(
    stack: Stack, session: aiohttp.ClientSession, fake_telegram: FakeTelegram
) -> None:
    chat = new_chat()
    fake_telegram.add_file(f"screen{chat}", phone_photo())
    assert (await deliver(session, stack, photo_update(chat, f"screen{chat}")))[0] == 200
    assert fake_telegram.texts(chat) == [RESPONSES["utter_attachment_received"][0]["text"]]
    assert any(c.method == "getFile" for c in fake_telegram.recorded("getFile"))
