"""`pixseek eval`, `classify` and `bench run` through Typer's runner, with the fake model patched in."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from typer.testing import CliRunner

import pixseek.models.registry as registry
from pixseek.cli import app
from tests.fakes import FakeEmbedder

runner = CliRunner()
COLOURS = {"red": (220, 30, 30), "green": (30, 200, 40), "blue": (30, 40, 220), "black": (20, 20, 20)}


@pytest.fixture(autouse=True)
def fake_model(monkeypatch: pytest.MonkeyPatch) -> FakeEmbedder:
    """Route load_embedder to one shared fake model, so tests can count what it embeds."""
    fake = FakeEmbedder()

    def load_embedder(name_or_path: str | None = None, *, settings: object) -> FakeEmbedder:
        return fake if name_or_path != "other" else FakeEmbedder(name="other", dim=16)

    # The real module: a broken import must fail these tests, not be papered over with a stub.
    monkeypatch.setattr(registry, "load_embedder", load_embedder)
    return fake


def write_classes(root: Path, counts: dict[str, int], *, seed: int = 0, noise: int = 25) -> Path:
    """Noisy solid-colour PNGs, one folder per class, so the fake model separates them."""
    rng = np.random.default_rng(seed)
    for name, n in counts.items():
        (root / name).mkdir(parents=True, exist_ok=True)
        for i in range(n):
            jitter = rng.integers(-noise, noise + 1, size=(12, 12, 3))
            pixels = np.clip(np.array(COLOURS[name]) + jitter, 0, 255).astype(np.uint8)
            Image.fromarray(pixels).save(root / name / f"{i}.png")
    return root


@pytest.fixture
def dataset(tmp_path: Path) -> Path:
    return write_classes(tmp_path / "data", {"red": 10, "green": 10, "blue": 10})


def error_text(result: object) -> str:
    """stderr with rich's line wrapping undone."""
    return " ".join(result.stderr.split())  # type: ignore[attr-defined]


