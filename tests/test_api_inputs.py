"""The Python API given what Python users pass: `~` paths, unnormalised or broken vectors, one string for
a list of marks, arrays and buffers as images, dicts as filters. Each is served, or refused with one of
pixseek's own errors; none may end in numpy's, PIL's or pydantic's (a library user's review found each)."""

from __future__ import annotations

import io
import threading
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import pixseek
from pixseek.errors import ImageReadError, QueryError, SettingsError, StorageError
from pixseek.models.embedder import OnnxEmbedder
from pixseek.services import Index, SearchFilter
from tests.fakes import FakeEmbedder, fake_index
from tests.indexing.images import make_tree

PATHS = [f"{label}/{i}.png" for label in ("cats", "dogs") for i in range(4)]
TINY_CLIP = Path(__file__).parent / "fixtures" / "tiny-clip"


@pytest.fixture
def index(tmp_path: Path) -> Index:
    return fake_index(tmp_path, PATHS)


def test_a_home_relative_db_and_folder_land_in_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """LanceDB expands `~` itself and pathlib does not: the lock went to ./~/t.db, the catalog to $HOME."""
    home, elsewhere = tmp_path / "home", tmp_path / "cwd"
    elsewhere.mkdir()
    make_tree(home / "imgs", PATHS[:2])
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.chdir(elsewhere)
    report = Index("~/t.db", embedder=FakeEmbedder()).add("~/imgs", workers=0)
    assert report.added == 2
    assert (home / "t.db").is_dir() and not (elsewhere / "~").exists()
    assert Index("~/t.db", embedder=FakeEmbedder()).info().images == 2


def test_vectors_are_scaled_to_unit_length_so_scores_are_cosines(index: Index) -> None:
    arrays = index.arrays()
    query = 10.0 * arrays.vectors[0] + 3.0 * arrays.vectors[5]
    cosines = arrays.vectors @ (query / np.linalg.norm(query))
    [hits] = index.search_vectors(query, k=3)
    expected = np.sort(cosines)[::-1][:3]
    assert [h.score for h in hits] == pytest.approx(expected.tolist(), abs=1e-5)


@pytest.mark.parametrize(
    ("vectors", "message"),
    [
        (np.full((1, 32), np.nan, np.float32), "finite"),
        (np.full(32, np.inf, np.float32), "finite"),
        (np.zeros((1, 32), np.float32), "all zeros"),
        (np.ones((1, 1, 32), np.float32), "3-d"),
        ("abc", "numbers"),
    ],
)
def test_broken_query_vectors_are_query_errors(index: Index, vectors: object, message: str) -> None:
    with pytest.raises(QueryError, match=message):
        index.search_vectors(vectors, k=2)  # type: ignore[arg-type]


def test_one_string_is_one_mark_or_one_excluded_id(index: Index) -> None:
    arrays = index.arrays()
    marked = arrays.paths[0]
    one = index.search(positive=marked, k=3)
    listed = index.search(positive=[marked], k=3)
    assert [h.id for h in one] == [h.id for h in listed] and marked not in [h.path for h in one]
    [hits] = index.search_vectors(arrays.vectors[1], k=len(PATHS), exclude_ids=arrays.ids[1])
    assert arrays.ids[1] not in [h.id for h in hits] and len(hits) == len(PATHS) - 1
    with pytest.raises(QueryError, match="marks are ids or indexed paths"):
        index.search(positive=[3], k=3)


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda ix: ix.search("cats/0.png"), "search.image=PATH"),
        (lambda ix: ix.search(image=42), "is not an image"),
        (lambda ix: ix.search(image=("a.png", "b.png")), "is not an image"),
        (lambda ix: ix.search(like="cats/0.png", filters=5), "SearchFilter"),
        (lambda ix: ix.search(like="cats/0.png", filters={"colour": "red"}), "SearchFilter"),
        (lambda ix: ix.search(pixseek.Query(images=("x.png",))), r"\(value, weight\) pairs"),
        (lambda ix: ix.search(pixseek.Query(positive="cats/0.png")), "not one string"),
    ],
)
def test_wrong_kinds_of_input_are_pixseek_errors(index: Index, call, message: str) -> None:
    with pytest.raises((QueryError, ImageReadError), match=message):
        call(index)


def test_a_dict_filter_filters_as_a_search_filter(index: Index) -> None:
    by_dict = index.search(like="cats/0.png", filters={"label": "dogs"}, k=3)
    by_filter = index.search(like="cats/0.png", filters=SearchFilter(label="dogs"), k=3)
    assert [h.id for h in by_dict] == [h.id for h in by_filter]
    assert {h.label for h in by_dict} == {"dogs"}


def test_a_pixel_array_or_a_byte_buffer_embeds_as_its_png_does(tmp_path: Path) -> None:
    embedder = OnnxEmbedder.from_folder(TINY_CLIP)
    rng = np.random.default_rng(1)
    pixels = rng.integers(0, 256, size=(40, 56, 3), dtype=np.uint8)
    png = tmp_path / "p.png"
    Image.fromarray(pixels).save(png)  # lossless: the same pixels
    data = png.read_bytes()
    from_file, from_array, from_buffer = embedder.embed_images([png, pixels, bytearray(data)])
    assert np.allclose(from_array, from_file, atol=1e-6) and np.allclose(from_buffer, from_file, atol=1e-6)
    with pytest.raises(ImageReadError, match="uint8"):
        embedder.embed_images([pixels.astype(np.float32)])
    assert np.allclose(embedder.embed_images([memoryview(data)])[0], from_file, atol=1e-6)
    assert np.allclose(embedder.embed_images([io.BytesIO(data)])[0], from_file, atol=1e-6)


