"""Closed-loop load: many customers at once, each in a conversation of the usual journeys.

Starts the whole system as `make run` does (the project's endpoints.yml on a temporary demo
database: tests/support/stack.py), or uses a running Rasa given with `--url`. Each of N
workers runs one conversation after another under a fresh sender id, a turn as soon as the
previous answer came back (closed loop), for a fixed time per level. Prints per level: turns/s,
p50/p95/p99 latency, silent turns (200 with no reply), errors, each process's resident memory,
and the load average, since the machine may be shared and the figures move with it.

    python scripts/bench_load.py [--levels 1,16,64] [--seconds 30] [--url http://...:5005]
    python scripts/bench_load.py --scale-out [--processes 1,2]

`--scale-out` runs Rasa on endpoints.scale.yml's stores (PostgreSQL trackers, Redis locks,
RabbitMQ events; the backend on PostgreSQL too), in databases and a queue of its own on this
machine's servers, first with one Rasa process and its action server, then with more pairs.
The benchmark itself spreads the turns over the Rasa processes, round robin turn by turn,
as a load balancer would (so any process answers any turn of a conversation and Redis's
conversation lock is exercised), without a proxy process taking CPU on the same two cores.
In embedded mode the benchmark also restarts Rasa at the end and reports its cold start:
process start to the first answer.

With `--url`, the REST channel's token comes from REST_CHANNEL_TOKEN (`. var/secrets.env`)
and the channel's rate limits must admit the load (CHANNEL_RATE_PER_CLIENT, default 300/60,
would refuse most of it); memory is then reported for the processes given with `--pid`.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.support.database import REST_HEADERS
from tests.support.outages import RestartableStack, ScaleOut
from tests.support.stack import BIN, free_port

# The mix of the issue: one conversation each, in this order, round and round.
CONVERSATIONS: dict[str, tuple[str, ...]] = {
    "warranty": ("你好", "PF2K7Q9A 这台还在保修期内吗"),
    "diagnosis": ("打印机老是卡纸怎么办",),
    "locator": ("上海哪里有维修点",),
    "policy": ("笔记本买了五天能退货吗", "谢谢"),
    "authenticity": ("防伪码 4409 1187 2265 0031 查一下",),
    "chitchat": ("你是机器人吗",),
}
TIMEOUT = aiohttp.ClientTimeout(total=60)


@dataclass
class Tally:
    latencies: dict[str, list[float]] = field(default_factory=dict)
    silent: int = 0
    errors: int = 0
    error_samples: list[str] = field(default_factory=list)

    def add(self, name: str, ms: float) -> None:
        self.latencies.setdefault(name, []).append(ms)

    @property
    def all(self) -> list[float]:
        return [ms for values in self.latencies.values() for ms in values]

    def failed(self, why: str) -> None:
        self.errors += 1
        if len(self.error_samples) < 3:
            self.error_samples.append(why[:200])


def percentile(values: list[float], share: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


async def turn(
    session: aiohttp.ClientSession, url: str, headers: dict[str, str], sender: str, text: str
) -> tuple[float, int, object]:
    body = json.dumps({"sender": sender, "message": text}, ensure_ascii=False).encode()
    started = time.perf_counter()
    async with session.post(
        f"{url}/webhooks/rest/webhook", data=body, headers=headers, timeout=TIMEOUT
    ) as reply:
        replies = await reply.json(content_type=None)
    return (time.perf_counter() - started) * 1000, reply.status, replies


async def worker(
    session: aiohttp.ClientSession,
    urls: list[str],
    headers: dict[str, str],
    offset: int,
    deadline: float,
    tally: Tally,
) -> None:
    names = list(CONVERSATIONS)
    n = turns = offset
    while time.monotonic() < deadline:
        name = names[n % len(names)]
        n += 1
        sender = f"load-{name}-{uuid.uuid4().hex[:12]}"
        for text in CONVERSATIONS[name]:
            if time.monotonic() >= deadline:
                return
            url = urls[turns % len(urls)]  # round robin, turn by turn
            turns += 1
            try:
                ms, status, replies = await turn(session, url, headers, sender, text)
            except (aiohttp.ClientError, asyncio.TimeoutError) as exc:
                tally.failed(f"{name}: {type(exc).__name__}: {exc}")
                break
            if status != 200:
                tally.failed(f"{name}: HTTP {status} {replies}")
                break
            tally.add(f"{name}:{text[:6]}", ms)
            if not replies:
                tally.silent += 1


def rss_mb(pid: int) -> float:
    """Resident memory of a process and its children, in MB (Linux /proc)."""
    total = 0
    for proc in [pid, *_children(pid)]:
        try:
            status = Path(f"/proc/{proc}/status").read_text()
        except OSError:
            continue
        for line in status.splitlines():
            if line.startswith("VmRSS:"):
                total += int(line.split()[1])
    return total / 1024


def cpu_seconds(pid: int) -> float:
    """CPU time used so far by a process and its children (Linux /proc): per turn, it moves
    far less with the machine's other load than latency does."""
    total = 0
    for proc in [pid, *_children(pid)]:
        try:
            fields = Path(f"/proc/{proc}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / os.sysconf("SC_CLK_TCK")


def _children(pid: int) -> list[int]:
    try:
        tasks = Path(f"/proc/{pid}/task").iterdir()
        kids = [
            int(k)
            for task in tasks
            for k in (task / "children").read_text().split()
            if (task / "children").exists()
        ]
    except OSError:
        return []
    return kids + [grandchild for kid in kids for grandchild in _children(kid)]


async def level(urls: list[str], headers: dict[str, str], concurrent: int, seconds: float) -> Tally:
    tally = Tally()
    connector = aiohttp.TCPConnector(limit=concurrent + 4)
    async with aiohttp.ClientSession(connector=connector) as session:
        deadline = time.monotonic() + seconds
        await asyncio.gather(
            *(worker(session, urls, headers, i, deadline, tally) for i in range(concurrent))
        )
    return tally


async def warm_up(urls: list[str], headers: dict[str, str]) -> None:
    """Every journey once: first model calls, connection pools, lazy imports."""
    await level(urls, headers, len(CONVERSATIONS), 5)


def report_level(
    concurrent: int, seconds: float, tally: Tally, load: tuple[float, ...], cpu: dict[str, float]
) -> str:
    values = tally.all
    per_turn = " ".join(f"{1000 * used / max(1, len(values)):>6.0f}" for used in cpu.values())
    return (
        f"{concurrent:>5} {len(values):>6} {len(values) / seconds:>8.1f}"
        f" {percentile(values, 0.5):>7.0f} {percentile(values, 0.95):>7.0f}"
        f" {percentile(values, 0.99):>7.0f} {tally.silent:>6} {tally.errors:>6}"
        f" {per_turn}   {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}"
    )


def report_turns(tally: Tally) -> None:
    print(f"    {'turn':<22} {'n':>5} {'p50 ms':>7} {'p95 ms':>7}")
    for name, values in sorted(tally.latencies.items()):
        print(
            f"    {name:<22} {len(values):>5} {percentile(values, 0.5):>7.0f}"
            f" {percentile(values, 0.95):>7.0f}"
        )


async def run(
    urls: list[str],
    headers: dict[str, str],
    levels: list[int],
    seconds: float,
    pids: dict[str, int],
) -> None:
    await warm_up(urls, headers)
    print(f"cores {os.cpu_count()}; {seconds:.0f} s per level; load average = 1/5/15 min")
    print("latency in ms; CPU ms per turn of each process:", ", ".join(pids) or "none given")
    print(
        f"{'conv':>5} {'turns':>6} {'turns/s':>8} {'p50':>7} {'p95':>7} {'p99':>7}"
        f" {'silent':>6} {'errors':>6} {' '.join(f'{n[:6]:>6}' for n in pids)}   load average"
    )
    for concurrent in levels:
        before = {name: cpu_seconds(pid) for name, pid in pids.items()}
        tally = await level(urls, headers, concurrent, seconds)
        used = {name: cpu_seconds(pid) - before[name] for name, pid in pids.items()}
        print(report_level(concurrent, seconds, tally, os.getloadavg(), used), flush=True)
        if concurrent == 1:
            report_turns(tally)
        for sample in tally.error_samples:
            print(f"    error: {sample}")
    if pids:
        memory = {name: rss_mb(pid) for name, pid in pids.items()}
        parts = ", ".join(f"{name} {mb:.0f} MB" for name, mb in memory.items())
        print(f"resident memory: {parts}; together {sum(memory.values()):.0f} MB")


async def first_answer(url: str, headers: dict[str, str]) -> None:
    async with aiohttp.ClientSession() as session:
        await turn(session, url, headers, f"cold-{uuid.uuid4().hex[:8]}", "你好")


def embedded(levels: list[int], seconds: float, headers: dict[str, str]) -> None:
    with tempfile.TemporaryDirectory() as workdir:
        started = time.monotonic()
        stack = RestartableStack(Path(workdir), patience=1.0)
        stack.start()
        print(f"stack started in {time.monotonic() - started:.0f} s (seed, three processes)")
        try:
            pids = {name: stack.named[name].pid for name in ("backend", "actions", "rasa")}
            asyncio.run(run([stack.rasa_url], headers, levels, seconds, pids))
            stack.terminate("rasa")
            started = time.monotonic()
            stack.restart("rasa")
            asyncio.run(first_answer(stack.rasa_url, headers))
            print(f"cold start of Rasa: {time.monotonic() - started:.1f} s to the first answer")
        finally:
            stack.stop()


def scale_out(
    levels: list[int], seconds: float, counts: list[int], headers: dict[str, str]
) -> None:
    scale = ScaleOut(prefix="bench_load")
    scale.reset()
    with tempfile.TemporaryDirectory() as workdir:
        stack = RestartableStack(Path(workdir), scale=scale, patience=1.0)
        stack.start()
        urls, pids = [stack.rasa_url], {"backend": stack.named["backend"].pid}
        pids |= {"actions1": stack.named["actions"].pid, "rasa1": stack.named["rasa"].pid}
        try:
            for count in counts:
                while len(urls) < count:
                    # One more Rasa with its own action server, on the same shared stores.
                    n, actions_port, rasa_port = len(urls) + 1, free_port(), free_port()
                    stack._start(
                        f"actions{n}",
                        [
                            str(BIN / "python"),
                            "scripts/action_server.py",
                            "--actions",
                            "actions",
                            "--port",
                            str(actions_port),
                        ],
                        f"http://127.0.0.1:{actions_port}/health",
                        120,
                    )
                    pids[f"actions{n}"] = stack.processes[-1].pid
                    endpoints = Path(workdir) / f"endpoints{n}.yml"
                    endpoints.write_text(
                        scale.endpoints(f"http://127.0.0.1:{actions_port}/webhook"),
                        encoding="utf-8",
                    )
                    stack.start_rasa(endpoints, rasa_port)
                    pids[f"rasa{n}"] = stack.processes[-1].pid
                    urls.append(f"http://127.0.0.1:{rasa_port}")
                print(f"\n== scale-out, {count} Rasa process(es) with an action server each ==")
                asyncio.run(run(urls, headers, levels, seconds, pids))
        finally:
            stack.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--levels", default="1,16,64")
    parser.add_argument("--seconds", type=float, default=30)
    parser.add_argument("--url", help="a running Rasa; by default a stack is started")
    parser.add_argument("--pid", action="append", default=[], help="NAME=PID, with --url")
    parser.add_argument("--scale-out", action="store_true", help="PostgreSQL, Redis, RabbitMQ")
    parser.add_argument("--processes", default="1,2", help="Rasa processes, with --scale-out")
    args = parser.parse_args()
    levels = [int(n) for n in args.levels.split(",")]
    if args.url:
        token = os.environ.get("REST_CHANNEL_TOKEN", "")
        headers = {"Content-Type": "application/json", "Authorization": f"Bearer {token}"}
        pids = {name: int(pid) for name, _, pid in (p.partition("=") for p in args.pid)}
        asyncio.run(run([args.url.rstrip("/")], headers, levels, args.seconds, pids))
        return
    headers = {"Content-Type": "application/json"} | REST_HEADERS
    if args.scale_out:
        counts = [int(n) for n in args.processes.split(",")]
        scale_out(levels, args.seconds, counts, headers)
    else:
        embedded(levels, args.seconds, headers)


if __name__ == "__main__":
    main()
