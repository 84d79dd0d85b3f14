"""NLU benchmark: the project's own config.yml pipeline on public Chinese data sets.

For each set in ../shared/benchmarks/nlu/ (or --benchmarks DIR), and for the project's own
held-out set (tests/nlu/test_nlu.yml, against a model trained on data/nlu): train the
pipeline, parse every test example in process, and report
  - intent accuracy and weighted F1 of the pipeline's final answer (a message the
    FallbackClassifier hands to the fallback counts as wrong), and of the classifier's
    own top intent (fallback ignored), and the fallback rate;
  - entity F1: exact (type, start, end) spans, micro-averaged over all entity types;
  - training time and parse latency (p50, p95) on this machine.
Then it times the training of the project's full model (NLU and dialogue).

    python scripts/bench_nlu.py [--sets CheckFlow SMP2019 project] [--skip-full]
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from sklearn.metrics import accuracy_score, f1_score

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_BENCHMARKS = ROOT.parent / "shared" / "benchmarks" / "nlu"
RASA = str(Path(sys.executable).with_name("rasa"))
ANNOTATION = re.compile(r"\[([^\]]*)\]\(([^)]*)\)")


@dataclass
class Example:
    text: str
    intent: str
    entities: set[tuple[str, int, int]]


def examples(path: Path) -> list[Example]:
    """Test examples with their gold entity spans (annotation markup removed)."""
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    found = []
    for block in data["nlu"]:
        if "intent" not in block:
            continue
        for line in (block.get("examples") or "").splitlines():
            line = line.strip()
            if not line.startswith("- "):
                continue
            raw, text, spans, pos = line[2:], "", set(), 0
            for match in ANNOTATION.finditer(raw):
                text += raw[pos : match.start()]
                name = match.group(2).split(":")[0].strip('{}" ')
                if name.startswith("entity"):  # {"entity": "x", ...} form
                    name = re.sub(r'.*"entity"\s*:\s*"([^"]+)".*', r"\1", match.group(2))
                spans.add((name, len(text), len(text) + len(match.group(1))))
                text += match.group(1)
                pos = match.end()
            text += raw[pos:]
            found.append(Example(text, block["intent"], spans))
    return found


def run(args: list[str], log: Path) -> float:
    start = time.perf_counter()
    with log.open("a", encoding="utf-8") as out:
        done = subprocess.run(args, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT, check=False)
    if done.returncode != 0:
        sys.exit(f"{' '.join(args[:3])} failed; see {log}")
    return time.perf_counter() - start


async def evaluate(model: Path, tests: list[Example]) -> dict[str, Any]:
    from rasa.core.agent import Agent

    logging.disable(logging.WARNING)
    agent = Agent.load(str(model))
    for ex in tests[:20]:  # warm up
        await agent.parse_message(ex.text)
    final, top, latencies = [], [], []
    hits = predicted = gold = 0
    for ex in tests:
        start = time.perf_counter()
        parsed = await agent.parse_message(ex.text)
        latencies.append((time.perf_counter() - start) * 1000)
        final.append(parsed["intent"]["name"])
        top.append(next(r["name"] for r in parsed["intent_ranking"] if r["name"] != "nlu_fallback"))
        spans = {(e["entity"], e["start"], e["end"]) for e in parsed.get("entities", [])}
        hits += len(spans & ex.entities)
        predicted += len(spans)
        gold += len(ex.entities)
    truth = [ex.intent for ex in tests]
    precision = hits / predicted if predicted else 0.0
    recall = hits / gold if gold else 0.0
    ordered = sorted(latencies)
    return {
        "accuracy": accuracy_score(truth, final),
        "f1": f1_score(
            truth, final, average="weighted", labels=sorted(set(truth)), zero_division=0
        ),
        "top_f1": f1_score(
            truth, top, average="weighted", labels=sorted(set(truth)), zero_division=0
        ),
        "fallback": final.count("nlu_fallback") / len(final),
        "entity_f1": 2 * precision * recall / (precision + recall) if precision + recall else None,
        "p50": statistics.median(latencies),
        "p95": ordered[int(0.95 * (len(ordered) - 1))],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--benchmarks", type=Path, default=DEFAULT_BENCHMARKS)
    parser.add_argument("--sets", nargs="*")
    parser.add_argument("--skip-full", action="store_true", help="do not time the full model")
    args = parser.parse_args()
    os.environ.setdefault("RASA_TELEMETRY_ENABLED", "false")
    available = sorted(p.name for p in args.benchmarks.iterdir() if (p / "train.yml").exists())
    sets = args.sets or [*available, "project"]
    log = ROOT / "var" / "bench-nlu.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    log.write_text("")
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for name in sets:
            if name == "project":
                train, test = ROOT / "data" / "nlu", ROOT / "tests" / "nlu" / "test_nlu.yml"
            else:
                train, test = (
                    args.benchmarks / name / "train.yml",
                    args.benchmarks / name / "test.yml",
                )
            out = Path(tmp) / name
            seconds = run(
                [
                    RASA,
                    "train",
                    "nlu",
                    "--config",
                    "config.yml",
                    "--nlu",
                    str(train),
                    "--out",
                    str(out),
                    "--fixed-model-name",
                    name,
                ],
                log,
            )
            result = asyncio.run(evaluate(out / f"{name}.tar.gz", examples(test)))
            rows.append({"set": name, "train_s": seconds, **result})
        full = None
        if not args.skip_full:
            full = run(
                [
                    RASA,
                    "train",
                    "--config",
                    "config.yml",
                    "--domain",
                    "domain.yml",
                    "--data",
                    "data",
                    "--out",
                    str(Path(tmp) / "full"),
                    "--force",
                ],
                log,
            )
    print(
        f"NLU pipeline of config.yml ({os.cpu_count()} cores); 'project' is the held-out set "
        "tests/nlu/test_nlu.yml against a model trained on data/nlu"
    )
    print(
        f"{'set':<10} {'accuracy':>8} {'intent F1':>9} {'F1 w/o fb':>9} {'fallback':>8} "
        f"{'entity F1':>9} {'train s':>7} {'p50 ms':>7} {'p95 ms':>7}"
    )
    for r in rows:
        entity = f"{r['entity_f1']:.3f}" if r["entity_f1"] is not None else "-"
        print(
            f"{r['set']:<10} {r['accuracy']:>8.3f} {r['f1']:>9.3f} {r['top_f1']:>9.3f} "
            f"{r['fallback']:>8.1%} {entity:>9} {r['train_s']:>7.1f} "
            f"{r['p50']:>7.2f} {r['p95']:>7.2f}"
        )
    if full is not None:
        print(f"full model (NLU + dialogue) training: {full:.0f} s")


if __name__ == "__main__":
    main()