def test_a_bad_setting_in_the_environment_is_a_settings_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PIXSEEK_MAX_K", "0")
    with pytest.raises(SettingsError, match="PIXSEEK_MAX_K"):
        Index(tmp_path / "db", embedder=FakeEmbedder())


def test_an_index_that_cannot_be_created_is_a_storage_error(tmp_path: Path) -> None:
    make_tree(tmp_path / "imgs", PATHS[:1])
    a_file = tmp_path / "file"
    a_file.write_bytes(b"not a folder")
    with pytest.raises(StorageError, match="cannot create the index folder"):
        Index(a_file / "sub.db", embedder=FakeEmbedder()).add(tmp_path / "imgs", workers=0)
    assert a_file.read_bytes() == b"not a folder"


def test_threads_asking_for_the_model_at_once_share_one_load(
    index: Index, monkeypatch: pytest.MonkeyPatch
) -> None:
    loads: list[int] = []

    def slow_load(ref: str, settings: object = None) -> FakeEmbedder:
        loads.append(1)
        time.sleep(0.2)  # long enough that every thread arrives while the first loads
        return FakeEmbedder()

    monkeypatch.setattr("pixseek.models.registry.load_embedder", slow_load)
    fresh = Index(index.db)
    got: list[object] = []
    threads = [threading.Thread(target=lambda: got.append(fresh.embedder)) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(loads) == 1 and len(got) == 8 and all(e is got[0] for e in got)


def test_a_hit_serialises_as_the_cli_prints_it(index: Index) -> None:
    hit = index.search(like="cats/0.png", k=1)[0]
    assert hit.to_dict() == {"id": hit.id, "root": hit.root, "path": hit.path, "score": hit.score,
                             "label": hit.label}  # fmt: skip


def test_a_literal_tilde_name_stays_a_relative_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Only `~` and `~/` are the home folder; `~x` was, and stays, a folder named ~x (Path.expanduser read
    it as user x's home, and raised for a user that does not exist)."""
    monkeypatch.chdir(tmp_path)
    make_tree(tmp_path / "~x", PATHS[:2])
    index = Index("~nosuchuser.db", embedder=FakeEmbedder())
    assert index.add("~x", workers=0).added == 2
    assert (tmp_path / "~nosuchuser.db").is_dir()
    assert {h.root for h in index.search(like="cats/0.png", k=1)} == {str(tmp_path / "~x")}


def test_a_home_relative_query_image_is_read(
    index: Index, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    by_home = index.search(image="~/imgs/cats/0.png", k=3)
    assert [h.id for h in by_home] == [h.id for h in index.search(image=tmp_path / "imgs/cats/0.png", k=3)]


def test_terms_and_marks_in_any_sequence_and_paths_as_marks(index: Index, tmp_path: Path) -> None:
    vector = index.arrays().vectors[2]
    from_generator = index.search(pixseek.Query(vectors=((v, 1.0) for v in [vector])), k=3)
    from_lists = index.search(pixseek.Query(vectors=[[vector, 1.0]]), k=3)
    assert [h.id for h in from_generator] == [h.id for h in from_lists] != []
    marked = tmp_path / "imgs" / "dogs/1.png"
    assert pixseek.Query.of(positive=[marked]).positive == (f"{tmp_path}/imgs/dogs/1.png",)  # ids are strings
    by_path = index.search(text="x", positive=[marked], k=3)
    assert [h.id for h in by_path] == [h.id for h in index.search(text="x", positive=[str(marked)], k=3)]


def test_huge_and_tiny_vectors_rank_as_their_directions_do(index: Index) -> None:
    arrays = index.arrays()
    [unit] = index.search_vectors(arrays.vectors[3], k=4)
    for scale in (1e20, 1e-30, 1e39, 1e300):  # float32 squares overflow or underflow; past float32 itself
        [scaled] = index.search_vectors(arrays.vectors[3].astype(np.float64) * scale, k=4)
        assert [h.id for h in scaled] == [h.id for h in unit]
        assert [h.score for h in scaled] == pytest.approx([h.score for h in unit], abs=1e-5)


def test_vectors_past_float32_are_refused_where_they_are_not_scaled() -> None:
    from pixseek.search.matrix import query_rows

    with pytest.raises(QueryError, match="float32's range"):
        query_rows(np.full(4, 1e39), 4)  # finite, but not as float32


def test_empty_pictures_are_image_read_errors(tmp_path: Path) -> None:
    embedder = OnnxEmbedder.from_folder(TINY_CLIP)
    for empty in (np.zeros((0, 0, 3), np.uint8), Image.new("RGB", (0, 5))):
        with pytest.raises(ImageReadError, match="no pixels"):
            embedder.embed_images([empty])


def test_a_filter_field_that_is_not_a_string_is_a_query_error(index: Index) -> None:
    with pytest.raises(QueryError, match="label filter is a string"):
        index.search(like="cats/0.png", filters={"label": 3})
