"""The vector indexes of this process, one per memory scope (an assistant), kept current across
processes by the scope's version in the store.

A search first reads the scope's version (one point read). When this process holds the scope's
index at that version it searches it; otherwise it reads the scope's vectors and rebuilds the
index (at 10,000 memories on SQLite: 45 to 110 ms to read 15 MB, 12 to 30 ms to build; after a
write only). So a memory written by any worker is seen by every worker's next turn, and a
deleted one is gone from it.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from cachetools import LRUCache

from gateway.core.vectors import Hit, Matrix, VectorIndex
from gateway.store.protocols import MemoryStore

# Scopes whose index this process keeps (the least recently searched ones are dropped).
MAX_SCOPES = 64


class ScopeIndexes:
    def __init__(self, memories: MemoryStore, *, max_scopes: int = MAX_SCOPES) -> None:
        self._memories = memories
        self._indexes: LRUCache[tuple[str, str], tuple[int, VectorIndex]] = LRUCache(maxsize=max_scopes)

    async def index(self, org: str, assistant_id: str, dimensions: int) -> VectorIndex:
        """The scope's index at the store's current version."""
        version = await self._memories.scope_version(org, assistant_id)
        held = self._indexes.get((org, assistant_id))
        if held is not None and held[0] == version and held[1].dimensions == dimensions:
            return held[1]
        scope = await self._memories.scope_vectors(org, assistant_id)
        index = VectorIndex(dimensions)
        size = dimensions * 4
        # Vectors of another embedding model (other dimensions) cannot be compared: left out.
        rows = [i for i, e in enumerate(scope.embeddings) if len(e) == size]
        if rows:
            data = b"".join(scope.embeddings[i] for i in rows)
            matrix: Matrix = (
                np.frombuffer(data, dtype="<f4").astype(np.float32).reshape(len(rows), dimensions)
            )
            index.load([scope.ids[i] for i in rows], matrix, [scope.users[i] for i in rows])
        self._indexes[(org, assistant_id)] = (scope.version, index)
        return index

    async def search(
        self,
        org: str,
        assistant_id: str,
        query: Sequence[float] | Matrix,
        *,
        k: int,
        floor: float,
        user: str | None,
        every_user: bool = False,
    ) -> list[Hit]:
        vector = np.asarray(query, dtype=np.float32).reshape(-1)
        index = await self.index(org, assistant_id, int(vector.shape[0]))
        return index.search(vector, k=k, floor=floor, user=user, every_user=every_user)
