"""`pixseek adapt` through pixseek.Index: stored in the catalog, tied to the model, used by every search
unless a query says not to, re-read by replicas, and dropped on request."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

import pixseek.models.registry as registry
import pixseek.services.adapting as adapting
from pixseek import Query
from pixseek.catalog import AdapterRecord, Catalog
from pixseek.cli import app
from pixseek.errors import QueryError, StorageError
from pixseek.services import Index
from tests.fakes import FakeEmbedder, fake_index
from tests.indexing.images import make_tree

PATHS = [f"{label}/{i}.png" for label in ("cats", "dogs", "owls") for i in range(8)]


@pytest.fixture
def index(tmp_path: Path) -> Index:
    return fake_index(tmp_path, PATHS)


def _mapped(query: np.ndarray, record: AdapterRecord | None) -> np.ndarray:
    """The query as each method's formula maps it (search.adapter's docstring), written out here."""
    if record is None:
        return query
    if record.method == "query-residual":  # normalise(q + q A)
        u = query + query @ record.matrix
    else:  # normalise(q + s * normalise(softmax(q W^T + b) W)), q normalised first
        query = query / np.linalg.norm(query)
        weights, bias = record.matrix[:, :-1], record.matrix[:, -1]
        logits = weights @ query + bias
        p = np.exp(logits - logits.max()) / np.exp(logits - logits.max()).sum()
        u = query + record.strength * (p @ weights) / np.linalg.norm(p @ weights)
    return u / np.linalg.norm(u)


def _posteriors(record: AdapterRecord, x: np.ndarray) -> np.ndarray:
    """normalise(softmax(x W^T + b)) per row, x normalised first."""
    weights, bias = record.matrix[:, :-1], record.matrix[:, -1]
    x = x / np.linalg.norm(x, axis=-1, keepdims=True)
    e = np.exp(x @ weights.T + bias - (x @ weights.T + bias).max(axis=-1, keepdims=True))
    return e / np.linalg.norm(e, axis=-1, keepdims=True)  # normalising the softmax: its sum cancels


def _smoothed(record: AdapterRecord, p: np.ndarray, nearest: list[list[int]]) -> np.ndarray:
    """Each posterior mixed with the mean of its nearest rows' (given), normalised."""
    out = np.stack([(1 - record.mix) * p[i] + record.mix * p[n].mean(axis=0) for i, n in enumerate(nearest)])
    return out / np.linalg.norm(out, axis=1, keepdims=True)


def _nearest_others(v: np.ndarray, k: int) -> list[list[int]]:
    """Each row's k most similar other rows (cosine)."""
    cos = v @ v.T
    return [[j for j in np.argsort(-cos[i], kind="stable") if j != i][:k] for i in range(len(v))]


def _expected(
    index: Index, query: np.ndarray, record: AdapterRecord | None, k: int, leave_out: str | None = None
) -> list[str]:
    """Brute force over the stored vectors (fewer than the re-scored pool), less `leave_out` (a like
    search's own image): the query mapped by a query-only adapter, or for class-posterior, every row scored
    by its formula written out here: (<q, x> + s^2 <p~(q), p~(x)>) / (1 + s^2), p = normalise(softmax(x W^T
    + b)), each smoothed over its `neighbours` nearest other rows (the query's: its nearest rows), ties by
    row."""
    arrays = index.arrays()
    kept = [i for i, key in enumerate(arrays.ids) if key != leave_out]
    v = arrays.vectors[kept] / np.linalg.norm(arrays.vectors[kept], axis=1, keepdims=True)
    if record is not None and record.method == "class-posterior":
        s, n = record.strength, record.neighbours
        assert n > 0 and record.mix > 0  # trained with the smoothing
        q = query / np.linalg.norm(query)
        p = _posteriors(record, v)
        p_rows = _smoothed(record, p, _nearest_others(v, n))
        near_query = p[np.argsort(-(v @ q), kind="stable")[:n]].mean(axis=0)
        p_query = (1 - record.mix) * _posteriors(record, q[None, :])[0] + record.mix * near_query
        p_query /= np.linalg.norm(p_query)
        scores = (v @ q + s * s * (p_rows @ p_query)) / (1 + s * s)
    else:
        scores = v @ _mapped(query, record)
    order = np.argsort(-scores, kind="stable")[:k]
    return [arrays.ids[kept[i]] for i in order]


