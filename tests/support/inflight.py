"""A request in flight while a process is told to stop, and how long the process takes.

The request is a real one sent slowly, as a customer on a weak mobile connection sends it:
the headers and most of the body first, the last bytes when the test says. Between the two the
server holds a request it has started and cannot finish; that is when the test sends SIGTERM.
"""

from __future__ import annotations

import http.client
import json
import signal
import socket
import subprocess
import time
from dataclasses import dataclass, field
from typing import Any


@dataclass
class SlowRequest:
    port: int
    method: str
    path: str
    body: Any
    headers: dict[str, str] = field(default_factory=dict)
    held_back: int = 1
    """Bytes of the body sent only by `finish()`."""
    sock: socket.socket | None = None

    @property
    def payload(self) -> bytes:
        return json.dumps(self.body, ensure_ascii=False).encode()

    def start(self) -> SlowRequest:
        payload = self.payload
        head = [f"{self.method} {self.path} HTTP/1.1", f"Host: 127.0.0.1:{self.port}"]
        head += [f"{k}: {v}" for k, v in self.headers.items()]
        head += ["Content-Type: application/json", f"Content-Length: {len(payload)}"]
        self.sock = socket.create_connection(("127.0.0.1", self.port), timeout=30)
        self.sock.sendall(("\r\n".join(head) + "\r\n\r\n").encode() + payload[: -self.held_back])
        return self

    def finish(self) -> tuple[int, Any]:
        """Send the rest and read the answer: (status, JSON body)."""
        assert self.sock is not None
        self.sock.sendall(self.payload[-self.held_back :])
        reply = http.client.HTTPResponse(self.sock)
        try:
            reply.begin()
            return reply.status, json.loads(reply.read() or b"null")
        finally:
            reply.close()
            self.sock.close()

    def answer_or_none(self) -> bytes:
        """What the server sent (b"" when it closed without an answer), without finishing."""
        assert self.sock is not None
        try:
            return self.sock.recv(65536)
        except (ConnectionError, TimeoutError):
            return b""
        finally:
            self.sock.close()


def refuses(port: int, within: float = 3.0) -> bool:
    """True once nothing accepts connections on the port any more."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
        except OSError:
            return True
        time.sleep(0.05)
    return False


def terminate(process: subprocess.Popen[bytes]) -> float:
    """Send SIGTERM; the moment it was sent (time.monotonic())."""
    sent = time.monotonic()
    process.send_signal(signal.SIGTERM)
    return sent


def exit_after(process: subprocess.Popen[bytes], sent: float, limit: float = 10.0) -> float:
    """Seconds from `sent` until the process exited (killed, and the test failed, after
    `limit` + 5 s)."""
    try:
        process.wait(timeout=max(0.0, sent + limit + 5 - time.monotonic()))
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
        raise AssertionError(f"still running {limit + 5:.0f} s after SIGTERM") from None
    return time.monotonic() - sent
