"""The duplicates page in Debian's chromium: the planted groups shown with thumbnails, a stricter
threshold, a bad threshold as one error line, a phone screen, no inline script (strict CSP)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr

from pixseek.services import Index
from pixseek.settings import Settings
from tests.duplicates.conftest import PLANTED
from tests.web.test_browser import _no_sideways_scroll, _open, _screenshot, _serve, _wait_status

pytestmark = pytest.mark.browser


@pytest.fixture
def server(index: Index, tmp_path: Path) -> Iterator[str]:
    with _serve(index, Settings(db=tmp_path / "db")) as url:
        yield url


def _shown_groups(page: Any) -> list[set[str]]:
    return [
        set(
            page.eval_on_selector_all(
                f".dup-group:nth-of-type({n}) .path", "els => els.map(e => e.textContent)"
            )
        )
        for n in range(1, page.locator(".dup-group").count() + 1)
    ]


def test_groups_with_thumbnails_then_a_bad_threshold(browser: Any, server: str, tmp_path: Path) -> None:
    page, complaints = _open(browser, server + "/view/duplicates")
    status = _wait_status(page, "group")
    assert status == "2 groups of 8 images at threshold 0.88"
    assert _shown_groups(page) == PLANTED  # largest first
    assert page.locator(".dup-group h2").first.inner_text().startswith("Group 1: 5 images · weakest pair 0.9")
    links = page.eval_on_selector_all(".dup-group a.card", "els => els.map(e => e.getAttribute('href'))")
    assert len(links) == 8 and all(link.startswith("/image/") for link in links)
    _screenshot(page, tmp_path / "duplicates-phone.png")
    assert page.evaluate("() => [...document.querySelectorAll('.card img')].every(i => i.naturalWidth > 0)")
    assert _no_sideways_scroll(page)
    page.fill("#threshold", "7")
    page.click("#find")
    assert _wait_status(page, "threshold is") == "The threshold is a number from -1 to 1."
    assert page.locator(".dup-group").count() == 0  # no stale groups under an error
    page.fill("#threshold", "")
    page.click("#find")  # an emptied box is the default threshold again, not 0
    assert _wait_status(page, "groups of") == "2 groups of 8 images at threshold 0.88"
    assert page.input_value("#threshold") == "0.88"
    page.fill("#threshold", "0.999")
    page.click("#find")
    _wait_status(page, "at threshold 0.999")
    strict = _shown_groups(page)
    assert {"art/a.png", "copies/a.png"} <= set().union(*strict)  # exact copies stay at any threshold
    assert all(any(g <= p for p in PLANTED) for g in strict)
    assert complaints == []
    page.close()


def test_the_search_page_links_to_it_and_a_token_is_asked_for(
    browser: Any, index: Index, tmp_path: Path
) -> None:
    settings = Settings(db=tmp_path / "db", api_token=SecretStr("s3cret"))
    with _serve(index, settings) as url:
        page, _ = _open(browser, url + "/view/duplicates")
        assert "unlock it on the search page" in _wait_status(page, "API token")
        page.evaluate("() => sessionStorage.setItem('pixseek-token', 's3cret')")
        page.reload()
        assert _wait_status(page, "group").startswith("2 groups")
        page.goto(url + "/")
        assert page.get_attribute("footer a[href='/view/duplicates']", "href") == "/view/duplicates"
        page.close()
