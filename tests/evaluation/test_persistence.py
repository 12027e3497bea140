"""The saved classifier: a round trip, and each refusal (other model, replaced file, unsafe types)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import skops.io as sio
from sklearn.preprocessing import FunctionTransformer

from pixseek.errors import EvaluationError, ModelMismatchError
from pixseek.evaluation.classifiers import calibrated_svm
from pixseek.evaluation.persistence import META_FILE, MODEL_FILE, _sha256, load_classifier, save_classifier
from tests.evaluation.data import blobs


@pytest.fixture
def saved(tmp_path: Path) -> tuple[Path, np.ndarray]:
    x, labels, _ = blobs({"a": 12, "b": 12})
    svm = calibrated_svm(cv=3).fit(x, labels)
    save_classifier(tmp_path, svm, model="fake", fingerprint="fp-1", dim=32)
    return tmp_path, x


def test_round_trip_predicts_the_same(saved: tuple[Path, np.ndarray]) -> None:
    folder, x = saved
    loaded, meta = load_classifier(folder, fingerprint="fp-1")
    assert meta.classes == ["a", "b"] and meta.model == "fake"
    assert loaded.predict(x).tolist() == ["a"] * 12 + ["b"] * 12
    assert np.allclose(loaded.predict_proba(x).sum(axis=1), 1.0)


def test_other_model_is_refused(saved: tuple[Path, np.ndarray]) -> None:
    with pytest.raises(ModelMismatchError, match="fingerprint fp-1"):
        load_classifier(saved[0], fingerprint="fp-2")


def test_replaced_file_is_refused(saved: tuple[Path, np.ndarray]) -> None:
    folder, _ = saved
    (folder / MODEL_FILE).write_bytes((folder / MODEL_FILE).read_bytes() + b"x")
    with pytest.raises(EvaluationError, match="checksum"):
        load_classifier(folder)


def test_untrusted_types_are_refused_even_with_a_matching_checksum(saved: tuple[Path, np.ndarray]) -> None:
    folder, _ = saved
    sio.dump(FunctionTransformer(func=print), folder / MODEL_FILE)  # code a stranger could ship
    meta = json.loads((folder / META_FILE).read_text())
    meta["sha256"] = _sha256(folder / MODEL_FILE)
    (folder / META_FILE).write_text(json.dumps(meta))
    with pytest.raises(EvaluationError, match="untrusted types"):
        load_classifier(folder)


def test_missing_report_says_what_to_run(tmp_path: Path) -> None:
    with pytest.raises(EvaluationError, match="pixseek eval"):
        load_classifier(tmp_path)
