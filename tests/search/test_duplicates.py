"""search.duplicates: pairs from neighbours, exact copies, aligned pixel similarity, groups; expected
values written out by hand."""

from __future__ import annotations

import numpy as np
import pytest

from pixseek.search.duplicates import (
    Pairs,
    aligned_similarity,
    colour_difference,
    groups_of,
    local_difference,
    neighbour_pairs,
    same_content_pairs,
    shape_difference,
    structure_agreement,
)
from pixseek.search.exact import ExactIndex


def _pairs(items: list[tuple[int, int, float]]) -> Pairs:
    first, second, score = zip(*items, strict=True) if items else ((), (), ())
    return Pairs(np.array(first, np.int64), np.array(second, np.int64), np.array(score, np.float32))


def _as_set(p: Pairs) -> set[tuple[int, int]]:
    return set(zip(p.first.tolist(), p.second.tolist(), strict=True))


def test_groups_are_connected_components_largest_first_with_the_weakest_joining_pair() -> None:
    pairs = _pairs([(0, 1, 0.99), (1, 2, 0.95), (4, 5, 0.97), (7, 8, 1.0), (8, 9, 1.0), (9, 7, 0.96)])
    groups = groups_of(10, pairs)
    assert [g.rows for g in groups] == [[0, 1, 2], [7, 8, 9], [4, 5]]
    assert [g.min_score for g in groups] == pytest.approx([0.95, 0.96, 0.97])


def test_no_pairs_no_groups_and_singletons_are_never_groups() -> None:
    assert groups_of(5, _pairs([])) == []
    assert [g.rows for g in groups_of(5, _pairs([(3, 4, 0.9)]))] == [[3, 4]]


def test_same_content_pairs_join_every_copy_and_nothing_else() -> None:
    hashes = np.array(["a", "b", "a", "c", "a", "b"], dtype=object)
    pairs = same_content_pairs(hashes)
    assert np.all(pairs.score == 1.0)
    assert np.all(pairs.first < pairs.second)
    assert [g.rows for g in groups_of(6, pairs)] == [[0, 2, 4], [1, 5]]


def test_neighbour_pairs_each_once_no_self_pairs_and_the_cosine_floor() -> None:
    # unit vectors at known angles: 0-1 cos 0.8, 2-3 cos 0.6, everything else about 0
    v = np.array(
        [[1.0, 0, 0, 0], [0.8, 0.6, 0, 0], [0, 0, 1.0, 0], [0, 0, 0.6, 0.8]],
        dtype=np.float32,
    )
    index = ExactIndex(v)
    pairs = neighbour_pairs(4, lambda rows: v[rows], index, k=3, min_cosine=0.5)
    assert _as_set(pairs) == {(0, 1), (2, 3)}
    assert dict(zip(_as_set(pairs), pairs.score.tolist(), strict=True)) == {
        (0, 1): pytest.approx(0.8),
        (2, 3): pytest.approx(0.6),
    }
    assert _as_set(neighbour_pairs(4, lambda rows: v[rows], index, k=3, min_cosine=0.7)) == {(0, 1)}


def test_neighbour_pairs_do_not_depend_on_the_chunk_size() -> None:
    rng = np.random.default_rng(1)
    v = rng.standard_normal((60, 8)).astype(np.float32)
    v /= np.linalg.norm(v, axis=1, keepdims=True)
    index = ExactIndex(v)
    seen = []
    whole = neighbour_pairs(60, lambda r: v[r], index, k=4, min_cosine=-1.0)
    small = neighbour_pairs(60, lambda r: v[r], index, k=4, min_cosine=-1.0, chunk=7,
                            progress=lambda done, total: seen.append((done, total)))  # fmt: skip
    assert _as_set(whole) == _as_set(small)
    assert seen[-1] == (60, 60) and len(seen) == 9  # ceil(60 / 7) chunks
    # every row's 4 nearest others (by brute force) are among the pairs
    s = v @ v.T
    np.fill_diagonal(s, -np.inf)
    for row in range(60):
        for other in np.argsort(-s[row])[:4]:
            assert (min(row, other), max(row, other)) in _as_set(whole)


def _unit(x: np.ndarray) -> np.ndarray:
    x = x - x.mean()
    return x / np.linalg.norm(x)


