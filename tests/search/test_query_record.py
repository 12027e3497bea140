"""search.query.Query: the one typed record every interface builds; Query.of reads the loose forms."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from pixseek.errors import QueryError
from pixseek.search.query import Query


def test_of_reads_every_loose_form() -> None:
    q = Query.of(
        image=[Path("a.png"), (Path("b.png"), 2.0)],
        text="a cat",
        like=("animals/owl.png", 0.5),
        minus_text=["people", ("cars", 3)],
        positive=["id1"],
        negative=("id2", "id3"),
        include_marked=True,
        feedback="svm",
    )
    assert q.images == ((Path("a.png"), 1.0), (Path("b.png"), 2.0))
    assert q.texts == (("a cat", 1.0),)
    assert q.likes == (("animals/owl.png", 0.5),)
    assert q.minus_texts == (("people", 1.0), ("cars", 3.0))
    assert q.minus_images == q.minus_likes == q.vectors == ()
    assert (q.positive, q.negative, q.include_marked, q.feedback) == (("id1",), ("id2", "id3"), True, "svm")
    assert q.has_terms and q.has_marks


def test_terms_and_marks_are_told_apart() -> None:
    assert not Query().has_terms and not Query().has_marks
    assert Query.of(positive=["x"]).has_marks and not Query.of(positive=["x"]).has_terms
    assert Query(vectors=((np.ones(3), 1.0),)).has_terms
    assert Query.of(minus_text="people").has_terms  # a negative term alone still needs the model
    assert Query.of().feedback == "maxsim"


def test_an_unknown_feedback_method_is_a_query_error() -> None:
    with pytest.raises(
        QueryError, match=r"^unknown feedback method 'best'; choose one of maxsim, rocchio, svm$"
    ):
        Query.of(text="x", feedback="best")
