"""Top-k across shards: each shard (a replica over its own catalog) returns its own top-k, and the best k of
their union is the top-k of all the shards' rows together, because every shard scores with the same model
on the same cosine scale and the global top-k can hold at most k rows of any one shard."""

from __future__ import annotations

import heapq
from collections.abc import Mapping, Sequence
from typing import Any, TypeVar

Hit = TypeVar("Hit", bound=Mapping[str, Any])


def merge_top_k(per_shard: Sequence[Sequence[Hit]], k: int) -> list[tuple[int, Hit]]:
    """(shard, hit) for the best k hits by their "score", best first. Ties go to the earlier shard, then to
    the better rank within it, so the answer never depends on which shard replied first."""
    pooled = (
        (-float(hit["score"]), shard, rank, hit)
        for shard, hits in enumerate(per_shard)
        for rank, hit in enumerate(hits)
    )
    best = heapq.nsmallest(k, pooled, key=lambda entry: entry[:3])
    return [(shard, hit) for _, shard, _, hit in best]