def test_aligned_similarity_takes_the_best_scale_either_way_and_treats_flat_images_apart() -> None:
    rng = np.random.default_rng(0)
    g0, g1, other = (_unit(rng.standard_normal(16)) for _ in range(3))
    a = np.stack([g0, g1])  # image a: whole grid g0, a tighter crop of it g1
    b = np.stack([g1, other])  # image b is a's crop: its whole grid is a's g1
    grids = np.stack([a, b, b])
    no = np.zeros(3, bool)
    means = np.zeros(3, np.float32)
    first, second = np.array([0, 1]), np.array([1, 0])
    score = aligned_similarity(
        grids[first], grids[second], a_mean=means[first], b_mean=means[second],
        a_flat=no[first], b_flat=no[second],
    )  # fmt: skip
    assert score == pytest.approx([1.0, 1.0], abs=1e-6)  # found both ways round
    negative = aligned_similarity(
        a[None], -a[None], a_mean=means[:1], b_mean=means[:1], a_flat=no[:1], b_flat=no[:1]
    )
    assert negative[0] <= float(max(-(g0 @ g0), -(g1 @ g0), -(g0 @ g1))) + 1e-6
    flat = np.array([True, True, True, False])
    grey = np.array([200.0, 204.0, 40.0, 200.0], np.float32)
    zero = np.broadcast_to(np.stack([g0, g0]), (4, 2, 16))  # equal grids: only the flat rules tell apart
    pick = np.array([[0, 1], [0, 2], [0, 3]])
    flats = aligned_similarity(
        zero[pick[:, 0]], zero[pick[:, 1]], a_mean=grey[pick[:, 0]], b_mean=grey[pick[:, 1]],
        a_flat=flat[pick[:, 0]], b_flat=flat[pick[:, 1]],
    )  # fmt: skip
    assert flats.tolist() == [1.0, 0.0, 0.0]  # same grey; another grey; flat against a picture


def test_local_difference_is_the_largest_window_mean_of_the_aligned_difference_in_spreads() -> None:
    side = 64
    rng = np.random.default_rng(0)
    base = rng.standard_normal(side * side).astype(np.float32) / side  # about unit norm, as grids are
    bump = np.zeros((side, side), np.float32)
    bump[10:14, 20:24] = 2.5 / side  # a 4 x 4-cell patch 2.5 spreads brighter: the window's mean is 2.5
    flat, busy = np.array([False]), np.array([False])
    same = local_difference(base[None, None], base[None, None], a_flat=flat, b_flat=busy)
    patched = local_difference((base + bump.ravel())[None, None], base[None, None], a_flat=flat, b_flat=busy)
    assert same.tolist() == [0.0]
    assert patched[0] == pytest.approx(2.5, rel=1e-5)
    # aligned first: the best-matching scale of either picture is compared with the other's whole grid
    other = rng.standard_normal(side * side).astype(np.float32) / side
    third = rng.standard_normal(side * side).astype(np.float32) / side
    a = np.stack([other, base])[
        None
    ]  # a's whole grid is another picture; its scale 1 lines up with b's whole
    b = np.stack([base, third])[None]
    assert local_difference(a, b, a_flat=flat, b_flat=busy).tolist() == [0.0]
    assert local_difference(b, a, a_flat=flat, b_flat=busy).tolist() == [0.0]
    # flat pictures: two flat ones have no detail to differ in; a flat and a busy one differ everywhere
    t, f = np.array([True]), np.array([False])
    assert local_difference(a, b, a_flat=t, b_flat=t).tolist() == [0.0]
    assert local_difference(a, b, a_flat=t, b_flat=f).tolist() == [np.inf]
    assert local_difference(np.zeros((0, 2, 16)), np.zeros((0, 2, 16)), a_flat=t[:0], b_flat=t[:0]).shape == (
        0,
    )


def _patch_picture(patch: np.ndarray, side: int = 64) -> np.ndarray:
    """(1, 1, side * side): a 4 x 4-cell patch on a flat surround, zero-mean and unit-norm as grids are."""
    grid = np.zeros((side, side), np.float32)
    grid[30:34, 30:34] = patch
    grid = grid.ravel() - grid.mean()
    return (grid / np.linalg.norm(grid))[None, None]


def test_structure_agreement_counts_only_windows_with_spread() -> None:
    """The same patch agrees everywhere (1 exactly: (2 var + c) / (2 var + c)); an independent patch of noise
    shares no structure, and the flat surround, over nine tenths of the windows, must not hide that."""
    rng = np.random.default_rng(0)
    patch, other = rng.standard_normal((4, 4)), rng.standard_normal((4, 4))
    busy = np.array([False])
    same = structure_agreement(_patch_picture(patch), _patch_picture(patch), a_flat=busy, b_flat=busy)
    assert same[0] == pytest.approx(1.0, abs=1e-6)
    apart = structure_agreement(_patch_picture(patch), _patch_picture(other), a_flat=busy, b_flat=busy)
    assert apart[0] < 0.5
    inverted = structure_agreement(_patch_picture(patch), _patch_picture(-patch), a_flat=busy, b_flat=busy)
    assert inverted[0] < 0  # covariance negative in every window with spread
    # nothing to compare: flat pictures, or no window with spread, agree (the other limits judge them)
    t = np.array([True])
    assert structure_agreement(
        _patch_picture(patch), _patch_picture(other), a_flat=t, b_flat=busy
    ).tolist() == [1.0]
    zeros = np.zeros((1, 1, 64 * 64), np.float32)
    assert structure_agreement(zeros, zeros, a_flat=busy, b_flat=busy).tolist() == [1.0]
    assert structure_agreement(zeros[:0], zeros[:0], a_flat=t[:0], b_flat=t[:0]).shape == (0,)