@pytest.mark.parametrize("method", ["class-posterior", "class-direction", "query-residual"])
def test_adapt_stores_an_adapter_that_every_search_uses_until_removed(index: Index, method: str) -> None:
    assert index.info().adapter is None
    report = index.adapt(method=method)
    assert report is not None and (report.trained_on, report.classes, report.method) == (24, 3, method)
    assert (report.validation_loss is None) == (method != "query-residual")  # nothing held out there
    info = index.info().adapter
    assert info is not None and info["method"] == method and info["classes"] == ["cats", "dogs", "owls"]
    assert info["trained_on"] == 24 and info["created"].endswith("+00:00")
    record = Catalog.open(index.db).adapter()
    assert record is not None and record.fingerprint == FakeEmbedder().fingerprint
    assert record.method == method and np.abs(record.matrix).max() > 0  # it learned something
    assert record.matrix.shape == ((32, 32) if method == "query-residual" else (3, 33))  # FakeEmbedder: 32-d
    _, q = index.stored("dogs/7.png")  # a query whose full ranking the adapter changes
    assert _expected(index, q, record, 24) != _expected(index, q, None, 24)
    adapted = [h.id for h in index.search(Query(vectors=((q, 1.0),)), k=24)]
    frozen = [h.id for h in index.search(Query(vectors=((q, 1.0),), use_adapter=False), k=24)]
    assert adapted == _expected(index, q, record, 24)
    assert frozen == _expected(index, q, None, 24)
    assert index.remove_adapter() is True
    assert index.info().adapter is None and Catalog.open(index.db).adapter() is None
    assert [h.id for h in index.search(Query(vectors=((q, 1.0),)), k=24)] == frozen


def test_images_indexed_later_are_covered_without_re_embedding(index: Index, tmp_path: Path) -> None:
    index.adapt()
    make_tree(tmp_path / "imgs", ["owls/new.png"], first_seed=500)
    report = index.add(tmp_path / "imgs", workers=0)
    assert (report.added, report.embedded) == (1, 1)  # only the new image was embedded
    row_id, q = index.stored("owls/new.png")
    record = Catalog.open(index.db).adapter()
    assert record is not None
    hits = [h.id for h in index.search(Query(vectors=((q, 1.0),)), k=3)]
    assert hits == _expected(index, q, record, 3) and row_id in hits


def test_a_replica_picks_up_an_adapter_within_the_check_interval(
    index: Index, monkeypatch: pytest.MonkeyPatch
) -> None:
    replica = Index(index.db, embedder=FakeEmbedder())
    assert replica.adapter() is None
    index.adapt()
    assert replica.adapter() is None  # read less than ADAPTER_CHECK_SECONDS ago
    monkeypatch.setattr(adapting, "ADAPTER_CHECK_SECONDS", 0.0)
    assert replica.adapter() is not None


def test_an_adapter_of_another_model_is_ignored(index: Index, caplog: pytest.LogCaptureFixture) -> None:
    index.adapt()
    catalog = Catalog.open(index.db)
    record = catalog.adapter()
    assert record is not None
    catalog.set_adapter(type(record)(**{**record.__dict__, "fingerprint": "0" * 12}))
    assert Index(index.db, embedder=FakeEmbedder()).adapter() is None
    assert "ignoring the stored adapter" in caplog.text
    runner, remove = CliRunner(), ["adapt", "--remove", "--db", str(index.db)]
    assert "adapter removed" in runner.invoke(app, remove).stdout  # ignored, but there, and dropped
    assert Catalog.open(index.db).adapter() is None
    assert "no adapter to remove" in runner.invoke(app, remove).stdout


