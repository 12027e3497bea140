"""The search page as a person uses it, in Debian's chromium: what a trial of the page found wrong. A
filter applied to a "like" search, an irrelevant mark that stays to be undone, long names on a phone,
a tap low on a phone, an unreachable server, the keyboard's tab stops, a server with a small max_k."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr

from pixseek.services import Index
from pixseek.settings import Settings
from pixseek.web.routes.pages import k_choices
from tests.fakes import FakeEmbedder
from tests.web.test_browser import DESKTOP, PHONE, _no_sideways_scroll, _open, _serve, _status, _wait_status

pytestmark = pytest.mark.browser
LONG_NAME = "downloaded_" + "0123456789abcdef" * 6 + ".png"  # 109 characters, no space to break at
# Playwright: the whole text of each shown path fits its card (nothing cut off, nothing overflowing).
PATHS_FIT = "els => els.every(e => e.scrollWidth <= e.clientWidth && e.closest('.card').scrollWidth <= " \
    "e.closest('.card').clientWidth)"  # fmt: skip


@pytest.fixture
def server(web_index: Index, web_settings: Settings) -> Iterator[str]:
    with _serve(web_index, web_settings) as url:
        yield url


def _texts(page: Any, selector: str) -> list[str]:
    return page.locator(selector).all_inner_texts()


def test_a_folder_filter_reruns_a_like_search(browser: Any, server: str, photo_root: Path) -> None:
    """Search and Enter in Folder rerun the "like" search on screen with the filter (they cleared it)."""
    page, complaints = _open(browser, server, DESKTOP)
    page.set_input_files("#file", str(photo_root / "food/apple.png"))
    page.wait_for_selector(".card")
    page.locator(".card", has_text="animals/cat.png").locator(".open").click()
    _wait_status(page, "like animals/cat.png")
    page.fill("#folder", "animals")
    page.press("#folder", "Enter")
    status = _wait_status(page, "in folder")
    assert status.startswith("2 results like animals/cat.png in folder animals in "), status
    assert sorted(_texts(page, ".card .path")) == ["animals/birds/owl.jpg", "animals/dog.png"]

    page.fill("#folder", "food")
    page.click("#go")
    assert _wait_status(page, "in folder food").startswith("2 results like animals/cat.png in folder food")
    assert sorted(_texts(page, ".card .path")) == ["food/apple.png", "food/pear.jpg"]

    page.fill("#folder", "animals/birds")
    page.press("#folder", "Tab")  # leaving the box reruns it too, as a change of Results or Label does
    assert _wait_status(page, "in folder animals/birds").startswith("1 result like animals/cat.png")
    assert _texts(page, ".card .path") == ["animals/birds/owl.jpg"]
    assert complaints == []


def test_an_irrelevant_mark_stays_on_screen_after_refine_and_can_be_undone(
    browser: Any, server: str, photo_root: Path
) -> None:
    """Five results of six images: the image marked not relevant drops out of the refined five, and is
    shown after them with its mark, so it can be unmarked on its own."""
    page, complaints = _open(browser, server)
    page.select_option("#k", "5")
    page.set_input_files("#file", str(photo_root / "food/apple.png"))
    _wait_status(page, "5 results")
    cards = page.locator(".card")
    disliked = cards.nth(1).locator(".path").inner_text()
    cards.nth(1).get_by_role("button", name=f"Mark {disliked} not relevant").click()
    cards.nth(2).locator(".mark.more").click()
    page.click("#refine")
    _wait_status(page, "refined")
    kept = page.locator(".card.kept")
    assert kept.count() == 1 and kept.locator(".path").inner_text() == disliked
    assert page.locator(".card").count() == 6 and page.locator(".card").last.inner_text().startswith("marked")
    assert "less" in kept.get_attribute("class")
    kept.locator(".mark.less").click()  # undone alone: the relevant mark stays
    assert page.inner_text("#marks-count") == "1 relevant · 0 not relevant"
    assert complaints == []


def test_long_names_wrap_on_a_phone(browser: Any, photo_root: Path, tmp_path: Path) -> None:
    """A 109-character name with no spaces, uploaded and indexed: the page stays phone-wide and the
    whole name shows (cut short at its end, the file name was the part hidden)."""
    shutil.copy(photo_root / "food/apple.png", photo_root / "food" / LONG_NAME)
    settings = Settings(db=tmp_path / "long.db", max_k=50)
    index = Index(settings.db, settings=settings, embedder=FakeEmbedder())
    index.add(photo_root, workers=0)
    with _serve(index, settings) as url:
        page, complaints = _open(browser, url, PHONE)
        page.set_input_files("#file", str(photo_root / "food" / LONG_NAME))
        _wait_status(page, "7 results")
        assert page.inner_text("#drop-text") == LONG_NAME
        assert f"food/{LONG_NAME}" in _texts(page, ".card .path")
        assert _no_sideways_scroll(page)
        assert page.eval_on_selector_all(".card .path", PATHS_FIT)
        assert complaints == []
    index.close()


def test_a_tap_low_on_a_phone_shows_the_new_search(browser: Any, server: str) -> None:
    page, _ = _open(browser, server, {"width": 390, "height": 480})
    page.fill("#text", "a tree in the park")
    page.click("#go")
    _wait_status(page, "6 results")
    last = page.locator(".card").last
    last.scroll_into_view_if_needed()
    assert page.evaluate("() => document.querySelector('#status').getBoundingClientRect().bottom < 0")
    last.locator(".open").click()
    _wait_status(page, "5 results like")
    top = page.evaluate("() => document.querySelector('#status').getBoundingClientRect().top")
    assert 0 <= top < 480


def test_an_unreachable_server_is_said_in_words(browser: Any, server: str) -> None:
    page, _ = _open(browser, server)
    page.route("**/search", lambda route: route.abort())
    page.fill("#text", "a cat")
    page.click("#go")
    assert _wait_status(page, "reached") == "The server could not be reached."


def test_a_rejected_field_is_named(browser: Any, server: str) -> None:
    """A 422's first complaint is shown with its field (the page used to show only "invalid request")."""
    body = {"error": "invalid request", "detail": [{"loc": ["body", "k"], "msg": "bad k", "type": "x"}]}
    page, _ = _open(browser, server)
    page.route("**/search", lambda route: route.fulfill(status=422, body=json.dumps(body)))
    page.fill("#text", "a cat")
    page.click("#go")
    assert _wait_status(page, "invalid") == "invalid request: k bad k"


