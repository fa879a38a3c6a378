"""The local embedder (`providers.local_embed`) on the real model file, in both precisions:
paraphrased questions find their facts, vectors are deterministic, unit length and the same alone
or in a batch, the pinned files are checked, nothing touches the network, and the event loop runs
on while it works; int8 rewrites every weight product and stays close to fp32, and `auto` picks it
by the CPU's flags."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Literal

import numpy as np
import pytest

from gateway.core.vectors import VectorIndex
from providers.base import EmbeddingRequest
from providers.errors import UnknownModel
from providers.local_embed import (
    DIMENSIONS,
    MAX_TEXTS,
    MAX_TOKENS,
    MODEL,
    TOKENIZER_PATH,
    LocalEmbedder,
    LocalModelUnavailable,
    Precision,
    cpu_has_int8_dot,
    default_model_path,
    int8_activations,
    int8_weights,
    resolve_precision,
)
from tests.integration.embeddings.pairs import PAIRS

ROOT = Path(__file__).resolve().parents[3]
PEANUTS, DIETARY = PAIRS[0]
MIXED = [
    "",
    "short",
    PEANUTS,
    "The quick brown fox jumps over the lazy dog near the river bank on a sunny afternoon in May.",
    *(f"{fact} {question}" for fact, question in PAIRS),
    " ".join(q for _, q in PAIRS),  # long: past one batch's usual width
    "émigré café naïve coöperate",
]


@pytest.fixture(params=["fp32", "int8"])
async def embedder(request: pytest.FixtureRequest) -> AsyncIterator[LocalEmbedder]:
    e = LocalEmbedder(batch_size=8, precision=request.param)
    await e.load()
    yield e
    await e.aclose()


async def test_every_paraphrased_question_ranks_its_own_fact_first(embedder: LocalEmbedder) -> None:
    facts = await embedder.vectors([fact for fact, _ in PAIRS])
    questions = await embedder.vectors([question for _, question in PAIRS])
    index = VectorIndex(DIMENSIONS)
    index.upsert_many([str(i) for i in range(len(PAIRS))], facts, [None] * len(PAIRS))
    firsts = [index.search(q, k=1)[0].id for q in questions]
    missed = [PAIRS[i][1] for i, hit in enumerate(firsts) if hit != str(i)]
    assert missed == []  # measured: 20 of 20
    (top,) = index.search(questions[0], k=1)
    assert top.id == "0" and top.score > 0.25  # "dietary restrictions" -> "allergic to peanuts"


async def test_vectors_are_unit_length_with_the_models_dimensions(embedder: LocalEmbedder) -> None:
    matrix = await embedder.vectors(MIXED)
    assert matrix.shape == (len(MIXED), DIMENSIONS) and matrix.dtype == np.float32
    assert np.allclose(np.linalg.norm(matrix, axis=1), 1.0, atol=1e-5)
    # Different texts, different vectors; similar texts closer than unrelated ones.
    assert len({row.tobytes() for row in matrix}) == len(MIXED)
    allergy, food, car = await embedder.vectors([PEANUTS, "I cannot eat nuts.", "I drive a Honda."])
    assert float(allergy @ food) > float(allergy @ car) + 0.2


async def test_a_batch_gives_each_text_the_vector_it_gets_alone(embedder: LocalEmbedder) -> None:
    together = await embedder.vectors(MIXED)  # batches of 8 by length, each padded to its longest
    alone = np.stack([(await embedder.vectors([text]))[0] for text in MIXED])
    assert np.allclose(together, alone, atol=1e-5)
    assert (await embedder.vectors([])).shape == (0, DIMENSIONS)


async def test_the_same_text_gives_the_same_vector_in_another_process_that_has_no_network(
    embedder: LocalEmbedder,
) -> None:
    # The other process refuses every socket before it loads the model: nothing is fetched.
    script = (
        "import asyncio, socket\n"
        "def refuse(*a, **k):\n"
        "    raise OSError('no network in this test')\n"
        "socket.socket.connect = refuse\n"
        "socket.create_connection = refuse\n"
        "socket.getaddrinfo = refuse\n"
        "from providers.local_embed import LocalEmbedder\n"
        "async def main():\n"
        f"    e = LocalEmbedder(threads=2, batch_size=1, precision={embedder.precision!r})\n"
        f"    v = await e.vectors([{PEANUTS!r}, 'padding to make a batch of two'])\n"
        "    print(v[0].tobytes().hex())\n"
        "    await e.aclose()\n"
        "asyncio.run(main())\n"
    )
    out = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-c", script],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    here = (await embedder.vectors([PEANUTS]))[0]
    there = np.frombuffer(bytes.fromhex(out.stdout.strip()), dtype=np.float32)
    assert np.allclose(here, there, atol=1e-6)


async def test_embed_answers_the_provider_seam_with_vectors_and_token_counts(embedder: LocalEmbedder) -> None:
    result = await embedder.embed(EmbeddingRequest(model=MODEL, texts=(PEANUTS, DIETARY)))
    assert len(result.vectors) == 2 and all(len(v) == DIMENSIONS for v in result.vectors)
    assert np.allclose(np.array(result.vectors[0]), (await embedder.vectors([PEANUTS]))[0], atol=1e-6)
    # [CLS] i ' m allergic to peanuts . [SEP] and [CLS] any dietary restrictions you remember ? [SEP]
    assert result.input_tokens == 9 + 8
    with pytest.raises(UnknownModel):
        await embedder.embed(EmbeddingRequest(model="text-embedding-3-small", texts=("x",)))


async def test_a_text_is_cut_at_the_models_token_limit(embedder: LocalEmbedder) -> None:
    head = " ".join(["memory"] * 400)
    result = await embedder.embed(EmbeddingRequest(model=MODEL, texts=(head, head + " peanuts allergy")))
    assert result.input_tokens == 2 * MAX_TOKENS
    assert np.allclose(np.array(result.vectors[0]), np.array(result.vectors[1]), atol=1e-6)
    with pytest.raises(ValueError, match="texts"):
        await embedder.vectors(["x"] * (MAX_TEXTS + 1))


async def test_files_that_are_not_the_pinned_ones_are_refused(tmp_path: Path) -> None:
    fake_model = tmp_path / "model.onnx"
    fake_model.write_bytes(b"not the model")
    for embedder in (
        LocalEmbedder(model_path=fake_model),
        LocalEmbedder(model_path=tmp_path / "missing.onnx"),
        LocalEmbedder(tokenizer_path=tmp_path / "missing.json"),
    ):
        try:
            with pytest.raises(LocalModelUnavailable):
                await embedder.vectors(["x"])
        finally:
            await embedder.aclose()
    tampered = tmp_path / "tokenizer.json"
    tampered.write_bytes(TOKENIZER_PATH.read_bytes() + b"\n")  # still valid JSON, another file
    embedder = LocalEmbedder(tokenizer_path=tampered)
    try:
        with pytest.raises(LocalModelUnavailable, match="pinned"):
            await embedder.load()
    finally:
        await embedder.aclose()


async def test_the_event_loop_runs_on_while_the_model_loads_and_embeds() -> None:
    embedder = LocalEmbedder()
    gaps: list[float] = []
    stop = asyncio.Event()

    async def ticker() -> None:
        last = time.perf_counter()
        while not stop.is_set():
            await asyncio.sleep(0.005)
            now = time.perf_counter()
            gaps.append(now - last)
            last = now

    tick = asyncio.create_task(ticker())
    began = time.perf_counter()
    try:
        await embedder.vectors(MIXED * 4)  # the first call loads the model too
    finally:
        stop.set()
        await tick
        await embedder.aclose()
    busy = time.perf_counter() - began
    assert busy > 0.2 and len(gaps) > 10  # it took a while, and the loop kept ticking through it
    assert max(gaps) < 0.1, max(gaps)


async def test_calls_waiting_meanwhile_are_run_together_each_with_its_own_answer(
    embedder: LocalEmbedder,
) -> None:
    alone = [
        (await embedder.vectors([t]), (await embedder.embed(EmbeddingRequest(model=MODEL, texts=(t,)))))
        for t in MIXED[1:9]
    ]
    runs: list[int] = []
    encode = embedder._encode

    def counted(texts):  # type: ignore[no-untyped-def]
        runs.append(len(texts))
        return encode(texts)

    embedder._encode = counted  # type: ignore[method-assign]
    # Eight callers at once, one cancelled on the way: the others get their own vectors and counts.
    calls = [asyncio.ensure_future(embedder.vectors([t])) for t in MIXED[1:9]]
    seams = [
        asyncio.ensure_future(embedder.embed(EmbeddingRequest(model=MODEL, texts=(t,)))) for t in MIXED[1:9]
    ]
    calls[3].cancel()
    got = await asyncio.gather(*calls, return_exceptions=True)
    answers = await asyncio.gather(*seams)
    assert isinstance(got[3], asyncio.CancelledError)
    for i, (vector, seam) in enumerate(alone):
        if i != 3:
            assert np.allclose(got[i], vector, atol=1e-6)
        assert answers[i].input_tokens == seam.input_tokens
        assert np.allclose(answers[i].vectors[0], seam.vectors[0], atol=1e-6)
    # Fewer model runs than callers: they were batched (the call cancelled before it started
    # never reached the model).
    assert sum(runs) == 15 and len(runs) < 15


async def test_a_failed_run_fails_every_call_of_it(embedder: LocalEmbedder) -> None:
    def broken(texts):  # type: ignore[no-untyped-def]
        raise RuntimeError("the model failed")

    embedder._encode = broken  # type: ignore[method-assign]
    results = await asyncio.gather(*(embedder.vectors([t]) for t in MIXED[1:5]), return_exceptions=True)
    assert all(isinstance(r, RuntimeError) for r in results)


@pytest.mark.parametrize("weights", ["s8", "u8"])
async def test_int8_rewrites_every_weight_product_and_stays_close_to_fp32(
    weights: Literal["s8", "u8"],
) -> None:
    import onnx
    from onnx import numpy_helper

    model, rewritten = int8_activations(default_model_path(), weights)
    graph = onnx.load_from_string(model).graph
    ops = [node.op_type for node in graph.node]
    before = [node.op_type for node in onnx.load(str(default_model_path())).graph.node]
    # Six layers of four attention and two feed-forward products; the attention's own two products
    # a layer (queries by keys, weights by values) have no weights and stay fp32.
    assert rewritten == 36 and ops.count("MatMulIntegerToFloat") == 36 and ops.count("MatMul") == 12
    # Each product's bias is added in its kernel: 36 additions fewer (the residual ones stay).
    assert before.count("Add") - ops.count("Add") == 36
    products = [n for n in graph.node if n.op_type == "MatMulIntegerToFloat"]
    assert all(len(n.input) == 7 and n.input[6] for n in products)
    initializers = {i.name: i for i in graph.initializer}
    int8 = {name for name, i in initializers.items() if i.data_type == onnx.TensorProto.INT8}
    if weights == "s8":
        # The products read the file's int8 weights; no fp32 copy of them is made any more.
        assert {n.input[1] for n in products} <= int8
        assert not any(n.input[5] for n in products)
    else:
        # uint8 weights, the file's int8 plus 128, with 128 as their zero point: the same values,
        # product by product (the s8 rewrite visits the products in the same order).
        signed = onnx.load_from_string(int8_activations(default_model_path(), "s8")[0]).graph
        file_weights = {i.name: i for i in signed.initializer}
        signed_products = [n for n in signed.node if n.op_type == "MatMulIntegerToFloat"]
        for held_by, read_by in zip(products, signed_products, strict=True):
            held = initializers[held_by.input[1]]
            assert held.data_type == onnx.TensorProto.UINT8
            assert numpy_helper.to_array(initializers[held_by.input[5]]).tolist() == 128
            assert np.array_equal(
                numpy_helper.to_array(held).astype(np.int16) - 128,
                numpy_helper.to_array(file_weights[read_by.input[1]]).astype(np.int16),
            )
    made_fp32 = [n.input[0] for n in graph.node if n.op_type == "Cast" and n.input[0] in int8]
    assert sorted(made_fp32) == [  # only the tables the tokens are looked up in
        "inner.embeddings.position_embeddings.weight_q",
        "inner.embeddings.word_embeddings.weight_q",
    ]
    fp32, quantized = LocalEmbedder(precision="fp32"), LocalEmbedder(precision="int8", weights=weights)
    try:
        a, b = await fp32.vectors(MIXED), await quantized.vectors(MIXED)
    finally:
        await fp32.aclose()
        await quantized.aclose()
    cosines = np.sum(a * b, axis=1)
    assert cosines.min() > 0.97, cosines  # measured 0.982-0.997
    assert not np.allclose(a, b, atol=1e-4)  # the products did run in int8


def test_auto_takes_int8_on_a_cpu_with_8_bit_dot_products_or_avx2() -> None:
    def cpu(flags: str) -> str:
        return f"processor\t: 0\nmodel name\t: a CPU\nflags\t\t: fpu sse2 {flags}\n\nprocessor\t: 1\n"

    for flags in ("avx2 avx512f avx512_vnni", "avx2 avx_vnni", "avx512f amx_tile amx_int8"):
        assert cpu_has_int8_dot(cpu(flags)) and resolve_precision("auto", cpu(flags)) == "int8"
        assert int8_weights(cpu(flags)) == "s8"  # the file's weights: no saturation with VNNI or AMX
    # AVX2 alone: int8 with uint8 weights (its u8 x s8 products could saturate 16 bits).
    assert not cpu_has_int8_dot(cpu("avx2 fma")) and resolve_precision("auto", cpu("avx2 fma")) == "int8"
    assert int8_weights(cpu("avx2 fma")) == "u8"
    for flags in ("sse4_2 avx", "avx2_x avx512_vnni_x"):  # neither; look-alike names
        assert not cpu_has_int8_dot(cpu(flags)) and resolve_precision("auto", cpu(flags)) == "fp32"
    assert not cpu_has_int8_dot("no flags line here") and resolve_precision("auto", "no flags") == "fp32"
    chosen: list[Precision] = ["fp32", "int8"]
    assert [resolve_precision(p, cpu("avx512_vnni")) for p in chosen] == chosen
    assert [resolve_precision(p, cpu("sse2")) for p in chosen] == chosen
    with pytest.raises(ValueError, match="auto, fp32, int8"):
        resolve_precision("fp16")
    here = LocalEmbedder(precision="auto")
    assert here.precision == resolve_precision("auto") and here.weights == int8_weights()
