"""/docs and the favicon work with no internet: every asset they name is served by the app itself."""

from __future__ import annotations

from html.parser import HTMLParser

from fastapi.testclient import TestClient

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"  # the PNG signature (PNG spec, section 5.2)


class _Assets(HTMLParser):
    """The URLs a page loads: <script src>, <link href>."""

    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        wanted = {"script": "src", "link": "href"}.get(tag)
        self.urls += [value for name, value in attrs if name == wanted and value]


def _assets(html: str) -> list[str]:
    parser = _Assets()
    parser.feed(html)
    return parser.urls


def test_docs_load_only_same_origin_assets(client: TestClient) -> None:
    response = client.get("/docs")
    assert response.status_code == 200
    html = response.text
    assert "http://" not in html and "https://" not in html  # no CDN, no web fonts
    urls = _assets(html)
    assert {u[u.rfind(".") :] for u in urls} >= {".js", ".css"}, (
        urls
    )  # the UI's script (and styles) are named
    for url in urls:
        assert url.startswith("/") and not url.startswith("//"), url
        asset = client.get(url)
        assert asset.status_code == 200, url
        if "swagger-ui" in url or url.endswith(".ico"):
            assert len(asset.content) > 1000, url  # the real bundle, not an empty stub
        else:  # the page's own start-up script, in a file since the CSP allows no inline script
            assert b"SwaggerUIBundle(" in asset.content and b"/openapi.json" in asset.content, url
    assert "<script>" not in html  # no inline script
    assert client.get("/openapi.json").json()["info"]["title"] == "pixseek"


def test_no_redoc_page(client: TestClient) -> None:
    assert client.get("/redoc").status_code == 404  # its bundle loads a logo from a CDN: not offered


def test_docs_script_is_swagger_ui(client: TestClient) -> None:
    script = next(u for u in _assets(client.get("/docs").text) if u.endswith(".js"))
    assert b"SwaggerUIBundle" in client.get(script).content  # the name the page's own script calls


def test_favicon(client: TestClient) -> None:
    response = client.get("/favicon.ico")
    assert response.status_code == 200
    assert response.headers["content-type"] == "image/png"
    assert response.content.startswith(PNG_MAGIC)


def test_search_page_names_its_icon(client: TestClient) -> None:
    icons = [u for u in _assets(client.get("/").text) if "favicon" in u]
    assert icons, "no <link rel=icon>"
    assert client.get(icons[0]).content.startswith(PNG_MAGIC)