def run(*args: str) -> dict:
    result = runner.invoke(app, [*args, "--json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_eval_folder_writes_the_report(tmp_path: Path, dataset: Path) -> None:
    (dataset / "red" / "notes.txt").write_text("not an image")
    (dataset / "green" / "broken.png").write_bytes(b"not a png")
    out = tmp_path / "report"
    report = run("eval", str(dataset), "--out", str(out), "--folds", "2")
    assert set(report["classifiers"]["svm"]) >= {"accuracy", "macro_f1", "weighted_recall"}
    assert report["classifiers"]["svm"]["accuracy"] == 1.0
    assert (report["n_images"], report["n_classes"], report["model"]) == (30, 3, "fake")
    assert report["skipped_files"] == {".txt": 1}
    assert report["indexing"]["failed"][0]["path"].endswith("broken.png")
    assert report["cv"]["folds"] == 2
    assert json.loads((out / "report.json").read_text())["retrieval"] == report["retrieval"]
    assert report["feedback"]["method"] == "maxsim" and len(report["feedback"]["rounds"]) == 3
    assert report["feedback"]["queries"] == 30
    assert "## Relevance feedback (simulated user)" in (out / "report.md").read_text()
    names = {p.name for p in out.iterdir()}
    assert names >= {"report.md", "confusion_matrix.png", "model_comparison.png", "per_class_f1.png"}
    assert names >= {"classifier.skops", "classifier.json", "index.db"}


def test_eval_db_reuses_embeddings(tmp_path: Path, dataset: Path, fake_model: FakeEmbedder) -> None:
    db = tmp_path / "p.db"
    first = run("eval", str(dataset), "--db", str(db), "--out", str(tmp_path / "r1"))
    embedded = fake_model.pixel_calls
    assert embedded == 30
    second = run("eval", "--db", str(db), "--out", str(tmp_path / "r2"))
    assert fake_model.pixel_calls == embedded  # nothing embedded twice
    assert second["retrieval"] == first["retrieval"]
    for name, scores in first["classifiers"].items():
        assert {k: v for k, v in second["classifiers"][name].items() if k != "fit_seconds"} == {
            k: v for k, v in scores.items() if k != "fit_seconds"
        }


def test_classify_prints_label_and_probability(tmp_path: Path, dataset: Path) -> None:
    out = tmp_path / "report"
    run("eval", str(dataset), "--out", str(out))
    query = write_classes(tmp_path / "q", {"blue": 1}, seed=99) / "blue" / "0.png"
    answer = run("classify", str(query), "--report", str(out))
    assert answer["label"] == "blue" and answer["probability"] > 0.5
    assert answer["top"][0]["label"] == "blue" and len(answer["top"]) == 3
    plain = runner.invoke(app, ["classify", str(query), "--report", str(out), "--top", "1"])
    assert plain.exit_code == 0 and plain.stdout.startswith("blue\t")


def test_classify_non_image_is_a_message(tmp_path: Path, dataset: Path) -> None:
    out = tmp_path / "report"
    run("eval", str(dataset), "--out", str(out))
    text = tmp_path / "notes.png"
    text.write_text("not an image")
    result = runner.invoke(app, ["classify", str(text), "--report", str(out)])
    assert result.exit_code == 1 and "notes.png" in error_text(result) and "Traceback" not in result.output


def test_classify_refuses_another_model(tmp_path: Path, dataset: Path) -> None:
    out = tmp_path / "report"
    run("eval", str(dataset), "--out", str(out))
    image = dataset / "red" / "0.png"
    result = runner.invoke(app, ["classify", str(image), "--report", str(out), "--model", "other"])
    assert result.exit_code == 1 and "trained on 'fake' embeddings" in error_text(result)


@pytest.mark.parametrize(
    ("counts", "message"),
    [
        ({"red": 6}, "at least two classes with 3+ images each, found 1 (red)"),
        ({"red": 6, "green": 1}, "classes dropped for having fewer than 3 images: {'green': 1}"),
    ],
)
def test_eval_bad_datasets_get_a_message(tmp_path: Path, counts: dict[str, int], message: str) -> None:
    data = write_classes(tmp_path / "d", counts)
    result = runner.invoke(app, ["eval", str(data), "--out", str(tmp_path / "r")])
    assert result.exit_code == 1 and message in error_text(result)
    assert "Traceback" not in result.output


def test_eval_index_without_labels(tmp_path: Path) -> None:
    data = write_classes(tmp_path / "d", {"red": 4})
    for path in (data / "red").iterdir():
        path.rename(data / path.name)  # all images directly under the root
    result = runner.invoke(app, ["eval", str(data), "--out", str(tmp_path / "r")])
    assert result.exit_code == 1 and "none of the 4 images has a label" in error_text(result)


def test_eval_needs_a_folder_or_an_index(tmp_path: Path) -> None:
    assert "give a labelled FOLDER" in runner.invoke(app, ["eval"]).stderr
    missing = runner.invoke(app, ["eval", "--db", str(tmp_path / "nope.db")])
    assert missing.exit_code == 1 and "no index at" in error_text(missing)
    bad_gamma = runner.invoke(app, ["eval", "--db", str(tmp_path), "--gamma", "-1"])
    assert bad_gamma.exit_code == 1 and "--gamma" in error_text(bad_gamma)


def test_bench_run_reports_table_v(tmp_path: Path, dataset: Path) -> None:
    out = tmp_path / "bench"
    result = run("bench", "run", str(dataset), "--queries", "5", "--out", str(out))
    assert result["images"] == 30 and result["dim"] == 32
    for key in ("query_embedding_ms", "search_ms", "end_to_end_ms"):
        assert result[key]["n"] == 5 and result[key]["median"] > 0
    assert result["indexing_images_per_second"] > 0 and result["catalog_bytes"] > 0
    assert "| Component | Time |" in (out / "bench.md").read_text()
    text = runner.invoke(app, ["bench", "run", str(dataset), "--queries", "2"])
    assert text.exit_code == 0 and "Offline indexing (30 images)" in text.stdout


def test_bench_run_refuses_an_existing_db(tmp_path: Path, dataset: Path) -> None:
    result = runner.invoke(app, ["bench", "run", str(dataset), "--db", str(tmp_path)])
    assert result.exit_code == 1 and "from scratch" in error_text(result)


def test_bench_run_checks_out_before_it_indexes(tmp_path: Path, dataset: Path) -> None:
    (tmp_path / "afile").write_text("not a folder")
    db = tmp_path / "kept.db"
    result = runner.invoke(
        app, ["bench", "run", str(dataset), "--db", str(db), "--out", str(tmp_path / "afile"), "--json"]
    )
    assert result.exit_code == 1
    assert json.loads(result.stdout)["detail"]["type"] == "StorageError"
    assert not db.exists()  # nothing was indexed


def test_eval_adapt_adds_the_adaptation_block_and_table(tmp_path: Path) -> None:
    data = write_classes(tmp_path / "data", {"red": 8, "green": 8, "blue": 8, "black": 8})
    out = tmp_path / "report"
    report = run("eval", str(data), "--out", str(out), "--no-feedback", "--adapt")
    block = report["adaptation"]
    assert (block["method"], block["classes"], block["train_images"]) == ("class-posterior", 4, 16)
    for part in ("seen", "unseen"):
        assert set(block[part]) == {"frozen", "adapted"}
        assert set(block[part]["frozen"]) == {"precision_at_10", "map_at_10"}
    text = (out / "report.md").read_text()
    assert "## Adaptation (query adapter)" in text and "| seen classes | mAP@10 |" in text
    assert "adaptation" not in run(
        "eval", "--db", str(out / "index.db"), "--out", str(tmp_path / "r2"), "--no-feedback"
    )


def test_eval_adapt_needs_four_classes(tmp_path: Path) -> None:
    data = write_classes(tmp_path / "data", {"red": 8, "green": 8, "blue": 8})
    result = runner.invoke(app, ["eval", str(data), "--out", str(tmp_path / "r"), "--no-feedback", "--adapt"])
    assert result.exit_code != 0
    assert "--adapt needs at least 4 classes of 4+ images" in error_text(result)


def test_eval_scores_retrieval_through_an_active_adapter_unless_told_not_to(tmp_path: Path) -> None:
    from pixseek.catalog import Catalog
    from pixseek.services import Index

    data = _mixed_classes(tmp_path / "data")
    out = tmp_path / "report"
    assert "active_adapter" not in run("eval", str(data), "--out", str(out), "--no-feedback")
    db = out / "index.db"
    run("adapt", "--db", str(db), "--method", "query-residual")  # a map simple to apply by hand below
    report = run("eval", "--db", str(db), "--out", str(tmp_path / "r2"), "--no-feedback")
    block = report["active_adapter"]
    assert (block["method"], block["trained_on"], block["trained_on_these_labels"]) == (
        "query-residual",
        32,
        True,
    )
    # The expected P@10, by hand: adapted queries against frozen rows, leave-one-out, same label = relevant.
    matrix = Catalog.open(db).adapter().matrix
    arrays = Index(db).arrays()
    v, labels = arrays.vectors.astype(np.float64), np.asarray(arrays.labels)
    q = v + v @ matrix
    q /= np.linalg.norm(q, axis=1, keepdims=True)
    hits = []
    for i in range(len(v)):
        s = v @ q[i]
        s[i] = -np.inf
        hits.append(np.mean(labels[np.argsort(-s)[:10]] == labels[i]))
    assert block["retrieval"]["precision_at_10"] == pytest.approx(np.mean(hits), abs=1e-6)
    # On classes that mix, the adapter moves the figure, so the by-hand check above tells the two apart.
    assert block["retrieval"]["precision_at_10"] != report["retrieval"]["precision_at_10"]
    assert "Through the index's active adapter" in (tmp_path / "r2" / "report.md").read_text()
    plain = run("eval", "--db", str(db), "--out", str(tmp_path / "r3"), "--no-feedback", "--no-adapter")
    assert "active_adapter" not in plain
    assert plain["retrieval"] == report["retrieval"]  # the main figures stay on the frozen vectors
    # a folder added since the adapter was trained: its classes are no longer the labels evaluated
    shutil.copytree(data / next(iter(COLOURS)), data / "added")
    run("index", str(data), "--db", str(db))
    later = run("eval", "--db", str(db), "--out", str(tmp_path / "r4"), "--no-feedback")
    assert later["active_adapter"]["trained_on_these_labels"] is False


def _mixed_classes(root: Path, per_class: int = 8) -> Path:
    """Four classes whose colours blend into each other's (55% own, 45% another's), so plain retrieval
    mixes them and a map trained on the labels has something to learn."""
    rng = np.random.default_rng(3)
    names = list(COLOURS)
    for name in names:
        (root / name).mkdir(parents=True)
        for i in range(per_class):
            other = COLOURS[names[rng.integers(len(names))]]
            colour = 0.55 * np.array(COLOURS[name]) + 0.45 * np.array(other)
            pixels = np.clip(colour + rng.integers(-25, 26, size=(12, 12, 3)), 0, 255).astype(np.uint8)
            Image.fromarray(pixels).save(root / name / f"{i}.png")
    return root


def test_a_failed_write_keeps_the_last_report_whole(
    tmp_path: Path, dataset: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Written in place, a full disk cut report.json off mid-file. Now every file goes to a staging folder
    first: a failure names the folder, and the last report stays as it was, with nothing left over."""
    import errno

    import pixseek.evaluation.plots as plots

    out = tmp_path / "report"
    run("eval", str(dataset), "--out", str(out), "--no-feedback")
    before = {p.name: p.read_bytes() for p in out.iterdir() if p.is_file()}

    def disk_full(folder: Path, report: dict) -> list[Path]:
        (folder / "confusion_matrix.png").write_bytes(b"\x89PNG half")
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(plots, "write_plots", disk_full)
    result = runner.invoke(app, ["eval", str(dataset), "--out", str(out), "--no-feedback"])
    assert result.exit_code == 1
    assert f"cannot write the report in {out}: No space left on device" in error_text(result)
    assert {p.name: p.read_bytes() for p in out.iterdir() if p.is_file()} == before
    assert not list(out.glob(".report.*"))


def test_an_unusable_out_or_too_few_classes_for_adapt_are_refused_before_the_study(
    tmp_path: Path, dataset: Path, fake_model: FakeEmbedder, monkeypatch: pytest.MonkeyPatch
) -> None:
    import pixseek.evaluation.study as study

    def no_study(*args: object, **kwargs: object) -> None:
        raise AssertionError("the study ran")

    monkeypatch.setattr(study, "run_study", no_study)
    taken = tmp_path / "a-file"
    taken.write_text("mine")
    result = runner.invoke(app, ["eval", str(dataset), "--out", str(taken), "--json"])
    assert result.exit_code == 1
    assert json.loads(result.stdout)["detail"]["type"] == "StorageError"
    assert f"cannot write the report in {taken}" in json.loads(result.stdout)["error"]
    assert fake_model.pixel_calls == 0 and taken.read_text() == "mine"  # nothing indexed, nothing touched
    three = runner.invoke(app, ["eval", str(dataset), "--out", str(tmp_path / "r"), "--adapt"])
    assert three.exit_code == 1
    assert "--adapt needs at least 4 classes of 4+ images" in error_text(three)


@pytest.mark.parametrize("seed", ["-1", str(2**32)])
def test_a_seed_out_of_range_is_refused_before_anything_runs(tmp_path: Path, seed: str) -> None:
    """scikit-learn takes seeds from 0 to 2**32 - 1; outside that, a usage error, not its traceback."""
    out = tmp_path / "out"
    result = runner.invoke(app, ["eval", str(tmp_path / "none"), "--out", str(out), "--seed", seed])
    assert result.exit_code == 2
    assert "--seed" in result.output and "Traceback" not in result.output
    assert not out.exists()
