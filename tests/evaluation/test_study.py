"""The study end to end on synthetic embeddings: every classifier, zero-shot, folds, report and plots."""

from __future__ import annotations

from pathlib import Path

import pytest
from PIL import Image

from pixseek.evaluation.metrics import SUMMARY_KEYS
from pixseek.evaluation.plots import write_plots
from pixseek.evaluation.report import render_markdown, write_report
from pixseek.evaluation.splits import labelled_set
from pixseek.evaluation.study import StudyOptions, run_study
from tests.evaluation.data import blobs
from tests.fakes import FakeEmbedder

COUNTS = {"cat": 30, "dog": 20, "bird": 10}


@pytest.fixture(scope="module")
def study_report() -> dict:
    data = labelled_set(*blobs(COUNTS))
    result = run_study(data, options=StudyOptions(seed=3, folds=3), embedder=FakeEmbedder(), model="fake")
    assert result.svm.predict(data.vectors[:1]).tolist() == [data.labels[0]]
    return result.report


def test_report_has_the_issue_schema(study_report: dict) -> None:
    assert set(study_report) >= {"classifiers", "retrieval", "n_images", "n_classes", "split", "model"}
    assert set(study_report["classifiers"]) == {"svm", "svm_unscaled", "logreg", "dummy", "knn", "zero_shot"}
    for name in ("svm", "svm_unscaled", "logreg", "dummy", "knn", "zero_shot"):
        assert set(study_report["classifiers"][name]) >= set(SUMMARY_KEYS)
    assert set(study_report["retrieval"]) >= {"precision_at_10", "recall_at_1", "map_at_10"}
    assert (study_report["n_images"], study_report["n_classes"]) == (60, 3)
    assert study_report["split"]["n_test"] == 12


def test_separable_blobs_score_high_and_dummy_predicts_the_majority(study_report: dict) -> None:
    scores = study_report["classifiers"]
    assert scores["svm"]["accuracy"] == 1.0 and scores["knn"]["accuracy"] == 1.0
    assert scores["dummy"]["accuracy"] == pytest.approx(6 / 12)  # 'cat' is half of the test split
    assert scores["dummy"]["macro_recall"] == pytest.approx(1 / 3)
    assert study_report["retrieval"]["map_at_10"] == 1.0


def test_cv_reports_mean_and_std_per_classifier(study_report: dict) -> None:
    cv = study_report["cv"]
    assert cv["folds"] == 3 and set(cv["classifiers"]) >= {"svm", "dummy", "zero_shot"}
    assert cv["classifiers"]["svm"]["accuracy"] == {"mean": 1.0, "std": 0.0}


def test_zero_shot_is_skipped_without_a_text_tower() -> None:
    data = labelled_set(*blobs(COUNTS))
    report = run_study(data, options=StudyOptions(), embedder=FakeEmbedder(has_text=False)).report
    assert report["classifiers"]["zero_shot"] == {"skipped": True, "reason": "model 'fake' has no text tower"}
    expected = "Zero-shot (class-name prompts): skipped, model 'fake' has no text tower."
    assert expected in render_markdown(report)


def test_report_and_plots_are_written(tmp_path: Path, study_report: dict) -> None:
    plots = write_plots(tmp_path, study_report)
    json_path, md_path = write_report(tmp_path, study_report, plots=plots)
    markdown = md_path.read_text()
    for title in ("Table I", "Table II", "Table III", "Table IV", "3-fold", "Retrieval"):
        assert title in markdown
    assert "| bird | 1.0000 | 1.0000 | 1.0000 | 2 |" in markdown
    assert "![confusion matrix](confusion_matrix.png)" in markdown
    assert json_path.is_file()
    for plot in plots:
        with Image.open(plot) as im:
            assert im.format == "PNG" and im.width > 300