def test_adapting_without_two_labelled_folders_is_a_clear_error(tmp_path: Path) -> None:
    make_tree(tmp_path / "imgs", ["cats/1.png", "cats/2.png", "top.png"])
    idx = Index(tmp_path / "db", embedder=FakeEmbedder())
    idx.add(tmp_path / "imgs", workers=0)
    with pytest.raises(QueryError, match="two labelled folders"):
        idx.adapt()
    assert Catalog.open(idx.db).adapter() is None


def test_the_cli_trains_shows_uses_and_removes_it(index: Index, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(registry, "load_embedder", lambda name, *, settings: FakeEmbedder())
    runner, db = CliRunner(), str(index.db)
    result = runner.invoke(app, ["adapt", "--db", db, "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["trained_on"] == 24
    info = json.loads(runner.invoke(app, ["info", "--db", db, "--json"]).stdout)
    assert set(info["adapter"]) == {
        "method",
        "trained_on",
        "classes",
        "created",
        "strength",
        "neighbours",
        "mix",
    }
    # the trained smoothing, as the README gives it
    assert (info["adapter"]["strength"], info["adapter"]["neighbours"], info["adapter"]["mix"]) == (
        0.9,
        4,
        0.5,
    )
    human = runner.invoke(app, ["info", "--db", db]).stdout
    assert "adapter: class-posterior, trained on 24 images in 3 classes" in human
    assert human.rstrip().endswith(", smoothed over 4 neighbours")
    record = Catalog.open(index.db).adapter()
    assert record is not None
    own_id, q = index.stored("dogs/7.png")
    rankings = []
    for flag, stored in (([], record), (["--no-adapter"], None)):
        out = runner.invoke(app, ["search", "--like", "dogs/7.png", "-k", "23", "--db", db, "--json", *flag])
        assert out.exit_code == 0, out.output
        got = [r["id"] for r in json.loads(out.stdout)["results"]]
        assert got == _expected(index, q, stored, 23, leave_out=own_id)
        rankings.append(got)
    assert rankings[0] != rankings[1]
    result = runner.invoke(app, ["adapt", "--remove", "--db", db, "--json"])
    assert result.exit_code == 0 and json.loads(result.stdout) == {"removed": True}
    assert json.loads(runner.invoke(app, ["info", "--db", db, "--json"]).stdout)["adapter"] is None


def test_feedback_re_ranks_around_the_adapted_query_and_marks(index: Index) -> None:
    """A query-only adapter (class-direction) maps the query and the marks, which act as queries; the
    candidates keep their frozen vectors. maxsim written out: a soft maximum at temperature 0.05 of the
    similarities to the mapped query and relevant mark, minus half the one to the mapped irrelevant mark;
    every row but the marked ones is a candidate (24 images)."""
    index.adapt(method="class-direction")
    record = Catalog.open(index.db).adapter()
    assert record is not None
    arrays = index.arrays()
    ids = list(arrays.ids)
    rows = arrays.vectors / np.linalg.norm(arrays.vectors, axis=1, keepdims=True)
    _, q = index.stored("dogs/7.png")
    pos, neg = ids.index(index.stored("dogs/1.png")[0]), ids.index(index.stored("owls/2.png")[0])
    q_, p_, n_ = (_mapped(v, record) for v in (q, arrays.vectors[pos], arrays.vectors[neg]))
    columns = np.column_stack([rows @ q_, rows @ p_])
    top = columns.max(axis=1)
    soft = top + 0.05 * np.log(np.exp((columns - top[:, None]) / 0.05).sum(axis=1))
    score = soft - 0.5 * (rows @ n_)
    order = [i for i in np.lexsort((np.arange(len(ids)), -score)) if i not in (pos, neg)]
    query = Query(vectors=((q, 1.0),), positive=("dogs/1.png",), negative=("owls/2.png",))
    got = [h.id for h in index.search(query, k=20)]
    assert got == [ids[i] for i in order[:20]]
    frozen = Query(vectors=((q, 1.0),), positive=("dogs/1.png",), negative=("owls/2.png",), use_adapter=False)
    assert got != [h.id for h in index.search(frozen, k=20)]


def test_feedback_through_class_posterior_compares_the_extended_vectors(index: Index) -> None:
    """maxsim (search.feedback) written out over [x, s p~(x)] / sqrt(1 + s^2) vectors: a soft maximum at
    temperature 0.05 of the similarities to the query and the relevant mark, minus half the one to the
    irrelevant mark; every row but the marked ones is a candidate (24 images, fewer than the pool), and the
    marks are compared through the same smoothed rows."""
    index.adapt(method="class-posterior")
    record = Catalog.open(index.db).adapter()
    assert record is not None
    arrays = index.arrays()
    s = record.strength

    def extended(x: np.ndarray, p: np.ndarray) -> np.ndarray:
        x = x / np.linalg.norm(x, axis=-1, keepdims=True)
        return np.concatenate([x, s * p], axis=-1) / np.sqrt(1 + s * s)

    def soft_max(columns: np.ndarray) -> np.ndarray:
        top = columns.max(axis=1)
        return top + 0.05 * np.log(np.exp((columns - top[:, None]) / 0.05).sum(axis=1))

    _, q = index.stored("dogs/7.png")
    # every row is compared (24, under the 200 the smoothing looks among): each posterior is smoothed over
    # its nearest other rows, the query's over its nearest rows (its own stored copy first)
    v = arrays.vectors / np.linalg.norm(arrays.vectors, axis=1, keepdims=True)
    p = _posteriors(record, v)
    rows = extended(v, _smoothed(record, p, _nearest_others(v, record.neighbours)))
    near_query = p[np.argsort(-(v @ (q / np.linalg.norm(q))), kind="stable")[: record.neighbours]].mean(
        axis=0
    )
    p_query = (1 - record.mix) * _posteriors(record, q[None, :])[0] + record.mix * near_query
    query_row = extended(q[None, :], (p_query / np.linalg.norm(p_query))[None, :])[0]
    ids = list(arrays.ids)
    pos, neg = ids.index(index.stored("dogs/1.png")[0]), ids.index(index.stored("owls/2.png")[0])
    score = soft_max(np.column_stack([rows @ query_row, rows @ rows[pos]])) - 0.5 * (rows @ rows[neg])
    order = [i for i in np.lexsort((np.arange(len(ids)), -score)) if i not in (pos, neg)]
    query = Query(vectors=((q, 1.0),), positive=("dogs/1.png",), negative=("owls/2.png",))
    assert [h.id for h in index.search(query, k=20)] == [ids[i] for i in order[:20]]
    plain = [
        h.id
        for h in index.search(
            Query(vectors=((q, 1.0),), positive=("dogs/1.png",), negative=("owls/2.png",), use_adapter=False),
            k=20,
        )
    ]
    assert plain != [ids[i] for i in order[:20]]
    only_relevant = index.search(Query(vectors=((q, 1.0),), positive=("dogs/1.png",)), k=5)  # no negatives
    assert len(only_relevant) == 5 and ids[pos] not in [h.id for h in only_relevant]


def test_a_large_catalog_trains_on_a_sample_of_its_labelled_rows(
    index: Index, monkeypatch: pytest.MonkeyPatch
) -> None:
    labels = [None, "a", "b", None, "a"]
    assert adapting.training_rows(labels, cap=10).tolist() == [1, 2, 4]  # every labelled row
    sample = adapting.training_rows(labels, cap=2)
    assert (
        len(sample) == 2 and set(sample.tolist()) <= {1, 2, 4} and sorted(sample.tolist()) == sample.tolist()
    )
    monkeypatch.setattr(adapting, "MAX_TRAINING_ROWS", 12)
    report = index.adapt()
    assert report is not None and report.trained_on == 12


def test_the_cli_chooses_the_method_and_refuses_an_unknown_one(
    index: Index, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(registry, "load_embedder", lambda name, *, settings: FakeEmbedder())
    runner, db = CliRunner(), str(index.db)
    result = runner.invoke(app, ["adapt", "--db", db, "--method", "query-residual", "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["method"] == "query-residual" and report["validation_loss"] > 0
    plain = runner.invoke(app, ["adapt", "--db", db])
    assert "class-posterior adapter trained on 24 images in 3 classes" in plain.stdout
    bad = runner.invoke(app, ["adapt", "--db", db, "--method", "pca"])
    assert bad.exit_code != 0 and "unknown adapter method 'pca'" in bad.output
    record = Catalog.open(index.db).adapter()
    assert record is not None and record.method == "class-posterior"  # the refused call changed nothing


def test_an_unknown_method_is_refused_before_waiting_for_the_write_lock(index: Index) -> None:
    """A typo is a QueryError at once, not IndexBusyError while another writer holds the catalog."""
    from pixseek.catalog import write_lock

    with (
        write_lock(Path(index.db), timeout=0.0),
        pytest.raises(QueryError, match="unknown adapter method 'pca'"),
    ):
        index.adapt(method="pca")


def test_adapting_where_there_is_no_index_says_so_and_leaves_nothing(tmp_path: Path) -> None:
    from pixseek.errors import CatalogError

    for call in (Index.adapt, Index.remove_adapter):
        with pytest.raises(CatalogError, match="no pixseek index at"):
            call(Index(tmp_path / "nope"))
    assert not (tmp_path / "nope").exists()  # not even the write lock's folder


def test_removing_when_no_adapter_is_stored_says_so(index: Index) -> None:
    runner, remove = CliRunner(), ["adapt", "--remove", "--db", str(index.db)]
    assert json.loads(runner.invoke(app, [*remove, "--json"]).stdout) == {"removed": False}
    assert "no adapter to remove" in runner.invoke(app, remove).stdout
    index.adapt()
    assert json.loads(runner.invoke(app, [*remove, "--json"]).stdout) == {"removed": True}
    assert "no adapter to remove" in runner.invoke(app, remove).stdout


def _folder_bytes(folder: Path) -> int:
    return sum(f.stat().st_size for f in folder.rglob("*") if f.is_file())


def test_replaced_adapters_leave_no_files_behind(index: Index) -> None:
    """Each stored adapter holds a whole matrix: retraining keeps only the latest one's files."""
    folder = Path(index.db) / "adapter.lance"
    index.adapt(method="query-residual")  # dim x dim: the largest matrix
    one = _folder_bytes(folder)
    for _ in range(3):
        index.adapt(method="query-residual")
    assert _folder_bytes(folder) < 1.5 * one
    index.remove_adapter()
    assert _folder_bytes(folder) < 0.5 * one and Catalog.open(index.db).adapter() is None


@pytest.mark.parametrize("error", [OSError, RuntimeError])
def test_an_adapter_read_broken_by_a_cleanup_is_retried(
    index: Index, monkeypatch: pytest.MonkeyPatch, error: type[Exception]
) -> None:
    index.adapt(method="class-direction")
    catalog = Catalog.open(index.db)
    read = catalog._read_adapter
    failures = iter([True, True, False])

    def flaky() -> AdapterRecord | None:
        if next(failures):
            raise error("adapter fragment removed by a newer adapter's cleanup")
        return read()

    monkeypatch.setattr(catalog, "_read_adapter", flaky)
    record = catalog.adapter()
    assert record is not None and record.method == "class-direction"


def test_a_damaged_adapter_is_one_line_with_the_way_out_and_remove_or_retrain_gets_past_it(
    index: Index, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A truncated adapter file gave a Lance traceback in info, search, duplicates and even adapt --remove.
    Now reading it is a StorageError naming the remedies, --no-adapter searches, info shows the rest with
    the adapter's error, and --remove drops the table; a damaged manifest, which Lance cannot even open,
    is replaced by training again."""
    monkeypatch.setattr(registry, "load_embedder", lambda name, *, settings: FakeEmbedder())
    runner, db = CliRunner(), str(index.db)
    index.adapt()
    for data in (index.db / "adapter.lance" / "data").glob("*.lance"):
        data.write_bytes(data.read_bytes()[:100])
    fresh = Index(index.db, embedder=FakeEmbedder())
    with pytest.raises(
        StorageError, match=r"cannot read the adapter stored in .*`pixseek adapt --remove` drops"
    ):
        fresh.search(like="dogs/7.png", k=3)
    assert len(fresh.search(like="dogs/7.png", k=3, use_adapter=False)) == 3
    result = runner.invoke(app, ["info", "--db", db, "--json"])  # the diagnosing command still answers
    assert result.exit_code == 0, result.output
    shown = json.loads(result.stdout)
    assert shown["images"] == 24 and "`pixseek adapt --remove` drops" in shown["adapter"]["error"]
    human = runner.invoke(app, ["info", "--db", db])
    assert human.exit_code == 0 and "adapter: unreadable: cannot read the adapter stored in" in human.stdout
    result = runner.invoke(app, ["adapt", "--remove", "--db", db, "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == {"removed": True}
    assert Catalog.open(index.db).adapter() is None
    index.adapt()
    for manifest in (index.db / "adapter.lance" / "_versions").glob("*.manifest"):
        manifest.write_bytes(manifest.read_bytes()[:10])
    result = runner.invoke(app, ["adapt", "--db", db, "--json"])
    assert result.exit_code == 0, result.output
    assert Catalog.open(index.db).adapter() is not None


def test_a_damaged_vector_file_is_one_line_naming_the_index(index: Index) -> None:
    for data in (index.db / "images.lance" / "data").glob("*.lance"):
        data.write_bytes(data.read_bytes()[:100])
    with pytest.raises(StorageError, match=r"^cannot read the index at .*db: "):
        Index(index.db, embedder=FakeEmbedder()).search(like="dogs/7.png", k=3, use_adapter=False)


@pytest.mark.parametrize("remove", [False, True])
def test_adapt_waits_for_another_writer_with_wait(index: Index, remove: bool) -> None:
    """Another writer holds the lock for a second: without --wait that is IndexBusyError at once, with
    --wait 30 the command queues behind it and then does its work."""
    import threading

    from pixseek.catalog import write_lock

    if remove:
        index.adapt()
    command = ["adapt", "--db", str(index.db), "--json", *(["--remove"] if remove else [])]
    held, release = threading.Event(), threading.Event()

    def writer() -> None:
        with write_lock(Path(index.db), timeout=0.0):
            held.set()
            release.wait(1.0)

    thread = threading.Thread(target=writer)
    thread.start()
    held.wait()
    busy = CliRunner().invoke(app, command)
    assert busy.exit_code == 1 and json.loads(busy.stdout)["detail"]["type"] == "IndexBusyError"
    waited = CliRunner().invoke(app, [*command, "--wait", "30"])
    thread.join()
    assert waited.exit_code == 0, waited.output
    assert (Catalog.open(index.db).adapter() is None) == remove


def test_a_lock_wait_that_is_not_a_number_is_refused(index: Index) -> None:
    """filelock and the object-store lease both waited forever on a nan timeout."""
    with pytest.raises(QueryError, match="must be 0 or more seconds, got nan"):
        index.adapt(lock_timeout=float("nan"))
    with pytest.raises(QueryError, match="must be 0 or more seconds, got -1"):
        index.remove_adapter(lock_timeout=-1)
