"""Near-duplicate groups: nearest neighbours propose pairs, a pixel check confirms them, and the connected
components of the confirmed pairs are the groups.

The embedding alone cannot decide. On Tux Paint with planted copies, cosine reaches recall 0.97 only at
precision 0.25: its centre crop makes different narrow stamps identical. Pixels of the whole picture,
aligned over a few crop scales, separate them (docs/results.md), and a second look at finer grids turns
down pairs that differ in one small detail. No N x N matrix: each row asks the vector index for its k
nearest neighbours, a chunk of rows at a time.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from scipy.ndimage import uniform_filter
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from pixseek.search.protocol import VectorIndex

DEFAULT_THRESHOLD = 0.88  # aligned pixel correlation; measured on planted Tux Paint copies
DEFAULT_NEIGHBOURS = 10  # nearest neighbours each image proposes
MIN_COSINE = 0.5  # proposals below this cosine are never near-duplicates (lowest planted pair: 0.62)
FLAT_MEAN_GAP = 8.0  # grey levels: two flat images closer than this are the same colour
# The largest mean difference over any LOCAL_WINDOW x LOCAL_WINDOW cells of the aligned detail grids, in
# standard deviations of the picture, that a near-duplicate may show; measured on planted Tux Paint copies
# (the edits stay below it, a different letter on the same drawing does not)
MAX_LOCAL_DIFFERENCE = 1.3
LOCAL_WINDOW = 4
# The largest difference in hue in any of 4 x 4 colour cells that a near-duplicate may show, at the best crop
# alignment, once each cell's brightness is set aside (its mean chromaticity, r / (r + g + b), over the three
# channels) and one saturation gain within SATURATION_GAIN is allowed for the whole picture: brightness,
# contrast and saturation edits keep each cell's hue and scale how strongly it shows. Planted Tux Paint
# copies reached 0.071 and photos under colour edits 0.077; a red flag and a green one differ by 0.75, a
# moon and a tennis ball by 0.12
MAX_COLOUR_DIFFERENCE = 0.1
SATURATION_GAIN = (0.5, 2.0)
# Local structure, as SSIM's contrast-structure term (2 cov + c) / (var x + var y + c) over STRUCTURE_WINDOW
# cells a side of the aligned detail grids: the 10th percentile over windows with spread (variance at least
# STRUCTURE_SPREAD, in the grid's standard deviations squared) must reach MIN_STRUCTURE. Two coins of one
# size line up, and their edge dominates the picture's spread, so different designs inside stay under
# MAX_LOCAL_DIFFERENCE; here the inside windows disagree. Chosen with benchmarks/duplicates_limits.py.
STRUCTURE_WINDOW = 16
STRUCTURE_SPREAD = 0.1
STRUCTURE_C = 0.1
MIN_STRUCTURE = 0.5
STRUCTURE_PERCENTILE = 10
# How far two pictures' shapes may differ (|ln| of the ratio of their aspect ratios) beyond what rounding
# to whole pixels explains. Resizing, re-encoding and centred crops keep the shape; the grids squeeze every
# picture to a square, so without this a letter and its capital drawn on different canvases ("x" on 94 x 84,
# "X" on 111 x 110) line up. A crop of 3% off one side still passes; one of 5% off one side already fails
# the pixel checks on 137 of 150 stamps (docs/results.md).
MAX_SHAPE_CHANGE = 0.03

Progress = Callable[[int, int], None]  # (rows done, rows)


@dataclass(frozen=True)
class Pairs:
    """Row pairs (first < second, each pair once) and a score for each."""

    first: np.ndarray  # int64
    second: np.ndarray  # int64
    score: np.ndarray  # float32

    def __len__(self) -> int:
        return len(self.first)

    def where(self, keep: np.ndarray, score: np.ndarray | None = None) -> Pairs:
        new = self.score if score is None else score
        return Pairs(self.first[keep], self.second[keep], new[keep])


@dataclass(frozen=True)
class Group:
    rows: list[int]  # sorted
    min_score: float  # the weakest confirmed pair that joined it


def neighbour_pairs(
    n: int,
    vectors_of: Callable[[np.ndarray], np.ndarray],
    index: VectorIndex,
    *,
    k: int = DEFAULT_NEIGHBOURS,
    min_cosine: float = MIN_COSINE,
    order: np.ndarray | None = None,
    chunk: int = 4096,
    progress: Progress | None = None,
) -> Pairs:
    """Each row's k nearest neighbours with cosine >= min_cosine, as pairs (first < second), scored by
    cosine. Rows are asked a chunk at a time in `order` (all n rows; default: row order), so an index
    that reads rows from a file can be visited in the file's order. Memory is O(n k), never O(n^2)."""
    visit = np.arange(n, dtype=np.int64) if order is None else np.asarray(order, dtype=np.int64)
    if len(visit) != n:
        raise ValueError(f"the order lists {len(visit)} rows, not {n}")
    firsts, seconds, scores = [], [], []
    for start in range(0, n, chunk):
        rows = visit[start : start + chunk]
        got_scores, found = index.search(vectors_of(rows), k + 1)  # +1: a row finds itself
        own = np.broadcast_to(rows[:, None], found.shape)
        keep = (found >= 0) & (found != own) & (got_scores >= min_cosine)
        a, b = own[keep], found[keep].astype(np.int64)
        firsts.append(np.minimum(a, b))
        seconds.append(np.maximum(a, b))
        scores.append(got_scores[keep].astype(np.float32))
        if progress is not None:
            progress(start + len(rows), n)
    if not firsts:
        return _empty()
    first, second, score = np.concatenate(firsts), np.concatenate(seconds), np.concatenate(scores)
    _, unique = np.unique(first * n + second, return_index=True)  # a pair found from both ends counts once
    return Pairs(first[unique], second[unique], score[unique])


