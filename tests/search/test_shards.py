"""Merging per-shard top-k lists: best scores first, ties to the earlier shard and then the better rank."""

from __future__ import annotations

from pixseek.search.shards import merge_top_k


def _hits(*scores: float) -> list[dict[str, float]]:
    return [{"score": s} for s in scores]


def test_the_best_k_of_all_lists_in_score_order() -> None:
    a, b, c = _hits(0.9, 0.5, 0.1), _hits(0.8, 0.7), _hits()
    merged = merge_top_k([a, b, c], 4)
    assert [(shard, hit["score"]) for shard, hit in merged] == [(0, 0.9), (1, 0.8), (1, 0.7), (0, 0.5)]
    assert merge_top_k([a, b, c], 10) == [(0, a[0]), (1, b[0]), (1, b[1]), (0, a[1]), (0, a[2])]


def test_ties_go_to_the_earlier_shard_then_the_better_rank() -> None:
    a, b = _hits(0.5, 0.5), _hits(0.5, 0.6)
    merged = merge_top_k([a, b], 4)
    assert [(shard, hit) for shard, hit in merged] == [(1, b[1]), (0, a[0]), (0, a[1]), (1, b[0])]
    assert merge_top_k([b, a], 2) == [(0, b[1]), (0, b[0])]
