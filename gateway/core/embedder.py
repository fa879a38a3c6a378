"""Embeddings for memory (SPEC §12): a provider's embedding model (`GATEWAY_EMBEDDING_MODEL`), else
the local model shipped in a package (`providers.local_embed`), loaded only when memory is first
used. Either way a text becomes one unit float32 row."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

import numpy as np

from gateway.core.calls import Caller
from gateway.core.vectors import Matrix
from providers.base import EmbeddingRequest
from providers.local_embed import LocalEmbedder, Precision

# Texts per call to a provider's embeddings endpoint.
_PROVIDER_BATCH = 64


class Embedder(Protocol):
    async def vectors(self, texts: Sequence[str]) -> Matrix:
        """One unit row per text, in their order."""

    async def aclose(self) -> None: ...


class LocalEmbedding:
    """The local model, made (and loaded) on the first text."""

    def __init__(self, *, threads: int = 1, precision: Precision = "auto") -> None:
        self._threads = threads
        self._precision: Precision = precision
        self._model: LocalEmbedder | None = None

    async def vectors(self, texts: Sequence[str]) -> Matrix:
        if self._model is None:
            self._model = LocalEmbedder(threads=self._threads, precision=self._precision)
        return await self._model.vectors(texts)

    async def aclose(self) -> None:
        if self._model is not None:
            await self._model.aclose()
            self._model = None


class ProviderEmbedding:
    """A provider's embedding model through the caller (its retries, deadline and fallbacks)."""

    def __init__(self, caller: Caller, model: str) -> None:
        self._caller = caller
        self._model = model

    async def vectors(self, texts: Sequence[str]) -> Matrix:
        routes = self._caller.routes(self._model)
        rows: list[tuple[float, ...]] = []
        for start in range(0, len(texts), _PROVIDER_BATCH):
            request = EmbeddingRequest(
                model=routes[0].model, texts=tuple(texts[start : start + _PROVIDER_BATCH])
            )
            rows.extend((await self._caller.embed(routes, request)).vectors)
        matrix: Matrix = np.asarray(rows, dtype=np.float32).reshape(len(texts), -1)
        norms = np.linalg.norm(matrix, axis=1, keepdims=True)
        return np.divide(matrix, norms, out=np.zeros_like(matrix), where=norms > 0)

    async def aclose(self) -> None:
        return None


def embedder(
    caller: Caller, model: str | None, *, threads: int = 1, precision: Precision = "auto"
) -> Embedder:
    if model:
        return ProviderEmbedding(caller, model)
    return LocalEmbedding(threads=threads, precision=precision)
