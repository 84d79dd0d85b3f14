"""What a sent file is, and keeping it: the type by its first bytes (never by its name or the
sender's Content-Type), images re-encoded without their EXIF (GPS position, phone model) when
Pillow is there, and the bytes stored under a random name outside the served directories.
"""

from __future__ import annotations

import asyncio
import hashlib
import io
import re
import secrets
import unicodedata
from dataclasses import dataclass
from pathlib import Path

from aiohttp import web

from bot.api import ApiError

# Allowed types, each recognised by its signature: photos (the error screen, the damaged part)
# and PDF (an invoice for the 三包 check). Nothing that a browser would run: no HTML, SVG, JS.
IMAGE_TYPES = ("image/jpeg", "image/png", "image/gif", "image/webp")
ALLOWED_TYPES = (*IMAGE_TYPES, "application/pdf")
EXTENSIONS = {
    "image/jpeg": ".jpg",
    "image/png": ".png",
    "image/gif": ".gif",
    "image/webp": ".webp",
    "application/pdf": ".pdf",
}
# A photo larger than this many pixels is refused before it is decoded (decompression bombs).
MAX_PIXELS = 50_000_000
CHUNK = 64 * 1024
_UNSAFE_NAME = re.compile(r"[^\w.\- ()\[\]（）]+")


def sniff(head: bytes) -> str | None:
    """The allowed type these first bytes begin, or None."""
    if head.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if head[:6] in (b"GIF87a", b"GIF89a"):
        return "image/gif"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image/webp"
    if head.startswith(b"%PDF-"):
        return "application/pdf"
    return None


def is_image(content_type: str) -> bool:
    return content_type in IMAGE_TYPES


def clean_name(raw: str | None, content_type: str) -> str:
    """A display name safe in a header and a page: no path, no control characters, at most 80
    characters, with the extension of the sniffed type (a .html name cannot come back)."""
    name = unicodedata.normalize("NFC", (raw or "").replace("\\", "/").rsplit("/", 1)[-1])
    stem = _UNSAFE_NAME.sub("_", name.rsplit(".", 1)[0] if "." in name else name).strip(" ._")
    return (stem[:80] or "file") + EXTENSIONS[content_type]


async def read_limited(request: web.Request, limit: int) -> bytes:
    """The request body, refused with 413 as soon as it passes `limit` (the app's own body limit
    is for JSON; an upload is streamed and counted here instead)."""
    declared = request.content_length
    if declared is not None and declared > limit:
        raise too_large(limit)
    parts: list[bytes] = []
    size = 0
    while chunk := await request.content.read(CHUNK):
        size += len(chunk)
        if size > limit:
            raise too_large(limit)
        parts.append(chunk)
    if size == 0:
        raise ApiError(400, "empty_file", "the request carries no file")
    return b"".join(parts)


def too_large(limit: int) -> ApiError:
    return ApiError(
        413, "file_too_large", f"files up to {limit // (1024 * 1024)} MB", extra={"limit": limit}
    )


def _strip_image(data: bytes, content_type: str) -> bytes:
    """The photo re-encoded without metadata, turned upright first (the EXIF orientation is
    lost with the EXIF). GIFs are kept as they are: they carry no EXIF and may be animated."""
    try:
        from PIL import Image, ImageOps, UnidentifiedImageError
    except ImportError:  # pragma: no cover - Pillow comes with Rasa's dependencies
        return data
    try:
        with Image.open(io.BytesIO(data)) as image:
            width, height = image.size
            if width * height > MAX_PIXELS:
                raise ApiError(422, "image_too_large", "the picture has too many pixels")
            if content_type == "image/gif":
                image.verify()
                return data
            upright = ImageOps.exif_transpose(image)
            out = io.BytesIO()
            fmt = {"image/jpeg": "JPEG", "image/png": "PNG", "image/webp": "WEBP"}[content_type]
            if fmt == "JPEG" and upright.mode not in ("RGB", "L"):
                upright = upright.convert("RGB")
            # Only pixels are written: no exif=, icc or text chunks are passed on.
            upright.save(out, fmt, quality=90)
            return out.getvalue()
    except Image.DecompressionBombError as exc:
        raise ApiError(422, "image_too_large", "the picture has too many pixels") from exc
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        raise ApiError(422, "broken_image", "the picture cannot be read") from exc


@dataclass(frozen=True)
class Checked:
    content_type: str
    data: bytes
    sha256: str


def check(data: bytes) -> Checked:
    """The file's sniffed type and its bytes as they will be kept; 415 for any other type."""
    content_type = sniff(data[:16])
    if content_type is None:
        raise ApiError(
            415,
            "unsupported_file_type",
            "only photos (JPEG, PNG, GIF, WebP) and PDF files can be sent",
        )
    if is_image(content_type):
        data = _strip_image(data, content_type)
    return Checked(content_type, data, hashlib.sha256(data).hexdigest())


async def checked(data: bytes) -> Checked:
    """`check` off the event loop (decoding and re-encoding a photo takes tens of ms)."""
    return await asyncio.to_thread(check, data)


def new_id() -> str:
    return secrets.token_urlsafe(16)


async def store(directory: Path, data: bytes) -> str:
    """Write the bytes under a fresh random name (no extension: nothing about the name makes
    any server run or render it) and return that name."""
    name = secrets.token_hex(24)

    def write() -> None:
        directory.mkdir(parents=True, exist_ok=True)
        path = directory / name
        with path.open("xb") as out:
            out.write(data)
        path.chmod(0o600)

    await asyncio.to_thread(write)
    return name


async def fetch(directory: Path, stored_as: str) -> bytes:
    if not re.fullmatch(r"[0-9a-f]{48}", stored_as):
        raise ApiError(404, "not_found", "no such file")
    try:
        return await asyncio.to_thread((directory / stored_as).read_bytes)
    except FileNotFoundError as exc:
        raise ApiError(404, "not_found", "the file is gone") from exc
