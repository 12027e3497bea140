"""Query algebra: weighted positive and negative terms combined into one normalised query vector."""

from __future__ import annotations

import math
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from pixseek.errors import QueryError
from pixseek.search.feedback import DEFAULT_METHOD as DEFAULT_FEEDBACK
from pixseek.search.feedback import FeedbackMethod, check_method

WeightedVector = tuple[np.ndarray, float]


def as_terms(value: Any) -> list[tuple[Any, float]]:
    """None | value | (value, weight) | a list of those -> [(value, weight), ...]."""
    if value is None:
        return []
    if isinstance(value, list):
        return [t for item in value for t in as_terms(item)]
    if isinstance(value, tuple) and len(value) == 2 and isinstance(value[1], int | float):
        if isinstance(value[1], bool):
            raise QueryError(f"a term weight must be a number, got {value[1]!r}")
        return [(value[0], float(value[1]))]
    return [(value, 1.0)]


def as_marks(
    value: str | os.PathLike[str] | Iterable[str | os.PathLike[str]] | None, name: str
) -> tuple[str, ...]:
    """Marks as a tuple of ids or paths (a Path as its string); one string or Path is one mark
    (tuple("a/b.png") would be its letters)."""
    if value is None:
        return ()
    given = (value,) if isinstance(value, str | os.PathLike) else tuple(value)
    marks = []
    for mark in given:
        if not isinstance(mark, str | os.PathLike):
            raise QueryError(f"{name} marks are ids or indexed paths, got {mark!r}")
        marks.append(os.fspath(mark))
    return tuple(marks)


def combine_terms(positive: Sequence[WeightedVector], negative: Sequence[WeightedVector] = ()) -> np.ndarray:
    """sum(w * p) - sum(w * n), renormalised; each term vector is normalised first so weights mean weights."""
    if not positive and negative:
        raise QueryError(
            "terms to avoid (--minus-*, minus_*=) need a positive term (an image, a text or a like) to "
            "subtract from; with relevant marks alone (--more, positive=), mark what to avoid as irrelevant "
            "(--less, negative=)"
        )
    if not positive:
        raise QueryError(
            "a search needs at least one positive term (an image, a text or a like: --like, like=)"
        )
    dim = len(positive[0][0])
    total = np.zeros(dim, dtype=np.float64)
    for sign, terms in ((1.0, positive), (-1.0, negative)):
        for vector, weight in terms:
            if not (math.isfinite(weight) and weight > 0):
                raise QueryError(f"term weights must be positive numbers, got {weight!r}")
            v = np.asarray(vector, dtype=np.float64).reshape(-1)
            if v.shape != (dim,):
                raise QueryError(f"term vectors disagree in dimension: {v.shape[0]} vs {dim}")
            norm = np.linalg.norm(v)
            if norm > 0:
                total += sign * weight * v / norm
    norm = np.linalg.norm(total)
    if norm < 1e-6:
        raise QueryError("the query terms cancel each other out; change the terms or their weights")
    return (total / norm).astype(np.float32)


Term = tuple[Any, float]  # (value, weight); an image value is whatever the model's loader reads


@dataclass(frozen=True)
class Query:
    """One search, as the CLI, the web app and the Python API all build it: weighted positive and
    negative terms of each kind, and the user's relevance marks.

    `images` are read and embedded, `texts` embedded, `likes` are indexed ids or paths whose stored
    vectors are used (and whose rows are left out of the answer), `vectors` are terms embedded already
    (the web app batches its model calls). `exclude_ids` are rows to leave out besides the likes'.
    """

    images: tuple[Term, ...] = ()
    texts: tuple[Term, ...] = ()
    likes: tuple[Term, ...] = ()
    vectors: tuple[Term, ...] = ()
    minus_images: tuple[Term, ...] = ()
    minus_texts: tuple[Term, ...] = ()
    minus_likes: tuple[Term, ...] = ()
    positive: tuple[str, ...] = ()  # ids or paths marked relevant
    negative: tuple[str, ...] = ()  # ... and not relevant
    include_marked: bool = False  # list the marked images too (relevant first)
    feedback: FeedbackMethod = DEFAULT_FEEDBACK
    exclude_ids: tuple[str, ...] = ()
    use_adapter: bool = True  # pass the query through the catalog's adapter, when it has one

    def __post_init__(self) -> None:
        """Fields as tuples whatever sequence (or generator) they were given as, checked once here."""
        for name in ("images", "texts", "likes", "vectors", "minus_images", "minus_texts", "minus_likes"):
            terms = tuple(tuple(t) if isinstance(t, list) else t for t in getattr(self, name))
            if not all(isinstance(t, tuple) and len(t) == 2 for t in terms):
                raise QueryError(
                    f"Query.{name} holds (value, weight) pairs; Query.of(image=..., text=..., like=...) "
                    "takes the loose forms (one value, (value, weight), or a list)"
                )
            object.__setattr__(self, name, terms)
        for name in ("positive", "negative", "exclude_ids"):
            if isinstance(getattr(self, name), str):
                raise QueryError(f"Query.{name} is a tuple of ids or paths, not one string")
            object.__setattr__(self, name, as_marks(getattr(self, name), name))

    @classmethod
    def of(
        cls,
        *,
        image: Any = None,
        text: Any = None,
        like: Any = None,
        minus_image: Any = None,
        minus_text: Any = None,
        minus_like: Any = None,
        positive: Sequence[str] = (),
        negative: Sequence[str] = (),
        include_marked: bool = False,
        feedback: str = DEFAULT_FEEDBACK,
        use_adapter: bool = True,
    ) -> Query:
        """From the loose forms people write: None, one value, (value, weight), or a list of those."""
        return cls(
            images=tuple(as_terms(image)),
            texts=tuple(as_terms(text)),
            likes=tuple(as_terms(like)),
            minus_images=tuple(as_terms(minus_image)),
            minus_texts=tuple(as_terms(minus_text)),
            minus_likes=tuple(as_terms(minus_like)),
            positive=as_marks(positive, "positive"),
            negative=as_marks(negative, "negative"),
            include_marked=include_marked,
            feedback=check_method(feedback),
            use_adapter=use_adapter,
        )

    @property
    def has_terms(self) -> bool:
        """Whether there is anything to embed or look up (with relevant marks, there need not be)."""
        kinds = (self.images, self.texts, self.likes, self.vectors)
        return any(kinds) or any((self.minus_images, self.minus_texts, self.minus_likes))

    @property
    def has_marks(self) -> bool:
        return bool(self.positive or self.negative)