def test_colour_difference_is_the_largest_hue_difference_at_the_best_alignment() -> None:
    whole = np.full(6, 1 / 3, np.float32)  # two grey cells
    red = np.array([0.6, 0.2, 0.2, 1 / 3, 1 / 3, 1 / 3], np.float32)
    blue = np.array([0.1, 0.1, 0.8, 1 / 3, 1 / 3, 1 / 3], np.float32)
    a = np.stack([red, whole])[None]  # a's scale 1 is b's whole picture: they line up there, one way only
    b = np.stack([whole, blue])[None]
    assert colour_difference(a, b).tolist() == [0.0]
    assert colour_difference(b, a).tolist() == [0.0]


def test_colour_difference_sets_brightness_and_saturation_aside_but_not_hue() -> None:
    """Worked by hand. A cell's hue is its chromaticity less the mean over its three channels; one gain from
    0.5 to 2 may scale either picture's hues."""
    grey = np.full(6, 1 / 3, np.float32)
    tint = np.array([0.2, -0.1, -0.1, 0.2, -0.1, -0.1], np.float32)
    one = lambda cells: cells[None, None]  # noqa: E731
    assert colour_difference(one(grey + 0.05), one(grey))[0] == pytest.approx(0.0, abs=1e-6)  # brighter
    assert colour_difference(one(grey + tint), one(grey + 1.5 * tint))[0] == pytest.approx(0.0, abs=1e-6)
    # saturated 3x: the tint scaled by 0.5 at most, 1.5 x 0.2 against 0.2, is 0.1 off
    assert colour_difference(one(grey + tint), one(grey + 3 * tint))[0] == pytest.approx(0.1, abs=1e-6)
    # a tint over a grey picture: the tint scaled by 0.5 is 0.1 from none
    assert colour_difference(one(grey + tint), one(grey))[0] == pytest.approx(0.1, abs=1e-6)
    # red against green: hues (4, -2, -2) / 15 and (-2, 4, -2) / 15 point apart, so the gain stays at 0.5
    # and the red channel is off by 4 / 15 + 1 / 15
    red = np.array([0.6, 0.2, 0.2] * 2, np.float32)
    green = np.array([0.2, 0.6, 0.2] * 2, np.float32)
    assert colour_difference(one(red), one(green))[0] == pytest.approx(1 / 3, abs=1e-6)


def test_shape_difference_is_the_aspect_change_past_one_pixel_of_rounding() -> None:
    """|ln(aspect a / aspect b)| less 1 / width + 1 / height of the smaller picture, never below 0; worked by
    hand for an "x" on 94 x 84 and an "X" on 111 x 110 (Tux Paint's canvases), and a copy halved from 34 x 45
    to 17 x 22, whose aspect is off by 0.0223 through rounding alone."""
    sizes = np.array([[94, 84], [17, 22], [100, 100], [84, 94]])
    others = np.array([[111, 110], [34, 45], [50, 50], [110, 111]])
    x_against_capital = 0.112478 - 0.009050 - (1 / 94 + 1 / 84)  # ln(94/84) - ln(111/110) - rounding
    assert shape_difference(sizes, others) == pytest.approx(
        [x_against_capital, 0.0, 0.0, x_against_capital], abs=1e-5
    )
    assert shape_difference(others, sizes) == pytest.approx(shape_difference(sizes, others))
    assert shape_difference(sizes[:0], others[:0]).shape == (0,)


def test_neighbour_pairs_in_any_visiting_order_are_the_same_pairs() -> None:
    rng = np.random.default_rng(2)
    v = rng.standard_normal((50, 8)).astype(np.float32)
    v /= np.linalg.norm(v, axis=1, keepdims=True)
    index = ExactIndex(v)
    seen, asked = [], []
    order = rng.permutation(50)

    def vectors_of(rows: np.ndarray) -> np.ndarray:
        asked.extend(rows.tolist())
        return v[rows]

    visited = neighbour_pairs(50, vectors_of, index, k=3, min_cosine=-1.0, chunk=8, order=order,
                              progress=lambda d, t: seen.append(d))  # fmt: skip
    assert asked == order.tolist()  # rows asked a chunk at a time, in the order given
    s = v @ v.T
    np.fill_diagonal(s, -np.inf)
    truth = {(min(r, int(o)), max(r, int(o))) for r in range(50) for o in np.argsort(-s[r])[:3]}
    assert _as_set(visited) == truth
    assert seen == [8, 16, 24, 32, 40, 48, 50]
    with pytest.raises(ValueError, match="49 rows, not 50"):
        neighbour_pairs(50, lambda r: v[r], index, order=np.arange(49))
