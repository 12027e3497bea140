"""The search page in Debian's chromium (Playwright): upload, text query, click a result."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import uvicorn

from pixseek.services import Index
from pixseek.settings import Settings
from pixseek.web import create_app

pytestmark = pytest.mark.browser
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def server(web_index: Index, web_settings: Settings) -> Iterator[str]:
    port = _free_port()
    config = uvicorn.Config(
        create_app(web_settings, index=web_index), host="127.0.0.1", port=port, log_level="warning"
    )
    srv = uvicorn.Server(config)
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not srv.started:
        assert time.monotonic() < deadline, "server did not start"
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    srv.should_exit = True
    thread.join(timeout=10)


@pytest.fixture
def page(server: str) -> Iterator[object]:
    sync_api = pytest.importorskip("playwright.sync_api")
    if not CHROMIUM.exists():
        pytest.skip("Debian's chromium is not installed (apt-get install chromium)")
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 390, "height": 844})  # a phone
        page.goto(server)
        yield page
        browser.close()


def test_upload_text_and_click(page, photo_root: Path, tmp_path: Path) -> None:
    assert "6 images" in page.inner_text("#meta")

    page.set_input_files("#file", str(photo_root / "food/apple.png"))
    page.wait_for_selector(".card")
    first = page.locator(".card").first
    assert first.locator(".path").inner_text() == "food/apple.png"
    assert float(first.locator(".score").inner_text()) == pytest.approx(1.0, abs=1e-3)
    page.wait_for_function(  # the thumbnail really loads (served from the index, decoded by the browser)
        "() => { const i = document.querySelector('.card img'); return i.complete && i.naturalWidth > 0; }"
    )

    page.fill("#text", "a tree in the park")
    page.click("#go")
    page.wait_for_function("document.querySelector('#status').textContent.includes('results in')")
    assert page.locator(".card").count() == 6  # k=20 over six images

    clicked = page.locator(".card").nth(2)
    clicked_path = clicked.locator(".path").inner_text()
    clicked.click()
    page.wait_for_function(
        "p => ![...document.querySelectorAll('.card .path')].some(e => e.textContent === p)", arg=clicked_path
    )
    assert page.locator(".card").count() == 5  # every other image, the clicked one left out
    page.screenshot(path=str(tmp_path / "phone.png"), full_page=True)
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")  # no sideways scroll
