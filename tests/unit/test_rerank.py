"""Exact re-ranking must agree with numpy; grouping and de-duplication shape results per video."""

from dataclasses import dataclass

import numpy as np
import pytest

from vidsearch.rerank import Hit, dedupe_moments, exact_top_k, group_by_video, rerank


def unit_rows(rng: np.random.Generator, n: int, d: int = 16) -> np.ndarray:
    x = rng.normal(size=(n, d)).astype(np.float32)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def test_exact_scores_equal_numpy_dot_products():
    rng = np.random.default_rng(0)
    query, vectors = unit_rows(rng, 4), unit_rows(rng, 200)
    scores, indexes = exact_top_k(query, vectors, k=10)
    expected = query @ vectors.T
    assert scores.shape == indexes.shape == (4, 10)
    chosen = np.take_along_axis(expected, indexes, axis=1)
    np.testing.assert_allclose(scores, chosen, rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(indexes, np.argsort(-expected, axis=1)[:, :10])


def test_rerank_replaces_approximate_scores_and_keeps_payloads():
    rng = np.random.default_rng(1)
    query, vectors = unit_rows(rng, 2), unit_rows(rng, 30)
    hits = [Hit(f"v{i % 3}", float(i), score=0.0, payload={"row": i}) for i in range(30)]
    ranked = rerank(query, vectors, hits, top_k=5)
    assert len(ranked) == 2
    for q, row in zip(query, ranked):
        assert [h.score for h in row] == sorted((h.score for h in row), reverse=True)
        for hit in row:
            assert hit.score == pytest.approx(float(q @ vectors[hit.payload["row"]]), abs=1e-5)
            assert hit.video_id == f"v{hit.payload['row'] % 3}"


def test_top_k_larger_than_candidates_and_empty_candidates():
    rng = np.random.default_rng(2)
    query = unit_rows(rng, 1)
    scores, indexes = exact_top_k(query, unit_rows(rng, 3), k=10)
    assert scores.shape == (1, 3) and set(indexes[0]) == {0, 1, 2}
    scores, indexes = exact_top_k(query, np.zeros((0, 16), np.float32), k=10)
    assert scores.shape == (1, 0)
    assert rerank(query, np.zeros((0, 16), np.float32), [], top_k=3) == [[]]


def test_mismatched_inputs_are_rejected():
    rng = np.random.default_rng(3)
    with pytest.raises(ValueError):
        rerank(unit_rows(rng, 1), unit_rows(rng, 3), [Hit("a", 0.0, 0.0)])
    with pytest.raises(ValueError):
        exact_top_k(unit_rows(rng, 1, d=8), unit_rows(rng, 3, d=16), k=2)


def test_group_by_video_keeps_best_moments_and_orders_videos_by_best():
    hits = [
        Hit("a", 1.0, 0.5), Hit("a", 9.0, 0.7), Hit("a", 20.0, 0.6), Hit("a", 30.0, 0.4),
        Hit("b", 3.0, 0.9), Hit("b", 8.0, 0.1),
        Hit("c", 5.0, 0.65),
    ]
    groups = group_by_video(hits, per_video=3)
    assert [g.video_id for g in groups] == ["b", "a", "c"]
    assert [g.best_score for g in groups] == [0.9, 0.7, 0.65]
    assert [h.second for h in groups[1].moments] == [9.0, 20.0, 1.0]
    assert group_by_video([]) == []


def test_dedupe_collapses_adjacent_seconds_of_one_video():
    hits = [
        # One shot, seconds at most 2 apart:
        Hit("a", 10.0, 0.80), Hit("a", 11.0, 0.90), Hit("a", 12.0, 0.85), Hit("a", 14.0, 0.70),
        Hit("a", 30.0, 0.60),  # another moment of the same video
        Hit("b", 11.0, 0.75),  # same second, other video: its own moment
    ]
    moments = dedupe_moments(hits, min_gap_s=2.0)
    assert [(m.video_id, m.second, m.score) for m in moments] == [
        ("a", 11.0, 0.90),
        ("b", 11.0, 0.75),
        ("a", 30.0, 0.60),
    ]
    # A tighter gap splits the chain where seconds are 2 apart.
    assert len(dedupe_moments(hits, min_gap_s=1.0)) == 4
    assert dedupe_moments([]) == []


@dataclass(frozen=True)
class StoreHit:
    """Any hit with video_id, second and score will do, such as the store's FrameHit."""

    video_id: str
    path: str
    second: float
    score: float


def test_hits_of_other_shapes_are_accepted():
    rng = np.random.default_rng(4)
    query, vectors = unit_rows(rng, 1), unit_rows(rng, 4)
    hits = [StoreHit("a", "/a.mp4", 1.0, 0.0), StoreHit("a", "/a.mp4", 2.0, 0.0),
            StoreHit("b", "/b.mp4", 1.0, 0.0), StoreHit("a", "/a.mp4", 9.0, 0.0)]  # fmt: skip
    (ranked,) = rerank(query, vectors, hits, top_k=4)
    assert all(isinstance(h, StoreHit) for h in ranked)
    moments = dedupe_moments(ranked)
    assert len(moments) == 3 and all(isinstance(m, StoreHit) for m in moments)
    groups = group_by_video(moments)
    assert {g.video_id for g in groups} == {"a", "b"}
    assert [g.best_score for g in groups] == sorted((g.best_score for g in groups), reverse=True)
