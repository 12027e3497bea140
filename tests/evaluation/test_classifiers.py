"""Classifier construction: gamma parsing, prompts, and the calibrated SVM scoring as the plain one."""

from __future__ import annotations

import numpy as np
import pytest

from pixseek.evaluation.classifiers import calibrated_svm, paper_svm, parse_gamma
from pixseek.evaluation.zeroshot import ZeroShotClassifier, prompt_for, skip_reason
from tests.evaluation.data import blobs
from tests.fakes import FakeEmbedder


@pytest.mark.parametrize(("value", "parsed"), [("scale", "scale"), ("auto", "auto"), ("0.5", 0.5)])
def test_parse_gamma(value: str, parsed: str | float) -> None:
    assert parse_gamma(value) == parsed


@pytest.mark.parametrize("value", ["-1", "0", "wide", "nan", "inf", "-inf"])
def test_parse_gamma_rejects(value: str) -> None:
    with pytest.raises(ValueError):
        parse_gamma(value)


def test_inner_svm_of_the_calibrated_model_is_the_paper_svm() -> None:
    x, labels, _ = blobs({"a": 20, "b": 20, "c": 20}, spread=1.5, seed=4)  # overlapping: some errors
    calibrated = calibrated_svm(cv=3).fit(x, labels)
    inner = calibrated.calibrated_classifiers_[0].estimator
    plain = paper_svm().fit(x, labels)
    assert np.array_equal(inner.decision_function(x), plain.decision_function(x))


def test_prompts_turn_folder_names_into_words() -> None:
    assert prompt_for("ankle_boot") == "a photo of a ankle boot"
    assert prompt_for("t-shirt") == "a photo of a t shirt"


def test_zero_shot_picks_the_nearest_prompt() -> None:
    fake = FakeEmbedder()
    zs = ZeroShotClassifier(fake, ["cat", "dog"])
    assert zs.predict(fake.embed_texts(["a photo of a dog", "a photo of a cat"])).tolist() == ["dog", "cat"]
    assert skip_reason(fake) is None
    assert skip_reason(None) == "no model given"