def same_content_pairs(hashes: np.ndarray) -> Pairs:
    """Pairs of rows with equal content hashes (exact copies), scored 1.0: a chain through each set."""
    order = np.argsort(hashes, kind="stable")
    ordered = hashes[order]
    same = ordered[1:] == ordered[:-1]
    a, b = order[:-1][same].astype(np.int64), order[1:][same].astype(np.int64)
    return Pairs(np.minimum(a, b), np.maximum(a, b), np.ones(len(a), np.float32))


def aligned_similarity(
    a: np.ndarray,
    b: np.ndarray,
    *,
    a_mean: np.ndarray,
    b_mean: np.ndarray,
    a_flat: np.ndarray,
    b_flat: np.ndarray,
) -> np.ndarray:
    """Per pair, the best correlation of one image's whole grid with any scale of the other's, both ways
    (so either may be the cropped one). Flat images match only flat images of about the same grey.

    a, b: (P, S, D) unit-norm grids of each pair's two images, whole image first; the rest: (P,).
    """
    one_way = np.einsum("psd,pd->ps", a, b[:, 0]).max(axis=1)
    other_way = np.einsum("psd,pd->ps", b, a[:, 0]).max(axis=1)
    score = np.clip(np.maximum(one_way, other_way), -1.0, 1.0)  # quantised grids can overshoot 1
    same_grey = np.abs(a_mean - b_mean) < FLAT_MEAN_GAP
    score = np.where(a_flat & b_flat, same_grey.astype(np.float32), score)
    return np.where(a_flat ^ b_flat, 0.0, score).astype(np.float32)


def local_difference(
    a: np.ndarray, b: np.ndarray, *, a_flat: np.ndarray, b_flat: np.ndarray, window: int = LOCAL_WINDOW
) -> np.ndarray:
    """Per pair, the largest local difference between the two pictures once aligned as `aligned_similarity`
    aligns them: the mean over a `window`-cell square of their difference, in standard deviations of
    a grid (grids are zero-mean and unit-norm, so one cell's deviation is 1 / side). Two flat images have
    none; a flat and a busy one differ everywhere (inf).

    a, b: (P, S, side * side) grids, whole image first.
    """
    pairs = a.shape[0]
    if not pairs:
        return np.zeros(0, np.float32)
    x, y = _aligned(a, b)
    local = uniform_filter(x - y, size=(1, window, window), mode="constant")
    worst = np.abs(local).reshape(pairs, -1).max(axis=1)
    worst = np.where(a_flat & b_flat, 0.0, worst)
    return np.where(a_flat ^ b_flat, np.inf, worst).astype(np.float32)


def structure_agreement(
    a: np.ndarray, b: np.ndarray, *, a_flat: np.ndarray, b_flat: np.ndarray, window: int = STRUCTURE_WINDOW
) -> np.ndarray:
    """Per pair, how well the two pictures' local structure agrees once aligned (as `local_difference`
    aligns them): the STRUCTURE_PERCENTILE-th percentile, over the `window`-cell squares with spread, of
    (2 cov + c) / (var x + var y + c); 1 where no square has spread, or a picture is flat (the other limits
    judge those). 1 is the same structure everywhere; 0, none shared.

    a, b: (P, S, side * side) grids, whole image first.
    """
    pairs = a.shape[0]
    if not pairs:
        return np.zeros(0, np.float32)
    x, y = _aligned(a, b)

    def mean(z: np.ndarray) -> np.ndarray:
        return uniform_filter(z, size=(1, window, window), mode="constant")

    mx, my = mean(x), mean(y)
    vx, vy = mean(x * x) - mx * mx, mean(y * y) - my * my
    agreement = (2 * (mean(x * y) - mx * my) + STRUCTURE_C) / (vx + vy + STRUCTURE_C)
    busy = (np.maximum(vx, vy) >= STRUCTURE_SPREAD).reshape(pairs, -1)
    out = _percentile_where(agreement.reshape(pairs, -1), busy, STRUCTURE_PERCENTILE)
    return np.where(a_flat | b_flat, 1.0, out).astype(np.float32)