def test_tab_stops_are_all_visible(browser: Any, server: str) -> None:
    """The file chooser is one tab stop (the drop box); the hidden input behind it is not a second."""
    page, _ = _open(browser, server, DESKTOP)
    page.keyboard.press("Tab")
    assert page.evaluate("() => document.activeElement.id") == "drop"
    page.keyboard.press("Tab")
    assert page.evaluate("() => document.activeElement.id") == "text"


def test_a_small_max_k_still_searches(
    browser: Any, web_index: Index, web_settings: Settings, photo_root: Path
) -> None:
    settings = web_settings.model_copy(update={"max_k": 3})
    with _serve(web_index, settings) as url:
        page, _ = _open(browser, url)
        assert _texts(page, "#k option") == ["3"]
        page.set_input_files("#file", str(photo_root / "food/apple.png"))
        assert _wait_status(page, "results").startswith("3 results for image apple.png")


@pytest.mark.parametrize(
    ("max_k", "choices", "chosen"),
    [(1000, [5, 10, 20, 50, 100], 20), (100, [5, 10, 20, 50, 100], 20), (30, [5, 10, 20, 30], 20),
     (12, [5, 10, 12], 12), (3, [3], 3), (1, [1], 1)],
)  # fmt: skip
def test_k_choices(max_k: int, choices: list[int], chosen: int) -> None:
    assert k_choices(max_k) == {"k_choices": choices, "k_default": chosen}


def test_a_locked_page_asks_for_a_token_it_was_never_given(
    browser: Any, web_index: Index, web_settings: Settings, photo_root: Path
) -> None:
    settings = web_settings.model_copy(update={"api_token": SecretStr("t")})
    with _serve(web_index, settings) as url:
        page, _ = _open(browser, url)
        page.set_input_files("#file", str(photo_root / "food/apple.png"))
        page.wait_for_timeout(300)
        assert _status(page) == "This server needs an API token."
        page.fill("#token", "wrong")
        page.click("#token-form button")
        assert _wait_status(page, "not accepted") == "That token was not accepted. Enter the API token."
