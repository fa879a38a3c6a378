"""The in-process vector index (`gateway.core.vectors`): exact top-k by cosine against a brute-force
reference, the similarity floor, user scopes, replace and remove, growth, and the stored form."""

from __future__ import annotations

import numpy as np
import pytest

from gateway.core.vectors import Hit, VectorIndex, from_bytes, to_bytes

D = 16


def unit_rows(n: int, seed: int = 7) -> np.ndarray:
    rows = np.random.default_rng(seed).standard_normal((n, D)).astype(np.float32)
    return rows / np.linalg.norm(rows, axis=1, keepdims=True)


def reference(index_rows: dict[str, np.ndarray], query: np.ndarray, k: int) -> list[str]:
    scored = sorted(index_rows, key=lambda i: -float(index_rows[i] @ query))
    return scored[:k]


def test_search_gives_the_k_most_similar_best_first() -> None:
    rows = unit_rows(300)
    index = VectorIndex(D)
    index.upsert_many([f"m{i}" for i in range(300)], rows, [None] * 300)
    query = unit_rows(1, seed=1)[0]
    hits = index.search(query, k=5)
    assert [h.id for h in hits] == reference({f"m{i}": rows[i] for i in range(300)}, query, 5)
    assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)
    assert hits[0].score == pytest.approx(float(rows[int(hits[0].id[1:])] @ query), abs=1e-6)
    assert len(index.search(query, k=1000)) == 300
    assert index.search(query, k=0) == [] and VectorIndex(D).search(query, k=3) == []


def test_nothing_below_the_floor_is_a_hit() -> None:
    index = VectorIndex(2)
    index.upsert("same", [1.0, 0.0], None)
    index.upsert("near", [0.8, 0.6], None)
    index.upsert("opposite", [-1.0, 0.0], None)
    assert index.search([1.0, 0.0], k=3, floor=0.5) == [
        Hit(id="same", score=1.0),
        Hit(id="near", score=pytest.approx(0.8)),
    ]
    assert [h.id for h in index.search([1.0, 0.0], k=3)] == ["same", "near", "opposite"]


def test_a_search_sees_its_users_memories_and_the_assistant_wide_ones_only() -> None:
    index = VectorIndex(2)
    index.upsert("wide", [1.0, 0.0], None)
    index.upsert("alice", [1.0, 0.1], "alice")
    index.upsert("bob", [1.0, 0.2], "bob")
    q = [1.0, 0.1]
    assert {h.id for h in index.search(q, k=10, user="alice")} == {"wide", "alice"}
    assert {h.id for h in index.search(q, k=10, user="bob")} == {"wide", "bob"}
    assert {h.id for h in index.search(q, k=10)} == {"wide"}
    assert {h.id for h in index.search(q, k=10, user="carol")} == {"wide"}
    assert {h.id for h in index.search(q, k=10, every_user=True)} == {"wide", "alice", "bob"}
    # Another user's rows are never hits, even with no floor and k past the visible count.
    assert {h.id for h in index.search(q, k=3, user="alice", floor=-10.0)} == {"wide", "alice"}


def test_upsert_replaces_and_remove_keeps_every_other_memory_findable() -> None:
    rows = unit_rows(200, seed=3)
    index = VectorIndex(D)
    kept = {f"m{i}": rows[i] for i in range(200)}
    index.upsert_many(list(kept), rows, [None] * 200)
    index.upsert("m5", rows[6], "alice")  # a new vector and owner for an existing id
    kept["m5"] = rows[6]
    assert len(index) == 200
    assert {h.id for h in index.search(rows[6], k=2, user="alice")} == {"m5", "m6"}
    for i in range(0, 200, 3):
        assert index.remove(f"m{i}")
        kept.pop(f"m{i}")
    assert not index.remove("m0") and "m0" not in index and "m1" in index
    assert len(index) == len(kept)
    for seed in range(5):
        query = unit_rows(1, seed=100 + seed)[0]
        got = [h.id for h in index.search(query, k=7, every_user=True)]
        assert got == reference(kept, query, 7)


def test_the_index_grows_past_its_first_capacity_and_searches_every_block() -> None:
    rows = unit_rows(2500, seed=9)
    index = VectorIndex(D)
    for i, row in enumerate(rows):
        index.upsert(f"m{i}", row, None)
    assert len(index) == 2500
    # Rows in the first, a middle and the last (partial) block of the product.
    for i in (0, 63, 64, 1023, 1024, 2047, 2048, 2499):
        assert index.search(rows[i], k=1)[0].id == f"m{i}"
    query = unit_rows(1, seed=11)[0]
    every = {f"m{i}": rows[i] for i in range(2500)}
    assert [h.id for h in index.search(query, k=10)] == reference(every, query, 10)


def test_vectors_are_stored_as_float32_and_normalised_on_the_way_in() -> None:
    v = np.array([3.0, 4.0], dtype=np.float32)
    assert len(to_bytes(v)) == 8 and np.array_equal(from_bytes(to_bytes(v)), v)
    index = VectorIndex(2)
    index.upsert("m", v, None)
    (hit,) = index.search([6.0, 8.0], k=1)
    assert hit.score == pytest.approx(1.0)
    with pytest.raises(ValueError, match="dimensions"):
        index.upsert("bad", [1.0, 2.0, 3.0], None)
    with pytest.raises(ValueError, match="dimensions"):
        index.search([1.0], k=1)


def test_load_fills_an_empty_index_as_upserting_each_row_does() -> None:
    rng = np.random.default_rng(3)
    vectors = rng.standard_normal((300, 16)).astype(np.float32) * 3  # not unit: both normalise
    ids = [f"m{i}" for i in range(300)]
    users = [None if i % 3 == 0 else f"u{i % 5}" for i in range(300)]
    loaded, upserted = VectorIndex(16), VectorIndex(16)
    loaded.load(ids, vectors, users)
    upserted.upsert_many(ids, vectors, users)
    for q in vectors[:20]:
        for user in (None, "u1", "u4"):
            a = loaded.search(q, k=7, user=user)
            b = upserted.search(q, k=7, user=user)
            assert [h.id for h in a] == [h.id for h in b]
            assert np.allclose([h.score for h in a], [h.score for h in b])
    assert len(loaded) == 300 and "m5" in loaded
    with pytest.raises(ValueError):
        loaded.load(["x"], vectors[:1], [None])  # only an empty index
    assert loaded.remove("m0") and "m0" not in loaded and len(loaded) == 299
    loaded.upsert("new", vectors[0], "u9")  # grows past the loaded rows
    assert [h.id for h in loaded.search(vectors[0], k=1, user="u9")] == ["new"]
    empty = VectorIndex(16)
    empty.load([], vectors[:0], [])
    empty.upsert("a", vectors[1], None)
    assert [h.id for h in empty.search(vectors[1], k=1)] == ["a"]