def _aligned(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(P, side, side) pictures of each pair, aligned as `aligned_similarity` aligns them (the better of
    either's crop scales against the other's whole grid), in standard deviations of a grid (grids are
    zero-mean and unit-norm, so one cell's deviation is 1 / side)."""
    pairs, _, cells = a.shape
    side = round(float(np.sqrt(cells)))
    one_way = np.einsum("psd,pd->ps", a, b[:, 0])
    other_way = np.einsum("psd,pd->ps", b, a[:, 0])
    first_scaled = one_way.max(axis=1) >= other_way.max(axis=1)
    picked = np.arange(pairs)
    a_scaled, b_scaled = a[picked, one_way.argmax(axis=1)], b[picked, other_way.argmax(axis=1)]
    x = np.where(first_scaled[:, None], a_scaled, b_scaled)
    y = np.where(first_scaled[:, None], b[:, 0], a[:, 0])
    return (x * side).reshape(pairs, side, side), (y * side).reshape(pairs, side, side)


def _percentile_where(values: np.ndarray, keep: np.ndarray, q: float) -> np.ndarray:
    """Per row, the q-th percentile (numpy's linear rule) of the values where `keep`; 1.0 where none."""
    count = keep.sum(axis=1)
    ordered = np.sort(np.where(keep, values, np.inf), axis=1)  # kept values first
    ordered[count == 0] = 1.0
    last = np.maximum(count - 1, 0)
    position = q / 100 * last
    low = np.floor(position).astype(np.int64)
    rows = np.arange(len(values))
    lo, hi = ordered[rows, low], ordered[rows, np.minimum(low + 1, last)]
    return lo + (position - low) * (hi - lo)


def shape_difference(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Per pair, |ln(aspect of a / aspect of b)| less what rounding one pixel on each side of the smaller
    picture can explain (1 / width + 1 / height), and never below 0: a copy halved from 34 x 45 to 17 x 22
    is off by 0.023, within its rounding.

    a, b: (P, 2) widths and heights.
    """
    a, b = np.maximum(a, 1).astype(np.float64), np.maximum(b, 1).astype(np.float64)
    change = np.abs(np.log(a[:, 0] / a[:, 1]) - np.log(b[:, 0] / b[:, 1]))
    smaller = np.minimum(a, b)
    rounding = 1 / smaller[:, 0] + 1 / smaller[:, 1]
    return np.maximum(change - rounding, 0.0).astype(np.float32)


def colour_difference(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Per pair, the largest difference in hue over the colour cells: each cell's chromaticity less its mean
    over the three channels (what brightness moves), one picture's cells scaled by the single saturation
    gain within SATURATION_GAIN that fits the other's best, at the crop alignment (either picture's scale
    against the other's whole, either one scaled) that makes it smallest.

    a, b: (P, S, cells * 3) chromaticity per scale, whole image first.
    """
    return np.minimum(_hue_difference(a, b), _hue_difference(b, a)).astype(np.float32)


def _hue_difference(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """`colour_difference` with a's scales aligned on b's whole picture."""
    x, y = _hue(a), _hue(b[:, :1])  # (P, S, cells, 3) and (P, 1, cells, 3)
    shared = (x * y).sum(axis=(2, 3))
    low, high = SATURATION_GAIN

    def fitted(of: np.ndarray, to: np.ndarray, power: np.ndarray) -> np.ndarray:
        gain = np.clip(np.divide(shared, power, out=np.ones_like(shared), where=power > 1e-12), low, high)
        return np.abs(to - gain[:, :, None, None] * of).max(axis=(2, 3))

    y_scaled = fitted(y, x, (y * y).sum(axis=(2, 3)))
    x_scaled = fitted(x, y, (x * x).sum(axis=(2, 3)))
    return np.minimum(y_scaled, x_scaled).min(axis=1)


def _hue(chroma: np.ndarray) -> np.ndarray:
    """(P, S, cells * 3) chromaticity as (P, S, cells, 3), less each cell's mean over its channels."""
    cells = chroma.reshape(*chroma.shape[:2], -1, 3)
    return cells - cells.mean(axis=3, keepdims=True)


def groups_of(n: int, pairs: Pairs) -> list[Group]:
    """Connected components of the pairs, largest first; singletons are not groups."""
    if not len(pairs):
        return []
    graph = coo_matrix((np.ones(len(pairs)), (pairs.first, pairs.second)), shape=(n, n))
    _, component = connected_components(graph, directed=False)
    sizes = np.bincount(component, minlength=0)
    weakest = np.full(len(sizes), np.inf)
    np.minimum.at(weakest, component[pairs.first], pairs.score)
    members: dict[int, list[int]] = {}
    for row in np.flatnonzero(sizes[component] > 1).tolist():
        members.setdefault(int(component[row]), []).append(row)
    groups = [Group(rows, float(weakest[c])) for c, rows in members.items()]
    return sorted(groups, key=lambda g: (-len(g.rows), g.rows[0]))


def _empty() -> Pairs:
    return Pairs(np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0, np.float32))
